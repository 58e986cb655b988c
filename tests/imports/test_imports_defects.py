"""Regression tests for the four re-import defects of issue #10, on both backends, plus undo.

1. a re-import carrying only id and address reset a closed case and emptied its fields;
2. an external id equal to another case's internal case_id overwrote that case;
3. GCJ-02 points labelled WGS-84 were accepted on the wrong spot;
4. XLSX formula cells silently became empty and the row was accepted.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.errors import InputError
from gridmap.geocode.transform import from_wgs84
from gridmap.imports.framework import undo_batch
from gridmap.imports.kinds import run_import
from tests import geocode_testdata as td

FULL = ["案件编号", "地址", "类型", "类别", "状态", "登记时间", "结案时间", "当事人"]
ROWS = [
    [
        "A-1",
        "科尔沁区科尔沁街道民航社区建国路18号1栋",
        "矛盾纠纷",
        "邻里",
        "已结案",
        "2024-03-05 14:30",
        "2024-03-20",
        "张三",
    ],
    ["A-2", "科尔沁区科尔沁街道民航社区建国路123号1栋", "信访", "住房", "办理中", "2024-03-06", "", "李四"],
]


@pytest.fixture
def city(store):
    """The tiny test city (geocode_testdata) with an active plan, on each backend."""
    td.fill_store(store)
    return store


def csv(header, rows) -> bytes:
    return pd.DataFrame(rows, columns=header).to_csv(index=False).encode("utf-8")


def case(store, external_id: str) -> pd.Series:
    frame = pd.DataFrame(store.read("cases", where={"external_id": external_id}))
    assert len(frame) == 1
    return frame.iloc[0]


def test_reimport_changes_only_the_columns_the_file_carries(city):
    run_import(city, "cases", csv(FULL, ROWS), "full.csv")
    before = case(city, "A-1")
    assert (before["status"], before["category"], before["party_name"]) == ("closed", "neighbour", "张三")

    # id and address only, same address: nothing changes, and the report says so
    again = run_import(city, "cases", csv(["案件编号", "地址"], [r[:2] for r in ROWS]), "ids.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    after = case(city, "A-1")
    for column in (
        "status",
        "category",
        "kind",
        "reported_at",
        "closed_at",
        "party_name",
        "grid_code",
        "source",
    ):
        assert after[column] == before[column], column

    # id and status: only the status changes, and the row records what it was
    report = run_import(city, "cases", csv(["案件编号", "状态"], [["A-1", "办理中"]]), "status.csv")
    assert (report.updated, report.unchanged) == (1, 0)
    after = case(city, "A-1")
    assert after["status"] == "in_progress"
    for column in ("category", "reported_at", "closed_at", "party_name", "address_text", "grid_code", "lon"):
        assert after[column] == before[column], column
    row = city.read("import_rows", where={"batch_id": report.batch_id}).iloc[0]
    assert (row["action"], row["changed"]) == ("update", "status")
    assert json.loads(row["before"]) == {"status": "closed"}

    # the same file twice: the second import changes nothing
    same = run_import(city, "cases", csv(["案件编号", "状态"], [["A-1", "办理中"]]), "status.csv")
    assert (same.updated, same.unchanged) == (0, 1)


def test_undo_reverses_a_batch(city):
    first = run_import(city, "cases", csv(FULL, ROWS), "full.csv")
    change = run_import(
        city, "cases", csv(["案件编号", "状态", "当事人"], [["A-1", "办理中", "王五"]]), "fix.csv"
    )
    with pytest.raises(InputError, match="undo that batch first"):
        undo_batch(city, first.batch_id)
    undone = undo_batch(city, change.batch_id)
    assert undone.restored == 1
    restored = case(city, "A-1")
    assert (restored["status"], restored["party_name"]) == ("closed", "张三")
    with pytest.raises(InputError, match="already undone"):
        undo_batch(city, change.batch_id)
    undo_batch(city, first.batch_id)
    assert city.count("cases") == 0


def test_external_id_never_matches_an_internal_case_id(city):
    existing = pd.DataFrame(
        [
            {
                "case_id": "A-1",
                "kind": "dispute",
                "category": "land",
                "status": "closed",
                "address_text": "科尔沁区保康镇巴彦嘎查1组3号",
                "source": "manual",
            }
        ]
    )
    city.write("cases", existing)
    report = run_import(city, "cases", csv(FULL, ROWS[:1]), "cases.csv")
    assert report.inserted == 1 and report.updated == 0
    kept = pd.DataFrame(city.read("cases", where={"case_id": "A-1"})).iloc[0]
    assert (kept["category"], kept["address_text"], kept["source"]) == (
        "land",
        "科尔沁区保康镇巴彦嘎查1组3号",
        "manual",
    )
    imported = case(city, "A-1")
    assert imported["case_id"] != "A-1" and imported["category"] == "neighbour"
    assert city.count("cases") == 2


def _gcj_rows() -> list[list[str]]:
    """Cases whose points are the GCJ-02 positions of their standard addresses, declared WGS-84."""
    addresses = td.addresses()
    picks = addresses[addresses["village_code"].str.startswith("150502")].head(5)
    lon, lat = from_wgs84(picks.geometry.x.to_numpy(), picks.geometry.y.to_numpy(), "gcj02")
    rows = [
        [f"G-{i}", text, f"{x:.7f}", f"{y:.7f}", "wgs84"]
        for i, (text, x, y) in enumerate(zip(picks["full_address"], lon, lat, strict=True))
    ]
    # a point without an address, also GCJ-02 labelled WGS-84: only the file can tell
    x, y = from_wgs84([122.011], [43.012], "gcj02")
    rows.append(["G-9", "", f"{float(x[0]):.7f}", f"{float(y[0]):.7f}", "wgs84"])
    return rows


def test_gcj02_labelled_wgs84_goes_to_review(city):
    header = ["案件编号", "地址", "经度", "纬度", "坐标系"]
    report = run_import(city, "cases", csv(header, _gcj_rows()), "gcj.csv")
    rows = city.read("import_rows", where={"batch_id": report.batch_id}, order_by=["row_number"])
    assert list(rows["status"]) == ["review"] * 6
    assert all("GCJ-02" in r for r in rows["reason"])
    assert "file's points" in rows["reason"].iloc[-1]
    assert city.count("cases", {"geocode_status": "accepted"}) == 0

    # declared as what they are, the same points are accepted on their addresses
    fixed = [r[:4] + ["gcj02"] for r in _gcj_rows()]
    report = run_import(city, "cases", csv(header, fixed), "gcj-fixed.csv")
    assert report.accepted == 6
    cases = pd.DataFrame(city.read("cases")).set_index("external_id")
    addresses = td.addresses().set_index("full_address")
    for external, text in [(r[0], r[1]) for r in fixed if r[1]]:
        point = addresses.loc[text, "geometry"]
        assert cases.loc[external, "lon"] == pytest.approx(point.x, abs=1e-6)


def test_xlsx_formula_cells_are_never_read_as_empty(city):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(FULL)
    sheet.append(ROWS[0])
    sheet.append(
        [
            "A-2",
            '=HYPERLINK("http://x.example/","建国路123号")',
            "信访",
            "住房",
            "办理中",
            "2024-03-06",
            "",
            "",
        ]
    )
    sheet.append(
        [
            "A-3",
            "科尔沁区科尔沁街道民航社区建国路18号2栋",
            "矛盾纠纷",
            "邻里",
            "=cmd|' /C calc'!A0",
            "2024-03-07",
            "",
            "",
        ]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = run_import(city, "cases", buffer.getvalue(), "formulas.xlsx")
    rows = city.read("import_rows", where={"batch_id": report.batch_id}, order_by=["row_number"])
    assert list(rows["status"]) == ["accepted", "rejected", "rejected"]
    assert "formula in column 地址" in rows["reason"].iloc[1]
    assert "formula in column 状态" in rows["reason"].iloc[2]
    assert "HYPERLINK" not in rows["reason"].iloc[1] and "cmd" not in rows["reason"].iloc[2]
    assert set(pd.DataFrame(city.read("cases"))["external_id"]) == {"A-1"}


def test_formula_in_an_unused_column_does_not_block_the_row(city):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["案件编号", "地址", "备注"])
    sheet.append(["A-1", ROWS[0][1], "=1+1"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = run_import(city, "cases", buffer.getvalue(), "note.xlsx")
    assert report.accepted == 1


def test_reimport_of_points_is_unchanged(city):
    header = ["案件编号", "地址", "经度", "纬度", "坐标系"]
    first = run_import(city, "cases", csv(header, [r[:4] + ["gcj02"] for r in _gcj_rows()]), "a.csv")
    again = run_import(city, "cases", csv(header, [r[:4] + ["gcj02"] for r in _gcj_rows()]), "a.csv")
    assert first.inserted == 6 and (again.inserted, again.updated, again.unchanged) == (0, 0, 6)
    geoms = city.read("cases").geometry
    assert np.all(~shapely.is_missing(np.asarray(geoms.values, dtype=object)))


def test_patrol_import_undo_and_duplicates(city):
    city.write("workers", pd.DataFrame({"worker_id": ["W1"], "source": "test"}))
    header = ["工号", "打卡时间", "经度", "纬度", "坐标系"]
    rows = [["W1", f"2024-12-0{d} 09:00", "122.005", "43.005", "gcj02"] for d in range(1, 6)]
    rows.append(rows[0])
    rows.append(["W9", "2024-12-07 09:00", "122.006", "43.006", "gcj02"])
    rows.append(["W1", "not a time", "122.006", "43.006", "gcj02"])
    report = run_import(city, "patrols", csv(header, rows), "p.csv")
    assert (report.accepted, report.review, report.rejected) == (5, 1, 2)
    assert city.count("patrols") == 6
    recorded = city.read("import_rows", where={"batch_id": report.batch_id}, order_by=["row_number"])
    assert list(recorded["status"]) == [
        "rejected",
        "review",
        "rejected",
    ]  # accepted new rows are tagged instead
    assert "duplicate check-in" in recorded["reason"].iloc[0] and "row 2" in recorded["reason"].iloc[0]
    again = run_import(city, "patrols", csv(header, rows), "p.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 6)
    undo_batch(city, again.batch_id)
    assert city.count("patrols") == 6
    undo_batch(city, report.batch_id)
    assert city.count("patrols") == 0

    with pytest.raises(InputError, match="fit"):
        run_import(city, "patrols", csv(header[:4], [r[:4] for r in rows]), "nocrs.csv")
