"""Input normalisation shared by the planning modules (villages, addresses, metric views)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.errors import InputError
from gridmap.geometry import segmentize_shared
from gridmap.spatial import geometries_in_polygons

#: longest village edge kept (degrees, about 30 m)
SEGMENT_DEG = 0.0003


def village_frame(villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``village_code`` + polygonal ``geometry`` in EPSG:4326, invalid rings repaired.

    Accepts the store's ``admin_units`` layout (``code``, optionally ``level``) or a frame
    that already has ``village_code``.  Rows with a level other than ``village`` are dropped.
    """
    if not isinstance(villages, gpd.GeoDataFrame):
        raise InputError("villages must be a GeoDataFrame with polygons")
    frame = villages
    if "level" in frame.columns and "village_code" not in frame.columns:
        frame = frame[frame["level"].astype(str) == "village"]
    if "village_code" in frame.columns:
        codes = frame["village_code"]
    elif "code" in frame.columns:
        codes = frame["code"]
    else:
        raise InputError("villages need a 'code' or 'village_code' column")
    if frame.crs is None:
        raise InputError("villages have no CRS; expected EPSG:4326 lon/lat or any projected CRS")
    geoms = np.asarray(frame.geometry.to_crs(WGS84).values, dtype=object).copy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    # straight edges in lon/lat and in metres differ by up to a few m² per km of edge;
    # short segments make every later area check agree in both CRSs
    geoms = segmentize_shared(polygonal(geoms), SEGMENT_DEG)
    out = gpd.GeoDataFrame({"village_code": codes.astype(str).to_numpy()}, geometry=geoms, crs=WGS84)
    out = out[~shapely.is_empty(out.geometry.values)]
    if out.empty:
        raise InputError("no village polygons")
    if out["village_code"].duplicated().any():
        dup = out.loc[out["village_code"].duplicated(), "village_code"].iloc[0]
        raise InputError(f"village code {dup} appears more than once; dissolve villages first")
    return out.reset_index(drop=True)


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of each geometry (make_valid may add lines/points)."""
    geoms = np.asarray(geoms, dtype=object)
    mixed = shapely.get_type_id(geoms) == 7
    if mixed.any():
        parts, owner = shapely.get_parts(geoms[mixed], return_index=True)
        keep = np.isin(shapely.get_type_id(parts), (3, 6))
        merged = pd.Series(parts[keep]).groupby(owner[keep]).agg(lambda s: shapely.union_all(s.to_numpy()))
        fixed = np.full(mixed.sum(), shapely.Polygon(), dtype=object)
        fixed[merged.index.to_numpy()] = merged.to_numpy()
        geoms = geoms.copy()
        geoms[mixed] = fixed
    not_polygonal = ~np.isin(shapely.get_type_id(geoms), (3, 6))
    if not_polygonal.any():
        geoms = geoms.copy()
        geoms[not_polygonal] = shapely.Polygon()
    return geoms


def address_frame(addresses: gpd.GeoDataFrame, workload=None) -> gpd.GeoDataFrame:
    """Points in EPSG:4326 with integer ``households``, ``population`` and ``workload``.

    ``workload`` may be a column name of ``addresses`` or None (then 0).
    """
    if not isinstance(addresses, gpd.GeoDataFrame):
        raise InputError("addresses must be a GeoDataFrame of points")
    if addresses.crs is None:
        raise InputError("addresses have no CRS; expected EPSG:4326 lon/lat")
    if "households" not in addresses.columns:
        raise InputError("addresses need a 'households' column")
    geoms = addresses.geometry.to_crs(WGS84).values
    bad = ~np.isin(shapely.get_type_id(np.asarray(geoms)), (0,))
    if bad.any():
        raise InputError(f"{int(bad.sum())} address geometries are not points")
    hh = pd.to_numeric(addresses["households"], errors="coerce")
    if hh.isna().any() or (hh < 0).any():
        raise InputError("addresses 'households' must be non-negative numbers")
    pop = (
        pd.to_numeric(addresses["population"], errors="coerce").fillna(0) if "population" in addresses else 0
    )
    if isinstance(workload, str):
        if workload not in addresses.columns:
            raise InputError(f"addresses have no workload column {workload!r}")
        work = pd.to_numeric(addresses[workload], errors="coerce").fillna(0)
    else:
        work = 0
    return gpd.GeoDataFrame(
        {
            "households": np.asarray(hh, dtype="int64"),
            "population": np.asarray(pop, dtype="int64"),
            "workload": np.asarray(work, dtype="int64")
            if not np.isscalar(work)
            else np.zeros(len(hh), "int64"),
        },
        geometry=geoms,
        crs=WGS84,
    ).reset_index(drop=True)


def point_counts(points: gpd.GeoDataFrame, polygons: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Sum ``columns`` of ``points`` over the polygon each point falls in (the lowest position for
    points on a shared edge, :mod:`gridmap.spatial`, so every point is counted once); one row per
    polygon, zeros for empty.  Points and polygons in one CRS."""
    where = geometries_in_polygons(points.geometry.values, polygons)
    pt_idx = np.flatnonzero(where >= 0)
    poly_idx = where[pt_idx]
    sums = points.iloc[pt_idx][columns].groupby(poly_idx).sum()
    out = pd.DataFrame(0, index=np.arange(len(polygons)), columns=columns, dtype="int64")
    out.loc[sums.index, columns] = sums.to_numpy()
    return out


def to_metric(geoms) -> np.ndarray:
    """EPSG:4326 geometries → LOCAL_CRS (metres, equal-area) as a shapely array."""
    return np.asarray(gpd.GeoSeries(np.asarray(geoms), crs=WGS84).to_crs(LOCAL_CRS).values, dtype=object)
