"""Naive baselines: last period, rolling 3 and 12 months (the 12-month climatology).

Each forecasts, per grid, the mean monthly count of the last ``months`` months before
the origin times the horizon (months), blended with :data:`FLOOR` of the households
prior at the same total so that no grid gets exactly 0 (see
:func:`gridmap.forecast.data.with_floor`).
"""

from __future__ import annotations

import numpy as np

from gridmap.forecast.data import CaseHistory, GridLayer, MethodForecast, with_floor

#: share of each baseline forecast spread by households (keeps the Poisson log score finite)
FLOOR = 0.05


def rolling_mean(
    grids: GridLayer,
    history: CaseHistory,
    origin: np.datetime64,
    horizon_months: int = 1,
    months: int = 3,
    name: str | None = None,
) -> MethodForecast:
    """Mean of the last ``months`` monthly counts (fewer at the start of the history) × horizon."""
    counts = history.monthly_counts(len(grids), origin)
    recent = counts[-months:] if len(counts) else np.zeros((1, len(grids)))
    mean = recent.mean(axis=0) * horizon_months
    expected = with_floor(mean, float(mean.sum()), grids.prior_share(), FLOOR)
    return MethodForecast(
        name or f"rolling_{months}",
        origin,
        horizon_months,
        expected,
        params={"months": months, "months_used": int(len(recent)), "floor": FLOOR},
    )


def last_period(
    grids: GridLayer, history: CaseHistory, origin: np.datetime64, horizon_months: int = 1
) -> MethodForecast:
    """Last month's count per grid (a persistence forecast)."""
    return rolling_mean(grids, history, origin, horizon_months, months=1, name="last_period")


def rolling_3(
    grids: GridLayer, history: CaseHistory, origin: np.datetime64, horizon_months: int = 1
) -> MethodForecast:
    return rolling_mean(grids, history, origin, horizon_months, months=3, name="rolling_3")


def rolling_12(
    grids: GridLayer, history: CaseHistory, origin: np.datetime64, horizon_months: int = 1
) -> MethodForecast:
    """The 12-month climatology: the reference of the skill target."""
    return rolling_mean(grids, history, origin, horizon_months, months=12, name="rolling_12")
