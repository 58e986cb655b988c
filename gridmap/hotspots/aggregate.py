"""From case points to values per unit: filters, counts, rates and Empirical Bayes smoothing.

Case points are a GeoDataFrame in WGS-84 (EPSG:4326) with the store's ``cases``
columns (``kind``, ``category``, ``status``, ``reported_at`` ISO text local time).
Units are polygons (grids, villages, townships, counties; EPSG:4326) or H3 cells at
any resolution.  Counts never carry personal fields: only positions are used.
"""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from h3._cy import cell_to_boundary as _cell_to_boundary_int

from gridmap.crs import WGS84
from gridmap.errors import InputError
from gridmap.hotspots.weights import SpatialWeights, check_h3_cells, h3_cells_as_int
from gridmap.spatial import points_in_polygons


def case_lonlat(cases: pd.DataFrame, return_mask: bool = False):
    """Lon/lat (degrees, WGS-84) of located cases; unlocated ones are dropped.

    Uses the geocoded ``lon``/``lat`` columns where they are set and the point geometry
    (GeoDataFrame, reprojected to EPSG:4326 if needed) elsewhere.  With ``return_mask``
    also returns the boolean mask of located rows.
    """
    n = len(cases)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if {"lon", "lat"} <= set(cases.columns):
        lon = pd.to_numeric(cases["lon"], errors="coerce").to_numpy(dtype=float, copy=True)
        lat = pd.to_numeric(cases["lat"], errors="coerce").to_numpy(dtype=float, copy=True)
    has_geometry = isinstance(cases, gpd.GeoDataFrame) and cases.geometry.name in cases.columns
    if not has_geometry and not {"lon", "lat"} <= set(cases.columns):
        raise InputError("cases have neither point geometry nor lon/lat columns")
    missing = ~(np.isfinite(lon) & np.isfinite(lat))
    if has_geometry and missing.any():
        geometry = cases.geometry
        if cases.crs is not None and not cases.crs.equals(WGS84):
            geometry = geometry.to_crs(WGS84)
        geoms = np.asarray(geometry.values)[missing]
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        fill = np.flatnonzero(missing)[ok]
        lon[fill] = shapely.get_x(geoms[ok])
        lat[fill] = shapely.get_y(geoms[ok])
    located = np.isfinite(lon) & np.isfinite(lat)
    if located.any() and ((np.abs(lon[located]) > 180).any() or (np.abs(lat[located]) > 90).any()):
        raise InputError("case coordinates are not WGS-84 degrees (|lon| > 180 or |lat| > 90)")
    if return_mask:
        return lon[located], lat[located], located
    return lon[located], lat[located]


def locate_in_polygons(
    lon: np.ndarray, lat: np.ndarray, units: gpd.GeoDataFrame | gpd.GeoSeries
) -> np.ndarray:
    """Position of the unit containing each point (-1 when none): :func:`gridmap.spatial.points_in_polygons`.

    A point strictly inside a polygon goes to it; a point exactly on a shared boundary goes
    to the lowest row position whose closure contains it, so every point is counted at most
    once.  Points in WGS-84 degrees; units are reprojected to EPSG:4326 if needed.
    """
    geometry = units.geometry if isinstance(units, gpd.GeoDataFrame) else units
    if geometry.crs is not None and not geometry.crs.equals(WGS84):
        geometry = geometry.to_crs(WGS84)
    return points_in_polygons(lon, lat, np.asarray(geometry.values))


def count_in_polygons(
    lon: np.ndarray,
    lat: np.ndarray,
    units: gpd.GeoDataFrame | gpd.GeoSeries,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Points (or point weights, e.g. households) summed per polygon unit.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        point coordinates, WGS-84 degrees.
    units : GeoDataFrame or GeoSeries
        polygons (reprojected to EPSG:4326 if in another CRS).
    weights : numpy.ndarray or None
        per-point weights; None counts points.

    Returns
    -------
    (totals per unit in row order as float64, number of points outside every unit).
    """
    where = locate_in_polygons(lon, lat, units)
    inside = where >= 0
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[inside]
    totals = np.bincount(where[inside], weights=w, minlength=len(units)).astype(np.float64)
    return totals, int((~inside).sum())


def latlng_to_cells(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cells (uint64) of many points given in WGS-84 degrees (note: lat first, as h3).

    One vectorised call of h3ronpy (H3's Rust port, the same cells as h3): h3 4.x itself has
    no array version of ``latlng_to_cell``.
    """
    from h3ronpy.vector import coordinates_to_cells

    if not 0 <= resolution <= 15:
        raise InputError(f"H3 resolution must be 0..15, got {resolution}")
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    if len(lat) == 0:
        return np.empty(0, dtype=np.uint64)
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise InputError("coordinates contain NaN or infinite values")
    cells = np.asarray(coordinates_to_cells(lat, lon, resolution)).astype(np.uint64, copy=False)
    return cells if cells.flags.writeable else cells.copy()  # callers sort it in place


def study_polygon(study_area) -> shapely.Polygon | shapely.MultiPolygon:
    """A study area as one shapely (Multi)Polygon in WGS-84 lon/lat (GeoSeries/GeoDataFrame unioned)."""
    if isinstance(study_area, gpd.GeoDataFrame | gpd.GeoSeries):
        geometry = study_area.geometry if isinstance(study_area, gpd.GeoDataFrame) else study_area
        if geometry.crs is not None and not geometry.crs.equals(WGS84):
            geometry = geometry.to_crs(WGS84)
        study_area = shapely.union_all(np.asarray(geometry.values))
    if not isinstance(study_area, shapely.Polygon | shapely.MultiPolygon) or study_area.is_empty:
        raise InputError("study_area must be a non-empty polygon in WGS-84 lon/lat")
    return study_area


def h3_study_cells(study_area, resolution: int) -> np.ndarray:
    """All H3 cells whose centre lies in ``study_area`` (shapely (Multi)Polygon, WGS-84 lon/lat), sorted.

    h3ronpy's polygon fill (containment by centroid: the cells of ``h3.h3shape_to_cells``),
    one vectorised call.
    """
    from h3ronpy.vector import ContainmentMode, geometry_to_cells

    study_area = study_polygon(study_area)
    if not 0 <= resolution <= 15:
        raise InputError(f"H3 resolution must be 0..15, got {resolution}")
    cells = geometry_to_cells(study_area, resolution, containment_mode=ContainmentMode.ContainsCentroid)
    cells = np.asarray(cells).astype(np.uint64, copy=False)
    cells.sort()
    return cells


def count_in_h3(
    lon: np.ndarray,
    lat: np.ndarray,
    resolution: int,
    study_area=None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Points (or point weights) summed per H3 cell.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        WGS-84 degrees.
    resolution : int
        H3 resolution (0–15; 8 ≈ 0.74 km², 9 ≈ 0.11 km², 10 ≈ 0.015 km² per cell).
    study_area : shapely polygon, GeoSeries/GeoDataFrame or None
        None → only cells holding at least one point are returned.  A polygon → also
        every cell whose centre lies inside it, with 0: use this when empty places are
        part of the question (Gi* and LISA then compare against true zeros).
    weights : numpy.ndarray or None
        per-point weights (e.g. households); None counts points.

    Returns
    -------
    (cells, totals): sorted uint64 cells and float64 totals.

    Where the points and the study area lie on one icosahedron face (any one city or province)
    the counts come from that face's H3 lattice in one compiled pass
    (:func:`gridmap.hotspots.h3_lattice.lattice_counts`: the same cells and totals, ~10x faster);
    otherwise integers all the way (h3ronpy cells as uint64, one in-place sort, run lengths,
    h3ronpy's polygon fill): no string ids, no pandas group-by.
    """
    from gridmap.hotspots.h3_lattice import lattice_counts

    area = None if study_area is None else study_polygon(study_area)
    lattice = lattice_counts(lon, lat, resolution, area, weights)
    if lattice is not None:
        order = np.argsort(lattice.cells)
        return lattice.cells[order], lattice.totals[order]
    return count_in_h3_h3ronpy(lon, lat, resolution, area, weights)


def count_in_h3_h3ronpy(lon, lat, resolution: int, study_area, weights) -> tuple[np.ndarray, np.ndarray]:
    """:func:`count_in_h3` through h3ronpy: any input, any faces (NaN coordinates raise InputError)."""
    cells = latlng_to_cells(lat, lon, resolution)
    if weights is None:
        cells.sort()  # h3ronpy's array is ours: sorted in place, no copy
        if len(cells):
            starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
        else:
            starts = np.zeros(0, dtype=np.intp)
        occupied = cells[starts]
        totals = np.diff(np.r_[starts, len(cells)]).astype(np.float64)
        del cells, starts
    else:
        occupied, inverse = np.unique(cells, return_inverse=True)
        totals = np.bincount(inverse, weights=np.asarray(weights, np.float64), minlength=len(occupied))
    if study_area is None:
        return occupied, totals
    study = h3_study_cells(study_area, resolution)
    pos = np.searchsorted(study, occupied)
    np.minimum(pos, max(len(study) - 1, 0), out=pos)
    inside = study[pos] == occupied if len(study) else np.zeros(len(occupied), dtype=bool)
    if inside.all():  # the usual case: every case lies in the study area
        all_totals = np.zeros(len(study))
        all_totals[pos] = totals
        return study, all_totals
    all_cells = np.concatenate([study, occupied[~inside]])
    all_totals = np.zeros(len(all_cells))
    all_totals[pos[inside]] = totals[inside]
    all_totals[len(study) :] = totals[~inside]
    order = np.argsort(all_cells)
    return all_cells[order], all_totals[order]


def totals_on_cells(
    cells: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Sum points (lon/lat WGS-84 degrees, or their weights) onto given H3 cells; other points are ignored."""
    cells = h3_cells_as_int(cells)
    if len(cells) == 0:
        return np.zeros(0)
    resolution = check_h3_cells(cells)
    point_cells = latlng_to_cells(lat, lon, resolution)
    order = np.argsort(cells)
    pos = np.searchsorted(cells[order], point_cells)
    pos[pos == len(cells)] = 0
    hit = cells[order][pos] == point_cells
    w = None if weights is None else np.asarray(weights, np.float64)[hit]
    return np.bincount(order[pos[hit]], weights=w, minlength=len(cells)).astype(np.float64)


def h3_polygons(cells: np.ndarray) -> gpd.GeoSeries:
    """Cell outlines as a GeoSeries of polygons in WGS-84 (EPSG:4326)."""
    cells = h3_cells_as_int(cells)
    rings = [_cell_to_boundary_int(c) for c in cells.tolist()]  # ((lat, lng), …)
    lengths = np.fromiter((len(r) for r in rings), np.int64, len(rings))
    latlng = np.array([p for r in rings for p in r], dtype=np.float64).reshape(-1, 2)
    # close each ring by repeating its first vertex, then build all polygons in one call
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    closed = np.insert(latlng, np.repeat(starts + lengths, 1), latlng[starts], axis=0)
    ring_index = np.repeat(np.arange(len(rings)), lengths + 1)
    linear = shapely.linearrings(closed[:, 1], closed[:, 0], indices=ring_index)
    return gpd.GeoSeries(shapely.polygons(linear), crs=WGS84)


def h3_cell_strings(cells: np.ndarray) -> np.ndarray:
    return np.array([h3.int_to_str(c) for c in h3_cells_as_int(cells).tolist()], dtype=object)


# --- rates and smoothing -------------------------------------------------------------


def rate_per_1000(events, households) -> np.ndarray:
    """Events per 1,000 households; NaN where a unit has no households."""
    e = np.asarray(events, dtype=np.float64)
    b = np.asarray(households, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, 1000.0 * e / b, np.nan)


def _check_rate_inputs(events, base) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    e = np.asarray(events, dtype=np.float64).ravel()
    b = np.asarray(base, dtype=np.float64).ravel()
    if e.shape != b.shape:
        raise InputError(f"{len(e)} event counts for {len(b)} base populations")
    if (e < 0).any() or (b < 0).any() or not (np.isfinite(e).all() and np.isfinite(b).all()):
        raise InputError("events and base must be finite and non-negative")
    valid = b > 0
    if not valid.any():
        raise InputError("no unit has a positive base (households): rates are undefined")
    return e, b, valid


def excess_risk(events, base) -> np.ndarray:
    """Observed / expected events with the global rate (esda ``Excess_Risk``); NaN where base is 0."""
    e, b, valid = _check_rate_inputs(events, base)
    global_rate = e[valid].sum() / b[valid].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(valid, e / (b * global_rate), np.nan)


def empirical_bayes(events, base) -> np.ndarray:
    """Global Empirical Bayes smoothed rates (Marshall 1991; esda ``Empirical_Bayes``).

    Each crude rate ``e/b`` shrinks towards the global rate ``m = Σe/Σb`` by
    ``w = v / (v + m/b)`` with the method-of-moments prior variance
    ``v = Σ b (r − m)² / Σb − m / mean(b)``.  When ``v < 0`` (less spread than Poisson
    noise) it is set to 0 and every rate becomes ``m`` — esda leaves it negative, which
    gives weights outside [0, 1].  Units with base 0 get NaN and are left out of the moments.
    Rates are per unit of base (multiply by 1,000 for per 1,000 households).
    """
    e, b, valid = _check_rate_inputs(events, base)
    ev, bv = e[valid], b[valid]
    m = ev.sum() / bv.sum()
    rate = ev / bv
    v = (bv * (rate - m) ** 2).sum() / bv.sum() - m / bv.mean()
    weight = v / (v + m / bv) if v > 0 else np.zeros_like(bv)
    out = np.full(len(e), np.nan)
    out[valid] = weight * rate + (1.0 - weight) * m
    return out


def spatial_empirical_bayes(events, base, weights: SpatialWeights) -> np.ndarray:
    """Local (spatial) Empirical Bayes rates (esda ``Spatial_Empirical_Bayes``).

    Like :func:`empirical_bayes` but the prior mean and variance of unit ``i`` come from
    its neighbourhood (``i`` and its neighbours): ``m_i = Σe / Σb`` over the
    neighbourhood, ``v_i = Σ b_j (r_j − m_i)² / Σb − m_i / mean(b)`` clipped at 0.
    A neighbourhood without any event gets rate 0 (esda: NaN from 0/0).
    Vectorised with sparse products.  Units with base 0 contribute to their neighbours'
    sums but get NaN themselves.
    """
    e, b, valid = _check_rate_inputs(events, base)
    if weights.n != len(e):
        raise InputError(f"weights cover {weights.n} units but {len(e)} counts were given")
    import scipy.sparse as sp

    hood = weights.sparse + sp.identity(weights.n, format="csr")
    size = np.diff(hood.indptr).astype(np.float64)
    e_sum = hood @ e
    b_sum = hood @ b
    with np.errstate(divide="ignore", invalid="ignore"):
        m = e_sum / b_sum
        rate = np.where(valid, e / np.where(valid, b, 1.0), 0.0)
        # Σ_j b_j (r_j − m_i)² = Σ b r² − 2 m_i Σ b r + m_i² Σ b, with b r = e
        sum_br2 = hood @ (e * rate)
        spread = sum_br2 - 2 * m * e_sum + m**2 * b_sum
        v = spread / b_sum - m / (b_sum / size)
        v = np.where(v < 0, 0.0, v)
        # a neighbourhood without events has m = v = 0: its rate is 0, not 0/0
        denominator = v + m / np.where(valid, b, 1.0)
        shrink = np.divide(v, denominator, out=np.zeros_like(v), where=denominator > 0)
        smoothed = m + (rate - m) * shrink
    return np.where(valid, smoothed, np.nan)
