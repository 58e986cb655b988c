"""Benchmark: gridmap.hotspots against esda on 1 million clustered case points around Tongliao.

The points (seeded: 40 % spread over the study box, 60 % in 60 Gaussian clusters of
0.3–3 km) are binned to H3 resolution 9 (~135 k cells) and 10 (~940 k cells) over a
1.3° × 0.87° box centred on 通辽 (empty cells included with 0, so the cell counts do not
depend on the points), with k=1 ring weights.  Then, side by side in one run:

* analytical Gi* — ``gi_star(y, W)`` vs ``esda.G_Local(y, w, transform="B", star=True, permutations=0)``
* Gi* with 999 conditional permutations — ``gi_star(..., permutations=999)`` vs esda ``permutations=999``;
  gridmap twice: its default engine (counts: exact null distribution per unit, 999-draw
  counts sampled from it) and ``engine="draws"`` (every neighbour set drawn)
* local Moran with 999 permutations — ``local_moran`` vs ``esda.Moran_Local(..., transformation="r")``,
  both engines

Every measurement runs in its own subprocess: seconds of the call alone (weights objects
are built before the clock starts; esda's numba kernels are compiled by a warm-up run
first) and peak memory (the subprocess's peak RSS, ``VmHWM``, and its increase over the
RSS just before the call).  Both libraries use all cores for permutations (esda ``n_jobs=-1``,
gridmap ``n_jobs=-1``); esda keeps no simulations (``keep_simulations=False``) — with them
it would need 7 GB at resolution 10.  Install numba (``pip install numba``) so esda's
permutations run compiled: without it they fall back to pure Python.

esda's 999-permutation runs at resolution 10 take over 10 minutes each and are skipped
unless ``--with-esda-permutations-res10`` is given.

    .venv/bin/python bench/hotspots.py                  # res 9 and 10, esda res-10 permutations skipped
    .venv/bin/python bench/hotspots.py --quick          # 200 k points, resolution 9 only
    .venv/bin/python bench/hotspots.py --with-esda-permutations-res10
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
# bench/coverage.py would shadow the `coverage` package that numba imports
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

CENTRE = (122.26, 43.635)  # 通辽 (科尔沁区)
BOX = shapely.box(121.61, 43.2, 122.91, 44.07)  # ≈ 105 km × 97 km


def clustered_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` seeded points: 40 % uniform over :data:`BOX`, 60 % in 60 clusters around Tongliao."""
    rng = np.random.default_rng(seed)
    west, south, east, north = BOX.bounds
    n_background = int(0.4 * n)
    lon = [rng.uniform(west, east, n_background)]
    lat = [rng.uniform(south, north, n_background)]
    centres_lon = np.clip(CENTRE[0] + rng.normal(0, 0.25, 60), west + 0.05, east - 0.05)
    centres_lat = np.clip(CENTRE[1] + rng.normal(0, 0.18, 60), south + 0.05, north - 0.05)
    sigma_m = rng.uniform(300, 3000, 60)
    which = rng.integers(0, 60, n - n_background)
    metres_per_degree_lat = 111_200.0
    metres_per_degree_lon = metres_per_degree_lat * np.cos(np.radians(CENTRE[1]))
    lon.append(centres_lon[which] + rng.normal(0, 1, len(which)) * sigma_m[which] / metres_per_degree_lon)
    lat.append(centres_lat[which] + rng.normal(0, 1, len(which)) * sigma_m[which] / metres_per_degree_lat)
    lon, lat = np.concatenate(lon), np.concatenate(lat)
    inside = (lon > west) & (lon < east) & (lat > south) & (lat < north)
    return lon[inside], lat[inside]


def prepare(resolution: int, lon: np.ndarray, lat: np.ndarray, folder: Path) -> tuple[Path, dict]:
    """Bin the points, build the weights, save both; returns the file and setup timings."""
    from gridmap.hotspots.aggregate import count_in_h3
    from gridmap.hotspots.weights import h3_weights

    t0 = time.perf_counter()
    cells, counts = count_in_h3(lon, lat, resolution, study_area=BOX)
    t1 = time.perf_counter()
    weights = h3_weights(cells)
    t2 = time.perf_counter()
    path = folder / f"res{resolution}.npz"
    m = weights.sparse
    np.savez(path, y=counts, indptr=m.indptr, indices=m.indices)
    info = {"cells": len(cells), "occupied": int((counts > 0).sum()), "bin_s": t1 - t0, "weights_s": t2 - t1,
            "mean_neighbours": weights.mean_neighbours, "islands": len(weights.islands)}
    return path, info


def status_mb(key: str) -> float:
    """VmRSS / VmHWM of this process in MB.

    Not ``ru_maxrss``: Linux carries it over from the parent across fork and exec, so a
    measuring subprocess would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(kind: str, data: Path, permutations: int) -> dict:
    """One timed call in this (fresh) process."""
    import warnings

    import scipy.sparse as sp

    warnings.simplefilter("ignore")
    d = np.load(data)
    y = d["y"].astype(np.float64)
    n = len(y)
    matrix = sp.csr_matrix((np.ones(len(d["indices"])), d["indices"], d["indptr"]), shape=(n, n))
    library, statistic = kind.split("_", 1)
    extra: dict = {}
    if library == "ours":
        from gridmap.hotspots.getis_ord import gi_star
        from gridmap.hotspots.moran import local_moran
        from gridmap.hotspots.weights import SpatialWeights

        weights = SpatialWeights(matrix, np.arange(n))
        engine = "draws" if statistic.endswith("_draws") else "auto"
        if statistic == "gi":
            call = lambda: gi_star(y, weights)  # noqa: E731
        elif statistic.startswith("gi_perm"):
            call = lambda: gi_star(y, weights, permutations=permutations, seed=1, n_jobs=-1,  # noqa: E731
                                   engine=engine)
        else:
            call = lambda: local_moran(y, weights, permutations=permutations, seed=1, n_jobs=-1,  # noqa: E731
                                       engine=engine)
    else:
        import esda
        from libpysal.graph import Graph
        from libpysal.weights import lat2W

        graph = Graph.from_sparse(matrix)
        if statistic != "gi":  # compile the numba kernels before the clock starts
            t = time.perf_counter()
            small = np.random.default_rng(0).random(100)
            esda.G_Local(small, lat2W(10, 10), transform="B", star=True, permutations=9, seed=1)
            esda.Moran_Local(small, lat2W(10, 10), permutations=9, seed=1, n_jobs=-1)
            extra["jit_warmup_s"] = time.perf_counter() - t
        if statistic == "gi":
            call = lambda: esda.G_Local(y, graph, transform="B", star=True, permutations=0)  # noqa: E731
        elif statistic == "gi_perm":
            call = lambda: esda.G_Local(y, graph, transform="B", star=True,  # noqa: E731
                                        permutations=permutations, seed=1, n_jobs=-1, keep_simulations=False)
        else:
            call = lambda: esda.Moran_Local(y, graph, transformation="r", permutations=permutations,  # noqa: E731
                                            seed=1, n_jobs=-1, keep_simulations=False)
    before = status_mb("VmRSS")
    # a few-millisecond call is timed best of 3 for both libraries, so the clock's noise and
    # first-call costs don't decide the ratio; permutation runs are long enough to time once
    repeats = 3 if statistic == "gi" else 1
    seconds = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        result = call()
        seconds = min(seconds, time.perf_counter() - t)
    extra["timed_calls"] = repeats
    peak = status_mb("VmHWM")
    p = getattr(result, "p_sim", None)
    if p is None:
        p = result.p_norm
    if library == "ours":
        extra["engine"] = result.engine
    return {"seconds": seconds, "peak_rss_mb": peak, "extra_rss_mb": peak - before,
            "mean_p": float(np.mean(p)), **extra}


def run_measurement(kind: str, data: Path, permutations: int, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--measure", kind, "--data", str(data), "--permutations", str(permutations)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    except subprocess.CalledProcessError as exc:
        return {"error": exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else f"exit {exc.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[9, 10])
    parser.add_argument("--quick", action="store_true", help="200 k points, resolution 9 only")
    parser.add_argument("--with-esda-permutations-res10", action="store_true",
                        help="also run esda's permutation tests at resolution 10 (over 10 minutes each)")
    parser.add_argument("--skip-esda-permutations-res10", action="store_true",
                        help="skip esda's permutation tests at resolution 10 (the default)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per measurement")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.data), args.permutations)))
        return 0

    if args.quick:
        args.points, args.resolutions = 200_000, [9]
    try:
        import numba  # noqa: F401

        numba_note = "numba installed: esda permutations compiled"
    except ImportError:
        numba_note = "numba NOT installed: esda permutations run in pure Python (install numba for a fair run)"
    print(f"{numba_note}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}", flush=True)
    t = time.perf_counter()
    lon, lat = clustered_points(args.points, args.seed)
    print(f"{len(lon):,} points generated in {time.perf_counter() - t:.1f} s", flush=True)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for resolution in args.resolutions:
            data, info = prepare(resolution, lon, lat, Path(tmp))
            print(f"res {resolution}: {info['cells']:,} cells ({info['occupied']:,} with cases), "
                  f"binning {info['bin_s']:.2f} s, weights {info['weights_s']:.2f} s, "
                  f"{info['mean_neighbours']:.2f} neighbours per cell", flush=True)
            skip_esda_perm = resolution >= 10 and not args.with_esda_permutations_res10
            perm = args.permutations
            esda_results: dict[str, dict] = {}
            for label, ours, theirs in (("Gi* analytical", "ours_gi", "esda_gi"),
                                        (f"Gi* {perm} perm", "ours_gi_perm", "esda_gi_perm"),
                                        (f"Gi* {perm} perm, draws", "ours_gi_perm_draws", "esda_gi_perm"),
                                        (f"local Moran {perm} perm", "ours_lisa", "esda_lisa"),
                                        (f"local Moran {perm}, draws", "ours_lisa_draws", "esda_lisa")):
                mine = run_measurement(ours, data, perm, args.timeout)
                print(f"  {label:<26} gridmap {_fmt(mine)}", flush=True)
                if skip_esda_perm and theirs != "esda_gi":
                    other = {"skipped": True}
                elif theirs in esda_results:
                    other = esda_results[theirs]
                else:
                    other = esda_results[theirs] = run_measurement(theirs, data, perm, args.timeout)
                    print(f"  {label:<26} esda    {_fmt(other)}", flush=True)
                rows.append((resolution, info["cells"], label, mine, other))

    print()
    header = (f"{'res':>3} {'cells':>9}  {'measurement':<26} {'gridmap s':>10} {'esda s':>10} {'speed-up':>9} "
              f"{'gridmap peak MB':>16} {'esda peak MB':>13}")
    print(header)
    print("-" * len(header))
    for resolution, cells, label, mine, other in rows:
        speedup = (f"{other['seconds'] / mine['seconds']:.0f}x"
                   if "seconds" in mine and "seconds" in other else "-")
        print(f"{resolution:>3} {cells:>9,}  {label:<26} {_num(mine, 'seconds'):>10} {_num(other, 'seconds'):>10} "
              f"{speedup:>9} {_num(mine, 'peak_rss_mb', 0):>16} {_num(other, 'peak_rss_mb', 0):>13}")
    if any(r[0] >= 10 for r in rows) and not args.with_esda_permutations_res10:
        print("\nesda's permutation runs at resolution 10 skipped (over 10 minutes each); "
              "pass --with-esda-permutations-res10 to include them.")
    print("Peak MB = peak RSS (VmHWM) of the measuring subprocess: interpreter, libraries, data, weights and "
          "the call.")
    print("'perm' rows use gridmap's default engine: for counts each unit's exact null distribution, with the "
          "999-draw counts sampled from it; 'draws' rows draw every neighbour set one by one.")
    return 0


def _num(m: dict, key: str, digits: int = 2) -> str:
    if m.get("skipped"):
        return "skipped"
    if "error" in m:
        return "error"
    return f"{m[key]:.{digits}f}"


def _fmt(m: dict) -> str:
    if m.get("skipped"):
        return "skipped"
    if "error" in m:
        return f"error: {m['error']}"
    extra = f", jit warm-up {m['jit_warmup_s']:.1f} s" if "jit_warmup_s" in m else ""
    extra += f", engine {m['engine']}" if m.get("engine") else ""
    return (f"{m['seconds']:.3f} s, peak RSS {m['peak_rss_mb']:.0f} MB (+{m['extra_rss_mb']:.0f} MB during the call)"
            f"{extra}")


if __name__ == "__main__":
    sys.exit(main())
