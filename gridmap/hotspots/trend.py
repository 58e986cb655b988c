"""Mann–Kendall trend test, vectorised over many short series (one per unit)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from gridmap.errors import InputError


@dataclass(frozen=True)
class MannKendallResult:
    """Per series: Kendall's S, tau-b, the variance of S (ties corrected), z and two-sided p."""

    S: np.ndarray
    tau: np.ndarray
    var_S: np.ndarray  # noqa: N815 - the statistic's usual name
    z: np.ndarray
    p: np.ndarray


def _tie_terms(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: Σ t(t−1)(2t+5) and Σ t(t−1)/2 over groups of t equal values."""
    rows, n = series.shape
    ordered = np.sort(series, axis=1)
    same = ordered[:, 1:] == ordered[:, :-1]
    # run lengths of equal values, counted along each row
    breaks = np.concatenate([np.ones((rows, 1), bool), ~same], axis=1)
    run_id = np.cumsum(breaks.ravel()) - 1
    lengths = np.bincount(run_id).astype(np.float64)
    run_row = np.repeat(np.arange(rows), breaks.sum(axis=1))
    var_term = np.bincount(run_row, weights=lengths * (lengths - 1) * (2 * lengths + 5), minlength=rows)
    pair_term = np.bincount(run_row, weights=lengths * (lengths - 1) / 2, minlength=rows)
    return var_term, pair_term


def mann_kendall(series, continuity: bool = True) -> MannKendallResult:
    """Mann–Kendall monotonic trend test of each row of ``series`` against time.

    Parameters
    ----------
    series : array-like
        (n_series, n_times) values in time order (e.g. Gi* z-scores per month).
    continuity : bool
        apply the usual ±1 continuity correction to S before standardising.  False gives
        the z of ``scipy.stats.kendalltau(time, values)`` (asymptotic method).

    Returns
    -------
    MannKendallResult
        ``S = Σ_{i<j} sign(x_j − x_i)``; ``var_S = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18``
        with ``t`` the sizes of groups of tied values; ``tau`` is tau-b (time has no ties);
        ``p`` two-sided normal.  A constant series has S = 0, z = 0, p = 1, tau NaN.
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise InputError(f"series must be 1-D or 2-D, got shape {x.shape}")
    rows, n = x.shape
    if n < 3:
        raise InputError(f"a trend needs at least 3 time steps, got {n}")
    if not np.isfinite(x).all():
        raise InputError("series contain NaN or infinite values")
    S = np.zeros(rows)
    for lag in range(1, n):  # n-1 vector ops over all series instead of n² per series
        S += np.sign(x[:, lag:] - x[:, :-lag]).sum(axis=1)
    var_term, tied_pairs = _tie_terms(x)
    var_S = (n * (n - 1) * (2 * n + 5) - var_term) / 18.0
    numerator = S - np.sign(S) if continuity else S
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var_S > 0, numerator / np.sqrt(var_S), 0.0)
        pairs = n * (n - 1) / 2.0
        tau = S / np.sqrt(pairs * (pairs - tied_pairs))
    p = 2.0 * stats.norm.sf(np.abs(z))
    return MannKendallResult(S=S, tau=tau, var_S=var_S, z=z, p=p)
