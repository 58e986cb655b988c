"""Soak: 20 clients on mixed routes for N minutes; requests, errors, p50/p99 per route, server RSS.

    .venv/bin/python bench/soak.py [--store var/gridmap.gpkg] [--minutes 10] [--clients 20]
                                   [--port 8114] [--keep-rate-limit] [--code DIR]
                                   [--idle-seconds 100] [--warm-up-seconds 65]

Starts ``gridmap serve`` (its own uvicorn process on 127.0.0.1:``--port``) on the store, signs
a soak user in (a commander, created in the store with a random password), then ``--clients``
threads call a weighted mix of routes — anonymous (health, grid counts, admin units, grids of a
county, latest Gi* results, vector tiles, OGC items, atoms of one grid, KPIs refused) and signed
in (cases, case points, KPIs, plan quality, coverage audit) — for ``--minutes``.

Prints per route: requests, errors (5xx, transport failures), 4xx, p50 and p99 latency (ms);
then the server's resident memory (RSS, from /proc) every 30 s with its threads and open store
connections (files open on the store); then, once the server's CPU is quiet, its RSS every 5 s for
``--idle-seconds`` (default 100: the server empties its caches after 60 s without a request), and
the final RSS beside the idle size before the load, with where the memory sits (anonymous or
file-backed, from smaps).  The idle size is taken after one request per route and
``--warm-up-seconds`` (65) without requests, past the server's second idle stage: the code is
loaded and lazily built library state exists, as in any server that has run; the RSS of the
server just started (cold) is printed beside it.
``--code DIR`` runs the server from another checkout (the peer: the code before a change).  Targets (issue #13): 0 errors, RSS < 1.5 GB, back near idle after.
The per-address rate limit is off for the run (all clients share 127.0.0.1) unless
``--keep-rate-limit``; 429 answers are counted apart.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from _server import start_server  # noqa: E402  (bench/ is the script folder, first on sys.path)

from api import mvt  # noqa: E402


def status_mib(pid: int, field: str) -> float:
    """A memory line of ``/proc/<pid>/status`` in MiB (``VmRSS``, ``VmHWM`` …; Linux), NaN if absent."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (Linux /proc)."""
    return status_mib(pid, "VmRSS")


def memory_breakdown(pid: int) -> dict[str, float]:
    """Where a process's resident memory sits (MiB, from /proc/<pid>/smaps): anonymous memory
    (heap, arenas, arrays), file-backed pages (code and data of the libraries it has mapped) and
    huge pages; plus how many distinct files it maps (libraries loaded so far)."""
    anon = file_backed = huge = 0
    files: set[str] = set()
    path = ""
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            head = line.split(maxsplit=6)
            if "-" in head[0] and not head[0].endswith(":"):
                path = head[5].strip() if len(head) > 5 else ""
                if path.startswith("/"):
                    files.add(path)
            elif head[0] == "Rss:":
                if path.startswith("/"):
                    file_backed += int(head[1])
                else:
                    anon += int(head[1])
            elif head[0] == "AnonHugePages:":
                huge += int(head[1])
    return {"anon": anon / 1024, "file": file_backed / 1024, "huge": huge / 1024, "files": len(files)}


def _breakdown_text(parts: dict[str, float]) -> str:
    return (
        f"anonymous {parts['anon']:.0f} MiB (huge pages {parts['huge']:.0f}), "
        f"file-backed {parts['file']:.0f} MiB in {parts['files']:.0f} mapped files"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (s)."""
    import os

    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads_and_store_files(pid: int, store_path: str) -> tuple[int, int]:
    """Threads of a process and its open store connections: file descriptors on the store's
    ``-wal`` file, one per SQLite connection in WAL mode (the main file's count is not: SQLite
    keeps a closed connection's descriptor while another holds a lock); 0 for a PostgreSQL URL."""
    import os

    threads = len(os.listdir(f"/proc/{pid}/task"))
    target = os.path.realpath(store_path) + "-wal"
    files = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            files += os.readlink(f"/proc/{pid}/fd/{fd}") == target
        except OSError:
            continue
    return threads, files


def prepare(store_path: str) -> dict:
    """A soak user (commander) and what the routes need: active plan, counties, grids, tiles, period."""
    from gridmap.store import open_store
    from gridmap.users import create_user

    password = secrets.token_urlsafe(12)
    with open_store(store_path) as store:
        plan = store.active_plan_id()
        if plan is None:
            sys.exit(f"bench/soak.py: {store_path} has no active plan; run `gridmap build-demo` first")
        create_user(store, "soak-commander", password, "commander", replace=True)
        grids = store.read("grids", where={"plan_id": plan}, columns=["code", "geometry"])
        counties = store.read("admin_units", where={"level": "county"}, columns=["code"])["code"].tolist()
        latest = store.read("cases", columns=["reported_at"], order_by=["-reported_at"], limit=1)
    year = str(latest["reported_at"].iloc[0])[:4] if len(latest) else "2024"
    west, south, east, north = (float(v) for v in grids.total_bounds)
    tiles = [t for z in (9, 10, 11, 12) for t in mvt.tiles_covering((west, south, east, north), [z])]
    return {
        "plan": plan,
        "counties": counties,
        "grids": grids["code"].astype(str).tolist(),
        "tiles": tiles,
        "year": year,
        "password": password,
    }


def routes(ctx: dict) -> list[tuple[str, int, bool, callable]]:
    """(route name, weight, signed in, function → URL)."""
    rnd = random.Random()

    def tile(layer):
        return lambda: "/tiles/{}/{}/{}/{}.pbf".format(layer, *rnd.choice(ctx["tiles"]))

    return [
        ("health", 2, False, lambda: "/api/health"),
        (
            "grid-counts",
            4,
            False,
            lambda: (
                f"/api/v1/grid-counts?admin={rnd.choice(ctx['counties'])}"
                f"&from={ctx['year']}-01&to={int(ctx['year']) + 1}-01&limit=10"
            ),
        ),
        (
            "admin-units",
            2,
            False,
            lambda: f"/api/v1/admin-units?parent={rnd.choice(ctx['counties'])}&simplify=50",
        ),
        (
            "plan grids",
            2,
            False,
            lambda: f"/api/v1/plans/{ctx['plan']}/grids?admin={rnd.choice(ctx['counties'])}&simplify=20",
        ),
        ("latest gi", 2, False, lambda: "/api/v1/hotspots/latest/gi?simplify=50"),
        ("tiles grids", 8, False, tile("grids")),
        ("tiles hotspots", 4, False, tile("hotspots")),
        (
            "ogc items",
            2,
            False,
            lambda: f"/ogc/collections/grids/items?limit=100&offset={rnd.randrange(0, 300)}",
        ),
        (
            "atoms of a grid",
            2,
            False,
            lambda: f"/api/v1/plans/{ctx['plan']}/atoms?grid={rnd.choice(ctx['grids'])}",
        ),
        ("atoms all (anon)", 1, False, lambda: f"/api/v1/plans/{ctx['plan']}/atoms"),
        ("cases", 3, True, lambda: f"/api/v1/cases?limit=100&admin={rnd.choice(ctx['counties'])}"),
        (
            "case points",
            1,
            True,
            lambda: f"/api/v1/cases/points?admin={rnd.choice(ctx['counties'])}&limit=5000",
        ),
        ("kpis", 2, True, lambda: f"/api/v1/kpis?level=county&period={ctx['year']}"),
        ("plan quality", 1, True, lambda: f"/api/v1/plans/{ctx['plan']}/quality"),
        ("coverage audit", 1, True, lambda: "/api/v1/coverage/audit"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(ROOT / "var" / "gridmap.gpkg"))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--port", type=int, default=8114)
    parser.add_argument("--keep-rate-limit", action="store_true")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=100.0,
        help="how long to watch the server idle after the load (its caches are emptied at 60 s)",
    )
    parser.add_argument(
        "--warm-up-seconds",
        type=float,
        default=65.0,
        help="after one request per route, wait this long before taking the idle size "
        "(past the second idle stage at 60 s); 0 = take it cold, before any request",
    )
    parser.add_argument("--code", default=str(ROOT), help="checkout whose server to run (default: this one)")
    args = parser.parse_args(argv)

    ctx = prepare(args.store)
    env = {}
    if not args.keep_rate_limit:
        env.update(GRIDMAP_RATE_LIMIT_PER_ADDRESS="0", GRIDMAP_RATE_LIMIT_PER_TOKEN="0")
    server = start_server(
        args.store, args.port, Path(f"/tmp/gridmap-soak-{args.port}.log"), code=args.code, env=env
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "soak-commander", "password": ctx["password"]}
        ).json()["access_token"]
        time.sleep(2)
        cold_idle = rss_mb(server.pid)
        table = routes(ctx)
        if args.warm_up_seconds > 0:
            # the idle size: every route served once (code loaded, lazy library state built),
            # then the server left alone until its second idle stage has emptied every cache
            with httpx.Client(base_url=base, timeout=300) as http:
                for _, _, signed, url in table:
                    http.get(url(), headers={"Authorization": f"Bearer {token}"} if signed else {})
            time.sleep(args.warm_up_seconds)
        idle_before = rss_mb(server.pid)
        parts_before = memory_breakdown(server.pid)
        weights = [w for _, w, _, _ in table]
        latencies: dict[str, list[float]] = defaultdict(list)
        status: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        lock = threading.Lock()
        stop = time.monotonic() + args.minutes * 60

        def client(seed: int) -> None:
            rnd = random.Random(seed)
            with httpx.Client(base_url=base, timeout=60) as http:
                while time.monotonic() < stop:
                    name, _, signed, url = rnd.choices(table, weights)[0]
                    headers = {"Authorization": f"Bearer {token}"} if signed else {}
                    started = time.perf_counter()
                    try:
                        code = http.get(url(), headers=headers).status_code
                        kind = (
                            "error"
                            if code >= 500
                            else ("429" if code == 429 else ("4xx" if code >= 400 else "ok"))
                        )
                    except httpx.HTTPError:
                        kind = "error"
                    elapsed = (time.perf_counter() - started) * 1000
                    with lock:
                        latencies[name].append(elapsed)
                        status[name][kind] += 1

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        samples: list[tuple[float, float, int, int]] = []
        started = time.monotonic()
        peak = idle_before
        while any(t.is_alive() for t in threads):
            now = time.monotonic() - started
            current = rss_mb(server.pid)
            peak = max(peak, current)
            if not samples or now - samples[-1][0] >= 30:
                samples.append((now, current, *threads_and_store_files(server.pid, args.store)))
            time.sleep(1)
        # requests of clients that timed out may still be running: wait until the server's CPU
        # time stands still for 5 s (at most 5 min); then watch it idle for --idle-seconds (its
        # idle stages: store caches + malloc_trim at 15 s, every cache emptied at 60 s)
        load_end = time.monotonic()
        quiet_since, last_cpu = time.monotonic(), cpu_seconds(server.pid)
        while time.monotonic() - quiet_since < 5 and time.monotonic() - load_end < 300:
            time.sleep(1)
            now_cpu = cpu_seconds(server.pid)
            if now_cpu - last_cpu > 0.02:
                quiet_since = time.monotonic()
            last_cpu = now_cpu
        idle_samples: list[tuple[float, float]] = []
        watch_until = time.monotonic() + args.idle_seconds
        while True:
            idle_samples.append((time.monotonic() - load_end, rss_mb(server.pid)))
            if time.monotonic() >= watch_until:
                break
            time.sleep(5)
        idle_settled = idle_samples[-1][1]
        parts_after = memory_breakdown(server.pid)
        threads_after, files_after = threads_and_store_files(server.pid, args.store)
    finally:
        server.terminate()
        server.wait(timeout=30)

    total = sum(len(v) for v in latencies.values())
    errors = sum(s["error"] for s in status.values())
    print(
        f"soak: {args.clients} clients, {args.minutes:g} min, {total} requests, {errors} errors "
        f"({total / (args.minutes * 60):.0f} requests/s), store {args.store}"
    )
    print(f"{'route':<18}{'requests':>9}{'errors':>8}{'4xx':>6}{'429':>6}{'p50 ms':>9}{'p99 ms':>9}")
    for name, _, _, _ in table:
        values = sorted(latencies.get(name, []))
        if not values:
            continue
        p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
        print(
            f"{name:<18}{len(values):>9}{status[name]['error']:>8}{status[name]['4xx']:>6}{status[name]['429']:>6}"
            f"{statistics.median(values):>9.1f}{p99:>9.1f}"
        )
    print(
        "server RSS (MiB), threads, store connections over time: "
        + ", ".join(f"{t / 60:.1f} min {m:.0f} ({n} thr, {c} conn)" for t, m, n, c in samples)
    )
    print(
        "server RSS (MiB) after the load: "
        + ", ".join(f"{t:.0f} s {m:.0f}" for t, m in idle_samples[:: max(1, len(idle_samples) // 24)])
    )
    print(
        f"server RSS: cold {cold_idle:.0f} MiB (started, no request yet), idle before {idle_before:.0f} MiB "
        f"(after one request per route and {args.warm_up_seconds:g} s idle), peak {peak:.0f} MiB, final "
        f"{idle_settled:.0f} MiB ({idle_samples[-1][0]:.0f} s after the load; {threads_after} threads, "
        f"{files_after} store connections); final - idle before = {idle_settled - idle_before:+.0f} MiB"
    )
    print(f"  idle before: {_breakdown_text(parts_before)}")
    print(f"  final:       {_breakdown_text(parts_after)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
