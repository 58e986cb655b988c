"""`gridmap audit` / `gridmap kpi` end to end on a GeoPackage store holding the hand-made village."""

from __future__ import annotations

import csv

import openpyxl
import pandas as pd
import pytest

from gridmap.cli import main
from gridmap.coverage import run_audit
from gridmap.coverage.service import audit_from_store
from gridmap.store import open_store
from tests.coverage.test_coverage_audit import PERIOD, THRESHOLDS, build_village


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory):
    path = tmp_path_factory.mktemp("coverage") / "village.gpkg"
    grids, workers, assignments, patrols, addresses, cases = build_village()
    workers = workers.assign(name=["张三", "李四", "王五", "赵六", "钱七", "孙八"], phone="13900000000")
    with open_store(path) as store:
        store.write(
            "plans",
            pd.DataFrame(
                {
                    "plan_id": ["P0", "P1"],
                    "name": ["old", "current"],
                    "status": ["archived", "active"],
                    "created_at": ["2023-01-01T00:00:00", "2024-01-01T00:00:00"],
                }
            ),
        )
        store.write("grids", grids)
        store.write("grids", grids.assign(plan_id="P0", households=1))  # an archived plan, ignored
        store.write("workers", workers)
        store.write("assignments", assignments)
        store.write("patrols", patrols)
        store.write("addresses", addresses)
        store.write("cases", cases)
    return path


def test_audit_from_store_equals_the_pure_audit(gpkg):
    grids, workers, assignments, patrols, addresses, cases = build_village()
    expected = run_audit(
        grids, assignments, patrols, workers, cases, None, PERIOD, thresholds=THRESHOLDS, targets=addresses
    )
    with open_store(gpkg) as store:
        got, inputs = audit_from_store(store, PERIOD, THRESHOLDS)
    assert inputs.plan_id == "P1" and "name" not in inputs.workers.columns
    pd.testing.assert_frame_equal(got.findings, expected.findings)


def test_audit_command_writes_csv_xlsx_and_html(gpkg, tmp_path, capsys):
    out_csv, out_xlsx, html = tmp_path / "f.csv", tmp_path / "f.xlsx", tmp_path / "r.html"
    assert (
        main(
            [
                "audit",
                "--period",
                PERIOD,
                "--store",
                str(gpkg),
                "--max-open-cases",
                "3",
                "--out",
                str(out_csv),
                "--html",
                str(html),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "no_active_worker: 1" in printed and "not_visited_n_days: 2" in printed
    with open(out_csv, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and {r["kind"] for r in rows} >= {"no_active_worker", "patrols_outside_own_grid"}
    text = html.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text and '<table class="kpi">' in text
    assert "张三" not in text and "13900000000" not in text
    assert (
        main(["audit", "--period", PERIOD, "--store", str(gpkg), "--max-days", "12", "--out", str(out_xlsx)])
        == 0
    )
    book = openpyxl.load_workbook(out_xlsx)
    assert book.sheetnames == ["findings", "grids", "workers", "agents"]
    kinds = [row[0] for row in book["findings"].iter_rows(min_row=2, values_only=True)]
    assert "not_visited_n_days" in kinds and kinds.count("not_visited_n_days") == 1  # G4 (20 days) only


def test_kpi_command(gpkg, tmp_path, capsys):
    out = tmp_path / "k.csv"
    assert (
        main(["kpi", "--level", "county", "--period", "2024-06", "--store", str(gpkg), "--out", str(out)])
        == 0
    )
    table = pd.read_csv(out, dtype={"unit_code": str})
    assert table["unit_code"].tolist() == ["150502"] and table["found"].tolist() == [5]  # C6 is from July


def test_bad_cli_input_is_a_message_not_a_traceback(gpkg, tmp_path, capsys):
    assert main(["audit", "--period", "Dec", "--store", str(gpkg)]) == 1
    assert "cannot read period" in capsys.readouterr().err
    assert main(["kpi", "--period", "2024", "--store", str(gpkg), "--out", str(tmp_path / "k.pdf")]) == 1
    assert "csv" in capsys.readouterr().err
    empty = tmp_path / "empty.gpkg"
    assert main(["audit", "--period", "2024-06", "--store", str(empty)]) == 1
    assert "no active plan" in capsys.readouterr().err
