"""Coverage audit: which grids lack a worker or a patrol, which workers are overloaded.

:func:`run_audit` turns raw records (grids, assignments, check-ins, workers, cases,
addresses) into a findings table a supervisor can act on, one row per problem:

============================== ======================================================
kind                           what it means (figure vs threshold)
============================== ======================================================
no_active_worker               no worker of ``worker_roles`` assigned on the last day
not_visited_n_days             longest run of days in the period without a check-in
                               in the grid > ``max_days_unvisited``
worker_over_grid_limit         grids of the worker on the last day > limit
worker_over_household_limit    households of those grids > limit
worker_over_open_case_limit    cases still open at the period's end in those grids > limit
patrol_does_not_reach          share of the grid's addresses within ``reach_distance_m``
                               of a check-in of its workers < ``min_reach_share``
patrols_outside_own_grid       share of a worker's check-ins touching none of their
                               grids (any role) > ``max_outside_share``
agent_no_patrol_n_days         a petition agent's longest run of days without a patrol
                               check-in (代办日巡查) > ``agent_max_days_without_patrol``
followup_not_within_n_days     a done petition item whose follow-up visit (回访) fell due
                               in the period (``followup_within_days`` after done) and
                               was not made by then
item_open_past_deadline        a petition item still open at the period's end whose
                               ``deadline_at`` passed (figure: days overdue)
============================== ======================================================

Petition agents (role ``agent``) are audited in the same run on their own duties: their
check-ins are their daily patrol, not grid visits, so they neither staff nor visit grids.

Load limits and "its workers" count only the roles in ``worker_roles`` (专职网格员 by
default); cadres and police cover grids as secondary roles and would otherwise trip
every limit.  Distances are measured in :data:`gridmap.crs.LOCAL_CRS` metres.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import date

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from gridmap.coverage._cases import open_at, prepare_cases
from gridmap.coverage._frames import WORKER_ROLES, text_column, to_day_number
from gridmap.coverage.assignments import active_assignments, assignments_in_period, validity_days
from gridmap.coverage.duty import (
    agent_patrol_gaps,
    agents_of,
    first_visits,
    followup_gaps,
    overdue_items,
    prepare_items,
)
from gridmap.coverage.patrols import (
    LocatedCheckins,
    _grid_arrays,
    grid_visits,
    locate_checkins,
    locate_points,
    worker_checkins,
)
from gridmap.coverage.periods import Period, parse_period
from gridmap.crs import WGS84, to_local
from gridmap.errors import InputError

log = logging.getLogger(__name__)

FINDING_KINDS = (
    "no_active_worker",
    "not_visited_n_days",
    "worker_over_grid_limit",
    "worker_over_household_limit",
    "worker_over_open_case_limit",
    "patrol_does_not_reach",
    "patrols_outside_own_grid",
    "agent_no_patrol_n_days",
    "followup_not_within_n_days",
    "item_open_past_deadline",
)
AGENT_FINDING_KINDS = ("agent_no_patrol_n_days", "followup_not_within_n_days", "item_open_past_deadline")
GRID_FINDING_KINDS = ("no_active_worker", "not_visited_n_days", "patrol_does_not_reach")
#: ``grid_code`` holds the grid (grid findings), the worker's grids (worker findings) or the
#: agent's post — village or township code (agent findings); ``item_id`` the petition item
FINDING_COLUMNS = [
    "kind",
    "grid_code",
    "worker_id",
    "item_id",
    "figure",
    "threshold",
    "unit",
    "message_zh",
    "message_en",
]

# points of different grids are pushed this far apart so one KD-tree answers every grid at once
_GRID_OFFSET_M = 1.0e7


@dataclass(frozen=True)
class AuditThresholds:
    """Limits a supervisor audits against (defaults from :class:`gridmap.config.Settings`).

    Attributes
    ----------
    max_days_unvisited : int
        Longest allowed run of days without any check-in in a grid.
    max_grids_per_worker, max_households_per_worker, max_open_cases_per_worker : int
        Workload limits for one worker (on the period's last day).
    reach_distance_m : float
        An address counts as reached when a check-in of the grid's workers lies within
        this many metres (LOCAL_CRS).
    min_reach_share : float
        Required share (0–1) of a grid's addresses reached.
    max_outside_share : float
        Allowed share (0–1) of a worker's check-ins outside all of their grids.
    required_visit_every_days : int
        The patrol rule behind ``visit_share`` (1 = daily patrol).
    worker_roles : tuple of str
        Roles that make a grid staffed and that count for load and reach.
    agent_max_days_without_patrol : int
        Longest allowed run of days without a check-in of a petition agent (daily duty).
    followup_within_days : int
        A done petition item must have a follow-up visit within this many days.
    """

    max_days_unvisited: int = 7
    max_grids_per_worker: int = 3
    max_households_per_worker: int = 1500
    max_open_cases_per_worker: int = 30
    reach_distance_m: float = 150.0
    min_reach_share: float = 0.8
    max_outside_share: float = 0.1
    required_visit_every_days: int = 1
    worker_roles: tuple[str, ...] = ("full_time",)
    agent_max_days_without_patrol: int = 3
    followup_within_days: int = 15

    def __post_init__(self) -> None:
        for name in (
            "max_days_unvisited",
            "max_grids_per_worker",
            "max_households_per_worker",
            "max_open_cases_per_worker",
            "agent_max_days_without_patrol",
            "followup_within_days",
        ):
            if getattr(self, name) < 0:
                raise InputError(f"audit threshold {name} must be ≥ 0")
        if self.reach_distance_m <= 0:
            raise InputError("audit threshold reach_distance_m must be > 0 metres")
        for name in ("min_reach_share", "max_outside_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"audit threshold {name} is a share: give a value between 0 and 1")
        if self.required_visit_every_days < 1:
            raise InputError("audit threshold required_visit_every_days must be ≥ 1")
        roles = tuple(self.worker_roles)
        if not roles or set(roles) - set(WORKER_ROLES):
            raise InputError(f"worker_roles must be a non-empty subset of {list(WORKER_ROLES)}")
        object.__setattr__(self, "worker_roles", roles)

    @classmethod
    def from_settings(cls, settings=None, **overrides) -> AuditThresholds:
        """Thresholds from ``settings.audit_*`` (the global settings by default); ``overrides`` win.

        ``None`` overrides are ignored, so CLI options can be passed straight through.
        """
        if settings is None:
            from gridmap.config import get_settings

            settings = get_settings()
        values = {}
        for f in fields(cls):
            setting = getattr(settings, f"audit_{f.name}", None)
            if setting is not None:
                values[f.name] = tuple(setting) if f.name == "worker_roles" else setting
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise InputError(f"unknown audit threshold(s): {', '.join(sorted(unknown))}")
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class AuditResult:
    """What :func:`run_audit` found.

    Attributes
    ----------
    findings : DataFrame
        :data:`FINDING_COLUMNS`, one row per problem, ordered by kind then code.
        Worker findings carry the worker's grids (comma-joined) in ``grid_code``; grid
        findings the grid's workers in ``worker_id``.
    grids : DataFrame
        Per grid: ``grid_code, households, workers, worker_ids, visits, own_visits,
        foreign_visits, days_visited, required_visits, visit_share, last_visit,
        longest_gap_days, targets, reach_share, open_cases, status`` (the first finding
        kind for the grid, or ``ok``).
    workers : DataFrame
        Per worker seen in assignments or check-ins: ``worker_id, roles, grids,
        households, open_cases, checkins, outside_own_grids, outside_share``.
    period, thresholds
        What was audited against.
    unlocated_checkins : int
        Check-ins in the period without usable coordinates (not counted anywhere else).
    timings : dict
        Seconds from the start of the audit to the end of each stage (staff, locate,
        visits, reach, agents, end).
    agents : DataFrame
        Per petition agent: patrol days, longest gap, follow-ups missing, items overdue.
    """

    findings: pd.DataFrame
    grids: pd.DataFrame
    workers: pd.DataFrame
    period: Period
    thresholds: AuditThresholds
    unlocated_checkins: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    #: per petition agent: ``worker_id, village_code, township_code, days_patrolled, period_days,
    #: longest_gap_days, last_patrol, followups_missing, items_overdue``
    agents: pd.DataFrame = field(default_factory=pd.DataFrame)

    def counts(self) -> pd.Series:
        """Number of findings per kind (every kind listed, zeros included)."""
        return self.findings["kind"].value_counts().reindex(FINDING_KINDS, fill_value=0)

    def summary(self) -> str:
        lines = [f"audit {self.period}: {len(self.grids)} grids, {len(self.findings)} findings"]
        lines += [f"  {kind}: {n}" for kind, n in self.counts().items()]
        if self.unlocated_checkins:
            lines.append(f"  (check-ins without coordinates: {self.unlocated_checkins})")
        return "\n".join(lines)


def _households_per_grid(grids: pd.DataFrame, households, codes: np.ndarray) -> np.ndarray:
    if households is None:
        if "households" not in grids.columns:
            raise InputError("households per grid: pass them or give grids a 'households' column")
        code_col = "code" if "code" in grids.columns else "grid_code"
        series = pd.Series(
            pd.to_numeric(grids["households"], errors="coerce").to_numpy(),
            index=text_column(grids, code_col).to_numpy(),
        )
    elif isinstance(households, pd.DataFrame):
        series = households.set_index("grid_code")["households"]
    else:
        series = pd.Series(households)
    series.index = series.index.astype(str)
    series = series[~series.index.duplicated()]
    return pd.to_numeric(series.reindex(codes), errors="coerce").fillna(0).to_numpy(dtype=float)


def _plan_assignments(assignments: pd.DataFrame, grids: pd.DataFrame, codes: np.ndarray) -> pd.DataFrame:
    """Rows of this plan's grids (by plan_id when both sides carry one)."""
    rows = assignments[assignments["grid_code"].astype(str).isin(codes)]
    if "plan_id" in grids.columns and "plan_id" in rows.columns:
        plans = set(text_column(grids, "plan_id").dropna())
        if len(plans) == 1:
            plan = text_column(rows, "plan_id")
            rows = rows[plan.isna().to_numpy() | plan.isin(plans).to_numpy()]
    return rows.reset_index(drop=True)


def _active_workers(workers: pd.DataFrame | None) -> set[str] | None:
    if workers is None:
        return None
    if "active" not in workers.columns:
        return set(text_column(workers, "worker_id").dropna())
    active = pd.to_numeric(workers["active"], errors="coerce").fillna(1).to_numpy() != 0
    return set(text_column(workers, "worker_id")[active].dropna())


def _join(values: pd.Series) -> str:
    return ",".join(sorted(set(map(str, values))))


def _target_points(targets, polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets (addresses or atoms) → (grid index, x, y in LOCAL_CRS metres); outside grids dropped."""
    gs = targets.geometry
    if getattr(targets, "crs", None) is not None and str(targets.crs) != WGS84:
        gs = gs.to_crs(WGS84)
    geoms = np.asarray(gs.values, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = geoms[ok]
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    lon, lat = shapely.get_x(points), shapely.get_y(points)
    grid_idx = locate_points(lon, lat, polygons)
    inside = grid_idx >= 0
    x, y = to_local(lon[inside], lat[inside])
    return grid_idx[inside], np.asarray(x), np.asarray(y)


def reach_shares(
    located: LocatedCheckins,
    assignments: pd.DataFrame,
    targets,
    polygons: np.ndarray,
    period: Period,
    reach_distance_m: float,
    worker_roles: tuple[str, ...],
) -> pd.DataFrame:
    """Per grid with targets: share of its targets within ``reach_distance_m`` of its workers' check-ins.

    "Its workers" are the workers assigned to the grid (roles ``worker_roles``) at some
    time in ``period``; a check-in counts for the grid when it was made on a day of
    that assignment, wherever it lies (a patrol just over the border still reaches the
    houses on the border).  Returns ``grid_code, targets, reached, reach_share,
    has_workers``.
    """
    codes = located.grid_codes
    n = len(codes)
    t_grid, t_x, t_y = _target_points(targets, polygons)
    n_targets = np.bincount(t_grid, minlength=n)
    rows = assignments_in_period(assignments, period)
    rows = rows[rows["role"].astype(str).isin(worker_roles)]
    start, end = validity_days(rows)
    grid_pos = pd.Index(codes).get_indexer(rows["grid_code"].astype(str))
    frame = located.frame
    first, last = to_day_number(period.start), to_day_number(period.end)
    frame = frame[(frame["day"] >= first) & (frame["day"] <= last)]
    workers = pd.Index(
        pd.unique(
            np.concatenate(
                [
                    frame["worker_id"].to_numpy(dtype=object),
                    rows["worker_id"].astype(str).to_numpy(dtype=object),
                ]
            )
        )
    )
    spans = pd.DataFrame(
        {
            "w": workers.get_indexer(rows["worker_id"].astype(str)),
            "g": grid_pos,
            "start": start,
            "end": end,
        }
    )
    spans = spans[spans["g"] >= 0]
    has_workers = np.zeros(n, dtype=bool)
    has_workers[spans["g"].to_numpy()] = True
    checks = pd.DataFrame(
        {
            "w": workers.get_indexer(frame["worker_id"].to_numpy()),
            "day": frame["day"].to_numpy(),
            "i": np.arange(len(frame)),
        }
    )
    pairs = checks.merge(spans, on="w", how="inner")
    pairs = pairs[(pairs["start"] <= pairs["day"]) & (pairs["day"] <= pairs["end"])]
    pairs = pairs.drop_duplicates(["g", "i"])
    reached = np.zeros(len(t_grid), dtype=bool)
    if len(pairs) and len(t_grid):
        x, y = to_local(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        x, y = np.asarray(x), np.asarray(y)
        i, g = pairs["i"].to_numpy(), pairs["g"].to_numpy()
        tree = cKDTree(np.column_stack([x[i] + g * _GRID_OFFSET_M, y[i]]))
        dist, _ = tree.query(
            np.column_stack([t_x + t_grid * _GRID_OFFSET_M, t_y]), k=1, distance_upper_bound=reach_distance_m
        )
        reached = np.isfinite(dist)
    n_reached = np.bincount(t_grid, weights=reached.astype(float), minlength=n).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_targets > 0, n_reached / np.maximum(n_targets, 1), np.nan)
    return pd.DataFrame(
        {
            "grid_code": codes,
            "targets": n_targets.astype(np.int64),
            "reached": n_reached,
            "reach_share": share,
            "has_workers": has_workers,
        }
    )


def run_audit(
    grids,
    assignments: pd.DataFrame,
    patrols: pd.DataFrame,
    workers: pd.DataFrame | None = None,
    cases: pd.DataFrame | None = None,
    households=None,
    period_start: str | date | Period = "",
    period_end: str | date | None = None,
    thresholds: AuditThresholds | None = None,
    targets=None,
    items: pd.DataFrame | None = None,
    visits: pd.DataFrame | None = None,
) -> AuditResult:
    """Audit grid coverage, worker load and petition agents' duties over a period.

    Four stages: read (the caller, e.g. :func:`gridmap.coverage.service.load_audit_inputs`),
    compute (:func:`coverage_tables`, :func:`duty_tables`), rows (:func:`coverage_rows`,
    :func:`duty_rows`) and write (:mod:`gridmap.coverage.export`, :mod:`gridmap.coverage.report`).

    Parameters
    ----------
    grids : GeoDataFrame
        One plan's grids, EPSG:4326: ``code`` (or ``grid_code``), polygons, optional
        ``households``, ``plan_id``.
    assignments : DataFrame
        ``worker_id, grid_code, role, valid_from, valid_to`` (ISO dates, inclusive).
    patrols : DataFrame or GeoDataFrame
        Check-ins ``worker_id, ts`` + point (geometry in EPSG:4326 or raw_lon/raw_lat/raw_crs).
    workers : DataFrame, optional
        ``worker_id`` and ``active``: assignments of inactive workers do not staff a grid.
    cases : DataFrame, optional
        The cases table (for open cases per worker); without it that limit is skipped.
    households : Series (grid_code → households) or DataFrame (grid_code, households), optional
        Default: ``grids['households']``.
    period_start, period_end
        A period spec (``"2024-12"`` …) or two ISO dates, both included.
    thresholds : AuditThresholds, optional
        Default: :meth:`AuditThresholds.from_settings`.
    targets : GeoDataFrame, optional
        What patrols must reach: standard addresses (points) or atoms (polygons, their
        point on surface), EPSG:4326.  Without it the reach check is skipped.
    items, visits : DataFrame, optional
        The ``petition_items`` and ``petition_visits`` tables: without them the follow-up
        and deadline checks are skipped.  Petition agents come from ``workers`` (role
        ``agent``) and their check-ins from ``patrols``.

    Returns
    -------
    AuditResult
    """
    clock = {"start": time.perf_counter()}
    if isinstance(period_start, Period) or period_end is None:
        period = parse_period(period_start or None)
    else:
        period = parse_period(None, start=period_start, end=period_end)
    thresholds = thresholds or AuditThresholds.from_settings()
    agents = agents_of(workers)
    is_agent = (
        text_column(patrols, "worker_id").isin(set(agents["worker_id"])).to_numpy()
        if len(agents)
        else (np.zeros(len(patrols), dtype=bool))
    )
    coverage = coverage_tables(
        grids, assignments, patrols[~is_agent], workers, cases, households, period, thresholds, targets, clock
    )
    duty = duty_tables(agents, patrols[is_agent], items, visits, period, thresholds)
    clock["agents"] = time.perf_counter()
    table = sorted_findings(
        [
            *coverage_rows(coverage, period, thresholds, with_cases=cases is not None),
            *duty_rows(duty, period, thresholds),
        ]
    )
    grid_table = coverage.grids
    grid_level = table[table["kind"].isin(GRID_FINDING_KINDS)]
    first_kind = grid_level.drop_duplicates("grid_code").set_index("grid_code")["kind"]
    grid_table["status"] = grid_table["grid_code"].map(first_kind).fillna("ok")
    people = coverage.workers.reset_index()[
        [
            "worker_id",
            "roles",
            "grids",
            "grid_codes",
            "households",
            "open_cases",
            "checkins",
            "outside_own_grids",
            "outside_share",
        ]
    ]
    clock["end"] = time.perf_counter()
    timings = {k: clock[k] - clock["start"] for k in clock if k != "start"}
    return AuditResult(
        findings=table,
        grids=grid_table,
        workers=people,
        period=period,
        thresholds=thresholds,
        unlocated_checkins=coverage.unlocated,
        timings=timings,
        agents=duty.agents,
    )


@dataclass
class CoverageTables:
    """What the grid-coverage stage computed: per grid, per worker (index worker_id), reach."""

    grids: pd.DataFrame
    workers: pd.DataFrame
    reach: pd.DataFrame
    unlocated: int


def coverage_tables(
    grids,
    assignments: pd.DataFrame,
    patrols: pd.DataFrame,
    workers: pd.DataFrame | None,
    cases: pd.DataFrame | None,
    households,
    period: Period,
    thresholds: AuditThresholds,
    targets=None,
    clock: dict[str, float] | None = None,
) -> CoverageTables:
    """Staffing, load, visits and reach per grid and per grid worker (the compute stage of :func:`run_audit`)."""
    clock = clock if clock is not None else {}
    codes, polygons = _grid_arrays(grids)
    n = len(codes)
    hh = _households_per_grid(grids, households, codes)
    active_people = _active_workers(workers)
    plan_rows = _plan_assignments(assignments, grids, codes)
    if active_people is not None:
        plan_rows = plan_rows[plan_rows["worker_id"].astype(str).isin(active_people)].reset_index(drop=True)
    roles = thresholds.worker_roles

    # staffing and load on the last day of the period
    at_end = active_assignments(plan_rows, period.end)
    at_end = at_end[at_end["role"].astype(str).isin(roles)]
    at_end = at_end.assign(
        worker_id=at_end["worker_id"].astype(str), grid_code=at_end["grid_code"].astype(str)
    )
    at_end = at_end.drop_duplicates(["worker_id", "grid_code"])
    grid_pos = pd.Index(codes).get_indexer(at_end["grid_code"])
    staff = np.bincount(grid_pos, minlength=n)
    staff_ids = at_end.groupby("grid_code")["worker_id"].agg(_join).reindex(codes)

    open_cases = np.zeros(n, dtype=np.int64)
    if cases is not None and len(cases):
        prepared = prepare_cases(cases)
        still_open = open_at(prepared, period.end_ts)
        open_codes = prepared.loc[still_open, "grid_code"].dropna().astype(str)
        pos = pd.Index(codes).get_indexer(open_codes)
        open_cases = np.bincount(pos[pos >= 0], minlength=n).astype(np.int64)
    clock["staff"] = time.perf_counter()

    located = locate_checkins(patrols, grids, plan_rows, period)
    clock["locate"] = time.perf_counter()
    visits = grid_visits(located, period, thresholds.required_visit_every_days)
    clock["visits"] = time.perf_counter()

    if targets is not None and len(targets):
        reach = reach_shares(
            located, plan_rows, targets, polygons, period, thresholds.reach_distance_m, roles
        )
    else:
        log.info("no addresses/atoms given: the patrol reach check is skipped")
        reach = pd.DataFrame(
            {"grid_code": codes, "targets": 0, "reached": 0, "reach_share": np.nan, "has_workers": False}
        )
    clock["reach"] = time.perf_counter()

    per_worker = (
        at_end.assign(households=hh[grid_pos], open_cases=open_cases[grid_pos])
        .groupby("worker_id")
        .agg(
            roles=("role", _join),
            grids=("grid_code", "size"),
            grid_codes=("grid_code", _join),
            households=("households", "sum"),
            open_cases=("open_cases", "sum"),
        )
    )
    checkins = worker_checkins(located, period).set_index("worker_id")
    people = per_worker.join(checkins, how="outer")
    people["grids"] = people["grids"].fillna(0).astype(np.int64)
    people["households"] = people["households"].fillna(0.0).round().astype(np.int64)
    people["open_cases"] = people["open_cases"].fillna(0).astype(np.int64)
    for column in ("checkins", "outside_own_grids", "days_checked_in"):
        people[column] = people[column].fillna(0).astype(np.int64)
    own_grids_any_role = (
        active_assignments(plan_rows, period.end)
        .astype({"worker_id": str, "grid_code": str})
        .groupby("worker_id")["grid_code"]
        .agg(_join)
    )
    people["grid_codes"] = people["grid_codes"].fillna(own_grids_any_role.reindex(people.index))
    people.index.name = "worker_id"

    # reach is only judged for grids that had workers: an unstaffed grid is already a finding
    reach_table = reach.assign(reach_share=reach["reach_share"].where(reach["has_workers"]))
    grid_table = visits.merge(reach_table[["grid_code", "targets", "reach_share"]], on="grid_code")
    grid_table.insert(1, "households", hh.round().astype(np.int64))
    grid_table.insert(2, "workers", staff.astype(np.int64))
    ids = staff_ids.astype("object")
    grid_table.insert(3, "worker_ids", ids.where(ids.notna(), None).to_numpy())
    grid_table["open_cases"] = open_cases
    return CoverageTables(grid_table, people, reach, located.unlocated)


def coverage_rows(
    coverage: CoverageTables, period: Period, thresholds: AuditThresholds, with_cases: bool
) -> list[pd.DataFrame]:
    """Grid and grid-worker finding rows (:data:`FINDING_COLUMNS`) from :func:`coverage_tables`."""
    grid_table, people, reach = coverage.grids, coverage.workers, coverage.reach
    roles = thresholds.worker_roles
    t = thresholds
    role_zh = "专职网格员" if roles == ("full_time",) else "网格员"
    role_en = "full-time grid worker" if roles == ("full_time",) else "grid worker"
    findings: list[pd.DataFrame] = []

    none = grid_table[grid_table["workers"] == 0]
    findings.append(
        pd.DataFrame(
            {
                "kind": "no_active_worker",
                "grid_code": none["grid_code"],
                "worker_id": None,
                "figure": 0.0,
                "threshold": 1.0,
                "unit": "workers",
                "message_zh": [f"网格{g}在{period.end}无在岗{role_zh}" for g in none["grid_code"]],
                "message_en": [
                    f"grid {g} has no active {role_en} on {period.end}" for g in none["grid_code"]
                ],
            }
        )
    )

    stale = grid_table[grid_table["longest_gap_days"] > t.max_days_unvisited]
    stale_last = [v if isinstance(v, str) and v else None for v in stale["last_visit"]]
    findings.append(
        pd.DataFrame(
            {
                "kind": "not_visited_n_days",
                "grid_code": stale["grid_code"],
                "worker_id": stale["worker_ids"],
                "figure": stale["longest_gap_days"].astype(float),
                "threshold": float(t.max_days_unvisited),
                "unit": "days",
                "message_zh": [
                    f"网格{g}连续{d}天无巡查打卡（上限{t.max_days_unvisited}天；最近一次：{v or '期内无'}）"
                    for g, d, v in zip(stale["grid_code"], stale["longest_gap_days"], stale_last, strict=True)
                ],
                "message_en": [
                    f"grid {g} went {d} consecutive days without a patrol check-in "
                    f"(limit {t.max_days_unvisited}; last visit: {v or 'none in period'})"
                    for g, d, v in zip(stale["grid_code"], stale["longest_gap_days"], stale_last, strict=True)
                ],
            }
        )
    )

    for kind, column, limit, unit, zh, en in (
        (
            "worker_over_grid_limit",
            "grids",
            t.max_grids_per_worker,
            "grids",
            "网格员{w}负责{n}个网格（上限{t}个）",
            "worker {w} covers {n} grids (limit {t})",
        ),
        (
            "worker_over_household_limit",
            "households",
            t.max_households_per_worker,
            "households",
            "网格员{w}负责{n}户（上限{t}户）",
            "worker {w} covers {n} households (limit {t})",
        ),
        (
            "worker_over_open_case_limit",
            "open_cases",
            t.max_open_cases_per_worker,
            "cases",
            "网格员{w}名下未办结案件{n}件（上限{t}件）",
            "worker {w} has {n} open cases in their grids (limit {t})",
        ),
    ):
        if kind == "worker_over_open_case_limit" and not with_cases:
            continue
        over = people[(people[column] > limit) & (people["grids"] > 0)]
        findings.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "grid_code": over["grid_codes"].to_numpy(),
                    "worker_id": over.index.to_numpy(),
                    "figure": over[column].astype(float).to_numpy(),
                    "threshold": float(limit),
                    "unit": unit,
                    "message_zh": [
                        zh.format(w=w, n=int(v), t=limit)
                        for w, v in zip(over.index, over[column], strict=True)
                    ],
                    "message_en": [
                        en.format(w=w, n=int(v), t=limit)
                        for w, v in zip(over.index, over[column], strict=True)
                    ],
                }
            )
        )

    reach_rows = reach.merge(grid_table[["grid_code", "worker_ids"]], on="grid_code")
    short = reach_rows[
        reach_rows["has_workers"]
        & (reach_rows["targets"] > 0)
        & (reach_rows["reach_share"] < t.min_reach_share)
    ]
    findings.append(
        pd.DataFrame(
            {
                "kind": "patrol_does_not_reach",
                "grid_code": short["grid_code"],
                "worker_id": short["worker_ids"],
                "figure": short["reach_share"].astype(float),
                "threshold": float(t.min_reach_share),
                "unit": "share",
                "message_zh": [
                    f"网格{g}仅{s:.0%}的标准地址（{r}/{a}）在网格员打卡点{t.reach_distance_m:g}米范围内（要求≥{t.min_reach_share:.0%}）"
                    for g, s, r, a in zip(
                        short["grid_code"],
                        short["reach_share"],
                        short["reached"],
                        short["targets"],
                        strict=True,
                    )
                ],
                "message_en": [
                    f"grid {g}: only {s:.0%} of its addresses ({r}/{a}) lie within {t.reach_distance_m:g} m of its "
                    f"workers' check-ins (required ≥ {t.min_reach_share:.0%})"
                    for g, s, r, a in zip(
                        short["grid_code"],
                        short["reach_share"],
                        short["reached"],
                        short["targets"],
                        strict=True,
                    )
                ],
            }
        )
    )

    wander = people[(people["checkins"] > 0) & (people["outside_share"] > t.max_outside_share)]
    findings.append(
        pd.DataFrame(
            {
                "kind": "patrols_outside_own_grid",
                "grid_code": wander["grid_codes"].to_numpy(),
                "worker_id": wander.index.to_numpy(),
                "figure": wander["outside_share"].astype(float).to_numpy(),
                "threshold": float(t.max_outside_share),
                "unit": "share",
                "message_zh": [
                    f"网格员{w}有{o}次打卡（占{s:.0%}）不在本人负责网格内（上限{t.max_outside_share:.0%}）"
                    for w, o, s in zip(
                        wander.index, wander["outside_own_grids"], wander["outside_share"], strict=True
                    )
                ],
                "message_en": [
                    f"worker {w}: {o} check-ins ({s:.0%}) lie outside their own grids (limit {t.max_outside_share:.0%})"
                    for w, o, s in zip(
                        wander.index, wander["outside_own_grids"], wander["outside_share"], strict=True
                    )
                ],
            }
        )
    )
    return findings


@dataclass
class DutyTables:
    """What the petition-agent stage computed (see :mod:`gridmap.coverage.duty`)."""

    agents: pd.DataFrame
    followups: pd.DataFrame
    overdue: pd.DataFrame


def duty_tables(
    agents: pd.DataFrame,
    patrols: pd.DataFrame,
    items: pd.DataFrame | None,
    visits: pd.DataFrame | None,
    period: Period,
    thresholds: AuditThresholds,
) -> DutyTables:
    """Agents' patrol gaps, missing follow-ups and overdue items (the agent compute stage)."""
    table = agent_patrol_gaps(patrols, agents, period)
    if items is not None and len(items):
        prepared = prepare_items(items)
        followups = followup_gaps(prepared, first_visits(visits), period, thresholds.followup_within_days)
        overdue = overdue_items(prepared, period)
    else:
        followups = pd.DataFrame(columns=["item_id", "agent_id", "done_at", "due_by", "first_visit_at"])
        overdue = pd.DataFrame(columns=["item_id", "agent_id", "deadline_at", "days_overdue"])
    table["followups_missing"] = (
        table["worker_id"].map(followups["agent_id"].value_counts()).fillna(0).astype(np.int64)
    )
    table["items_overdue"] = (
        table["worker_id"].map(overdue["agent_id"].value_counts()).fillna(0).astype(np.int64)
    )
    return DutyTables(table, followups, overdue)


def _day(values) -> list[str]:
    return [str(v)[:10] if v is not None and not pd.isna(v) else "" for v in values]


def duty_rows(duty: DutyTables, period: Period, thresholds: AuditThresholds) -> list[pd.DataFrame]:
    """Petition-agent finding rows (:data:`FINDING_COLUMNS`); ``grid_code`` carries the agent's post code."""
    t = thresholds
    agents = duty.agents
    post = agents["village_code"].fillna(agents["township_code"])
    post_of = pd.Series(post.to_numpy(), index=agents["worker_id"].to_numpy())
    behind = agents[agents["longest_gap_days"] > t.agent_max_days_without_patrol]
    rows = [
        pd.DataFrame(
            {
                "kind": "agent_no_patrol_n_days",
                "grid_code": post[behind.index].to_numpy(),
                "worker_id": behind["worker_id"].to_numpy(),
                "figure": behind["longest_gap_days"].astype(float).to_numpy(),
                "threshold": float(t.agent_max_days_without_patrol),
                "unit": "days",
                "message_zh": [
                    f"信访代办员{w}连续{d}天无日巡查打卡（上限{t.agent_max_days_without_patrol}天；最近一次：{v or '期内无'}）"
                    for w, d, v in zip(
                        behind["worker_id"], behind["longest_gap_days"], behind["last_patrol"], strict=True
                    )
                ],
                "message_en": [
                    f"petition agent {w} went {d} consecutive days without a daily patrol check-in "
                    f"(limit {t.agent_max_days_without_patrol}; last: {v or 'none in period'})"
                    for w, d, v in zip(
                        behind["worker_id"], behind["longest_gap_days"], behind["last_patrol"], strict=True
                    )
                ],
            }
        )
    ]
    f = duty.followups
    rows.append(
        pd.DataFrame(
            {
                "kind": "followup_not_within_n_days",
                "grid_code": f["agent_id"].map(post_of).to_numpy(),
                "worker_id": f["agent_id"].to_numpy(),
                "figure": float(t.followup_within_days),
                "threshold": float(t.followup_within_days),
                "unit": "days",
                "message_zh": [
                    f"代办事项{i}于{d}办结，{t.followup_within_days}天内（至{u}）未回访"
                    + (f"（{v}才回访）" if v else "")
                    for i, d, u, v in zip(
                        f["item_id"],
                        _day(f["done_at"]),
                        _day(f["due_by"]),
                        _day(f["first_visit_at"]),
                        strict=True,
                    )
                ],
                "message_en": [
                    f"item {i} done on {d} had no follow-up visit within {t.followup_within_days} days (by {u})"
                    + (f"; visited on {v}" if v else "")
                    for i, d, u, v in zip(
                        f["item_id"],
                        _day(f["done_at"]),
                        _day(f["due_by"]),
                        _day(f["first_visit_at"]),
                        strict=True,
                    )
                ],
                "item_id": f["item_id"].to_numpy(),
            }
        )
    )
    o = duty.overdue
    rows.append(
        pd.DataFrame(
            {
                "kind": "item_open_past_deadline",
                "grid_code": o["agent_id"].map(post_of).to_numpy(),
                "worker_id": o["agent_id"].to_numpy(),
                "figure": o["days_overdue"].astype(float).to_numpy(),
                "threshold": 0.0,
                "unit": "days",
                "message_zh": [
                    f"代办事项{i}办理期限{d}已过{n}天，仍未办结（截至{period.end}）"
                    for i, d, n in zip(o["item_id"], _day(o["deadline_at"]), o["days_overdue"], strict=True)
                ],
                "message_en": [
                    f"item {i} is still open {n} days after its deadline {d} (as of {period.end})"
                    for i, d, n in zip(o["item_id"], _day(o["deadline_at"]), o["days_overdue"], strict=True)
                ],
                "item_id": o["item_id"].to_numpy(),
            }
        )
    )
    return rows


def sorted_findings(rows: list[pd.DataFrame]) -> pd.DataFrame:
    """One findings table (:data:`FINDING_COLUMNS`) ordered by kind, then code, worker, item."""
    rows = [r for r in rows if len(r)]
    table = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame({c: pd.Series(dtype="object") for c in FINDING_COLUMNS})
    )
    for column in FINDING_COLUMNS:
        if column not in table.columns:
            table[column] = None
    table["kind_order"] = table["kind"].map({k: i for i, k in enumerate(FINDING_KINDS)})
    table = table.sort_values(
        ["kind_order", "grid_code", "worker_id", "item_id"], na_position="first", ignore_index=True
    )
    table = table[FINDING_COLUMNS]
    table["worker_id"] = table["worker_id"].astype("object").where(table["worker_id"].notna(), None)
    table["worker_id"] = table["worker_id"].replace("", None)
    table["item_id"] = table["item_id"].astype("object").where(table["item_id"].notna(), None)
    return table
