"""Case records (矛盾纠纷 and 信访) prepared for KPIs and audits: parsed times, resolved flags."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.coverage._frames import parse_timestamps, require_columns, text_column
from gridmap.domain import is_resolved

TIME_COLUMNS = ("reported_at", "accepted_at", "resolved_at", "closed_at", "due_at")

#: the columns KPIs and audits read; personal fields (party_*) are never needed
CASE_COLUMNS = (
    "case_id",
    "kind",
    "category",
    "status",
    *TIME_COLUMNS,
    "grid_code",
    "village_code",
    "township_code",
    "county_code",
    "persons",
    "followup_done",
    "satisfaction",
)


def prepare_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """A working copy of ``cases`` with parsed times and helper columns.

    Adds ``resolved`` (status resolved/closed), ``resolved_time`` (``resolved_at``, else
    ``closed_at``); times become naive datetime64 (local time).  Personal columns are
    dropped.  Raises :class:`InputError` for missing columns or unreadable timestamps.
    """
    require_columns(cases, ["case_id", "kind", "status", "reported_at"], "cases")
    ids = cases["case_id"]
    out = pd.DataFrame(index=cases.index)
    out["case_id"] = cases["case_id"].astype(str)
    for column in ("kind", "category", "status", "grid_code", "village_code", "township_code", "county_code"):
        out[column] = text_column(cases, column)
    out["kind"] = out["kind"].str.lower()
    out["status"] = out["status"].str.lower()
    for column in TIME_COLUMNS:
        if column in cases.columns:
            out[column] = parse_timestamps(cases[column], f"cases.{column}", ids)
        else:
            out[column] = pd.Series(pd.NaT, index=cases.index, dtype="datetime64[s]")
    for column in ("persons", "followup_done", "satisfaction"):
        # plain float64 whatever the backend returned (nullable Int64 from one, object from another)
        values = pd.to_numeric(cases[column], errors="coerce") if column in cases.columns else np.nan
        out[column] = (
            pd.Series(values, index=cases.index).astype("float64") if column in cases.columns else np.nan
        )
    out["resolved"] = is_resolved(out["status"])
    out["resolved_time"] = out["resolved_at"].fillna(out["closed_at"])
    return out.reset_index(drop=True)


def open_at(cases: pd.DataFrame, moment: pd.Timestamp) -> np.ndarray:
    """Cases reported before ``moment`` and not yet resolved at ``moment`` (prepared cases).

    Resolved at ``moment`` means a resolve/close time before ``moment``, or — for a
    resolved/closed case with no time recorded — resolved at all.
    """
    reported = (cases["reported_at"] < moment).to_numpy()
    resolved_time = cases["resolved_time"]
    done_before = (resolved_time < moment).to_numpy() | (
        cases["resolved"].to_numpy() & resolved_time.isna().to_numpy()
    )
    return reported & ~done_before
