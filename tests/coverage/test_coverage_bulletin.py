"""The monthly 通报: figures with 同比, trend, top grids and agents behind on duty, as XLSX and
self-contained HTML, on both backends; the HTML opens offline with its charts in Chromium."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from gridmap import boundaries
from gridmap.cli import main
from gridmap.coverage.bulletin import build_bulletin, render_bulletin
from gridmap.coverage.service import bulletins_from_store
from gridmap.errors import InputError

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
V1, V2 = "150502001001", "150521100201"  # 科尔沁区 and 科尔沁左翼中旗 villages (real codes)


def records():
    """December 2024 (and December 2023) cases in two counties; two agents, one of them behind."""
    rows = []
    for i in range(12):  # 2024-12: 12 disputes, 8 in V1's first grid, 4 in V2's
        grid = V1 + "001" if i < 8 else V2 + "002"
        rows.append(
            (
                f"d{i}",
                "dispute",
                "resolved" if i % 3 else "in_progress",
                f"2024-12-{i + 1:02d}T09:00:00",
                grid,
                1,
            )
        )
    rows += [
        (f"p{i}", "petition", "accepted", f"2024-12-{i + 3:02d}T09:00:00", V1 + "002", 2) for i in range(3)
    ]
    rows += [
        (f"q{i}", "petition", "resolved", f"2023-12-{i + 3:02d}T09:00:00", V1 + "002", 2) for i in range(5)
    ]
    rows += [
        (f"e{i}", "dispute", "resolved", f"2024-{i + 1:02d}-10T09:00:00", V1 + "001", 1) for i in range(11)
    ]
    cases = pd.DataFrame(rows, columns=["case_id", "kind", "status", "reported_at", "grid_code", "persons"])
    cases["external_id"] = cases["case_id"]
    cases["due_at"] = None
    workers = pd.DataFrame(
        {
            "worker_id": ["A1", "A2"],
            "name": ["x", "y"],
            "role": "agent",
            "village_code": [V1, V2],
            "township_code": [V1[:9], V2[:9]],
            "active": 1,
        }
    )
    days = pd.date_range("2024-12-01", "2024-12-31")
    patrols = pd.DataFrame(
        {
            "patrol_id": [f"P{i}" for i in range(len(days) * 2)],
            "worker_id": ["A1"] * len(days) + ["A2"] * len(days),
            "ts": [d.strftime("%Y-%m-%dT09:00:00") for d in days] * 2,
            "raw_lon": 122.2,
            "raw_lat": 43.6,
            "raw_crs": "wgs84",
        }
    )
    patrols = patrols[~((patrols["worker_id"] == "A2") & patrols["ts"].between("2024-12-10", "2024-12-20"))]
    items = pd.DataFrame(
        {
            "item_id": ["I1", "I2"],
            "case_id": ["p0", "p1"],
            "agent_id": ["A1", "A2"],
            "status": ["done", "open"],
            "taken_at": ["2024-12-03T10:00:00", "2024-10-01T10:00:00"],
            "deadline_at": ["2025-02-01T10:00:00", "2024-11-30T10:00:00"],
            "done_at": ["2024-12-05T10:00:00", None],
            "village_code": [V1, V2],
        }
    )
    visits = pd.DataFrame(
        {
            "visit_id": ["H1"],
            "item_id": ["I1"],
            "visited_at": ["2024-12-07T10:00:00"],
            "visitor_id": ["A1"],
            "method": ["phone"],
            "satisfaction": [4],
        }
    )
    admin = pd.concat([boundaries.city(), boundaries.counties()], ignore_index=True)
    return cases, workers, patrols, items, visits, admin


def test_bulletin_figures_by_hand():
    cases, workers, patrols, items, visits, admin = records()
    admin_codes = admin[["code", "name", "level", "parent_code"]]
    b = build_bulletin(cases, items, visits, workers, patrols, "2024-12", admin_units=admin_codes)
    summary = b.summary.set_index("measure")
    assert summary.loc["found", "value"] == 12 and summary.loc["resolved", "value"] == 8
    assert summary.loc["petitions_cases", "value"] == 3 and summary.loc["petitions_cases", "previous"] == 5
    assert summary.loc["petitions_cases", "yoy_ratio"] == pytest.approx(3 / 5 - 1)
    assert summary.loc["items_taken", "value"] == 1 and summary.loc["followup_rate", "value"] == 1.0
    assert b.trend["month"].tolist()[0] == "2024-01" and len(b.trend) == 12
    assert b.trend["found"].tolist() == [1] * 11 + [12] and b.trend["petitions"].iloc[-1] == 3
    assert b.top_grids.to_dict("list") == {
        "grid_code": [V1 + "001", V2 + "002", V1 + "002"],
        "cases": [8, 4, 3],
    }
    assert b.agents_behind.to_dict("records") == [
        {
            "worker_id": "A2",
            "post": V2,
            "longest_gap_days": 10,
            "days_patrolled": 21,
            "followups_missing": 0,
            "items_overdue": 1,
        }
    ]
    county = build_bulletin(
        cases,
        items,
        visits,
        workers,
        patrols,
        "2024-12",
        unit_code="150521",
        level="county",
        admin_units=admin_codes,
    )
    assert county.summary.set_index("measure").loc["found", "value"] == 4
    assert county.agents_behind["worker_id"].tolist() == ["A2"] and county.unit_name == "科尔沁左翼中旗"
    page = render_bulletin(b)
    assert page.count("<svg") == 4 and "http" not in page.lower() and "<script" not in page
    assert "x" not in set(page.split(">")) and "name" not in b.agents_behind.columns  # no agent names
    with pytest.raises(InputError, match="calendar month"):
        build_bulletin(cases, items, visits, workers, patrols, "2024-Q4")


def test_bulletins_from_store_on_both_backends(store, tmp_path):
    cases, workers, patrols, items, visits, admin = records()
    with store.transaction():
        store.write("admin_units", admin, mode="replace")
        store.write("cases", cases)
        store.write("workers", workers)
        store.write("patrols", patrols)
        store.write("petition_items", items)
        store.write("petition_visits", visits)
    written = bulletins_from_store(store, "2024-12", tmp_path)
    names = sorted(p.name for p in written)
    assert len(names) == 2 * 9 and "通报_150500_2024-12.html" in names and "通报_150521_2024-12.xlsx" in names
    book = openpyxl.load_workbook(tmp_path / "通报_150500_2024-12.xlsx")
    assert book.sheetnames == ["概况", "趋势", "网格", "代办员"]
    assert len(book["趋势"]._charts) == 1 and len(book["网格"]._charts) == 1
    assert [c.value for c in book["代办员"][2]][:1] == ["A2"]
    if store.url.endswith(
        ".gpkg"
    ):  # the command on the same records (a masked PostGIS DSN cannot be reopened)
        assert (
            main(
                [
                    "bulletin",
                    "--month",
                    "2024-12",
                    "--out",
                    str(tmp_path / "cli"),
                    "--store",
                    store.url,
                    "--city-only",
                ]
            )
            == 0
        )
        assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == [
            "通报_150500_2024-12.html",
            "通报_150500_2024-12.xlsx",
        ]


@pytest.mark.browser
def test_bulletin_opens_offline_with_its_charts(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium fonts-wqy-zenhei (make system-deps)")
    cases, workers, patrols, items, visits, admin = records()
    b = build_bulletin(
        cases,
        items,
        visits,
        workers,
        patrols,
        "2024-12",
        admin_units=admin[["code", "name", "level", "parent_code"]],
    )
    page_path = tmp_path / "bulletin.html"
    page_path.write_text(render_bulletin(b), encoding="utf-8")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
            ],
        )
        context = browser.new_context(viewport={"width": 900, "height": 1400}, locale="zh-CN", offline=True)
        pg = context.new_page()
        requests = []
        pg.on("request", lambda r: requests.append(r.url))
        pg.goto(page_path.as_uri())
        for chart in ("#trend", "#petition-trend", "#top-grids", "#agents-behind"):
            box = pg.locator(f"{chart} svg").bounding_box()
            assert box and box["width"] > 300 and box["height"] > 20, chart
        assert pg.locator("#trend polyline").count() == 2
        assert pg.locator("#top-grids rect").count() == len(b.top_grids)
        assert "A2" in pg.locator("#agents-behind").inner_text() or "A2" in pg.content()
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "bulletin.png"), full_page=True)
        context.close()
        browser.close()
    assert [u for u in requests if not u.startswith("file:")] == []
