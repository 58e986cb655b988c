"""Where the API server's memory goes: per-route RSS deltas, smaps, tracemalloc diffs, gc counts.

    .venv/bin/python bench/route_memory.py --store COPY.gpkg [--requests 24] [--clients 4]
                                           [--tracemalloc] [--routes "latest gi,cases"]
                                           [--passes 1]

Runs the server *in this process* (uvicorn in a thread, the same app ``gridmap serve`` builds)
so that the process can be inspected from inside, then calls each of ``bench/soak.py``'s routes
``--requests`` times from ``--clients`` threads, one route after the other, and prints per route:

* RSS after the route (MiB) and its change; ``Anonymous`` and ``Private_Dirty`` of
  ``/proc/self/smaps_rollup`` (heap memory that is not file-backed);
* with ``--tracemalloc``: Python-traced memory after the route and its change, the three
  allocation sites that grew most (tracemalloc snapshot diff), and the number of gc-tracked
  objects — Python objects that stay (caches, leaks) show here, freed-but-kept heap
  (allocator arenas) shows only as RSS;
* at the end: RSS after ``malloc_trim(0)`` (what the allocator held but did not need).

Give a copy of a store: a soak user is written into it.  Used for issue #13 ("server stays under
1.5 GB under the soak"), to find which routes raise the process size and whether the growth is
Python objects or allocator memory.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from soak import prepare, routes  # noqa: E402  (bench/ is the script folder, first on sys.path)


def smaps() -> dict[str, float]:
    """Rss, Anonymous and Private_Dirty of this process in MiB (/proc/self/smaps_rollup)."""
    out = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0].rstrip(":") in ("Rss", "Anonymous", "Private_Dirty"):
                out[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return out


def sqlite_mib() -> float:
    """Memory held by SQLite in this process (page caches of every open connection), MiB."""
    import ctypes
    import sqlite3  # noqa: F401  (loads libsqlite3 the way the store does)

    lib = ctypes.CDLL("libsqlite3.so.0")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib.sqlite3_memory_used() / 2**20


def pymalloc_mib() -> tuple[float, float]:
    """Python's small-object allocator: MiB held in arenas and MiB of live objects in them
    (parsed from ``sys._debugmallocstats()``, which writes to file descriptor 2)."""
    import os
    import tempfile

    with tempfile.TemporaryFile(mode="w+") as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read()
    numbers = {}
    for line in text.splitlines():
        label, _, value = line.rpartition("=")
        try:
            numbers.setdefault(label.strip(), float(value.strip().replace(",", "")))
        except ValueError:  # headers and lines that are not "label = number"
            continue
    arenas = next((v for k, v in numbers.items() if k.endswith("bytes/arena")), float("nan"))
    return arenas / 2**20, numbers.get("# bytes in allocated blocks", float("nan")) / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--port", type=int, default=8117)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument(
        "--passes", type=int, default=1, help="run every route, then the idle stages, this many times"
    )
    parser.add_argument("--routes", default="", help="comma-separated route names (default: all)")
    args = parser.parse_args(argv)

    import os

    os.environ.setdefault("GRIDMAP_RATE_LIMIT_PER_ADDRESS", "0")
    os.environ.setdefault("GRIDMAP_RATE_LIMIT_PER_TOKEN", "0")
    import uvicorn

    from api.limits import release_memory
    from api.main import create_app
    from gridmap.store import open_store

    ctx = prepare(args.store)
    app = create_app(store=open_store(args.store))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{args.port}"
    while not server.started:
        time.sleep(0.1)
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": "soak-commander", "password": ctx["password"]}
    ).json()["access_token"]
    wanted = {name.strip() for name in args.routes.split(",") if name.strip()}
    table = [r for r in routes(ctx) if not wanted or r[0] in wanted]

    if args.tracemalloc:
        tracemalloc.start(8)
    gc.collect()
    before = smaps()
    print(
        f"idle: RSS {before['Rss']:.0f} MiB, anonymous {before['Anonymous']:.0f} MiB, "
        f"{len(sys.modules)} modules loaded, Python arenas {pymalloc_mib()[0]:.0f} MiB "
        f"({pymalloc_mib()[1]:.0f} MiB live objects)"
    )
    print(
        f"{'route':<18}{'codes':>14}{'RSS':>7}{'ΔRSS':>7}{'anon':>7}"
        + f"{'sqlite':>7}{'threads':>8}{'conns':>6}"
        + (f"{'traced':>8}{'Δtraced':>8}{'objects':>9}" if args.tracemalloc else "")
    )
    snapshot = tracemalloc.take_snapshot() if args.tracemalloc else None
    state = app.state
    for run in range(1, args.passes + 1):
        if args.passes > 1:
            print(f"pass {run} of {args.passes}")
        for name, _, signed, url in table:
            headers = {"Authorization": f"Bearer {token}"} if signed else {}
            codes: dict[int, int] = {}
            lock = threading.Lock()
            per_client = max(1, args.requests // args.clients)

            def client(url=url, headers=headers, codes=codes, lock=lock, per_client=per_client) -> None:
                with httpx.Client(base_url=base, timeout=300) as http:
                    for _ in range(per_client):
                        code = http.get(url(), headers=headers).status_code
                        with lock:
                            codes[code] = codes.get(code, 0) + 1

            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            gc.collect()
            now = smaps()
            line = (
                f"{name:<18}{','.join(f'{k}:{v}' for k, v in sorted(codes.items())):>14}"
                f"{now['Rss']:>7.0f}{now['Rss'] - before['Rss']:>+7.0f}{now['Anonymous']:>7.0f}"
                f"{sqlite_mib():>7.0f}{threading.active_count():>8}{len(getattr(app.state.store, '_connections', [])):>6}"
            )
            if args.tracemalloc:
                current = tracemalloc.take_snapshot()
                traced = sum(s.size for s in current.statistics("filename")) / 2**20
                was = sum(s.size for s in snapshot.statistics("filename")) / 2**20
                line += f"{traced:>8.0f}{traced - was:>+8.1f}{len(gc.get_objects()):>9}"
                print(line)
                for stat in current.compare_to(snapshot, "traceback")[:3]:
                    if stat.size_diff > 512 * 1024:
                        frames = [f"{f.filename.split('/')[-1]}:{f.lineno}" for f in stat.traceback[:4]]
                        print(f"    {stat.size_diff / 2**20:+.1f} MiB at {' < '.join(frames)}")
                snapshot = current
            else:
                print(line)
            before = now
        release_memory()
        trimmed = smaps()
        print(
            f"after malloc_trim(0): RSS {trimmed['Rss']:.0f} MiB, anonymous {trimmed['Anonymous']:.0f} MiB, "
            f"SQLite {sqlite_mib():.0f} MiB"
        )
        # the server's idle stages, one cache at a time: what each holds (RSS freed once emptied + trimmed)
        from api import limits, tilesource

        steps = [
            ("store caches (idle stage 1)", lambda: state.store.release_memory()),
            (f"tile cache ({len(state.tile_cache)} tiles)", state.tile_cache.clear),
            (
                f"tile indexes ({len(state.tile_indexes) + len(tilesource._DEFAULT_INDEXES)} sources)",
                lambda: (state.tile_indexes.clear(), tilesource._DEFAULT_INDEXES.clear()),
            ),
            ("tile source memo", state.tile_sources.clear),
            (f"report cache ({len(limits.REPORTS)} reports)", limits.REPORTS.clear),
            (
                "functools caches ("
                + ", ".join(
                    f"{c.__qualname__} {c.cache_info().currsize}"
                    for c in limits.project_lru_caches()
                    if c.cache_info().currsize
                )
                + ")",
                lambda: limits.clear_caches(limits.project_lru_caches()),
            ),
            ("gc.collect()", gc.collect),
        ]
        last = trimmed["Rss"]
        for label, step in steps:
            step()
            release_memory()
            rss = smaps()["Rss"]
            print(f"  emptied {label}: RSS {rss:.0f} MiB ({rss - last:+.0f})")
            last = rss
        arenas, live = pymalloc_mib()
        print(
            f"after idle stage 2 (every cache emptied): RSS {last:.0f} MiB, SQLite {sqlite_mib():.0f} MiB, "
            f"{len(sys.modules)} modules loaded, Python arenas {arenas:.0f} MiB ({live:.0f} MiB live objects)"
        )
        before = smaps()
    server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
