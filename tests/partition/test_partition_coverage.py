"""Edge-matched outputs: addresses on village lines, shared-edge densification, grid coverages, adjacency."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from libpysal.weights import Rook

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.geometry import segmentize_shared
from gridmap.partition.adjacency import rook_adjacency, shared_segments
from gridmap.partition.atoms import build_atoms
from gridmap.partition.balance import partition_plan
from gridmap.partition.grids import grids_from_atoms
from gridmap.partition.h3plan import h3_plan
from gridmap.partition.sample import sample_area
from gridmap.partition.tiling import validate_tiling


@pytest.fixture(scope="module")
def area():
    return sample_area(seed=11, n_villages=5, size_km=3.0, households=6000)


@pytest.fixture(scope="module")
def atoms(area):
    return build_atoms(area.villages, area.addresses)


def two_villages():
    """Two villages sharing the meridian 122.25°E (codes ...002 west, ...001 east)."""
    west = shapely.box(122.23, 43.61, 122.25, 43.63)
    east = shapely.box(122.25, 43.61, 122.27, 43.63)
    return gpd.GeoDataFrame({"code": ["150502001002", "150502001001"]}, geometry=[west, east], crs=WGS84)


def test_address_on_a_shared_village_edge_is_counted_once_in_the_lowest_code():
    villages = two_villages()
    on_line = shapely.Point(122.25, 43.6203)  # exactly on the shared edge
    rng = np.random.default_rng(0)
    inside = shapely.points(
        np.column_stack([rng.uniform(122.231, 122.269, 40), rng.uniform(43.611, 43.629, 40)])
    )
    addresses = gpd.GeoDataFrame(
        {"households": np.r_[7, np.ones(40, int)]}, geometry=[on_line, *inside], crs=WGS84
    )
    east_hh = int(addresses[addresses.geometry.x > 122.25]["households"].sum())
    for order in ([0, 1], [1, 0]):  # the rule is by code, not by row order
        atoms = build_atoms(villages.iloc[order], addresses, target=40)
        assert int(atoms["households"].sum()) == int(addresses["households"].sum())
        per_village = atoms.groupby("village_code")["households"].sum()
        assert int(per_village["150502001001"]) == east_hh + 7


def test_segmentize_shared_keeps_a_shared_edge_identical_on_both_sides():
    left = shapely.Polygon([(0, 0), (1.0, 0.3), (0.2, 1.7)])
    right = shapely.Polygon([(1.0, 0.3), (1.9, 1.1), (0.2, 1.7)])  # shares the diagonal, run the other way
    plain = shapely.segmentize(np.array([left, right]), 0.013)
    ours = segmentize_shared(np.array([left, right]), 0.013)
    assert shapely.coverage_is_valid(ours)
    assert np.allclose(shapely.area(ours), shapely.area([left, right]))
    assert shapely.get_num_coordinates(ours).sum() == shapely.get_num_coordinates(plain).sum()
    # every new vertex of the shared edge is bit-identical on both sides
    a, b = (set(map(tuple, shapely.get_coordinates(g))) for g in ours)
    assert len(a & b) > 100


def test_atoms_and_grids_are_edge_matched_coverages_in_wgs84(area, atoms):
    assert shapely.coverage_is_valid(np.asarray(atoms.geometry.values))
    result = partition_plan(atoms, n_jobs=1)
    grids = grids_from_atoms(atoms, result, area.villages)
    geoms = np.asarray(grids.geometry.values)
    assert grids.crs.equals(WGS84)
    assert shapely.coverage_is_valid(geoms)  # across villages, not only within each
    assert (shapely.get_num_geometries(geoms) == 1).all()
    # edge-matched: the coverage union (the hotspot engine's merge) works and loses nothing
    union = shapely.coverage_union_all(geoms)
    metric = lambda g: gpd.GeoSeries(np.atleast_1d(g), crs=WGS84).to_crs(LOCAL_CRS).area.sum()  # noqa: E731
    assert abs(metric(union) - metric(geoms)) < 1.0
    assert validate_tiling(grids, area.villages).ok


def test_h3_plan_grids_are_an_edge_matched_coverage(area):
    grids = h3_plan(area.villages, area.addresses, resolution=8)
    geoms = np.asarray(grids.geometry.values)
    assert shapely.coverage_is_valid(geoms)
    shapely.coverage_union_all(geoms)  # raises on incorrectly noded input


def test_unmatched_segments_are_only_the_outline(area, atoms):
    # no T-junctions: the segments no neighbour repeats add up to the villages' outlines
    metric = np.asarray(atoms.to_crs(LOCAL_CRS).geometry.values, dtype=object)
    i, j, length = shared_segments(metric)
    unmatched = shapely.length(metric).sum() - 2 * length.sum()
    outline = shapely.length(shapely.coverage_union_all(metric))
    assert abs(unmatched - outline) < 0.01


def test_rook_adjacency_matches_libpysal(atoms):
    metric = atoms.to_crs(LOCAL_CRS).reset_index(drop=True)
    ours = rook_adjacency(np.asarray(metric.geometry.values, dtype=object))
    w = Rook.from_dataframe(metric, use_index=False, silence_warnings=True)
    theirs = {(min(a, b), max(a, b)) for a, nbrs in w.neighbors.items() for b in nbrs}
    # libpysal's rook joins polygons sharing a vertex pair; ours needs 1 cm of shared edge
    assert set(zip(ours.i.tolist(), ours.j.tolist(), strict=True)) == theirs
