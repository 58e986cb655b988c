"""Resident memory of ``build-demo --area`` across cities: in one process against one child per city.

    .venv/bin/python bench/area_memory.py --area 150100,150200,150300,150400,150600 [--scale 0.05]
        [--store /tmp/area_memory.gpkg]

Builds the listed cities in-process (``isolate=False``: the loop the province build used before it
spawned a process per city) and prints after each city the process's RSS as the allocator left it,
after ``gc.collect()``, and after glibc's ``malloc_trim(0)`` (which hands the freed heap back), beside
the city's own peak.  Flat "after malloc_trim" with a high "as left" means the growth is heap the
allocator keeps, not live objects; the child-per-city build (``isolate=True``, the default for the
province) returns it by ending the process.  The peer line prints each city's peak RSS when built in
its own child.  GeoPackage store (replaced); use small scales, and the shared memory lock.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap import pipeline  # noqa: E402
from gridmap.config import get_settings  # noqa: E402
from gridmap.store import open_store  # noqa: E402


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--area", default="150100,150200,150300,150400,150600")
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--store", default="/tmp/area_memory.gpkg")
    parser.add_argument("--no-peers", action="store_true", help="skip the child-per-city run")
    args = parser.parse_args()
    libc = ctypes.CDLL("libc.so.6")
    build_city = pipeline._build_city

    def measured(*a, **k):
        outcome = build_city(*a, **k)
        left = _rss_mib()
        gc.collect()
        collected = _rss_mib()
        libc.malloc_trim(0)
        print(
            f"in-process {outcome.code}: RSS as left {left:,.0f} MiB, after gc {collected:,.0f}, "
            f"after malloc_trim {_rss_mib():,.0f}; city peak (process so far) {outcome.peak_rss_mb:,.0f} MiB, "
            f"{outcome.wall_s:.1f} s wall, {outcome.cpu_s:.1f} s CPU",
            flush=True,
        )
        return outcome

    pipeline._build_city = measured
    settings = get_settings()
    for isolate in (False, True) if not args.no_peers else (False,):
        Path(args.store).unlink(missing_ok=True)
        store = open_store(args.store)
        t0 = time.perf_counter()
        report = pipeline.build_area(
            args.area, 7, args.scale, store, settings, lambda m: None, with_users=False, isolate=isolate
        )
        store.close()
        if isolate:
            for c in report.cities:
                print(
                    f"child per city {c.code}: peak RSS {c.peak_rss_mb:,.0f} MiB, {c.wall_s:.1f} s wall, "
                    f"{c.cpu_s:.1f} s CPU (its partition workers included)",
                    flush=True,
                )
        print(
            f"{'child per city' if isolate else 'in-process'}: whole build {time.perf_counter() - t0:.1f} s wall"
        )
        print(f"parent RSS at the end {_rss_mib():,.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
