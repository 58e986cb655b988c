"""Benchmark: 1M points → grids with gridmap.geocode.assign vs geopandas.sjoin.

    .venv/bin/python bench/assign.py [--points 1000000] [--counties 150502,150521,150523] [--store]

Without ``--store`` the grids are H3 resolution-8 cells clipped to a few real counties
(gridmap.boundaries.counties()), coded like real grids (15 digits).  With ``--store`` the
active plan of the configured store is used.  Points: 70% clustered around grid
vertices and edges' neighbourhoods (like cases in towns), 25% uniform over the extent,
5% exactly on grid vertices or edge midpoints, so the edge rule is exercised.

Prints seconds for sjoin(within), our assign (with and without index build), the plain
STRtree helper gridmap.spatial.points_in_polygons that GridIndex uses near borders, the
speedup, and whether the results agree (interior points: identical to sjoin within;
boundary points: smallest code among sjoin intersects).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gridmap.crs import WGS84  # noqa: E402
from gridmap.geocode.assign import GridIndex, assign_points  # noqa: E402
from gridmap.spatial import points_in_polygons  # noqa: E402


def h3_grids(county_codes: list[str], resolution: int = 8) -> gpd.GeoDataFrame:
    from gridmap.boundaries import counties

    c = counties()
    c = c[c["code"].isin(county_codes)]
    rows = []
    for code, poly in zip(c["code"], c.geometry, strict=True):
        cells = h3.geo_to_cells(poly.__geo_interface__, resolution)
        hexes = [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]) for cell in cells]
        # edge cells: the hex clipped to the county so the grids tile the county
        clipped = shapely.intersection(np.asarray(hexes, dtype=object), poly)
        rows.extend((code, g) for g in clipped if not g.is_empty)
    # 15-digit codes like real grid codes (6-digit county + 9-digit sequence)
    codes = [f"{code}{i:09d}" for i, (code, _) in enumerate(rows)]
    return gpd.GeoDataFrame({"code": codes}, geometry=[g for _, g in rows], crs=WGS84)


def sample_points(grids: gpd.GeoDataFrame, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = grids.total_bounds
    n_on = n // 20
    n_uniform = n // 4
    n_cluster = n - n_on - n_uniform
    # exact vertices and edge midpoints of grids (on shared edges)
    coords = shapely.get_coordinates(grids.geometry.boundary.values)
    pick = rng.integers(0, len(coords) - 1, n_on)
    on_x = np.where(pick % 2 == 0, coords[pick, 0], (coords[pick, 0] + coords[pick + 1, 0]) / 2)
    on_y = np.where(pick % 2 == 0, coords[pick, 1], (coords[pick, 1] + coords[pick + 1, 1]) / 2)
    ux = rng.uniform(minx, maxx, n_uniform)
    uy = rng.uniform(miny, maxy, n_uniform)
    centres = shapely.get_coordinates(grids.geometry.representative_point().values)
    c = centres[rng.integers(0, len(centres), n_cluster)]
    cx = c[:, 0] + rng.normal(0, 0.004, n_cluster)
    cy = c[:, 1] + rng.normal(0, 0.003, n_cluster)
    lon = np.concatenate([cx, ux, on_x])
    lat = np.concatenate([cy, uy, on_y])
    perm = rng.permutation(n)
    return lon[perm], lat[perm]


def sjoin_assign(lon: np.ndarray, lat: np.ndarray, grids: gpd.GeoDataFrame, predicate: str) -> pd.Series:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
    joined = gpd.sjoin(points, grids[["code", "geometry"]], predicate=predicate, how="left")
    return joined.groupby(level=0)["code"].min().reindex(range(len(lon)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--counties", default="150502,150523,150525")
    parser.add_argument("--store", action="store_true", help="use the active plan of the configured store")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    if args.store:
        from gridmap.store import open_store

        store = open_store()
        plan_id = store.active_plan_id()
        if plan_id is None:
            print("the store has no active plan", file=sys.stderr)
            return 1
        grids = store.read("grids", where={"plan_id": plan_id}, columns=["code"])
        source = f"store plan {plan_id}"
    else:
        grids = h3_grids(args.counties.split(","))
        source = f"H3 r8 clipped to counties {args.counties}"
    print(f"grids: {len(grids):,} ({source}), built in {time.perf_counter() - t0:.1f} s")
    lon, lat = sample_points(grids, args.points)
    print(f"points: {len(lon):,}")

    def best_of(func):
        times = []
        result = None
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = func()
            times.append(time.perf_counter() - t)
        return min(times), result

    t_sjoin, within = best_of(lambda: sjoin_assign(lon, lat, grids, "within"))
    t_ours, ours = best_of(lambda: assign_points(lon, lat, grids))
    index = GridIndex(grids)
    t_index, ours_indexed = best_of(lambda: index.assign(lon, lat))
    codes = grids["code"].to_numpy(dtype=object)
    t_plain, plain_pos = best_of(lambda: points_in_polygons(lon, lat, grids.geometry.values, codes))
    plain = np.where(plain_pos >= 0, codes[np.maximum(plain_pos, 0)], None)
    intersects = sjoin_assign(lon, lat, grids, "intersects")

    within_v = within.to_numpy(dtype=object)
    inter_v = intersects.to_numpy(dtype=object)
    interior = pd.notna(within_v)
    same_interior = bool((ours[interior] == within_v[interior]).all())
    ours_na = pd.isna(ours)
    same_all = bool(((ours == inter_v) | (ours_na & pd.isna(inter_v))).all())
    boundary = pd.notna(inter_v) & ~interior
    print(f"sjoin(within)                 {t_sjoin:7.3f} s")
    print(f"assign_points (index + query) {t_ours:7.3f} s   speedup {t_sjoin / t_ours:5.1f}x")
    print(f"GridIndex.assign (prebuilt)   {t_index:7.3f} s   speedup {t_sjoin / t_index:5.1f}x")
    print(
        f"spatial.points_in_polygons    {t_plain:7.3f} s   speedup {t_sjoin / t_plain:5.1f}x  (STRtree only, no raster)"
    )
    print(f"interior points identical to sjoin within: {same_interior} ({int(interior.sum()):,} points)")
    print(
        f"all points = smallest code of sjoin intersects: {same_all} "
        f"({int(boundary.sum()):,} boundary-only points, {int(ours_na.sum()):,} outside)"
    )
    same_indexed = bool(((ours_indexed == ours) | (pd.isna(ours_indexed) & ours_na)).all())
    print(f"prebuilt-index run identical: {same_indexed}")
    same_plain = bool(((plain == ours) | (pd.isna(plain) & ours_na)).all())
    print(f"spatial.points_in_polygons identical: {same_plain}")
    return 0 if same_interior and same_all and same_plain else 1


if __name__ == "__main__":
    sys.exit(main())
