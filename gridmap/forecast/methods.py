"""The forecast methods by name, and how to call one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gridmap.errors import InputError
from gridmap.forecast.baselines import last_period, rolling_3, rolling_12
from gridmap.forecast.data import CaseHistory, GridLayer, MethodForecast
from gridmap.forecast.hgb import forecast_hgb
from gridmap.forecast.kde import retrospective_kde
from gridmap.forecast.sepp import forecast_sepp

#: the reference of the skill target: the 12-month climatology
REFERENCE = "rolling_12"


def _methods() -> dict[str, Callable[..., MethodForecast]]:
    return {
        "last_period": last_period,
        "rolling_3": rolling_3,
        "rolling_12": rolling_12,
        "kde": retrospective_kde,
        "sepp": forecast_sepp,
        "hgb": forecast_hgb,
    }


METHODS = ("last_period", "rolling_3", "rolling_12", "kde", "sepp", "hgb")
#: used when no backtest of the kind is stored yet
FALLBACK_METHOD = "sepp"


def run_method(
    name: str,
    grids: GridLayer,
    history: CaseHistory,
    origin: np.datetime64,
    horizon_months: int = 1,
    near: object | None = None,
) -> MethodForecast:
    """Forecast with method ``name`` (``history`` must already stop before ``origin``)."""
    table = _methods()
    if name not in table:
        raise InputError(f"unknown forecast method {name!r}; known: {list(METHODS)}")
    if name == "hgb":
        return table[name](grids, history, origin, horizon_months, near=near)
    return table[name](grids, history, origin, horizon_months)
