"""Benchmark: the page's first paint on a built store, and how long vector tiles take once zoomed in.

Issue #15, item 5.  Serves ``--store`` (default var/gridmap.gpkg, the scale-1 Tongliao demo) with
``gridmap serve`` and opens the page in headless Chromium (/usr/bin/chromium, Playwright), anonymous,
``--runs`` times, each in a fresh browser context (no HTTP cache):

* **first paint** — ``body[data-first-paint-ms]``, written by web/app.js: milliseconds from
  navigation start until the city's counties with their case counts (/unit-counts), the hot-spot
  areas and the vector tiles in view are drawn (at the city's zoom no grid tile is in view: grids,
  hot-spot units and coverage come as tiles from zoom 10);
* **zoom in** — then three clicks on "+" (zoom 10 and more); milliseconds until every vector tile in
  view has arrived and been drawn, and how many SVG paths the hot-spot tiles hold;
* the requests: tiles (/tiles/…pbf) against whole-layer GeoJSON of grids, results or coverage.

The figures include the server's first-time costs in the first run (the tile source index of a
run is built on its first tile); later runs show the warm server.  The machine's 2 cores are
shared: the load average is printed beside each run.

    .venv/bin/python bench/web_first_paint.py [--store var/gridmap.gpkg] [--runs 5] [--port 8143]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import start_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"

TILES_DRAWN = """() => {
  const tiles = document.querySelectorAll('.leaflet-hot-pane .leaflet-tile');
  return tiles.length > 0 && [...tiles].every((t) => t.classList.contains('leaflet-tile-loaded'));
}"""


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def run(store: str, runs: int, port: int) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(store, port, Path(tmp) / "server.log")
        try:
            url = f"http://127.0.0.1:{port}/"
            rows = []
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                )
                for i in range(runs):
                    # bypass_csp: the page forbids eval, which Playwright's wait_for_function needs
                    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
                    page = context.new_page()
                    requests: list[str] = []
                    page.on("request", lambda r, seen=requests: seen.append(r.url))
                    load = _load()
                    t = time.perf_counter()
                    page.goto(url)
                    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60000)
                    wall_ms = (time.perf_counter() - t) * 1000
                    first_paint = int(page.get_attribute("body", "data-first-paint-ms"))
                    zoom0 = page.evaluate("() => document.querySelector('.leaflet-hot-pane') !== null")
                    t = time.perf_counter()
                    for _ in range(3):
                        page.click(".leaflet-control-zoom-in")
                        page.wait_for_timeout(300)  # the zoom animation
                    page.wait_for_function(TILES_DRAWN, timeout=60000)
                    zoom_ms = (time.perf_counter() - t) * 1000 - 900
                    paths = page.locator(".leaflet-hot-pane path").count()
                    paths_set = {urlsplit(u).path for u in requests}
                    tiles = sum(1 for u in requests if "/tiles/" in u)
                    whole = [
                        u
                        for u in paths_set
                        if u.endswith("/results") or u == "/api/v1/coverage/grids" or u.endswith("/grids")
                    ]
                    rows.append((first_paint, wall_ms, zoom_ms, paths, tiles, len(whole), load, bool(zoom0)))
                    print(
                        f"run {i + 1}: first paint {first_paint} ms (goto → ready {wall_ms:.0f} ms); "
                        f"zoom in → tiles drawn {zoom_ms:.0f} ms, {paths} hot-spot paths; "
                        f"{tiles} tile requests, {len(whole)} whole-layer GeoJSON requests; load {load}",
                        flush=True,
                    )
                    context.close()
                browser.close()
            firsts = [r[0] for r in rows]
            zooms = [r[2] for r in rows]
            print(
                f"\nfirst paint: median {statistics.median(firsts):.0f} ms, max {max(firsts)} ms over {runs} runs; "
                f"zoom in → tiles: median {statistics.median(zooms):.0f} ms"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="var/gridmap.gpkg")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=8143)
    args = parser.parse_args()
    run(args.store, args.runs, args.port)


if __name__ == "__main__":
    main()
