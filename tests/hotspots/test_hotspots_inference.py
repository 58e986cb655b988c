"""The default inference for counts (issue #12): exact, valid under shuffles, powerful on planted clusters."""

from __future__ import annotations

import itertools

import h3
import numpy as np
import pytest
import scipy.sparse as sp
import shapely

from gridmap.errors import InputError
from gridmap.hotspots.aggregate import count_in_h3
from gridmap.hotspots.count_tests import log_count_scores, log_count_test
from gridmap.hotspots.getis_ord import gi_star
from gridmap.hotspots.moran import local_moran
from gridmap.hotspots.planted import cluster_recovery, planted_clusters
from gridmap.hotspots.weights import h3_weights


@pytest.fixture(scope="module")
def planted():
    """100 k points, half in 20 Gaussian clusters (σ 300–3000 m), on H3 res 8 (~19 k cells)."""
    truth = planted_clusters(100_000, 20, seed=0, background_share=0.5, sigma_range_m=(300.0, 3000.0))
    cells, counts = count_in_h3(truth.lon, truth.lat, 8, study_area=shapely.box(*truth.box))
    return truth, cells, counts, h3_weights(cells)


def test_p_equals_full_enumeration_of_neighbour_sets():
    rng = np.random.default_rng(3)
    counts = rng.poisson(2.0, 9).astype(float)
    counts[[0, 1]] = [40.0, 25.0]
    ring = sp.diags(
        [1, 1, 1, 1], [-1, 1, -8, 8], shape=(9, 9), format="csr", dtype=float
    )  # a cycle: 2 neighbours each
    adjacency = (ring + sp.csr_matrix(([1.0, 1.0], ([0, 4], [4, 0])), shape=(9, 9))).tocsr()  # unit 0: 3
    adjacency.data[:] = 1.0
    test = log_count_test(counts, adjacency)
    scores = log_count_scores(counts)
    for i in range(9):
        k = int(adjacency[i].sum())
        observed = scores[adjacency[i].indices].sum()
        others = np.delete(scores, i)
        sums = np.array([others[list(c)].sum() for c in itertools.combinations(range(8), k)])
        upper, lower = (sums >= observed).mean(), (sums <= observed).mean()
        assert test.p[i] == pytest.approx(min(1.0, 2 * min(upper, lower)), rel=1e-9)
        assert test.p_upper[i] == pytest.approx(upper, rel=1e-9)


def test_shuffled_counts_give_no_discovery(planted):
    _, _, counts, weights = planted
    rng = np.random.default_rng(11)
    shuffles = [rng.permutation(counts) for _ in range(5)]
    gi = [int(gi_star(s, weights).significant_fdr.sum()) for s in shuffles]
    lisa = [int(local_moran(s, weights).significant_fdr.sum()) for s in shuffles]
    assert sum(d == 0 for d in gi) >= 4, gi
    assert sum(d == 0 for d in lisa) >= 4, lisa
    # the check has teeth: the normal approximation marks hundreds of cells in every shuffle
    normal = [int(gi_star(s, weights, inference="normal").significant_fdr.sum()) for s in shuffles[:2]]
    assert min(normal) > 50, normal


def test_planted_clusters_are_found_and_hot_cells_stay_near_them(planted):
    truth, cells, counts, weights = planted
    result = gi_star(counts, weights)
    assert result.inference == "log_counts"
    found = cluster_recovery(truth, cells, result.hot)
    assert found.clusters_found >= 17, found
    assert found.far_share <= 0.05, found
    lisa = local_moran(counts, weights)
    assert lisa.inference == "log_counts"
    lisa_found = cluster_recovery(truth, cells, lisa.cluster == 1)
    assert lisa_found.clusters_found >= 17 and lisa_found.far_share <= 0.05, lisa_found
    # why the default is not the exact test of the raw counts: valid, but heavy tails cost it the power
    raw = cluster_recovery(truth, cells, gi_star(counts, weights, exact=True).hot)
    assert raw.clusters_found < 17, raw


def test_log_count_inference_refuses_non_counts():
    centre = h3.latlng_to_cell(43.65, 122.26, 9)
    weights = h3_weights(np.array([h3.str_to_int(c) for c in h3.grid_disk(centre, 2)], dtype=np.uint64))
    rates = np.linspace(0.5, 9.5, 19)
    with pytest.raises(InputError, match="counts"):
        gi_star(rates, weights, inference="log_counts")
    assert gi_star(rates, weights).inference == "normal"  # rates: the normal z
    with pytest.raises(InputError, match="inference"):
        gi_star(np.arange(19.0), weights, inference="bayes")
