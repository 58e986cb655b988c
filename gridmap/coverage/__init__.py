"""Grid-worker coverage audits (网格员巡查覆盖审计) and governance KPIs (矛盾纠纷排查化解、信访).

* :mod:`~gridmap.coverage.assignments` — worker ↔ grid assignments, first assignment,
  inheritance over grid splits/merges.
* :mod:`~gridmap.coverage.patrols` — check-ins located in grids; visits per grid, per worker.
* :mod:`~gridmap.coverage.audit` — :func:`run_audit` → findings a supervisor acts on.
* :mod:`~gridmap.coverage.kpi` — :func:`case_kpis` per grid/village/township/county/city with 同比;
  :func:`item_kpis` for petition agents' items (agent … city), :func:`governance_kpis` both.
* :mod:`~gridmap.coverage.duty` — petition agents' daily patrol, follow-up visits, deadlines;
  :mod:`~gridmap.coverage.petitions` — checked upserts of items and visits;
  :mod:`~gridmap.coverage.bulletin` — the monthly 通报 (HTML + XLSX).
* :mod:`~gridmap.coverage.export`, :mod:`~gridmap.coverage.report` — CSV/XLSX and a printable HTML report.
* :mod:`~gridmap.coverage.service` — the same, reading from a store.
"""

from gridmap.coverage.assignments import (
    active_assignments,
    assign_workers,
    assignments_in_period,
    inherit_assignments,
    overlap_mapping,
)
from gridmap.coverage.audit import FINDING_KINDS, AuditResult, AuditThresholds, run_audit
from gridmap.coverage.kpi import case_kpis, governance_kpis, item_kpis, monthly_trend
from gridmap.coverage.patrols import grid_visits, locate_checkins, patrol_summary, worker_checkins
from gridmap.coverage.periods import Period, parse_period

__all__ = [
    "FINDING_KINDS",
    "AuditResult",
    "AuditThresholds",
    "Period",
    "active_assignments",
    "assign_workers",
    "assignments_in_period",
    "case_kpis",
    "governance_kpis",
    "item_kpis",
    "grid_visits",
    "inherit_assignments",
    "locate_checkins",
    "monthly_trend",
    "overlap_mapping",
    "patrol_summary",
    "parse_period",
    "run_audit",
    "worker_checkins",
]
