"""Benchmark: per-county batch work on dask.distributed, 1 against 2 workers, beside today's path.

Issue #15 (a province on PostGIS) — the first part of the scale benchmark. It reads the villages and
standard addresses of a built demo store (``gridmap build-demo --scale 0.1``) and times, end to end
from the frames read (the read itself is timed once and printed):

* **processes n_jobs=1 / 2** — today's path (``partition_store`` default): ``build_atoms`` over all
  villages at once, then ``partition_plan`` solving villages on 1 or 2 local processes;
* **per county, serial** — ``partition_by_county(engine="serial")``: atoms + partition of one county
  after another in this process (the reference the dask path must equal);
* **dask 1 / 2 workers** — the same per-county tasks on a LocalCluster of 1 or 2 single-threaded
  worker processes; cluster start-up is timed apart from the run. The assignment must equal the
  serial one (checked, printed).

For each: wall seconds, CPU seconds (this process and its pool; for dask the workers), grids, share of
villages within ±tolerance, and peak RSS of the run (this process — without the pool's children for n_jobs=2; for dask the
largest worker). On a busy
machine compare CPU seconds: wall time then measures the other work too. With ``--build S [S …]`` it also runs ``gridmap build-demo --scale S`` for
each scale into a temporary GeoPackage and prints build time and the child's peak RSS (the city only:
``--area`` for the province does not exist yet).

    .venv/bin/python bench/scale.py --store var/demo-0.1.gpkg [--workers 1 2] [--no-peers] [--build 0.05 0.2]

Figures depend on the machine and on what else runs on it (the 2 cores here are shared).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from gridmap.distributed import dask_client  # noqa: E402
from gridmap.partition.atoms import build_atoms  # noqa: E402
from gridmap.partition.balance import partition_plan  # noqa: E402
from gridmap.partition.counties import partition_by_county  # noqa: E402
from gridmap.store import open_store  # noqa: E402

TARGET, BAND, TOLERANCE = 400, (300, 500), 0.10


def _peak_mib() -> float:
    """Peak RSS of the calling process since the last :func:`_reset_peak` (Linux VmHWM). ru_maxrss
    would be wrong for dask workers: Linux carries it over from the parent across fork + exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def _worker_cpu() -> float:
    import time as t

    return t.process_time()


def _cpu_here() -> float:
    """CPU seconds of this process and of its reaped children (the partition_plan process pool)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _row(name: str, seconds: float, result, rss: float, extra: str = "", cpu: float = float("nan")) -> dict:
    v = result.villages
    return {
        "method": name,
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 1),
        "grids": result.report["grids"],
        "atoms": result.report["atoms"],
        "within_tol_%": round(100 * float(v["within_tolerance"].mean()), 1),
        "peak_rss_MiB": round(rss),
        "note": extra,
    }


def _assignment(result) -> pd.DataFrame:
    cols = ["atom_id", "grid", "households"]
    return result.assignment[cols].sort_values("atom_id", ignore_index=True)


def bench_partition(store_path: str, workers: list[int], peers: bool = True) -> None:
    t0 = time.perf_counter()
    store = open_store(store_path)
    villages = store.read("admin_units", where={"level": "village"})
    addresses = store.read("addresses")
    t_read = time.perf_counter() - t0
    counties = villages["code"].astype(str).str[:6].nunique()
    print(
        f"store {store_path}: {len(villages)} villages in {counties} county codes, {len(addresses):,} addresses, "
        f"{int(addresses['households'].sum()):,} households; read in {t_read:.1f} s"
    )
    print(f"machine: {os.cpu_count()} cores (shared: other work may be running)")
    rows = []
    for n_jobs in (1, 2) if peers else ():
        _reset_peak()
        t, c = time.perf_counter(), _cpu_here()
        atoms = build_atoms(villages, addresses, target=TARGET)
        result = partition_plan(atoms, target=TARGET, band=BAND, tolerance=TOLERANCE, n_jobs=n_jobs)
        rows.append(
            _row(
                f"processes n_jobs={n_jobs}",
                time.perf_counter() - t,
                result,
                _peak_mib(),
                "all villages' atoms at once",
                _cpu_here() - c,
            )
        )
        print(f"  {rows[-1]['method']}: {rows[-1]['seconds']} s", flush=True)
    _reset_peak()
    t, c = time.perf_counter(), _cpu_here()
    _, serial = partition_by_county(
        villages, addresses, target=TARGET, band=BAND, tolerance=TOLERANCE, engine="serial"
    )
    rows.append(_row("per county, serial", time.perf_counter() - t, serial, _peak_mib(), "", _cpu_here() - c))
    if peers:
        whole = _assignment(result)  # the last processes run
        common = int(serial.assignment["atom_id"].isin(whole["atom_id"]).sum())
        rows[-1]["note"] = (
            f"atom ids shared with the whole-area run: {common:,} of {len(serial.assignment):,}"
        )
    print(f"  per county, serial: {rows[-1]['seconds']} s", flush=True)
    reference = _assignment(serial)
    slowest = sorted(serial.report["seconds_per_county"].items(), key=lambda kv: -kv[1])
    seconds = {}
    for n in workers:
        t_start = time.perf_counter()
        with dask_client(address="", workers=n) as client:
            client.wait_for_workers(n)
            started = time.perf_counter() - t_start
            client.run(_reset_peak)
            cpu0 = sum(client.run(_worker_cpu).values())
            t = time.perf_counter()
            _, result = partition_by_county(
                villages,
                addresses,
                target=TARGET,
                band=BAND,
                tolerance=TOLERANCE,
                engine="dask",
                client=client,
            )
            seconds[n] = time.perf_counter() - t
            cpu = sum(client.run(_worker_cpu).values()) - cpu0
            rss = max(client.run(_peak_mib).values())
        same = _assignment(result).equals(reference)
        rows.append(
            _row(
                f"dask {n} worker{'s' if n > 1 else ''}",
                seconds[n],
                result,
                rss,
                f"cluster start {started:.1f} s; same as serial: {same}",
                cpu,
            )
        )
        print(f"  {rows[-1]['method']}: {rows[-1]['seconds']} s", flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False))
    if 1 in seconds and 2 in seconds:
        print(
            f"\ndask 2 workers vs 1: {seconds[1] / seconds[2]:.2f}× faster "
            f"({seconds[1]:.1f} s → {seconds[2]:.1f} s); the largest county bounds it: "
            + ", ".join(f"{c} {s:.1f} s" for c, s in slowest[:3])
            + " (serial per-county seconds)"
        )


def bench_build(scales: list[float], seed: int) -> None:
    """``gridmap build-demo`` per scale under GNU time (its %M is the build process's own peak RSS)."""
    print("\nbuild-demo (the city; peak RSS of the build process):")
    if not Path("/usr/bin/time").exists():
        print("  needs /usr/bin/time (apt-get install time)")
        return
    rows = []
    for scale in scales:
        with tempfile.TemporaryDirectory() as tmp:
            path, peak_file = Path(tmp) / "demo.gpkg", Path(tmp) / "peak"
            t = time.perf_counter()
            proc = subprocess.run(
                [
                    "/usr/bin/time",
                    "-f",
                    "%M",
                    "-o",
                    str(peak_file),
                    sys.executable,
                    "-m",
                    "gridmap.cli",
                    "build-demo",
                    "--seed",
                    str(seed),
                    "--scale",
                    str(scale),
                    "--store",
                    str(path),
                ],
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - t
            peak_kib = int(peak_file.read_text().split()[-1]) if peak_file.exists() else 0
            size = path.stat().st_size / 2**20 if path.exists() else float("nan")
        note = "ok" if proc.returncode == 0 else f"failed: {proc.stderr.strip().splitlines()[-1:]}"
        rows.append(
            {
                "scale": scale,
                "seconds": round(seconds, 1),
                "peak_rss_MiB": round(peak_kib / 1024),
                "gpkg_MiB": round(size),
                "result": note,
            }
        )
        print(f"  scale {scale}: {seconds:.1f} s", flush=True)
    print(pd.DataFrame(rows).to_string(index=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", default=None, help="a built demo store (GeoPackage path or postgresql:// URL)"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--build", type=float, nargs="*", default=[], help="also time build-demo at these scales"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-peers", action="store_true", help="skip today's whole-area path (n_jobs 1 and 2)"
    )
    args = parser.parse_args()
    if args.store:
        bench_partition(args.store, args.workers, peers=not args.no_peers)
    if args.build:
        bench_build(args.build, args.seed)
    if not args.store and not args.build:
        parser.error("give --store (partition benchmark) and/or --build SCALE …")
    return 0


if __name__ == "__main__":
    sys.exit(main())
