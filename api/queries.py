"""Store reads the routers share: case filters, masking + audit of personal fields, small aggregates.

Kept out of the routers so they stay parameter parsing, authorisation and serialisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from api.auth import Principal, audit
from api.privacy import CASE_PERSONAL_FIELDS, WORKER_PERSONAL_FIELDS, mask_frame, suppress_counts
from api.tilesource import plan_revision
from gridmap.cases import CaseFilter
from gridmap.domain import now_local
from gridmap.errors import InputError
from gridmap.store.base import Between, Store

#: what every case listing returns (no raw coordinates: they may come from a person's phone)
CASE_COLUMNS = [
    "case_id", "external_id", "kind", "category", "status", "reported_at", "accepted_at", "resolved_at",
    "closed_at", "due_at", "address_text", "lon", "lat", "precision", "geocode_status",
    "grid_code", "village_code", "township_code", "county_code", "persons",
    "party_name", "party_phone", "party_id_number", "followup_done", "satisfaction", "source",
]
POINT_COLUMNS = ["case_id", "kind", "category", "status", "reported_at", "grid_code"]


def present_cases(store: Store, principal: Principal, cases: pd.DataFrame, action: str) -> pd.DataFrame:
    """Cases as ``principal`` may see them: personal fields masked unless they hold
    ``cases.personal``; every unmasked read is written to the audit log (ids only)."""
    present = [c for c in CASE_PERSONAL_FIELDS if c in cases.columns]
    if not present or cases.empty:
        return cases
    if principal.can("cases.personal"):
        audit(store, principal, action, "case", cases["case_id"].astype(str).tolist(),
              {"fields": present, "rows": len(cases)})
        return cases
    return mask_frame(cases, present)


def present_workers(store: Store, principal: Principal, workers: pd.DataFrame, action: str) -> pd.DataFrame:
    """Workers with name/phone masked unless ``workers.personal`` (or it is the user's own record);
    unmasked reads are audited."""
    present = [c for c in WORKER_PERSONAL_FIELDS if c in workers.columns]
    if not present or workers.empty:
        return workers
    if principal.can("workers.personal"):
        audit(store, principal, action, "worker", workers["worker_id"].astype(str).tolist(),
              {"fields": present, "rows": len(workers)})
        return workers
    own = (workers["worker_id"].astype(str) == (principal.worker_id or "\0")).to_numpy()
    out = mask_frame(workers, present)
    if own.any():
        out.loc[own, present] = workers.loc[own, present]
    return out


def suppress_frame(frame: pd.DataFrame, count_columns: list[str], k: int, full_access: bool,
                   derived_columns: list[str] = ()) -> pd.DataFrame:
    """Aggregates with a ``suppressed`` flag per row.

    With ``full_access`` (the user reads every case counted, e.g.
    :attr:`Principal.sees_all_cases`) nothing changes; otherwise counts ``0 < c < k`` become
    null and ``derived_columns`` (rates, values computed from those counts) are nulled on
    the same rows.
    """
    out = frame.copy()
    flags = np.zeros(len(out), bool)
    if not full_access:
        for col in count_columns:
            if col in out.columns:
                values, small = suppress_counts(pd.to_numeric(out[col], errors="coerce"), k)
                whole = np.isnan(values) | (values == np.round(values))
                out[col] = pd.array(values, dtype="Int64") if whole.all() else values
                flags |= small
        for col in derived_columns:
            if col in out.columns:
                out[col] = out[col].astype(object).where(~flags, None)
    out["suppressed"] = flags
    return out


def grid_case_counts(store: Store, flt: CaseFilter) -> pd.Series:
    """Cases per grid code matching ``flt`` (all cases: an aggregate; suppress before showing)."""
    where = flt.where(None)
    codes = store.read("cases", where=where or None, columns=["grid_code"])["grid_code"].dropna().astype(str)
    return codes.value_counts()


# --- coverage --------------------------------------------------------------------------------
_AUDIT_CACHE: dict[tuple, Any] = {}
_AUDIT_CACHE_SIZE = 8


def default_period(store: Store) -> str:
    """The calendar month of the latest patrol check-in (``YYYY-MM``), else the current month."""
    latest = store.read("patrols", columns=["ts"], order_by=["-ts"], limit=1)
    if latest.empty or pd.isna(latest["ts"].iloc[0]):
        return now_local()[:7]
    return str(latest["ts"].iloc[0])[:7]


def coverage_audit(store: Store, period: str | None, settings, plan_id: str | None = None):
    """:func:`gridmap.coverage.service.audit_from_store` for ``period`` (default
    :func:`default_period`) and the active plan, memoised on the sizes of its inputs."""
    from gridmap.coverage.audit import AuditThresholds
    from gridmap.coverage.periods import parse_period
    from gridmap.coverage.service import audit_from_store

    plan_id = plan_id or store.active_plan_id()
    if plan_id is None:
        raise InputError("no active plan: activate a plan before auditing coverage")
    spec = parse_period(period or default_period(store))
    key = (store.url, plan_id, str(spec), store.count("patrols", {"ts": Between(spec.start_iso, spec.end_iso)}),
           store.count("assignments", {"plan_id": plan_id}), store.count("cases"),
           store.count("grids", {"plan_id": plan_id}), plan_revision(store, plan_id))
    if key in _AUDIT_CACHE:
        return _AUDIT_CACHE[key]
    result, _inputs = audit_from_store(store, spec, AuditThresholds.from_settings(settings), plan_id)
    if len(_AUDIT_CACHE) >= _AUDIT_CACHE_SIZE:
        _AUDIT_CACHE.pop(next(iter(_AUDIT_CACHE)))
    _AUDIT_CACHE[key] = result
    return result


def grid_coverage(store: Store, audit_result, plan_id: str) -> pd.DataFrame:
    """Per grid of ``plan_id`` (GeoDataFrame): the audit's grid table plus geometry and
    ``days_since_visit`` (calendar days from the last check-in's day to the period's last day:
    0 = visited that day; null if never)."""
    grids = store.read("grids", where={"plan_id": plan_id}, columns=["code", "village_code", "geometry"])
    table = audit_result.grids.drop(columns=["households"], errors="ignore")
    out = grids.merge(table, left_on="code", right_on="grid_code", how="left")
    end = pd.Timestamp(audit_result.period.end)
    last = pd.to_datetime(out["last_visit"], errors="coerce").dt.normalize()
    out["days_since_visit"] = (end - last).dt.days.astype("Int64")
    return out.drop(columns=["grid_code", "worker_ids"], errors="ignore")
