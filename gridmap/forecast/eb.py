"""Empirical-Bayes (Poisson-gamma) long-run rate of each grid, shrunk toward its neighbourhood.

At low counts a grid's own history is mostly noise: a grid with 2 cases in two years and one
with 0 differ by chance as often as by cause.  The persistent part of a grid's rate is
estimated as in Clayton & Kaldor (1987) / Marshall (1991): each grid's monthly rate
λ_g ~ Gamma(shape α, mean μ_g), where μ_g is the mean rate of the grids in its
neighbourhood (a 0/1 matrix, :meth:`gridmap.forecast.data.GridLayer.neighbourhood`, the grid
included), and its counts are Poisson(λ_g × exposure).  The posterior mean

    (y_g + α) / (exposure + α / μ_g)

moves a grid with little evidence toward its neighbourhood and leaves a grid with much
evidence near its own rate.  α comes from the method of moments over all grids
(``1/α = Σ[(y − Eμ)² − Eμ] / Σ(Eμ)²``), so the data decide how much to shrink.  Counts are
discounted with a half-life of ``HALF_LIFE_MONTHS`` (older months weigh less: hot zones
drift), and the exposure is the discounted number of months.

Used as a feature of :mod:`gridmap.forecast.hgb` (a persistent grid effect is what ranking
needs at low counts, where lagged counts are mostly 0 or 1).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

#: months after which a month's counts weigh half (the zones of the simulations drift over years)
HALF_LIFE_MONTHS = 12.0
#: shrinkage bounds: α ≥ this (no grid is trusted fully) and ≤ 1e6 (near-total pooling)
MIN_SHAPE = 1e-3


def discounted_totals(counts: np.ndarray, half_life: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Discounted counts and exposure (months) *before* each month 0 … len(counts).

    Returns (months + 1, grids) sums and a (months + 1,) exposure: row m uses months < m.
    """
    decay = 0.5 ** (1.0 / (half_life or HALF_LIFE_MONTHS))
    months, n = counts.shape
    sums = np.zeros((months + 1, n))
    exposure = np.zeros(months + 1)
    for m in range(1, months + 1):
        sums[m] = decay * sums[m - 1] + counts[m - 1]
        exposure[m] = decay * exposure[m - 1] + 1.0
    return sums, exposure


def shrunk_rate(totals: np.ndarray, exposure: float, near: sparse.spmatrix) -> np.ndarray:
    """Posterior mean monthly rate (cases/month) per grid given ``totals`` over ``exposure`` months.

    ``totals`` are (discounted) counts per grid, ``near`` the 0/1 neighbourhood matrix.
    """
    n = totals.shape[-1]
    if exposure <= 0:
        return np.zeros(n)
    size = np.asarray(near.sum(axis=1)).ravel()
    prior_mean = np.asarray(near @ totals).ravel() / size / exposure
    overall = totals.sum() / n / exposure
    # a neighbourhood without any case borrows a tenth of the city's mean rate
    prior_mean = np.maximum(prior_mean, 0.1 * overall) if overall > 0 else np.full(n, 1e-6)
    expected = prior_mean * exposure
    excess = ((totals - expected) ** 2 - expected).sum()
    inv_shape = excess / (expected**2).sum() if excess > 0 else 0.0
    shape = 1.0 / inv_shape if inv_shape > 1e-6 else 1e6
    shape = max(shape, MIN_SHAPE)
    return (totals + shape) / (exposure + shape / prior_mean)
