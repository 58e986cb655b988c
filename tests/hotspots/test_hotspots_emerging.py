"""Emerging hot spots: Mann–Kendall vs scipy, space-time Gi* vs esda, the 17 classes, the cube."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from gridmap.errors import InputError
from gridmap.hotspots.emerging import CLASSES, classify_series, emerging_hotspots, space_time_cube
from gridmap.hotspots.getis_ord import gi_star_z
from gridmap.hotspots.trend import mann_kendall
from gridmap.hotspots.weights import SpatialWeights, space_time_weights

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import esda
    from libpysal.weights import WSP, lat2W


def test_mann_kendall_equals_kendalltau_against_time():
    rng = np.random.default_rng(0)
    series = rng.integers(0, 4, (60, 12)).astype(float)  # many ties
    series[1] = np.arange(12)
    series[2] = np.r_[np.arange(6), np.arange(6)]
    result = mann_kendall(series, continuity=False)
    for i in range(60):
        reference = stats.kendalltau(np.arange(12), series[i], method="asymptotic")
        assert result.tau[i] == pytest.approx(reference.statistic, abs=1e-12)
        assert result.p[i] == pytest.approx(reference.pvalue, abs=1e-12)
    with_correction = mann_kendall(series)
    assert (with_correction.p >= result.p - 1e-15).all()  # the continuity correction is conservative
    constant = mann_kendall(np.ones((1, 5)))
    assert constant.p[0] == 1.0 and constant.S[0] == 0
    with pytest.raises(InputError):
        mann_kendall(np.ones((1, 2)))


def test_space_time_gi_equals_esda_on_flattened_cube():
    spatial = SpatialWeights(lat2W(6, 6, rook=False).sparse, np.arange(36))
    rng = np.random.default_rng(1)
    cube = rng.poisson(2.0, (5, 36)).astype(float)
    st = space_time_weights(spatial, 5, time_lag=1)
    ours = gi_star_z(cube.ravel(), st.sparse)[3]
    w = WSP(st.sparse).to_W(silence_warnings=True)
    theirs = esda.G_Local(cube.ravel(), w, transform="B", star=True, permutations=0).Zs
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


T = 10
QUIET = (0.0, 0.6)


def series(hot_steps=(), cold_steps=()):
    """z and p over T steps: significant hot (z=3) and cold (z=-3) steps, quiet elsewhere."""
    z = np.full(T, QUIET[0])
    p = np.full(T, QUIET[1])
    for t in hot_steps:
        z[t], p[t] = 3.0, 0.001
    for t in cold_steps:
        z[t], p[t] = -3.0, 0.001
    return z, p


RISING = np.linspace(2.5, 6.0, T)
WAVY = np.array([3.0, 3.5] * (T // 2))

HAND_BUILT = {
    "new_hot_spot": series(hot_steps=[9]),
    "consecutive_hot_spot": series(hot_steps=[7, 8, 9]),
    "intensifying_hot_spot": (RISING, np.full(T, 0.001)),
    "persistent_hot_spot": (WAVY, np.full(T, 0.001)),
    "diminishing_hot_spot": (RISING[::-1].copy(), np.full(T, 0.001)),
    "sporadic_hot_spot": series(hot_steps=[2, 5, 9]),
    "oscillating_hot_spot": series(hot_steps=[9], cold_steps=[3]),
    "historical_hot_spot": series(hot_steps=range(9)),
    "new_cold_spot": series(cold_steps=[9]),
    "consecutive_cold_spot": series(cold_steps=[8, 9]),
    "intensifying_cold_spot": (-RISING, np.full(T, 0.001)),
    "persistent_cold_spot": (-WAVY, np.full(T, 0.001)),
    "diminishing_cold_spot": (-RISING[::-1], np.full(T, 0.001)),
    "sporadic_cold_spot": series(cold_steps=[1, 4]),
    "oscillating_cold_spot": series(hot_steps=[2, 3], cold_steps=[9]),
    "historical_cold_spot": series(cold_steps=range(9)),
    "no_pattern_detected": series(hot_steps=[2], cold_steps=[5]),
}


def test_every_class_from_a_hand_built_series():
    labels = list(HAND_BUILT)
    z = np.stack([HAND_BUILT[k][0] for k in labels], axis=1)
    p = np.stack([HAND_BUILT[k][1] for k in labels], axis=1)
    codes = classify_series(z, p)
    assert [CLASSES[int(c)] for c in codes] == labels
    assert len(set(codes.tolist())) == 17


def test_class_edge_cases():
    # sporadic hot also without a hot final step; a one-off past hot spot is sporadic, not new
    z, p = series(hot_steps=[4])
    assert CLASSES[int(classify_series(z[:, None], p[:, None])[0])] == "sporadic_hot_spot"
    # a final run with an earlier hot step is sporadic, not consecutive
    z, p = series(hot_steps=[1, 7, 8, 9])
    assert CLASSES[int(classify_series(z[:, None], p[:, None])[0])] == "sporadic_hot_spot"
    # 9 of 10 hot including the final one, flat: persistent (the 90 % rule is inclusive)
    z, p = series(hot_steps=[0, 1, 2, 3, 4, 6, 7, 8, 9])
    z[[0, 2, 4, 7, 9]] = 3.5
    assert CLASSES[int(classify_series(z[:, None], p[:, None])[0])] == "persistent_hot_spot"
    with pytest.raises(InputError):
        classify_series(np.zeros((3, 2)), np.zeros((3, 3)))


def test_space_time_cube_counts_months():
    unit_index = np.array([0, 0, 1, 2, -1, 1])
    reported = [
        "2024-01-03T10:00:00",
        "2024-01-31T23:59:59",
        "2024-03-01T00:00:00",
        "2024-02-14 08:00:00",
        "2024-02-01T00:00:00",
        "not a time",
    ]
    cube = space_time_cube(unit_index, reported, np.array(["a", "b", "c"]))
    assert cube.steps == ["2024-01-01", "2024-02-01", "2024-03-01"]
    np.testing.assert_array_equal(cube.counts, [[2, 0, 0], [0, 0, 1], [0, 1, 0]])
    window = space_time_cube(
        unit_index, reported, np.array(["a", "b", "c"]), start="2023-12-01", end="2024-02-01"
    )
    assert window.steps == ["2023-12-01", "2024-01-01"] and window.counts.sum() == 2
    weekly = space_time_cube(unit_index, reported, np.array(["a", "b", "c"]), step="week")
    assert weekly.steps[0] == "2024-01-03" and weekly.counts.sum() == 4
    with pytest.raises(InputError):
        space_time_cube(unit_index, reported, np.array(["a", "b", "c"]), step="fortnight")


def test_planted_emerging_and_persistent_clusters():
    rows = cols = 14
    spatial = SpatialWeights(lat2W(rows, cols, rook=False).sparse, np.arange(rows * cols))
    rng = np.random.default_rng(3)
    months = 12
    cube = rng.poisson(1.0, (months, rows, cols)).astype(float)
    cube[:, 2:5, 2:5] += rng.poisson(6.0, (months, 3, 3))  # hot all year
    cube[9:, 9:12, 9:12] += rng.poisson(8.0, (3, 3, 3))  # hot in the last three months only
    result = emerging_hotspots(cube.reshape(months, -1), spatial)
    labels = result.labels.reshape(rows, cols)
    steady = set(labels[3, 3:4].tolist() + labels[2:5, 2:5].ravel().tolist())
    assert labels[3, 3] in {"persistent_hot_spot", "intensifying_hot_spot", "diminishing_hot_spot"}
    assert steady <= {
        "persistent_hot_spot",
        "intensifying_hot_spot",
        "diminishing_hot_spot",
        "historical_hot_spot",
        "sporadic_hot_spot",
        "oscillating_hot_spot",
    }
    assert labels[10, 10] in {"consecutive_hot_spot", "new_hot_spot"}
    background = np.ones((rows, cols), bool)
    background[1:6, 1:6] = False
    background[8:13, 8:13] = False
    assert (labels[background] == "no_pattern_detected").mean() > 0.9
    assert result.z.shape == (months, rows * cols) and result.bins.max() == 3
    assert result.class_counts()["no_pattern_detected"] > 100
