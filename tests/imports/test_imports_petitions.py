"""Petition items (信访代办) and follow-up visits (回访) imported like cases: rows, re-import, undo."""

from __future__ import annotations

import pandas as pd
import pytest

from gridmap.errors import InputError
from gridmap.imports.kinds import KINDS, run_import

VILLAGE = "150502100001"


def _agents(store):
    store.write(
        "workers",
        pd.DataFrame(
            {
                "worker_id": ["A1", "A2", "W1"],
                "name": ["甲", "乙", "丙"],
                "role": ["agent", "agent", "full_time"],
                "village_code": [VILLAGE, None, VILLAGE],
                "township_code": [VILLAGE[:9]] * 3,
                "active": [1, 1, 1],
            }
        ),
    )


def _csv_gbk(path, rows):
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False, encoding="gbk")
    return path


def _xlsx(path, rows):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _rows(store, report):
    rows = store.read("import_rows", where={"batch_id": report.batch_id}, order_by=["row_number"])
    return {
        r.external_id: (r.status, r.reason if isinstance(r.reason, str) else "") for r in rows.itertuples()
    }


def _table(store, table, key):
    return store.read(table).set_index(key).sort_index()


ITEMS = [
    ["编号", "代办员", "受理日期", "办结日期", "期限", "状态"],
    ["PI-1", "A1", "2022/3/5", "2022-03-20", "30", "办结"],
    ["PI-2", "A2", "2022年4月1日", "", "", "在办"],
    ["PI-3", "NOBODY", "2022-05-01", "", "", ""],
    ["PI-4", "A1", "2022-13-45", "", "", ""],
    ["PI-5", "W1", "2022-05-02", "", "", ""],
]
VISITS = [
    ["回访编号", "事项编号", "回访日期", "回访人", "回访方式", "满意度"],
    ["V1", "PI-1", "2022-03-25", "A1", "电话", 5],
    ["V2", "PI-9", "2022-03-25", "A1", "上门", 4],
    ["V3", "PI-2", "2022-04-10", "A2", "=A1", 3],
    ["V4", "PI-2", "2022-04-11", "X9", "微信", 4],
    ["V5", "PI-3", "2022-05-10", "A1", "phone", 4],
    ["V6", "PI-2", "2022-04-12", "A2", "传真", 9],
]


def test_registered():
    assert {"petition_items", "petition_visits"} <= set(KINDS)


def test_items_and_visits_rows_reimport_partial_and_undo(store, tmp_path):
    _agents(store)
    items = run_import(store, "petition_items", _csv_gbk(tmp_path / "代办.csv", ITEMS))
    got = _rows(store, items)
    assert got["PI-1"] == ("accepted", "") and got["PI-2"] == ("accepted", "")
    assert (
        got["PI-3"][0] == "rejected"
        and "not a petition agent" in got["PI-3"][1]
        and "代办员" in got["PI-3"][1]
    )
    assert (
        got["PI-4"][0] == "rejected"
        and "taken_at is not an ISO date" in got["PI-4"][1]
        and "受理日期" in got["PI-4"][1]
    )
    assert got["PI-5"][0] == "rejected" and "not a petition agent" in got["PI-5"][1]
    assert (items.accepted, items.rejected, items.inserted) == (2, 3, 2)
    stored = _table(store, "petition_items", "item_id")
    assert list(stored.index) == ["PI-1", "PI-2"]
    assert stored.loc["PI-1", ["status", "taken_at", "done_at", "deadline_at"]].tolist() == [
        "done",
        "2022-03-05T00:00:00",
        "2022-03-20T00:00:00",
        "2022-04-04T00:00:00",
    ]
    assert stored.loc["PI-2", "status"] == "open" and pd.isna(stored.loc["PI-2", "done_at"])
    assert (
        stored.loc["PI-1", "village_code"] == VILLAGE and stored.loc["PI-2", "township_code"] == VILLAGE[:9]
    )

    # the same file again changes nothing
    again = run_import(store, "petition_items", _csv_gbk(tmp_path / "代办.csv", ITEMS))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    pd.testing.assert_frame_equal(_table(store, "petition_items", "item_id"), stored)

    visits = run_import(store, "petition_visits", _xlsx(tmp_path / "回访.xlsx", VISITS))
    got = _rows(store, visits)
    assert got["V1"] == ("accepted", "")
    assert got["V2"][0] == "rejected" and "no item 'PI-9'" in got["V2"][1]
    assert got["V3"][0] == "rejected" and "formula in column 回访方式" in got["V3"][1]
    assert got["V4"][0] == "review" and "not on the roster" in got["V4"][1]
    assert got["V5"][0] == "rejected" and "no item 'PI-3'" in got["V5"][1]  # its item was rejected
    assert got["V6"][0] == "rejected" and "method must be one of" in got["V6"][1]
    stored_visits = _table(store, "petition_visits", "visit_id")
    assert list(stored_visits.index) == ["V1", "V4"]
    assert stored_visits.loc["V1", ["item_id", "visited_at", "visitor_id", "method"]].tolist() == [
        "PI-1",
        "2022-03-25T00:00:00",
        "A1",
        "phone",
    ]
    assert int(stored_visits.loc["V1", "satisfaction"]) == 5 and stored_visits.loc["V4", "method"] == "wechat"
    assert run_import(store, "petition_visits", _xlsx(tmp_path / "回访.xlsx", VISITS)).unchanged == 2

    # a partial re-import changes only its columns: a done date (and so the status), a score
    done = run_import(
        store,
        "petition_items",
        _csv_gbk(tmp_path / "办结.csv", [["事项编号", "办结日期"], ["PI-2", "2022-04-20"]]),
    )
    assert (done.accepted, done.updated) == (1, 1)
    after = _table(store, "petition_items", "item_id")
    assert after.loc["PI-2", ["status", "done_at"]].tolist() == ["done", "2022-04-20T00:00:00"]
    keep = ["agent_id", "taken_at", "deadline_at", "village_code", "township_code", "source"]
    assert after.loc["PI-2", keep].tolist() == stored.loc["PI-2", keep].tolist()
    pd.testing.assert_series_equal(after.loc["PI-1"], stored.loc["PI-1"])
    early = run_import(
        store, "petition_items", _csv_gbk(tmp_path / "早.csv", [["编号", "办结日期"], ["PI-1", "2022-03-01"]])
    )
    assert early.rejected == 1 and "done_at is before taken_at" in _rows(store, early)["PI-1"][1]
    score = run_import(
        store, "petition_visits", _csv_gbk(tmp_path / "分.csv", [["回访编号", "满意度"], ["V1", "3"]])
    )
    assert score.updated == 1
    v1 = _table(store, "petition_visits", "visit_id").loc["V1"]
    assert int(v1["satisfaction"]) == 3 and v1["method"] == "phone" and v1["item_id"] == "PI-1"

    # undo, latest first, restores each step
    from gridmap.imports.framework import undo_batch

    with pytest.raises(InputError, match="undo that batch first"):
        undo_batch(store, visits.batch_id)
    undo_batch(store, score.batch_id)
    pd.testing.assert_frame_equal(_table(store, "petition_visits", "visit_id"), stored_visits)
    undo_batch(store, done.batch_id)
    pd.testing.assert_frame_equal(_table(store, "petition_items", "item_id"), stored)
    undo_batch(store, visits.batch_id)
    undo_batch(store, items.batch_id)
    assert len(store.read("petition_visits")) == 0 and len(store.read("petition_items")) == 0


def test_items_xlsx_formula_and_case_numbers(store, tmp_path):
    _agents(store)
    rows = [
        ["事项编号", "代办员编号", "代办日期", "期限", "案件编号"],
        ["PI-7", "A1", "2022-06-01", "2022-06-15", ""],
        ["PI-8", "=A1", "2022-06-01", "", ""],
        ["PI-9", "A2", "2022-06-02", "", "XF-404"],
    ]
    report = run_import(store, "petition_items", _xlsx(tmp_path / "items.xlsx", rows))
    got = _rows(store, report)
    assert got["PI-7"] == ("accepted", "")
    assert got["PI-8"][0] == "rejected" and "formula in column 代办员编号" in got["PI-8"][1]
    assert got["PI-9"][0] == "rejected" and "external ids" in got["PI-9"][1]
    assert _table(store, "petition_items", "item_id").loc["PI-7", "deadline_at"] == "2022-06-15T00:00:00"


def test_cli_and_api_take_the_kinds(gpkg_store, tmp_path, capsys):
    from gridmap.cli import main
    from gridmap.users import create_user
    from tests.api_testdata import make_client

    _agents(gpkg_store)
    path = _csv_gbk(tmp_path / "代办.csv", ITEMS)
    assert main(["import", "petition_items", str(path), "--store", str(gpkg_store.path)]) == 0
    out = capsys.readouterr().out
    assert "accepted 2, review 0, rejected 3" in out
    batch = out.split("batch ", 1)[1].split(" ", 1)[0]
    assert main(["import", "undo", batch, "--store", str(gpkg_store.path)]) == 0
    assert gpkg_store.count("petition_items") == 0

    create_user(gpkg_store, "clerk", "clerk-pass-1", "admin", replace=True)
    client = make_client(gpkg_store)
    try:
        client.headers["Authorization"] = (
            "Bearer "
            + client.post(
                "/api/v1/auth/token", data={"username": "clerk", "password": "clerk-pass-1"}
            ).json()["access_token"]
        )
        r = client.post(
            "/api/v1/imports",
            data={"kind": "petition_items"},
            files={"file": ("代办.csv", path.read_bytes(), "text/csv")},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["accepted"], r.json()["rejected"]) == (2, 3)
        assert gpkg_store.count("petition_items") == 2
    finally:
        client.app.state.jobs.shutdown()
        client.close()


def test_agents_come_in_with_the_roster_and_then_take_items(store, tmp_path):
    """信访代办员 in a roster become workers of the agent role, posted to a township; items name them."""
    roster = [
        ["工号", "姓名", "岗位", "乡镇代码"],
        ["AG1", "甲", "信访代办员", ""],
        ["AG2", "乙", "代办员", "999999999"],
    ]
    report = run_import(store, "workers", _csv_gbk(tmp_path / "代办员.csv", roster))
    got = _rows(store, report)
    assert got["AG1"] == ("accepted", "")
    assert got["AG2"][0] == "review" and "township code not in the store's units" in got["AG2"][1]
    workers = _table(store, "workers", "worker_id")
    assert workers.loc["AG1", "role"] == "agent" and workers.loc["AG2", "township_code"] == "999999999"
    items = [["编号", "代办员", "受理日期"], ["PI-A", "AG1", "2022-06-01"]]
    taken = run_import(store, "petition_items", _csv_gbk(tmp_path / "事项.csv", items))
    assert _rows(store, taken)["PI-A"] == ("accepted", "")
