"""Local Moran's I equals esda's Moran_Local (row-standardised) and finds clusters and outliers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gridmap.errors import InputError
from gridmap.hotspots.moran import local_moran
from gridmap.hotspots.weights import SpatialWeights

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import esda
    from libpysal.weights import WSP, lat2W

pytestmark = pytest.mark.filterwarnings("ignore::gridmap.hotspots.inference.FDRResolutionWarning")


def lattice(rows: int = 30, cols: int = 30):
    w = lat2W(rows, cols, rook=False)
    return SpatialWeights(w.sparse, np.arange(w.n)), w


def values(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = rng.gamma(2.0, 1.5, (30, 30))
    y[3:8, 3:8] += 6.0  # high cluster
    y[20:25, 20:25] *= 0.1  # low cluster
    y[15, 5] += 25.0  # a high outlier among ordinary values
    return y.ravel()


def test_statistic_and_quadrants_equal_esda():
    weights, w = lattice()
    y = values()
    ours = local_moran(y, weights, permutations=0)
    theirs = esda.Moran_Local(y, w, transformation="r", permutations=0)
    np.testing.assert_allclose(ours.I, theirs.Is, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ours.q, theirs.q)
    np.testing.assert_allclose(ours.EI, theirs.EIc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.VI, theirs.VIc, rtol=1e-9, atol=1e-12)


def test_equal_esda_with_islands():
    weights, _ = lattice(10, 10)
    matrix = weights.sparse.tolil()
    matrix[0, :] = 0
    matrix[:, 0] = 0  # unit 0 becomes an island
    island_weights = SpatialWeights(matrix.tocsr(), np.arange(100))
    assert island_weights.islands.tolist() == [0]
    y = values()[:100]
    ours = local_moran(y, island_weights, permutations=0)
    theirs = esda.Moran_Local(
        y, WSP(island_weights.sparse).to_W(silence_warnings=True), transformation="r", permutations=0
    )
    np.testing.assert_allclose(ours.I, theirs.Is, rtol=0, atol=1e-9)
    assert ours.I[0] == 0 and ours.cluster[0] == 0


def test_clusters_and_outlier_found_with_labels():
    weights, _ = lattice()
    result = local_moran(values(), weights, permutations=9999, seed=1)
    grid = result.cluster.reshape(30, 30)
    assert (grid[4:7, 4:7] == 1).mean() > 0.8  # HH
    assert (grid[21:24, 21:24] == 3).mean() > 0.5  # LL
    assert result.q.reshape(30, 30)[15, 5] == 4  # HL: high value, ordinary neighbours
    assert set(result.labels.tolist()) <= {"HH", "LH", "LL", "HL", "not_significant"}
    assert result.cluster_counts()["HH"] >= 7
    frame = result.to_frame()
    assert list(frame.columns[:4]) == ["unit_id", "value", "I", "q"] and len(frame) == 900


def test_zero_z_gets_p_one_and_bad_input_errors():
    weights, _ = lattice(5, 5)
    y = np.arange(25, dtype=float)
    y[12] = y.mean()  # z = 0 exactly: every random I equals the observed 0
    result = local_moran(y, weights, permutations=99, seed=1)
    assert result.p_sim[12] == 1.0
    with pytest.raises(InputError, match="same value"):
        local_moran(np.ones(25), weights)
    with pytest.raises(InputError):
        local_moran(np.ones(3), weights)
