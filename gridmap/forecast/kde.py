"""Retrospective kernel density hot spots (Chainey, Tompson & Uhlig 2008) on grids.

The cases of the last ``window_months`` months are smoothed with a Gaussian kernel of
``bandwidth_m`` metres (LOCAL_CRS) onto the grid centroids; each case's kernel mass is
normalised over the centroids within 3 bandwidths (its own grid always counts as at
distance 0), so every case adds exactly one case to the surface and a large rural grid
is not favoured for its area.  The surface is scaled to the window's mean monthly total
× the city-wide seasonal factor of the target month × horizon.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from gridmap.forecast.baselines import FLOOR
from gridmap.forecast.data import (
    CaseHistory,
    GridLayer,
    MethodForecast,
    month_start_days,
    seasonal_factor,
    with_floor,
)

BANDWIDTH_M = 600.0
WINDOW_MONTHS = 12


def kernel_allocation(
    grids: GridLayer, x: np.ndarray, y: np.ndarray, grid: np.ndarray, bandwidth_m: float
) -> sparse.csr_matrix:
    """(cases, grids) matrix: each row a case's Gaussian kernel mass over grid centroids, summing to 1."""
    n = len(x)
    if n:
        pairs = cKDTree(np.column_stack([x, y])).sparse_distance_matrix(
            cKDTree(np.column_stack([grids.x, grids.y])), 3.0 * bandwidth_m, output_type="ndarray"
        )
        rows, cols = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    else:
        rows = cols = np.empty(0, np.int64)
    d2 = (grids.x[cols] - x[rows]) ** 2 + (grids.y[cols] - y[rows]) ** 2
    own = grid[rows] == cols
    d2[own] = 0.0
    w = np.exp(-0.5 * d2 / bandwidth_m**2)
    # a case whose own grid centroid lies beyond 3 bandwidths still counts in its grid
    missing = np.flatnonzero((grid >= 0) & ~np.isin(np.arange(n), rows[own]))
    rows = np.concatenate([rows, missing])
    cols = np.concatenate([cols, grid[missing]])
    w = np.concatenate([w, np.ones(len(missing))])
    m = sparse.csr_matrix((w, (rows, cols)), shape=(n, len(grids)))
    total = np.asarray(m.sum(axis=1)).ravel()
    total[total == 0] = 1.0
    return sparse.diags(1.0 / total) @ m


def history_allocation(
    grids: GridLayer, history: CaseHistory, keep: np.ndarray, bandwidth_m: float
) -> sparse.csr_matrix:
    """:func:`kernel_allocation` of ``history``'s cases ``keep`` (a mask), computed once for the
    full history the cases were cut from (its ``cache``) and sliced: a backtest's origins share it."""
    key = ("allocation", id(grids), float(bandwidth_m))
    hit = history.cache.get(key)
    if hit is None or hit[0] is not grids:
        x, y, grid = history.cache.get("full", (history.x, history.y, history.grid))
        hit = (grids, kernel_allocation(grids, x, y, grid, bandwidth_m))
        history.cache[key] = hit
    return hit[1][history.positions[keep]]


def retrospective_kde(
    grids: GridLayer,
    history: CaseHistory,
    origin: np.datetime64,
    horizon_months: int = 1,
    bandwidth_m: float = BANDWIDTH_M,
    window_months: int = WINDOW_MONTHS,
) -> MethodForecast:
    """Kernel-smoothed recent cases per grid, scaled to next month's expected total."""
    lo = month_start_days(origin - window_months)
    keep = (history.t >= lo) & (history.grid >= 0)
    alloc = history_allocation(grids, history, keep, bandwidth_m)
    surface = np.asarray(alloc.sum(axis=0)).ravel()
    months_seen = min(window_months, max(int((origin - history.first_month).astype(int)), 1))
    season = seasonal_factor(history, origin, horizon_months)
    total = keep.sum() / months_seen * horizon_months * season
    share = surface / surface.sum() if surface.sum() > 0 else grids.prior_share()
    expected = with_floor(total * share, total, grids.prior_share(), FLOOR)
    return MethodForecast(
        "kde",
        origin,
        horizon_months,
        expected,
        params={"bandwidth_m": bandwidth_m, "window_months": window_months, "season": season, "floor": FLOOR},
    )
