"""The inputs every forecast method reads, and the result each returns.

Units and CRS: grid centroids ``x``/``y`` and case points are in metres in
:data:`gridmap.crs.LOCAL_CRS` (Albers equal-area); areas in km²; times are days since
1970-01-01 (local time, the store's clock) as float; months are ``numpy.datetime64[M]``.
A forecast for the month starting at ``origin`` may use the cases reported before
``origin`` only (what was known the day before): :meth:`CaseHistory.before` cuts there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.spatial import cKDTree

from gridmap.errors import InputError

DAY = np.timedelta64(1, "D")


def month_start_days(month: np.datetime64) -> float:
    """Days since 1970-01-01 at the first instant of ``month``."""
    return float(np.datetime64(month, "M").astype("datetime64[D]").astype(np.int64))


def parse_month(text: str | np.datetime64) -> np.datetime64:
    """``2024-07`` or ``2024-07-01`` → datetime64[M]; a clear error otherwise."""
    try:
        value = np.datetime64(str(text)[:10] if len(str(text)) > 7 else str(text))
    except ValueError as exc:
        raise InputError(f"expected a month YYYY-MM or a date YYYY-MM-DD, got {text!r}") from exc
    month = value.astype("datetime64[M]")
    if len(str(text)) > 7 and value.astype("datetime64[D]") != month.astype("datetime64[D]"):
        raise InputError(f"forecasts start on the first day of a month; got {text!r} (use {month}-01)")
    return month


@dataclass(frozen=True)
class GridLayer:
    """The grids of a plan: codes, centroids (LOCAL_CRS m), areas (km²), households, townships."""

    codes: np.ndarray
    x: np.ndarray
    y: np.ndarray
    area_km2: np.ndarray
    households: np.ndarray
    township_code: np.ndarray
    village_code: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    def neighbourhood(self, radius_m: float) -> sparse.csr_matrix:
        """0/1 matrix of grids whose centroids lie within ``radius_m`` (the grid itself included)."""
        tree = cKDTree(np.column_stack([self.x, self.y]))
        pairs = tree.query_pairs(radius_m, output_type="ndarray")
        n = len(self)
        rows = np.concatenate([pairs[:, 0], pairs[:, 1], np.arange(n)])
        cols = np.concatenate([pairs[:, 1], pairs[:, 0], np.arange(n)])
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))

    def prior_share(self) -> np.ndarray:
        """Each grid's share of households (uniform where households are unknown)."""
        hh = np.nan_to_num(np.asarray(self.households, dtype=float))
        if hh.sum() <= 0:
            return np.full(len(self), 1.0 / len(self))
        return hh / hh.sum()


@dataclass(frozen=True)
class CaseHistory:
    """Located cases of the forecast's kind: time (days since 1970), LOCAL_CRS x/y (m), grid (-1 outside).

    A history cut from another (:meth:`before`) keeps the positions of its cases in the
    full history (``rows``) and shares its ``cache``: per-case results that do not depend
    on the cut (a case's kernel mass over the grids) are computed once per backtest.
    """

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    grid: np.ndarray
    first_month: np.datetime64
    category: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    rows: np.ndarray | None = field(default=None, repr=False, compare=False)
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (len(self.t) == len(self.x) == len(self.y) == len(self.grid)):
            raise InputError("case arrays t, x, y, grid must have the same length")
        if self.rows is None:
            self.cache.setdefault("full", (self.x, self.y, self.grid))

    @property
    def positions(self) -> np.ndarray:
        """Positions of these cases in the full history (``cache['full']``)."""
        return np.arange(len(self.t)) if self.rows is None else self.rows

    def before(self, origin: np.datetime64) -> CaseHistory:
        """The cases reported before the first day of month ``origin``."""
        keep = self.t < month_start_days(origin)
        cat = self.category[keep] if len(self.category) == len(self.t) else self.category
        return CaseHistory(
            self.t[keep],
            self.x[keep],
            self.y[keep],
            self.grid[keep],
            self.first_month,
            cat,
            rows=self.positions[keep],
            cache=self.cache,
        )

    def in_month(self, month: np.datetime64) -> np.ndarray:
        lo, hi = month_start_days(month), month_start_days(month + 1)
        return (self.t >= lo) & (self.t < hi)

    def monthly_counts(self, n_grids: int, until: np.datetime64) -> np.ndarray:
        """(months, grids) counts from ``first_month`` to the month before ``until``."""
        n_months = int((np.datetime64(until, "M") - self.first_month).astype(int))
        if n_months <= 0:
            return np.zeros((0, n_grids))
        days = self.t.astype(np.int64).astype("datetime64[D]")
        month = (days.astype("datetime64[M]") - self.first_month).astype(np.int64)
        ok = (self.grid >= 0) & (month >= 0) & (month < n_months)
        flat = month[ok] * n_grids + self.grid[ok]
        return np.bincount(flat, minlength=n_months * n_grids).reshape(n_months, n_grids).astype(float)

    def counts_in(self, n_grids: int, month: np.datetime64, months: int = 1) -> np.ndarray:
        """Cases per grid in ``months`` months from ``month``."""
        lo, hi = month_start_days(month), month_start_days(month + months)
        ok = (self.t >= lo) & (self.t < hi) & (self.grid >= 0)
        return np.bincount(self.grid[ok], minlength=n_grids).astype(float)


@dataclass(frozen=True)
class MethodForecast:
    """One method's forecast: expected cases per grid in [origin, origin + horizon months).

    ``components`` splits ``expected`` where the method has parts (SEPP: background and
    triggered); ``params`` are the fitted or fixed parameters (JSON-safe).
    """

    method: str
    origin: np.datetime64
    horizon_months: int
    expected: np.ndarray
    components: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if np.any(~np.isfinite(self.expected)) or np.any(self.expected < 0):
            raise ValueError(f"{self.method}: expected counts must be finite and >= 0")


def horizon_days(origin: np.datetime64, horizon_months: int) -> float:
    return month_start_days(origin + horizon_months) - month_start_days(origin)


def with_floor(expected: np.ndarray, total: float, prior: np.ndarray, weight: float) -> np.ndarray:
    """Blend a forecast with ``weight`` of the households prior at the same total.

    Count baselines forecast 0 in a grid that had no case, and one case there makes
    their Poisson log score −∞; every method gets the same small blend so the scores
    compare.
    """
    return (1.0 - weight) * expected + weight * total * prior


def seasonal_factor(
    history: CaseHistory, target: np.datetime64, horizon_months: int = 1, shrink: float = 0.5
) -> float:
    """City-wide factor of the target month(s) against a 12-month mean, from earlier years.

    For each earlier year with the same calendar months and the 12 months before them
    observed, the ratio (cases in those months) / (mean monthly cases of the 12 months
    before); their mean is shrunk halfway to 1 (``shrink``).  1.0 without such a year.
    """
    ratios = []
    for back in range(1, 10):
        start = target - 12 * back
        if start - 12 < history.first_month:
            break
        in_target = (
            (history.t >= month_start_days(start)) & (history.t < month_start_days(start + horizon_months))
        ).sum()
        prior = ((history.t >= month_start_days(start - 12)) & (history.t < month_start_days(start))).sum()
        if prior > 0:
            ratios.append(in_target / horizon_months / (prior / 12.0))
    if not ratios:
        return 1.0
    return float(1.0 + (1.0 - shrink) * (np.mean(ratios) - 1.0))


def history_from_frame(cases: pd.DataFrame, grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> CaseHistory:
    """A :class:`CaseHistory` from store cases (``reported_at`` ISO local time) already located."""
    when = pd.to_datetime(cases["reported_at"].astype(str).str.replace(" ", "T", n=1), errors="coerce")
    if when.isna().any():
        raise InputError(f"{int(when.isna().sum())} cases have an unreadable reported_at")
    t = (when.to_numpy().astype("datetime64[s]").astype(np.int64)) / 86400.0
    first = np.datetime64(when.min().strftime("%Y-%m"), "M") if len(when) else np.datetime64("2022-01", "M")
    category = cases["category"].astype(str).to_numpy() if "category" in cases else np.empty(0, dtype=object)
    return CaseHistory(
        t, np.asarray(x, float), np.asarray(y, float), np.asarray(grid, np.int64), first, category
    )
