"""Petition agents in the audit: daily-patrol gaps, follow-up visits, overdue items — hand-made records
with known answers (the planted gaps of the synthetic city: tests/test_synth.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from gridmap.coverage import AuditThresholds, run_audit
from gridmap.coverage.duty import agent_patrol_gaps, agents_of
from gridmap.coverage.periods import parse_period
from gridmap.errors import InputError

V = "150502001001"
T = "150502001"
GRID = V + "001"


def grids():
    import geopandas as gpd

    return gpd.GeoDataFrame(
        {"plan_id": "P1", "code": [GRID], "village_code": V, "households": [400]},
        geometry=[box(122.20, 43.60, 122.21, 43.61)],
        crs="EPSG:4326",
    )


def agent_records():
    """Three agents in June 2024.

    * A1 (village post) patrols every day but 10–14 June: a 5-day gap;
    * A2 (township post) misses every other day only: longest gap 1 day;
    * A3 never patrols: a 30-day gap.
    Items: I1 done 1 June, visited 5 June (fine); I2 done 3 June, no visit (due 18 June);
    I3 done 10 June, visited 28 June (late, due 25 June); I4 done 25 June (due 10 July: not
    judged in June); I5 taken 1 April, open, deadline 31 May (overdue 30 days at 30 June);
    I6 taken 1 June, open, deadline 31 July (not overdue); I7 done 20 June after its
    deadline (1 June: not open at the end, no overdue finding).
    """
    workers = pd.DataFrame(
        {
            "worker_id": ["W1", "A1", "A2", "A3"],
            "role": ["full_time", "agent", "agent", "agent"],
            "village_code": [V, V, None, V],
            "township_code": [T, T, T, T],
            "active": 1,
        }
    )
    days = pd.date_range("2024-06-01", "2024-06-30")
    a1 = [d for d in days if not (10 <= d.day <= 14)]
    a2 = [d for d in days if d.day % 2 == 1]
    ts = [d + pd.Timedelta(hours=9) for d in a1 + a2] + [days[0] + pd.Timedelta(hours=10)]
    patrols = pd.DataFrame(
        {
            "patrol_id": [f"P{i}" for i in range(len(ts))],
            "worker_id": ["A1"] * len(a1) + ["A2"] * len(a2) + ["W1"],
            "ts": [t.strftime("%Y-%m-%dT%H:%M:%S") for t in ts],
            "raw_lon": 122.205,
            "raw_lat": 43.605,
            "raw_crs": "wgs84",
        }
    )
    items = pd.DataFrame(
        {
            "item_id": ["I1", "I2", "I3", "I4", "I5", "I6", "I7"],
            "case_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
            "agent_id": ["A1", "A1", "A2", "A2", "A3", "A3", "A1"],
            "status": ["done", "done", "done", "done", "open", "open", "done"],
            "taken_at": [
                "2024-05-20T09:00:00",
                "2024-05-21T09:00:00",
                "2024-05-22T09:00:00",
                "2024-06-01T09:00:00",
                "2024-04-01T09:00:00",
                "2024-06-01T09:00:00",
                "2024-04-02T09:00:00",
            ],
            "deadline_at": [
                "2024-07-19T09:00:00",
                "2024-07-20T09:00:00",
                "2024-07-21T09:00:00",
                "2024-07-31T09:00:00",
                "2024-05-31T09:00:00",
                "2024-07-31T09:00:00",
                "2024-06-01T09:00:00",
            ],
            "done_at": [
                "2024-06-01T10:00:00",
                "2024-06-03T10:00:00",
                "2024-06-10T10:00:00",
                "2024-06-25T10:00:00",
                None,
                None,
                "2024-06-20T10:00:00",
            ],
            "village_code": V,
            "township_code": T,
            "county_code": "150502",
        }
    )
    visits = pd.DataFrame(
        {
            "visit_id": ["H1", "H2", "H3"],
            "item_id": ["I1", "I3", "I7"],
            "visited_at": ["2024-06-05T10:00:00", "2024-06-28T10:00:00", "2024-06-21T10:00:00"],
            "visitor_id": ["A1", "A2", "A1"],
            "method": ["phone", "in_person", "wechat"],
            "satisfaction": [5, 3, 4],
        }
    )
    return workers, patrols, items, visits


def test_patrol_gaps_by_hand():
    workers, patrols, _, _ = agent_records()
    table = agent_patrol_gaps(patrols, agents_of(workers), parse_period("2024-06")).set_index("worker_id")
    assert table["longest_gap_days"].to_dict() == {"A1": 5, "A2": 1, "A3": 30}
    assert table["days_patrolled"].to_dict() == {"A1": 25, "A2": 15, "A3": 0}
    assert table.loc["A1", "last_patrol"] == "2024-06-30" and pd.isna(table.loc["A3", "last_patrol"])
    # the edges count: a patrol only on the 20th leaves 19 days before it and 10 after
    one = patrols[(patrols["worker_id"] == "A1") & (patrols["ts"].str[:10] == "2024-06-20")]
    assert (
        agent_patrol_gaps(one, agents_of(workers), parse_period("2024-06"))
        .set_index("worker_id")
        .loc["A1", "longest_gap_days"]
        == 19
    )


def test_audit_adds_agent_findings_with_thresholds():
    workers, patrols, items, visits = agent_records()
    assignments = pd.DataFrame(
        {
            "assignment_id": ["a"],
            "worker_id": ["W1"],
            "plan_id": "P1",
            "grid_code": [GRID],
            "role": "full_time",
            "valid_from": "2024-01-01",
            "valid_to": None,
        }
    )
    result = run_audit(
        grids(),
        assignments,
        patrols,
        workers,
        period_start="2024-06",
        thresholds=AuditThresholds(),
        items=items,
        visits=visits,
    )
    f = result.findings
    patrol = f[f["kind"] == "agent_no_patrol_n_days"].set_index("worker_id")
    assert patrol["figure"].to_dict() == {"A1": 5.0, "A3": 30.0}
    assert patrol.loc["A1", "grid_code"] == V and (patrol["threshold"] == 3.0).all()
    follow = f[f["kind"] == "followup_not_within_n_days"]
    # ordered by the agent's post: the township's code before its village's
    assert follow["item_id"].tolist() == ["I3", "I2"] and follow["worker_id"].tolist() == ["A2", "A1"]
    assert follow["grid_code"].tolist() == [T, V]  # the agent's post: township, or village
    assert "2024-06-28" in follow["message_zh"].iloc[0]
    overdue = f[f["kind"] == "item_open_past_deadline"]
    assert overdue["item_id"].tolist() == ["I5"] and overdue["figure"].tolist() == [30.0]
    # agents' check-ins are their own duty: they neither visit grids nor trip the grid-worker checks
    assert (
        not f["worker_id"]
        .isin(["A1", "A2", "A3"])[f["kind"].isin(["patrols_outside_own_grid", "worker_over_grid_limit"])]
        .any()
    )
    assert result.grids.set_index("grid_code").loc[GRID, "visits"] == 1
    assert result.agents.set_index("worker_id")["followups_missing"].to_dict() == {"A1": 1, "A2": 1, "A3": 0}
    # thresholds come from settings and can be overridden
    looser = run_audit(
        grids(),
        assignments,
        patrols,
        workers,
        period_start="2024-06",
        items=items,
        visits=visits,
        thresholds=AuditThresholds(agent_max_days_without_patrol=5, followup_within_days=20),
    )
    lf = looser.findings
    assert lf.loc[lf["kind"] == "agent_no_patrol_n_days", "worker_id"].tolist() == ["A3"]
    # with 20 days I2 is due on 23 June (still missing); I3's visit on 28 June is 18 days after: in time
    assert lf.loc[lf["kind"] == "followup_not_within_n_days", "item_id"].tolist() == ["I2"]
    with pytest.raises(InputError, match="followup_within_days"):
        AuditThresholds(followup_within_days=-1)


def test_bad_item_timestamps_are_named():
    workers, patrols, items, visits = agent_records()
    items.loc[2, "done_at"] = "10/06/2024"
    with pytest.raises(InputError, match="done_at.*I3"):
        run_audit(
            grids(),
            pd.DataFrame(columns=["worker_id", "grid_code", "role", "valid_from", "valid_to"]),
            patrols,
            workers,
            period_start="2024-06",
            items=items,
            visits=visits,
        )


def test_upserts_check_every_row_on_both_backends(store):
    from gridmap.coverage.petitions import upsert_items, upsert_visits

    workers, _, items, visits = agent_records()
    store.write("workers", workers)
    items = items.assign(case_id=None)  # no cases in this store: a given case_id would be refused
    bad = pd.DataFrame(
        [
            {"item_id": "X1", "agent_id": "W1", "taken_at": "2024-06-01"},
            {"item_id": "X2", "agent_id": "A1", "taken_at": None},
        ]
    )
    outcome = upsert_items(store, pd.concat([items, bad], ignore_index=True), deadline_days=60)
    assert outcome.summary() == {"accepted": 7, "rejected": 2}
    assert outcome.rejected["reason"].tolist() == [
        "agent_id is not a petition agent (workers with role 'agent')",
        "taken_at is missing",
    ]
    again = upsert_items(
        store, items.assign(done_at=items["done_at"].where(items["item_id"] != "I6", "2024-07-01T00:00:00"))
    )
    assert again.summary() == {"accepted": 7, "rejected": 0} and store.count("petition_items") == 7
    stored = store.read("petition_items").set_index("item_id")
    assert stored.loc["I6", "status"] == "done" and stored.loc["I1", "source"] == "api"
    v = upsert_visits(
        store,
        pd.concat(
            [
                visits,
                pd.DataFrame(
                    [{"visit_id": "H9", "item_id": "I1", "visited_at": "2024-06-09", "satisfaction": 7}]
                ),
            ]
        ),
    )
    assert v.summary() == {"accepted": 3, "rejected": 1} and "1–5" in v.rejected["reason"].iloc[0]
    assert store.read("petition_visits").set_index("visit_id").loc["H1", "satisfaction"] == 5


def test_patrol_gaps_equal_a_naive_day_by_day_count():
    """Random check-ins of 40 agents over 60 days: the vectorised gaps equal a plain loop over the calendar."""
    rng = np.random.default_rng(5)
    days = pd.date_range("2024-03-01", "2024-04-29")
    rows = [
        (f"A{a}", d + pd.Timedelta(hours=int(rng.integers(8, 18))))
        for a in range(40)
        for d in days
        if rng.random() < 0.3 + 0.6 * (a % 3 == 0)
    ]
    patrols = pd.DataFrame(rows, columns=["worker_id", "ts"]).assign(
        ts=lambda f: f["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    )
    agents = pd.DataFrame(
        {"worker_id": [f"A{a}" for a in range(41)], "village_code": None, "township_code": T}
    )
    got = agent_patrol_gaps(patrols, agents, parse_period("2024-03-01/2024-04-29")).set_index("worker_id")
    for worker in agents["worker_id"]:
        seen = set(patrols.loc[patrols["worker_id"] == worker, "ts"].str[:10])
        run = longest = 0
        for d in days.strftime("%Y-%m-%d"):
            run = 0 if d in seen else run + 1
            longest = max(longest, run)
        assert got.loc[worker, "longest_gap_days"] == longest, worker
        assert got.loc[worker, "days_patrolled"] == len(seen)


@pytest.mark.slow
def test_demo_city_agent_gaps_found_exactly(demo_build):
    """Scale 1 (the session's demo city): every planted patrol gap, missing follow-up and overdue item, nothing else."""
    city = demo_build.city
    truth = city.truth["agents"]
    empty = pd.DataFrame(columns=["worker_id", "grid_code", "role", "valid_from", "valid_to"])
    agents = agents_of(city.workers)
    patrols = city.patrols[city.patrols["worker_id"].isin(agents["worker_id"])]
    f = run_audit(grids(), empty, patrols, city.workers, period_start="2024-10-01/2024-12-31").findings
    assert set(f.loc[f["kind"] == "agent_no_patrol_n_days", "worker_id"]) == {
        g["worker_id"] for g in truth["patrol_gaps"]
    }
    span = run_audit(
        grids(),
        empty,
        patrols.iloc[:0],
        city.workers,
        period_start="2021-01-01/2024-12-31",
        items=city.petition_items,
        visits=city.petition_visits,
    ).findings
    expected = {g["item_id"] for g in truth["followup_gaps"] if g["visit_due_by"] <= "2024-12-31T23:59:59"}
    assert set(span.loc[span["kind"] == "followup_not_within_n_days", "item_id"]) == expected
    assert set(span.loc[span["kind"] == "item_open_past_deadline", "item_id"]) == {
        g["item_id"] for g in truth["open_past_deadline"]
    }
