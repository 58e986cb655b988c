"""case_kpis on a hand-made case table: rates, medians, overdue at period end, 同比, petitions by persons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridmap import boundaries
from gridmap.coverage.kpi import case_kpis, monthly_trend, unit_codes
from gridmap.errors import InputError

V1, V2 = "150502001001", "150502001002"  # 科尔沁区, township 150502001 (real codes)
V3 = "150571001001"  # 开发区 老区社区: statistical county 150571, lies in 科尔沁区 150502
V4 = "150521100201"  # 科尔沁左翼中旗 保南村

COLUMNS = [
    "case_id",
    "kind",
    "status",
    "reported_at",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "due_at",
    "grid_code",
    "village_code",
    "township_code",
    "county_code",
    "persons",
    "followup_done",
    "satisfaction",
]


def case_table() -> pd.DataFrame:
    rows = [
        # December 2024 disputes
        (
            "d1",
            "dispute",
            "resolved",
            "2024-12-01T08:00:00",
            "2024-12-01T10:00:00",
            "2024-12-02T08:00:00",
            None,
            "2024-12-10T00:00:00",
            V1 + "001",
            None,
            None,
            None,
            1,
            1,
            5,
        ),
        (
            "d2",
            "dispute",
            "in_progress",
            "2024-12-05T08:00:00",
            "2024-12-05T12:00:00",
            None,
            None,
            "2024-12-20T00:00:00",
            V1 + "001",
            V1,
            None,
            None,
            1,
            0,
            None,
        ),
        (
            "d3",
            "dispute",
            "closed",
            "2024-12-10T08:00:00",
            "2024-12-10T09:00:00",
            None,
            "2024-12-13T08:00:00",
            "2024-12-30T00:00:00",
            None,
            V2,
            None,
            None,
            2,
            1,
            3,
        ),
        (
            "d4",
            "dispute",
            "reported",
            "2024-12-31T23:30:00",
            None,
            None,
            None,
            "2025-01-10T00:00:00",
            V3 + "001",
            None,
            None,
            None,
            1,
            0,
            None,
        ),
        (
            "d5",
            "dispute",
            "resolved",
            "2024-12-15T08:00:00",
            "2024-12-15T09:30:00",
            "2024-12-16T08:00:00",
            None,
            "2024-12-14T00:00:00",
            None,
            V4,
            None,
            "150521",
            1,
            0,
            4,
        ),
        # backlog: overdue and still open on 31 Dec (resolved only in January)
        (
            "d6",
            "dispute",
            "resolved",
            "2024-10-01T08:00:00",
            "2024-10-01T09:00:00",
            "2025-01-05T08:00:00",
            None,
            "2024-10-15T00:00:00",
            V1 + "001",
            None,
            None,
            None,
            1,
            0,
            None,
        ),
        # November, open, no due date: neither found in December nor overdue
        (
            "d7",
            "dispute",
            "unresolved",
            "2024-11-30T23:59:59",
            None,
            None,
            None,
            None,
            V1 + "001",
            None,
            None,
            None,
            1,
            0,
            None,
        ),
        # December 2024 petitions
        (
            "p1",
            "petition",
            "accepted",
            "2024-12-03T08:00:00",
            None,
            None,
            None,
            None,
            V1 + "001",
            None,
            None,
            None,
            3,
            0,
            None,
        ),
        (
            "p2",
            "petition",
            "resolved",
            "2024-12-04T08:00:00",
            None,
            "2024-12-05T08:00:00",
            None,
            None,
            None,
            V2,
            None,
            None,
            None,
            0,
            None,
        ),
        (
            "p3",
            "petition",
            "reported",
            "2024-12-06T08:00:00",
            None,
            None,
            None,
            None,
            V3 + "002",
            None,
            None,
            None,
            5,
            0,
            None,
        ),
        # December 2023 (同比 base)
        (
            "q1",
            "dispute",
            "resolved",
            "2023-12-02T08:00:00",
            None,
            "2023-12-03T08:00:00",
            None,
            None,
            V1 + "001",
            None,
            None,
            None,
            1,
            0,
            None,
        ),
        (
            "q2",
            "dispute",
            "closed",
            "2023-12-05T08:00:00",
            None,
            None,
            "2023-12-06T08:00:00",
            None,
            None,
            V2,
            None,
            None,
            1,
            0,
            None,
        ),
        (
            "q3",
            "dispute",
            "unresolved",
            "2023-12-06T08:00:00",
            None,
            None,
            None,
            None,
            None,
            V2,
            None,
            None,
            1,
            0,
            None,
        ),
        (
            "q4",
            "petition",
            "resolved",
            "2023-12-07T08:00:00",
            None,
            None,
            None,
            None,
            V1 + "001",
            None,
            None,
            None,
            2,
            0,
            None,
        ),
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def admin_table() -> pd.DataFrame:
    parts = [boundaries.city(), boundaries.counties(), boundaries.townships(), boundaries.villages()]
    return pd.concat([p[["code", "name", "level", "parent_code"]] for p in parts], ignore_index=True)


def test_county_kpis_by_hand():
    table = case_kpis(case_table(), "county", "2024-12").set_index("unit_code")
    assert list(table.index) == ["150502", "150521"]  # 150571 folded into 科尔沁区
    k = table.loc["150502"]
    assert (k["found"], k["resolved"]) == (4, 2)
    assert k["resolution_rate"] == pytest.approx(0.5)
    assert k["median_hours_to_accept"] == pytest.approx(2.0)  # 2 h, 4 h, 1 h; d4 never accepted
    assert k["median_hours_to_resolve"] == pytest.approx(48.0)  # d1 24 h, d3 72 h (closed_at stands in)
    assert k["overdue_open"] == 2  # d2 and the backlog d6; d5 was late but resolved, d4 not yet due
    assert k["followups_done"] == 2 and k["mean_satisfaction"] == pytest.approx(4.0)
    assert (k["petitions_cases"], k["petitions_persons"]) == (3, 9)  # 3 + 1 (blank counts once) + 5
    assert (k["found_prev"], k["resolved_prev"], k["petitions_persons_prev"]) == (3, 2, 2)
    assert k["found_yoy_abs"] == 1 and k["found_yoy_ratio"] == pytest.approx(4 / 3 - 1)
    assert k["resolution_rate_yoy_abs"] == pytest.approx(0.5 - 2 / 3)
    assert k["petitions_persons_yoy_ratio"] == pytest.approx(9 / 2 - 1)
    k = table.loc["150521"]
    assert (k["found"], k["resolved"], k["overdue_open"]) == (1, 1, 0)
    assert k["median_hours_to_resolve"] == pytest.approx(24.0)
    assert k["found_prev"] == 0 and np.isnan(k["found_yoy_ratio"])


def test_levels_add_up_and_derive_from_codes():
    cases = case_table()
    village = case_kpis(cases, "village", "2024-12").set_index("unit_code")
    assert village["found"].to_dict() == {V1: 2, V2: 1, V3: 1, V4: 1}
    township = case_kpis(cases, "township", "2024-12").set_index("unit_code")
    assert township["found"].to_dict() == {"150502001": 3, "150571001": 1, "150521100": 1}
    grid = case_kpis(cases, "grid", "2024-12").set_index("unit_code")
    assert grid.loc["unplaced", "found"] == 2  # d3, d5 have no grid
    city = case_kpis(cases, "city", "2024-12")
    assert city["unit_code"].tolist() == ["150500"] and city["found"].iloc[0] == 5
    for level in ("grid", "village", "township", "county"):
        assert case_kpis(cases, level, "2024-12")["found"].sum() == 5
        assert case_kpis(cases, level, "2024-12")["petitions_persons"].sum() == 9


def test_admin_chain_names_units_and_lists_empty_ones():
    admin = admin_table()
    table = case_kpis(case_table(), "county", "2024-12", admin_units=admin).set_index("unit_code")
    assert len(table) == 8 and "150571" not in table.index
    assert table.loc["150502", "unit_name"] == "科尔沁区" and table.loc["150502", "found"] == 4
    assert table.loc["150523", "found"] == 0 and np.isnan(table.loc["150523", "resolution_rate"])
    # the parent chain, not the prefix, decides: re-parent a township and its cases follow
    moved = admin.copy()
    moved.loc[moved["code"] == "150502001", "parent_code"] = "150523"
    table = case_kpis(case_table(), "county", "2024-12", admin_units=moved).set_index("unit_code")
    assert table.loc["150523", "found"] == 3 and table.loc["150502", "found"] == 1


def test_unit_codes_prefer_the_case_columns():
    cases = pd.DataFrame(
        {
            "grid_code": [V1 + "001", None],
            "village_code": [None, V2],
            "township_code": [None, "150502999"],
            "county_code": ["150571", None],
        }
    )
    assert unit_codes(cases, "county").tolist() == ["150502", "150502"]
    assert unit_codes(cases, "township").tolist() == ["150502001", "150502999"]
    with pytest.raises(InputError, match="level"):
        unit_codes(cases, "province")


def test_explicit_dates_quarter_and_no_yoy():
    cases = case_table()
    explicit = case_kpis(cases, "county", "2024-12-01", "2024-12-31")
    by_month = case_kpis(cases, "county", "2024-12")
    pd.testing.assert_frame_equal(explicit.drop(columns="period"), by_month.drop(columns="period"))
    quarter = case_kpis(cases, "county", "2024-Q4", compare_previous_year=False).set_index("unit_code")
    assert quarter.loc["150502", "found"] == 6  # December plus October's d6 and November's d7
    assert not any(c.endswith("_prev") for c in quarter.columns)


def test_monthly_trend():
    trend = monthly_trend(case_table(), "2024-Q4")
    assert trend.to_dict("list") == {
        "month": ["2024-10", "2024-11", "2024-12"],
        "found": [1, 1, 5],
        "resolved": [1, 0, 3],
    }


def test_bad_case_records_are_named():
    cases = case_table()
    cases.loc[2, "reported_at"] = "10/12/2024"
    with pytest.raises(InputError, match="reported_at.*d3"):
        case_kpis(cases, "county", "2024-12")
    with pytest.raises(InputError, match="kind"):
        case_kpis(cases.drop(columns="kind"), "county", "2024-12")


@pytest.mark.slow
def test_synthetic_city_2022_disputes_and_resolution(demo_build):
    """The demo city at scale 1: about 7,400 disputes in 2022, about 93 % resolved, from the records."""
    city = demo_build.city
    table = case_kpis(city.cases, "city", "2022", compare_previous_year=False)
    found, rate = int(table["found"].iloc[0]), float(table["resolution_rate"].iloc[0])
    assert 7100 <= found <= 7700, found
    assert 0.92 <= rate <= 0.94, rate
    # cases are not geocoded yet: place them in their true village and the county rows add up
    placed = city.cases.assign(
        village_code=city.case_truth.set_index("case_id")["village_code"]
        .reindex(city.cases["case_id"])
        .to_numpy()
    )
    counties = case_kpis(placed, "county", "2022", compare_previous_year=False, admin_units=city.admin_units)
    assert counties["found"].sum() == found and len(counties) == 8
    assert counties["found"].min() > 0
