"""Petition agents' duties (信访代办): daily patrol, follow-up visits, deadlines — pure functions.

Three checks, each a table a supervisor acts on (the audit turns them into findings):

* :func:`agent_patrol_gaps` — per agent, the longest run of calendar days in the period
  without a patrol check-in (代办日巡查: one a day is the duty);
* :func:`followup_gaps` — done items whose follow-up visit (回访) was due in the period
  (``done_at`` + ``within_days`` days) and had not been made by then;
* :func:`overdue_items` — items taken on before the period's end, not done by then, whose
  ``deadline_at`` had passed (backlog counts: it is still overdue).

Times are ISO local time (naive); day arithmetic uses calendar days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.coverage._frames import AGENT_ROLE, parse_timestamps, require_columns, text_column, to_day_number
from gridmap.coverage.periods import Period

ITEM_COLUMNS = [
    "item_id",
    "case_id",
    "agent_id",
    "status",
    "taken_at",
    "deadline_at",
    "done_at",
    "village_code",
    "township_code",
    "county_code",
]
VISIT_COLUMNS = ["visit_id", "item_id", "visited_at", "visitor_id", "method", "satisfaction"]


def agents_of(workers: pd.DataFrame | None) -> pd.DataFrame:
    """The active petition agents among ``workers``: ``worker_id, village_code, township_code``."""
    empty = pd.DataFrame(
        {
            "worker_id": pd.Series(dtype=object),
            "village_code": pd.Series(dtype=object),
            "township_code": pd.Series(dtype=object),
        }
    )
    if workers is None or not len(workers) or "role" not in workers.columns:
        return empty
    is_agent = text_column(workers, "role").to_numpy() == AGENT_ROLE
    if "active" in workers.columns:
        is_agent &= pd.to_numeric(workers["active"], errors="coerce").fillna(1).to_numpy() != 0
    chosen = workers[is_agent]
    return pd.DataFrame(
        {
            "worker_id": text_column(chosen, "worker_id").to_numpy(),
            "village_code": text_column(chosen, "village_code").to_numpy(),
            "township_code": text_column(chosen, "township_code").to_numpy(),
        }
    )


def agent_patrol_gaps(patrols: pd.DataFrame, agents: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Per agent: ``worker_id, days_patrolled, longest_gap_days, last_patrol`` (ISO day or None).

    ``patrols`` needs ``worker_id, ts``; ``agents`` ``worker_id`` (see :func:`agents_of`).
    A day counts as patrolled when the agent has any check-in that calendar day; the gap
    before the first and after the last check-in of the period counts too.
    """
    first, last = to_day_number(period.start), to_day_number(period.end)
    ids = pd.Index(agents["worker_id"].astype(str))
    n = len(ids)
    if len(patrols):
        require_columns(patrols, ["worker_id", "ts"], "patrols")
        who = ids.get_indexer(text_column(patrols, "worker_id"))
        ts = parse_timestamps(patrols["ts"], "patrols.ts", text_column(patrols, "worker_id"))
        day = ts.to_numpy().astype("datetime64[D]").astype(np.int64)
        keep = (who >= 0) & (day >= first) & (day <= last) & ~pd.isna(ts).to_numpy()
        # one integer key per (agent, day): a 1-D unique is much faster than unique rows
        span = last - first + 1
        key = np.sort(who[keep].astype(np.int64) * span + (day[keep] - first))
        key = (
            key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
        )  # sort + dedupe beats np.unique's hash
        agent, day = key // span, key % span + first
    else:
        agent = day = np.empty(0, dtype=np.int64)
    pairs = agent
    days_patrolled = np.bincount(agent, minlength=n)
    # gaps between consecutive patrol days of the same agent, plus the period's edges
    longest = np.full(n, last - first + 1, dtype=np.int64)
    last_day = np.full(n, -1, dtype=np.int64)
    if len(pairs):
        starts = np.r_[True, agent[1:] != agent[:-1]]
        ends = np.r_[agent[1:] != agent[:-1], True]
        inner = np.where(starts, day - first, day - np.r_[first, day[:-1]] - 1)
        longest = np.where(days_patrolled > 0, 0, longest)
        np.maximum.at(longest, agent, inner)
        np.maximum.at(longest, agent[ends], last - day[ends])
        last_day[agent[ends]] = day[ends]
    last_text = pd.Series(last_day.astype("datetime64[D]").astype(str), dtype="object").where(
        last_day >= 0, None
    )
    return pd.DataFrame(
        {
            "worker_id": ids.to_numpy(dtype=object),
            "village_code": agents["village_code"].to_numpy(),
            "township_code": agents["township_code"].to_numpy(),
            "days_patrolled": days_patrolled.astype(np.int64),
            "period_days": period.days,
            "longest_gap_days": longest,
            "last_patrol": last_text.to_numpy(),
        }
    )


def prepare_items(items: pd.DataFrame) -> pd.DataFrame:
    """Items with ``taken_at, deadline_at, done_at`` parsed (bad timestamps → InputError naming the item)."""
    require_columns(items, ["item_id", "agent_id", "taken_at"], "petition_items")
    out = pd.DataFrame(
        {
            c: text_column(items, c).to_numpy()
            for c in ITEM_COLUMNS
            if c not in ("taken_at", "deadline_at", "done_at")
        }
    )
    ids = out["item_id"]
    for column in ("taken_at", "deadline_at", "done_at"):
        values = items[column] if column in items.columns else pd.Series([None] * len(items))
        out[column] = parse_timestamps(
            pd.Series(values.to_numpy(), dtype="object"), f"petition_items.{column}", ids
        ).to_numpy()
    return out


def first_visits(visits: pd.DataFrame) -> pd.DataFrame:
    """Per item: its visits in time order (``item_id, visited_at, satisfaction``), parsed."""
    if visits is None or not len(visits):
        return pd.DataFrame(
            {
                "item_id": pd.Series(dtype=object),
                "visited_at": pd.Series(dtype="datetime64[s]"),
                "satisfaction": pd.Series(dtype=float),
            }
        )
    require_columns(visits, ["item_id", "visited_at"], "petition_visits")
    out = pd.DataFrame(
        {
            "item_id": text_column(visits, "item_id").to_numpy(),
            "visited_at": parse_timestamps(
                visits["visited_at"], "petition_visits.visited_at", text_column(visits, "visit_id")
            ).to_numpy(),
            "satisfaction": pd.to_numeric(visits["satisfaction"], errors="coerce").to_numpy()
            if "satisfaction" in visits.columns
            else np.nan,
        }
    )
    return out.dropna(subset=["item_id", "visited_at"]).sort_values(
        ["item_id", "visited_at"], ignore_index=True
    )


def followup_gaps(
    items: pd.DataFrame, visits: pd.DataFrame, period: Period, within_days: int
) -> pd.DataFrame:
    """Done items whose visit was due in ``period`` and not made in time.

    ``items``: :func:`prepare_items` output; ``visits``: :func:`first_visits` output.  The
    visit is due ``within_days`` days after ``done_at``; it is missing when no visit lies in
    [``done_at``, due].  Returns ``item_id, agent_id, done_at, due_by, first_visit_at``.
    """
    done = items[items["done_at"].notna()]
    due = done["done_at"] + pd.Timedelta(days=within_days)
    judged = done[period.contains(due)].assign(due_by=due[period.contains(due)])
    merged = judged[["item_id", "done_at", "due_by"]].merge(
        visits[["item_id", "visited_at"]], on="item_id", how="left"
    )
    in_time = (merged["visited_at"] >= merged["done_at"]) & (merged["visited_at"] <= merged["due_by"])
    answered = set(merged.loc[in_time, "item_id"])
    after = merged[merged["visited_at"] >= merged["done_at"]].groupby("item_id")["visited_at"].min()
    late = judged[~judged["item_id"].isin(answered)]
    return pd.DataFrame(
        {
            "item_id": late["item_id"].to_numpy(),
            "agent_id": late["agent_id"].to_numpy(),
            "done_at": late["done_at"].to_numpy(),
            "due_by": late["due_by"].to_numpy(),
            "first_visit_at": after.reindex(late["item_id"]).to_numpy(),
        }
    )


def overdue_items(items: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Items open at the period's end past their deadline: ``item_id, agent_id, deadline_at, days_overdue``."""
    end = period.end_ts
    open_at_end = (items["taken_at"] < end) & (items["done_at"].isna() | (items["done_at"] >= end))
    late = items[open_at_end & items["deadline_at"].notna() & (items["deadline_at"] < end)]
    days = ((end - late["deadline_at"]).dt.total_seconds() // 86400).astype(np.int64)
    return pd.DataFrame(
        {
            "item_id": late["item_id"].to_numpy(),
            "agent_id": late["agent_id"].to_numpy(),
            "deadline_at": late["deadline_at"].to_numpy(),
            "days_overdue": days.to_numpy(),
        }
    )
