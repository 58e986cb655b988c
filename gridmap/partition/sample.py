"""A small self-contained test area for grid planning (tests and benchmarks).

Village polygons are Voronoi cells of random seeds in a square, addresses are
clustered points (settlements of houses and apartment buildings).  Nothing here
depends on :mod:`gridmap.synth`; it exists so that planning can be tested and
benchmarked on inputs of a known size.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from gridmap.crs import LOCAL_CRS, WGS84, to_local

#: 12-digit village codes are built under this 9-digit township code
SAMPLE_TOWNSHIP = "150502001"


@dataclass
class SampleArea:
    """``villages`` (code, name, geometry) and ``addresses`` (address_id, village_code,
    households, population, geometry), both GeoDataFrames in EPSG:4326."""

    villages: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame


def sample_area(
    seed: int = 0,
    n_villages: int = 4,
    size_km: float = 3.0,
    households: int = 3000,
    centre: tuple[float, float] = (122.25, 43.62),
    n_clusters: int | None = None,
    max_building_households: int = 24,
    spread_m: tuple[float, float] = (80.0, 400.0),
) -> SampleArea:
    """Random villages tiling a ``size_km`` × ``size_km`` square around ``centre``
    (lon, lat degrees) with about ``households`` households in clustered addresses
    (``n_clusters`` settlements, Gaussian spread ``spread_m`` metres).

    Houses hold 1 household, apartment buildings 6..``max_building_households``; every
    household has 1–5 people.  Seeded and deterministic.
    """
    rng = np.random.default_rng(seed)
    cx, cy = to_local(*centre)
    half = size_km * 500.0
    square = shapely.box(cx - half, cy - half, cx + half, cy + half)
    seeds = shapely.multipoints(
        np.column_stack(
            [
                rng.uniform(cx - half, cx + half, n_villages),
                rng.uniform(cy - half, cy + half, n_villages),
            ]
        )
    )
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=square))
    cells = shapely.intersection(cells, square)
    cells = cells[
        np.argsort(shapely.get_x(shapely.centroid(cells)) * 1e-3 - shapely.get_y(shapely.centroid(cells)))
    ]
    codes = [f"{SAMPLE_TOWNSHIP}{i + 1:03d}" for i in range(len(cells))]
    villages = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [f"样例{i + 1}村" for i in range(len(cells))],
            "level": "village",
            "parent_code": SAMPLE_TOWNSHIP,
        },
        geometry=cells,
        crs=LOCAL_CRS,
    ).to_crs(WGS84)

    n_clusters = n_clusters or max(2, 3 * n_villages)
    centres = np.column_stack(
        [
            rng.uniform(cx - half * 0.95, cx + half * 0.95, n_clusters),
            rng.uniform(cy - half * 0.95, cy + half * 0.95, n_clusters),
        ]
    )
    spread = rng.uniform(spread_m[0], spread_m[1], n_clusters)
    xs, ys, hh = [], [], []
    total = 0
    while total < households:
        c = rng.integers(n_clusters)
        x, y = centres[c] + rng.normal(0.0, spread[c], 2)
        if not (cx - half < x < cx + half and cy - half < y < cy + half):
            continue
        h = 1 if rng.random() < 0.8 else int(rng.integers(6, max_building_households + 1))
        xs.append(x)
        ys.append(y)
        hh.append(h)
        total += h
    hh = np.asarray(hh)
    people = np.array([rng.integers(1, 6, h).sum() for h in hh])
    points = gpd.GeoSeries(shapely.points(xs, ys), crs=LOCAL_CRS).to_crs(WGS84)
    owner = villages.sindex.query(points.values, predicate="within")
    village_of = np.full(len(points), "", dtype=object)
    village_of[owner[0]] = villages["code"].to_numpy()[owner[1]]
    addresses = gpd.GeoDataFrame(
        {
            "address_id": [f"A{i:07d}" for i in range(len(points))],
            "village_code": village_of,
            "households": hh.astype("int64"),
            "population": people.astype("int64"),
        },
        geometry=points.values,
        crs=WGS84,
    )
    return SampleArea(
        villages=villages, addresses=addresses[addresses["village_code"] != ""].reset_index(drop=True)
    )
