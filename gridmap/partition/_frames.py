"""Input normalisation shared by the planning modules (villages, addresses, metric views)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.errors import InputError

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


def segmentize_shared(geoms: np.ndarray, max_length: float) -> np.ndarray:
    """``shapely.segmentize`` that keeps a coverage a coverage (units of the CRS of ``geoms``).

    The points inserted into an edge are computed from the edge's endpoints in a fixed
    (lexicographic) order, so an edge shared by two polygons, which the two rings run in
    opposite directions, gets bit-identical new vertices on both sides.  ``shapely.segmentize``
    interpolates from each ring's own start point, so the two sides of a shared edge differ
    in the last bits and the result is no longer edge-matched (``coverage_is_valid`` fails).
    """
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    ok = np.flatnonzero(~shapely.is_empty(geoms) & np.isin(shapely.get_type_id(geoms), (3, 6)))
    if len(ok) == 0:
        return out
    parts, part_owner = shapely.get_parts(geoms[ok], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    # segment k runs from xy[k] to xy[k + 1] inside one ring (each ring repeats its first point)
    seg = np.flatnonzero(ring_of[:-1] == ring_of[1:])
    a, b = xy[seg], xy[seg + 1]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    p = np.where(swap[:, None], b, a)
    q = np.where(swap[:, None], a, b)
    n = np.maximum(1, np.ceil(np.hypot(*(q - p).T) / max_length)).astype(np.int64)
    seg_of = np.repeat(np.arange(len(seg)), n)
    step = np.arange(len(seg_of)) - np.repeat(np.cumsum(n) - n, n)  # 0 .. n-1 within a segment
    frac = np.where(swap[seg_of], n[seg_of] - step, step) / n[seg_of]
    pts = p[seg_of] + (q[seg_of] - p[seg_of]) * frac[:, None]
    pts[step == 0] = a[seg_of[step == 0]]  # the segment's own start vertex, untouched
    pts_ring = ring_of[seg][seg_of]
    # close every ring with its first point
    first = np.flatnonzero(np.r_[True, ring_of[1:] != ring_of[:-1]])
    coords = np.concatenate([pts, xy[first]])
    ring_idx = np.concatenate([pts_ring, ring_of[first]])
    order = np.argsort(ring_idx, kind="stable")
    new_rings = shapely.linearrings(coords[order], indices=ring_idx[order])
    new_parts = shapely.polygons(new_rings, indices=ring_part)
    multi = np.bincount(part_owner, minlength=len(ok)) > 1
    merged = np.empty(len(ok), dtype=object)
    first_part = np.flatnonzero(np.r_[True, part_owner[1:] != part_owner[:-1]])
    merged[part_owner[first_part]] = new_parts[first_part]
    if multi.any():
        sel = np.isin(part_owner, np.flatnonzero(multi))
        mp = shapely.multipolygons(new_parts[sel], indices=np.unique(part_owner[sel], return_inverse=True)[1])
        merged[np.flatnonzero(multi)] = mp
    out[ok] = merged
    return out


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
    pop = pd.to_numeric(addresses["population"], errors="coerce").fillna(0) if "population" in addresses else 0
    if isinstance(workload, str):
        if workload not in addresses.columns:
            raise InputError(f"addresses have no workload column {workload!r}")
        work = pd.to_numeric(addresses[workload], errors="coerce").fillna(0)
    else:
        work = 0
    return gpd.GeoDataFrame(
        {"households": np.asarray(hh, dtype="int64"), "population": np.asarray(pop, dtype="int64"),
         "workload": np.asarray(work, dtype="int64") if not np.isscalar(work) else np.zeros(len(hh), "int64")},
        geometry=geoms, crs=WGS84,
    ).reset_index(drop=True)


def point_counts(points: gpd.GeoDataFrame, polygons: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Sum ``columns`` of ``points`` over the polygon each point falls in (first hit for points
    on a shared edge, so every point is counted once); one row per polygon, zeros for empty."""
    tree = shapely.STRtree(polygons)
    pt_idx, poly_idx = tree.query(points.geometry.values, predicate="intersects")
    first = np.unique(pt_idx, return_index=True)[1]
    pt_idx, poly_idx = pt_idx[first], poly_idx[first]
    sums = points.iloc[pt_idx][columns].groupby(poly_idx).sum()
    out = pd.DataFrame(0, index=np.arange(len(polygons)), columns=columns, dtype="int64")
    out.loc[sums.index, columns] = sums.to_numpy()
    return out


def to_metric(geoms) -> np.ndarray:
    """EPSG:4326 geometries → LOCAL_CRS (metres, equal-area) as a shapely array."""
    return np.asarray(gpd.GeoSeries(np.asarray(geoms), crs=WGS84).to_crs(LOCAL_CRS).values, dtype=object)
