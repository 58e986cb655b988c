"""Self-exciting point process on grids (Mohler et al. 2015), fitted by EM.

Cases arrive with conditional intensity (cases per day per m², LOCAL_CRS metres)

    λ(t, x) = μ_g / A_g + Σ_{t_j < t} θ ω exp(−ω (t − t_j)) k_σ(x − x_j)

— a background constant within each grid ``g`` (``μ_g`` cases per day spread over its
area ``A_g``, as Mohler et al. 2015 take the background on grid cells) and triggering
that crosses grid borders: branching ratio ``θ`` (expected cases triggered by each case),
exponential delay with time scale ``1/ω`` days, and an isotropic Gaussian displacement of
``σ`` metres per axis, truncated at ``max_distance_m`` (``k_σ`` integrates to 1 on that
disc).

EM (Mohler 2011/2015; Veen & Schoenberg 2008): the E-step gives each case the
probability of being background, ``(μ_g/A_g)/λ(t_i, x_i)``, or triggered by each earlier
case within ``max_lag_days`` and ``max_distance_m``; the M-step sets ``μ_g`` = expected
background cases of the grid / window length, ``θ`` = expected triggered cases /
Σ_j (1 − e^{−ω (T − t_j)}) (the exact compensator, so cases near the window's end, whose
children are not yet seen, do not bias ``θ`` down), ``ω`` by the profiled likelihood with
that censoring, and ``σ`` by the truncated-Gaussian likelihood of the pair distances
weighted by their probabilities.  Children that would land outside the grids are not
modelled (the edge loss is small when ``σ`` is small against the area).

Forecast for [T0, T1): the smoothed background (:func:`forecast_sepp`) plus each past
case's remaining triggering mass θ (e^{−ω(T0−t_j)} − e^{−ω(T1−t_j)}) spread over the grids
by the fitted Gaussian, both multiplied by 1 + θ c for the children born and seen inside
the horizon (c = share of an exponential delay that falls within it, averaged over the horizon).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.spatial import cKDTree

from gridmap.forecast.data import (
    CaseHistory,
    GridLayer,
    MethodForecast,
    horizon_days,
    month_start_days,
    seasonal_factor,
)
from gridmap.forecast.kde import BANDWIDTH_M, history_allocation, kernel_allocation

MAX_LAG_DAYS = 120.0
#: pairs further apart are not considered (metres); the fitted σ must stay well below it
MAX_DISTANCE_M = 1000.0
WINDOW_DAYS = 365.0
#: background smoothing for the forecast: share pooled over the smoothed map, half-life of the weights
BACKGROUND_POOL = 0.3
BACKGROUND_HALFLIFE_DAYS = 180.0


@dataclass(frozen=True)
class SEPPFit:
    """A fitted SEPP.  Times in days; ``mu`` in cases per day per grid; ``sigma_m`` in metres.

    ``background_prob`` is each fitted case's probability of being a background case
    (the rest is triggered); ``loglik`` the log-likelihood at the estimate.
    """

    theta: float
    omega: float
    sigma_m: float
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


def _pairs(
    t: np.ndarray, x: np.ndarray, y: np.ndarray, max_lag: float, max_distance: float
) -> tuple[np.ndarray, np.ndarray]:
    """(child, parent) positions of every pair with 0 < t_child − t_parent ≤ max_lag and
    distance ≤ max_distance (metres): a k-d tree in (x, y, t scaled to metres), Chebyshev
    radius, then the exact disc."""
    if len(t) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    scale = max_distance / max_lag
    points = np.column_stack([x, y, (t - t.min()) * scale])
    found = cKDTree(points).query_pairs(max_distance, p=np.inf, output_type="ndarray")
    a, b = found[:, 0], found[:, 1]
    later = t[a] > t[b]
    child, parent = np.where(later, a, b), np.where(later, b, a)
    dt = t[child] - t[parent]
    d2 = (x[child] - x[parent]) ** 2 + (y[child] - y[parent]) ** 2
    ok = (dt > 0) & (dt <= max_lag) & (d2 <= max_distance**2)
    order = np.lexsort((parent[ok], child[ok]))
    return child[ok][order].astype(np.int64), parent[ok][order].astype(np.int64)


def _gaussian(d2: np.ndarray, sigma: float, radius: float) -> np.ndarray:
    """Isotropic 2-D Gaussian density (per m²) truncated to the disc of ``radius``."""
    mass = -np.expm1(-0.5 * radius**2 / sigma**2)
    return np.exp(-0.5 * d2 / sigma**2) / (2 * np.pi * sigma**2 * mass)


def _m_step_sigma(p: np.ndarray, d2: np.ndarray, sigma: float, radius: float) -> float:
    """σ maximising Σ p log k_σ(d) for the truncated Gaussian (the plain Σpd²/2Σp without truncation)."""
    total = p.sum()
    if total <= 0:
        return sigma
    weighted = float((p * d2).sum())

    def negative(log_s: float) -> float:
        s2 = np.exp(2 * log_s)
        mass = max(-np.expm1(-0.5 * radius**2 / s2), 1e-300)
        return 0.5 * weighted / s2 + total * (np.log(2 * np.pi * s2) + np.log(mass))

    lo, hi = np.log(radius / 1000.0), np.log(radius)
    return float(np.exp(minimize_scalar(negative, bounds=(lo, hi), method="bounded").x))


def fit_sepp(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    grid: np.ndarray,
    grid_area_m2: np.ndarray,
    t_start: float,
    t_end: float,
    max_lag_days: float = MAX_LAG_DAYS,
    max_distance_m: float = MAX_DISTANCE_M,
    theta0: float = 0.2,
    omega0: float = 0.1,
    sigma0_m: float = 200.0,
    max_iter: int = 200,
    tol: float = 1e-6,
) -> SEPPFit:
    """EM estimate of ``θ``, ``ω``, ``σ`` and ``μ_g`` from cases at days ``t`` and points
    ``x``/``y`` (LOCAL_CRS metres) in grids ``grid`` of areas ``grid_area_m2`` (m²).

    Only cases with ``t_start <= t < t_end`` and ``grid >= 0`` are used; ``μ`` has one
    entry per grid (``len(grid_area_m2)``).
    """
    n_grids = len(grid_area_m2)
    keep = (t >= t_start) & (t < t_end) & (grid >= 0)
    t, grid = np.asarray(t, float)[keep], np.asarray(grid, np.int64)[keep]
    x, y = np.asarray(x, float)[keep], np.asarray(y, float)[keep]
    area = np.maximum(np.asarray(grid_area_m2, float), 1.0)
    n = len(t)
    length = t_end - t_start
    if n == 0:
        return SEPPFit(0.0, omega0, sigma0_m, np.zeros(n_grids), np.empty(0), t_start, t_end, 0, True, 0.0)
    child, parent = _pairs(t, x, y, max_lag_days, max_distance_m)
    dt = t[child] - t[parent]
    d2 = (x[child] - x[parent]) ** 2 + (y[child] - y[parent]) ** 2
    to_end = t_end - t
    counts = np.bincount(grid, minlength=n_grids).astype(float)
    theta, omega, sigma = theta0, omega0, min(sigma0_m, max_distance_m / 3)
    mu = np.maximum(counts * (1 - theta), 1e-3) / length
    per_area = 1.0 / area[grid]
    converged = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        trig = theta * omega * np.exp(-omega * dt) * _gaussian(d2, sigma, max_distance_m)
        background = mu[grid] * per_area
        lam = background + np.bincount(child, weights=trig, minlength=n)
        p_pair = trig / lam[child]
        p_bg = background / lam
        triggered = p_pair.sum()
        new_omega = _m_step_omega(triggered, float((p_pair * dt).sum()), to_end, omega, max_lag_days)
        new_theta = triggered / max((-np.expm1(-new_omega * to_end)).sum(), 1e-12)
        new_sigma = _m_step_sigma(p_pair, d2, sigma, max_distance_m)
        new_mu = np.bincount(grid, weights=p_bg, minlength=n_grids) / length
        change = (
            abs(new_theta - theta)
            + abs(new_omega - omega) / max(omega, 1e-9)
            + abs(new_sigma - sigma) / max(sigma, 1e-9)
        )
        theta, omega, sigma, mu = float(new_theta), float(new_omega), float(new_sigma), new_mu
        if change < tol:
            converged = True
            break
    trig = theta * omega * np.exp(-omega * dt) * _gaussian(d2, sigma, max_distance_m)
    background = mu[grid] * per_area
    lam = background + np.bincount(child, weights=trig, minlength=n)
    compensator = mu.sum() * length + theta * (-np.expm1(-omega * to_end)).sum()
    loglik = float(np.log(lam).sum() - compensator)
    return SEPPFit(theta, omega, sigma, mu, background / lam, t_start, t_end, iterations, converged, loglik)


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
    # EM starts from the last fit on the same history (a backtest's previous origin) when there
    # is one: the same maximum in a fraction of the iterations
    warm_key = ("sepp_start", id(grids))
    theta0, omega0, sigma0 = history.cache.get(warm_key, (0.2, 0.1, 200.0))
    fit = fit_sepp(
        history.t,
        history.x,
        history.y,
        history.grid,
        grids.area_km2 * 1e6,
        start,
        t0,
        theta0=theta0,
        omega0=omega0,
        sigma0_m=sigma0,
    )
    if fit.converged and fit.theta > 0:
        history.cache[warm_key] = (fit.theta, fit.omega, fit.sigma_m)
    keep = (history.t >= start) & (history.t < t0) & (history.grid >= 0)
    t, g = history.t[keep], history.grid[keep]
    # time-decayed background per grid: Σ w_i p_i / ∫ w over the window
    w = 0.5 ** ((t0 - t) / halflife_days)
    effective_days = halflife_days / np.log(2) * (1 - 0.5 ** ((t0 - start) / halflife_days))
    own = np.bincount(g, weights=w * fit.background_prob, minlength=n) / max(effective_days, 1.0)
    alloc = history_allocation(grids, history, keep, bandwidth_m)
    smooth = np.asarray(alloc.T @ (w * fit.background_prob)).ravel()
    smooth = smooth / smooth.sum() if smooth.sum() > 0 else grids.prior_share()
    share = 0.8 * smooth + 0.2 * grids.prior_share()
    mu = (1 - pool) * own + pool * own.sum() * share
    season = seasonal_factor(history, origin, horizon_months)
    horizon = t1 - t0
    cascade = 1.0 + fit.theta * inside_share(fit.omega, horizon)
    background = mu * horizon * season * cascade
    remaining = fit.theta * (np.exp(-fit.omega * (t0 - t)) - np.exp(-fit.omega * (t1 - t)))
    # the children still to come land around their parents: spread by the fitted Gaussian
    live = remaining > 1e-6 * max(float(remaining.max(initial=0.0)), 1e-300)
    spread = kernel_allocation(
        grids, history.x[keep][live], history.y[keep][live], g[live], max(fit.sigma_m, 1.0)
    )
    triggered = np.asarray(spread.T @ remaining[live]).ravel() * cascade
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
            "sigma_m": fit.sigma_m,
            "iterations": fit.iterations,
            "converged": fit.converged,
            "window_days": window_days,
            "pool": pool,
            "halflife_days": halflife_days,
            "season": season,
            "loglik": fit.loglik,
        },
    )
