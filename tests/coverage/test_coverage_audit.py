"""run_audit on a hand-made village: known answers, and every finding recomputed naively from the records."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod
from shapely.geometry import Point, box

from gridmap.coverage import AuditThresholds, run_audit
from gridmap.errors import InputError

V = "150502001001"
BOXES = {
    V + "001": (122.20, 43.60, 122.21, 43.61),
    V + "002": (122.21, 43.60, 122.22, 43.61),
    V + "003": (122.20, 43.61, 122.21, 43.62),
    V + "004": (122.21, 43.61, 122.22, 43.62),
    V + "005": (122.22, 43.60, 122.23, 43.61),
}
G1, G2, G3, G4, G5 = sorted(BOXES)
HOUSEHOLDS = {G1: 400, G2: 500, G3: 450, G4: 300, G5: 800}
PERIOD = "2024-06"
THRESHOLDS = AuditThresholds(max_open_cases_per_worker=3)


def lattice(code: str) -> list[tuple[float, float]]:
    """A 5×5 lattice of address points inside a grid (≈161 m apart east-west, 222 m north-south)."""
    x0, y0, _, _ = BOXES[code]
    return [(x0 + 0.001 + 0.002 * i, y0 + 0.001 + 0.002 * j) for j in range(5) for i in range(5)]


def build_village():
    """Five grids, six workers and a month of check-ins with planted problems.

    * G4 has no active full-time worker (W6 left, W1's assignment there ended in May).
    * W3 (G3) is away 11–20 June: G3 is not visited for 10 days; on 21–25 June W3 also
      checks in twice a day in G4 — 10 of 50 check-ins outside their own grid.
    * W2 only patrols the south-west corner of G2: 1 of 25 addresses within 150 m.
    * W4 holds G1, G2, G3 and G5: 4 grids, 2,150 households, 4 open cases at month end.
    * W5 is a cadre over every grid (secondary role: staffs nothing, carries no load).
    """
    grids = gpd.GeoDataFrame(
        {
            "plan_id": "P1",
            "code": list(BOXES),
            "village_code": V,
            "households": [HOUSEHOLDS[c] for c in BOXES],
        },
        geometry=[box(*b) for b in BOXES.values()],
        crs="EPSG:4326",
    )
    workers = pd.DataFrame(
        {
            "worker_id": ["W1", "W2", "W3", "W4", "W5", "W6"],
            "role": ["full_time"] * 4 + ["cadre", "full_time"],
            "village_code": V,
            "active": [1, 1, 1, 1, 1, 0],
        }
    )
    rows = [
        ("W1", G1, "full_time", "2024-01-01", None),
        ("W1", G4, "full_time", "2023-01-01", "2024-05-31"),
        ("W2", G2, "full_time", "2024-01-01", None),
        ("W3", G3, "full_time", "2024-01-01", ""),
        *[("W4", g, "full_time", "2024-01-01", None) for g in (G1, G2, G3, G5)],
        *[("W5", g, "cadre", "2024-01-01", None) for g in BOXES],
        ("W6", G4, "full_time", "2024-01-01", None),
    ]
    assignments = pd.DataFrame(rows, columns=["worker_id", "grid_code", "role", "valid_from", "valid_to"])
    assignments.insert(0, "assignment_id", [f"A{i}" for i in range(len(assignments))])
    assignments.insert(2, "plan_id", "P1")
    checks = []
    for day in range(1, 31):
        ts = f"2024-06-{day:02d}T09:00:00"
        checks += [("W1", ts, x, y) for k, (x, y) in enumerate(lattice(G1)) if k % 5 == day % 5]
        checks += [("W2", ts, 122.2105, 43.6005), ("W2", f"2024-06-{day:02d}T15:00:00", 122.2108, 43.6003)]
        if not 11 <= day <= 20:
            g3 = lattice(G3)
            checks += [
                ("W3", ts, *g3[(2 * day) % 25]),
                ("W3", f"2024-06-{day:02d}T10:00:00", *g3[(2 * day + 1) % 25]),
            ]
        if 21 <= day <= 25:
            checks += [
                ("W3", f"2024-06-{day:02d}T17:00:00", 122.215, 43.615),
                ("W3", f"2024-06-{day:02d}T18:00:00", 122.216, 43.616),
            ]
        checks += [("W4", ts, x, y) for x, y in lattice(G5)]
    checks.append(("W1", "2024-05-20T09:00:00", 122.205, 43.605))  # before the period
    checks.append(("W1", "2024-06-15T10:00:00", np.nan, np.nan))  # no coordinates
    patrols = gpd.GeoDataFrame(
        {
            "patrol_id": [f"P{i}" for i in range(len(checks))],
            "worker_id": [c[0] for c in checks],
            "ts": [c[1] for c in checks],
            "raw_lon": [c[2] for c in checks],
            "raw_lat": [c[3] for c in checks],
            "raw_crs": "wgs84",
        },
        geometry=[Point(c[2], c[3]) if np.isfinite(c[2]) else None for c in checks],
        crs="EPSG:4326",
    )
    addresses = gpd.GeoDataFrame(
        {"address_id": [f"{c}-{k}" for c in BOXES for k in range(25)], "households": 1},
        geometry=[Point(p) for c in BOXES for p in lattice(c)],
        crs="EPSG:4326",
    )
    cases = pd.DataFrame(
        {
            "case_id": ["C1", "C2", "C3", "C4", "C5", "C6"],
            "kind": "dispute",
            "status": ["reported", "in_progress", "reported", "resolved", "resolved", "accepted"],
            "reported_at": ["2024-06-02T10:00:00"] * 5 + ["2024-07-02T10:00:00"],
            "resolved_at": [None, None, None, "2024-06-10T10:00:00", "2024-07-03T10:00:00", None],
            "grid_code": [G5, G5, G1, G1, G1, G2],
        }
    )
    return grids, workers, assignments, patrols, addresses, cases


@pytest.fixture(scope="module")
def village():
    return build_village()


@pytest.fixture(scope="module")
def result(village):
    grids, workers, assignments, patrols, addresses, cases = village
    return run_audit(
        grids, assignments, patrols, workers, cases, None, PERIOD, thresholds=THRESHOLDS, targets=addresses
    )


def _keys(findings: pd.DataFrame) -> set[tuple]:
    return {
        (k, g, w if isinstance(w, str) and w else None, round(float(f), 6))
        for k, g, w, f in zip(
            findings["kind"], findings["grid_code"], findings["worker_id"], findings["figure"], strict=True
        )
    }


def test_known_answers(result):
    joined = ",".join([G1, G2, G3, G5])
    assert _keys(result.findings) == {
        ("no_active_worker", G4, None, 0.0),
        ("not_visited_n_days", G3, "W3,W4", 10.0),
        ("not_visited_n_days", G4, None, 20.0),  # only W3's stray check-ins on 21–25 June
        ("worker_over_grid_limit", joined, "W4", 4.0),
        ("worker_over_household_limit", joined, "W4", 2150.0),
        ("worker_over_open_case_limit", joined, "W4", 4.0),
        ("patrol_does_not_reach", G2, "W2,W4", 0.04),
        ("patrols_outside_own_grid", G3, "W3", 0.2),
    }
    assert result.unlocated_checkins == 1
    row = result.findings.set_index("kind").loc["no_active_worker"]
    assert "无在岗专职网格员" in row["message_zh"] and "no active full-time grid worker" in row["message_en"]
    status = result.grids.set_index("grid_code")["status"]
    assert status.to_dict() == {
        G1: "ok",
        G2: "patrol_does_not_reach",
        G3: "not_visited_n_days",
        G4: "no_active_worker",
        G5: "ok",
    }


# --- the same findings recomputed from the raw records, one record at a time ------------------


def _naive_grid(lon: float, lat: float) -> str | None:
    point = Point(lon, lat)
    return next((code for code in sorted(BOXES) if box(*BOXES[code]).covers(point)), None)


def _in_force(row, day: date) -> bool:
    start = date.fromisoformat(row.valid_from)
    end = date.fromisoformat(row.valid_to) if isinstance(row.valid_to, str) and row.valid_to else date.max
    return start <= day <= end


def _overlaps(row, first: date, last: date) -> bool:
    start = date.fromisoformat(row.valid_from)
    end = date.fromisoformat(row.valid_to) if isinstance(row.valid_to, str) and row.valid_to else date.max
    return start <= last and end >= first


def naive_findings(grids, workers, assignments, patrols, addresses, cases, t: AuditThresholds) -> set[tuple]:
    first, last = date(2024, 6, 1), date(2024, 6, 30)
    active = {w for w, a in zip(workers["worker_id"], workers["active"], strict=True) if a}
    rows = [r for r in assignments.itertuples() if r.worker_id in active]
    staff = {
        g: sorted(
            {
                r.worker_id
                for r in rows
                if r.grid_code == g and r.role in t.worker_roles and _in_force(r, last)
            }
        )
        for g in BOXES
    }
    out = set()
    for g in sorted(BOXES):
        if not staff[g]:
            out.add(("no_active_worker", g, None, 0.0))

    checks = []
    for r in patrols.itertuples():
        if not np.isfinite(r.raw_lon):
            continue
        ts = datetime.fromisoformat(r.ts)
        if first <= ts.date() <= last:
            checks.append((r.worker_id, ts.date(), r.raw_lon, r.raw_lat, _naive_grid(r.raw_lon, r.raw_lat)))
    for g in sorted(BOXES):
        visited = {c[1] for c in checks if c[4] == g}
        longest = run = 0
        day = first
        while day <= last:
            run = 0 if day in visited else run + 1
            longest = max(longest, run)
            day += timedelta(days=1)
        if longest > t.max_days_unvisited:
            out.add(("not_visited_n_days", g, ",".join(staff[g]) or None, float(longest)))

    end_ts = datetime(2024, 7, 1)
    open_by_grid = {g: 0 for g in BOXES}
    for c in cases.itertuples():
        resolved = isinstance(c.resolved_at, str) and datetime.fromisoformat(c.resolved_at) < end_ts
        if datetime.fromisoformat(c.reported_at) < end_ts and not resolved:
            open_by_grid[c.grid_code] += 1
    loads = {}
    for r in rows:
        if r.role in t.worker_roles and _in_force(r, last):
            loads.setdefault(r.worker_id, set()).add(r.grid_code)
    for w, gs in loads.items():
        joined = ",".join(sorted(gs))
        for kind, figure, limit in (
            ("worker_over_grid_limit", len(gs), t.max_grids_per_worker),
            ("worker_over_household_limit", sum(HOUSEHOLDS[g] for g in gs), t.max_households_per_worker),
            ("worker_over_open_case_limit", sum(open_by_grid[g] for g in gs), t.max_open_cases_per_worker),
        ):
            if figure > limit:
                out.add((kind, joined, w, float(figure)))

    geod = Geod(ellps="WGS84")
    for g in sorted(BOXES):
        workers_in_period = {
            r.worker_id
            for r in rows
            if r.grid_code == g and r.role in t.worker_roles and _overlaps(r, first, last)
        }
        if not workers_in_period:
            continue
        own_checks = [
            c
            for c in checks
            for r in rows
            if c[0] == r.worker_id and r.grid_code == g and r.role in t.worker_roles and _in_force(r, c[1])
        ]
        targets = [(p.x, p.y) for p in addresses.geometry if _naive_grid(p.x, p.y) == g]
        reached = 0
        check_lon = np.array([c[2] for c in own_checks])
        check_lat = np.array([c[3] for c in own_checks])
        for x, y in targets:  # geodesic metres on the ellipsoid, not the audit's projected metres
            distance = geod.inv(
                np.full(len(own_checks), x), np.full(len(own_checks), y), check_lon, check_lat
            )[2]
            if len(own_checks) and distance.min() <= t.reach_distance_m:
                reached += 1
        share = reached / len(targets)
        if share < t.min_reach_share:
            out.add(("patrol_does_not_reach", g, ",".join(sorted(workers_in_period)), round(share, 6)))

    every_row = list(assignments.itertuples())
    for w in sorted({c[0] for c in checks}):
        mine = [c for c in checks if c[0] == w]
        outside = 0
        for c in mine:
            own = [r.grid_code for r in every_row if r.worker_id == w and _in_force(r, c[1])]
            if not any(box(*BOXES[g]).covers(Point(c[2], c[3])) for g in own):
                outside += 1
        share = outside / len(mine)
        if share > t.max_outside_share:
            own_now = sorted(loads.get(w, ())) or sorted(
                {r.grid_code for r in rows if r.worker_id == w and _in_force(r, last)}
            )
            out.add(("patrols_outside_own_grid", ",".join(own_now), w, round(share, 6)))
    return out


def test_every_finding_recomputed_independently(village, result):
    expected = naive_findings(*village, THRESHOLDS)
    assert _keys(result.findings) == expected


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_days_unvisited": 12},
        {"max_grids_per_worker": 4, "max_households_per_worker": 2000},
        {"min_reach_share": 0.03},
        {"max_outside_share": 0.25},
        {"worker_roles": ("full_time", "cadre")},
        {"reach_distance_m": 170.0},
        {"max_open_cases_per_worker": 1},
    ],
)
def test_findings_follow_the_thresholds(village, overrides):
    grids, workers, assignments, patrols, addresses, cases = village
    thresholds = AuditThresholds(**{"max_open_cases_per_worker": 3, **overrides})
    got = run_audit(
        grids, assignments, patrols, workers, cases, None, PERIOD, thresholds=thresholds, targets=addresses
    )
    assert _keys(got.findings) == naive_findings(*village, thresholds)


def test_grid_summary_matches_records(result):
    table = result.grids.set_index("grid_code")
    assert table.loc[G3, "days_visited"] == 20 and table.loc[G3, "longest_gap_days"] == 10
    assert table.loc[G3, "visit_share"] == pytest.approx(20 / 30)
    assert table.loc[G4, "visits"] == 10 and table.loc[G4, "foreign_visits"] == 10
    assert table.loc[G4, "last_visit"] == "2024-06-25T18:00:00"
    assert table.loc[G1, "visits"] == 150 and table.loc[G1, "own_visits"] == 150
    assert table.loc[G2, "reach_share"] == pytest.approx(1 / 25)
    assert table.loc[G1, "open_cases"] == 2 and table.loc[G5, "open_cases"] == 2
    people = result.workers.set_index("worker_id")
    assert people.loc["W3", "outside_own_grids"] == 10 and people.loc["W3", "checkins"] == 50
    assert people.loc["W4", "households"] == 2150


def test_thresholds_come_from_settings():
    class FakeSettings:
        audit_max_days_unvisited = 3
        audit_max_grids_per_worker = 2
        audit_max_households_per_worker = 900
        audit_max_open_cases_per_worker = 5
        audit_reach_distance_m = 80.0
        audit_min_reach_share = 0.5

    t = AuditThresholds.from_settings(FakeSettings(), max_grids_per_worker=None, min_reach_share=0.6)
    assert (t.max_days_unvisited, t.max_grids_per_worker, t.max_households_per_worker) == (3, 2, 900)
    assert (t.reach_distance_m, t.min_reach_share, t.max_outside_share) == (80.0, 0.6, 0.1)
    defaults = AuditThresholds.from_settings()
    assert defaults.max_days_unvisited == 7 and defaults.min_reach_share == 0.8


def test_bad_thresholds_and_input_are_reported(village):
    with pytest.raises(InputError, match="share"):
        AuditThresholds(min_reach_share=80)
    with pytest.raises(InputError, match="worker_roles"):
        AuditThresholds(worker_roles=("boss",))
    grids, workers, assignments, patrols, addresses, cases = village
    broken = patrols.copy()
    broken.loc[3, "ts"] = "yesterday"
    with pytest.raises(InputError, match="patrols.ts.*P3"):
        run_audit(grids, assignments, broken, workers, cases, None, PERIOD, thresholds=THRESHOLDS)
    with pytest.raises(InputError, match="period"):
        run_audit(grids, assignments, patrols, workers, cases, None, "June", thresholds=THRESHOLDS)


def test_other_plans_are_ignored_and_households_can_be_given(village):
    grids, workers, assignments, patrols, addresses, cases = village
    # W2 staffs G4 — but in another plan, so G4 stays without a worker in plan P1
    other_plan = assignments.iloc[[2]].assign(assignment_id="X", plan_id="P0", grid_code=G4)
    households = pd.DataFrame({"grid_code": [G1, G2, G3, G5], "households": [100, 100, 100, 100]})
    got = run_audit(
        grids,
        pd.concat([assignments, other_plan]),
        patrols,
        workers,
        cases,
        households,
        PERIOD,
        thresholds=THRESHOLDS,
        targets=addresses,
    )
    keys = {(k, g) for k, g in zip(got.findings["kind"], got.findings["grid_code"], strict=True)}
    assert ("no_active_worker", G4) in keys
    assert "worker_over_household_limit" not in set(got.findings["kind"])
    assert got.workers.set_index("worker_id").loc["W4", "households"] == 400
    assert got.grids.set_index("grid_code").loc[G4, "households"] == 0  # not in the given table


def test_no_records_at_all_flags_every_grid(village):
    grids, workers, assignments, patrols, addresses, cases = village
    got = run_audit(
        grids,
        assignments.iloc[0:0],
        patrols.iloc[0:0],
        workers,
        cases.iloc[0:0],
        None,
        PERIOD,
        thresholds=THRESHOLDS,
        targets=addresses,
    )
    counts = got.counts()
    assert counts["no_active_worker"] == 5 and counts["not_visited_n_days"] == 5
    stale = got.findings[got.findings["kind"] == "not_visited_n_days"]
    assert (stale["figure"] == 30).all()
    assert stale["message_zh"].str.contains("最近一次：期内无").all()
    assert not stale["message_en"].str.contains("nan").any()
    assert counts.drop(["no_active_worker", "not_visited_n_days"]).sum() == 0
