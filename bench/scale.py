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
each scale (and each ``--area``: the city 150500, the province 150000) into a temporary GeoPackage, or
into a schema of ``--database``, and prints build time, CPU time and the build's peak RSS, then the
per-county costs (build, partition, hot spots) and the grid-tile p50 through the API, and how they
grow from one scale to the next.

    .venv/bin/python bench/scale.py --store var/demo-0.1.gpkg [--workers 1 2] [--no-peers] [--build 0.05 0.2]
    flock /work/wt/.bigmem.lock .venv/bin/python bench/scale.py --build 0.05 0.2 1 --area 150500 150000 \
        --database postgresql://postgres@127.0.0.1/gridmap_i15a

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


def _tile_p50(store_url: str, samples: int = 40, seed: int = 0) -> tuple[float, float, int]:
    """(first tile ms, p50 ms of the next ones, tiles) of /tiles/grids at z12 over grids picked at random
    from the active plan, through the API (TestClient, rate limits off).  The first request of a
    GeoPackage store loads its in-memory index; PostGIS encodes every tile with ST_AsMVT."""
    import numpy as np
    import shapely
    from fastapi.testclient import TestClient

    from api import mvt
    from api.main import create_app
    from gridmap.config import Settings

    store = open_store(store_url)
    try:
        plan = store.active_plan_id()
        grids = store.read("grids", where={"plan_id": plan})
        rng = np.random.default_rng(seed)
        pick = grids.iloc[rng.choice(len(grids), min(samples, len(grids)), replace=False)]
        points = shapely.get_coordinates(pick.geometry.representative_point().values)
        tiles = sorted({mvt.tiles_covering((x, y, x, y), [12])[0] for x, y in points})
        app = create_app(Settings(rate_limit_per_address=0, rate_limit_per_token=0), store=store)
        times = []
        with TestClient(app) as client:
            for z, x, y in tiles:
                t = time.perf_counter()
                r = client.get(f"/tiles/grids/{z}/{x}/{y}.pbf")
                times.append((time.perf_counter() - t) * 1000)
                if r.status_code not in (200, 204):
                    raise RuntimeError(f"tile {z}/{x}/{y}: HTTP {r.status_code}")
        return times[0], float(np.median(times[1:] or times)), len(tiles)
    finally:
        store.close()


def _store_counts(store_url: str) -> dict:
    store = open_store(store_url)
    try:
        units = store.read("admin_units", columns=["level"])
        levels = units["level"].value_counts().to_dict()
        return {
            "counties": int(levels.get("county", 0)),
            "villages": int(levels.get("village", 0)),
            "grids": store.count("grids", {"plan_id": store.active_plan_id()}),
            "cases": store.count("cases"),
        }
    finally:
        store.close()


def _steps(stdout: str) -> dict[str, float]:
    """The build's ``step seconds:`` line as {step: seconds} (step names may hold commas)."""
    import re

    for line in stdout.splitlines():
        if line.startswith("step seconds:"):
            body = line.removeprefix("step seconds:")
            return {name.strip(): float(v) for name, v in re.findall(r"\s*(.*?) (\d+\.\d+)(?:,|$)", body)}
    return {}


def bench_build(scales: list[float], seed: int, areas: list[str], database: str | None, keep: bool) -> None:
    """``gridmap build-demo --area A --scale S`` per area and scale under GNU time (wall and CPU of the
    process tree; peak RSS of its largest single process: a city's child or a partition worker counts
    on its own, never summed), with the load average before and after, then per-county costs
    and the grid-tile p50 through the API.  With ``--database`` each build goes into its own schema
    ``bench_<area>_<scale>`` of that PostgreSQL database (dropped afterwards unless ``--keep``)."""
    print(
        f"\nbuild-demo per area and scale (load average before: {Path('/proc/loadavg').read_text().split()[:3]})"
    )
    if not Path("/usr/bin/time").exists():
        print("  needs /usr/bin/time (apt-get install time)")
        return
    rows = []
    for area in areas:
        for scale in scales:
            load_before = Path("/proc/loadavg").read_text().split()[0]
            tmp = tempfile.TemporaryDirectory()
            schema = f"bench_{area.replace(',', '_')}_{str(scale).replace('.', '_')}"
            url = f"{database}?schema={schema}" if database else str(Path(tmp.name) / "demo.gpkg")
            peak_file = Path(tmp.name) / "peak"
            t = time.perf_counter()
            proc = subprocess.run(
                ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(peak_file), sys.executable, "-m", "api.cli"]
                + ["build-demo", "--area", area, "--seed", str(seed), "--scale", str(scale), "--store", url],
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - t
            load = f"{load_before}→{Path('/proc/loadavg').read_text().split()[0]}"
            wall, user, system, peak_kib = (
                peak_file.read_text().split()[-4:] if peak_file.exists() else [0] * 4
            )
            row = {
                "area": area,
                "scale": scale,
                "build_s": round(seconds, 1),
                "cpu_s": round(float(user) + float(system), 1),
                "peak_rss_MiB": round(int(peak_kib) / 1024),
                "load_1min": load,
            }
            if proc.returncode != 0:
                row["result"] = f"failed: {proc.stderr.strip().splitlines()[-1:]}"
                rows.append(row)
                tmp.cleanup()
                continue
            steps = _steps(proc.stdout)
            print("\n".join(f"    {line}" for line in proc.stdout.splitlines()[:3]), flush=True)
            # per city (province, lists of cities): its own peak (VmHWM of its child) and hot spots
            for line in proc.stderr.splitlines():
                if line.startswith(("[city ", "    done in ", "    hot spots [city ")):
                    print(f"    {line.strip()}", flush=True)
            counts = _store_counts(url)
            partition_s = steps.get(
                "balanced plan (partition)", steps.get("partition (all cities)", float("nan"))
            )
            n = max(counts["counties"], 1)
            first_ms, p50_ms, tiles = _tile_p50(url)
            row.update(
                counties=counts["counties"],
                villages=counts["villages"],
                grids=counts["grids"],
                cases=counts["cases"],
                build_s_per_county=round(seconds / n, 2),
                partition_s_per_county=round(partition_s / n, 2),
                hotspots_s_per_county=round(steps.get("hotspots", float("nan")) / n, 3),
                tile_first_ms=round(first_ms),
                tile_p50_ms=round(p50_ms, 1),
                tiles=tiles,
                result="ok",
            )
            if database and not keep:
                import psycopg2

                conn = psycopg2.connect(database)
                conn.autocommit = True
                with conn.cursor() as cursor:
                    cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                conn.close()
            tmp.cleanup()
            rows.append(row)
            print(f"  {area} scale {scale}: {row}", flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    print("\ngrowth (each row against the previous scale of the same area):")
    for area, group in table.groupby("area", sort=False):
        group = group[group.get("result", "ok") == "ok"]
        for (_, a), (_, b) in zip(group.iloc[:-1].iterrows(), group.iloc[1:].iterrows(), strict=True):
            print(
                f"  {area}: scale {a['scale']} → {b['scale']} (×{b['scale'] / a['scale']:g}): "
                f"build ×{b['build_s'] / a['build_s']:.2f}, CPU ×{b['cpu_s'] / max(a['cpu_s'], 1e-9):.2f}, "
                f"peak RSS ×{b['peak_rss_MiB'] / max(a['peak_rss_MiB'], 1):.2f}"
            )
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


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
        "--area", nargs="+", default=["150500"], help="areas to build with --build (e.g. 150500 150000)"
    )
    parser.add_argument(
        "--database", default=None, help="build into this postgresql:// database (a schema per build)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the --database schemas")
    parser.add_argument(
        "--no-peers", action="store_true", help="skip today's whole-area path (n_jobs 1 and 2)"
    )
    args = parser.parse_args()
    if args.store:
        bench_partition(args.store, args.workers, peers=not args.no_peers)
    if args.build:
        bench_build(args.build, args.seed, args.area, args.database, args.keep)
    if not args.store and not args.build:
        parser.error("give --store (partition benchmark) and/or --build SCALE …")
    return 0


if __name__ == "__main__":
    sys.exit(main())
