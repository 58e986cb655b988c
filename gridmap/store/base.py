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
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

from gridmap.errors import GridmapError
from gridmap.store.schema import SCHEMA_VERSION, Table, get_table


@dataclass(frozen=True)
class Between:
    lo: Any = None
    hi: Any = None


@dataclass(frozen=True)
class Op:
    op: Literal["=", "!=", "<", "<=", ">", ">="]
    value: Any


Where = Mapping[str, Any]


class StoreError(GridmapError, RuntimeError):
    """A store operation failed; the store is unchanged.

    A :class:`~gridmap.errors.GridmapError`, so the CLI prints its message without a traceback.
    """


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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abc.abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all commit or none; nested calls join the outer transaction."""

    # --- reads -----------------------------------------------------------------
    @abc.abstractmethod
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
        geometry envelope intersects it.  ``columns`` may include ``"geometry"``; when given
        without it, a spatial table comes back as a plain DataFrame.  Without ``order_by``
        rows come in primary-key order.
        """

    @abc.abstractmethod
    def count(self, table: str, where: Where | None = None) -> int: ...

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

    @abc.abstractmethod
    def update(self, table: str, values: Mapping[str, Any], where: Where) -> int:
        """Set ``values`` on matching rows; returns rows changed.

        ``values`` maps columns to scalars (``"geometry"`` → a shapely geometry in lon/lat);
        ``where`` None or ``{}`` matches every row.
        """

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

    def mvt_tile(self, table: str, z: int, x: int, y: int, *, layer: str, columns: Sequence[str],
                 filter_column: str, filter_value: Any, id_column: str | None = None, extent: int = 4096,
                 buffer: int = 64, small_counts: tuple[str, int, Sequence[str]] | None = None) -> bytes:
        """A Mapbox vector tile of ``table``'s rows where ``filter_column = filter_value``, encoded by
        the database (z/x/y in Web Mercator, EPSG:3857).  Backends that cannot encode tiles
        raise :class:`StoreError`; callers then encode them themselves (``api.mvt``)."""
        raise StoreError(f"the {self.backend} store does not encode vector tiles")

    def active_plan_id(self) -> str | None:
        df = self.read("plans", where={"status": "active"}, order_by=["created_at"])
        return None if df.empty else str(df["plan_id"].iloc[-1])

    expected_schema_version = SCHEMA_VERSION
