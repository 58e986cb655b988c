"""Writing petition items (信访代办事项) and follow-up visits (回访) into the store, row by row checked.

:func:`upsert_items` and :func:`upsert_visits` are what the API and an importer call: every
row ends **accepted** (written, replacing a row with the same id) or **rejected** with a
one-line reason; nothing is half-written (one transaction per call).  Rules:

items (``petition_items``)
    ``item_id``, ``agent_id`` (a worker with role ``agent``) and ``taken_at`` are required;
    ``done_at`` is optional and not before ``taken_at``; ``deadline_at`` defaults to
    ``taken_at`` + ``settings.petition_item_deadline_days``; ``status`` follows ``done_at``
    (``done`` / ``open``); a given ``case_id`` must be a petition in ``cases``; missing
    village/township/county codes come from the case (its geocoded village) or the agent's post.
visits (``petition_visits``)
    ``visit_id``, ``item_id`` (an item in the store or in the same call) and ``visited_at`` are
    required; ``method`` one of :data:`gridmap.domain.VISIT_METHODS`; ``satisfaction``
    1–5 or blank; ``visitor_id`` a worker id or blank.

Times are ISO local time; ``2022-03-05`` and ``2022-03-05 09:00`` are accepted and stored as
``2022-03-05T00:00:00`` / ``2022-03-05T09:00:00``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.coverage._frames import AGENT_ROLE, is_blank, text_column
from gridmap.coverage.duty import ITEM_COLUMNS, VISIT_COLUMNS
from gridmap.domain import VISIT_METHODS
from gridmap.store.base import Store


@dataclass(frozen=True)
class WriteOutcome:
    """``accepted``: the rows written (store columns); ``rejected``: ``row, id, reason`` (row = 0-based position)."""

    accepted: pd.DataFrame
    rejected: pd.DataFrame

    def summary(self) -> dict:
        return {"accepted": int(len(self.accepted)), "rejected": int(len(self.rejected))}


def _times(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """ISO text → normalised ISO text; second value: True where a non-blank value did not parse."""
    text = values.astype("object")
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    blank = is_blank(text)
    bad = parsed.isna().to_numpy() & ~blank
    out = parsed.dt.strftime("%Y-%m-%dT%H:%M:%S").astype("object").where(parsed.notna(), None)
    return out, bad


def _reasons(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def _flag(reasons: np.ndarray, mask: np.ndarray, reason: str) -> None:
    """Give ``reason`` to the rows in ``mask`` that have none yet (the first problem is reported)."""
    reasons[np.asarray(mask, dtype=bool) & pd.isna(reasons)] = reason


def _outcome(frame: pd.DataFrame, reasons: np.ndarray, id_column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    bad = ~pd.isna(reasons)
    rejected = pd.DataFrame(
        {"row": np.flatnonzero(bad), "id": frame[id_column].to_numpy()[bad], "reason": reasons[bad]}
    )
    return frame[~bad].reset_index(drop=True), rejected


def check_items(items: pd.DataFrame, store: Store, deadline_days: int | None = None) -> WriteOutcome:
    """Validate and complete item rows against the store (see the module doc); nothing is written."""
    if deadline_days is None:
        from gridmap.config import get_settings

        deadline_days = get_settings().petition_item_deadline_days
    n = len(items)
    out = pd.DataFrame({c: text_column(items, c).to_numpy() for c in ITEM_COLUMNS})
    reasons = _reasons(n)
    for column in ("item_id", "agent_id", "taken_at"):
        _flag(reasons, out[column].isna().to_numpy(), f"{column} is missing")
    _flag(
        reasons,
        out["item_id"].duplicated(keep=False).to_numpy() & out["item_id"].notna().to_numpy(),
        "item_id repeated in the same upload",
    )
    for column in ("taken_at", "deadline_at", "done_at"):
        out[column], bad = _times(out[column])
        _flag(reasons, bad, f"{column} is not an ISO date/time")
    _flag(
        reasons,
        (out["done_at"].notna() & out["taken_at"].notna() & (out["done_at"] < out["taken_at"])).to_numpy(),
        "done_at is before taken_at",
    )
    given = out["status"].str.lower()
    _flag(reasons, (given.notna() & ~given.isin(["open", "done"])).to_numpy(), "status must be open or done")
    _flag(reasons, ((given == "done") & out["done_at"].isna()).to_numpy(), "status done needs done_at")
    out["status"] = np.where(out["done_at"].notna(), "done", "open")
    taken = pd.to_datetime(out["taken_at"], errors="coerce")
    default_deadline = (taken + pd.Timedelta(days=deadline_days)).dt.strftime("%Y-%m-%dT%H:%M:%S")
    out["deadline_at"] = out["deadline_at"].where(
        out["deadline_at"].notna(), default_deadline.astype("object")
    )

    wanted = sorted(set(out["agent_id"].dropna()))
    workers = (
        store.read(
            "workers",
            where={"worker_id": wanted},
            columns=["worker_id", "role", "village_code", "township_code"],
        )
        if wanted
        else None
    )
    agents = (
        workers[workers["role"] == AGENT_ROLE].set_index("worker_id")
        if workers is not None
        else pd.DataFrame(columns=["village_code", "township_code"])
    )
    _flag(
        reasons,
        (out["agent_id"].notna() & ~out["agent_id"].isin(agents.index)).to_numpy(),
        "agent_id is not a petition agent (workers with role 'agent')",
    )
    case_ids = sorted(set(out["case_id"].dropna()))
    cases = (
        store.read(
            "cases",
            where={"case_id": case_ids},
            columns=["case_id", "kind", "village_code", "township_code", "county_code"],
        )
        if case_ids
        else None
    )
    cases = cases.set_index("case_id") if cases is not None else pd.DataFrame(columns=["kind"])
    _flag(
        reasons,
        (out["case_id"].notna() & ~out["case_id"].isin(cases.index)).to_numpy(),
        "case_id is not a case",
    )
    kind = out["case_id"].map(cases["kind"]) if len(cases) else pd.Series(None, index=out.index, dtype=object)
    _flag(reasons, (kind.notna() & (kind != "petition")).to_numpy(), "case_id is not a petition")
    for column in ("village_code", "township_code", "county_code"):
        from_case = out["case_id"].map(cases[column]) if column in cases.columns else None
        from_agent = out["agent_id"].map(agents[column]) if column in agents.columns else None
        for source in (from_case, from_agent):
            if source is not None:
                out[column] = out[column].where(out[column].notna(), source)
    out["township_code"] = out["township_code"].where(
        out["township_code"].notna(), out["village_code"].str[:9]
    )
    out["county_code"] = out["county_code"].where(out["county_code"].notna(), out["township_code"].str[:6])
    accepted, rejected = _outcome(out, reasons, "item_id")
    return WriteOutcome(accepted, rejected)


def upsert_items(
    store: Store, items: pd.DataFrame, deadline_days: int | None = None, source: str = "api"
) -> WriteOutcome:
    """Check (:func:`check_items`) and upsert the accepted rows into ``petition_items``."""
    outcome = check_items(items, store, deadline_days)
    if len(outcome.accepted):
        with store.transaction():
            store.upsert("petition_items", outcome.accepted.assign(source=source))
    return outcome


def check_visits(visits: pd.DataFrame, store: Store, new_items: set[str] | None = None) -> WriteOutcome:
    """Validate visit rows against the store (items known there or in ``new_items``); nothing is written."""
    out = pd.DataFrame({c: text_column(visits, c).to_numpy() for c in VISIT_COLUMNS if c != "satisfaction"})
    reasons = _reasons(len(out))
    for column in ("visit_id", "item_id", "visited_at"):
        _flag(reasons, out[column].isna().to_numpy(), f"{column} is missing")
    _flag(
        reasons,
        out["visit_id"].duplicated(keep=False).to_numpy() & out["visit_id"].notna().to_numpy(),
        "visit_id repeated in the same upload",
    )
    out["visited_at"], bad = _times(out["visited_at"])
    _flag(reasons, bad, "visited_at is not an ISO date/time")
    method = out["method"].str.lower()
    _flag(
        reasons,
        (method.notna() & ~method.isin(VISIT_METHODS)).to_numpy(),
        f"method must be one of {', '.join(VISIT_METHODS)}",
    )
    out["method"] = method
    raw = visits["satisfaction"] if "satisfaction" in visits.columns else pd.Series([None] * len(out))
    score = pd.to_numeric(pd.Series(raw.to_numpy(), dtype=object), errors="coerce")
    blank = is_blank(pd.Series(raw.to_numpy(), dtype=object).astype(object))
    _flag(
        reasons,
        ((score.isna() & ~blank) | (score.notna() & ~score.isin([1, 2, 3, 4, 5]))).to_numpy(),
        "satisfaction must be a whole number 1–5 or blank",
    )
    out["satisfaction"] = pd.array(score.where(score.isin([1, 2, 3, 4, 5])).round(), dtype="Int64")
    wanted = sorted(set(out["item_id"].dropna()))
    known = (
        set(store.read("petition_items", where={"item_id": wanted}, columns=["item_id"])["item_id"])
        if wanted
        else set()
    )
    known |= set(new_items or ())
    _flag(
        reasons,
        (out["item_id"].notna() & ~out["item_id"].isin(known)).to_numpy(),
        "item_id is not a petition item",
    )
    accepted, rejected = _outcome(out, reasons, "visit_id")
    return WriteOutcome(accepted, rejected)


def upsert_visits(
    store: Store, visits: pd.DataFrame, source: str = "api", new_items: set[str] | None = None
) -> WriteOutcome:
    """Check (:func:`check_visits`) and upsert the accepted rows into ``petition_visits``."""
    outcome = check_visits(visits, store, new_items)
    if len(outcome.accepted):
        with store.transaction():
            store.upsert("petition_visits", outcome.accepted.assign(source=source))
    return outcome
