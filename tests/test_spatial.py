"""gridmap.spatial.points_in_polygons against geopandas.sjoin, borders included."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box

from gridmap.geocode.assign import assign_points
from gridmap.spatial import PolygonIndex, geometries_in_polygons, points_in_polygons


def _tiles(seed: int = 3, n: int = 30) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    seeds = shapely.multipoints(np.column_stack([122.2 + rng.random(n) * 0.1, 43.6 + rng.random(n) * 0.08]))
    frame = box(122.19, 43.59, 122.31, 43.69)
    cells = [c.intersection(frame) for c in shapely.voronoi_polygons(seeds, extend_to=frame).geoms]
    codes = [f"150502001001{k:03d}" for k in rng.permutation(n) + 1]  # codes not in row order
    return gpd.GeoDataFrame({"code": codes}, geometry=cells, crs="EPSG:4326")


def test_matches_sjoin_inside_and_lowest_code_on_borders():
    tiles = _tiles()
    rng = np.random.default_rng(1)
    inner_lon = 122.17 + rng.random(2000) * 0.16  # some outside every tile
    inner_lat = 43.57 + rng.random(2000) * 0.14
    vertices = shapely.get_coordinates(tiles.geometry.values)  # on shared edges and corners
    lon = np.concatenate([inner_lon, vertices[:, 0], [np.nan]])
    lat = np.concatenate([inner_lat, vertices[:, 1], [43.6]])

    got = points_in_polygons(lon, lat, tiles.geometry.values, tiles["code"])
    got_codes = np.where(got >= 0, tiles["code"].to_numpy()[np.maximum(got, 0)], None)

    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    within = gpd.sjoin(points, tiles, predicate="within", how="left")
    touching = gpd.sjoin(points, tiles, predicate="intersects", how="inner")
    lowest_touching = touching.groupby(level=0)["code"].min()
    expected = within.groupby(level=0)["code"].min().reindex(points.index)
    on_border = expected.isna() & points.index.isin(lowest_touching.index)
    expected[on_border] = lowest_touching.reindex(points.index)[on_border]
    expected = np.where(pd.isna(expected), None, expected.astype(object))

    assert (got_codes == expected).all()
    assert on_border.sum() > 50 and (got < 0).sum() > 300  # the test really covers borders and outside
    # the geocoder's raster index keeps the same rule
    assert (assign_points(lon, lat, tiles) == expected).all()


def test_shared_edge_and_corner_go_to_the_lowest_code_whatever_the_row_order():
    polygons = [box(1, 0, 2, 1), box(0, 0, 1, 1), box(0, 1, 1, 2)]
    codes = ["b", "a", "c"]
    lon, lat = np.array([1.0, 0.5, 1.0, 5.0, 1.5]), np.array([0.5, 1.0, 1.0, 5.0, 0.5])
    assert points_in_polygons(lon, lat, polygons, codes).tolist() == [1, 1, 1, -1, 0]
    assert points_in_polygons(lon, lat, polygons).tolist() == [0, 1, 0, -1, 0]  # no codes: lowest position
    index = PolygonIndex([None, *polygons])  # missing polygons are skipped
    assert index.locate(lon, lat).tolist() == [1, 2, 1, -1, 1]
    pts = np.array([shapely.Point(1.0, 0.5), None, shapely.Point(0.5, 1.5)], dtype=object)
    assert geometries_in_polygons(pts, polygons, codes).tolist() == [1, -1, 2]


def test_points_located_in_batches_give_the_same_answer(monkeypatch):
    import gridmap.spatial as spatial

    tiles = _tiles(seed=4)
    rng = np.random.default_rng(2)
    vertices = shapely.get_coordinates(tiles.geometry.values)
    lon = np.concatenate([122.17 + rng.random(3000) * 0.16, vertices[:, 0], [np.nan]])
    lat = np.concatenate([43.57 + rng.random(3000) * 0.14, vertices[:, 1], [43.6]])
    whole = points_in_polygons(lon, lat, tiles.geometry.values, tiles["code"])
    monkeypatch.setattr(spatial, "_POINTS_PER_BATCH", 97)  # 30+ batches, the last one short
    assert (points_in_polygons(lon, lat, tiles.geometry.values, tiles["code"]) == whole).all()
    assert (whole >= 0).sum() > 1500
