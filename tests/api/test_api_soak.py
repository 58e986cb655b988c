"""A short soak of the real server (issue #13): clients on mixed routes answer without a server
error, and once the load stops the server goes back to its idle size — the same after a second
load as after the first (that idle worker threads end is tested in ``test_api_limits.py``).

The 10-minute, 20-client version on the scale-0.1 demo is ``bench/soak.py``; this one runs the
same mechanism (a ``gridmap serve`` process, its thread pool, both idle stages) in seconds on the
test city, with the second idle stage brought forward (``GRIDMAP_IDLE_RELEASE_S=1``), under the
default allocator of ``gridmap serve`` (the C allocator: see ``api/cli.py``).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from api import mvt
from tests.api_testdata import PASSWORDS, city_gpkg, free_port

ROOT = Path(__file__).resolve().parents[2]


def _status(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _rss_mib(pid: int) -> float:
    return _status(pid, "VmRSS") / 1024


def _routes() -> list[tuple[bool, str]]:
    tiles = mvt.tiles_covering((122.05, 43.55, 122.35, 43.75), [10, 11, 12])
    z, x, y = tiles[0]
    return [
        (False, "/api/health"),
        (False, "/api/v1/grid-counts?limit=10"),
        (False, "/api/v1/admin-units?simplify=50"),
        (False, "/api/v1/plans/P1/grids?simplify=20"),
        (False, f"/tiles/grids/{z}/{x}/{y}.pbf"),
        (False, "/ogc/collections/grids/items?limit=100"),
        (False, "/api/v1/hotspots/latest/gi"),
        (True, "/api/v1/cases?limit=50"),
        (True, "/api/v1/plans/P1/quality"),
        (True, "/api/v1/coverage/audit"),
        (True, "/api/v1/kpis"),
    ]


def _load(base: str, token: str, seconds: float, clients: int, pid: int) -> tuple[int, int, float]:
    """``clients`` threads on the routes for ``seconds``: (requests, server errors, peak RSS MiB)."""
    table = _routes()
    stop = time.monotonic() + seconds
    counts = {"requests": 0, "errors": 0}
    lock = threading.Lock()

    def client(seed: int) -> None:
        rnd = random.Random(seed)
        with httpx.Client(base_url=base, timeout=60) as http:
            while time.monotonic() < stop:
                signed, url = rnd.choice(table)
                headers = {"Authorization": f"Bearer {token}"} if signed else {}
                try:
                    error = http.get(url, headers=headers).status_code >= 500
                except httpx.HTTPError:
                    error = True
                with lock:
                    counts["requests"] += 1
                    counts["errors"] += error

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    peak = 0.0
    while any(t.is_alive() for t in threads):
        peak = max(peak, _rss_mib(pid))
        time.sleep(0.2)
    return counts["requests"], counts["errors"], peak


def _settled(pid: int, seconds: float) -> float:
    """RSS after ``seconds`` without a request (the second idle stage has run by then)."""
    time.sleep(seconds)
    return _rss_mib(pid)


def test_soak_no_errors_and_back_to_idle_size(tmp_path):
    store, _ = city_gpkg(tmp_path / "city.gpkg")
    store.close()
    path = tmp_path / "city.gpkg"
    port = free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        GRIDMAP_IDLE_RELEASE_S="1",
        GRIDMAP_RATE_LIMIT_PER_ADDRESS="0",
        GRIDMAP_RATE_LIMIT_PER_TOKEN="0",
    )
    cmd = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [*cmd, "--store", str(path)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            assert server.poll() is None, "the server exited"
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, "the server did not come up"
            time.sleep(0.2)
        # by default ``gridmap serve`` restarted itself (same process) under the C allocator
        with open(f"/proc/{server.pid}/environ", "rb") as environ:
            assert b"PYTHONMALLOC=malloc" in environ.read().split(b"\0")
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "commander", "password": PASSWORDS["commander"]}
        ).json()["access_token"]

        # idle size: every route served once (code loaded, lazy state built), then the idle stages
        _load(base, token, 1.0, 1, server.pid)
        idle = _settled(server.pid, 2.2)

        requests, errors, peak = _load(base, token, 2.5, 8, server.pid)
        after_first = _settled(server.pid, 2.2)
        requests_2, errors_2, peak_2 = _load(base, token, 2.5, 8, server.pid)
        after_second = _settled(server.pid, 2.2)

        assert requests > 30 and requests_2 > 30
        assert errors == errors_2 == 0
        assert max(peak, peak_2) < 1536  # the 1.5 GB; this city needs far less
        assert after_first - idle < 25, (idle, after_first)  # back to the idle size …
        assert after_second - after_first < 10, (after_first, after_second)  # … and not creeping up
    finally:
        server.terminate()
        server.wait(timeout=30)
