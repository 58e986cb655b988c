"""The command view shows an optimized hot-spot run's decisions and the legend's confidence.

Its own server and store (the other browser tests expect the test city's plain Gi* run to be
the newest): the test city plus one ``optimized`` run on H3 cells.  Screenshot saved to
tests/artifacts/command_optimized.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api_testdata import LiveServer, city_gpkg
from tests.web.test_web_browser import CHROMIUM, READY, _shot, _sign_in

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def optimized_server(tmp_path_factory):
    from api.main import create_app
    from gridmap.config import Settings
    from gridmap.hotspots.runs import run_hotspots

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium fonts-wqy-zenhei (make system-deps)")
    store, _ = city_gpkg(tmp_path_factory.mktemp("web-optimized") / "city.gpkg")
    run_id = run_hotspots(store, "optimized", filters={}, params={"k_max": 3})
    app = create_app(Settings(), store=store)
    with LiveServer(app) as live:
        live.run_id = run_id
        yield live
    app.state.jobs.shutdown()
    store.close()


def test_optimized_run_decisions_and_confidence_in_the_legend(optimized_server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        page = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN").new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(optimized_server.url + "/")
        page.wait_for_selector(READY, state="attached", timeout=20000)
        _sign_in(page, "commander")
        page.wait_for_selector("#legend-command .gi-decisions li")
        legend = page.inner_text("#legend-command")
        decisions = page.locator("#legend-command .gi-decisions li")
        assert decisions.count() == 4
        for name in ("aggregation", "scale", "inference", "multiple testing"):
            assert page.locator(f".gi-decisions li[data-decision='{name}']").count() == 1
        assert "优化热点分析的选择" in legend and "尺度" in legend
        assert "H3 resolution" in legend and "ring order k=" in legend and "Moran's I z" in legend
        assert "Benjamini-Hochberg FDR 0.05" in legend
        # the confidence of "hot": FDR 0.05, the ArcGIS classes labelled 99/95/90 %
        assert "FDR ≤ 0.05" in page.inner_text("#legend-command .gi-confidence")
        for label in ("热点 99%", "热点 95%", "热点 90%", "冷点 99%"):
            assert label in legend
        assert page.locator("path.gi-unit").count() > 0
        page.locator("#legend-command").scroll_into_view_if_needed()
        _shot(page, "command_optimized")
        browser.close()
        assert not errors, errors
