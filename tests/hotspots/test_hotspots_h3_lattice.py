"""The one-face H3 lattice against h3ronpy and the general path: cells, counts, fill, neighbours, Gi*."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely

from gridmap.errors import InputError
from gridmap.hotspots import h3_lattice
from gridmap.hotspots.aggregate import count_in_h3, count_in_h3_h3ronpy, h3_study_cells, latlng_to_cells
from gridmap.hotspots.getis_ord import gi_star, gi_star_h3_points
from gridmap.hotspots.weights import h3_weights

ROOT = Path(__file__).resolve().parents[2]
TONGLIAO = shapely.box(121.61, 43.2, 122.91, 44.07)
# regions on one face each: Tongliao (pentagon base cell 24), the Pearl River delta, southern Chile,
# New Zealand's North Island, Iceland (other base cells, both hemispheres, east and west)
REGIONS = {
    "tongliao": (121.61, 43.2, 122.91, 44.07),
    "guangzhou": (113.0, 22.6, 113.7, 23.3),
    "chile": (-72.9, -41.8, -72.1, -41.1),
    "auckland": (174.4, -37.2, 175.1, -36.6),
    "iceland": (-22.2, 63.8, -21.4, 64.3),
}


def _points(bounds, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    west, south, east, north = bounds
    # half uniform, half in tight clumps so that cells hold many points
    lon = rng.uniform(west, east, n)
    lat = rng.uniform(south, north, n)
    centres = rng.integers(0, n, 20)
    clump = rng.integers(0, 20, n // 2)
    lon[: n // 2] = lon[centres[clump]] + rng.normal(0, 0.003, n // 2)
    lat[: n // 2] = lat[centres[clump]] + rng.normal(0, 0.003, n // 2)
    return lon, lat


def _edge_points(lon: np.ndarray, lat: np.ndarray, resolution: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell vertices and edge midpoints: the points where a rounding difference would show."""
    cells = np.unique(latlng_to_cells(lat[:n], lon[:n], resolution))
    out = []
    for cell in cells.tolist():
        ring = np.array(h3.cell_to_boundary(h3.int_to_str(cell)))  # (lat, lng)
        out.append(ring)
        out.append((ring + np.roll(ring, -1, axis=0)) / 2)
    ring = np.vstack(out)
    return ring[:, 1], ring[:, 0]


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_lattice_counts_equal_h3ronpy_cell_for_cell(region):
    bounds = REGIONS[region]
    lon, lat = _points(bounds, 20_000, seed=len(region))
    west, south = bounds[:2]
    for resolution in (3, 5, 7, 9, 10, 12, 14):
        if resolution >= 12:  # a dense lattice of the whole region would be too large: a corner of it
            lon = west + (lon - west) * 0.02
            lat = south + (lat - south) * 0.02
        edge_lon, edge_lat = _edge_points(lon, lat, resolution, 300)
        all_lon, all_lat = np.r_[lon, edge_lon], np.r_[lat, edge_lat]
        got = h3_lattice.lattice_counts(all_lon, all_lat, resolution)
        assert got is not None, (region, resolution)
        order = np.argsort(got.cells)
        cells, totals = count_in_h3_h3ronpy(all_lon, all_lat, resolution, None, None)
        np.testing.assert_array_equal(got.cells[order], cells)
        np.testing.assert_array_equal(got.totals[order], totals)
        if resolution >= 9:  # vertices and edge midpoints lie on edges: some must need h3ronpy
            assert got.placed_by_h3ronpy > 0


@pytest.mark.parametrize("resolution", [8, 9])
def test_study_fill_equals_h3ronpy_fill(resolution):
    lon, lat = _points(REGIONS["tongliao"], 5_000, seed=resolution)
    counties = gpd.read_file(ROOT / "data/boundaries/tongliao_counties.geojson").to_crs(4326)
    county = counties.geometry.iloc[0]
    holed = shapely.Polygon(
        TONGLIAO.exterior.coords, [shapely.box(122.0, 43.5, 122.3, 43.8).exterior.coords[::-1]]
    )
    areas = [TONGLIAO, holed, county] if resolution == 8 else [TONGLIAO, holed]
    for area in areas:
        got = h3_lattice.lattice_counts(lon, lat, resolution, area)
        assert got is not None
        order = np.argsort(got.cells)
        cells, totals = count_in_h3_h3ronpy(lon, lat, resolution, area, None)
        np.testing.assert_array_equal(got.cells[order], cells)
        np.testing.assert_array_equal(got.totals[order], totals)
        # every cell of the fill is a unit, and nothing else except cells holding points
        fill = h3_study_cells(area, resolution)  # sorted
        in_fill = fill[np.minimum(np.searchsorted(fill, got.cells), len(fill) - 1)] == got.cells
        assert in_fill.sum() == len(fill)
        assert (got.totals[~in_fill] > 0).all()


def test_ring_neighbours_equal_h3_weights():
    lon, lat = _points(REGIONS["tongliao"], 20_000, seed=3)
    for resolution in (9, 10):
        got = h3_lattice.lattice_counts(lon, lat, resolution, TONGLIAO)
        reference = h3_weights(got.cells).sparse  # h3_weights keeps the order it is given
        mine = h3_lattice.ring1_csr(got)
        assert (mine != reference).nnz == 0
        counts, sums = h3_lattice.ring1_sums(got, got.totals)
        np.testing.assert_array_equal(counts, np.diff(reference.indptr))
        np.testing.assert_allclose(sums, reference @ got.totals, rtol=0, atol=1e-9)


def test_weighted_counts_equal_the_general_path():
    lon, lat = _points(REGIONS["guangzhou"], 10_000, seed=5)
    weights = np.random.default_rng(5).integers(0, 4, len(lon)).astype(float)
    got = h3_lattice.lattice_counts(lon, lat, 9, weights=weights)
    order = np.argsort(got.cells)
    cells, totals = count_in_h3_h3ronpy(lon, lat, 9, None, weights)
    np.testing.assert_array_equal(got.cells[order], cells)
    np.testing.assert_allclose(got.totals[order], totals, rtol=0, atol=1e-12)


def test_gi_star_from_points_equals_counts_weights_and_gi_star():
    lon, lat = _points(REGIONS["tongliao"], 30_000, seed=7)
    for inference in ("normal", "auto", "exact"):
        fast = gi_star_h3_points(lon, lat, 9, TONGLIAO, inference=inference)
        cells, totals = count_in_h3(lon, lat, 9, study_area=TONGLIAO)
        reference = gi_star(totals, h3_weights(cells), inference=inference)
        order = np.argsort(fast.ids)
        np.testing.assert_array_equal(fast.ids[order], reference.ids)
        np.testing.assert_allclose(fast.z[order], reference.z, rtol=0, atol=1e-12)
        np.testing.assert_allclose(fast.p_fdr[order], reference.p_fdr, rtol=0, atol=1e-15)
        np.testing.assert_allclose(fast.p_norm[order], reference.p_norm, rtol=0, atol=1e-15)
        assert (fast.hot[order] == reference.hot).all() and fast.hot.sum() > 0
        np.testing.assert_array_equal(fast.bin[order], reference.bin)
        np.testing.assert_array_equal(fast.cardinalities[order], reference.cardinalities)
        assert fast.inference == reference.inference


def test_points_beside_a_face_boundary_are_tested_face_by_face():
    """Points within 0.1° of the edge between two faces: the per-point face test runs, and agrees."""
    centres = h3_lattice._FACE_CENTRE_XYZ
    own, other = centres[0], centres[4]  # faces 0 and 4 share an edge
    middle = (own + other) / np.linalg.norm(own + other)
    normal = (own - other) / np.linalg.norm(own - other)
    along = np.cross(normal, middle)
    rng = np.random.default_rng(11)
    s, e = rng.uniform(-0.03, 0.03, 20_000), rng.uniform(0.0005, 0.002, 20_000)  # radians
    p = np.cos(s)[:, None] * middle + np.sin(s)[:, None] * along + e[:, None] * normal
    p /= np.linalg.norm(p, axis=1)[:, None]
    lon, lat = np.degrees(np.arctan2(p[:, 1], p[:, 0])), np.degrees(np.arcsin(p[:, 2]))
    assert not h3_lattice._cap_inside_face(lon, lat, 0)
    for resolution in (7, 10):
        got = h3_lattice.lattice_counts(lon, lat, resolution)
        assert got is not None and got.frame.face == 0
        order = np.argsort(got.cells)
        cells, totals = count_in_h3_h3ronpy(lon, lat, resolution, None, None)
        np.testing.assert_array_equal(got.cells[order], cells)
        np.testing.assert_array_equal(got.totals[order], totals)
    # across the edge: the lattice refuses
    q = np.cos(s)[:, None] * middle + np.sin(s)[:, None] * along - e[:, None] * normal
    q /= np.linalg.norm(q, axis=1)[:, None]
    both_lon = np.r_[lon, np.degrees(np.arctan2(q[:, 1], q[:, 0]))]
    both_lat = np.r_[lat, np.degrees(np.arcsin(q[:, 2]))]
    assert h3_lattice.lattice_counts(both_lon, both_lat, 7) is None


def test_what_the_lattice_cannot_take_goes_the_general_way():
    lon, lat = _points(REGIONS["tongliao"], 2_000, seed=9)
    # a point on another face (the other side of the world): no lattice, same answer
    far_lon, far_lat = np.r_[lon, -60.0], np.r_[lat, -30.0]
    assert h3_lattice.lattice_counts(far_lon, far_lat, 8) is None
    cells, totals = count_in_h3(far_lon, far_lat, 8)
    reference = np.unique(latlng_to_cells(far_lat, far_lon, 8), return_counts=True)
    np.testing.assert_array_equal(cells, reference[0])
    np.testing.assert_array_equal(totals, reference[1])
    result = gi_star_h3_points(far_lon, far_lat, 8, inference="normal")
    assert len(result.ids) == len(cells)
    # NaN coordinates: the general path's clear error
    with pytest.raises(InputError):
        count_in_h3(np.r_[lon, np.nan], np.r_[lat, 43.5], 8)


def test_threads_binning_at_once_get_their_own_answers_even_on_numba_workqueue():
    """The API server bins from request and job threads. numba's "workqueue" threading layer (used where
    neither TBB nor OpenMP is installed) aborts the process on two parallel launches at once: the lattice
    takes a lock. Run in a child process pinned to that layer, four threads at once."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import numpy as np
        from concurrent.futures import ThreadPoolExecutor
        from gridmap.hotspots import h3_lattice
        rng = np.random.default_rng(1)
        lon, lat = rng.uniform(121.6, 122.9, 100_000), rng.uniform(43.2, 44.0, 100_000)
        def run(resolution):
            got = h3_lattice.lattice_counts(lon, lat, resolution)
            return int(got.cells.sum() % 1_000_003), float(got.totals.sum())
        serial = [run(r) for r in (7, 8, 9, 10)] * 2
        with ThreadPoolExecutor(4) as pool:
            threaded = list(pool.map(run, [7, 8, 9, 10] * 2))
        import numba
        assert numba.threading_layer() == "workqueue", numba.threading_layer()
        assert threaded == serial, (threaded, serial)
        print("ok")
        """
    )
    env = {**__import__("os").environ, "NUMBA_THREADING_LAYER": "workqueue"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
