"""Point → grid assignment equals geopandas.sjoin, plus the smallest-code rule on edges."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from gridmap.crs import WGS84
from gridmap.geocode.assign import GridIndex, assign_points

X0, Y0, U = 122.0, 43.0, 0.25  # grid units of 0.25°: every vertex and midpoint below is exact in binary


def p(a: float, b: float) -> tuple[float, float]:
    return X0 + a * U, Y0 + b * U


def sq(a0, b0, a1, b1):
    return box(*p(a0, b0), *p(a1, b1))


@pytest.fixture(scope="module")
def grids() -> gpd.GeoDataFrame:
    shapes = {
        "G2": sq(0, 0, 2, 2),  # listed first, but "G1" has the smaller code on their shared edge
        "G1": sq(2, 0, 4, 2),
        "G3": sq(0, 2, 4, 4),  # T-junction with G1/G2 at (2, 2)
        "G5": Polygon([p(5, 0), p(9, 0), p(9, 4), p(5, 4)], [[p(6, 1), p(8, 1), p(8, 3), p(6, 3)]]),
        "G4": sq(6, 1, 8, 3),  # fills G5's hole
        "G6": MultiPolygon([sq(10, 0, 11, 1), sq(12, 0, 13, 1)]),
        "G8": Polygon([p(0, 5), p(4, 5), p(0, 9)]),  # shares the diagonal x + y = 9 with G7
        "G7": Polygon([p(4, 5), p(4, 9), p(0, 9)]),
    }
    return gpd.GeoDataFrame({"code": list(shapes)}, geometry=list(shapes.values()), crs=WGS84)


CASES = [
    # (a, b) in grid units, expected code
    ((1, 1), "G2"),
    ((3, 1), "G1"),
    ((2, 3), "G3"),
    ((5.5, 2), "G5"),
    ((7, 2), "G4"),
    ((10.5, 0.5), "G6"),
    ((12.5, 0.5), "G6"),
    ((1, 6), "G8"),
    ((3, 8), "G7"),
    ((2, 1), "G1"),  # shared edge G1|G2 → smaller code
    ((2, 2), "G1"),  # T vertex G1, G2, G3
    ((1, 2), "G2"),  # edge G2|G3
    ((3, 2), "G1"),  # edge G1|G3
    ((0, 0), "G2"),  # outer corner of the plan: only G2's closure
    ((0, 1), "G2"),  # outer edge
    ((6, 2), "G4"),  # hole boundary: G4 and G5 → G4
    ((8, 3), "G4"),  # hole corner
    ((5, 2), "G5"),  # G5 outer edge
    ((2, 7), "G7"),
    ((0.5, 8.5), "G7"),
    ((4, 5), "G7"),  # on the diagonal and its vertex
    ((4, 9), "G7"),
    ((0, 9), "G7"),
    ((0, 5), "G8"),
    ((11.5, 0.5), None),  # between the parts of G6
    ((4.5, 1), None),
    ((20, 20), None),
    ((-1, -1), None),
]


def sjoin_codes(lon, lat, grids, predicate):
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
    joined = gpd.sjoin(pts, grids, predicate=predicate, how="left")
    return joined.groupby(level=0)["code"].min().reindex(range(len(lon))).to_numpy(dtype=object)


@pytest.mark.parametrize("cell_deg", [None, 0.01, 0.1, 0.3, 5.0])
def test_known_points_including_edges_and_vertices(grids, cell_deg):
    lon, lat = np.array([p(*c)[0] for c, _ in CASES]), np.array([p(*c)[1] for c, _ in CASES])
    got = GridIndex(grids, cell_deg=cell_deg, raster_min_points=0).assign(lon, lat)
    assert list(got) == [code for _, code in CASES]


def test_equals_sjoin_within_inside_and_smallest_intersecting_code_on_edges(grids):
    rng = np.random.default_rng(3)
    n = 4000
    # random points, grid-unit lattice points (many exactly on edges and vertices), half-units
    lon = np.concatenate([rng.uniform(*p(-1, -1)[:1], p(14, 10)[0], n), X0 + U * rng.integers(-1, 15, n) / 2])
    lat = np.concatenate([rng.uniform(p(-1, -1)[1], p(14, 10)[1], n), Y0 + U * rng.integers(-1, 11, n) / 2])
    within = sjoin_codes(lon, lat, grids, "within")
    intersects = sjoin_codes(lon, lat, grids, "intersects")
    inside = pd.notna(within)
    on_boundary = pd.notna(intersects) & ~inside
    assert on_boundary.sum() > 500  # the lattice really puts many points on edges
    for cell_deg in (None, 0.02, 0.2):
        got = GridIndex(grids, cell_deg=cell_deg, raster_min_points=0).assign(lon, lat)
        assert (got[inside] == within[inside]).all()
        assert (got[on_boundary] == intersects[on_boundary]).all()
        assert pd.isna(got[pd.isna(intersects)]).all()


def test_h3_cells_against_sjoin():
    centre = h3.latlng_to_cell(43.62, 122.26, 6)
    cells = sorted(h3.cell_to_children(centre, 9))
    polys = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells]
    grids = gpd.GeoDataFrame(
        {"code": [f"15050200100{i:04d}" for i in range(len(cells))]}, geometry=polys, crs=WGS84
    )
    rng = np.random.default_rng(5)
    minx, miny, maxx, maxy = grids.total_bounds
    vertices = shapely.get_coordinates(grids.geometry.values)
    pick = rng.integers(0, len(vertices), 2000)
    lon = np.concatenate([rng.uniform(minx - 0.01, maxx + 0.01, 20_000), vertices[pick, 0]])
    lat = np.concatenate([rng.uniform(miny - 0.01, maxy + 0.01, 20_000), vertices[pick, 1]])
    got = assign_points(lon, lat, grids)
    within = sjoin_codes(lon, lat, grids, "within")
    intersects = sjoin_codes(lon, lat, grids, "intersects")
    inside = pd.notna(within)
    assert inside.sum() > 5_000
    assert (got[inside] == within[inside]).all()
    same = (got == intersects) | (pd.isna(got) & pd.isna(intersects))
    assert same.all()
    assert (pd.notna(intersects) & ~inside).sum() >= 1500  # the vertices are on shared edges


def test_nan_empty_and_reprojected_input(grids):
    got = assign_points([np.nan, p(1, 1)[0]], [p(1, 1)[1], np.nan], grids)
    assert list(got) == [None, None]
    assert len(assign_points([], [], grids)) == 0
    empty = grids.iloc[:0]
    assert list(assign_points([p(1, 1)[0]], [p(1, 1)[1]], empty)) == [None]
    metric = grids.to_crs("EPSG:3857")
    got = assign_points([p(1, 1)[0], p(3, 1)[0]], [p(1, 1)[1], p(3, 1)[1]], metric)
    assert list(got) == ["G2", "G1"]


def test_code_column_and_length_mismatch(grids):
    renamed = grids.rename(columns={"code": "grid_code"})
    assert list(assign_points([p(1, 1)[0]], [p(1, 1)[1]], renamed, code_col="grid_code")) == ["G2"]
    with pytest.raises(ValueError, match="differ in length"):
        assign_points([1.0, 2.0], [1.0], grids)


def test_raster_in_batches_and_exact_path_agree(monkeypatch):
    """The raster built a few boundary pieces at a time marks the same cells as in one go, and
    calls below ``raster_min_points`` (exact test only, no raster built) give the same codes."""
    import gridmap.geocode.assign as assign

    centre = h3.latlng_to_cell(43.62, 122.26, 6)
    cells = sorted(h3.cell_to_children(centre, 9))
    polys = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells]
    grids = gpd.GeoDataFrame({"code": [f"G{i:04d}" for i in range(len(cells))]}, geometry=polys, crs=WGS84)
    rng = np.random.default_rng(9)
    minx, miny, maxx, maxy = grids.total_bounds
    vertices = shapely.get_coordinates(grids.geometry.values)
    lon = np.concatenate([rng.uniform(minx, maxx, 5_000), vertices[:500, 0]])
    lat = np.concatenate([rng.uniform(miny, maxy, 5_000), vertices[:500, 1]])

    whole = GridIndex(grids, cell_deg=0.001, raster_min_points=0)
    via_raster = whole.assign(lon, lat)
    monkeypatch.setattr(assign, "_PIECES_PER_BATCH", 7)  # far fewer than the ~2,000 pieces
    batched = GridIndex(grids, cell_deg=0.001, raster_min_points=0)
    assert (batched.assign(lon, lat) == via_raster).all()
    assert (batched.region == whole.region).all() and batched.region.any()

    exact_only = GridIndex(grids, cell_deg=0.001)  # 5,500 points < RASTER_MIN_POINTS
    assert (exact_only.assign(lon, lat) == via_raster).all()
    assert exact_only.region.size == 0  # no raster was built
    # a kept index counts the points of all its calls: the raster comes once they add up
    kept = GridIndex(grids, cell_deg=0.001, raster_min_points=10_000)
    assert (kept.assign(lon, lat) == via_raster).all() and kept.region.size == 0
    assert (kept.assign(lon, lat) == via_raster).all() and (kept.region == whole.region).all()
