"""Benchmark: a year's rolling-origin forecast backtest (12 monthly origins, every method), end to end.

Data: a simulated county the size of the demo city (``--side`` × ``--side`` grids of
``--cell-m`` metres, about ``--cases`` cases a year over three years, self-exciting, with a
drifting hot zone; :func:`gridmap.forecast.simulate.simulate_county`), or with ``--store`` the
cases and active plan of a store (read and located included in the time).

Prints the load average, wall-clock and CPU seconds per method (summed over the 12
origins), the whole year's backtest beside the issue's 60 s target, and beside it the peer
of the kernel step: the retrospective KDE's grid-normalised
kernel (:func:`gridmap.forecast.kde.kernel_allocation`) against scikit-learn's
``KernelDensity`` evaluated at the grid centroids (same Gaussian bandwidth, same cases),
with the correlation of the two surfaces.

    .venv/bin/python bench/forecast.py                        # ~3,800 grids, ~7,600 cases/year
    .venv/bin/python bench/forecast.py --store var/gridmap.gpkg --kind dispute
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gridmap.forecast.backtest import backtest  # noqa: E402
from gridmap.forecast.hgb import clear_fits  # noqa: E402
from gridmap.forecast.kde import BANDWIDTH_M, kernel_allocation  # noqa: E402
from gridmap.forecast.methods import METHODS, run_method  # noqa: E402
from gridmap.forecast.simulate import simulate_county  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", help="a store (GeoPackage path or postgresql:// URL) instead of the simulation"
    )
    parser.add_argument("--kind", default="dispute")
    parser.add_argument("--side", type=int, default=62, help="simulated lattice side (62² ≈ 3,800 grids)")
    parser.add_argument("--cell-m", type=float, default=700.0)
    parser.add_argument("--cases", type=float, default=7600.0, help="simulated cases per year")
    parser.add_argument("--from", dest="origin_from", default="2024-01")
    parser.add_argument("--to", dest="origin_to", default="2024-12")
    args = parser.parse_args()
    print(f"load average at start: {Path('/proc/loadavg').read_text().split()[:3]} (2 cores shared)")

    t0, c0 = time.perf_counter(), time.process_time()
    if args.store:
        from gridmap.forecast.runs import load_inputs
        from gridmap.store import open_store

        store = open_store(args.store)
        inputs = load_inputs(store, args.kind)
        store.close()
        grids, history, oracle, label = inputs.grids, inputs.history, None, f"store {args.store}"
    else:
        county = simulate_county(seed=2024, side=args.side, cell_m=args.cell_m, cases_per_year=args.cases)
        grids, history, label = (
            county.grids,
            county.history,
            f"simulated county seed 2024, {args.side}² grids",
        )
        oracle = county.true_expected
    load_s, load_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"{label}: {len(grids):,} grids, {len(history.t):,} cases; loaded in {load_s:.1f} s ({load_cpu:.1f} s CPU)"
    )

    # per method, summed over the origins (the backtest below repeats the work, all methods together)
    near = grids.neighbourhood(1000.0)
    origins = [np.datetime64(args.origin_from, "M") + i for i in range(12)]
    for method in METHODS:
        clear_fits()
        w, c = time.perf_counter(), time.process_time()
        for origin in origins:
            run_method(method, grids, history.before(origin), origin, near=near)
        print(
            f"  {method:<12} {time.perf_counter() - w:7.2f} s wall {time.process_time() - c:7.2f} s CPU (12 origins)"
        )

    clear_fits()  # hgb caches its fits by the cases they saw: the backtest starts cold
    w, c = time.perf_counter(), time.process_time()
    result = backtest(grids, history, args.origin_from, args.origin_to, oracle=oracle)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    print(
        f"backtest, 12 origins, {len(METHODS)} methods{' + oracle' if oracle else ''}: "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU (+ {load_s:.1f} s loading)"
    )
    print(
        f"a year's backtest: {wall + load_s:.1f} s wall ({cpu + load_cpu:.1f} s CPU) against the 60 s target: "
        f"{'met' if wall + load_s < 60 else 'NOT met'} (load average now "
        f"{Path('/proc/loadavg').read_text().split()[0]})"
    )
    print(result.format())

    # the kernel step beside scikit-learn's KernelDensity
    from sklearn.neighbors import KernelDensity

    last = history.before(origins[-1])
    keep = (last.t >= last.t.max() - 365) & (last.grid >= 0)
    pts = np.column_stack([last.x[keep], last.y[keep]])
    centres = np.column_stack([grids.x, grids.y])
    w = time.perf_counter()
    ours = np.asarray(
        kernel_allocation(grids, pts[:, 0], pts[:, 1], last.grid[keep], BANDWIDTH_M).sum(axis=0)
    ).ravel()
    ours_s = time.perf_counter() - w
    w = time.perf_counter()
    kd = KernelDensity(bandwidth=BANDWIDTH_M, kernel="gaussian", rtol=1e-4).fit(pts)
    peer = np.exp(kd.score_samples(centres))
    peer_s = time.perf_counter() - w
    r = np.corrcoef(ours, peer)[0, 1]
    print(
        f"kernel step, {len(pts):,} cases → {len(grids):,} grids: gridmap {ours_s:.3f} s, "
        f"scikit-learn KernelDensity {peer_s:.3f} s ({peer_s / max(ours_s, 1e-9):.1f}×); correlation {r:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
