"""Case intake: formats, column mapping, every row accounted for, upserts, rollback, review."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from gridmap.errors import InputError
from gridmap.geocode import intake
from gridmap.geocode.transform import from_wgs84
from gridmap.imports.cases import import_cases
from tests import geocode_testdata as td

HEADER = [
    "案件编号",
    "地址",
    "经度",
    "纬度",
    "坐标系",
    "类型",
    "类别",
    "状态",
    "登记时间",
    "当事人",
    "电话",
    "身份证号",
]
ROWS = [
    # accepted by address
    [
        "A-1",
        "科尔沁区科尔沁街道民航社区建国路18号1栋",
        "",
        "",
        "",
        "矛盾纠纷",
        "邻里",
        "已受理",
        "2024-03-05 14:30",
        "张三",
        "13800000000",
        "150502199001011234",
    ],
    # BD-09 coordinates 15 m from the standard address the text names: snapped to that address
    [
        "A-2",
        "科尔沁区科尔沁街道民航社区建国路123号1栋",
        "BD_LON",
        "BD_LAT",
        "bd09",
        "信访",
        "住房",
        "办理中",
        "2024/3/6",
        "李四",
        "",
        "",
    ],
    # review: house number 132 exists only elsewhere; never matched
    [
        "A-3",
        "科尔沁区科尔沁街道民航社区建国路132号1栋",
        "",
        "",
        "",
        "dispute",
        "land",
        "reported",
        "2024-03-07",
        "",
        "",
        "",
    ],
    # review: swapped coordinates
    ["A-4", "", "43.005", "122.005", "wgs84", "矛盾纠纷", "其他", "", "2024-03-08", "", "", ""],
    # rejected: empty address, no coordinates
    ["A-5", "", "", "", "", "矛盾纠纷", "", "", "2024-03-09", "", "", ""],
    # review: garbage coordinates
    ["A-6", "科尔沁区科尔沁街道民航社区", "abc", "xyz", "", "纠纷", "", "", "2024-03-10", "", "", ""],
    # rejected: unknown kind
    ["A-7", "民航社区建国路18号1栋", "", "", "", "火灾", "", "", "2024-03-11", "", "", ""],
    # review: coordinates in another village than the address
    [
        "A-8",
        "科尔沁区保康镇巴彦嘎查1组3号",
        "122.005",
        "43.005",
        "wgs84",
        "矛盾纠纷",
        "",
        "",
        "2024-03-12",
        "",
        "",
        "",
    ],
    # accepted at the declared point: 700 m from the address, in the same village
    ["A-9", "民航社区建国路18号1栋", "122.004", "43.008", "", "矛盾纠纷", "", "", "2024-03-13", "", "", ""],
]


def rows_with_coordinates() -> list[list[str]]:
    bd_lon, bd_lat = from_wgs84(122.0061, 43.0041, "bd09")
    rows = [list(r) for r in ROWS]
    rows[1][2], rows[1][3] = f"{float(bd_lon):.7f}", f"{float(bd_lat):.7f}"
    return rows


def csv_bytes(encoding: str = "utf-8", rows=None) -> bytes:
    frame = pd.DataFrame(rows or rows_with_coordinates(), columns=HEADER)
    return frame.to_csv(index=False).encode(encoding)


@pytest.fixture
def intake_store(store):
    """The shared ``store`` fixture (GeoPackage and PostGIS) with the tiny city and an active plan."""
    td.fill_store(store)
    store.delete("cases")
    return store


def by_external(store) -> pd.DataFrame:
    return pd.DataFrame(store.read("cases")).set_index("external_id")


def test_utf8_import_every_row_accounted_for(intake_store):
    report = import_cases(intake_store, csv_bytes("utf-8"), "cases.csv", actor="tester")
    assert report.rows == 9
    assert (report.accepted, report.review, report.rejected) == (3, 4, 2)
    assert report.accepted + report.review + report.rejected == report.rows
    assert report.mapping["地址"] == "address_text" and report.mapping["案件编号"] == "external_id"
    rows = intake_store.read("import_rows", where={"batch_id": report.batch_id}, order_by=["row_number"])
    assert list(rows["status"]) == [
        "accepted",
        "accepted",
        "review",
        "review",
        "rejected",
        "review",
        "rejected",
        "review",
        "accepted",
    ]
    assert list(rows["row_number"]) == list(range(2, 11))
    assert rows["reason"].iloc[4] == "empty address"
    assert "unknown kind" in rows["reason"].iloc[6]
    assert "swapped" in rows["reason"].iloc[3]
    assert "coordinates and address disagree" in report.reasons
    swapped = json.loads(rows["candidates"].iloc[3])
    assert swapped[0]["lon"] == pytest.approx(122.005) and swapped[0]["lat"] == pytest.approx(43.005)

    cases = by_external(intake_store)
    assert len(cases) == 8  # the unknown-kind row is not a case
    a1 = cases.loc["A-1"]
    assert a1["geocode_status"] == "accepted" and a1["grid_code"] == "150502001001001"
    assert (a1["kind"], a1["category"], a1["status"], a1["reported_at"]) == (
        "dispute",
        "neighbour",
        "accepted",
        "2024-03-05T14:30:00",
    )
    assert a1["party_name"] == "张三"
    a2 = cases.loc["A-2"]
    assert a2["precision"] == "address" and a2["lon"] == pytest.approx(122.006, abs=1e-9)
    a9 = cases.loc["A-9"]
    assert a9["precision"] == "coordinates" and a9["lon"] == pytest.approx(122.004)
    assert a9["grid_code"] == "150502001001001"
    assert (a2["kind"], a2["category"], a2["status"]) == ("petition", "petition_housing", "in_progress")
    a3 = cases.loc["A-3"]
    assert a3["geocode_status"] == "review" and pd.isna(a3["grid_code"]) and a3.geometry is None
    assert cases.loc["A-5", "geocode_status"] == "rejected"

    batch = intake_store.read("import_batches", where={"batch_id": report.batch_id}).iloc[0]
    assert (batch["rows"], batch["accepted"], batch["review"], batch["rejected"]) == (9, 3, 4, 2)
    stored = json.loads(batch["report"])
    assert stored["reasons"] == report.reasons
    assert "张三" not in batch["report"] and "13800000000" not in batch["report"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(intake_store, encoding):
    report = import_cases(intake_store, csv_bytes(encoding), "cases.csv")
    assert (report.accepted, report.review, report.rejected) == (3, 4, 2)
    assert by_external(intake_store).loc["A-1", "address_text"] == ROWS[0][1]


def test_xlsx_and_json(intake_store, tmp_path):
    frame = pd.DataFrame(rows_with_coordinates(), columns=HEADER)
    path = tmp_path / "cases.xlsx"
    frame.to_excel(path, index=False)
    report = import_cases(intake_store, path)
    assert (report.filename, report.accepted, report.review, report.rejected) == ("cases.xlsx", 3, 4, 2)
    doc = {
        "cases": frame.rename(
            columns={
                "案件编号": "id",
                "地址": "address",
                "经度": "lon",
                "纬度": "lat",
                "坐标系": "crs",
                "类型": "kind",
            }
        ).to_dict(orient="records")
    }
    report = import_cases(intake_store, json.dumps(doc, ensure_ascii=False).encode(), "cases.json")
    assert (report.accepted, report.review, report.rejected) == (3, 4, 2)
    # the same cases in another format: nothing to change (re-importing never rewrites equal rows)
    assert (report.updated, report.unchanged, report.new_cases) == (0, 8, 0)


def test_reimport_updates_instead_of_duplicating(intake_store):
    first = import_cases(intake_store, csv_bytes(), "cases.csv")
    second = import_cases(intake_store, csv_bytes(), "cases.csv")
    assert (
        first.new_cases == 8 and second.new_cases == 0 and second.updated_cases == 0 and second.unchanged == 8
    )
    assert intake_store.count("cases") == 8
    assert first.sha256 == second.sha256 and first.batch_id != second.batch_id
    # the same external id with a corrected address updates that case
    rows = rows_with_coordinates()
    rows[2][1] = "科尔沁区科尔沁街道民航社区建国路123号1栋"
    import_cases(intake_store, csv_bytes(rows=[rows[2]]), "fix.csv")
    assert intake_store.count("cases") == 8
    assert by_external(intake_store).loc["A-3", "geocode_status"] == "accepted"


def test_rows_without_external_id_are_keyed_by_file_and_row(intake_store):
    frame = pd.DataFrame({"address": ["民航社区建国路18号1栋", "民航社区建国路123号1栋"]})
    data = frame.to_csv(index=False).encode()
    import_cases(intake_store, data, "noid.csv")
    import_cases(intake_store, data, "noid.csv")
    assert intake_store.count("cases") == 2


def test_duplicate_external_id_in_one_file(intake_store):
    rows = rows_with_coordinates()
    report = import_cases(intake_store, csv_bytes(rows=[rows[0], rows[0]]), "dup.csv")
    assert (report.accepted, report.rejected) == (1, 1)
    assert "duplicate external id in the file" in report.reasons


def test_failure_midway_leaves_the_store_unchanged(intake_store, monkeypatch):
    import_cases(intake_store, csv_bytes(rows=rows_with_coordinates()[:2]), "first.csv")
    before = intake_store.read("cases").sort_values("case_id").reset_index(drop=True)
    batches = intake_store.count("import_batches")
    real_write = intake_store.write

    def failing_write(table, frame, mode="append"):
        if table == "import_rows":
            raise RuntimeError("disk full (injected)")
        return real_write(table, frame, mode)

    monkeypatch.setattr(intake_store, "write", failing_write)
    rows = rows_with_coordinates()
    rows[0][1] = "科尔沁区科尔沁街道民航社区建国路18号2栋"  # would change an existing case
    with pytest.raises(RuntimeError, match="injected"):
        import_cases(intake_store, csv_bytes(rows=rows), "second.csv")
    after = intake_store.read("cases").sort_values("case_id").reset_index(drop=True)
    assert intake_store.count("import_batches") == batches
    pd.testing.assert_frame_equal(
        pd.DataFrame(before).drop(columns="geometry"), pd.DataFrame(after).drop(columns="geometry")
    )


def test_oversized_and_unreadable_uploads(intake_store, tmp_path, monkeypatch):
    with pytest.raises(InputError, match="larger than the upload limit"):
        intake.read_upload(b"x" * 2000, "big.csv", max_bytes=1000)
    path = tmp_path / "big.csv"
    path.write_bytes(csv_bytes())
    from gridmap.imports import reading

    monkeypatch.setattr(reading, "_max_upload_bytes", lambda: 100)
    with pytest.raises(InputError, match="GRIDMAP_MAX_UPLOAD_BYTES"):
        import_cases(intake_store, path)
    monkeypatch.undo()
    with pytest.raises(InputError, match="empty"):
        intake.read_upload(b"  \n", "empty.csv")
    with pytest.raises(InputError, match="broken.xlsx"):
        intake.read_upload(b"PK\x03\x04garbage", "broken.xlsx")
    with pytest.raises(InputError, match="broken.json"):
        intake.read_upload(b"[{", "broken.json")
    with pytest.raises(InputError, match="no address column"):
        import_cases(intake_store, b"name,phone\na,b\n", "people.csv")
    assert intake_store.count("cases") == 0


def test_explicit_mapping(intake_store):
    data = "编码,位置,种类\nM-1,民航社区建国路18号1栋,信访\n".encode()
    report = import_cases(
        intake_store, data, "m.csv", mapping={"编码": "external_id", "address_text": "位置", "种类": "kind"}
    )
    assert report.accepted == 1
    assert by_external(intake_store).loc["M-1", "kind"] == "petition"
    with pytest.raises(InputError, match="mapping"):
        import_cases(intake_store, data, "m.csv", mapping={"nope": "address_text"})


def test_review_queue_and_actions(intake_store):
    import_cases(intake_store, csv_bytes(), "cases.csv")
    queue = intake.review_queue(intake_store, limit=10)
    assert len(queue) == 4 and not {"party_name", "party_phone", "party_id_number"} & set(queue.columns)
    ids = dict(zip(queue["external_id"], queue["case_id"], strict=True))
    a3 = queue.set_index("external_id").loc["A-3"]
    assert all(
        c["address_id"] != td.address_id("科尔沁区西门街道建国社区建国路132号1栋") or c["score"] < 90
        for c in a3["candidates"]
    )

    target = td.address_id("科尔沁区科尔沁街道民航社区建国路123号1栋")
    out = intake.resolve_review(intake_store, ids["A-3"], "pick", address_id=target, actor="ann")
    assert out["geocode_status"] == "manual" and out["grid_code"] == "150502001001001"
    out = intake.resolve_review(intake_store, ids["A-4"], "place", lon=122.011, lat=43.005, actor="ann")
    assert out["grid_code"] == "150502001001002" and out["village_code"] == "150502001001"
    with pytest.raises(InputError, match="outside the city"):
        intake.resolve_review(intake_store, ids["A-6"], "place", lon=116.4, lat=39.9)
    intake.resolve_review(intake_store, ids["A-6"], "reject", reason="not locatable", actor="ann")
    with pytest.raises(InputError, match="no standard address"):
        intake.resolve_review(intake_store, ids["A-8"], "pick", address_id="nope")
    with pytest.raises(InputError, match="unknown review action"):
        intake.resolve_review(intake_store, ids["A-8"], "guess")
    with pytest.raises(InputError, match="no case"):
        intake.resolve_review(intake_store, "missing", "reject")
    assert list(intake.review_queue(intake_store)["external_id"]) == ["A-8"]
    cases = by_external(intake_store)
    assert cases.loc["A-6", "geocode_status"] == "rejected" and "not locatable" in cases.loc["A-6", "reason"]
    # a reviewer's placement survives re-importing the unchanged file
    import_cases(intake_store, csv_bytes(), "cases.csv")
    cases = by_external(intake_store)
    assert cases.loc["A-3", "geocode_status"] == "manual" and "ann" in cases.loc["A-3", "reason"]
    assert cases.loc["A-4", "grid_code"] == "150502001001002"


def test_reason_kinds():
    assert intake.reason_kind("house number 9 not found on 建国路") == "house number not found on the road"
    assert (
        intake.reason_kind("only the village was recognised; road 'x' unknown")
        == "only the village recognised"
    )
    assert intake.reason_kind("village name is ambiguous (2 units)") == "village name ambiguous"
    assert intake.reason_kind("unreadable reported_at") == "unreadable reported_at"
    assert intake.reason_kind("empty address") == "empty address"
    assert intake.reason_kind("coordinates are 3.2 km from the matched standard address") == (
        "coordinates far from the matched address"
    )


def test_read_upload_returns_text_cells():
    frame, digest = intake.read_upload(b"id,lon\n007,122.1\n", "a.csv")
    assert frame.loc[0, "id"] == "007" and len(digest) == 64
    frame, _ = intake.read_upload(io.BytesIO(b"id\tlon\n1\t2\n").getvalue(), "a.tsv")
    assert list(frame.columns) == ["id", "lon"]
    assert all(isinstance(v, str) for v in frame.to_numpy().ravel())
