"""Benchmark: gridmap.hotspots against esda on 1 million clustered case points around Tongliao.

The points come from the project's planted-cluster generator
(:func:`gridmap.hotspots.planted.planted_clusters`, seeded, synthetic: half spread over
the study box, half in 20 Gaussian clusters of σ 300–2000 m) and are binned to H3
resolution 8, 9 (~135 k cells) and 10 (~940 k cells) over a 1.3° × 0.87° box centred on
通辽 (empty cells included with 0), with k=1 ring weights.  Then, side by side in one run:

* **validity** — 5 shuffles of the res-9 counts: FDR-0.05 discoveries of gridmap's default
  (the exact log-count test) and of esda's analytical Gi* (BH on its normal p);
* **power** — planted clusters with a hot cell within 1 σ of the centre, and the share of
  hot cells beyond 3 σ of every centre, for the same two (and gridmap's raw exact test);
* **end to end** (points in memory → H3 counts with the empty cells of the box → neighbours → Gi*;
  reading the points is excluded on both sides) — gridmap's ``gi_star_h3_points`` (one face's
  H3 lattice, compiled with numba), analytical and default, vs esda analytical and 999
  permutations on ``count_in_h3`` (the same lattice binning, lent to the peer) with
  ``libpysal.graph.Graph.build_h3`` weights; weights alone: gridmap vs ``Graph.build_h3``;

* analytical Gi* — ``gi_star(y, W)`` vs ``esda.G_Local(y, w, transform="B", star=True, permutations=0)``
* Gi* with 999 conditional permutations — ``gi_star(..., permutations=999)`` vs esda ``permutations=999``;
  gridmap twice: its default engine (counts: exact null distribution per unit, 999-draw
  counts sampled from it) and ``engine="draws"`` (every neighbour set drawn)
* local Moran with 999 permutations — ``local_moran`` vs ``esda.Moran_Local(..., transformation="r")``,
  both engines

Every measurement runs in its own subprocess: wall seconds of the call alone (weights objects
are built before the clock starts; esda's numba kernels, and for permutation runs gridmap's
exact-null kernels, are compiled or loaded by a warm-up run first), CPU seconds of the process during the call, and peak memory (the subprocess's peak RSS, ``VmHWM``, and its increase over the
RSS just before the call).  Both libraries use all cores for permutations (esda ``n_jobs=-1``,
gridmap ``n_jobs=-1``); esda keeps no simulations (``keep_simulations=False``) — with them
it would need 7 GB at resolution 10.  Install numba (``pip install numba``) so esda's
permutations run compiled: without it they fall back to pure Python.

esda's 999-permutation runs at resolution 10 take over 10 minutes each and are skipped
unless ``--with-esda-permutations-res10`` is given.

    flock /work/wt/.bigmem.lock .venv/bin/python bench/hotspots.py   # res 8, 9, 10 (esda res-10 perms skipped)
    .venv/bin/python bench/hotspots.py --quick          # 200 k points, resolutions 8 and 9
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


def clustered_points(n: int, seed: int):
    """``n`` seeded synthetic points with 20 planted clusters (the project's generator)."""
    from gridmap.hotspots.planted import planted_clusters

    return planted_clusters(
        n, 20, seed=seed, background_share=0.5, sigma_range_m=(300.0, 2000.0), box=BOX.bounds
    )


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
    np.savez(
        path,
        y=counts,
        indptr=m.indptr,
        indices=m.indices,
        cells=cells,
        lon=lon,
        lat=lat,
        resolution=resolution,
    )
    info = {
        "cells": len(cells),
        "occupied": int((counts > 0).sum()),
        "bin_s": t1 - t0,
        "weights_s": t2 - t1,
        "mean_neighbours": weights.mean_neighbours,
        "islands": len(weights.islands),
    }
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
    library, statistic = kind.split("_", 1)
    end_to_end = statistic.startswith("e2e") or statistic == "weights"
    if not end_to_end:  # the statistic alone: counts and weights prepared before the clock
        y = d["y"].astype(np.float64)
        n = len(y)
        matrix = sp.csr_matrix((np.ones(len(d["indices"])), d["indices"], d["indptr"]), shape=(n, n))
    extra: dict = {}
    if library == "esda" and statistic in ("e2e_gi_perm", "gi_perm", "lisa"):
        extra["jit_warmup_s"] = warm_up_esda()  # numba compiles before the clock starts
    if library == "ours" and (statistic in ("lisa", "lisa_draws") or statistic.startswith("gi_perm")):
        # gridmap's exact-null kernels (numba) too: loaded before the clock, as esda's are
        extra["jit_warmup_s"] = warm_up_ours_permutation()
    if statistic.startswith("e2e"):
        # gridmap's H3 lattice kernels (numba) are loaded before the clock on both sides: esda's side
        # bins with the same count_in_h3, which uses them
        extra["lattice_warmup_s"] = warm_up_ours()
    if statistic.startswith("e2e"):
        d = {key: d[key] for key in ("lon", "lat", "resolution")}  # only the points: all else is timed
        call = end_to_end_call(library, statistic, d, permutations)
    elif statistic == "weights":
        d = {"cells": d["cells"]}
        call = weights_call(library, d)
    elif library == "ours":
        from gridmap.hotspots.getis_ord import gi_star
        from gridmap.hotspots.moran import local_moran
        from gridmap.hotspots.weights import SpatialWeights

        weights = SpatialWeights(matrix, np.arange(n))
        engine = "draws" if statistic.endswith("_draws") else "auto"
        if statistic == "gi":
            call = lambda: gi_star(y, weights)  # noqa: E731
        elif statistic.startswith("gi_perm"):
            call = lambda: gi_star(  # noqa: E731
                y,
                weights,
                permutations=permutations,
                seed=1,
                n_jobs=-1,
                engine=engine,
            )
        else:
            call = lambda: local_moran(  # noqa: E731
                y,
                weights,
                permutations=permutations,
                seed=1,
                n_jobs=-1,
                engine=engine,
            )
    else:
        import esda
        from libpysal.graph import Graph

        graph = Graph.from_sparse(matrix)
        if statistic == "gi":
            call = lambda: esda.G_Local(y, graph, transform="B", star=True, permutations=0)  # noqa: E731
        elif statistic == "gi_perm":
            call = lambda: esda.G_Local(  # noqa: E731
                y,
                graph,
                transform="B",
                star=True,
                permutations=permutations,
                seed=1,
                n_jobs=-1,
                keep_simulations=False,
            )
        else:
            call = lambda: esda.Moran_Local(  # noqa: E731
                y,
                graph,
                transformation="r",
                permutations=permutations,
                seed=1,
                n_jobs=-1,
                keep_simulations=False,
            )
    before = status_mb("VmRSS")
    # the few-millisecond analytic Gi* alone is timed best of 3 for both libraries, so the clock's
    # noise does not decide the ratio; weights, end-to-end runs and permutation runs are timed
    # once on both sides, first-call costs included (each measurement runs in a fresh process)
    quick_call = statistic == "gi"
    repeats = 3 if quick_call else 1
    seconds = cpu_seconds = float("inf")
    result = None
    for _ in range(repeats):
        result = None  # free the previous call's result first: the peak is that of one call
        t, cpu = time.perf_counter(), time.process_time()
        result = call()
        wall = time.perf_counter() - t
        if wall < seconds:
            seconds, cpu_seconds = wall, time.process_time() - cpu
    extra["timed_calls"] = repeats
    extra["cpu_s"] = cpu_seconds  # all threads of this process, during the fastest call
    peak = status_mb("VmHWM")
    if statistic == "weights":
        return {
            "seconds": seconds,
            "peak_rss_mb": status_mb("VmHWM"),
            "extra_rss_mb": status_mb("VmHWM") - before,
            "mean_p": float("nan"),
            **extra,
        }
    p = getattr(result, "p_sim", None)
    if p is None:
        p = result.p if library == "ours" else result.p_norm
    if library == "ours":
        extra["engine"] = result.engine
    return {
        "seconds": seconds,
        "peak_rss_mb": peak,
        "extra_rss_mb": peak - before,
        "mean_p": float(np.mean(p)),
        **extra,
    }


def warm_up_esda() -> float:
    """Compile esda's numba kernels on a tiny lattice; returns the seconds it took."""
    import esda
    from libpysal.weights import lat2W

    t = time.perf_counter()
    small = np.random.default_rng(0).random(100)
    esda.G_Local(small, lat2W(10, 10), transform="B", star=True, permutations=9, seed=1, n_jobs=-1)
    esda.Moran_Local(small, lat2W(10, 10), permutations=9, seed=1, n_jobs=-1)
    return time.perf_counter() - t


def warm_up_ours() -> float:
    """Load (or compile) gridmap's numba kernels and start their threads on 100 points; returns seconds."""
    from gridmap.hotspots.getis_ord import gi_star_h3_points

    t = time.perf_counter()
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(122.0, 122.1, 100), rng.uniform(43.6, 43.7, 100)
    gi_star_h3_points(lon, lat, 9, shapely.box(122.0, 43.6, 122.1, 43.7), inference="normal")
    return time.perf_counter() - t


def warm_up_ours_permutation() -> float:
    """Load (or compile) gridmap's exact-null kernels on a 10x10 lattice; returns the seconds it took."""
    import warnings

    import scipy.sparse as sp

    from gridmap.hotspots.moran import local_moran
    from gridmap.hotspots.weights import SpatialWeights

    t = time.perf_counter()
    cells = np.arange(100).reshape(10, 10)
    pairs = [(a, b) for a, b in zip(cells[:, :-1].ravel(), cells[:, 1:].ravel(), strict=True)]
    pairs += [(a, b) for a, b in zip(cells[:-1].ravel(), cells[1:].ravel(), strict=True)]
    rows, cols = np.array(pairs).T
    adjacency = sp.csr_matrix(
        (np.ones(2 * len(rows)), (np.r_[rows, cols], np.r_[cols, rows])), shape=(100, 100)
    )
    counts = np.random.default_rng(0).poisson(2.0, 100).astype(np.float64)
    with warnings.catch_warnings():  # 9 permutations: too few for the FDR, as meant
        warnings.simplefilter("ignore")
        local_moran(counts, SpatialWeights(adjacency, np.arange(100)), permutations=9, seed=1, n_jobs=-1)
    return time.perf_counter() - t


def end_to_end_call(library: str, statistic: str, d, permutations: int):
    """Points → H3 counts → weights → Gi*, all inside the timed call (each side imports only its own
    libraries, so that the peak memory is its own)."""
    from gridmap.hotspots.aggregate import count_in_h3, h3_cell_strings

    if library == "ours":
        from gridmap.hotspots.getis_ord import gi_star_h3_points
    else:
        import esda
        from libpysal.graph import Graph

    lon, lat, resolution = d["lon"], d["lat"], int(d["resolution"])

    def ours():
        inference = "normal" if statistic == "e2e_gi_normal" else "auto"
        return gi_star_h3_points(lon, lat, resolution, study_area=BOX, inference=inference)

    def theirs():
        cells, counts = count_in_h3(lon, lat, resolution, study_area=BOX)
        graph = Graph.build_h3(h3_cell_strings(cells))
        perms = permutations if statistic == "e2e_gi_perm" else 0
        return esda.G_Local(
            counts,
            graph,
            transform="B",
            star=True,
            permutations=perms,
            seed=1,
            n_jobs=-1,
            keep_simulations=False,
        )

    return ours if library == "ours" else theirs


def weights_call(library: str, d):
    """H3 k=1 weights from uint64 cells: gridmap's lattice arithmetic vs libpysal's Graph.build_h3."""
    cells = d["cells"]
    if library == "ours":
        from gridmap.hotspots.weights import h3_weights

        return lambda: h3_weights(cells)
    from libpysal.graph import Graph

    from gridmap.hotspots.aggregate import h3_cell_strings

    return lambda: Graph.build_h3(h3_cell_strings(cells))


def accuracy(data: Path, truth, shuffles: int = 5) -> list[tuple[str, str, str]]:
    """Validity under shuffles and power on the planted clusters: gridmap's default vs esda analytical."""
    import warnings

    import esda
    from libpysal.graph import Graph

    from gridmap.hotspots.aggregate import h3_cell_strings
    from gridmap.hotspots.getis_ord import gi_star
    from gridmap.hotspots.inference import fdr_bh
    from gridmap.hotspots.planted import cluster_recovery
    from gridmap.hotspots.weights import h3_weights

    warnings.simplefilter("ignore")
    d = np.load(data)
    cells, counts = d["cells"], d["y"]
    weights = h3_weights(cells)
    graph = Graph.build_h3(h3_cell_strings(cells))
    agreement = float(
        np.abs(
            gi_star(counts, weights, inference="normal").z
            - esda.G_Local(counts, graph, transform="B", star=True, permutations=0).Zs
        ).max()
    )

    def esda_hot(y):
        g = esda.G_Local(y, graph, transform="B", star=True, permutations=0)
        return (fdr_bh(2 * g.p_norm) <= 0.05), g.Zs

    rng = np.random.default_rng(2026)
    ours_found, theirs_found = [], []
    for _ in range(shuffles):
        y = rng.permutation(counts)
        ours_found.append(int(gi_star(y, weights).significant_fdr.sum()))
        theirs_found.append(int(esda_hot(y)[0].sum()))
    rows = [
        ("agreement: max |z - esda Zs| over all cells", f"{agreement:.1e}", "-"),
        (
            "validity: FDR-0.05 discoveries in 5 shuffles (target: >= 4 with none)",
            f"{ours_found} ({sum(x == 0 for x in ours_found)} of 5 with none)",
            f"{theirs_found} ({sum(x == 0 for x in theirs_found)} of 5 with none)",
        ),
    ]
    default = gi_star(counts, weights)
    raw_exact = gi_star(counts, weights, exact=True)
    hot, z = esda_hot(counts)
    mine = cluster_recovery(truth, cells, default.hot)
    raw = cluster_recovery(truth, cells, raw_exact.hot)
    theirs = cluster_recovery(truth, cells, hot & (z > 0))
    rows.append(
        (
            "power: clusters with a hot cell within 1 sigma (target >= 17 of 20)",
            f"{mine.clusters_found} ({default.inference}); raw exact {raw.clusters_found}",
            f"{theirs.clusters_found} (normal p, invalid)",
        )
    )
    rows.append(
        (
            "power: hot cells beyond 3 sigma of every centre (target <= 5 %)",
            f"{100 * mine.far_share:.2f} % of {mine.hot_cells:,}",
            f"{100 * theirs.far_share:.2f} % of {theirs.hot_cells:,}",
        )
    )
    rows.append(
        (
            "esda 999 permutations under BH",
            "-",
            f"smallest pseudo p 1/1000 > alpha/n = "
            f"{0.05 / len(cells):.1e}: no cell can pass alone (measured below for time only)",
        )
    )
    return rows


def run_measurement(kind: str, data: Path, permutations: int, timeout: float) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--measure",
        kind,
        "--data",
        str(data),
        "--permutations",
        str(permutations),
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    except subprocess.CalledProcessError as exc:
        return {
            "error": exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else f"exit {exc.returncode}"
        }
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[8, 9, 10])
    parser.add_argument("--quick", action="store_true", help="200 k points, resolutions 8 and 9")
    parser.add_argument(
        "--with-esda-permutations-res10",
        action="store_true",
        help="also run esda's permutation tests at resolution 10 (over 10 minutes each)",
    )
    parser.add_argument(
        "--skip-esda-permutations-res10",
        action="store_true",
        help="skip esda's permutation tests at resolution 10 (the default)",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per measurement")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.data), args.permutations)))
        return 0

    if args.quick:
        args.points, args.resolutions = 200_000, [8, 9]
    try:
        import numba  # noqa: F401

        numba_note = "numba installed: esda permutations compiled"
    except ImportError:
        numba_note = (
            "numba NOT installed: esda permutations run in pure Python (install numba for a fair run)"
        )
    print(f"{numba_note}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}", flush=True)
    t = time.perf_counter()
    planted = clustered_points(args.points, args.seed)
    lon, lat = planted.lon, planted.lat
    print(
        f"{len(lon):,} synthetic points ({planted.n_clusters} planted clusters) generated in "
        f"{time.perf_counter() - t:.1f} s",
        flush=True,
    )
    accuracy_rows: list = []

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for resolution in args.resolutions:
            data, info = prepare(resolution, lon, lat, Path(tmp))
            print(
                f"res {resolution}: {info['cells']:,} cells ({info['occupied']:,} with cases), "
                f"binning {info['bin_s']:.2f} s, weights {info['weights_s']:.2f} s, "
                f"{info['mean_neighbours']:.2f} neighbours per cell",
                flush=True,
            )
            if resolution == 9:
                accuracy_rows = accuracy(data, planted)
                for what, mine_text, theirs_text in accuracy_rows:
                    print(f"  {what}: gridmap {mine_text} | esda {theirs_text}", flush=True)
            skip_esda_perm = resolution >= 10 and not args.with_esda_permutations_res10
            perm = args.permutations
            esda_results: dict[str, dict] = {}
            for label, ours, theirs in (
                ("weights (k=1)", "ours_weights", "esda_weights"),
                ("e2e Gi* analytical", "ours_e2e_gi_normal", "esda_e2e_gi"),
                ("e2e Gi* default (valid)", "ours_e2e_gi", "esda_e2e_gi_perm"),
                ("Gi* analytical", "ours_gi", "esda_gi"),
                (f"Gi* {perm} perm", "ours_gi_perm", "esda_gi_perm"),
                (f"Gi* {perm} perm, draws", "ours_gi_perm_draws", "esda_gi_perm"),
                (f"local Moran {perm} perm", "ours_lisa", "esda_lisa"),
                (f"local Moran {perm}, draws", "ours_lisa_draws", "esda_lisa"),
            ):
                mine = run_measurement(ours, data, perm, args.timeout)
                print(f"  {label:<26} gridmap {_fmt(mine)}", flush=True)
                if skip_esda_perm and theirs not in ("esda_gi", "esda_e2e_gi", "esda_weights"):
                    other = {"skipped": True}
                elif theirs in esda_results:
                    other = esda_results[theirs]
                else:
                    other = esda_results[theirs] = run_measurement(theirs, data, perm, args.timeout)
                    print(f"  {label:<26} esda    {_fmt(other)}", flush=True)
                rows.append((resolution, info["cells"], label, mine, other))

    if accuracy_rows:
        print("\nvalidity and power at resolution 9 (gridmap default vs esda analytical Gi*, BH FDR 0.05):")
        for what, mine_text, theirs_text in accuracy_rows:
            print(f"  {what}\n      gridmap: {mine_text}\n      esda:    {theirs_text}")
    print()
    header = (
        f"{'res':>3} {'cells':>9}  {'measurement':<26} {'gridmap s':>10} {'esda s':>10} {'speed-up':>9} "
        f"{'gridmap CPU s':>14} {'esda CPU s':>11} {'gridmap peak MB':>16} {'esda peak MB':>13}"
    )
    print(header)
    print("-" * len(header))
    for resolution, cells, label, mine, other in rows:
        speedup = (
            f"{other['seconds'] / mine['seconds']:.0f}x" if "seconds" in mine and "seconds" in other else "-"
        )
        print(
            f"{resolution:>3} {cells:>9,}  {label:<26} {_num(mine, 'seconds'):>10} {_num(other, 'seconds'):>10} "
            f"{speedup:>9} {_num(mine, 'cpu_s'):>14} {_num(other, 'cpu_s'):>11} "
            f"{_num(mine, 'peak_rss_mb', 0):>16} {_num(other, 'peak_rss_mb', 0):>13}"
        )
    print_targets(rows, accuracy_rows)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if any(r[0] >= 10 for r in rows) and not args.with_esda_permutations_res10:
        print(
            "\nesda's permutation runs at resolution 10 skipped (over 10 minutes each); "
            "pass --with-esda-permutations-res10 to include them."
        )
    print(
        "Peak MB = peak RSS (VmHWM) of the measuring subprocess: interpreter, libraries, data, weights and "
        "the call."
    )
    print(
        "'weights' row: gridmap's H3 k=1 weights (lattice coordinates from the index digits) vs libpysal's "
        "Graph.build_h3 from the cells' hex strings (the builder esda's side uses in its e2e rows)."
    )
    print(
        "'e2e' rows: from 1M points already in memory as lon/lat float64 arrays (reading them is excluded on "
        "both sides) -> H3 cells -> counts per cell, plus the empty cells of the study box -> k=1 neighbours -> "
        "Gi*, all inside one timed call.  gridmap: gi_star_h3_points (one face's H3 lattice: points placed, "
        "counted, the box filled and ring sums taken in compiled passes, then Gi* with no weights matrix: the "
        "analytical z and the default log-count test both take the lattice's ring sums).  "
        "esda: gridmap.hotspots.aggregate.count_in_h3 (the same lattice binning, sorted; gridmap's fastest "
        "binning is lent to the peer), the hex strings libpysal needs, libpysal Graph.build_h3 weights, "
        "esda.G_Local; its default row is 999 permutations.  The lattice kernels are loaded (numba cache) before the "
        "clock on both sides, as esda's numba kernels are."
    )
    print(
        "'perm' rows use gridmap's default engine: for counts each unit's exact null distribution, with the "
        "999-draw counts sampled from it; 'draws' rows draw every neighbour set one by one."
    )
    return 0


def print_targets(rows: list, accuracy_rows: list) -> None:
    """Issue #12's "What it must show", each target beside what this run measured."""
    by_key = {(resolution, label): (mine, other) for resolution, _, label, mine, other in rows}

    def ratio(resolution: int, label: str) -> float | None:
        mine, other = by_key.get((resolution, label), ({}, {}))
        if "seconds" in mine and "seconds" in other:
            return other["seconds"] / mine["seconds"]
        return None

    def verdict(ok: bool | None) -> str:
        return "n/a (not measured)" if ok is None else ("met" if ok else "NOT met")

    print("\nissue #12, what it must show (this run):")
    for what, mine_text, theirs_text in accuracy_rows:
        if what.startswith(("validity", "power")):
            print(f"  {what}: gridmap {mine_text} | esda {theirs_text}")
    for resolution in sorted({r for r, _ in by_key}):
        for label, target in (
            ("weights (k=1)", None),
            ("e2e Gi* analytical", 50.0),
            ("e2e Gi* default (valid)", 10.0),
            ("local Moran 999 perm", 50.0),
            ("Gi* 999 perm", 10.0),
        ):
            if (resolution, label) not in by_key:
                continue
            mine, _ = by_key[(resolution, label)]
            value = ratio(resolution, label)
            text = "-" if value is None else f"{value:.1f}x"
            if target is None:
                ok = "seconds" in mine and mine["seconds"] < 0.5 if resolution >= 10 else None
                goal = "< 0.5 s at ~1M cells" if resolution >= 10 else "(speed-up shown)"
                print(
                    f"  res {resolution} {label}: {_num(mine, 'seconds')} s, {text} vs libpysal {goal} "
                    f"{verdict(ok) if resolution >= 10 else ''}"
                )
                continue
            print(
                f"  res {resolution} {label}: {text} (target >= {target:g}x) "
                f"{verdict(None if value is None else value >= target)}"
            )
        if resolution >= 10:
            for label in ("e2e Gi* analytical", "e2e Gi* default (valid)"):
                mine, _ = by_key.get((resolution, label), ({}, {}))
                if "peak_rss_mb" in mine:
                    ok = mine["peak_rss_mb"] <= 500
                    print(
                        f"  res {resolution} {label}: peak {mine['peak_rss_mb']:.0f} MB (target <= 500 MB "
                        f"at 1M cells) {verdict(ok)}"
                    )


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
    extra = f", CPU {m['cpu_s']:.3f} s" if "cpu_s" in m else ""
    extra += f", jit warm-up {m['jit_warmup_s']:.1f} s" if "jit_warmup_s" in m else ""
    extra += f", engine {m['engine']}" if m.get("engine") else ""
    return (
        f"{m['seconds']:.3f} s, peak RSS {m['peak_rss_mb']:.0f} MB (+{m['extra_rss_mb']:.0f} MB during the call)"
        f"{extra}"
    )


if __name__ == "__main__":
    sys.exit(main())
