"""What ``GRIDMAP_PYTHON_ALLOCATOR=malloc`` costs: CPU seconds of the same requests under pymalloc
(Python's default small-object allocator) and under the C allocator (``PYTHONMALLOC=malloc``).

    .venv/bin/python bench/allocator_cost.py [--store var/gridmap.gpkg] [--rounds 5] [--repeat 2]

Each measurement runs in its own interpreter (the allocator is chosen at start): the app over the
store in-process (FastAPI TestClient), four read routes (plan grids, latest Gi*, OGC grid items,
admin units) and one coverage audit computed from the store, ``--rounds`` times after one warm-up
round; CPU seconds of the process (``time.process_time``), which load on other cores barely moves.
The two allocators alternate ``--repeat`` times.  Memory: ``bench/route_memory.py --passes 2``
under each (set ``PYTHONMALLOC=malloc`` in its environment).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from fastapi.testclient import TestClient
from api.main import create_app
from api.queries import default_period
from gridmap.coverage.periods import parse_period
from gridmap.coverage.service import audit_from_store
from gridmap.store import open_store

store = open_store({store!r})
client = TestClient(create_app(store=store))
plan = store.active_plan_id()
urls = [
    f"/api/v1/plans/{{plan}}/grids?simplify=20",
    "/api/v1/hotspots/latest/gi?simplify=50",
    "/ogc/collections/grids/items?limit=100",
    "/api/v1/admin-units?simplify=50",
]
period = parse_period(default_period(store))
for url in urls:
    client.get(url)
start = time.process_time()
for _ in range({rounds}):
    for url in urls:
        assert client.get(url).status_code == 200, url
    audit_from_store(store, period)
print(time.process_time() - start)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", default=str(ROOT / "var" / "gridmap.gpkg"), help="a demo GeoPackage (read only)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    code = CHILD.format(root=str(ROOT), store=args.store, rounds=args.rounds)
    results: dict[str, list[float]] = {"pymalloc": [], "malloc": []}
    for _ in range(args.repeat):
        for name in results:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"}
            if name == "malloc":
                env["PYTHONMALLOC"] = "malloc"
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"bench/allocator_cost.py: the {name} run failed:\n{out.stderr[-2000:]}")
            results[name].append(float(out.stdout.split()[-1]))
    best = {name: min(values) for name, values in results.items()}
    for name, values in results.items():
        print(f"{name:<9} CPU s per run: {', '.join(f'{v:.2f}' for v in values)} (best {best[name]:.2f})")
    print(f"malloc / pymalloc: {best['malloc'] / best['pymalloc']:.2f}x CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
