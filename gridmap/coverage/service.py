"""Store-backed wrappers: read the tables, call the pure functions, nothing else.

Personal columns are never read: workers without ``name``/``phone``, cases without
``party_*``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from gridmap.coverage._cases import CASE_COLUMNS
from gridmap.coverage.audit import AuditResult, AuditThresholds, run_audit
from gridmap.coverage.kpi import governance_kpis, monthly_trend
from gridmap.coverage.periods import Period, parse_period
from gridmap.errors import InputError
from gridmap.store.base import Between, Store

log = logging.getLogger(__name__)

WORKER_COLUMNS = ["worker_id", "role", "village_code", "township_code", "active", "hired_at"]
GRID_COLUMNS = ["plan_id", "code", "village_code", "township_code", "county_code", "households", "geometry"]
PATROL_COLUMNS = ["patrol_id", "worker_id", "ts", "raw_lon", "raw_lat", "raw_crs", "geometry"]
ASSIGNMENT_COLUMNS = ["assignment_id", "worker_id", "plan_id", "grid_code", "role", "valid_from", "valid_to"]


@dataclass
class AuditInputs:
    """The records an audit reads (grids of one plan, EPSG:4326)."""

    plan_id: str
    grids: gpd.GeoDataFrame
    assignments: pd.DataFrame
    patrols: pd.DataFrame
    workers: pd.DataFrame
    cases: pd.DataFrame
    addresses: gpd.GeoDataFrame
    items: pd.DataFrame | None = None
    visits: pd.DataFrame | None = None


def load_grids(store: Store, plan_id: str | None = None) -> gpd.GeoDataFrame:
    """The grids of ``plan_id`` (default: the active plan), EPSG:4326."""
    plan = plan_id or store.active_plan_id()
    if plan is None:
        raise InputError("the store has no active plan: activate a grid plan first (or pass --plan)")
    grids = store.read("grids", where={"plan_id": plan}, columns=GRID_COLUMNS)
    if len(grids) == 0:
        raise InputError(f"plan {plan!r} has no grids in the store")
    return grids


def load_cases(store: Store, until: Period | None = None) -> pd.DataFrame:
    """Cases without personal columns; only those reported before ``until`` ends when given."""
    where = {"reported_at": Between(None, until.end_iso)} if until is not None else None
    return store.read("cases", where=where, columns=list(CASE_COLUMNS))


def load_admin_units(store: Store) -> pd.DataFrame | None:
    units = store.read("admin_units", columns=["code", "name", "level", "parent_code"])
    return units if len(units) else None


def load_audit_inputs(store: Store, period: str | Period, plan_id: str | None = None) -> AuditInputs:
    """Everything :func:`run_audit` needs for ``period`` (check-ins of the period only)."""
    period = parse_period(period)
    grids = load_grids(store, plan_id)
    plan = str(grids["plan_id"].iloc[0])
    log.info("reading assignments, workers, check-ins %s, cases and addresses of plan %s", period, plan)
    assignments = store.read("assignments", where={"plan_id": plan}, columns=ASSIGNMENT_COLUMNS)
    patrols = store.read(
        "patrols", where={"ts": Between(period.start_iso, period.end_iso)}, columns=PATROL_COLUMNS
    )
    workers = store.read("workers", columns=WORKER_COLUMNS)
    cases = load_cases(store, period)
    minx, miny, maxx, maxy = (float(v) for v in grids.total_bounds)
    addresses = store.read(
        "addresses", columns=["address_id", "households", "geometry"], bbox=(minx, miny, maxx, maxy)
    )
    items, visits = load_petition_items(store, period)
    log.info(
        "%d grids, %d assignments, %d check-ins, %d workers, %d cases, %d addresses, %d agent items",
        len(grids),
        len(assignments),
        len(patrols),
        len(workers),
        len(cases),
        len(addresses),
        len(items),
    )
    return AuditInputs(plan, grids, assignments, patrols, workers, cases, addresses, items, visits)


def load_petition_items(store: Store, until: Period | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Petition items taken on before ``until`` ends (all when None) and all their visits."""
    from gridmap.coverage.duty import ITEM_COLUMNS, VISIT_COLUMNS

    where = {"taken_at": Between(None, until.end_iso)} if until is not None else None
    items = store.read("petition_items", where=where, columns=ITEM_COLUMNS)
    visits = store.read("petition_visits", columns=VISIT_COLUMNS)
    return items, visits


def audit_from_store(
    store: Store,
    period: str | Period,
    thresholds: AuditThresholds | None = None,
    plan_id: str | None = None,
) -> tuple[AuditResult, AuditInputs]:
    """Run :func:`run_audit` on the store's records; returns the result and the inputs read."""
    period = parse_period(period)
    inputs = load_audit_inputs(store, period, plan_id)
    return audit_inputs(inputs, period, thresholds), inputs


def audit_inputs(
    inputs: AuditInputs, period: Period, thresholds: AuditThresholds | None = None
) -> AuditResult:
    """:func:`run_audit` on inputs read by :func:`load_audit_inputs` (or a city's share of them)."""
    return run_audit(
        inputs.grids,
        inputs.assignments,
        inputs.patrols,
        inputs.workers,
        inputs.cases,
        None,
        period,
        thresholds=thresholds,
        targets=inputs.addresses if len(inputs.addresses) else None,
        items=inputs.items,
        visits=inputs.visits,
    )


def kpis_from_store(
    store: Store,
    level: str,
    period: str | Period,
    compare_previous_year: bool = True,
    kinds: tuple[str, ...] = ("dispute",),
) -> pd.DataFrame:
    """:func:`governance_kpis` (cases and agent items) over the store, units named and chained
    through ``admin_units``; ``level`` may also be ``agent``."""
    period = parse_period(period)
    cases = load_cases(store, period)
    items, visits = load_petition_items(store, period)
    return governance_kpis(
        cases,
        items,
        visits,
        level,
        period,
        compare_previous_year=compare_previous_year,
        admin_units=load_admin_units(store),
        kinds=kinds,
    )


def trend_from_store(
    store: Store, period: str | Period, kinds: tuple[str, ...] = ("dispute",)
) -> pd.DataFrame:
    """:func:`monthly_trend` over the store's cases."""
    period = parse_period(period)
    cases = store.read(
        "cases", where={"reported_at": Between(period.start_iso, period.end_iso)}, columns=list(CASE_COLUMNS)
    )
    return monthly_trend(cases, period, kinds)


def bulletins_from_store(
    store: Store,
    month: str | Period,
    out_dir,
    counties: bool = True,
    thresholds: AuditThresholds | None = None,
) -> list:
    """Write the monthly 通报 of the city (and each county) as HTML + XLSX; returns the paths written."""
    from gridmap.coverage.bulletin import build_bulletin, write_bulletin

    period = parse_period(month)
    cases = load_cases(store, period)
    items, visits = load_petition_items(store, period)
    workers = store.read("workers", columns=WORKER_COLUMNS)
    agent_ids = workers.loc[workers["role"] == "agent", "worker_id"].astype(str).tolist()
    patrols = store.read(
        "patrols", where={"ts": Between(period.start_iso, period.end_iso)}, columns=["worker_id", "ts"]
    )
    patrols = patrols[patrols["worker_id"].isin(set(agent_ids))]
    admin = load_admin_units(store)
    units = [("city", None)]
    if counties and admin is not None:
        units += [
            ("county", code) for code in sorted(admin.loc[admin["level"] == "county", "code"].astype(str))
        ]
    written = []
    tables = {
        level: governance_kpis(cases, items, visits, level, period, admin_units=admin)
        for level in dict(units)
    }
    for level, code in units:
        kwargs = {"unit_code": code} if code else {}
        if level == "city" and admin is not None and (admin["level"] == "city").any():
            kwargs = {"unit_code": str(admin.loc[admin["level"] == "city", "code"].iloc[0])}
        bulletin = build_bulletin(
            cases,
            items,
            visits,
            workers,
            patrols,
            period,
            level=level,
            admin_units=admin,
            thresholds=thresholds,
            kpis=tables[level],
            **kwargs,
        )
        log.info("bulletin %s", bulletin.stem)
        written += list(write_bulletin(bulletin, out_dir))
    return written
