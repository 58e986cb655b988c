"""Check-ins stream in chunks: the same outcome as one piece, duplicates caught across chunks,
one transaction, and XLSX read in read-only mode with its title row, merged header and formulas.

The chunk size is set to a few rows so that a small file crosses several chunks.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from gridmap.errors import InputError
from gridmap.imports import streaming
from gridmap.imports.framework import undo_batch
from gridmap.imports.kinds import run_import
from gridmap.imports.reading import read_input
from tests.imports.test_imports_defects import city  # noqa: F401 - the fixture

HEADER = ["工号", "打卡时间", "经度", "纬度", "坐标系"]


def checkins() -> list[list[str]]:
    rows = [
        ["W1", f"2024-12-{d:02d} 09:{m:02d}", "122.005", "43.005", "gcj02"]
        for d in range(1, 6)
        for m in range(5)
    ]
    rows.insert(11, rows[2])  # a repeat in a later chunk than its first
    rows.insert(4, rows[3])  # a repeat in the same chunk
    rows.append(["W9", "2024-12-07 09:00", "122.006", "43.006", "gcj02"])  # not on the roster
    rows.append(["W1", "not a time", "122.006", "43.006", "gcj02"])
    return rows


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 4)


def test_streamed_checkins_are_all_accounted_for(city, small_chunks):  # noqa: F811
    city.write(
        "workers",
        pd.DataFrame({"worker_id": ["W1"], "village_code": ["150502001001"], "source": "test"}),
    )
    rows = checkins()
    data = pd.DataFrame(rows, columns=HEADER).to_csv(index=False).encode("gbk")
    report = run_import(city, "patrols", data, "p.csv")
    assert report.rows == len(rows) == 29
    assert (report.accepted, report.review, report.rejected) == (25, 1, 3)
    assert city.count("patrols") == 26
    # filed under the county of the worker's post (the PostGIS partition), none without a worker
    counties = city.read("patrols", columns=["worker_id", "county_code"])
    assert set(counties.loc[counties["worker_id"] == "W1", "county_code"]) == {"150502"}
    assert counties.loc[counties["worker_id"] != "W1", "county_code"].isna().all()
    assert report.reasons["duplicate check-in (same worker, time and point)"] == 2
    assert any("GBK" in note for note in report.notes)
    recorded = city.read("import_rows", where={"batch_id": report.batch_id}, order_by=["row_number"])
    duplicates = recorded[recorded["reason"].str.startswith("duplicate", na=False)]
    # file rows as a spreadsheet shows them (header = row 1): row 6 repeats row 5, row 14 row 4
    assert list(duplicates["row_number"]) == [6, 14]
    assert [r.rsplit(" ", 1)[-1] for r in duplicates["reason"]] == ["5", "4"]
    assert list(recorded["row_number"][recorded["status"] == "review"]) == [29]

    again = run_import(city, "patrols", data, "p.csv")
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 26, 3)
    undo_batch(city, again.batch_id)
    undo_batch(city, report.batch_id)
    assert city.count("patrols") == 0


def test_a_bad_chunk_leaves_nothing(city, small_chunks):  # noqa: F811
    """One transaction: a file that fails in its last chunk writes none of the earlier ones."""
    city.write("workers", pd.DataFrame({"worker_id": ["W1"], "source": "test"}))
    text = pd.DataFrame(checkins(), columns=HEADER).to_csv(index=False)
    broken = text + 'W1,"2024-12-31 09:00,122.0,43.0,gcj02\n'  # an unclosed quote at the end
    with pytest.raises(InputError, match="malformed CSV"):
        run_import(city, "patrols", broken.encode("utf-8"), "p.csv")
    assert city.count("patrols") == 0 and city.count("import_batches") == 0


def _workbook(rows: list[list[str]], formula_row: int) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "说明"
    book.active.append(["本表为巡查打卡导出"])
    sheet = book.create_sheet("打卡记录")
    sheet.append(["巡查打卡记录（2024年12月）"])
    sheet.merge_cells("A1:E1")
    sheet.append(["工号", "打卡时间", "位置", None, "坐标系"])
    sheet.append([None, None, "经度", "纬度", None])
    for cells in ("C2:D2", "A2:A3", "B2:B3", "E2:E3"):  # a group over two columns, the others two rows high
        sheet.merge_cells(cells)
    for i, row in enumerate(rows):
        cells = list(row)
        if i == formula_row:
            cells[2] = "=122+0.005"
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_streamed_workbook_reads_as_the_whole_file(small_chunks):
    rows = checkins()
    data = _workbook(rows, formula_row=7)
    whole = read_input(data, "p.xlsx")
    stream = streaming.stream_input(data, "p.xlsx", chunk_rows=streaming.CHUNK_ROWS)
    chunks = list(stream.chunks)
    assert len(chunks) == 8 and [c.offset for c in chunks[:3]] == [0, 4, 8]
    frame = pd.concat([c.frame for c in chunks], ignore_index=True)
    assert (
        list(frame.columns)
        == list(whole.frame.columns)
        == ["工号", "打卡时间", "位置 经度", "位置 纬度", "坐标系"]
    )
    pd.testing.assert_frame_equal(frame.astype(object), whole.frame.astype(object))
    formulas = {c.offset + r: cols for c in chunks for r, cols in c.formula_cells.items()}
    assert formulas == whole.formula_cells == {7: ["位置 经度"]}
    assert stream.sha256 == whole.sha256
    assert any("title row" in n for n in stream.notes) and any("most data" in n for n in stream.notes)


def test_streamed_csv_reads_as_the_whole_file(small_chunks):
    rows = checkins()
    for encoding in ("utf-8-sig", "gb18030"):
        data = pd.DataFrame(rows, columns=HEADER).to_csv(index=False, sep=";").encode(encoding)
        whole = read_input(data, "p.csv")
        stream = streaming.stream_input(data, "p.csv", chunk_rows=streaming.CHUNK_ROWS)
        frame = pd.concat([c.frame for c in stream.chunks], ignore_index=True)
        pd.testing.assert_frame_equal(frame.astype(object), whole.frame.astype(object))
        assert stream.encoding == whole.encoding and stream.sha256 == whole.sha256
    with pytest.raises(InputError, match="not UTF-8"):
        list(streaming.stream_input(b"a,b\n\x81\x20,1\n", "x.csv").chunks)
    assert np.all([len(c.frame) <= 4 for c in streaming.stream_input(data, "p.csv", chunk_rows=4).chunks])
