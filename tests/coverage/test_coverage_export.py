"""Formula-injection-safe CSV/XLSX, and the self-contained HTML report."""

from __future__ import annotations

import csv
import re

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import box

from gridmap.coverage import AuditThresholds, case_kpis, monthly_trend, run_audit
from gridmap.coverage.export import FORMULA_PREFIXES, neutralize, write_csv, write_table, write_xlsx
from gridmap.coverage.report import render_report, write_report
from gridmap.errors import InputError

RISKY = ["=1+1", "+SUM(A1:A9)", "-2+3", "@cmd", "\tlead", "\rcr", '=HYPERLINK("x")']


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "=evil": RISKY,
            "text": ["网格150502001001001", "ok", "a=b", "", None, "-", "normal"],
            "number": [-3.5, 0.0, 1.0, np.nan, 2.0, -1.0, 7.0],
            "count": [-1, 0, 1, 2, 3, 4, 5],
            "when": pd.to_datetime(["2024-12-01T08:00:00"] * 7),
        }
    )


def test_neutralize():
    assert [neutralize(v) for v in RISKY] == ["'" + v for v in RISKY]
    assert neutralize("a=b") == "a=b" and neutralize(-3) == -3 and neutralize(None) is None


def test_csv_is_formula_safe(tmp_path):
    path = write_csv(_frame(), tmp_path / "f.csv")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    assert header == ["'=evil", "text", "number", "count", "when"]
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
    assert [r[0] for r in body] == ["'" + v for v in RISKY]
    assert body[0][1] == "网格150502001001001" and body[5][1] == "'-"
    # numbers stay numbers (a negative number is not text and is not prefixed)
    assert body[0][2] == "-3.5" and body[0][3] == "-1" and body[0][4] == "2024-12-01T08:00:00"


def test_xlsx_has_no_formulas(tmp_path):
    path = write_xlsx({"findings": _frame(), "second/sheet:x": _frame().head(2)}, tmp_path / "f.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["findings", "second_sheet_x"]
    sheet = book["findings"]
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    for c in cells:
        if isinstance(c.value, str):
            assert not c.value.startswith(FORMULA_PREFIXES), c.value
    # (XML turns a stored CR into LF on reading; the apostrophe is what matters)
    assert [sheet.cell(row=r, column=1).value for r in range(2, 9)] == [
        "'" + v.replace("\r", "\n") for v in RISKY
    ]
    assert sheet.cell(row=1, column=1).value == "'=evil"
    assert sheet.cell(row=2, column=3).value == -3.5 and sheet.cell(row=2, column=4).value == -1
    assert sheet.cell(row=5, column=3).value is None  # NaN → empty cell


def test_write_table_by_suffix(tmp_path):
    assert write_table(_frame(), tmp_path / "x.csv").exists()
    assert write_table({"a": _frame()}, tmp_path / "x.xlsx").exists()
    with pytest.raises(InputError, match="csv or .xlsx"):
        write_table(_frame(), tmp_path / "x.json")


def _tiny_audit():
    grids = gpd.GeoDataFrame(
        {"code": ["150502001001001", "150502001001002"], "households": [300, 350]},
        geometry=[box(122.20, 43.60, 122.21, 43.61), box(122.21, 43.60, 122.22, 43.61)],
        crs="EPSG:4326",
    )
    assignments = pd.DataFrame(
        {
            "worker_id": ["w1"],
            "grid_code": ["150502001001001"],
            "role": ["full_time"],
            "valid_from": ["2024-01-01"],
            "valid_to": [None],
        }
    )
    patrols = pd.DataFrame(
        {
            "worker_id": "w1",
            "ts": [f"2024-12-{d:02d}T09:00:00" for d in range(1, 32, 2)],
            "raw_lon": 122.205,
            "raw_lat": 43.605,
        }
    )
    cases = pd.DataFrame(
        {
            "case_id": ["c1", "c2", "c3"],
            "kind": ["dispute", "dispute", "petition"],
            "status": ["resolved", "reported", "reported"],
            "reported_at": ["2024-11-03T08:00:00", "2024-12-04T08:00:00", "2024-12-05T08:00:00"],
            "resolved_at": ["2024-11-04T08:00:00", None, None],
            "grid_code": ["150502001001001", "150502001001002", "150502001001002"],
            "persons": [1, 1, 4],
            "party_name": ["<script>alert(1)</script>", "张三", "李四"],
            "party_phone": ["13800000000"] * 3,
        }
    )
    result = run_audit(
        grids, assignments, patrols, None, cases, None, "2024-12", thresholds=AuditThresholds()
    )
    return grids, cases, result


def test_html_report_is_self_contained_and_has_the_kpi_table(tmp_path):
    grids, cases, result = _tiny_audit()
    kpis = case_kpis(cases, "county", "2024-12")
    path = write_report(
        tmp_path / "r.html", audit=result, grids=grids, kpis=kpis, trend=monthly_trend(cases, "2024-Q4")
    )
    text = path.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"<script|<link|<img|src=|href=|@import|url\(", text, flags=re.I)
    assert text.count("<svg") == 2 and '<path d="M' in text and "<polyline" in text
    kpi_table = re.search(r'<table class="kpi">.*?</table>', text, flags=re.S).group(0)
    assert "150502" in kpi_table and "排查 found" in kpi_table and "信访人次 persons" in kpi_table
    assert "no_active_worker" in text and "150502001001002" in text
    # personal data of cases never reaches the report
    assert "张三" not in text and "13800000000" not in text and "alert(1)" not in text


def test_html_escapes_text():
    grids, cases, result = _tiny_audit()
    result.findings.loc[0, "message_en"] = '<b>x</b> & "y"'
    text = render_report(audit=result, grids=grids)
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;" in text
