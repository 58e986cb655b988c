"""hgb's fits: scikit-learn's binning with the columns sorted first gives the same thresholds and model."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.ensemble._hist_gradient_boosting import binning
from threadpoolctl import threadpool_limits

from gridmap.forecast import hgb


def _columns(rng: np.random.Generator) -> list[np.ndarray]:
    counts = rng.poisson(0.4, 30_000).astype(float)
    counts[rng.random(len(counts)) < 0.2] = np.nan  # lags before the history: missing
    zeros = rng.choice([-0.0, 0.0, 1.0, 2.0], 5_000)
    return [
        counts,
        rng.random(30_000) * 400.0,  # more distinct values than bins: quantiles
        np.repeat(np.log1p(rng.integers(0, 900, 700)).astype(float), 40),  # a per-grid value, tiled
        np.full(1_000, 3.0),
        zeros,
        np.concatenate([counts[:500], [np.inf]]),
    ]


def test_sorted_first_thresholds_are_scikit_learns():
    assert hgb._FIND_THRESHOLDS is not None, (
        "scikit-learn renamed _find_binning_thresholds: the fits lost their speed-up"
    )
    rng = np.random.default_rng(3)
    for i, col in enumerate(_columns(rng)):
        for max_bins in (255, 16):
            expected = hgb._FIND_THRESHOLDS(col.copy(), max_bins)
            got = hgb._thresholds_sorted_first(col.copy(), max_bins)
            assert got.shape == expected.shape and np.array_equal(got, expected), (i, max_bins)
        weights = rng.random(len(col))
        assert np.array_equal(
            hgb._thresholds_sorted_first(col, 255, sample_weight=weights),
            hgb._FIND_THRESHOLDS(col, 255, sample_weight=weights),
        ), i


def test_a_fit_with_presorted_binning_is_the_plain_fit():
    rng = np.random.default_rng(5)
    n = 6_000
    x = np.column_stack(
        [rng.poisson(0.5, n), rng.poisson(2.0, n), rng.random(n) * 400, rng.integers(0, 12, n)]
    )
    x = x.astype(float)
    x[rng.random(n) < 0.1, 0] = np.nan
    y = rng.poisson(np.exp(0.3 * np.nan_to_num(x[:, 0]) + 0.1 * x[:, 1] - x[:, 2] / 400))
    params = {**hgb.PARAMS, "monotonic_cst": [1, 1, -1, 0]}
    with threadpool_limits(hgb.THREADS):
        plain = HistGradientBoostingRegressor(**params).fit(x, y)
    assert binning._find_binning_thresholds is hgb._FIND_THRESHOLDS
    with threadpool_limits(hgb.THREADS), hgb._presorted_binning():
        assert binning._find_binning_thresholds is hgb._thresholds_sorted_first
        with hgb._presorted_binning():  # nested (concurrent fits): restored only by the last
            pass
        assert binning._find_binning_thresholds is hgb._thresholds_sorted_first
        fast = HistGradientBoostingRegressor(**params).fit(np.asfortranarray(x), y)
    assert binning._find_binning_thresholds is hgb._FIND_THRESHOLDS
    for a, b in zip(plain._bin_mapper.bin_thresholds_, fast._bin_mapper.bin_thresholds_, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(plain.predict(x), fast.predict(x))
