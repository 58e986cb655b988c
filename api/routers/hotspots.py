"""Hotspot runs and their per-unit results (aggregates), the KDE surface, case counts per grid.

Results are aggregates: anyone may read them, but roles that do not read every case get
counts below ``settings.suppress_counts_below`` as null with ``suppressed: true`` (and no
``extra`` details).  Starting a run needs ``hotspots.run``; permutation runs go to a job.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from api.auth import Principal, audit
from api.deps import JobsDep, PrincipalDep, SettingsDep, StoreDep, require, require_table
from api.geojson import GEOJSON_MEDIA_TYPE, check_crs, feature_collection_text, parse_bbox, records
from api.limits import answer_cap, check_feature_count, count_rows
from api.queries import (
    check_disclosed_filter,
    disclosure_rule,
    grid_case_counts_disclosed,
    run_labels,
    suppress_frame,
)
from api.routers.cases import CaseFilterDep
from api.tilesource import latest_hotspot_runs
from gridmap.disclosure import DisclosureRule, disclose_record_counts, withhold_summary
from gridmap.hotspots.inference import BIN_CONFIDENCE
from gridmap.hotspots.runs import METHODS, UNITS, run_hotspots

router = APIRouter(tags=["hotspots"])

RUN_JSON_COLUMNS = ("params", "filters", "summary")
RESULT_COLUMNS = ["run_id", "unit_id", "count", "value", "z", "p", "p_fdr", "bin", "label", "extra"]


def _run_records(runs, principal: Principal) -> list[dict]:
    out = records(runs)
    for row in out:
        for col in RUN_JSON_COLUMNS:
            with contextlib.suppress(ValueError):
                row[col] = json.loads(row[col]) if row.get(col) else {}
        if not principal.sees_all_cases and isinstance(row.get("summary"), dict):
            row["summary"] = withhold_summary(row["summary"])
        if row.get("method") == "gi":
            # what each stored bin means; "hot" is summary.confidence (default FDR 0.05)
            row["bin_confidence"] = {str(b): text for b, text in BIN_CONFIDENCE.items()}
    return out


@router.get("/hotspots/runs")
def list_runs(store: StoreDep, principal: PrincipalDep, method: str | None = None) -> list[dict]:
    """Every hotspot run (newest first), optionally of one method: parameters, filters, summary."""
    runs = store.read(
        "hotspot_runs", where={"method": method} if method else None, order_by=["-created_at", "run_id"]
    )
    return _run_records(runs, principal)


@router.get("/hotspots/runs/{run_id}")
def get_run(run_id: str, store: StoreDep, principal: PrincipalDep) -> dict:
    runs = store.read("hotspot_runs", where={"run_id": run_id})
    if runs.empty:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no hotspot run {run_id}")
    return _run_records(runs, principal)[0]


def results_text(
    store,
    run_id: str | list[str],
    principal: Principal,
    rule: DisclosureRule,
    crs: str,
    bbox: tuple[float, float, float, float] | None,
    simplify_m: float = 0.0,
    settings=None,
    unit_id: str | None = None,
) -> str:
    """The results of one run (or of its unit ``unit_id``) as GeoJSON text, disclosed for
    ``principal`` as needed (413 beyond the role's feature cap).  A list of runs (every city's
    newest run of a method) gives their results together, each run disclosed by its own labels,
    with a ``run_ids`` member instead of ``run_id``."""
    run_ids = [run_id] if isinstance(run_id, str) else list(run_id)
    if settings is not None:
        check_feature_count(
            sum(count_rows(store, "hotspot_results", {"run_id": run}, bbox, "unit_id") for run in run_ids),
            principal,
            settings,
            "result units",
        )
    parts = []
    for run in run_ids:
        where = {"run_id": run, **({"unit_id": unit_id} if unit_id is not None else {})}
        part = store.read("hotspot_results", where=where, bbox=bbox, order_by=["unit_id"])
        parts.append(
            suppress_frame(
                part,
                ["count"],
                rule,
                principal.sees_all_cases,
                derived_columns=["value"],
                cell_labels=run_labels(store, run, part["unit_id"]),
                statistics=True,
            )
        )
    results = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True).sort_values("unit_id")
    columns = [c for c in RESULT_COLUMNS if c != "extra" or principal.sees_all_cases] + ["suppressed"]
    if "extra" in columns:
        results["extra"] = [json.loads(e) if isinstance(e, str) and e else None for e in results["extra"]]
    return feature_collection_text(
        results,
        "unit_id",
        columns,
        crs,
        members={"run_id": run_id} if isinstance(run_id, str) else {"run_ids": run_ids},
        simplify_m=simplify_m,
        max_bytes=answer_cap(principal, settings) if settings is not None else None,
    )


@router.get(
    "/hotspots/runs/{run_id}/results",
    response_class=Response,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}},
)
def run_results(
    run_id: str,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat (WGS-84 degrees)"),
    crs: str = Query("wgs84", description="wgs84 or gcj02"),
    simplify: float = Query(
        0, ge=0, le=5000, description="display simplification tolerance in metres (0 = exact)"
    ),
) -> Response:
    """Per-unit results (Gi* z, p, FDR-adjusted p, bin −3..+3, emerging-hot-spot label) as GeoJSON.

    Roles without all-case access get counts disclosed and no z, p, FDR p or value (null): from
    the z-scores and the public weights the exact counts could be solved for; the confidence
    class (``bin``, ``label``) is what they see."""
    if not store.count("hotspot_runs", {"run_id": run_id}):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no hotspot run {run_id}")
    text = results_text(
        store,
        run_id,
        principal,
        disclosure_rule(settings),
        check_crs(crs),
        parse_bbox(bbox),
        simplify,
        settings,
    )
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


@router.get(
    "/hotspots/runs/{run_id}/results/{unit_id}",
    response_class=Response,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}},
)
def run_result(
    run_id: str,
    unit_id: str,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    crs: str = Query("wgs84", description="wgs84 or gcj02"),
) -> Response:
    """One unit's result of a run (what a click on a hot-spot tile asks for), disclosed like
    ``/results``, as a GeoJSON FeatureCollection of that one feature."""
    if not store.count("hotspot_results", {"run_id": run_id, "unit_id": unit_id}):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no unit {unit_id} in hotspot run {run_id}")
    text = results_text(
        store, run_id, principal, disclosure_rule(settings), check_crs(crs), None, 0.0, None, unit_id
    )
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


@router.get("/hotspots/latest/{method}/runs")
def latest_runs(method: str, store: StoreDep, principal: PrincipalDep) -> list[dict]:
    """The runs the latest ``method`` layer shows (newest first): one run, or in a store of several
    cities each city's newest (:func:`api.tilesource.latest_hotspot_runs`), each with its ``area``
    (a city or county code; None for a run over the whole store)."""
    run_ids = latest_hotspot_runs(store, method)
    if not run_ids:
        return []
    runs = store.read("hotspot_runs", where={"run_id": run_ids})
    areas = {r: a for r, a in zip(runs["run_id"], runs["summary"].map(_summary_area), strict=True)}
    out = _run_records(runs.set_index("run_id").loc[run_ids].reset_index(), principal)
    for row in out:
        row["area"] = areas.get(row["run_id"])
    return out


def _summary_area(summary) -> str | None:
    try:
        area = json.loads(summary).get("area") if isinstance(summary, str) and summary else None
    except (ValueError, AttributeError):
        return None
    return str(area) if area else None


@router.get(
    "/hotspots/latest/{method}",
    response_class=Response,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}},
)
def latest_results(
    method: str,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    crs: str = Query("wgs84", description="wgs84 or gcj02"),
    simplify: float = Query(
        0, ge=0, le=5000, description="display simplification tolerance in metres (0 = exact)"
    ),
) -> Response:
    """Results of the latest run of ``method`` (gi, emerging, …) as GeoJSON; in a store of several
    cities, of each city's latest run together (:func:`api.tilesource.latest_hotspot_runs`, member
    ``run_ids``)."""
    run_ids = latest_hotspot_runs(store, method)
    if not run_ids:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no hotspot run for method {method!r}")
    text = results_text(
        store,
        run_ids[0] if len(run_ids) == 1 else run_ids,
        principal,
        disclosure_rule(settings),
        check_crs(crs),
        None,
        simplify,
        settings,
    )
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


def all_case_reader(principal: Annotated[Principal, Depends(require("cases.read"))]) -> Principal:
    """Roles that read every case: a density surface resolves single cases at street scale, so a
    grid worker (own grids only) must not get the city-wide one (403)."""
    if not principal.sees_all_cases:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"role {principal.role} may not see the city-wide density surface"
        )
    return principal


AllCaseReader = Annotated[Principal, Depends(all_case_reader)]


def _surface(store, run_id: str):
    require_table("hotspot_surfaces")
    rows = store.read("hotspot_surfaces", where={"run_id": run_id})
    if rows.empty:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"run {run_id} has no density surface (not a kde run?)"
        )
    return rows.iloc[0]


@router.get("/hotspots/runs/{run_id}/kde")
def kde_info(
    run_id: str,
    store: StoreDep,
    _reader: AllCaseReader,
    crs: str = Query("wgs84", description="wgs84 or gcj02 (bounds shifted to match a GCJ-02 base map)"),
) -> dict:
    """Bounds [west, south, east, north] (degrees) of a kernel-density run's image, its URL and
    scale (cases per km²).  The surface resolves single cases at street scale: case access only."""
    row = _surface(store, run_id)
    bounds = [float(row["west"]), float(row["south"]), float(row["east"]), float(row["north"])]
    if check_crs(crs) == "gcj02":
        from gridmap.geocode.transform import wgs84_to_gcj02

        lon, lat = wgs84_to_gcj02([bounds[0], bounds[2]], [bounds[1], bounds[3]])
        bounds = [float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])]
    return {
        "run_id": run_id,
        "bounds": bounds,
        "href": f"api/v1/hotspots/runs/{run_id}/kde.png",
        "max_density_per_km2": float(row["max_density"]),
        "bandwidth_m": float(row["bandwidth_m"]),
    }


@router.get(
    "/hotspots/runs/{run_id}/kde.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def kde_png(run_id: str, store: StoreDep, _reader: AllCaseReader) -> Response:
    """The kernel-density surface as a transparent PNG (columns even in longitude, rows even in
    Web-Mercator y: what Leaflet's imageOverlay expects)."""
    return Response(base64.b64decode(_surface(store, run_id)["png_base64"]), media_type="image/png")


AREA_COLUMNS = [
    "run_id",
    "sign",
    "rank",
    "cases",
    "units",
    "max_z",
    "top_categories",
    "trend",
    "area_km2",
    "centre_lon",
    "centre_lat",
]


@router.get(
    "/hotspots/runs/{run_id}/areas",
    response_class=Response,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}},
)
def run_areas(
    run_id: str,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    sign: int | None = Query(None, description="1 hot areas, -1 cold areas (default both)"),
    crs: str = Query("wgs84", description="wgs84 or gcj02"),
    simplify: float = Query(
        0, ge=0, le=5000, description="display simplification tolerance in metres (0 = exact)"
    ),
) -> Response:
    """Hot-spot areas: contiguous significant units merged and ranked by cases (GeoJSON);
    small case counts suppressed for roles without full case access."""
    require_table("hotspot_areas")
    where = {"run_id": run_id, **({"sign": sign} if sign is not None else {})}
    areas = store.read("hotspot_areas", where=where, order_by=["sign", "rank"])
    labels = "area|" + run_labels(store, run_id, areas["unit_ids"].astype(str))
    areas = suppress_frame(
        areas,
        ["cases"],
        disclosure_rule(settings),
        principal.sees_all_cases,
        cell_labels=labels,
        statistics=True,
    )
    areas["area_id"] = [f"{s}:{r}" for s, r in zip(areas["sign"], areas["rank"], strict=True)]
    areas["top_categories"] = [
        json.loads(v) if isinstance(v, str) and v else [] for v in areas["top_categories"]
    ]
    text = feature_collection_text(
        areas,
        "area_id",
        [*AREA_COLUMNS, "suppressed"],
        check_crs(crs),
        members={"run_id": run_id},
        simplify_m=simplify,
    )
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


@router.get("/grid-counts")
def grid_counts(
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    flt: CaseFilterDep,
    limit: int = Query(0, ge=0, le=100000, description="the top N grids only (0 = all)"),
) -> dict:
    """Cases per grid for the filters (time window, kind, category …), most first — the
    "top hot grids of the period".  Small counts are suppressed for roles without full case access."""
    if not principal.sees_all_cases:
        check_disclosed_filter(flt)
    disclosed = grid_case_counts_disclosed(store, flt, disclosure_rule(settings))
    if principal.sees_all_cases:
        frame = disclosed[["grid_code", "count"]].assign(suppressed=False)
    else:  # ranked by what is shown: the order must not reveal exact or suppressed counts
        frame = disclosed.assign(
            count=pd.array(disclosed["shown"].where(~disclosed["suppressed"]), dtype="Int64")
        )
        frame = frame[["grid_code", "count", "suppressed"]]
        frame = frame.assign(_rank=frame["count"].fillna(0)).sort_values(
            ["_rank", "grid_code"], ascending=[False, True]
        )
        frame = frame.drop(columns="_rank")
    if limit:
        frame = frame.head(limit)
    return {"filters": flt.as_dict(), "grids": records(frame.reset_index(drop=True))}


#: case columns holding each level's unit code (filled when a case is geocoded)
UNIT_CODE_COLUMNS = {"county": "county_code", "township": "township_code"}


@router.get("/unit-counts")
def unit_counts(
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    flt: CaseFilterDep,
    level: str = Query("county", description="county | township"),
    parent: str | None = Query(None, description="only the units directly under this admin code"),
) -> dict:
    """Cases per county or township for the filters: what the page shows at low zoom instead of
    thousands of grids.  Every child unit of ``parent`` is listed (zero when it has no case).
    For roles without all-case access the counts pass the disclosure rule (gridmap.disclosure:
    the cell key is the sum of the record keys of exactly the counted cases), and the filters
    are limited as for every disclosed aggregate (whole months, one value per list filter)."""
    if level not in UNIT_CODE_COLUMNS:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"level {level!r}: use county or township")
    if not principal.sees_all_cases:
        check_disclosed_filter(flt)
    column = UNIT_CODE_COLUMNS[level]
    where = {"level": level, **({"parent_code": parent} if parent else {})}
    units = store.read("admin_units", where=where, columns=["code", "name"], order_by=["code"])
    cases = store.read("cases", where=flt.where(None) or None, columns=["case_id", column])
    cases = cases[cases[column].astype(str).isin(set(units["code"].astype(str)))]
    counted = disclose_record_counts(cases, column, "case_id", disclosure_rule(settings))
    frame = pd.DataFrame({"code": units["code"].astype(str), "name": units["name"]})
    frame = frame.merge(counted.rename(columns={column: "code"}), on="code", how="left")
    if principal.sees_all_cases:
        shown = frame["count"].fillna(0)
        suppressed = pd.Series(False, index=frame.index)
    else:
        shown = frame["shown"].where(frame["count"].notna(), 0)  # no case: 0 (reveals nobody)
        suppressed = frame["suppressed"].fillna(False).astype(bool)
    frame = frame[["code", "name"]].assign(
        count=pd.array(shown.where(~suppressed), dtype="Int64"), suppressed=suppressed
    )
    return {"level": level, "parent": parent, "filters": flt.as_dict(), "units": records(frame)}


class RunRequest(BaseModel):
    # the choices are gridmap.hotspots.runs' own: an empty or unknown method is a 422 at once
    method: Literal[METHODS] = Field(
        description="gi | lisa | emerging | kde | optimized (see "
        "gridmap.hotspots.runs); optimized chooses H3 resolution and ring order, "
        "summary.decisions says why"
    )
    unit: Literal[UNITS] = Field("grid", description="grid | h3 | county | township | village")
    plan_id: str | None = Field(None, description="default: the active plan")
    h3_resolution: int | None = None
    filters: dict[str, Any] = Field(default_factory=dict, description="kind, category, status, from, to")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="permutations, alpha, value, inference "
        "(auto | log_counts | normal | permutations | exact), bandwidth_m, k_max …",
    )


@router.post("/hotspots/runs", status_code=202)
def start_run(
    body: RunRequest,
    store: StoreDep,
    jobs: JobsDep,
    principal: Annotated[Principal, Depends(require("hotspots.run"))],
) -> dict:
    """Start a hotspot run in the background (permutation runs take a while); poll
    ``/api/v1/jobs/{job_id}``, whose result names the new run."""

    def work(progress) -> dict:
        progress(0.0, f"{body.method} on {body.unit}")
        run_id = run_hotspots(
            store,
            method=body.method,
            unit=body.unit,
            plan_id=body.plan_id,
            h3_resolution=body.h3_resolution,
            filters=body.filters,
            params=body.params,
        )
        audit(store, principal, "hotspots.run", "hotspot_run", [run_id], {"method": body.method})
        return {"run_id": run_id}

    job_id = jobs.submit("hotspots", work, body.model_dump(), actor=principal.actor)
    return {"job_id": job_id, "href": f"/api/v1/jobs/{job_id}"}
