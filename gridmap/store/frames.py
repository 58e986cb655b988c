"""Frames in and out of a backend: validation before a write, canonical frames after a read."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.store.columns import coerce_column, frame_from_columns, python_values
from gridmap.store.filters import StoreError
from gridmap.store.geometry import WGS84_EPSG, prepare_geometries
from gridmap.store.schema import Table

GEOMETRY = "geometry"


@dataclass
class WriteBatch:
    """Rows ready for a backend: every declared column in declaration order, canonical dtypes.

    ``geometry`` is a shapely object array in EPSG:4326 (None = NULL), or None for a
    non-spatial table.
    """

    table: Table
    frame: pd.DataFrame
    geometry: np.ndarray | None

    @property
    def columns(self) -> list[str]:
        return list(self.table.columns)

    def __len__(self) -> int:
        return len(self.frame)

    def column_values(self) -> list[list[Any]]:
        """Column-wise Python values (None for NULL) in :attr:`columns` order."""
        return [python_values(self.frame[name]) for name in self.columns]

    def key_values(self) -> list[tuple[Any, ...]]:
        return list(zip(*(python_values(self.frame[name]) for name in self.table.primary_key), strict=True))


def prepare_write(table: Table, frame: pd.DataFrame, *, check_keys: bool = True) -> WriteBatch:
    """Check ``frame`` against ``table`` and convert it.

    Unknown columns → :class:`StoreError` naming them; declared columns missing from the
    frame are filled with NULL; values are converted to the column types (see
    :mod:`gridmap.store.columns`); geometries go through
    :func:`~gridmap.store.geometry.prepare_geometries` (reprojected to EPSG:4326).
    With ``check_keys`` the primary key must be non-NULL and unique within the frame.
    """
    if not isinstance(frame, pd.DataFrame):
        raise StoreError(f"{table.name}: expected a DataFrame, got {type(frame).__name__}")
    geometry_values: Any = None
    crs = None
    attributes = frame
    if isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame.columns:
        geometry_name = frame.geometry.name
        geometry_values, crs = frame.geometry.values, frame.crs
        attributes = pd.DataFrame(frame.drop(columns=[geometry_name]))
    elif GEOMETRY in frame.columns:
        series = frame[GEOMETRY]
        crs = getattr(series, "crs", None)
        geometry_values = series.to_numpy(dtype=object)
        attributes = pd.DataFrame(frame.drop(columns=[GEOMETRY]))
    if geometry_values is not None and not table.is_spatial:
        raise StoreError(f"{table.name}: table has no geometry, but the frame has a geometry column")
    unknown = [str(c) for c in attributes.columns if c not in table.columns]
    if unknown:
        raise StoreError(f"{table.name}: unknown columns {unknown}; the table has {list(table.columns)}")
    if attributes.columns.duplicated().any():
        duplicated = sorted({str(c) for c in attributes.columns[attributes.columns.duplicated()]})
        raise StoreError(f"{table.name}: duplicated columns {duplicated}")
    n = len(frame)
    converted = {}
    for name, sql_type in table.columns.items():
        where = f"{table.name}.{name}"
        if name in attributes.columns:
            converted[name] = coerce_column(attributes[name], sql_type, where)
        else:
            converted[name] = coerce_column(pd.Series([None] * n, dtype=object), sql_type, where)
    out = pd.DataFrame(converted, columns=list(table.columns))
    if check_keys and table.primary_key:
        _check_keys(table, out)
    geometry = None
    if table.is_spatial:
        if geometry_values is None:
            geometry = np.full(n, None, dtype=object)
        else:
            geometry = prepare_geometries(geometry_values, crs, table.geometry_type or "GEOMETRY", table.name)
    return WriteBatch(table, out, geometry)


def _check_keys(table: Table, frame: pd.DataFrame) -> None:
    keys = list(table.primary_key)
    missing = frame[keys].isna().any(axis=1).to_numpy()
    if missing.any():
        raise StoreError(
            f"{table.name}: primary key {keys} is NULL in {int(missing.sum())} rows "
            f"(first row {int(np.flatnonzero(missing)[0])})"
        )
    duplicated = frame.duplicated(subset=keys, keep=False).to_numpy()
    if duplicated.any():
        raise StoreError(
            f"{table.name}: primary key {keys} repeats within the frame in {int(duplicated.sum())} rows "
            f"(first row {int(np.flatnonzero(duplicated)[0])})"
        )


def result_frame(
    table: Table, columns: list[str], values: list[list[Any]], geometry: np.ndarray | None
) -> pd.DataFrame | gpd.GeoDataFrame:
    """The frame ``read`` returns: canonical dtypes, and a GeoDataFrame in EPSG:4326 (geometry
    column ``geometry``, last) when ``geometry`` is given."""
    frame = frame_from_columns(columns, [table.columns[c] for c in columns], values)
    if geometry is None:
        return frame
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=WGS84_EPSG), crs=WGS84_EPSG)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a read builds a few million objects.

    Row tuples and geometries are not cycles, but allocating them triggers repeated full
    collections that rescan everything alive (2-3x slower reads of large tables).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
