"""How fast files go in: a million patrol check-ins and 100,000 cases, end to end.

    .venv/bin/python bench/intake.py [--checkins 1000000] [--cases 100000] [--scale 0.1] [--store postgresql://…]

Each figure is ``gridmap import KIND FILE`` as the command runs it: reading the CSV
(UTF-8 with BOM), mapping, coordinate conversion and checks, duplicate detection, the
comparison with the store, the writes of records, per-row outcomes and the batch, in one
transaction — into a fresh store (GeoPackage unless ``--store``).

* check-ins: GCJ-02 points inside the Tongliao counties, 3,000 workers on the roster,
  0.5 % exported twice (rejected as duplicates); target under 60 s.  The file is streamed
  in chunks of 100,000 rows; the resident memory before and at its peak is printed, and
  GDAL (pyogrio) reads the layer back;
* cases: address texts and coordinates of the synthetic city at ``--scale`` (the
  synthesiser's own variants; WGS-84/GCJ-02/BD-09 points on a third), geocoded against
  its addresses with H3 r9 cells as the active plan; target under 20 s.

Wall and CPU seconds are printed: on a shared machine the wall figure includes waiting for
the other processes.  The peer beside each figure is the same frame written with the store alone
(``store.write``: no checks, no per-row records) — the cost of the import contract.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _load() -> str:
    with open("/proc/loadavg") as loadavg:
        return loadavg.read().split()[0]


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _store(url: str | None, folder: Path, name: str):
    from gridmap.store import open_store

    if url:
        store = open_store(url)
        for table in (
            "patrols",
            "cases",
            "import_rows",
            "import_batches",
            "workers",
            "addresses",
            "grids",
            "plans",
            "admin_units",
        ):
            store.delete(table)
        return store
    return open_store(folder / f"{name}.gpkg")


def checkin_benchmark(rows: int, folder: Path, url: str | None, seed: int = 7) -> float:
    import geopandas as gpd
    import shapely

    from gridmap import boundaries
    from gridmap.crs import WGS84
    from gridmap.geocode.transform import from_wgs84
    from gridmap.imports.kinds import run_import

    rng = np.random.default_rng(seed)
    store = _store(url, folder, "checkins")
    store.write("admin_units", boundaries.real_admin_units())
    workers = pd.DataFrame(
        {
            "worker_id": [f"W{k:05d}" for k in range(3000)],
            "role": "full_time",
            "active": 1,
            "source": "bench (synthetic)",
        }
    )
    store.write("workers", workers)
    counties = boundaries.counties()
    points = counties.sample_points(size=max(1, rows // len(counties)) + 1, rng=rng).explode(
        index_parts=False
    )
    lon, lat = points.x.to_numpy()[:rows], points.y.to_numpy()[:rows]
    rows = len(lon)
    glon, glat = from_wgs84(lon, lat, "gcj02")
    start = np.datetime64("2024-01-01T00:00:00")
    ts = (start + rng.integers(0, 365 * 86400, rows).astype("timedelta64[s]")).astype(str)
    frame = pd.DataFrame(
        {
            "工号": workers["worker_id"].to_numpy()[rng.integers(0, 3000, rows)],
            "打卡时间": ts,
            "经度": np.round(glon, 7),
            "纬度": np.round(glat, 7),
            "坐标系": "gcj02",
        }
    )
    repeats = rng.choice(rows, rows // 200, replace=False)
    frame = pd.concat([frame, frame.iloc[repeats]], ignore_index=True)
    path = folder / "checkins.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    print(
        f"check-ins: {len(frame):,} rows ({path.stat().st_size / 1e6:.0f} MB CSV), {len(repeats):,} repeated"
    )
    file_rows = len(frame)
    del frame, points  # the import streams the file: measure its memory, not the generator's
    rss_before = _rss_mb()
    peak = {"rss": rss_before}

    def watch(fraction: float, message: str) -> None:
        peak["rss"] = max(peak["rss"], _rss_mb())

    t, cpu = time.perf_counter(), time.process_time()
    report = run_import(store, "patrols", path, actor="bench", max_bytes=1 << 40, progress=watch)
    seconds = time.perf_counter() - t
    print(
        f"  gridmap import patrols: {seconds:.1f} s wall, {time.process_time() - cpu:.1f} s CPU "
        f"({file_rows / seconds:,.0f} rows/s); accepted "
        f"{report.accepted:,}, review {report.review:,}, rejected {report.rejected:,}; in store "
        f"{store.count('patrols'):,}  [target < 60 s: {'met' if seconds < 60 else 'MISSED'}]"
    )
    print(
        f"  memory (resident, sampled after each chunk): {rss_before:,.0f} MB before, {peak['rss']:,.0f} MB peak; "
        f"load average {_load()}"
    )
    import pyogrio

    info = pyogrio.read_info(store.path, layer="patrols") if hasattr(store, "path") else None
    if info is not None:
        print(f"  GDAL reads the GeoPackage layer: {info['features']:,} features, {info['geometry_type']}")
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    peer = gpd.GeoDataFrame(
        {
            "patrol_id": [f"P{i}" for i in range(rows)],
            "worker_id": frame["工号"][:rows],
            "ts": frame["打卡时间"][:rows],
            "source": "bench",
        },
        geometry=shapely.points(lon, lat),
        crs=WGS84,
    )
    store.delete("patrols")
    t = time.perf_counter()
    store.write("patrols", peer)
    print(f"  peer, store.write of the same points alone: {time.perf_counter() - t:.1f} s")
    store.close()
    return seconds


def case_benchmark(rows: int, scale: float, folder: Path, url: str | None, seed: int = 7) -> float:
    from gridmap.geocode.evaluate import h3_proxy_grids
    from gridmap.imports.kinds import run_import
    from gridmap.synth.city import synthesize

    t = time.perf_counter()
    city = synthesize(seed=seed, scale=scale)
    print(
        f"cases: synthetic city scale {scale} ({len(city.addresses):,} addresses) in {time.perf_counter() - t:.1f} s"
    )
    rng = np.random.default_rng(seed)
    cases = pd.DataFrame(city.cases)
    sample = cases.iloc[rng.integers(0, len(cases), rows)].reset_index(drop=True)
    table = pd.DataFrame(
        {
            "案件编号": [f"BENCH-{i:07d}" for i in range(rows)],
            "地址": sample["address_text"],
            "经度": sample["raw_lon"].map(lambda v: "" if pd.isna(v) else f"{v:.7f}"),
            "纬度": sample["raw_lat"].map(lambda v: "" if pd.isna(v) else f"{v:.7f}"),
            "坐标系": sample["raw_crs"].fillna(""),
            "类型": sample["kind"],
            "类别": sample["category"],
            "状态": sample["status"],
            "登记时间": sample["reported_at"],
            "当事人": sample["party_name"],
        }
    )
    path = folder / "cases.csv"
    table.to_csv(path, index=False, encoding="utf-8-sig")
    store = _store(url, folder, "cases")
    store.write("admin_units", city.admin_units)
    store.write("addresses", city.addresses)
    a = city.addresses
    grids = h3_proxy_grids(a.geometry.x.to_numpy(), a.geometry.y.to_numpy()).assign(plan_id="BENCH")
    store.write(
        "plans",
        pd.DataFrame(
            [{"plan_id": "BENCH", "name": "bench", "status": "active", "created_at": "2024-01-01T00:00:00"}]
        ),
    )
    store.write("grids", grids)
    t, cpu = time.perf_counter(), time.process_time()
    report = run_import(store, "cases", path, actor="bench", max_bytes=1 << 40)
    seconds = time.perf_counter() - t
    print(
        f"  gridmap import cases: {rows:,} rows in {seconds:.1f} s wall, {time.process_time() - cpu:.1f} s CPU "
        f"({rows / seconds:,.0f} rows/s); accepted "
        f"{report.accepted:,}, review {report.review:,}, rejected {report.rejected:,}  "
        f"[target < 20 s: {'met' if seconds < 20 else 'MISSED'}]; load average {_load()}"
    )
    t = time.perf_counter()
    again = run_import(store, "cases", path, actor="bench", max_bytes=1 << 40)
    print(
        f"  re-import of the same file: {time.perf_counter() - t:.1f} s, {again.inserted} new, {again.updated} "
        f"updated, {again.unchanged:,} unchanged"
    )
    store.close()
    return seconds


def main(argv: list[str] | None = None) -> int:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkins", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=0.1, help="synthetic city for the case texts")
    parser.add_argument("--store", help="a PostGIS URL (tables emptied!) instead of fresh GeoPackages")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-intake-") as tmp:
        folder = Path(tmp)
        checkins = checkin_benchmark(args.checkins, folder, args.store) if args.checkins else None
        cases = case_benchmark(args.cases, args.scale, folder, args.store) if args.cases else None
    if checkins is not None:
        print(f"{args.checkins:,} check-ins: {checkins:.1f} s")
    if cases is not None:
        print(f"{args.cases:,} cases: {cases:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
