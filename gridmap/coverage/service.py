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


def load_grids(
    store: Store, plan_id: str | None = None, counties: list[str] | None = None
) -> gpd.GeoDataFrame:
    """The grids of ``plan_id`` (default: the active plan), EPSG:4326; of ``counties`` only when given."""
    plan = plan_id or store.active_plan_id()
    if plan is None:
        raise InputError("the store has no active plan: activate a grid plan first (or pass --plan)")
    where = {"plan_id": plan} if counties is None else {"plan_id": plan, "county_code": counties}
    grids = store.read("grids", where=where, columns=GRID_COLUMNS)
    if len(grids) == 0:
        raise InputError(f"plan {plan!r} has no grids in the store")
    return grids


def load_cases(store: Store, until: Period | None = None, counties: list[str] | None = None) -> pd.DataFrame:
    """Cases without personal columns; only those reported before ``until`` ends when given, and
    of ``counties`` (their partitions) when given."""
    where = {"reported_at": Between(None, until.end_iso)} if until is not None else {}
    if counties is not None:
        where["county_code"] = counties
    return store.read("cases", where=where or None, columns=list(CASE_COLUMNS))


def load_admin_units(store: Store) -> pd.DataFrame | None:
    units = store.read("admin_units", columns=["code", "name", "level", "parent_code"])
    return units if len(units) else None


def load_audit_inputs(
    store: Store, period: str | Period, plan_id: str | None = None, area: str | None = None
) -> AuditInputs:
    """Everything :func:`run_audit` needs for ``period`` (check-ins of the period only).

    ``area`` (a city code, :func:`gridmap.coverage.batch.area_inputs`): the partitioned tables are
    read for its counties only (grids, cases, petition items; check-ins of the counties its staff
    are posted in), a superset of what the city's audit keeps."""
    from gridmap.domain import area_counties, area_prefix, post_counties

    period = parse_period(period)
    counties = area_counties(store, area)
    grids = load_grids(store, plan_id, counties)
    plan = str(grids["plan_id"].iloc[0])
    log.info("reading assignments, workers, check-ins %s, cases and addresses of plan %s", period, plan)
    assignments = store.read("assignments", where={"plan_id": plan}, columns=ASSIGNMENT_COLUMNS)
    workers = store.read("workers", columns=WORKER_COLUMNS)
    when = {"ts": Between(period.start_iso, period.end_iso)}
    if counties is not None:
        # check-ins are filed under the county of the worker's post: the staff of the city's grids
        # and the workers posted in it are posted in these counties (or in none: NULL)
        staff = set(assignments.loc[assignments["grid_code"].isin(set(grids["code"])), "worker_id"])
        posted = workers["village_code"].fillna("").astype(str).str.startswith(area_prefix(area))
        staff |= set(workers.loc[posted, "worker_id"])
        posts = post_counties(workers[workers["worker_id"].isin(staff)])
        when["county_code"] = [*sorted(set(posts.dropna().astype(str)) | set(counties)), None]
    patrols = store.read("patrols", where=when, columns=PATROL_COLUMNS)
    cases = load_cases(store, period, counties)
    minx, miny, maxx, maxy = (float(v) for v in grids.total_bounds)
    addresses = store.read(
        "addresses", columns=["address_id", "households", "geometry"], bbox=(minx, miny, maxx, maxy)
    )
    items, visits = load_petition_items(store, period, counties)
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


def load_petition_items(
    store: Store, until: Period | None = None, counties: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Petition items taken on before ``until`` ends (all when None; of ``counties`` only when
    given) and all their visits."""
    from gridmap.coverage.duty import ITEM_COLUMNS, VISIT_COLUMNS

    where = {"taken_at": Between(None, until.end_iso)} if until is not None else {}
    if counties is not None:
        where["county_code"] = counties
    items = store.read("petition_items", where=where or None, columns=ITEM_COLUMNS)
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
