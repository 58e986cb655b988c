"""Hot-spot areas: a planted cluster becomes one ranked area; noise gives none."""

from __future__ import annotations

import json

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LOCAL_CRS
from gridmap.hotspots.aggregate import count_in_h3, h3_polygons
from gridmap.hotspots.areas import hotspot_areas
from gridmap.hotspots.getis_ord import gi_star
from gridmap.hotspots.weights import h3_weights, queen_weights


def lattice_units(rows: int = 30, cols: int = 30, size: float = 0.005) -> gpd.GeoDataFrame:
    xe, ye = 122.2 + np.arange(cols + 1) * size, 43.6 + np.arange(rows + 1) * size
    x0, y0 = np.meshgrid(xe[:-1], ye[:-1])
    x1, y1 = np.meshgrid(xe[1:], ye[1:])
    boxes = shapely.box(x0.ravel(), y0.ravel(), x1.ravel(), y1.ravel())
    return gpd.GeoDataFrame({"code": [f"g{i:03d}" for i in range(len(boxes))]}, geometry=boxes, crs=4326)


def test_planted_clusters_become_ranked_areas_with_summaries():
    units = lattice_units()
    weights = queen_weights(units, ids="code")
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, (30, 30)).astype(float)
    counts[4:9, 4:9] += 8.0  # big cluster
    counts[20:23, 20:23] += 6.0  # small cluster
    counts = counts.ravel()
    categories = pd.DataFrame({"land": counts * 0.6, "wages": counts * 0.3, "traffic": counts * 0.1})
    trend = np.where(np.arange(900) % 2 == 0, "persistent_hot_spot", "new_hot_spot")
    # normal inference: this test is about merging units into areas and fixes which units are significant
    result = gi_star(counts, weights, inference="normal")
    areas = hotspot_areas(
        result.significant_fdr,
        result.z,
        weights,
        units,
        counts,
        category_counts=categories,
        trend_labels=trend,
    )
    assert len(areas) >= 2 and areas["rank"].tolist()[:2] == [1, 2]
    big, small = areas.iloc[0], areas.iloc[1]
    assert big.cases > small.cases > 0
    big_block = set(units["code"].to_numpy().reshape(30, 30)[5:8, 5:8].ravel())
    assert big_block <= set(json.loads(big.unit_ids))
    assert big.geometry.geom_type == "MultiPolygon" and len(big.geometry.geoms) == 1
    member_area = units.set_index("code").loc[json.loads(big.unit_ids)].to_crs(LOCAL_CRS).area.sum() / 1e6
    assert abs(big.area_km2 - member_area) < 1e-6 * member_area
    assert json.loads(big.top_categories)[0][0] == "land" and len(json.loads(big.top_categories)) == 3
    assert big.trend in {"persistent_hot_spot", "new_hot_spot"} and big.max_z > 3
    assert big.geometry.contains(shapely.Point(big.centre_lon, big.centre_lat))
    # merged outline equals the union of its units
    members = units.set_index("code").loc[json.loads(big.unit_ids)].geometry
    assert big.geometry.symmetric_difference(shapely.union_all(members.values)).area < 1e-12


def test_no_area_on_noise():
    # under pure noise BH keeps the chance of *any* significant unit near alpha (5 %) per map
    # (a little above for small skewed counts, whose tails the normal approximation underrates)
    units = lattice_units()
    weights = queen_weights(units, ids="code")
    maps_with_areas = 0
    for seed in range(20):
        counts = np.random.default_rng(seed).poisson(20.0, 900).astype(float)
        result = gi_star(counts, weights)
        areas = pd.concat(
            [
                hotspot_areas(result.significant_fdr, result.z, weights, units, counts, sign=sign)
                for sign in (1, -1)
            ]
        )
        maps_with_areas += len(areas) > 0
        assert (areas["units"] <= 2).all(), seed
    assert maps_with_areas <= 2


def test_h3_cells_merge_into_clean_polygons():
    rng = np.random.default_rng(1)
    lon = np.r_[rng.uniform(122.1, 122.4, 3000), 122.25 + rng.normal(0, 0.005, 400)]
    lat = np.r_[rng.uniform(43.55, 43.75, 3000), 43.65 + rng.normal(0, 0.004, 400)]
    cells, counts = count_in_h3(lon, lat, 8, study_area=shapely.box(122.1, 43.55, 122.4, 43.75))
    weights = h3_weights(cells)
    result = gi_star(counts, weights)
    polygons = h3_polygons(cells)
    areas = hotspot_areas(result.significant_fdr, result.z, weights, polygons, counts)
    assert len(areas) >= 1
    top = areas.iloc[0]
    assert top.geometry.is_valid and len(top.geometry.geoms) == 1
    assert shapely.get_num_interior_rings(top.geometry.geoms[0]) == 0
    centre_cell = h3.str_to_int(h3.latlng_to_cell(43.65, 122.25, 8))
    assert centre_cell in json.loads(top.unit_ids)
    slow = hotspot_areas(result.significant_fdr, result.z, weights, polygons, counts, tiling=False)
    assert top.geometry.symmetric_difference(slow.iloc[0].geometry).area < 1e-12
    assert (
        len(hotspot_areas(result.significant_fdr, result.z, weights, polygons, counts, min_units=10_000)) == 0
    )


def test_units_that_do_not_tile_cleanly_still_merge():
    # the top box meets the two lower boxes in a T-junction: no shared vertex at x=0.01, so a
    # coverage union refuses the input and the plain union takes over
    units = gpd.GeoDataFrame(
        {"code": ["left", "right", "top"]},
        geometry=[
            shapely.box(122.0, 43.0, 122.01, 43.01),
            shapely.box(122.01, 43.0, 122.02, 43.01),
            shapely.box(122.005, 43.01, 122.015, 43.02),
        ],
        crs=4326,
    )
    weights = queen_weights(units, ids="code", criterion="geometry")
    areas = hotspot_areas(np.ones(3, bool), np.ones(3), weights, units, np.array([5.0, 6.0, 7.0]))
    assert len(areas) == 1 and areas.iloc[0].units == 3 and areas.iloc[0].cases == 18
    assert areas.iloc[0].geometry.is_valid
    assert abs(areas.iloc[0].geometry.area - shapely.union_all(units.geometry.values).area) < 1e-12
