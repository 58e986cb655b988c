"""Empirical-Bayes long-run rates (gridmap.forecast.eb): shrinkage decided by the data."""

from __future__ import annotations

import numpy as np
from scipy import sparse, stats

from gridmap.forecast.eb import discounted_totals, shrunk_rate


def _pooled(n: int) -> sparse.csr_matrix:
    return sparse.csr_matrix(np.ones((n, n)))


def test_equal_rates_are_pooled_and_different_rates_are_kept():
    rng = np.random.default_rng(3)
    n, months = 400, 24
    # every grid the same rate 0.2/month: the spread is Poisson noise, so nearly full pooling
    same = rng.poisson(0.2 * months, n).astype(float)
    rate = shrunk_rate(same, months, _pooled(n))
    assert np.ptp(rate) < 0.25 * np.ptp(same / months)
    assert abs(rate.mean() - 0.2) < 0.02
    # gamma-distributed rates (shape 2, mean 1): the posterior follows the grid's own rate
    true = rng.gamma(2.0, 0.5, n)
    counts = rng.poisson(true * months).astype(float)
    rate = shrunk_rate(counts, months, _pooled(n))
    assert np.corrcoef(rate, true)[0, 1] > 0.95
    # shrinkage pays: closer to the true rates than each grid's own mean
    assert np.mean((rate - true) ** 2) < np.mean((counts / months - true) ** 2)
    # it is the conjugate posterior mean with the moment estimate of the shape (about 2)
    excess = ((counts - counts.mean()) ** 2 - counts.mean()).sum() / (counts.mean() ** 2 * n)
    shape = 1.0 / excess
    assert 1.5 < shape < 2.7
    posterior = stats.gamma(a=counts + shape, scale=1.0 / (months + shape / counts.mean() * months))
    np.testing.assert_allclose(rate, posterior.mean(), rtol=1e-9)


def test_discounting_halves_a_month_after_the_half_life():
    counts = np.zeros((13, 1))
    counts[0, 0] = 1.0
    sums, exposure = discounted_totals(counts, half_life=12.0)
    assert sums.shape == (14, 1) and sums[0, 0] == 0.0
    np.testing.assert_allclose(sums[13, 0], 0.5)
    np.testing.assert_allclose(exposure[1], 1.0)
    assert exposure[13] < 13.0
