"""gridmap.domain and gridmap.cases: one vocabulary, one validity rule, one case filter — and the API uses them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from api.auth import Principal, case_grid_scope
from gridmap import domain
from gridmap.cases import CaseFilter, filter_cases
from gridmap.domain import assignment_active
from gridmap.errors import InputError
from gridmap.store import Between


def test_open_and_resolved_partition_the_statuses():
    assert set(domain.OPEN_STATUSES) | set(domain.RESOLVED_STATUSES) == set(domain.CASE_STATUSES)
    assert not set(domain.OPEN_STATUSES) & set(domain.RESOLVED_STATUSES)
    status = pd.Series(["reported", "Resolved", "closed", "unresolved", None, "in_progress"])
    assert domain.is_resolved(status).tolist() == [False, True, True, False, False, False]
    assert domain.is_open(status).tolist() == [True, False, False, True, False, True]


def test_every_category_has_both_labels_and_synth_uses_them():
    from gridmap.synth import cases as synth_cases

    for kind, categories in domain.CATEGORIES.items():
        assert kind in domain.CASE_KINDS
        for key, (zh, en) in categories.items():
            assert key and zh and en
    assert synth_cases.KIND_CATEGORIES == {
        "dispute": domain.DISPUTE_CATEGORIES,
        "petition": domain.PETITION_CATEGORIES,
    }


def test_assignment_active_is_inclusive_on_both_ends():
    valid_from = ["2024-01-01", "2024-01-01", None, "2024-03-02", "2024-01-01T00:00:00"]
    valid_to = ["2024-03-01", "2024-02-29", "2024-03-01", None, ""]
    got = assignment_active(valid_from, valid_to, "2024-03-01")
    assert got.tolist() == [True, False, True, False, True]
    assert assignment_active("2024-03-01", "2024-03-01", dt.date(2024, 3, 1)).tolist() == [True]
    assert assignment_active([], [], "2024-03-01").tolist() == []


class _AssignmentStore:
    """The two reads case_grid_scope makes, answered from a frame."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.rows = rows

    def active_plan_id(self) -> str:
        return "P1"

    def read(self, table, where=None, columns=None):
        assert table == "assignments"
        rows = self.rows[
            (self.rows["worker_id"] == where["worker_id"]) & (self.rows["plan_id"] == where["plan_id"])
        ]
        return rows[columns]


def test_worker_still_sees_the_grid_on_the_last_day_of_the_assignment(monkeypatch):
    # regression: api/auth.py tested valid_to > today and dropped the grid on its last day
    monkeypatch.setattr("api.auth.now_local", lambda: "2024-06-30T17:00:00")
    rows = pd.DataFrame(
        {
            "worker_id": ["W1", "W1", "W1"],
            "plan_id": "P1",
            "grid_code": ["G-last-day", "G-ended", "G-future"],
            "valid_from": ["2024-01-01", "2024-01-01", "2024-07-01"],
            "valid_to": ["2024-06-30", "2024-06-29", None],
        }
    )
    worker = Principal("w1", role="grid_worker", worker_id="W1")
    assert case_grid_scope(_AssignmentStore(rows), worker) == ["G-last-day"]


CASES = pd.DataFrame(
    {
        "case_id": ["c1", "c2", "c3", "c4"],
        "kind": ["dispute", "dispute", "petition", "dispute"],
        "category": ["land", "wages", "petition_land", "land"],
        "status": ["closed", "unresolved", "reported", "resolved"],
        "reported_at": [
            "2024-01-05T10:00:00",
            "2024-02-01 00:00:00",
            "2024-02-20T08:00:00",
            "2024-03-01T00:00:00",
        ],
        "county_code": ["150502", "150502", "150521", "150502"],
        "grid_code": ["150502001001001", "150502001001002", "150521001001001", "150502001001001"],
    }
)


def test_one_case_filter_in_memory_and_for_the_store():
    f = CaseFilter.from_dict(
        {"kind": "dispute", "status": "open,resolved", "from": "2024-02", "to": "2024-03-01"}
    )
    assert f.start == "2024-02-01T00:00:00" and f.status == ("open", "resolved")
    assert filter_cases(CASES, f)["case_id"].tolist() == ["c2"]
    where = f.where()
    assert where["kind"] == ["dispute"]
    assert set(where["status"]) == set(domain.CASE_STATUSES)
    assert (where["reported_at"].lo, where["reported_at"].hi) == (
        "2024-02-01T00:00:00",
        "2024-03-01T00:00:00",
    )
    county = CaseFilter.from_dict({"admin": "150502"})
    assert county.where() == {"county_code": "150502"}
    assert filter_cases(CASES, county)["case_id"].tolist() == ["c1", "c2", "c4"]
    # a city (or the province) selects its counties by code prefix, in the store and in memory
    city = CaseFilter.from_dict({"admin": domain.AREA_CODE})
    assert city.where() == {"county_code": Between("1505", "1506")}
    assert filter_cases(CASES, city)["case_id"].tolist() == ["c1", "c2", "c3", "c4"]
    other_city = CaseFilter.from_dict({"admin": "150100"})  # 呼和浩特: in the province, not here
    assert other_city.where() == {"county_code": Between("1501", "1502")}
    assert filter_cases(CASES, other_city).empty
    province = CaseFilter.from_dict({"admin": domain.PROVINCE_CODE})
    assert (
        province.where() == {"county_code": Between("15", "16")} and len(filter_cases(CASES, province)) == 4
    )


def test_case_filter_scope_and_bad_input():
    f = CaseFilter.from_dict({"grid": "150502001001001"})
    assert f.where(["150502001001002"]) is None
    assert CaseFilter().where(["b", "a"]) == {"grid_code": ["a", "b"]}
    for bad in (
        {"kind": "riot"},
        {"status": "lost"},
        {"admin": "110101"},
        {"from": "last tuesday"},
        {"colour": "red"},
    ):
        with pytest.raises(InputError):
            CaseFilter.from_dict(bad)
    assert np.array_equal(CaseFilter().mask(CASES), np.ones(4, bool))


def test_config_serves_the_vocabulary(tmp_path):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from gridmap.store import open_store

    store = open_store(tmp_path / "empty.gpkg")
    try:
        with TestClient(create_app(store=store)) as client:
            body = client.get("/api/v1/config").json()
    finally:
        store.close()
    vocab = body["vocabulary"]
    assert vocab["area"]["code"] == domain.AREA_CODE
    assert [c["key"] for c in vocab["categories"]["petition"]] == list(domain.PETITION_CATEGORIES)
    assert vocab["categories"]["dispute"][0] == {
        "key": "family_marriage",
        "zh": "婚姻家庭",
        "en": "family & marriage",
    }
    assert vocab["open_statuses"] == list(domain.OPEN_STATUSES)
