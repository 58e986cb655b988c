from datetime import date

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from gridmap.coverage.assignments import (
    ASSIGNMENT_COLUMNS,
    active_assignments,
    assign_workers,
    assignments_in_period,
    inherit_assignments,
    overlap_mapping,
)
from gridmap.coverage.periods import parse_period
from gridmap.errors import InputError

VA, VB, VC = "150502001001", "150502001002", "150502001003"


def _grids():
    codes = [
        VA + "001",
        VA + "002",
        VA + "003",
        VB + "001",
        VB + "002",
        VC + "001",
        VC + "002",
        VC + "003",
        VC + "004",
    ]
    return pd.DataFrame({"code": codes, "plan_id": "P1"})


def _workers():
    return pd.DataFrame(
        {
            "worker_id": ["a1", "a2", "b1", "b2", "b3", "ca", "p1", "p2", "gone", "lost"],
            "role": [
                "full_time",
                "full_time",
                "full_time",
                "full_time",
                "full_time",
                "cadre",
                "police",
                "police",
                "full_time",
                "full_time",
            ],
            "village_code": [VA, VA, VB, VB, VB, VC, VC, VC, VA, "150502009009"],
            "active": [1, 1, 1, 1, 1, 1, 1, 1, 0, 1],
            "hired_at": "2021-03-04T08:00:00",
        }
    )


def test_full_time_one_grid_each_and_understaffed_villages_leave_gaps():
    out = assign_workers(_workers(), _grids(), seed=3)
    assert list(out.columns) == ASSIGNMENT_COLUMNS
    full = out[out["role"] == "full_time"]
    # every full-time worker holds exactly one grid of their own village
    assert full.groupby("worker_id").size().to_dict() == {"a1": 1, "a2": 1, "b1": 1, "b2": 1, "b3": 1}
    assert (
        full["grid_code"].str[:12]
        == full["worker_id"].map({"a1": VA, "a2": VA, "b1": VB, "b2": VB, "b3": VB})
    ).all()
    # village A: 3 grids, 2 workers → one grid without a full-time worker; B: 2 grids, 3 workers → both covered
    assert full[full["grid_code"].str.startswith(VA)]["grid_code"].nunique() == 2
    assert set(full[full["grid_code"].str.startswith(VB)]["grid_code"]) == {VB + "001", VB + "002"}
    # the inactive worker and the worker of a village without grids get nothing
    assert not out["worker_id"].isin(["gone", "lost"]).any()
    assert (out["valid_from"] == "2021-03-04").all() and out["valid_to"].isna().all()
    assert (out["plan_id"] == "P1").all() and out["assignment_id"].is_unique


def test_secondary_roles_cover_several_grids():
    out = assign_workers(_workers(), _grids(), seed=3)
    cadre = out[out["worker_id"] == "ca"]
    assert sorted(cadre["grid_code"]) == [VC + f"{i:03d}" for i in range(1, 5)]
    police = out[out["role"] == "police"].groupby("worker_id")["grid_code"].apply(sorted).to_dict()
    # two police over four grids: contiguous blocks of two, together all four
    assert police == {"p1": [VC + "001", VC + "002"], "p2": [VC + "003", VC + "004"]}


def test_assignment_is_reproducible_and_seeded():
    a = assign_workers(_workers(), _grids(), seed=11, valid_from="2024-01-01")
    b = assign_workers(_workers(), _grids(), seed=11, valid_from="2024-01-01")
    pd.testing.assert_frame_equal(a, b)
    layouts = {tuple(assign_workers(_workers(), _grids(), seed=s)["grid_code"]) for s in range(8)}
    assert len(layouts) > 1


def test_unknown_role_is_refused():
    workers = _workers()
    workers.loc[0, "role"] = "boss"
    with pytest.raises(InputError, match="boss"):
        assign_workers(workers, _grids())


def _rows():
    return pd.DataFrame(
        {
            "assignment_id": ["r1", "r2", "r3", "r4"],
            "worker_id": ["w1", "w2", "w3", "w4"],
            "plan_id": "P1",
            "grid_code": ["G1", "G2", "G3", "G4"],
            "role": "full_time",
            "valid_from": ["2024-01-01", "2024-01-01", "2024-03-01", "2023-01-01"],
            "valid_to": [None, "", "2024-06-30", "2023-12-31"],
        }
    )


def test_active_assignments_inclusive_dates_and_open_ends():
    rows = _rows()
    assert set(active_assignments(rows, "2024-06-30")["worker_id"]) == {"w1", "w2", "w3"}
    assert set(active_assignments(rows, date(2024, 7, 1))["worker_id"]) == {"w1", "w2"}
    assert set(active_assignments(rows, "2023-12-31")["worker_id"]) == {"w4"}
    assert set(assignments_in_period(rows, parse_period("2023-12-15/2024-01-05"))["worker_id"]) == {
        "w1",
        "w2",
        "w4",
    }
    rows.loc[2, "valid_to"] = "2024-02-01"
    with pytest.raises(InputError, match="r3"):
        active_assignments(rows, "2024-06-01")
    rows.loc[2, "valid_to"] = "soon"
    with pytest.raises(InputError, match="valid_to"):
        active_assignments(rows, "2024-06-01")


def test_inherit_on_split_and_merge_keeps_history():
    history = pd.DataFrame(
        {
            "assignment_id": ["x", "y", "z", "u", "old"],
            "worker_id": ["wx", "wy", "wz", "wu", "wx"],
            "plan_id": "P1",
            "grid_code": ["X", "Y", "Z", "U", "Z"],
            "role": ["full_time", "full_time", "part_time", "full_time", "full_time"],
            "valid_from": ["2023-01-01", "2023-01-01", "2023-01-01", "2023-01-01", "2022-01-01"],
            "valid_to": [None, None, "2025-12-31", None, "2022-12-31"],
        }
    )
    mapping = pd.DataFrame(
        {  # X split into X1/X2 (most households in X2), Y + Z merged into M, U unchanged
            "old_code": ["X", "X", "Y", "Z", "U"],
            "new_code": ["X1", "X2", "M", "M", "U"],
            "households": [120, 280, 300, 250, 400],
        }
    )
    out = inherit_assignments(history, mapping, "2024-07-01", new_plan_id="P2")
    assert list(out.columns) == ASSIGNMENT_COLUMNS
    closed = out.set_index("assignment_id").loc[["x", "y", "z", "u"], "valid_to"]
    assert (closed == "2024-06-30").all()
    assert out.set_index("assignment_id").loc["old", "valid_to"] == "2022-12-31"  # history untouched
    new = out[out["valid_from"] == "2024-07-01"].set_index("worker_id")
    assert new["grid_code"].to_dict() == {"wx": "X2", "wy": "M", "wz": "M", "wu": "U"}
    assert (new["plan_id"] == "P2").all()
    assert new.loc["wz", "valid_to"] == "2025-12-31" and new.loc["wz", "role"] == "part_time"
    assert len(out) == len(history) + 4 and out["assignment_id"].is_unique
    # on the day before, the old grids are in force; from the effective date, the new ones
    assert set(active_assignments(out, "2024-06-30")["grid_code"]) == {"X", "Y", "Z", "U"}
    assert set(active_assignments(out, "2024-07-01")["grid_code"]) == {"X2", "M", "U"}


def test_overlap_mapping_weights_households_then_area():
    old = gpd.GeoDataFrame({"code": ["X"]}, geometry=[box(0, 0, 0.03, 0.01)], crs="EPSG:4326")
    new = gpd.GeoDataFrame(
        {"code": ["X1", "X2"]}, geometry=[box(0, 0, 0.02, 0.01), box(0.02, 0, 0.03, 0.01)], crs="EPSG:4326"
    )
    by_area = overlap_mapping(old, new)
    assert by_area["area_m2"].iloc[0] == pytest.approx(2 * by_area["area_m2"].iloc[1], rel=1e-3)
    history = pd.DataFrame(
        {
            "assignment_id": ["x"],
            "worker_id": ["w"],
            "plan_id": "P1",
            "grid_code": ["X"],
            "role": "full_time",
            "valid_from": ["2024-01-01"],
            "valid_to": [None],
        }
    )
    assert inherit_assignments(history, by_area, "2024-05-01")["grid_code"].iloc[-1] == "X1"
    # most households live in the smaller part → the worker follows the households
    homes = gpd.GeoDataFrame(
        {"households": [10, 10, 200]},
        geometry=[Point(0.005, 0.005), Point(0.015, 0.005), Point(0.025, 0.005)],
        crs="EPSG:4326",
    )
    by_homes = overlap_mapping(old, new, homes)
    assert by_homes.set_index("new_code")["households"].to_dict() == {"X1": 20.0, "X2": 200.0}
    assert inherit_assignments(history, by_homes, "2024-05-01")["grid_code"].iloc[-1] == "X2"
