"""Optimized hot spots: Moran's I equals esda, the scale comes from the z peak, every decision is reported."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shapely

from gridmap.hotspots.optimized import (
    global_moran_z,
    incremental_autocorrelation,
    optimized_hot_spots,
    ring_adjacency,
)
from gridmap.hotspots.planted import cluster_recovery, planted_clusters
from gridmap.hotspots.weights import SpatialWeights, h3_weights

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import esda
    from libpysal.weights import WSP


def test_global_moran_equals_esda_and_rings_grow():
    import h3

    cells = np.array(
        [h3.str_to_int(c) for c in h3.grid_disk(h3.latlng_to_cell(43.65, 122.26, 9), 12)], dtype=np.uint64
    )
    ring1 = h3_weights(cells)
    y = np.random.default_rng(2).poisson(3.0, len(cells)).astype(float)
    y[:40] += 10
    for k in (1, 2, 3):
        matrix = ring_adjacency(ring1.sparse, k)
        assert (matrix != h3_weights(cells, k).sparse).nnz == 0  # the full disk: no holes here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = esda.Moran(
                y, WSP(matrix).to_W(silence_warnings=True), transformation="B", permutations=0
            )
        moran, z = global_moran_z(y, matrix)
        assert moran == pytest.approx(theirs.I, rel=1e-10) and z == pytest.approx(theirs.z_norm, rel=1e-8)


def test_scale_is_the_first_peak_of_z():
    import h3

    cells = np.array(
        [h3.str_to_int(c) for c in h3.grid_disk(h3.latlng_to_cell(43.65, 122.26, 10), 25)], dtype=np.uint64
    )
    ring1 = h3_weights(cells)
    scale = incremental_autocorrelation(
        np.random.default_rng(0).poisson(2.0, len(cells)).astype(float) + (np.arange(len(cells)) < 300) * 8.0,
        ring1,
        k_max=5,
    )
    i = list(scale.k).index(scale.chosen)
    if scale.peaked:
        assert (
            0 < i < 4
            and scale.z[i] > scale.z[i - 1]
            and scale.z[i] >= scale.z[i + 1]
            or i == 0
            and scale.z[0] > scale.z[1]
        )
    else:
        assert (np.diff(scale.z) > 0).all() and scale.chosen == 3  # 36 neighbours: ArcGIS's 30-neighbour rule
    assert isinstance(ring1, SpatialWeights)


def test_optimized_run_reports_every_decision_and_finds_the_clusters():
    truth = planted_clusters(60_000, 20, seed=4, background_share=0.5, sigma_range_m=(300.0, 3000.0))
    found = optimized_hot_spots(
        truth.lon, truth.lat, study_area=shapely.box(*truth.box), resolutions=(9, 8, 7), k_max=4
    )
    assert [d["decision"] for d in found.decisions] == [
        "aggregation",
        "scale",
        "inference",
        "multiple testing",
    ]
    assert f"resolution {found.resolution}" in found.decisions[0]["value"] and "FDR 0.05" in found.describe()
    assert found.k == found.scale.chosen and found.result.inference == "log_counts"
    recovery = cluster_recovery(truth, found.cells, found.result.hot)
    assert recovery.clusters_found >= 17 and recovery.far_share <= 0.05, recovery
