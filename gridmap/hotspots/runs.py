"""Run a hotspot analysis on the store's cases and record it in ``hotspot_runs``/``hotspot_results``.

One call: read the filtered cases, aggregate them onto units (grids of a plan, H3 cells,
counties, townships or villages), compute the statistic, and write the run (its
parameters, filters and a JSON summary), one result row per unit (geometry = the unit
polygon, WGS-84), the merged hot-spot areas (``hotspot_areas``) and, for ``kde``, the
heat surface (``hotspot_surfaces``) — all in one transaction.  Only positions,
categories and timestamps of cases are read: never their personal fields.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import datetime

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from gridmap.cases import CaseFilter, read_cases
from gridmap.config import get_settings
from gridmap.crs import WGS84
from gridmap.domain import LOCAL_TZ, area_counties, area_prefix
from gridmap.errors import InputError
from gridmap.hotspots.aggregate import (
    case_lonlat,
    empirical_bayes,
    h3_polygons,
    latlng_to_cells,
    locate_in_polygons,
    rate_per_1000,
    spatial_empirical_bayes,
)
from gridmap.hotspots.areas import hotspot_areas
from gridmap.hotspots.emerging import CLASSES, emerging_hotspots, space_time_cube
from gridmap.hotspots.getis_ord import gi_star
from gridmap.hotspots.inference import FDRResolutionWarning, bin_label
from gridmap.hotspots.kde import kernel_density
from gridmap.hotspots.moran import QUADRANT_LABELS, local_moran
from gridmap.hotspots.weights import SpatialWeights, h3_disks, h3_weights, queen_weights
from gridmap.store.base import Store

log = logging.getLogger(__name__)

METHODS = ("gi", "lisa", "emerging", "kde", "optimized")
UNITS = ("grid", "h3", "county", "township", "village")
VALUES = ("count", "rate", "eb_rate", "seb_rate")
H3_FILLS = ("occupied", "ring", "addresses")

#: accepted params and their defaults (None → decided per method / settings)
DEFAULT_PARAMS: dict = {
    "permutations": None,  # gi: 0, lisa: None (counts: the exact log-count test; else 999)
    "seed": None,
    "alpha": None,  # settings.fdr_alpha
    "exact": False,  # exact conditional-randomisation p-values of the raw counts
    "inference": "auto",  # gi/lisa: auto | log_counts | normal | permutations | exact
    "value": "count",
    "k": 1,  # H3 ring size
    "h3_fill": None,  # addresses when the store has addresses, else ring
    "contiguity_tolerance_m": 1.0,
    "time_lag": 1,
    "step": "month",
    "trend_alpha": 0.05,
    "bandwidth_m": None,  # kde: ArcGIS default rule
    "pixel_size_m": None,
    "top_areas": 3,
    "k_max": 6,  # optimized: largest ring order of the incremental spatial autocorrelation
}


@dataclass
class Units:
    """Analysis units: ids (text), polygons (WGS-84) and households (NaN when unknown)."""

    kind: str
    ids: np.ndarray
    geometry: gpd.GeoSeries
    households: np.ndarray
    weights: SpatialWeights
    h3_cells: np.ndarray | None = None


def _now() -> str:
    return datetime.now(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def resolve_params(method: str, params: dict | None) -> dict:
    """Defaults filled in, unknown keys refused."""
    params = dict(params or {})
    unknown = set(params) - set(DEFAULT_PARAMS)
    if unknown:
        raise InputError(f"unknown hotspot parameters {sorted(unknown)}; known: {sorted(DEFAULT_PARAMS)}")
    resolved = {**DEFAULT_PARAMS, **{k: v for k, v in params.items() if v is not None}}
    if resolved["permutations"] is None and method != "lisa":
        resolved["permutations"] = 0
    if resolved["alpha"] is None:
        resolved["alpha"] = get_settings().fdr_alpha
    if resolved["value"] not in VALUES:
        raise InputError(f"value must be one of {VALUES}, got {resolved['value']!r}")
    if resolved["h3_fill"] is not None and resolved["h3_fill"] not in H3_FILLS:
        raise InputError(f"h3_fill must be one of {H3_FILLS}, got {resolved['h3_fill']!r}")
    for key in ("permutations", "k", "time_lag", "top_areas", "k_max"):
        if key == "permutations" and resolved[key] is None:
            continue
        try:
            resolved[key] = int(resolved[key])
        except (TypeError, ValueError) as exc:
            raise InputError(f"{key} must be an integer, got {resolved[key]!r}") from exc
        if resolved[key] < 0:
            raise InputError(f"{key} must be >= 0, got {resolved[key]}")
    return resolved


# --- reading -------------------------------------------------------------------------------


#: the case columns an analysis reads (no personal fields)
ANALYSIS_COLUMNS = ["case_id", "kind", "category", "status", "reported_at", "lon", "lat", "geometry"]


def _with_counties(where: dict, counties: list[str] | None) -> dict:
    return where if counties is None else {**where, "county_code": counties}


def _households_by_code(store: Store, level: str, counties: list[str] | None = None) -> pd.Series:
    column = f"{level}_code"
    addresses = store.read(
        "addresses", where=_with_counties({}, counties) or None, columns=[column, "households"]
    )
    if addresses.empty:
        return pd.Series(dtype=float)
    return pd.to_numeric(addresses["households"], errors="coerce").fillna(0).groupby(addresses[column]).sum()


def _in_area(codes: pd.Series, area: str | None) -> np.ndarray:
    if area is None:
        return np.ones(len(codes), bool)
    return codes.astype(str).str.startswith(area_prefix(area)).to_numpy()


def load_polygon_units(
    store: Store, unit: str, plan_id: str | None, tolerance_m: float, area: str | None = None
) -> Units:
    if unit == "grid":
        plan = plan_id or store.active_plan_id()
        if plan is None:
            raise InputError("no active plan: pass plan_id (--plan) or activate a plan first")
        counties = area_counties(store, area)
        frame = store.read(
            "grids",
            where=_with_counties({"plan_id": plan}, counties),
            columns=["code", "households", "geometry"],
        )
        frame = frame[_in_area(frame["code"], area)]
        if frame.empty:
            raise InputError(f"plan {plan!r} has no grids" + (f" in {area}" if area else ""))
        households = pd.to_numeric(frame["households"], errors="coerce").to_numpy(dtype=float)
    else:
        frame = store.read("admin_units", where={"level": unit}, columns=["code", "geometry"])
        frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty) & _in_area(frame["code"], area)]
        if frame.empty:
            raise InputError(f"the store has no {unit} polygons (run the demo build or import admin units)")
        by_code = _households_by_code(store, unit, area_counties(store, area))
        households = frame["code"].map(by_code).to_numpy(dtype=float)
    frame = frame.reset_index(drop=True)
    weights = queen_weights(frame, ids="code", criterion="geometry", tolerance_m=tolerance_m)
    return Units(
        unit, frame["code"].astype(str).to_numpy(), frame.geometry.reset_index(drop=True), households, weights
    )


def load_h3_units(
    store: Store,
    resolution: int,
    lon: np.ndarray,
    lat: np.ndarray,
    fill: str | None,
    k: int,
    area: str | None = None,
) -> Units:
    case_cells = np.unique(latlng_to_cells(lat, lon, resolution))
    addresses = store.read(
        "addresses",
        where=_with_counties({}, area_counties(store, area)) or None,
        columns=["county_code", "households", "geometry"],
    )
    addresses = addresses[_in_area(addresses["county_code"], area)]
    if fill is None:
        fill = "addresses" if len(addresses) else "ring"
    address_cells = np.empty(0, np.uint64)
    address_households = np.empty(0)
    if len(addresses):
        a_lon, a_lat = case_lonlat(addresses)
        address_cells = latlng_to_cells(a_lat, a_lon, resolution)
        located = ~(addresses.geometry.isna() | addresses.geometry.is_empty).to_numpy()
        address_households = (
            pd.to_numeric(addresses["households"], errors="coerce").fillna(0).to_numpy()[located]
        )
    if fill == "occupied":
        cells = case_cells
    elif fill == "ring":
        ring, _ = h3_disks(case_cells, 1)
        cells = np.unique(np.concatenate([case_cells, ring]))
    else:
        cells = np.unique(np.concatenate([case_cells, address_cells]))
    if len(cells) == 0:
        raise InputError("no H3 cells to analyse: no located case and no address")
    households = np.full(len(cells), np.nan)
    if len(address_cells):
        pos = np.searchsorted(cells, address_cells)
        pos[pos == len(cells)] = 0
        hit = cells[pos] == address_cells
        households = np.bincount(pos[hit], weights=address_households[hit], minlength=len(cells))
    ids = np.array([h3.int_to_str(c) for c in cells.tolist()], dtype=object)
    return Units("h3", ids, h3_polygons(cells), households, h3_weights(cells, k=k), h3_cells=cells)


def unit_index_of(units: Units, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Position of each case's unit (-1 outside every unit)."""
    if units.h3_cells is not None:
        resolution = int((units.h3_cells[0] >> np.uint64(52)) & np.uint64(0xF))
        cells = latlng_to_cells(lat, lon, resolution)
        pos = np.searchsorted(units.h3_cells, cells)
        pos[pos == len(units.h3_cells)] = 0
        return np.where(units.h3_cells[pos] == cells, pos, -1)
    return locate_in_polygons(lon, lat, units.geometry)


# --- running ---------------------------------------------------------------------------------


def _values(counts: np.ndarray, units: Units, value: str) -> tuple[np.ndarray, np.ndarray]:
    """Values to analyse and the mask of units that take part (rates need households)."""
    if value == "count":
        return counts, np.ones(len(counts), dtype=bool)
    usable = np.nan_to_num(units.households) > 0
    if usable.sum() < 3:
        raise InputError(f"value {value!r} needs households per unit; fewer than 3 units have any")
    if value == "rate":
        values = rate_per_1000(counts, units.households)
    elif value == "eb_rate":
        values = np.full(len(counts), np.nan)
        values[usable] = 1000.0 * empirical_bayes(counts[usable], units.households[usable])
    else:
        sub = units.weights.subset(usable)
        values = np.full(len(counts), np.nan)
        values[usable] = 1000.0 * spatial_empirical_bayes(counts[usable], units.households[usable], sub)
    return values, usable


def _clean(value):
    """JSON-safe copy: numpy scalars/arrays to Python, NaN and infinities to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


def _json(value) -> str:
    return json.dumps(_clean(value), ensure_ascii=False, allow_nan=False, default=str)


def _finite(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _multipolygons(geometry: gpd.GeoSeries) -> np.ndarray:
    geoms = np.asarray(geometry.values)
    single = shapely.get_type_id(geoms) == 3
    out = geoms.copy()
    out[single] = shapely.multipolygons(geoms[single], indices=np.arange(single.sum()))
    return out


@dataclass
class RunInputs:
    """What every method reads: the filtered cases, their units and the counts per unit.

    ``where``: each located case's unit position (−1 outside every unit); ``counts`` and
    ``category_counts``: cases per unit (and per category) inside the units.
    """

    case_filter: CaseFilter
    cases: pd.DataFrame
    located_cases: pd.DataFrame
    lon: np.ndarray
    lat: np.ndarray
    units: Units
    where: np.ndarray
    counts: np.ndarray
    category_counts: pd.DataFrame
    resolution_note: dict = field(default_factory=dict)

    @property
    def inside(self) -> np.ndarray:
        return self.where >= 0


@dataclass
class MethodOutput:
    """What a method adds to a run: per-unit result columns, hot-spot areas, a surface, summary entries."""

    columns: dict
    areas: gpd.GeoDataFrame
    summary: dict
    surface: dict | None = None


def read_inputs(
    store: Store,
    unit: str,
    plan_id: str | None,
    resolution: int | None,
    case_filter: CaseFilter,
    p: dict,
    area: str | None = None,
) -> RunInputs:
    """Read the filtered cases (no personal fields), load the units and count the cases on them.

    ``resolution=None`` (H3 units): chosen from the cases (see
    :func:`gridmap.hotspots.optimized.choose_resolution`), recorded in ``resolution_note``.
    ``area`` (a city or county code): only the cases and units inside it (one city's run).
    """
    columns = [*ANALYSIS_COLUMNS, "county_code"]
    counties = area_counties(store, area)
    where = case_filter.where()
    if counties is None or where is None:
        cases = read_cases(store, case_filter, columns)
    else:
        # a city's run reads its counties' partitions only (an admin filter narrows them further)
        if "county_code" not in where:
            where["county_code"] = counties
        cases = store.read("cases", where=where, columns=columns, order_by=["reported_at", "case_id"])
    cases = cases[_in_area(cases["county_code"], area)].drop(columns="county_code")
    lon, lat, located = case_lonlat(cases, return_mask=True)
    located_cases = cases.loc[located]
    log.info("hotspots on %s: %d cases match the filters, %d located", unit, len(cases), len(lon))
    if len(lon) == 0:
        raise InputError("no located case matches the filters (geocode cases first or widen the filters)")
    note: dict = {}
    if unit == "h3" and resolution is None:
        from gridmap.hotspots.optimized import choose_resolution

        resolution, mean = choose_resolution(lon, lat)
        note = {"resolution": resolution, "mean_per_occupied": mean}
    elif unit == "h3":
        note = {"resolution": resolution}
    if unit == "h3":
        units = load_h3_units(store, resolution, lon, lat, p["h3_fill"], max(p["k"], 1), area)
    else:
        units = load_polygon_units(store, unit, plan_id, float(p["contiguity_tolerance_m"]), area)
    where = unit_index_of(units, lon, lat)
    inside = where >= 0
    n_units = len(units.ids)
    counts = np.bincount(where[inside], minlength=n_units).astype(np.float64)
    log.info(
        "%d units (%s), %d cases inside, %d outside, %d islands",
        n_units,
        units.weights.kind,
        int(inside.sum()),
        int((~inside).sum()),
        len(units.weights.islands),
    )
    categories = pd.crosstab(where[inside], located_cases["category"].astype(str).to_numpy()[inside])
    return RunInputs(
        case_filter,
        cases,
        located_cases,
        lon,
        lat,
        units,
        where,
        counts,
        categories.reindex(range(n_units), fill_value=0),
        note,
    )


def compute_local(method: str, data: RunInputs, p: dict, run_id: str) -> MethodOutput:
    """Gi* or local Moran on counts or rates: z, p, FDR p, bins/clusters, hot-spot areas."""
    units, n_units = data.units, len(data.units.ids)
    values, usable = _values(data.counts, units, p["value"])
    sub = units.weights if usable.all() else units.weights.subset(usable)
    pos = np.flatnonzero(usable)
    # the summary carries any FDR resolution warning; no duplicate Python warning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FDRResolutionWarning)
        if method == "gi":
            result = gi_star(
                values[usable],
                sub,
                permutations=p["permutations"],
                seed=p["seed"],
                alpha=p["alpha"],
                exact=bool(p["exact"]),
                n_jobs=-1,
                inference=p["inference"],
            )
        else:
            result = local_moran(
                values[usable],
                sub,
                permutations=p["permutations"],
                seed=p["seed"],
                alpha=p["alpha"],
                exact=bool(p["exact"]),
                n_jobs=-1,
                inference=p["inference"],
            )
    summary: dict = {}
    if method == "gi":
        z, pv, p_fdr, bins = result.z, result.p, result.p_fdr, result.bin
        labels = bin_label(bins)
        extra = [
            {"G": g, "p_norm": pn, "p_sim": ps, "p_exact": pe, "neighbours": int(c)}
            for g, pn, ps, pe, c in zip(
                result.G,
                result.p_norm,
                _or_nan(result.p_sim, len(pos)),
                _or_nan(result.p_exact, len(pos)),
                result.cardinalities,
                strict=True,
            )
        ]
        summary["bins"] = {str(k): v for k, v in result.bin_counts().items()}
        significant, sign = result.significant_fdr, result._sign()
    else:
        z, pv, p_fdr, bins = result.z_norm, result.p, result.p_fdr, result.cluster
        labels = result.labels
        extra = [
            {"I": i, "q": int(q), "quadrant": QUADRANT_LABELS[int(q)], "p_sim": ps, "p_exact": pe}
            for i, q, ps, pe in zip(
                result.I,
                result.q,
                _or_nan(result.p_sim, len(pos)),
                _or_nan(result.p_exact, len(pos)),
                strict=True,
            )
        ]
        summary["clusters"] = result.cluster_counts()
        significant, sign = result.cluster == 1, np.ones(len(pos))
    summary.update(
        permutations=result.permutations,
        seed=result.seed,
        engine=result.engine,
        fdr_warning=result.fdr_warning,
        alpha=result.alpha,
        exact=bool(p["exact"]),
        value=p["value"],
        units_analysed=int(usable.sum()),
        inference=result.inference,
        confidence=result.confidence,
    )

    def spread(data_of_usable, fill, dtype=None):
        out = pd.Series([fill] * n_units, dtype=dtype) if dtype else pd.Series(np.full(n_units, fill))
        out.iloc[pos] = data_of_usable
        return out.to_numpy() if dtype is None else out.array

    columns = {
        "value": values,
        "z": spread(z, np.nan),
        "p": spread(pv, np.nan),
        "p_fdr": spread(p_fdr, np.nan),
        "bin": spread(bins, None, "Int64"),
        "label": spread(labels, None, object),
        "extra": spread([_json(e) for e in extra], None, object),
    }
    full_significant = np.zeros(n_units, dtype=bool)
    full_significant[pos] = significant
    full_sign = np.zeros(n_units)
    full_sign[pos] = sign
    areas = _areas(
        full_significant,
        full_sign,
        units,
        data.counts,
        data.category_counts,
        None,
        p["top_areas"],
        both_signs=method == "gi",
    )
    return MethodOutput(columns, areas, summary)


def compute_optimized(method: str, data: RunInputs, p: dict, run_id: str) -> MethodOutput:
    """Gi* on H3 cells at the ring order chosen by incremental spatial autocorrelation, decisions reported."""
    from gridmap.hotspots.optimized import describe_decisions, incremental_autocorrelation, ring_adjacency

    units = data.units
    scale = incremental_autocorrelation(data.counts, units.weights, max(p["k_max"], 1))
    if scale.chosen > 1:
        ring = SpatialWeights(
            ring_adjacency(units.weights.sparse, scale.chosen), units.weights.ids, kind=f"h3_k{scale.chosen}"
        )
        units = Units(units.kind, units.ids, units.geometry, units.households, ring, units.h3_cells)
    chosen = RunInputs(
        data.case_filter,
        data.cases,
        data.located_cases,
        data.lon,
        data.lat,
        units,
        data.where,
        data.counts,
        data.category_counts,
        data.resolution_note,
    )
    output = compute_local("gi", chosen, {**p, "value": "count"}, run_id)
    significant = output.columns["p_fdr"] <= output.summary["alpha"]
    sign = np.nan_to_num(np.asarray(output.columns["bin"].fillna(0), dtype=float))
    output.summary["decisions"] = describe_decisions(
        int(data.resolution_note["resolution"]),
        len(units.ids),
        float(data.resolution_note.get("mean_per_occupied", float("nan"))),
        True,
        scale,
        p["k_max"],
        output.summary["inference"],
        output.summary["alpha"],
        int((significant & (sign > 0)).sum()),
        int((significant & (sign < 0)).sum()),
    )
    output.summary.update(
        k=scale.chosen,
        moran_z={str(k): round(float(z), 3) for k, z in zip(scale.k, scale.z, strict=True)},
        neighbours=units.weights.kind,
    )
    return output


def compute_emerging(method: str, data: RunInputs, p: dict, run_id: str) -> MethodOutput:
    """Monthly space-time Gi* with Mann–Kendall trends: the 17 emerging classes per unit."""
    cube = space_time_cube(
        data.where,
        data.located_cases["reported_at"].to_numpy(),
        data.units.ids,
        step=p["step"],
        start=data.case_filter.start,
        end=data.case_filter.end,
    )
    result = emerging_hotspots(
        cube,
        data.units.weights,
        time_lag=p["time_lag"],
        alpha=p["alpha"],
        trend_alpha=p["trend_alpha"],
        inference=p["inference"],
    )
    columns = {
        "value": cube.counts[-1],
        "z": result.trend_z,
        "p": result.trend_p,
        "p_fdr": result.p_fdr[-1],
        "bin": result.classes,
        "label": result.labels,
        "extra": [
            _json(
                {
                    "trend_tau": _finite(tau),
                    "final_z": fz,
                    "final_bin": int(fb),
                    "z_series": np.round(zs, 3),
                    "count_series": cs,
                }
            )
            for tau, fz, fb, zs, cs in zip(
                result.trend_tau,
                result.z[-1],
                result.bins[-1],
                result.z.T,
                cube.counts.T.astype(int),
                strict=True,
            )
        ],
    }
    summary = dict(
        classes=result.class_counts(),
        steps=cube.steps,
        step=cube.step,
        time_lag=result.time_lag,
        alpha=result.alpha,
        trend_alpha=result.trend_alpha,
        inference=result.inference,
        confidence=f"Benjamini-Hochberg FDR <= {result.alpha:g} per bin, p from {result.inference}",
    )
    areas = _areas(
        result.classes > 0,
        np.ones(len(data.units.ids)),
        data.units,
        data.counts,
        data.category_counts,
        result.labels,
        p["top_areas"],
        both_signs=False,
    )
    return MethodOutput(columns, areas, summary)


def compute_kde(method: str, data: RunInputs, p: dict, run_id: str) -> MethodOutput:
    """Quartic kernel density of the case points: a PNG surface and the density at each unit's centre."""
    kde = kernel_density(data.lon, data.lat, bandwidth_m=p["bandwidth_m"], pixel_size_m=p["pixel_size_m"])
    units = data.units
    if units.h3_cells is not None:
        latlng = np.array([h3.cell_to_latlng(h3.int_to_str(c)) for c in units.h3_cells.tolist()])
        c_lon, c_lat = latlng[:, 1], latlng[:, 0]
    else:
        centres = units.geometry.representative_point()
        c_lon, c_lat = centres.x.to_numpy(), centres.y.to_numpy()
    png = kde.to_png()
    surface = {
        "run_id": run_id,
        "west": kde.west,
        "south": kde.south,
        "east": kde.east,
        "north": kde.north,
        "width": kde.density.shape[1],
        "height": kde.density.shape[0],
        "bandwidth_m": kde.bandwidth_m,
        "cell_size_m": kde.cell_size_m,
        "total": kde.total,
        "max_density": float(kde.density.max()),
        "png_base64": base64.b64encode(png).decode("ascii"),
    }
    summary = dict(
        bandwidth_m=kde.bandwidth_m,
        bandwidth_rule="fixed" if p["bandwidth_m"] else "arcgis",
        bounds=kde.bounds,
        raster=list(kde.density.shape),
        max_density_per_km2=float(kde.density.max()),
        integral=kde.integral(),
    )
    # cases per km² at the unit centre
    return MethodOutput({"value": kde.sample(c_lon, c_lat)}, gpd.GeoDataFrame(), summary, surface)


#: one adapter per method: (method, inputs, params, run_id) → MethodOutput
COMPUTE = {
    "gi": compute_local,
    "lisa": compute_local,
    "emerging": compute_emerging,
    "kde": compute_kde,
    "optimized": compute_optimized,
}


def result_rows(run_id: str, data: RunInputs, output: MethodOutput) -> gpd.GeoDataFrame:
    """One row per unit: the common columns, the method's columns and the unit polygon (WGS-84)."""
    rows = pd.DataFrame({"run_id": run_id, "unit_id": data.units.ids, "count": data.counts})
    for column, values in output.columns.items():
        rows[column] = values
    if data.units.kind != "h3":  # grid and admin codes start with their county's: the PostGIS partition
        ids = pd.Series(data.units.ids, dtype=object).astype(str)
        rows["county_code"] = ids.str[:6].where(ids.str.fullmatch(r"\d{6,}")).to_numpy()
    return gpd.GeoDataFrame(rows, geometry=_multipolygons(data.units.geometry), crs=WGS84)


def write_run(
    store: Store,
    run_row: pd.DataFrame,
    results: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    surface: dict | None,
) -> None:
    """The run, its results, areas and surface in one transaction."""
    with store.transaction():
        store.write("hotspot_runs", run_row)
        store.write("hotspot_results", results)
        if len(areas):
            area_rows = areas.copy()
            area_rows.insert(0, "run_id", run_row["run_id"].iloc[0])
            store.write("hotspot_areas", area_rows)
        if surface is not None:
            store.write("hotspot_surfaces", pd.DataFrame([surface]))


@dataclass
class ComputedRun:
    """A run computed but not yet stored: the rows :func:`write_run` writes."""

    run_id: str
    run_row: pd.DataFrame
    results: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    surface: dict | None


def run_hotspots(
    store: Store,
    method: str,
    unit: str = "grid",
    plan_id: str | None = None,
    h3_resolution: int | None = None,
    filters: dict | None = None,
    params: dict | None = None,
    area: str | None = None,
) -> str:
    """Compute a hotspot analysis and store it; returns the new ``run_id``
    (:func:`compute_run`, then :func:`write_run`)."""
    run = compute_run(store, method, unit, plan_id, h3_resolution, filters, params, area)
    write_run(store, run.run_row, run.results, run.areas, run.surface)
    log.info("run %s stored: %d units, %d areas", run.run_id, len(run.results), len(run.areas))
    return run.run_id


def compute_run(
    store: Store,
    method: str,
    unit: str = "grid",
    plan_id: str | None = None,
    h3_resolution: int | None = None,
    filters: dict | None = None,
    params: dict | None = None,
    area: str | None = None,
) -> ComputedRun:
    """Compute a hotspot analysis (reads the store, writes nothing); :func:`run_hotspots` stores it.

    read (:func:`read_inputs`) → compute (one adapter per method in :data:`COMPUTE`) →
    rows (:func:`result_rows`) → write (:func:`write_run`, one transaction).

    Parameters
    ----------
    store : Store
        an open store (GeoPackage or PostGIS).
    method : {"gi", "lisa", "emerging", "kde"}
        Getis–Ord Gi* with FDR bins; local Moran clusters/outliers; emerging hot spots
        (monthly space-time Gi* + Mann–Kendall, 17 classes); quartic kernel density.
    unit : {"grid", "h3", "county", "township", "village"}
        analysis units: grids of ``plan_id`` (default: the active plan), H3 cells at
        ``h3_resolution`` (default ``settings.demo_h3_resolution``) or admin units.
    filters : dict
        case filters ``kind``, ``category``, ``status``, ``start``/``from``, ``end``/``to``
        (see :class:`gridmap.cases.CaseFilter`).
    params : dict
        see :data:`DEFAULT_PARAMS`: ``permutations``, ``seed``, ``alpha``, ``exact``, ``inference``,
        ``value`` (count | rate | eb_rate | seb_rate, per 1,000 households), ``k`` and
        ``h3_fill`` (occupied | ring | addresses) for H3, ``time_lag``/``step``/``trend_alpha``
        for emerging, ``bandwidth_m``/``pixel_size_m`` for kde, ``top_areas``.

    area : str, optional
        a city (or county) code: only its cases and units (a run per city of a province,
        :mod:`gridmap.hotspots.batch`); recorded in the summary.

    Returns
    -------
    ComputedRun
        the run id and its rows; the summary goes into ``hotspot_runs.summary`` (JSON).
    """
    started = time.perf_counter()
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    if unit not in UNITS:
        raise InputError(f"unit must be one of {UNITS}, got {unit!r}")
    p = resolve_params(method, params)
    if method in ("emerging", "kde") and p["value"] != "count":
        raise InputError(f"value {p['value']!r} applies to gi and lisa; {method} analyses case counts")
    case_filter = CaseFilter.from_dict(filters)
    if method == "optimized":
        if unit not in ("grid", "h3"):
            raise InputError(
                "optimized hot spots aggregate onto H3 cells; leave unit at its default or use h3"
            )
        unit = "h3"  # the optimized analysis chooses its own aggregation
    resolution = int(h3_resolution if h3_resolution is not None else get_settings().demo_h3_resolution)
    if unit == "h3" and not 0 <= resolution <= 15:
        raise InputError(f"H3 resolution must be 0..15, got {resolution}")

    chosen_resolution = None if method == "optimized" and h3_resolution is None else resolution
    data = read_inputs(store, unit, plan_id, chosen_resolution, case_filter, p, area)
    resolution = int(data.resolution_note.get("resolution", resolution))
    run_id = f"hs-{datetime.now(LOCAL_TZ).strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    inside = data.inside
    summary: dict = {
        "method": method,
        "unit": unit,
        "units": len(data.units.ids),
        "cases_matched": int(len(data.cases)),
        "cases_located": int(len(data.lon)),
        "cases_in_units": int(inside.sum()),
        "cases_outside_units": int((~inside).sum()),
        "islands": int(len(data.units.weights.islands)),
        "neighbours": data.units.weights.kind,
    }
    if area is not None:
        summary["area"] = str(area)
    if unit == "h3":
        summary["h3_resolution"] = resolution
    output = COMPUTE[method](method, data, p, run_id)
    summary.update(output.summary)
    areas = output.areas
    if len(areas):
        summary["top_areas"] = [
            {
                "rank": int(a["rank"]),
                "sign": int(a["sign"]),
                "cases": float(a["cases"]),
                "units": int(a["units"]),
                "top_categories": json.loads(a["top_categories"]),
                "trend": a["trend"],
                "centre": [round(float(a["centre_lon"]), 6), round(float(a["centre_lat"]), 6)],
                "area_km2": round(float(a["area_km2"]), 3),
            }
            for _, a in areas.iterrows()
            if int(a["rank"]) <= p["top_areas"]
        ]
    summary["seconds"] = round(time.perf_counter() - started, 3)

    results = result_rows(run_id, data, output)
    run_row = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "method": method,
                "created_at": _now(),
                "plan_id": (plan_id or (store.active_plan_id() if unit == "grid" else None)),
                "unit_kind": unit if unit != "h3" else f"h3_{resolution}",
                "params": _json({k: v for k, v in p.items()}),
                "filters": _json(case_filter.as_dict()),
                "summary": _json(summary),
            }
        ]
    )
    return ComputedRun(run_id, run_row, results, areas, output.surface)


def _or_nan(values: np.ndarray | None, n: int) -> np.ndarray:
    return np.full(n, np.nan) if values is None else values


def _areas(
    significant, z, units: Units, counts, category_counts, trend_labels, top: int, both_signs: bool
) -> gpd.GeoDataFrame:
    frames = []
    for sign in (1, -1) if both_signs else (1,):
        found = hotspot_areas(
            significant,
            z,
            units.weights,
            units.geometry,
            counts,
            category_counts=category_counts,
            trend_labels=trend_labels,
            sign=sign,
        )
        frames.append(found)
    if not frames or all(len(f) == 0 for f in frames):
        return gpd.GeoDataFrame()
    return gpd.GeoDataFrame(pd.concat([f for f in frames if len(f)], ignore_index=True), crs=WGS84)


def read_run(store: Store, run_id: str) -> tuple[dict, gpd.GeoDataFrame]:
    """A stored run: its row (params/filters/summary parsed from JSON) and its per-unit results."""
    runs = store.read("hotspot_runs", where={"run_id": run_id})
    if runs.empty:
        raise InputError(f"no hotspot run {run_id!r}")
    row = runs.iloc[0].to_dict()
    for key in ("params", "filters", "summary"):
        row[key] = json.loads(row[key]) if row.get(key) else {}
    results = store.read(
        "hotspot_results",
        where={"run_id": run_id},
        columns=["unit_id", "count", "value", "z", "p", "p_fdr", "bin", "label", "extra", "geometry"],
    )
    return row, results


def format_summary(run_id: str, summary: dict) -> str:
    """Readable lines for the command line."""
    lines = [
        f"run {run_id}: {summary['method']} on {summary['units']:,} {summary['unit']} units, "
        f"{summary['cases_in_units']:,} cases ({summary['cases_located']:,} located of "
        f"{summary['cases_matched']:,} matching; {summary['cases_outside_units']:,} outside the units)"
    ]
    for decision in summary.get("decisions", []):
        lines.append(f"decision — {decision['decision']}: {decision['value']} ({decision['why']})")
    if "bins" in summary:
        counts = summary["bins"]
        order = ["3", "2", "1", "0", "-1", "-2", "-3"]
        lines.append(
            "Gi* bins: " + ", ".join(f"{bin_label(np.array([int(b)]))[0]} {counts.get(b, 0)}" for b in order)
        )
    if "clusters" in summary:
        lines.append("clusters: " + ", ".join(f"{k} {v}" for k, v in summary["clusters"].items()))
    if "classes" in summary:
        ordered = sorted(summary["classes"].items(), key=lambda kv: -kv[1])
        lines.append("classes: " + ", ".join(f"{k} {v}" for k, v in ordered))
        lines.append(f"time steps: {len(summary['steps'])} {summary['step']}s from {summary['steps'][0]}")
    if "bandwidth_m" in summary:
        lines.append(
            f"kernel density: bandwidth {summary['bandwidth_m']:.0f} m ({summary['bandwidth_rule']}), "
            f"raster {summary['raster'][1]}x{summary['raster'][0]}, peak "
            f"{summary['max_density_per_km2']:.1f} cases/km²"
        )
    if summary.get("confidence"):
        lines.append(f"significant: {summary['confidence']} (bins ±1/±2/±3 = 90/95/99 % confidence)")
    if summary.get("permutations"):
        lines.append(
            f"permutations: {summary['permutations']} (seed {summary['seed']}, engine {summary['engine']})"
        )
    if summary.get("fdr_warning"):
        lines.append(f"warning: {summary['fdr_warning']}")
    for area in summary.get("top_areas", []):
        kind = "hot" if area["sign"] > 0 else "cold"
        categories = ", ".join(f"{c} {n}" for c, n in area["top_categories"]) or "-"
        trend = f", trend {area['trend']}" if area.get("trend") else ""
        lines.append(
            f"  {kind} area #{area['rank']}: {area['cases']:.0f} cases in {area['units']} units "
            f"({area['area_km2']:.2f} km²) near {area['centre'][0]:.5f},{area['centre'][1]:.5f}; "
            f"top: {categories}{trend}"
        )
    lines.append(f"({summary['seconds']:.1f} s)")
    return "\n".join(lines)


__all__ = ["CLASSES", "METHODS", "UNITS", "format_summary", "read_run", "run_hotspots"]
