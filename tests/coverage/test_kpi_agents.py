"""Petition-agency KPIs (信访代办): items taken/done, follow-up, satisfaction, petitions in cases and
persons with 同比 — by hand, and the report's 2022 figures from the scale-1 demo records on both backends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridmap.cli import main
from gridmap.coverage.kpi import governance_kpis, headline, item_kpis
from gridmap.errors import InputError

V1, V2 = "150502001001", "150502001002"
V3 = "150521100201"  # 科尔沁左翼中旗


def items_and_visits():
    items = pd.DataFrame(
        {
            "item_id": ["I1", "I2", "I3", "I4", "I5", "J1", "J2"],
            "case_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
            "agent_id": ["A1", "A1", "A2", "A2", "A3", "A1", "A2"],
            "status": ["done", "done", "done", "open", "done", "done", "done"],
            "taken_at": [
                "2022-01-05T09:00:00",
                "2022-03-01T09:00:00",
                "2022-06-01T09:00:00",
                "2022-12-20T09:00:00",
                "2022-12-01T09:00:00",
                "2021-04-01T09:00:00",
                "2021-05-01T09:00:00",
            ],
            "deadline_at": None,
            # I5 is done only in 2023: not done within 2022
            "done_at": [
                "2022-01-20T09:00:00",
                "2022-03-10T09:00:00",
                "2022-06-30T09:00:00",
                None,
                "2023-01-10T09:00:00",
                "2021-04-20T09:00:00",
                "2021-05-20T09:00:00",
            ],
            "village_code": [V1, V1, V2, V2, V3, V1, V2],
            "township_code": None,
            "county_code": None,
        }
    )
    visits = pd.DataFrame(
        {
            "visit_id": ["H1", "H2", "H3", "H4", "H5"],
            "item_id": ["I1", "I1", "I3", "I5", "J1"],
            "visited_at": [
                "2022-01-22T09:00:00",
                "2022-02-22T09:00:00",
                "2022-07-02T09:00:00",
                "2023-01-12T09:00:00",
                "2021-04-25T09:00:00",
            ],
            "visitor_id": "A1",
            "method": "phone",
            "satisfaction": [3, 5, 4, 2, 5],
        }
    )
    return items, visits


def test_item_kpis_by_hand():
    items, visits = items_and_visits()
    city = item_kpis(items, visits, "city", "2022").iloc[0]
    assert (city["items_taken"], city["items_done"]) == (5, 3)
    assert city["done_rate"] == pytest.approx(0.6)
    assert city["followed_up"] == 2 and city["followup_rate"] == pytest.approx(
        2 / 3
    )  # I1, I3; I2 never visited
    assert city["mean_visit_satisfaction"] == pytest.approx((5 + 4) / 2)  # I1's latest visit counts
    assert (city["items_taken_prev"], city["items_done_prev"]) == (2, 2)
    assert city["items_taken_yoy_ratio"] == pytest.approx(5 / 2 - 1)
    assert city["done_rate_yoy_abs"] == pytest.approx(0.6 - 1.0)
    county = item_kpis(items, visits, "county", "2022").set_index("unit_code")
    assert county["items_taken"].to_dict() == {"150502": 4, "150521": 1}
    cases = pd.DataFrame({"case_id": ["C1", "C2", "C3", "C4", "C5"], "persons": [1, 3, None, 2, 8]})
    agent = item_kpis(items, visits, "agent", "2022", cases=cases).set_index("unit_code")
    assert agent["items_taken"].to_dict() == {"A1": 2, "A2": 2, "A3": 1}
    assert agent["petitions_persons"].to_dict() == {"A1": 4, "A2": 3, "A3": 8}  # a blank counts 1
    assert agent["petitions_cases_prev"].to_dict() == {
        "A1": 1,
        "A2": 1,
        "A3": 0,
    }  # J1, J2 (2021): persons blank → 1
    assert agent.loc["A1", "petitions_persons_yoy_ratio"] == pytest.approx(4 / 1 - 1)
    assert agent.loc["A3", "items_done"] == 0 and np.isnan(agent.loc["A3", "followup_rate"])
    with pytest.raises(InputError, match="level"):
        item_kpis(items, visits, "grid", "2022")


def test_headline_prints_every_figure():
    from tests.coverage.test_kpi import case_table

    items, visits = items_and_visits()
    row = governance_kpis(case_table(), items, visits, "city", "2022").iloc[0]
    lines = "\n".join(headline(row))
    assert "agent items 5, done 3 (60.0%)" in lines and "followed up 66.7%" in lines
    assert "petitions 0 cases" in lines


def _copy(source, target, tables=("admin_units", "cases", "petition_items", "petition_visits")) -> None:
    with target.transaction():
        for table in tables:
            target.write(table, source.read(table), mode="replace")


@pytest.mark.slow
def test_report_figures_2022_from_the_records(demo_store, demo_build, store):
    """`gridmap kpi --level city --period 2022` on the scale-1 demo: the report's figures, both backends."""
    from gridmap.coverage.service import kpis_from_store

    _copy(demo_store, store)
    table = kpis_from_store(store, "city", "2022")
    row = table.iloc[0]
    assert row["found"] == 7444 and round(row["resolution_rate"], 2) == 0.93
    assert round(row["petitions_cases_yoy_ratio"], 2) == -0.40
    assert round(row["petitions_persons_yoy_ratio"], 2) == -0.27
    assert 480 <= row["items_taken"] <= 530 and 0.85 <= row["done_rate"] <= 0.92
    # every figure is counted from the records, not read from the generator's tables
    cases = store.read("cases", columns=["case_id", "kind", "reported_at", "persons"])
    petitions = cases[cases["kind"] == "petition"]
    by_year = petitions.groupby(petitions["reported_at"].str[:4])
    assert row["petitions_persons"] == by_year["persons"].sum()["2022"]
    items = store.read("petition_items", columns=["item_id", "taken_at", "done_at"])
    in_2022 = items[items["taken_at"].str.startswith("2022")]
    assert row["items_taken"] == len(in_2022) and row["items_done"] == (in_2022["done_at"] < "2023").sum()
    counties = kpis_from_store(store, "county", "2022")
    assert counties["items_taken"].sum() == row["items_taken"] and len(counties) == 8
    agents = kpis_from_store(store, "agent", "2022")
    assert agents["items_taken"].sum() == row["items_taken"]


@pytest.mark.slow
def test_kpi_command_prints_the_report_figures(demo_build, capsys):
    assert main(["kpi", "--level", "city", "--period", "2022", "--store", str(demo_build.path)]) == 0
    out = capsys.readouterr().out
    assert "disputes found 7,444" in out and "(93.0%)" in out
    assert "同比 −40.0%" in out and "同比 −27.0%" in out
    assert "agent items 505, done 440 (87.1%)" in out
