"""Benchmark: petition agents' daily-patrol audit — 1,424 agents × a year of check-ins, with items and visits.

gridmap's :func:`gridmap.coverage.duty.agent_patrol_gaps` (one pass over sorted unique
(agent, day) pairs) beside the plain pandas way (group by agent, ``diff`` of sorted days, edges
added), in the same run on the same frames, end to end from ISO text; both must agree.  Then
the whole agent stage of the audit (:func:`gridmap.coverage.audit.duty_tables`: gaps, follow-ups,
overdue items) on ``--items`` items with visits.

    .venv/bin/python bench/agents.py                   # 1,424 agents, 365 days, 20,000 items
    .venv/bin/python bench/agents.py --agents 5000 --days 90
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gridmap.coverage.audit import AuditThresholds, duty_tables  # noqa: E402
from gridmap.coverage.duty import agent_patrol_gaps  # noqa: E402
from gridmap.coverage.periods import parse_period  # noqa: E402


def records(n_agents: int, n_days: int, n_items: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + n_days)
    present = rng.random((n_agents, n_days)) > 0.05
    a, d = np.nonzero(present)
    ts = days[d].astype("datetime64[s]") + rng.integers(8 * 3600, 17 * 3600, len(a)).astype("timedelta64[s]")
    ids = np.array([f"DB{i:06d}" for i in range(n_agents)], dtype=object)
    patrols = pd.DataFrame({"worker_id": ids[a], "ts": np.datetime_as_string(ts, unit="s").astype(object)})
    agents = pd.DataFrame({"worker_id": ids, "village_code": None, "township_code": "150502001"})
    taken = days[0].astype("datetime64[s]") + rng.integers(0, n_days * 86400, n_items).astype(
        "timedelta64[s]"
    )
    done = taken + rng.integers(86400, 40 * 86400, n_items).astype("timedelta64[s]")
    done = np.where(rng.random(n_items) < 0.9, done, np.datetime64("NaT"))
    iso = lambda t: pd.Series(np.datetime_as_string(t, unit="s"), dtype=object).replace("NaT", None)  # noqa: E731
    items = pd.DataFrame(
        {
            "item_id": [f"I{i}" for i in range(n_items)],
            "agent_id": ids[rng.integers(0, n_agents, n_items)],
            "taken_at": iso(taken),
            "deadline_at": iso(taken + np.timedelta64(60 * 86400, "s")),
            "done_at": iso(done),
        }
    )
    seen = ~np.isnat(done) & (rng.random(n_items) < 0.95)
    visits = pd.DataFrame(
        {
            "visit_id": [f"H{i}" for i in range(int(seen.sum()))],
            "item_id": items["item_id"][seen],
            "visited_at": iso(
                done[seen] + rng.integers(3600, 20 * 86400, int(seen.sum())).astype("timedelta64[s]")
            ).to_numpy(),
            "satisfaction": rng.integers(1, 6, int(seen.sum())),
        }
    )
    return patrols, agents, items, visits, parse_period(f"{days[0]}/{days[-1]}")


def pandas_longest_gaps(patrols: pd.DataFrame, agents: pd.DataFrame, period) -> pd.Series:
    """The peer: per agent, the longest run of days without a check-in, with groupby/diff."""
    day = pd.to_datetime(patrols["ts"], format="ISO8601").dt.normalize()
    frame = pd.DataFrame({"w": patrols["worker_id"], "day": day}).drop_duplicates().sort_values(["w", "day"])
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    inner = (frame.groupby("w")["day"].diff().dt.days - 1).groupby(frame["w"]).max()
    first = (frame.groupby("w")["day"].min() - start).dt.days
    last = (end - frame.groupby("w")["day"].max()).dt.days
    longest = pd.concat([inner.fillna(0), first, last], axis=1).max(axis=1)
    return longest.reindex(agents["worker_id"]).fillna((end - start).days + 1).astype(np.int64)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=1424)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--items", type=int, default=20000)
    args = ap.parse_args(argv)
    patrols, agents, items, visits, period = records(args.agents, args.days, args.items)
    print(
        f"{len(agents):,} agents, {len(patrols):,} check-ins over {period.days} days, {len(items):,} items, "
        f"{len(visits):,} visits"
    )
    best = {}
    for name, fn in (
        (
            "gridmap agent_patrol_gaps",
            lambda: agent_patrol_gaps(patrols, agents, period).set_index("worker_id")["longest_gap_days"],
        ),
        ("pandas groupby/diff (peer)", lambda: pandas_longest_gaps(patrols, agents, period)),
    ):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
        best[name] = (min(times), result)
        print(f"  {name:28s} best of 3: {min(times):.3f} s")
    ours, peer = (r for _, r in best.values())
    assert (ours.to_numpy() == peer.to_numpy()).all(), "the two disagree"
    print("  identical longest gaps for every agent")
    t0 = time.perf_counter()
    duty = duty_tables(agents, patrols, items, visits, period, AuditThresholds())
    print(
        f"  whole agent stage (gaps + follow-ups + overdue): {time.perf_counter() - t0:.3f} s; "
        f"{len(duty.followups):,} follow-ups missing, {len(duty.overdue):,} items overdue"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
