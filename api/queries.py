"""Store reads the routers share: case filters, masking + audit of personal fields, small aggregates.

Kept out of the routers so they stay parameter parsing, authorisation and serialisation.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from api.auth import Principal, audit
from api.privacy import CASE_PERSONAL_FIELDS, WORKER_PERSONAL_FIELDS, mask_frame
from api.tilesource import plan_revision
from gridmap.cases import CaseFilter
from gridmap.disclosure import (
    DisclosureRule,
    disclose,
    disclose_record_counts,
    label_keys,
    run_cell_labels,
    withhold_statistics,
)
from gridmap.errors import InputError
from gridmap.store.base import Between, Store

#: what every case listing returns (no raw coordinates: they may come from a person's phone)
CASE_COLUMNS = [
    "case_id",
    "external_id",
    "kind",
    "category",
    "status",
    "reported_at",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "due_at",
    "address_text",
    "lon",
    "lat",
    "precision",
    "geocode_status",
    "grid_code",
    "village_code",
    "township_code",
    "county_code",
    "persons",
    "party_name",
    "party_phone",
    "party_id_number",
    "followup_done",
    "satisfaction",
    "source",
]
POINT_COLUMNS = ["case_id", "kind", "category", "status", "reported_at", "grid_code"]


def present_cases(store: Store, principal: Principal, cases: pd.DataFrame, action: str) -> pd.DataFrame:
    """Cases as ``principal`` may see them: personal fields masked unless they hold
    ``cases.personal``; every unmasked read is written to the audit log (ids only)."""
    present = [c for c in CASE_PERSONAL_FIELDS if c in cases.columns]
    if not present or cases.empty:
        return cases
    if principal.can("cases.personal"):
        audit(
            store,
            principal,
            action,
            "case",
            cases["case_id"].astype(str).tolist(),
            {"fields": present, "rows": len(cases)},
        )
        return cases
    return mask_frame(cases, present)


def present_workers(store: Store, principal: Principal, workers: pd.DataFrame, action: str) -> pd.DataFrame:
    """Workers with name/phone masked unless ``workers.personal`` (or it is the user's own record);
    unmasked reads are audited."""
    present = [c for c in WORKER_PERSONAL_FIELDS if c in workers.columns]
    if not present or workers.empty:
        return workers
    if principal.can("workers.personal"):
        audit(
            store,
            principal,
            action,
            "worker",
            workers["worker_id"].astype(str).tolist(),
            {"fields": present, "rows": len(workers)},
        )
        return workers
    own = (workers["worker_id"].astype(str) == (principal.worker_id or "\0")).to_numpy()
    out = mask_frame(workers, present)
    if own.any():
        out.loc[own, present] = workers.loc[own, present]
    return out


def check_disclosed_filter(flt: CaseFilter) -> None:
    """Filters allowed for aggregates disclosed to roles without all-case access (400 otherwise).

    One value per list filter and whole calendar months: every other combination of filters
    would let a caller build many different record sets around the same small cell and
    average their differences (see :mod:`gridmap.disclosure`, point 3).
    """
    for name in ("kind", "category", "status"):
        if isinstance(getattr(flt, name), tuple) and len(getattr(flt, name)) > 1:
            raise InputError(f"{name}: one value at a time for aggregates without case access")
    for name, value in (("from", flt.start), ("to", flt.end)):
        if value and not (value[8:10] == "01" and value[10:] in ("", "T00:00:00")):
            raise InputError(
                f"{name} {value[:10]!r}: aggregates without case access take whole months "
                "(2024-03 or 2024-03-01)"
            )


def suppress_frame(
    frame: pd.DataFrame,
    count_columns: list[str],
    rule: DisclosureRule,
    full_access: bool,
    derived_columns: list[str] = (),
    cell_labels: pd.Series | None = None,
    cell_keys: dict[str, np.ndarray] | None = None,
    statistics: bool = False,
) -> pd.DataFrame:
    """Aggregates as a role may see them, with a ``suppressed`` flag per row.

    With ``full_access`` (the user reads every case counted, e.g. :attr:`Principal.sees_all_cases`)
    nothing changes.  Otherwise every count column goes through :func:`gridmap.disclosure.disclose`
    (small counts null, the others perturbed by their cell key) and ``derived_columns`` (rates,
    values computed from the exact counts, which would give them away) are null wherever a count
    is not zero; with ``statistics`` (hot-spot results and areas) every column of
    :data:`gridmap.disclosure.EXACT_STATISTICS` is null for every row.  Cell keys: ``cell_keys[column]`` when the records were at hand, else keyed hashes
    of ``cell_labels`` (one label per row naming the cell and the record selection) and the column.
    """
    out = frame.copy()
    flags = np.zeros(len(out), bool)
    if not full_access:
        labels = (
            cell_labels
            if cell_labels is not None
            else pd.Series(range(len(out)), index=out.index).astype(str)
        )
        labels = pd.Series(np.asarray(labels, dtype=object), index=out.index).astype(str)
        nonzero = np.zeros(len(out), bool)
        for col in count_columns:
            if col not in out.columns:
                continue
            true = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
            keys = (cell_keys or {}).get(col)
            if keys is None:
                keys = label_keys(labels + "|" + col, rule)
            shown = disclose(true, keys, rule)
            out[col] = pd.array(np.where(np.isnan(shown.values), None, shown.values), dtype="Int64")
            flags |= shown.suppressed
            nonzero |= np.nan_to_num(true) != 0
        for col in derived_columns:
            if col in out.columns:
                out[col] = out[col].astype(object).where(~nonzero, None)
        if statistics:
            out = withhold_statistics(out)
    out["suppressed"] = flags
    return out


def grid_case_counts(store: Store, flt: CaseFilter) -> pd.Series:
    """Cases per grid code matching ``flt`` (all cases: an aggregate; disclose before showing)."""
    where = flt.where(None)
    codes = store.read("cases", where=where or None, columns=["grid_code"])["grid_code"].dropna().astype(str)
    return codes.value_counts()


def grid_case_counts_disclosed(store: Store, flt: CaseFilter, rule: DisclosureRule) -> pd.DataFrame:
    """Per grid matching ``flt``: ``grid_code, count`` (exact), ``shown`` (published by the cell
    key method: the cell key is the sum of the record keys of exactly these cases) and ``suppressed``."""
    where = flt.where(None)
    cases = store.read("cases", where=where or None, columns=["case_id", "grid_code"])
    cases = cases[cases["grid_code"].notna()]
    return disclose_record_counts(cases, "grid_code", "case_id", rule)


# --- coverage --------------------------------------------------------------------------------


def default_period(store: Store) -> str:
    """The calendar month of the latest patrol check-in (``YYYY-MM``), else the current month."""
    from gridmap.coverage.periods import latest_patrol_month

    return latest_patrol_month(store)


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
    key = (
        store.url,
        plan_id,
        str(spec),
        store.count("patrols", {"ts": Between(spec.start_iso, spec.end_iso)}),
        store.count("assignments", {"plan_id": plan_id}),
        store.count("cases"),
        store.count("grids", {"plan_id": plan_id}),
        plan_revision(store, plan_id),
    )
    from api.limits import REPORTS

    def compute():
        return audit_from_store(store, spec, AuditThresholds.from_settings(settings), plan_id)[0]

    return REPORTS.get(("audit", *key), compute)


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


def disclosure_rule(settings) -> DisclosureRule:
    """The disclosure rule of ``settings`` (memoised per secret, threshold and noise)."""
    return _rule(
        settings.secret_key, settings.suppress_counts_below, getattr(settings, "disclosure_noise_decay", 0.5)
    )


@lru_cache(maxsize=8)
def _rule(secret: str, threshold: int, noise_decay: float) -> DisclosureRule:
    return DisclosureRule.from_secret(secret, threshold, noise_decay)


def run_labels(store: Store, run_id: str, unit_ids: pd.Series) -> pd.Series:
    """Cell labels of a run's units (see :func:`gridmap.disclosure.run_cell_labels`)."""
    runs = store.read("hotspot_runs", where={"run_id": run_id})
    run = runs.iloc[0].to_dict() if len(runs) else {"filters": run_id}
    return run_cell_labels(run, unit_ids).set_axis(unit_ids.index)
