"""Cold-start memory peak per route: which answers need the most memory while they are built.

    .venv/bin/python bench/route_peak.py --store COPY.gpkg [--concurrent 1] [--routes "plan quality,coverage audit"]

For each of ``bench/soak.py``'s routes: a fresh ``gridmap serve`` on the store (nothing cached),
its peak resident memory reset (``/proc/<pid>/clear_refs``), ``--concurrent`` simultaneous
requests of the route, then the server's peak (``VmHWM``) and RSS afterwards beside its RSS
before, the status codes, the largest answer and the slowest request.  Used for issue #13: the
soak's peaks are the sum of what the heavy routes build at once on a cold start.  Give a copy of
a store (a soak user is written into it).  Linux only (/proc).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from _server import start_server  # noqa: E402  (bench/ is the script folder, first on sys.path)
from soak import prepare, routes, rss_mb, status_mib  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="a copy of a demo store")
    parser.add_argument("--concurrent", type=int, default=1)
    parser.add_argument("--routes", default="", help="comma-separated route names (default: all)")
    parser.add_argument("--port", type=int, default=8121)
    args = parser.parse_args(argv)
    ctx = prepare(args.store)
    wanted = {name.strip() for name in args.routes.split(",") if name.strip()}
    env = {"GRIDMAP_RATE_LIMIT_PER_ADDRESS": "0", "GRIDMAP_RATE_LIMIT_PER_TOKEN": "0"}
    base = f"http://127.0.0.1:{args.port}"
    print(f"{'route':<18}{'RSS before':>11}{'peak':>7}{'after':>7}  codes, largest answer, slowest request")
    for name, _, signed, url in routes(ctx):
        if wanted and name not in wanted:
            continue
        server = start_server(
            args.store, args.port, Path(f"/tmp/gridmap-route-peak-{args.port}.log"), env=env
        )
        try:
            token = httpx.post(
                f"{base}/api/v1/auth/token", data={"username": "soak-commander", "password": ctx["password"]}
            ).json()["access_token"]
            time.sleep(1)
            with open(f"/proc/{server.pid}/clear_refs", "w") as clear:
                clear.write("5")  # resets VmHWM to the current RSS
            before = rss_mb(server.pid)
            answers: list[tuple[int, int, float]] = []
            headers = {"Authorization": f"Bearer {token}"} if signed else {}

            def request(url=url, headers=headers, answers=answers) -> None:
                started = time.perf_counter()
                r = httpx.get(base + url(), headers=headers, timeout=300)
                answers.append((r.status_code, len(r.content), time.perf_counter() - started))

            threads = [threading.Thread(target=request) for _ in range(args.concurrent)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            codes = sorted({code for code, _, _ in answers})
            print(
                f"{name:<18}{before:>11.0f}{status_mib(server.pid, 'VmHWM'):>7.0f}{rss_mb(server.pid):>7.0f}  "
                f"{codes}, {max(b for _, b, _ in answers):,} bytes, {max(s for *_, s in answers):.1f} s",
                flush=True,
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
