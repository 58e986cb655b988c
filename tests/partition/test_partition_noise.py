"""Atoms whose shared edge differs by floating-point noise (µm) are still rook neighbours, and
their grid dissolves to one polygon (regression: a 134 m² empty atom touching its neighbours
only at a point was an 'empty island' and left its grid in two pieces)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.partition.adjacency import MIN_SHARED_M, rook_adjacency
from gridmap.partition.balance import partition_plan
from gridmap.partition.grids import grids_from_atoms

X0, Y0, D = 122.30, 43.63, 1e-4  # ~8 m × 11 m cells in Tongliao
NOISE = 3e-10  # degrees, ~30 µm: the size seen between real atoms


def _atoms() -> gpd.GeoDataFrame:
    """A row of four cells; the empty cell ``c`` has its left edge tilted by noise so that it
    touches ``b`` only at the bottom corner (and ``d`` beyond it holds households)."""
    box = shapely.box
    a, b, d = (
        box(X0, Y0, X0 + D, Y0 + D),
        box(X0 + D, Y0, X0 + 2 * D, Y0 + D),
        box(X0 + 3 * D, Y0, X0 + 4 * D, Y0 + D),
    )
    c = shapely.Polygon(
        [(X0 + 2 * D, Y0), (X0 + 3 * D, Y0), (X0 + 3 * D, Y0 + D), (X0 + 2 * D + NOISE, Y0 + D)]
    )
    return gpd.GeoDataFrame(
        {"atom_id": ["a", "b", "c", "d"], "village_code": "150502009014", "households": [200, 200, 0, 200]},
        geometry=[a, b, c, d],
        crs=WGS84,
    )


def test_fixture_reproduces_the_point_contact():
    atoms = _atoms()
    b, c = atoms.geometry.values[1], atoms.geometry.values[2]
    assert shapely.get_type_id(shapely.intersection(b, c)) == 0  # a Point: no shared length
    assert shapely.get_type_id(shapely.coverage_union_all([b, c])) == 6  # plain union falls apart


def test_noisy_shared_edge_is_a_rook_edge_and_a_corner_is_not():
    atoms = _atoms()
    metric = atoms.to_crs(LOCAL_CRS).geometry.values
    adj = rook_adjacency(metric)
    pairs = dict(zip(zip(adj.i.tolist(), adj.j.tolist(), strict=True), adj.length, strict=True))
    edge_m = shapely.length(shapely.LineString(shapely.get_coordinates(metric[1])[0:2]))  # right edge of b
    assert set(pairs) == {(0, 1), (1, 2), (2, 3)}
    assert abs(pairs[(1, 2)] - edge_m) < 0.01
    # a true corner contact (queen only) stays out of the graph
    corner = shapely.box(X0 + 4 * D, Y0 + D, X0 + 5 * D, Y0 + 2 * D)
    with_corner = np.r_[metric, gpd.GeoSeries([corner], crs=WGS84).to_crs(LOCAL_CRS).values]
    adj = rook_adjacency(with_corner)
    assert not ((adj.i == 3) & (adj.j == 4)).any()
    assert (adj.length >= MIN_SHARED_M).all()


def test_every_grid_is_one_polygon():
    atoms = _atoms()
    result = partition_plan(atoms, target=300, band=(200, 400), n_jobs=1)
    grids = grids_from_atoms(atoms, result)
    assert not result.report["notes"], result.report["notes"]
    assert (shapely.get_num_geometries(grids.geometry.values) == 1).all()
    # the empty atom ends up with a populated neighbour it shares the noisy edge or a real edge with
    grid_of = result.assignment.set_index("atom_id")["grid_code"]
    assert grid_of["c"] in {grid_of["b"], grid_of["d"]}
    union = shapely.union_all(grids.to_crs(LOCAL_CRS).geometry.values)
    assert (
        abs(shapely.area(union) - shapely.area(shapely.union_all(atoms.to_crs(LOCAL_CRS).geometry.values)))
        < 0.01
    )
