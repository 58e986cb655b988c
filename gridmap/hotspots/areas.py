"""Hot-spot areas: contiguous significant units merged into polygons, summarised and ranked.

"The three hot spots this month": units that are FDR-significant with the same sign
(hot: z > 0) and touch each other (connected components of the weights restricted to
those units) become one area; areas are ranked by their number of cases.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import connected_components

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.errors import InputError
from gridmap.hotspots.weights import SpatialWeights, as_weights

AREA_COLUMNS = [
    "rank",
    "sign",
    "cases",
    "units",
    "max_z",
    "top_categories",
    "trend",
    "unit_ids",
    "area_km2",
    "centre_lon",
    "centre_lat",
    "geometry",
]


def _merge(geoms: np.ndarray, tiling: bool) -> shapely.Geometry:
    if tiling:
        # coverage union assumes exactly shared edges; fall back when the units don't tile cleanly
        try:
            merged = shapely.coverage_union_all(geoms)
        except shapely.errors.GEOSException:
            merged = None
        if merged is not None and shapely.is_valid(merged) and not merged.is_empty:
            return merged
    return shapely.make_valid(shapely.union_all(geoms))


def hotspot_areas(
    significant: np.ndarray,
    z: np.ndarray,
    weights: SpatialWeights,
    units: gpd.GeoDataFrame | gpd.GeoSeries,
    cases: np.ndarray,
    category_counts: pd.DataFrame | None = None,
    trend_labels: np.ndarray | None = None,
    sign: int = 1,
    min_units: int = 1,
    tiling: bool = True,
    top_categories: int = 3,
) -> gpd.GeoDataFrame:
    """Merge contiguous significant units of one sign into ranked areas.

    Parameters
    ----------
    significant : numpy.ndarray
        (n,) bool, e.g. ``GiStarResult.significant_fdr``.
    z : numpy.ndarray
        (n,) z-scores; their sign decides hot (> 0) or cold (< 0).
    weights : SpatialWeights
        the neighbour relation used for the statistic (defines contiguity).
    units : GeoDataFrame or GeoSeries
        unit polygons in weights order, WGS-84 (EPSG:4326).
    cases : numpy.ndarray
        (n,) cases per unit.
    category_counts : DataFrame or None
        (n, categories) cases per unit and category, rows in weights order.
    trend_labels : numpy.ndarray or None
        (n,) emerging class label per unit; an area's trend is the label carrying most cases.
    sign : {1, -1}
        hot (1) or cold (-1) areas.
    min_units : int
        drop areas with fewer units.
    tiling : bool
        units tile the plane without overlaps (grids, H3 cells, admin units): merge with
        ``shapely.coverage_union_all`` (much faster), falling back to ``union_all``.

    Returns
    -------
    GeoDataFrame (EPSG:4326) with columns rank (1 = most cases), sign, cases, units, max_z
    (largest |z| in the area, signed), top_categories (JSON list of [category, cases]),
    trend, unit_ids (JSON list), area_km2, centre_lon/centre_lat and geometry; sorted by rank.
    """
    w = as_weights(weights)
    n = w.n
    significant = np.asarray(significant, dtype=bool)
    z = np.asarray(z, dtype=np.float64)
    cases = np.asarray(cases, dtype=np.float64)
    if not (len(significant) == len(z) == len(cases) == len(units) == n):
        raise InputError("significant, z, cases, units and weights must all describe the same units")
    if sign not in (1, -1):
        raise InputError(f"sign must be 1 (hot) or -1 (cold), got {sign}")
    geometry = units.geometry if isinstance(units, gpd.GeoDataFrame) else units
    if geometry.crs is not None and not geometry.crs.equals(WGS84):
        geometry = geometry.to_crs(WGS84)
    chosen = np.flatnonzero(significant & (np.sign(z) == sign))
    if len(chosen) == 0:
        return gpd.GeoDataFrame({c: [] for c in AREA_COLUMNS[:-1]}, geometry=[], crs=WGS84)
    sub = w.sparse[chosen][:, chosen]
    n_components, label = connected_components(sub, directed=False)
    sizes = np.bincount(label, minlength=n_components)
    area_cases = np.bincount(label, weights=cases[chosen], minlength=n_components)
    geoms = np.asarray(geometry.values)[chosen]
    order = np.argsort(label, kind="stable")
    bounds = np.r_[0, np.cumsum(sizes)]
    rows = []
    for comp in range(n_components):
        if sizes[comp] < min_units:
            continue
        members = order[bounds[comp] : bounds[comp + 1]]
        positions = chosen[members]
        shape = _merge(geoms[members], tiling)
        if isinstance(shape, shapely.Polygon):
            shape = shapely.MultiPolygon([shape])
        zs = z[positions]
        top: list = []
        if category_counts is not None:
            totals = category_counts.iloc[positions].sum(axis=0)
            totals = totals[totals > 0].sort_values(ascending=False, kind="stable").head(top_categories)
            top = [[str(k), int(v)] for k, v in totals.items()]
        trend = None
        if trend_labels is not None:
            by_label = pd.Series(cases[positions]).groupby(np.asarray(trend_labels)[positions]).sum()
            trend = str(by_label.idxmax()) if len(by_label) else None
        rows.append(
            {
                "sign": sign,
                "cases": float(area_cases[comp]),
                "units": int(sizes[comp]),
                "max_z": float(zs[np.argmax(np.abs(zs))]),
                "top_categories": json.dumps(top, ensure_ascii=False),
                "trend": trend,
                "unit_ids": json.dumps([_jsonable(u) for u in w.ids[positions].tolist()], ensure_ascii=False),
                "geometry": shape,
            }
        )
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in AREA_COLUMNS[:-1]}, geometry=[], crs=WGS84)
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)
    out = out.sort_values(["cases", "units"], ascending=[False, False], kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out["area_km2"] = out.geometry.to_crs(LOCAL_CRS).area / 1e6
    centres = out.geometry.representative_point()
    out["centre_lon"] = centres.x
    out["centre_lat"] = centres.y
    return out[AREA_COLUMNS]


def _jsonable(value):
    if isinstance(value, np.integer):
        return int(value)
    return value
