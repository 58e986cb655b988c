"""Coverage (patrols and staffing of grids) and governance KPIs.

* audit findings, grid coverage and the worker table need ``coverage.read``;
* a worker's check-ins (a location trace: personal data) need ``patrols.read``, or are the
  grid worker's own (``patrols.own``); every read is audited;
* KPIs need ``kpi.read``; small counts are suppressed for roles without full case access.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from api.auth import Principal, audit
from api.deps import PrincipalDep, SettingsDep, StoreDep, require
from api.geojson import GEOJSON_MEDIA_TYPE, check_crs, feature_collection_text, records, to_jsonable
from api.limits import REPORTS
from api.queries import coverage_audit, disclosure_rule, grid_coverage, present_workers, suppress_frame
from gridmap.disclosure import DisclosureRule, label_keys
from gridmap.domain import AREA_CODE
from gridmap.store.base import Between

router = APIRouter(tags=["coverage"])

CoverageReader = Annotated[Principal, Depends(require("coverage.read"))]
PERIOD_HELP = "2024, 2024-11, 2024-Q4, 2024-11-01/2024-11-30 (default: the month of the latest check-in)"


@router.get("/coverage/audit")
def audit_findings(
    store: StoreDep,
    settings: SettingsDep,
    _user: CoverageReader,
    period: str | None = Query(None, description=PERIOD_HELP),
) -> dict:
    """Coverage findings (grids without a worker or patrol, overloaded workers …) for a period."""
    result = coverage_audit(store, period, settings)
    return {
        "period": str(result.period),
        "thresholds": to_jsonable(result.thresholds.as_dict()),
        "counts": to_jsonable(result.counts()),
        "findings": records(result.findings),
        "unlocated_checkins": result.unlocated_checkins,
    }


@router.get(
    "/coverage/grids", response_class=Response, responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}}
)
def coverage_grids(
    store: StoreDep,
    settings: SettingsDep,
    principal: CoverageReader,
    period: str | None = Query(None, description=PERIOD_HELP),
    crs: str = Query("wgs84", description="wgs84 or gcj02"),
    simplify: float = Query(
        0, ge=0, le=5000, description="display simplification tolerance in metres (0 = exact)"
    ),
) -> Response:
    """Grids of the active plan with workers, visits, last visit, days since the last visit,
    longest gap, reach share and status (the first finding or ``ok``), as GeoJSON."""
    plan_id = store.active_plan_id()
    result = coverage_audit(store, period, settings, plan_id)
    table = grid_coverage(store, result, plan_id)
    grids = suppress_frame(
        table,
        ["open_cases"],
        disclosure_rule(settings),
        principal.sees_all_cases,
        cell_labels="open_cases|grid|" + table["code"].astype(str),
    )
    text = feature_collection_text(
        grids,
        "code",
        None,
        check_crs(crs),
        members={"plan_id": plan_id, "period": str(result.period)},
        simplify_m=simplify,
    )
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


@router.get("/coverage/workers")
def coverage_workers(
    store: StoreDep,
    settings: SettingsDep,
    principal: CoverageReader,
    period: str | None = Query(None, description=PERIOD_HELP),
) -> list[dict]:
    """Per worker: grids, households, open cases, check-ins and share outside their own grids;
    names masked unless the role may see them."""
    result = coverage_audit(store, period, settings)
    workers = store.read("workers", columns=["worker_id", "name", "role", "village_code", "active"])
    table = workers.merge(result.workers.drop(columns=["roles"], errors="ignore"), on="worker_id", how="left")
    table = suppress_frame(
        table,
        ["open_cases"],
        disclosure_rule(settings),
        principal.sees_all_cases,
        cell_labels="open_cases|worker|" + table["worker_id"].astype(str),
    )
    return records(present_workers(store, principal, table, "worker.list"))


@router.get(
    "/coverage/workers/{worker_id}/checkins",
    response_class=Response,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}},
)
def worker_checkins(
    worker_id: str,
    store: StoreDep,
    principal: PrincipalDep,
    date_from: str | None = Query(None, alias="from", description="first day (ISO date)"),
    date_to: str | None = Query(None, alias="to", description="day after the last (ISO date)"),
    crs: str = Query("wgs84", description="wgs84 or gcj02"),
) -> Response:
    """A worker's patrol check-ins (points with time), oldest first."""
    own = principal.can("patrols.own") and principal.worker_id == worker_id
    if not (principal.can("patrols.read") or own):
        if not principal.is_authenticated:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "sign in first", headers={"WWW-Authenticate": "Bearer"}
            )
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"role {principal.role} may not read other workers' check-ins"
        )
    where = {"worker_id": worker_id}
    if date_from or date_to:
        where["ts"] = Between(date_from or None, date_to or None)
    points = store.read(
        "patrols", where=where, columns=["patrol_id", "worker_id", "ts", "geometry"], order_by=["ts"]
    )
    points = points[points.geometry.notna()]
    audit(store, principal, "patrol.read", "worker", [worker_id], {"rows": len(points)})
    text = feature_collection_text(points, "patrol_id", ["worker_id", "ts"], check_crs(crs))
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


def _kpi_cell_keys(
    table: pd.DataFrame, counts: list[str], level: str, period: str, kind: str, rule: DisclosureRule
) -> dict:
    """Cell keys of KPI counts: (kind, level, canonical period, unit, measure); a ``*_prev`` column
    is the previous year's cell, so it gets that period's key (one noise per cell, never two)."""
    from gridmap.coverage.periods import parse_period

    spec = parse_period(period)
    current = f"{spec.start_iso}/{spec.end_iso}"
    previous = f"{_year_before(spec.start_iso)}/{_year_before(spec.end_iso)}"
    units = (
        table["unit_code"].astype(str) if "unit_code" in table.columns else pd.Series(table.index.astype(str))
    )
    units = units.set_axis(table.index)
    keys = {}
    for col in counts:
        measure, span = (col.removesuffix("_prev"), previous) if col.endswith("_prev") else (col, current)
        keys[col] = label_keys(f"kpi|{kind}|{level}|{span}|" + units + "|" + measure, rule)
    return keys


def _year_before(iso: str) -> str:
    return str(int(iso[:4]) - 1) + iso[4:] if iso[:4].isdigit() else iso


@router.get("/kpis")
def kpis(
    store: StoreDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(require("kpi.read"))],
    level: str = Query("county", description="grid | village | township | county | city"),
    period: str = Query(..., description="2024, 2024-12, 2024-Q4 or 2024-01-01/2024-03-31"),
    parent: str | None = Query(None, description="only the units directly under this admin code"),
    kind: str = Query("dispute", description="case kind counted as found/resolved"),
) -> dict:
    """Governance KPIs per unit with 同比 (year-on-year) columns (see gridmap.coverage.kpi)."""
    from gridmap.coverage.kpi import COUNT_MEASURES
    from gridmap.coverage.service import kpis_from_store

    key = ("kpis", store.url, level, period, kind, store.count("cases"), store.active_plan_id())
    table = REPORTS.get(key, lambda: kpis_from_store(store, level, period, kinds=(kind,)))
    if parent and parent != AREA_CODE:
        if level == "grid":
            table = table[table["unit_code"].astype(str).str.startswith(parent)]
        else:  # by parent code, not prefix: the development-zone townships (150571…) lie in 150502
            children = store.read("admin_units", where={"parent_code": parent}, columns=["code"])["code"]
            table = table[table["unit_code"].astype(str).isin(set(children))]
    counts = [c for c in table.columns if c in COUNT_MEASURES or c.removesuffix("_prev") in COUNT_MEASURES]
    derived = [
        c for c in table.columns if c not in counts and c not in ("level", "unit_code", "unit_name", "period")
    ]
    table = suppress_frame(
        table,
        counts,
        rule := disclosure_rule(settings),
        principal.sees_all_cases,
        derived,
        cell_keys=_kpi_cell_keys(table, counts, level, period, kind, rule),
    )
    return {"level": level, "period": period, "kind": kind, "units": records(table)}


@router.get("/kpis/trend")
def kpi_trend(
    store: StoreDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(require("kpi.read"))],
    period: str = Query(..., description="2024, 2024-Q4 … (months of the period)"),
    kind: str = Query("dispute", description="case kind"),
) -> dict:
    """Cases found and resolved per month of the period (city-wide)."""
    from gridmap.coverage.service import trend_from_store

    key = ("trend", store.url, period, kind, store.count("cases"))
    table = REPORTS.get(key, lambda: trend_from_store(store, period, kinds=(kind,)))
    counts = [c for c in table.columns if c in ("found", "resolved")]
    month = table["month"].astype(str) if "month" in table.columns else pd.Series(table.index.astype(str))
    table = suppress_frame(
        table,
        counts,
        disclosure_rule(settings),
        principal.sees_all_cases,
        cell_labels=f"kpi|{kind}|city|" + month.set_axis(table.index) + "|city",
    )
    return {"period": period, "kind": kind, "months": records(table)}
