"""The grid SEPP fitted by EM recovers the branching ratio and time scale of a simulated Hawkes process."""

from __future__ import annotations

import numpy as np
import pytest

from gridmap.forecast.sepp import _pairs, fit_sepp
from gridmap.forecast.simulate import simulate_grid_hawkes


@pytest.mark.parametrize(("seed", "theta", "tau"), [(101, 0.5, 7.0), (202, 0.3, 15.0)])
def test_em_recovers_branching_ratio_and_time_scale(seed, theta, tau):
    rng = np.random.default_rng(seed)
    mu = rng.gamma(1.5, 0.02 / 1.5, 150)  # background cases per day per grid
    t, grid = simulate_grid_hawkes(mu, theta, 1.0 / tau, 1095.0, rng)
    fit = fit_sepp(t, grid, len(mu), 0.0, 1095.0)
    assert fit.converged
    assert abs(fit.theta - theta) / theta <= 0.20, fit.theta
    assert abs(fit.tau_days - tau) / tau <= 0.20, fit.tau_days
    # the background rate too, in total
    assert abs(fit.mu.sum() - mu.sum()) / mu.sum() <= 0.20
    # each case is background or triggered: probabilities in [0, 1], and the expected
    # number of triggered cases matches the branching ratio
    assert np.all((fit.background_prob >= 0) & (fit.background_prob <= 1))
    triggered_share = 1 - fit.background_prob.mean()
    assert abs(triggered_share - fit.theta) < 0.05


def test_no_triggering_is_found_in_a_poisson_process():
    rng = np.random.default_rng(7)
    mu = np.full(100, 0.02)
    t, grid = simulate_grid_hawkes(mu, 0.0, 0.1, 730.0, rng)
    fit = fit_sepp(t, grid, 100, 0.0, 730.0)
    assert fit.theta < 0.05


def test_pairs_stay_in_the_grid_and_within_the_lag():
    t = np.array([0.0, 1.0, 2.0, 50.0, 1.5, 3.0])
    grid = np.array([0, 0, 0, 0, 1, 1])
    child, parent = _pairs(t, grid, max_lag=10.0)
    got = sorted(zip(child.tolist(), parent.tolist(), strict=True))
    assert got == [(1, 0), (2, 0), (2, 1), (5, 4)]
