"""Self-exciting point process on grids (Mohler et al. 2015), fitted by EM.

In grid ``g`` cases arrive with conditional intensity (cases per day)

    λ_g(t) = μ_g + Σ_{t_j < t, j in g} θ ω exp(−ω (t − t_j))

— a constant background ``μ_g`` and exponential triggering in time with branching
ratio ``θ`` (expected cases triggered by each case) and time scale ``1/ω`` days.  Space
enters through the grid: a repeat or near-repeat lands in its parent's grid (the
synthetic city's near-repeats are 150–200 m, grids are ~500 m and more).

EM (Mohler 2011/2015; Veen & Schoenberg 2008): the E-step gives each case the
probability of being background, ``μ_g/λ_g(t_i)``, or triggered by each earlier case of
its grid; the M-step sets ``μ_g`` = expected background cases / window length, ``θ`` =
expected triggered cases / Σ_j (1 − e^{−ω (T − t_j)}) (the exact compensator, so cases
near the window's end, whose children are not yet seen, do not bias ``θ`` down), and
``ω`` = expected triggered cases / Σ p_ij (t_i − t_j).  Pairs further apart than
``max_lag_days`` are ignored (e^{−ω·max_lag} is negligible when 1/ω ≪ max_lag).

Forecast for [T0, T1): the smoothed background (:func:`forecast_sepp`) plus each past
case's remaining triggering mass θ (e^{−ω(T0−t_j)} − e^{−ω(T1−t_j)}), both multiplied by
1 + θ c for the children born and seen inside the horizon (c = share of an exponential
delay that falls within it, averaged over the horizon).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from gridmap.forecast.data import (
    CaseHistory,
    GridLayer,
    MethodForecast,
    horizon_days,
    month_start_days,
    seasonal_factor,
)
from gridmap.forecast.kde import BANDWIDTH_M, kernel_allocation

MAX_LAG_DAYS = 120.0
WINDOW_DAYS = 365.0
#: background smoothing for the forecast: share pooled over the smoothed map, half-life of the weights
BACKGROUND_POOL = 0.3
BACKGROUND_HALFLIFE_DAYS = 180.0


@dataclass(frozen=True)
class SEPPFit:
    """A fitted grid SEPP.  Times in days; ``mu`` in cases per day per grid.

    ``background_prob`` is each fitted case's probability of being a background case
    (the rest is triggered); ``loglik`` the log-likelihood at the estimate.
    """

    theta: float
    omega: float
    mu: np.ndarray
    background_prob: np.ndarray
    t_start: float
    t_end: float
    iterations: int
    converged: bool
    loglik: float

    @property
    def tau_days(self) -> float:
        """Mean delay parent → child (days)."""
        return 1.0 / self.omega


def _pairs(t: np.ndarray, grid: np.ndarray, max_lag: float) -> tuple[np.ndarray, np.ndarray]:
    """(child, parent) positions of every pair in the same grid with 0 < t_child − t_parent ≤ max_lag."""
    order = np.lexsort((t, grid))
    ts, gs = t[order], grid[order]
    child, parent = [], []
    k = 1
    while k < len(ts):
        same = (gs[k:] == gs[:-k]) & (ts[k:] - ts[:-k] <= max_lag)
        if not same.any():
            break
        idx = np.flatnonzero(same & (ts[k:] > ts[:-k]))
        child.append(order[idx + k])
        parent.append(order[idx])
        k += 1
    if not child:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(child), np.concatenate(parent)


def fit_sepp(
    t: np.ndarray,
    grid: np.ndarray,
    n_grids: int,
    t_start: float,
    t_end: float,
    max_lag_days: float = MAX_LAG_DAYS,
    theta0: float = 0.2,
    omega0: float = 0.1,
    max_iter: int = 200,
    tol: float = 1e-6,
) -> SEPPFit:
    """EM estimate of ``θ``, ``ω`` and ``μ_g`` from cases at times ``t`` (days) in grids ``grid``.

    Only cases with ``t_start <= t < t_end`` and ``grid >= 0`` are used; ``μ`` has one
    entry per grid (0..n_grids-1).
    """
    keep = (t >= t_start) & (t < t_end) & (grid >= 0)
    t, grid = np.asarray(t, float)[keep], np.asarray(grid, np.int64)[keep]
    n = len(t)
    length = t_end - t_start
    if n == 0:
        return SEPPFit(0.0, omega0, np.zeros(n_grids), np.empty(0), t_start, t_end, 0, True, 0.0)
    child, parent = _pairs(t, grid, max_lag_days)
    dt = t[child] - t[parent]
    to_end = t_end - t
    counts = np.bincount(grid, minlength=n_grids).astype(float)
    theta, omega = theta0, omega0
    mu = np.maximum(counts * (1 - theta), 1e-3) / length
    converged = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        trig = theta * omega * np.exp(-omega * dt)
        lam = mu[grid] + np.bincount(child, weights=trig, minlength=n)
        p_pair = trig / lam[child]
        p_bg = mu[grid] / lam
        triggered = p_pair.sum()
        new_omega = _m_step_omega(triggered, float((p_pair * dt).sum()), to_end, omega, max_lag_days)
        new_theta = triggered / max((-np.expm1(-new_omega * to_end)).sum(), 1e-12)
        new_mu = np.bincount(grid, weights=p_bg, minlength=n_grids) / length
        change = abs(new_theta - theta) + abs(new_omega - omega) / max(omega, 1e-9)
        theta, omega, mu = float(new_theta), float(new_omega), new_mu
        if change < tol:
            converged = True
            break
    trig = theta * omega * np.exp(-omega * dt)
    lam = mu[grid] + np.bincount(child, weights=trig, minlength=n)
    compensator = mu.sum() * length + theta * (-np.expm1(-omega * to_end)).sum()
    loglik = float(np.log(lam).sum() - compensator)
    return SEPPFit(theta, omega, mu, mu[grid] / lam, t_start, t_end, iterations, converged, loglik)


def _m_step_omega(
    triggered: float, weighted_lag: float, to_end: np.ndarray, omega: float, max_lag_days: float
) -> float:
    """ω maximising S log ω − ω D − S log Σ_j (1 − e^{−ω (T − t_j)}) (θ profiled out).

    The last term is the censoring: children of late cases fall after the window, so
    the plain S/D estimate would shorten the time scale.
    """
    if triggered <= 0 or weighted_lag <= 0:
        return omega

    def negative(log_w: float) -> float:
        w = np.exp(log_w)
        return -(
            triggered * log_w
            - w * weighted_lag
            - triggered * np.log(max((-np.expm1(-w * to_end)).sum(), 1e-300))
        )

    lo, hi = np.log(0.1 / max_lag_days), np.log(50.0)
    return float(
        np.exp(minimize_scalar(negative, bounds=(lo, hi), method="bounded", options={"xatol": 1e-7}).x)
    )


def inside_share(omega: float, horizon: float) -> float:
    """Mean share of an Exp(ω) delay that ends before the horizon, for a parent uniform in it."""
    x = omega * horizon
    return float(1.0 - (-np.expm1(-x)) / x) if x > 0 else 0.0


def forecast_sepp(
    grids: GridLayer,
    history: CaseHistory,
    origin: np.datetime64,
    horizon_months: int = 1,
    window_days: float = WINDOW_DAYS,
    pool: float = BACKGROUND_POOL,
    halflife_days: float = BACKGROUND_HALFLIFE_DAYS,
    bandwidth_m: float = BANDWIDTH_M,
) -> MethodForecast:
    """Fit on the ``window_days`` before the origin and forecast the horizon.

    The forecast background of a grid blends (1 − ``pool``) of its own background cases
    with ``pool`` of the city's spread by a kernel map of the background cases (Gaussian,
    ``bandwidth_m``; 20 % of that map by households), each case weighted by
    2^(−age/``halflife_days``) so a drifting hot zone is followed.
    """
    t0 = month_start_days(origin)
    t1 = t0 + horizon_days(origin, horizon_months)
    n = len(grids)
    start = max(t0 - window_days, month_start_days(history.first_month))
    fit = fit_sepp(history.t, history.grid, n, start, t0)
    keep = (history.t >= start) & (history.t < t0) & (history.grid >= 0)
    t, g = history.t[keep], history.grid[keep]
    # time-decayed background per grid: Σ w_i p_i / ∫ w over the window
    w = 0.5 ** ((t0 - t) / halflife_days)
    effective_days = halflife_days / np.log(2) * (1 - 0.5 ** ((t0 - start) / halflife_days))
    own = np.bincount(g, weights=w * fit.background_prob, minlength=n) / max(effective_days, 1.0)
    alloc = kernel_allocation(grids, history.x[keep], history.y[keep], g, bandwidth_m)
    smooth = np.asarray(alloc.T @ (w * fit.background_prob)).ravel()
    smooth = smooth / smooth.sum() if smooth.sum() > 0 else grids.prior_share()
    share = 0.8 * smooth + 0.2 * grids.prior_share()
    mu = (1 - pool) * own + pool * own.sum() * share
    season = seasonal_factor(history, origin, horizon_months)
    horizon = t1 - t0
    cascade = 1.0 + fit.theta * inside_share(fit.omega, horizon)
    background = mu * horizon * season * cascade
    remaining = fit.theta * (np.exp(-fit.omega * (t0 - t)) - np.exp(-fit.omega * (t1 - t)))
    triggered = np.bincount(g, weights=remaining, minlength=n) * cascade
    return MethodForecast(
        "sepp",
        origin,
        horizon_months,
        background + triggered,
        components={"background": background, "triggered": triggered},
        params={
            "theta": fit.theta,
            "omega": fit.omega,
            "tau_days": fit.tau_days,
            "iterations": fit.iterations,
            "converged": fit.converged,
            "window_days": window_days,
            "pool": pool,
            "halflife_days": halflife_days,
            "season": season,
            "loglik": fit.loglik,
        },
    )
