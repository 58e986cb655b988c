"""Where am I on the map: an intranet 天地图 WMTS in both tile matrix sets, or unit names without one.

A fake WMTS answers on 127.0.0.1 (tiles drawn by the test, every request recorded); the page is
checked to ask for the tiles that really cover the city — which only holds with the right zoom
offset (matrix set ``c`` = EPSG:4490 lon/lat: Tianditu level = Leaflet zoom + 1) and the right
row/column formula — and with no base map the page writes county, township and village names at
their zooms.  Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import math
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api_testdata import LiveServer, city_gpkg

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
READY = "body[data-ready='1']"
CENTRE = (122.25, 43.65)  # the test city's centre (WGS-84 ≈ CGCS2000)


def _png(rgba: tuple[int, int, int, int], border: tuple[int, int, int, int]) -> bytes:
    """A 256 × 256 tile of one colour with a 2-pixel border (so tile edges show in the screenshot)."""
    size = 256
    inner = bytes(rgba) * size
    edge = bytes(border) * size
    rows = []
    for y in range(size):
        line = edge if y < 2 or y >= size - 2 else bytes(border) * 2 + inner[8:-8] + bytes(border) * 2
        rows.append(b"\x00" + line)
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


TILES = {"vec": _png((236, 232, 220, 255), (180, 170, 150, 255)), "cva": _png((0, 0, 0, 0), (0, 0, 0, 0))}


class FakeWmts:
    """A WMTS GetTile endpoint on 127.0.0.1: /tdt/{layer}_{set}/wmts?…; records every query."""

    def __init__(self) -> None:
        requests: list[dict] = []
        self.requests = requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                query["path"] = parts.path
                requests.append(query)
                body = TILES.get(query.get("LAYER", ""), TILES["vec"])
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tdt"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeWmts:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium fonts-wqy-zenhei (make system-deps)")
    store, _ = city_gpkg(tmp_path_factory.mktemp("basemap") / "city.gpkg")
    yield store
    store.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
            ],
        )
        yield b
        b.close()


def _open(browser, store, **settings):
    """Serve the page with ``settings``, load it, yield (page, requested urls, errors)."""
    from api.main import create_app
    from gridmap.config import Settings

    app = create_app(Settings(**settings), store=store)
    live = LiveServer(app).__enter__()
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN")
    pg = context.new_page()
    requests, errors = [], []
    pg.on("request", lambda r: requests.append(r.url))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on(
        "console",
        lambda m: m.type == "error" and "Content Security Policy" in m.text and errors.append(m.text),
    )
    pg.goto(live.url + "/")
    pg.wait_for_selector(READY, state="attached", timeout=30000)

    def close():
        context.close()
        live.__exit__(None, None, None)
        app.state.jobs.shutdown()
        outside = [
            u
            for u in requests
            if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname != "127.0.0.1"
        ]
        assert not outside, f"requests left 127.0.0.1: {outside[:5]}"
        assert not errors, errors

    return pg, requests, close


def _shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _geographic_tile(lon: float, lat: float, level: int) -> tuple[int, int]:
    """Tianditu ``c`` (EPSG:4490): level L has 2^L × 2^(L-1) tiles of 360/2^L degrees from (-180, 90)."""
    span = 360.0 / 2**level
    return int((lon + 180.0) // span), int((90.0 - lat) // span)


def _mercator_tile(lon: float, lat: float, level: int) -> tuple[int, int]:
    n = 2**level
    y = (1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180.0) / 360.0 * n), int(y)


@pytest.mark.parametrize("matrix_set", ["c", "w"])
def test_tianditu_wmts_tiles_cover_the_city(browser, city, matrix_set):
    with FakeWmts() as wmts:
        pg, _, close = _open(
            browser,
            city,
            tianditu_url=wmts.url,
            tianditu_key="intranet-key",
            tianditu_matrix_set=matrix_set,
            tianditu_layers="vec,cva",
        )
        try:
            pg.wait_for_selector("img.leaflet-tile-loaded")
            pg.wait_for_timeout(500)
            assert pg.get_attribute("body", "data-basemap") == f"tianditu-{matrix_set}"
            assert "天地图" in pg.inner_text(".leaflet-control-attribution")
            assert pg.locator(".admin-label").count() == 0  # the base map names places itself
            _shot(pg, f"basemap_tianditu_{matrix_set}")
        finally:
            close()
    tiles = [q for q in wmts.requests if q.get("REQUEST") == "GetTile"]
    assert tiles, "no tile was requested"
    assert {q["TILEMATRIXSET"] for q in tiles} == {matrix_set}
    assert {q["LAYER"] for q in tiles} == {"vec", "cva"}
    assert {q["tk"] for q in tiles} == {"intranet-key"}
    assert {q["path"] for q in tiles} == {f"/tdt/vec_{matrix_set}/wmts", f"/tdt/cva_{matrix_set}/wmts"}
    # the tiles asked for at each level include the one that holds the city's centre
    tile_of = _geographic_tile if matrix_set == "c" else _mercator_tile
    by_level: dict[int, set[tuple[int, int]]] = {}
    for q in tiles:
        by_level.setdefault(int(q["TILEMATRIX"]), set()).add((int(q["TILECOL"]), int(q["TILEROW"])))
    for level, cells in by_level.items():
        assert tile_of(*CENTRE, level) in cells, (level, sorted(cells)[:6])
    if matrix_set == "c":
        # the wrong zoom offset would ask level L for Leaflet's zoom L: its tiles would not hold the centre
        level = max(by_level)
        assert _geographic_tile(*CENTRE, level - 1) not in by_level[level]


def test_without_a_base_map_units_are_named_at_their_zooms(browser, city):
    pg, requests, close = _open(browser, city)
    try:
        assert pg.get_attribute("body", "data-basemap") == "none"
        pg.wait_for_selector(".admin-label")
        first = pg.get_attribute("body", "data-labels")
        names = pg.locator(".admin-label").all_inner_texts()
        shown = {"county": "科尔沁区", "township": "西门街道", "village": "民航社区"}
        for level in first.split(","):
            assert shown[level] in names, (level, names)
        _shot(pg, "basemap_none_labels")
        # zoom in with the wheel over 民航社区's centre (122.125, 43.575), found from the township
        # names at (122.125, 43.65) and (122.375, 43.65): the wheel keeps that point under the cursor
        west = pg.locator(".admin-label-township", has_text="西门街道").bounding_box()
        east = pg.locator(".admin-label-township", has_text="东门街道").bounding_box()
        per_degree = (east["x"] - west["x"]) / 0.25
        x = west["x"] + west["width"] / 2
        y = west["y"] + west["height"] / 2 + 0.075 * per_degree / math.cos(math.radians(43.6))
        pg.mouse.move(x, y)
        for _ in range(8):  # until the villages are named
            if "village" in (pg.get_attribute("body", "data-labels") or ""):
                break
            before = pg.get_attribute("body", "data-labels")
            pg.mouse.wheel(0, -200)
            pg.wait_for_timeout(800)
            # on a busy server the labels of the new zoom can come after its vector tiles: give them
            # time, or the next turn of the wheel zooms past the village, off its label
            for _ in range(15):
                if pg.get_attribute("body", "data-labels") != before:
                    break
                pg.wait_for_timeout(200)
        assert "village" in pg.get_attribute("body", "data-labels")
        assert pg.locator(".admin-label-county").count() == 0
        label = pg.locator(".admin-label-village", has_text="民航社区").bounding_box()
        frame = pg.locator("#map").bounding_box()
        assert (
            frame["x"] < label["x"] < frame["x"] + frame["width"]
            and frame["y"] < label["y"] < frame["y"] + frame["height"]
        ), (label, frame)
        _shot(pg, "basemap_none_village_labels")
    finally:
        close()
    assert any("/admin-units/labels?level=" in u for u in requests)
