"""The store interface every backend implements (GeoPackage file, PostGIS).

Frames in and out are pandas DataFrames, or GeoDataFrames in EPSG:4326 for spatial
tables (geometry column ``geometry``).  ``where`` filters are portable dicts:

* ``{"col": value}`` → ``col = value`` (``None`` → ``col IS NULL``)
* ``{"col": [v1, v2]}`` → ``col IN (...)`` (empty list matches nothing)
* ``{"col": Between(lo, hi)}`` → ``lo <= col < hi`` (either bound may be None)
* ``{"col": Op("!=", v)}`` with op in ``= != < <= > >=``

Every write method runs in a transaction; inside ``with store.transaction():``
several writes commit or roll back together.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.store.columns import coerce_scalar
from gridmap.store.filters import Between, Op, StoreError, Where
from gridmap.store.frames import gc_paused, result_frame
from gridmap.store.geometry import decode_wkb, prepare_geometries
from gridmap.store.schema import SCHEMA_VERSION, Table, get_table
from gridmap.store.sql import Dialect, limit_sql, order_sql, quote, select_columns, where_sql

__all__ = ["Between", "Op", "Store", "StoreError", "Where"]


class Store(abc.ABC):
    """One interface, two backends (:class:`GpkgStore`, :class:`PostgisStore`)."""

    backend: str
    url: str

    # --- lifecycle -------------------------------------------------------------
    @abc.abstractmethod
    def init(self) -> None:
        """Create or migrate every registered table (idempotent); records schema_version."""

    @abc.abstractmethod
    def schema_version(self) -> int | None:
        """The schema version recorded in the store (None for an uninitialised store)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def release_memory(self) -> None:
        """Give back memory the backend caches for reuse (a server calls it when idle)."""
        return None  # PostGIS caches on the database server, not in this process

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abc.abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all commit or none; nested calls join the outer transaction."""

    @contextmanager
    def bulk_writes(self, table: str) -> Iterator[None]:
        """Many writes to ``table`` inside one transaction: a backend may defer index upkeep
        to the end of the block (the GeoPackage does its R-tree).  Default: nothing deferred."""
        yield

    # --- what each backend supplies ----------------------------------------------
    _dialect: Dialect

    @abc.abstractmethod
    def _table_sql(self, table: str) -> str:
        """The quoted (schema-qualified) name of ``table`` in SQL."""

    @abc.abstractmethod
    def _geometry_sql(self) -> str:
        """Select expression giving the geometry as WKB (bytes or hex text) for :func:`decode_wkb`."""

    @abc.abstractmethod
    def _bbox_sql(self, table: Table, bbox: tuple[float, float, float, float]) -> tuple[str, list[Any]]:
        """Condition keeping rows whose geometry envelope intersects ``bbox`` (degrees), and its parameters."""

    @abc.abstractmethod
    def _geometry_assignment(self, geometry: Any) -> tuple[str, Any]:
        """``(column = placeholder, parameter)`` setting the geometry column to a prepared geometry."""

    @abc.abstractmethod
    def _fetch(self, what: str, sql: str, params: list[Any]) -> list[tuple]:
        """Run a query and return its rows (errors become :class:`StoreError` naming ``what``)."""

    @abc.abstractmethod
    def _execute(self, what: str, sql: str, params: list[Any]) -> int:
        """Run a statement (inside the current transaction, if any); rows affected."""

    def _updated(self, table: Table, geometry: Any) -> None:  # noqa: B027 - optional hook
        """Called inside the update's transaction when ``geometry`` was set on some rows."""

    # --- where clauses ---------------------------------------------------------
    def _conditions(
        self, table: Table, where: Where | None, bbox: tuple[float, float, float, float] | None
    ) -> tuple[str, list[Any]]:
        """``(" WHERE …" or "", parameters)`` for a portable ``where`` dict and an optional ``bbox``."""
        condition, params = where_sql(table, where, self._dialect)
        conditions = [condition] if condition else []
        if bbox is not None:
            bbox_condition, bbox_params = self._bbox_sql(table, bbox)
            conditions.append(bbox_condition)
            params += bbox_params
        return (" WHERE " + " AND ".join(conditions)) if conditions else "", params

    # --- reads -----------------------------------------------------------------
    def read(
        self,
        table: str,
        where: Where | None = None,
        columns: Sequence[str] | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        order_by: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame | gpd.GeoDataFrame:
        """Rows of ``table``; spatial tables come back as GeoDataFrames in EPSG:4326.

        ``bbox`` is (minlon, minlat, maxlon, maxlat) in degrees and keeps rows whose
        geometry envelope intersects it (float32 boxes rounded outwards: geometries within
        ~1e-5° of the box may be included).  ``columns`` may include ``"geometry"``; when
        given without it, a spatial table comes back as a plain DataFrame.  Without
        ``order_by`` rows come in primary-key order.
        """
        decl = self.table(table)
        names, with_geometry = select_columns(decl, columns)
        selected = [quote(c) for c in names]
        if with_geometry:
            selected.append(self._geometry_sql())
        condition, params = self._conditions(decl, where, bbox)
        paging, paging_params = limit_sql(limit, offset, self._dialect)
        sql = (
            f"SELECT {', '.join(selected) or '1'} FROM {self._table_sql(decl.name)}{condition}"
            f"{order_sql(decl, order_by, self._dialect)}{paging}"
        )
        with gc_paused():
            rows = self._fetch(f"read {table}", sql, params + paging_params)
            values = (
                [list(v) for v in zip(*rows, strict=True)]
                if rows
                else [[] for _ in range(len(selected) or 1)]
            )
            geometry = decode_wkb(values.pop()) if with_geometry else None
            if not names:
                values = []
            frame = result_frame(decl, names, values, geometry)
        if not names and not with_geometry:
            frame = pd.DataFrame(index=pd.RangeIndex(len(rows)))
        return frame

    def count(self, table: str, where: Where | None = None) -> int:
        """Rows of ``table`` matching ``where``."""
        decl = self.table(table)
        condition, params = self._conditions(decl, where, None)
        rows = self._fetch(
            f"count {table}", f"SELECT count(*) FROM {self._table_sql(decl.name)}{condition}", params
        )
        return int(rows[0][0])

    # --- writes ----------------------------------------------------------------
    @abc.abstractmethod
    def write(self, table: str, frame: pd.DataFrame, mode: Literal["append", "replace"] = "append") -> int:
        """Insert rows (``replace`` empties the table first); returns rows written.

        All or nothing.  Unknown columns → :class:`StoreError` naming them; declared columns
        missing from the frame are NULL; values are converted to the column types (TEXT →
        ``str``, INTEGER → ``Int64``, REAL → ``float64`` on the way back).  Geometries go in
        column ``geometry``: a GeoDataFrame in another CRS is reprojected to EPSG:4326, one
        without CRS must have lon/lat-looking coordinates (else InputError); Polygons are
        promoted for MULTIPOLYGON tables; Z is dropped; None/empty are stored as NULL.
        """

    @abc.abstractmethod
    def upsert(self, table: str, frame: pd.DataFrame) -> int:
        """Insert rows, replacing rows with the same primary key; returns rows written.

        A replaced row is replaced entirely (columns missing from the frame become NULL).
        Same validation as :meth:`write`; keys repeated within the frame are refused.
        """

    def update(self, table: str, values: Mapping[str, Any], where: Where | None) -> int:
        """Set ``values`` on matching rows; returns rows changed.

        ``values`` maps columns to scalars (``"geometry"`` → a shapely geometry in lon/lat);
        ``where`` None or ``{}`` matches every row.
        """
        decl = self.table(table)
        if not values:
            return 0
        assignments, params, geometry = [], [], None
        for column, value in values.items():
            if column == "geometry" and decl.is_spatial:
                geometry = prepare_geometries(
                    np.array([value], dtype=object), None, decl.geometry_type or "GEOMETRY", decl.name
                )
                assignment, param = self._geometry_assignment(geometry)
                assignments.append(assignment)
                params.append(param)
            elif column in decl.columns:
                assignments.append(f"{quote(column)} = {self._dialect.placeholder}")
                params.append(coerce_scalar(value, decl.columns[column], f"{decl.name}.{column}"))
            else:
                raise StoreError(f"{table}: unknown columns [{column!r}]; the table has {list(decl.columns)}")
        condition, where_params = self._conditions(decl, where, None)
        with self.transaction():
            changed = self._execute(
                f"update {table}",
                f"UPDATE {self._table_sql(decl.name)} SET {', '.join(assignments)}{condition}",
                params + where_params,
            )
            if geometry is not None and changed:
                self._updated(decl, geometry)
        return int(changed)

    @abc.abstractmethod
    def delete(self, table: str, where: Where | None = None) -> int:
        """Delete matching rows (all rows when ``where`` is None); returns rows deleted."""

    # --- shared helpers --------------------------------------------------------
    def table(self, name: str) -> Table:
        return get_table(name)

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        df = self.read("meta", where={"key": key})
        return default if df.empty else str(df["value"].iloc[0])

    def set_meta(self, key: str, value: str) -> None:
        self.upsert("meta", pd.DataFrame({"key": [key], "value": [str(value)]}))

    def mvt_tile(
        self,
        table: str,
        z: int,
        x: int,
        y: int,
        *,
        layer: str,
        columns: Sequence[str],
        filter_column: str,
        filter_value: Any,
        id_column: str | None = None,
        extent: int = 4096,
        buffer: int = 64,
        small_counts: tuple[str, int, Sequence[str]] | None = None,
    ) -> bytes:
        """A Mapbox vector tile of ``table``'s rows where ``filter_column = filter_value`` (a list:
        equal to any of its values), encoded by the database (z/x/y in Web Mercator, EPSG:3857).  Backends that cannot encode tiles
        raise :class:`StoreError`; callers then encode them themselves (``api.mvt``)."""
        raise StoreError(f"the {self.backend} store does not encode vector tiles")

    def ensure_partitions(self, groups: Mapping[str, Sequence[str]]) -> int:
        """Give each county its own partition of every partitioned table (``Table.partition_key``):
        ``groups`` maps a county code to the key values its partition holds (the county and the
        statistical zones it hosts).  Returns partitions created.  The GeoPackage has no partitions:
        it does nothing and returns 0."""
        return 0

    def active_plan_id(self) -> str | None:
        df = self.read("plans", where={"status": "active"}, order_by=["created_at"])
        return None if df.empty else str(df["plan_id"].iloc[-1])

    expected_schema_version = SCHEMA_VERSION
