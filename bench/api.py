"""Benchmark: vector tiles of the grids under 20 concurrent clients.

    .venv/bin/python bench/api.py [--store var/gridmap.gpkg] [--seconds 15] [--clients 20]
                                  [--zooms 9,10,11,12,13] [--layer grids]

Starts ``gridmap serve`` (a separate uvicorn process, 127.0.0.1 on a free port) against the
store (default: the demo store ``var/gridmap.gpkg``), then ``--clients`` concurrent clients
fetch ``/tiles/<layer>/z/x/y.pbf`` for every tile covering the city at ``--zooms``, in a
shuffled loop, for ``--seconds``.  The first pass over the tiles builds them (cache misses);
later passes hit the server's LRU cache, as a real map session does when panning back and forth.

Prints requests, tiles/s, median and p99 latency (ms) overall and for the first (uncached)
request of each tile; target: median < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _server import start_server  # noqa: E402  (bench/ is the script folder, first on sys.path)

from api import mvt  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def city_bounds(store_path: str) -> tuple[float, float, float, float]:
    from gridmap.store import open_store

    with open_store(store_path) as store:
        plan = store.active_plan_id()
        if plan is None or not store.count("grids", {"plan_id": plan}):
            sys.exit(
                f"bench/api.py: {store_path} has no active plan with grids; run `gridmap build-demo` first"
            )
        grids = store.read("grids", where={"plan_id": plan}, columns=["geometry"])
        return tuple(float(v) for v in grids.total_bounds)


async def fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> tuple[int, bytes]:
    """One keep-alive HTTP/1.1 GET on an open connection: (status, body).

    A minimal client on purpose: a full client library costs more CPU per request than the
    server does for a cached tile, and client and server share the machine.
    """
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def client(
    port: int, tiles: list, layer: str, until: float, seed: int, latencies: list, first: dict, sizes: list
) -> None:
    order = tiles[:]
    random.Random(seed).shuffle(order)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        i = 0
        while time.perf_counter() < until:
            z, x, y = order[i % len(order)]
            i += 1
            t0 = time.perf_counter()
            status, body = await fetch(reader, writer, f"/tiles/{layer}/{z}/{x}/{y}.pbf")
            ms = (time.perf_counter() - t0) * 1000
            if status not in (200, 204):
                raise RuntimeError(f"tile {z}/{x}/{y}: HTTP {status} {body[:200]!r}")
            latencies.append(ms)
            sizes.append(len(body))
            first.setdefault((z, x, y), ms)
    finally:
        writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run(port: int, tiles: list, layer: str, seconds: float, clients: int) -> tuple[list, dict, list]:
    latencies: list[float] = []
    first: dict = {}
    sizes: list[int] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(
        *(client(port, tiles, layer, until, seed, latencies, first, sizes) for seed in range(clients))
    )
    return latencies, first, sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(ROOT / "var" / "gridmap.gpkg"))
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--zooms", default="9,10,11,12,13")
    parser.add_argument("--layer", default="grids", choices=["grids", "hotspots"])
    args = parser.parse_args()

    if not args.store.startswith("postgres") and not Path(args.store).exists():
        sys.exit(f"bench/api.py: no store at {args.store}; run `gridmap build-demo` first (or pass --store)")
    bounds = city_bounds(args.store)
    tiles = mvt.tiles_covering(bounds, [int(z) for z in args.zooms.split(",")])
    port = free_port()
    log_path = ROOT / "bench" / "out" / "api_server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # the tile throughput is measured, not the per-address rate limit (#13), which would answer 429
    no_limits = {"GRIDMAP_RATE_LIMIT_PER_ADDRESS": "0", "GRIDMAP_RATE_LIMIT_PER_TOKEN": "0"}
    server = start_server(args.store, port, log_path, env=no_limits)
    try:
        t0 = time.perf_counter()
        latencies, first, sizes = asyncio.run(run(port, tiles, args.layer, args.seconds, args.clients))
        elapsed = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=10)
    firsts = list(first.values())
    print(
        f"store {args.store}: {len(tiles)} tiles at zooms {args.zooms} over "
        f"({bounds[0]:.3f}, {bounds[1]:.3f}) – ({bounds[2]:.3f}, {bounds[3]:.3f})"
    )
    print(
        f"{args.clients} clients, {elapsed:.1f} s: {len(latencies)} requests, {len(latencies) / elapsed:.0f} tiles/s, "
        f"{sum(sizes) / 1e6:.1f} MB"
    )
    print(
        f"latency all:    median {statistics.median(latencies):6.1f} ms   p99 {percentile(latencies, 0.99):7.1f} ms"
    )
    print(
        f"latency first:  median {statistics.median(firsts):6.1f} ms   p99 {percentile(firsts, 0.99):7.1f} ms "
        f"({len(firsts)} distinct tiles fetched)"
    )
    target = statistics.median(latencies) < 50
    print(f"target median < 50 ms: {'met' if target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
