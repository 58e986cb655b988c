"""Server memory over repeated small API imports (issue #13: 1.8 → 4.3 GB over 11 imports).

    .venv/bin/python bench/import_memory.py --store COPY.gpkg [--imports 11] [--port 8114]
    .venv/bin/python bench/import_memory.py --store var/import_bench.gpkg --make-store

The store must be one for real data (``gridmap init`` plus an imported address book, see README
"Use your own data"): imports refuse the synthetic demo, and the benchmark stops with the server's
one-line answer when an import is refused rather than timing refusals.  ``--make-store`` builds
such a store first at ``--store`` (which must not exist): ``gridmap init`` (Tongliao's real
outlines and codes) and the generated county export of ``tests/county_export.py`` imported the
way a county would (units, address book, roster, partition and activation, assignments, cases).

Starts ``gridmap serve`` on a store (give a copy: the imports write cases into it), signs in an
admin created for the run, posts ``--imports`` small CSV files (20 cases with addresses of the
store) one after the other, and prints the server's RSS before, after each import, and 10 s after
the last.  ``--code DIR`` runs the server from another checkout (e.g. one before #13) for the
peer figure.  Since #13 the geocoding context is built once per store state
(:mod:`api.intake_context`) and freed memory is returned after every import.
"""

from __future__ import annotations

import argparse
import io
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pandas as pd  # noqa: E402
from _server import start_server  # noqa: E402  (bench/ is the script folder, first on sys.path)


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_store(path: str) -> None:
    """An init store with imported (generated) county data: see the module docstring."""
    import tempfile

    from gridmap.imports.init import init_store
    from gridmap.imports.kinds import run_import
    from gridmap.partition.plans import activate_plan
    from gridmap.partition.workflow import partition_store
    from gridmap.store import open_store
    from tests.county_export import make_county_export

    if Path(path).exists():
        sys.exit(f"bench/import_memory.py: {path} exists; --make-store builds a new store")
    with tempfile.TemporaryDirectory() as folder, open_store(path) as store:
        export = make_county_export(Path(folder) / "export")
        init_store(store)
        run_import(store, "units", export.folder / "units.shp", crs="EPSG:4529")
        run_import(store, "addresses", export.folder / "addresses.xlsx")
        run_import(store, "workers", export.folder / "roster.xlsx")
        activate_plan(store, partition_store(store, "imported county").plan_id)
        run_import(store, "assignments", export.folder / "assignments.csv")
        run_import(store, "cases", export.folder / "cases.csv")
        print(
            f"store {path}: {store.count('admin_units')} admin units, {store.count('addresses')} addresses, "
            f"{store.count('grids')} grids, {store.count('cases')} cases"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--imports", type=int, default=11)
    parser.add_argument("--port", type=int, default=8114)
    parser.add_argument(
        "--code", default=str(ROOT), help="checkout whose server to run (the peer: a checkout before #13)"
    )
    parser.add_argument("--make-store", action="store_true", help="build the store first (see above)")
    args = parser.parse_args(argv)
    if args.make_store:
        make_store(args.store)

    from gridmap.store import open_store
    from gridmap.users import create_user

    password = secrets.token_urlsafe(12)
    with open_store(args.store) as store:
        create_user(store, "bench-admin", password, "admin", replace=True)
        addresses = store.read("addresses", columns=["address_id", "full_address"], limit=20 * args.imports)
    text_column = "full_address"
    server = start_server(
        args.store,
        args.port,
        Path(f"/tmp/gridmap-import-memory-{args.port}.log"),
        code=args.code,
        env={"GRIDMAP_RATE_LIMIT_PER_TOKEN": "0"},
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "bench-admin", "password": password}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        time.sleep(2)
        before = rss_mb(server.pid)
        print(f"RSS before: {before:.0f} MiB")
        for i in range(args.imports):
            # the address book may hold fewer than 20 × imports addresses: go round it again
            rows = addresses.iloc[[(i * 20 + j) % len(addresses) for j in range(min(20, len(addresses)))]]
            frame = pd.DataFrame(
                {
                    "案件编号": [f"MEM-{i}-{j}" for j in range(len(rows))],
                    "地址": rows[text_column].astype(str).to_numpy(),
                    "类型": "矛盾纠纷",
                    "类别": "邻里",
                    "状态": "已受理",
                    "登记时间": "2024-03-05 14:30",
                }
            )
            buffer = io.BytesIO(frame.to_csv(index=False).encode("utf-8"))
            started = time.perf_counter()
            r = httpx.post(
                f"{base}/api/v1/imports",
                files={"file": (f"mem{i}.csv", buffer, "text/csv")},
                headers=headers,
                timeout=600,
            )
            if r.status_code >= 300:
                sys.exit(f"bench/import_memory.py: import {i + 1} answered {r.status_code}: {r.text[:300]}")
            print(
                f"import {i + 1}: {r.status_code} in {time.perf_counter() - started:.1f} s, "
                f"RSS {rss_mb(server.pid):.0f} MiB"
            )
        time.sleep(10)
        after = rss_mb(server.pid)
        print(
            f"RSS before {before:.0f} MiB, 10 s after {args.imports} imports {after:.0f} MiB "
            f"(+{after - before:.0f} MiB)"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
