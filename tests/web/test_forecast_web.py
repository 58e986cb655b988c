"""The 预警 layer and list in the command view, in headless Chromium against a live server.

A forecast run is stored on the hand-made test city; the page lists its grids by rank (with
the why text once a commander signs in), draws the top grids as a layer, and every request
stays on 127.0.0.1.  The screenshot goes to tests/artifacts/forecast_command.png.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gridmap.forecast.runs import read_forecast, run_forecast
from tests.api_testdata import PASSWORDS, LiveServer, city_gpkg

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from api.main import create_app
    from gridmap.config import Settings

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium fonts-wqy-zenhei (make system-deps)")
    store, _ = city_gpkg(tmp_path_factory.mktemp("fcweb") / "city.gpkg")
    run_id = run_forecast(store, "dispute", "2024-12-01", method="rolling_3")
    app = create_app(Settings(), store=store)
    with LiveServer(app) as live:
        live.run = read_forecast(store, run_id)
        yield live
    app.state.jobs.shutdown()
    store.close()


def test_command_view_lists_and_draws_the_warning_grids(server):
    run, results = server.run
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
        pg = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        requests, errors = [], []
        pg.on("request", lambda r: requests.append(r.url))
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server.url + "/")
        pg.wait_for_selector("body[data-ready='1']", state="attached", timeout=20000)
        pg.wait_for_selector("#forecast-list li", timeout=20000)
        first = pg.inner_text("#forecast-list li >> nth=0")
        assert results["grid_code"].iloc[0] in first
        assert "近30天" not in first  # the public sees no why text
        assert run["method"] in pg.inner_text("#forecast-meta")
        pg.fill("#login-user", "commander")
        pg.fill("#login-pass", PASSWORDS["commander"])
        pg.click("#login-form button[type=submit]")
        pg.wait_for_selector("body[data-user='commander'][data-ready='1']", state="attached", timeout=20000)
        pg.wait_for_selector("#forecast-list li .hint", timeout=20000)
        assert "近30天本网格" in pg.inner_text("#forecast-list li >> nth=0")
        assert pg.locator("#forecast-list li").count() == min(15, len(results))
        pg.wait_for_timeout(500)
        assert pg.locator("path.leaflet-interactive[fill='#7f0000']").count() >= 1  # the top grid drawn
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "forecast_command.png"))
        browser.close()
    outside = [
        u
        for u in requests
        if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert not outside and not errors, (outside[:5], errors)
