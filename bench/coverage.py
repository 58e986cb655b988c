"""Benchmark: a year of daily patrol check-ins for 3,000 grid workers (~1.1 M points), audited.

Grids: H3 resolution-8 cells (≈0.74 km²) filling real county outlines
(``gridmap.boundaries.counties()``), grouped into synthetic villages by their
resolution-7 parent; or, with ``--store``, the active plan of a store.  Workers:
``--workers`` full-time workers spread over the villages in proportion to their grids
and assigned with :func:`gridmap.coverage.assign_workers` (so some grids stay
unstaffed).  Each worker checks in ``--per-day`` times a day inside their grid, with
a few skipped days, a 12-day absence for 2% of workers, 3% of check-ins (a third for 2% of
workers) wandering 1–3 km away and 3% of workers patrolling only one corner.  Addresses: ``--addresses``
random points per grid.  Cases: 10 per 300 households, a third still open.

Prints the wall-clock seconds of :func:`gridmap.coverage.run_audit` (per stage) and
the peak memory: the process's peak RSS and, with ``--trace``, the peak of
Python-traced allocations during a second, traced audit run.

    .venv/bin/python bench/coverage.py                       # 3,000 workers, 2024
    .venv/bin/python bench/coverage.py --workers 300 --days 60
    .venv/bin/python bench/coverage.py --store var/gridmap.gpkg
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gridmap import boundaries  # noqa: E402
from gridmap.coverage import AuditThresholds, assign_workers, run_audit  # noqa: E402
from gridmap.crs import LOCAL_CRS, WGS84, to_wgs84  # noqa: E402


def h3_grids(n_min: int, resolution: int = 8) -> gpd.GeoDataFrame:
    """H3 cells over real counties (largest-first from 科尔沁区) until at least ``n_min`` cells."""
    counties = boundaries.counties()
    order = ["150502"] + [c for c in counties["code"] if c != "150502"]
    rows = []
    for code in order:
        geom = counties.loc[counties["code"] == code, "geometry"].iloc[0]
        cells = sorted(h3.geo_to_cells(geom, resolution))
        rows.append(pd.DataFrame({"county_code": code, "cell": cells}))
        if sum(len(r) for r in rows) >= n_min:
            break
    cells = pd.concat(rows, ignore_index=True)
    cells["parent"] = [h3.cell_to_parent(c, resolution - 1) for c in cells["cell"]]
    village_rank = cells.groupby("county_code")["parent"].rank(method="dense").astype(int)
    cells["village_code"] = cells["county_code"] + village_rank.map("{:06d}".format)
    cells = cells.sort_values(["village_code", "cell"], ignore_index=True)
    # whole villages, in code order, until there are enough cells
    sizes = cells.groupby("village_code").size()
    wanted = sizes.index[: int(np.searchsorted(sizes.cumsum().to_numpy(), n_min)) + 1]
    cells = cells[cells["village_code"].isin(wanted)].reset_index(drop=True)
    cells["code"] = cells["village_code"] + (cells.groupby("village_code").cumcount() + 1).map(
        "{:03d}".format
    )
    polygons = [shapely.Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(c)]) for c in cells["cell"]]
    grids = gpd.GeoDataFrame(
        {
            "plan_id": "BENCH",
            "code": cells["code"],
            "village_code": cells["village_code"],
            "county_code": cells["county_code"],
        },
        geometry=polygons,
        crs=WGS84,
    )
    return grids


def store_grids(url: str) -> gpd.GeoDataFrame:
    from gridmap.coverage.service import load_grids
    from gridmap.store import open_store

    with open_store(url) as store:
        return load_grids(store)


def synthesize(
    grids: gpd.GeoDataFrame,
    n_workers: int,
    year: int,
    days: int,
    per_day: int,
    addresses_per_grid: int,
    seed: int,
):
    rng = np.random.default_rng(seed)
    n = len(grids)
    local = grids.to_crs(LOCAL_CRS)
    cx = local.geometry.centroid.x.to_numpy()
    cy = local.geometry.centroid.y.to_numpy()
    radius = np.sqrt(local.geometry.area.to_numpy() / np.pi) * 0.8
    households = rng.integers(150, 650, n)
    grids = grids.assign(households=households)

    # workers per village in proportion to grids (rounded down, so some villages are understaffed)
    per_village = grids.groupby("village_code").size()
    quota = np.floor(per_village * n_workers / n).astype(int)
    short = n_workers - quota.sum()
    quota.iloc[rng.choice(len(quota), size=short, replace=short > len(quota))] += 1
    villages = np.repeat(quota.index.to_numpy(), quota.to_numpy())
    # 90 % full-time; the rest part-time, cadres and police (secondary roles over several grids)
    roles = rng.choice(
        ["full_time", "part_time", "cadre", "police"], len(villages), p=[0.9, 0.04, 0.04, 0.02]
    )
    workers = pd.DataFrame(
        {
            "worker_id": [f"W{i:05d}" for i in range(len(villages))],
            "role": roles,
            "village_code": villages,
            "active": 1,
            "hired_at": "2020-01-01T00:00:00",
        }
    )
    assignments = assign_workers(workers, grids, seed=seed, valid_from="2020-01-01")
    code_pos = pd.Index(grids["code"]).get_indexer(assignments["grid_code"])
    first_grid = pd.Series(code_pos, index=assignments["worker_id"]).groupby(level=0).first()
    worker_grid = first_grid.reindex(workers["worker_id"]).to_numpy()
    has_grid = ~np.isnan(worker_grid)
    worker_grid = worker_grid[has_grid].astype(np.int64)
    worker_ids = workers["worker_id"].to_numpy()[has_grid]

    # check-ins: per worker × day × per_day, minus skipped days and absences
    n_w = len(worker_ids)
    w = np.repeat(np.arange(n_w), days * per_day)
    d = np.tile(np.repeat(np.arange(days), per_day), n_w)
    keep = rng.random(len(w)) > 0.03
    absent = rng.random(n_w) < 0.02
    absence_start = rng.integers(0, max(days - 12, 1), n_w)
    keep &= ~(absent[w] & (d >= absence_start[w]) & (d < absence_start[w] + 12))
    w, d = w[keep], d[keep]
    g = worker_grid[w]
    angle = rng.random(len(w)) * 2 * np.pi
    dist = np.sqrt(rng.random(len(w))) * radius[g]
    corner = rng.random(n_w) < 0.03
    dist = np.where(corner[w], dist * 0.15, dist)
    wanderer = rng.random(n_w) < 0.02  # a few check in far from their grid a third of the time
    wander = rng.random(len(w)) < np.where(wanderer[w], 0.33, 0.03)
    dist = np.where(wander, 1000 + 2000 * rng.random(len(w)), dist)
    x = cx[g] + dist * np.cos(angle) + np.where(corner[w], radius[g] * 0.6, 0.0)
    y = cy[g] + dist * np.sin(angle)
    lon, lat = to_wgs84(x, y)
    seconds = rng.integers(7 * 3600, 19 * 3600, len(w))
    stamps = (
        np.datetime64(f"{year}-01-01T00:00:00")
        + d.astype("timedelta64[D]")
        + seconds.astype("timedelta64[s]")
    )
    patrols = gpd.GeoDataFrame(
        {
            "patrol_id": np.char.add("P", np.arange(len(w)).astype(str)),
            "worker_id": worker_ids[w],
            "ts": np.datetime_as_string(stamps, unit="s"),
            "raw_crs": "wgs84",
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=WGS84,
    )

    # addresses: uniform inside each grid's inscribed disc
    k = addresses_per_grid
    ag = np.repeat(np.arange(n), k)
    a_angle = rng.random(len(ag)) * 2 * np.pi
    a_dist = np.sqrt(rng.random(len(ag))) * radius[ag]
    a_lon, a_lat = to_wgs84(cx[ag] + a_dist * np.cos(a_angle), cy[ag] + a_dist * np.sin(a_angle))
    addresses = gpd.GeoDataFrame(
        {"address_id": np.arange(len(ag)).astype(str), "households": 1},
        geometry=gpd.points_from_xy(a_lon, a_lat),
        crs=WGS84,
    )

    # cases: ~10 per 300 households over the year, a third still open
    n_cases = int(households.sum() / 30)
    cg = rng.integers(0, n, n_cases)
    reported = np.datetime64(f"{year}-01-01T08:00:00") + rng.integers(0, days, n_cases).astype(
        "timedelta64[D]"
    )
    open_ = rng.random(n_cases) < 0.33
    resolved = reported + rng.integers(1, 20, n_cases).astype("timedelta64[D]")
    cases = pd.DataFrame(
        {
            "case_id": np.char.add("C", np.arange(n_cases).astype(str)),
            "kind": "dispute",
            "status": np.where(open_, "in_progress", "resolved"),
            "reported_at": np.datetime_as_string(reported, unit="s"),
            "resolved_at": np.where(open_, None, np.datetime_as_string(resolved, unit="s")),
            "grid_code": grids["code"].to_numpy()[cg],
        }
    )
    return grids, workers, assignments, patrols, addresses, cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3000)
    parser.add_argument("--grids", type=int, default=3400, help="at least this many H3 cells")
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--days", type=int, default=366)
    parser.add_argument("--per-day", type=int, default=1)
    parser.add_argument("--addresses", type=int, default=20, help="addresses per grid")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--store", help="take the grids of this store's active plan")
    parser.add_argument("--trace", action="store_true", help="second run under tracemalloc (slower)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    grids = store_grids(args.store) if args.store else h3_grids(args.grids)
    grids, workers, assignments, patrols, addresses, cases = synthesize(
        grids, args.workers, args.year, args.days, args.per_day, args.addresses, args.seed
    )
    print(
        f"data: {len(grids):,} grids, {len(workers):,} workers, {len(assignments):,} assignments, "
        f"{len(patrols):,} check-ins, {len(addresses):,} addresses, {len(cases):,} cases "
        f"(built in {time.perf_counter() - t0:.1f} s)"
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    period_end = (np.datetime64(f"{args.year}-01-01") + np.timedelta64(args.days - 1, "D")).astype(str)
    thresholds = AuditThresholds()
    t1 = time.perf_counter()
    result = run_audit(
        grids,
        assignments,
        patrols,
        workers,
        cases,
        None,
        f"{args.year}-01-01",
        period_end,
        thresholds,
        targets=addresses,
    )
    seconds = time.perf_counter() - t1
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(result.summary())
    stages = ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items())
    print(f"run_audit: {seconds:.2f} s (cumulative stage ends: {stages})")
    print(f"peak RSS: {rss_after:,.0f} MiB (before the audit {rss_before:,.0f} MiB)")
    if args.trace:
        tracemalloc.start()
        run_audit(
            grids,
            assignments,
            patrols,
            workers,
            cases,
            None,
            f"{args.year}-01-01",
            period_end,
            thresholds,
            targets=addresses,
        )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"traced peak during run_audit: {peak / 2**20:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
