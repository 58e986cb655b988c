"""Spatial weights: queen contiguity equals libpysal, H3 rings equal h3.grid_disk, distance bands, space-time."""

from __future__ import annotations

import itertools

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from libpysal.weights import Queen

from gridmap.crs import to_local
from gridmap.errors import InputError
from gridmap.hotspots.weights import (
    SpatialWeights,
    distance_band_weights,
    h3_weights,
    queen_weights,
    space_time_weights,
)


def lattice(rows: int, cols: int, size: float = 0.01) -> gpd.GeoDataFrame:
    """rows × cols boxes sharing exactly equal corner coordinates."""
    xe, ye = 122.2 + np.arange(cols + 1) * size, 43.6 + np.arange(rows + 1) * size
    x0, y0 = np.meshgrid(xe[:-1], ye[:-1])
    x1, y1 = np.meshgrid(xe[1:], ye[1:])
    boxes = shapely.box(x0.ravel(), y0.ravel(), x1.ravel(), y1.ravel())
    return gpd.GeoDataFrame({"code": [f"g{i:04d}" for i in range(len(boxes))]}, geometry=boxes, crs=4326)


def voronoi_units(n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    pts = shapely.multipoints(np.c_[rng.uniform(122.0, 122.5, n), rng.uniform(43.5, 43.8, n)])
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=shapely.box(121.9, 43.4, 122.6, 43.9)))
    units = gpd.GeoDataFrame({"code": np.arange(len(cells))}, geometry=cells, crs=4326)
    return units.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # order must not matter


def as_dense(w) -> np.ndarray:
    return np.asarray(w.sparse.todense()) if hasattr(w.sparse, "todense") else w.sparse.toarray()


@pytest.mark.parametrize("units", [lattice(30, 30), voronoi_units(400, 1)], ids=["lattice", "voronoi"])
def test_queen_equals_libpysal(units):
    ours = queen_weights(units, ids="code")
    theirs = Queen.from_dataframe(units, use_index=False, silence_warnings=True)
    assert (ours.sparse != theirs.sparse.tocsr()).nnz == 0
    assert ours.sparse.nnz == theirs.sparse.nnz > 0
    assert list(ours.ids) == list(units["code"])


def test_queen_reports_islands_and_rejects_bad_input():
    units = lattice(3, 3)
    island = gpd.GeoDataFrame({"code": ["far"]}, geometry=[shapely.box(123.0, 44.0, 123.01, 44.01)], crs=4326)
    w = queen_weights(gpd.GeoDataFrame(pd_concat(units, island), crs=4326), ids="code")
    assert w.island_ids.tolist() == ["far"]
    assert w.cardinalities[4] == 8  # the centre box of the 3x3 block touches all others
    with pytest.raises(InputError):
        queen_weights(units, ids="missing_column")
    with pytest.raises(InputError):
        queen_weights(units, criterion="rook")


def pd_concat(a, b):
    import pandas as pd

    return pd.concat([a, b], ignore_index=True)


def test_geometry_criterion_catches_t_junctions_that_vertex_misses():
    # a wide box on top of two boxes: its bottom edge has no vertex at x=1 where the two meet
    units = gpd.GeoDataFrame(
        {"code": ["left", "right", "top"]},
        geometry=[
            shapely.box(0, 0, 0.01, 0.01),
            shapely.box(0.01, 0, 0.02, 0.01),
            shapely.Polygon([(0.005, 0.01), (0.005, 0.02), (0.015, 0.02), (0.015, 0.01)]),
        ],
        crs=4326,
    )
    vertex = queen_weights(units, ids="code")
    geometric = queen_weights(units, ids="code", criterion="geometry")
    assert vertex.cardinalities.tolist() == [1, 1, 0]
    assert geometric.cardinalities.tolist() == [2, 2, 2]
    # a 5 m gap is bridged only with a tolerance
    gap = gpd.GeoDataFrame(
        geometry=[shapely.box(122.2, 43.6, 122.21, 43.61), shapely.box(122.21006, 43.6, 122.22, 43.61)],
        crs=4326,
    )
    assert queen_weights(gap, criterion="geometry").sparse.nnz == 0
    assert queen_weights(gap, criterion="geometry", tolerance_m=10).sparse.nnz == 2


def test_h3_rings_equal_grid_disk_and_absent_cells_are_absent():
    centre = h3.latlng_to_cell(43.65, 122.26, 9)
    cells = np.array([h3.str_to_int(c) for c in h3.grid_disk(centre, 12)], dtype=np.uint64)
    rng = np.random.default_rng(0)
    cells = cells[rng.random(len(cells)) < 0.8]  # holes: missing cells must not become neighbours
    rng.shuffle(cells)
    present = set(cells.tolist())
    for k in (1, 2):
        w = h3_weights(cells, k=k)
        indptr, indices = w.sparse.indptr, w.sparse.indices
        for i in rng.choice(len(cells), 50, replace=False):
            expected = {h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(int(cells[i])), k)}
            expected = (expected & present) - {int(cells[i])}
            got = {int(cells[j]) for j in indices[indptr[i] : indptr[i + 1]]}
            assert got == expected
    lonely = np.array([h3.str_to_int(h3.latlng_to_cell(44.5, 121.0, 9))], dtype=np.uint64)
    w = h3_weights(np.concatenate([cells, lonely]))
    assert w.island_ids.tolist() == [int(lonely[0])]


def test_h3_weights_accept_strings_and_reject_mixed_resolutions():
    a = h3.latlng_to_cell(43.65, 122.26, 9)
    ring = list(h3.grid_disk(a, 1))
    w = h3_weights(ring)
    assert w.cardinalities[ring.index(a)] == 6
    with pytest.raises(InputError, match="resolution"):
        h3_weights([a, h3.latlng_to_cell(43.65, 122.26, 8)])
    with pytest.raises(InputError):
        h3_weights([a, a])


def test_distance_band_matches_brute_force_in_metres():
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(122.2, 122.3, 300), rng.uniform(43.6, 43.68, 300)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    w = distance_band_weights(points, 800.0)
    x, y = to_local(lon, lat)
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    expected = (d <= 800.0) & ~np.eye(300, dtype=bool)
    assert np.array_equal(as_dense(w) > 0, expected)
    with pytest.raises(InputError):
        distance_band_weights(points, 0)


def test_space_time_neighbours_are_same_step_plus_previous_steps():
    spatial = SpatialWeights(queen_weights(lattice(2, 3)).sparse, np.arange(6))
    n_times, lag = 4, 1
    st = as_dense(space_time_weights(spatial, n_times, lag))
    adj = as_dense(spatial) > 0
    for t, u, s, v in itertools.product(range(n_times), range(6), range(n_times), range(6)):
        same_step_neighbour = s == t and adj[u, v]
        earlier = t - lag <= s < t and (adj[u, v] or u == v)
        assert (st[t * 6 + u, s * 6 + v] > 0) == (same_step_neighbour or earlier), (t, u, s, v)
    two = as_dense(space_time_weights(spatial, n_times, 2))
    assert two[3 * 6 + 0, 1 * 6 + 0] > 0 and two[3 * 6 + 0, 0 * 6 + 0] == 0


@pytest.mark.parametrize(
    ("lat", "lon", "resolution"),
    [
        (43.65, 122.26, 9),  # Tongliao: a hexagon subtree of base cell 24
        (39.10, 122.30, 8),  # around base cell 24's pentagon centre: the deleted K sector
        (39.10, 122.30, 7),
        (52.0, -120.0, 10),  # another base cell, even resolution
    ],
)
def test_h3_arithmetic_neighbours_equal_h3_grid_disk(lat, lon, resolution):
    from gridmap.hotspots.weights import h3_ring1_csr

    centre = h3.latlng_to_cell(lat, lon, resolution)
    cells = np.array([h3.str_to_int(c) for c in h3.grid_disk(centre, 30)], dtype=np.uint64)
    cells = cells[np.random.default_rng(resolution).random(len(cells)) < 0.85]  # holes: absent cells
    matrix = h3_ring1_csr(cells, resolution)
    position = {int(c): i for i, c in enumerate(cells.tolist())}
    for i, cell in enumerate(cells.tolist()):
        expected = sorted(
            position[h3.str_to_int(o)]
            for o in h3.grid_disk(h3.int_to_str(cell), 1)
            if h3.str_to_int(o) in position and h3.str_to_int(o) != cell
        )
        assert matrix.indices[matrix.indptr[i] : matrix.indptr[i + 1]].tolist() == expected
    assert (matrix != matrix.T).nnz == 0
