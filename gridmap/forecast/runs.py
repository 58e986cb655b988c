"""Forecast and backtest runs on the store's cases, recorded in ``forecast_runs``/``forecast_results``
and ``forecast_backtests`` (declared in :mod:`gridmap.store.schema`).

Only positions, categories and report times of cases are read — never personal fields.
The forecast method defaults to the best of the latest stored backtest of the kind
(:func:`default_method`), else :data:`gridmap.forecast.methods.FALLBACK_METHOD`.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import stats

from gridmap.cases import CaseFilter, read_cases
from gridmap.crs import LOCAL_CRS, WGS84, to_local
from gridmap.domain import LOCAL_TZ
from gridmap.errors import InputError
from gridmap.forecast.backtest import BacktestResult, backtest
from gridmap.forecast.data import CaseHistory, GridLayer, history_from_frame, parse_month, seasonal_factor
from gridmap.forecast.methods import FALLBACK_METHOD, METHODS, run_method
from gridmap.forecast.metrics import top_count
from gridmap.hotspots.aggregate import case_lonlat, locate_in_polygons
from gridmap.hotspots.runs import _clean, _json, _multipolygons
from gridmap.store.base import Store

log = logging.getLogger(__name__)

KINDS = ("dispute", "petition")
#: the 80 % interval: Poisson 10 % and 90 % quantiles of the expected count
INTERVAL = (0.10, 0.90)
NEARBY_M = 1000.0


@dataclass(frozen=True)
class StoreInputs:
    """The active plan's grids and the kind's located cases, ready for the methods."""

    plan_id: str
    grids: GridLayer
    geometry: gpd.GeoSeries
    history: CaseHistory
    cases_read: int
    cases_outside: int


def parse_horizon(text: str | int) -> int:
    """``1M``/``3M``/``2`` → months (1 … 12)."""
    match = re.fullmatch(r"\s*(\d+)\s*[Mm]?\s*", str(text))
    if not match or not 1 <= int(match.group(1)) <= 12:
        raise InputError(f"horizon must be 1M … 12M (months), got {text!r}")
    return int(match.group(1))


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


def load_inputs(
    store: Store, kind: str, categories: list[str] | None = None, plan_id: str | None = None
) -> StoreInputs:
    """Grids of ``plan_id`` (default: active) and the located cases of ``kind`` (and categories)."""
    _check_kind(kind)
    plan = plan_id or store.active_plan_id()
    if plan is None:
        raise InputError("no active plan: pass --plan or activate a plan first")
    frame = store.read(
        "grids",
        where={"plan_id": plan},
        columns=["code", "households", "township_code", "village_code", "geometry"],
    )
    if frame.empty:
        raise InputError(f"plan {plan!r} has no grids")
    frame = frame.reset_index(drop=True)
    local = frame.geometry.to_crs(LOCAL_CRS)
    centre = local.representative_point()
    grids = GridLayer(
        codes=frame["code"].astype(str).to_numpy(),
        x=centre.x.to_numpy(),
        y=centre.y.to_numpy(),
        area_km2=local.area.to_numpy() / 1e6,
        households=pd.to_numeric(frame["households"], errors="coerce").fillna(0).to_numpy(dtype=float),
        township_code=frame["township_code"].astype(str).to_numpy(),
        village_code=frame["village_code"].astype(str).to_numpy(),
    )
    cases = read_cases(
        store,
        CaseFilter.from_dict({"kind": kind, **({"category": list(categories)} if categories else {})}),
        columns=["case_id", "kind", "category", "reported_at", "lon", "lat", "geometry"],
    )
    lon, lat, located = case_lonlat(cases, return_mask=True)
    if len(lon) == 0:
        raise InputError(f"no located {kind} case in the store (geocode cases first)")
    where = locate_in_polygons(lon, lat, frame.geometry)
    x, y = to_local(lon, lat)
    history = history_from_frame(cases.loc[located].reset_index(drop=True), where, x, y)
    return StoreInputs(plan, grids, frame.geometry, history, int(len(cases)), int((where < 0).sum()))


def default_method(store: Store, kind: str) -> tuple[str, str | None]:
    """(method, backtest id) — the best method of the latest backtest of ``kind``, else the fallback."""
    runs = store.read(
        "forecast_backtests",
        where={"kind": kind},
        columns=["backtest_id", "best_method", "created_at"],
        order_by=["-created_at", "backtest_id"],
        limit=1,
    )
    if runs.empty:
        return FALLBACK_METHOD, None
    return str(runs["best_method"].iloc[0]), str(runs["backtest_id"].iloc[0])


def explain(
    grids: GridLayer, history: CaseHistory, origin: np.datetime64, horizon_months: int
) -> pd.DataFrame:
    """The "why" of each grid: recent cases in it and nearby, trend, season, households."""
    n = len(grids)
    t0 = origin.astype("datetime64[D]").astype(np.int64)
    recent = (history.t >= t0 - 30) & (history.t < t0) & (history.grid >= 0)
    in_grid = np.bincount(history.grid[recent], minlength=n)
    nearby = np.asarray(grids.neighbourhood(NEARBY_M) @ in_grid).ravel()
    counts = history.monthly_counts(n, origin)
    mean3 = counts[-3:].mean(axis=0) if len(counts) else np.zeros(n)
    mean12 = counts[-12:].mean(axis=0) if len(counts) else np.zeros(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = np.where(mean12 > 0, mean3 / mean12, np.where(mean3 > 0, np.inf, np.nan))
    season = seasonal_factor(history, origin, horizon_months)
    return pd.DataFrame(
        {
            "recent_cases": in_grid.astype(np.int64),
            "recent_nearby": nearby.astype(np.int64),
            "trend": trend,
            "season": season,
            "households": grids.households.astype(np.int64),
        }
    )


def why_text(row: pd.Series) -> str:
    """One line in Chinese: 近30天本网格N件、周边1公里M件；趋势；季节；户数."""
    trend = row["trend"]
    if not np.isfinite(trend):
        trend_text = "近3月新出现" if trend == np.inf else "近12月无案件"
    else:
        trend_text = f"近3月为12月均值的{trend:.1f}倍"
    return (
        f"近30天本网格{int(row['recent_cases'])}件、周边1公里{int(row['recent_nearby'])}件；{trend_text}；"
        f"季节系数{row['season']:.2f}；{int(row['households'])}户"
    )


def _now() -> str:
    return datetime.now(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def forecast_frame(
    inputs: StoreInputs, method: str, origin: np.datetime64, horizon_months: int
) -> tuple[gpd.GeoDataFrame, dict]:
    """Per-grid forecast with interval, rank and why (not stored); and the method's parameters."""
    known = inputs.history.before(origin)
    if len(known.t) == 0:
        raise InputError(f"no case reported before {origin}-01: nothing to forecast from")
    result = run_method(method, inputs.grids, known, origin, horizon_months)
    expected = result.expected
    lower = stats.poisson.ppf(INTERVAL[0], np.maximum(expected, 1e-12)).astype(np.int64)
    upper = stats.poisson.ppf(INTERVAL[1], np.maximum(expected, 1e-12)).astype(np.int64)
    rank = np.empty(len(expected), dtype=np.int64)
    rank[np.lexsort((inputs.grids.codes, -expected))] = np.arange(1, len(expected) + 1)
    why = explain(inputs.grids, known, origin, horizon_months)
    frame = pd.DataFrame(
        {
            "grid_code": inputs.grids.codes,
            "township_code": inputs.grids.township_code,
            "village_code": inputs.grids.village_code,
            "expected": np.round(expected, 4),
            "lower": lower,
            "upper": upper,
            "rank": rank,
            **{c: why[c] for c in why.columns},
        }
    )
    frame["trend"] = frame["trend"].replace([np.inf], np.nan)
    frame["why"] = [why_text(r) for _, r in why.iterrows()]
    out = gpd.GeoDataFrame(frame, geometry=_multipolygons(inputs.geometry), crs=WGS84)
    return out.sort_values("rank").reset_index(drop=True), result.params


def run_forecast(
    store: Store,
    kind: str,
    asof: str,
    horizon: str | int = "1M",
    categories: list[str] | None = None,
    method: str | None = None,
    plan_id: str | None = None,
) -> str:
    """Forecast the ``horizon`` from ``asof`` (the first day of a month; cases before it are
    known) for every grid of the plan, store it and return the run id."""
    started = time.perf_counter()
    horizon_months = parse_horizon(horizon)
    origin = parse_month(asof)
    chosen, backtest_id = (method, None) if method else default_method(store, _check_kind(kind))
    if chosen not in METHODS:
        raise InputError(f"unknown forecast method {chosen!r}; known: {list(METHODS)}")
    inputs = load_inputs(store, kind, categories, plan_id)
    results, params = forecast_frame(inputs, chosen, origin, horizon_months)
    run_id = f"fc-{datetime.now(LOCAL_TZ).strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    results.insert(0, "run_id", run_id)
    top = results.head(10)
    summary = {
        "method": chosen,
        "chosen_by": f"backtest {backtest_id}" if backtest_id else ("request" if method else "fallback"),
        "grids": int(len(results)),
        "expected_total": round(float(results["expected"].sum()), 2),
        "cases_read": inputs.cases_read,
        "cases_outside_grids": inputs.cases_outside,
        "history_cases": int((inputs.history.t < (origin.astype("datetime64[D]").astype(np.int64))).sum()),
        "top": [
            {"rank": int(r["rank"]), "grid_code": r["grid_code"], "expected": round(float(r["expected"]), 3)}
            for _, r in top.iterrows()
        ],
        "fitted": _clean(params),
        "seconds": round(time.perf_counter() - started, 3),
    }
    run_row = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "kind": kind,
                "categories": _json(sorted(categories or [])),
                "method": chosen,
                "asof": f"{origin}-01",
                "horizon_months": horizon_months,
                "target_start": f"{origin}-01",
                "target_end": f"{origin + horizon_months}-01",
                "plan_id": inputs.plan_id,
                "created_at": _now(),
                "params": _json({"horizon_months": horizon_months, "method": chosen}),
                "summary": _json(summary),
            }
        ]
    )
    with store.transaction():
        store.write("forecast_runs", run_row)
        store.write("forecast_results", results)
    log.info(
        "forecast %s stored: %s, %d grids, %.1f expected",
        run_id,
        chosen,
        len(results),
        summary["expected_total"],
    )
    return run_id


def read_forecast(store: Store, run_id: str) -> tuple[dict, gpd.GeoDataFrame]:
    """A stored forecast: its run row (JSON parsed) and its per-grid results by rank."""
    runs = store.read("forecast_runs", where={"run_id": run_id})
    if runs.empty:
        raise InputError(f"no forecast run {run_id!r}")
    row = runs.iloc[0].to_dict()
    for key in ("params", "summary", "categories"):
        row[key] = json.loads(row[key]) if row.get(key) else {}
    results = store.read("forecast_results", where={"run_id": run_id}, order_by=["rank"])
    return row, results


#: the rank bands published to roles without all-case access: top 1 %, 5 %, 10 % of grids, the rest
BANDS = (1, 5, 10, 100)


def rank_band(rank: np.ndarray | pd.Series, n_grids: int) -> np.ndarray:
    """Per grid the smallest band of :data:`BANDS` (percent of grids by rank) it falls in: 1, 5, 10 or 100."""
    rank = np.asarray(rank, dtype=float)
    out = np.full(len(rank), 100, dtype=np.int64)
    for band in BANDS[::-1][1:]:
        out[rank <= top_count(band / 100, n_grids)] = band
    return out


def township_summary(
    results: pd.DataFrame, names: pd.Series | None = None, watch_share: float = 0.10
) -> pd.DataFrame:
    """Per township: grids, expected cases, grids on the watch list (top ``watch_share`` by rank), top grid."""
    watch_rank = top_count(watch_share, len(results))
    frame = pd.DataFrame(results).assign(watch=lambda f: f["rank"] <= watch_rank)
    by = frame.sort_values("rank").groupby("township_code", sort=False)
    out = pd.DataFrame(
        {
            "grids": by.size(),
            "expected": by["expected"].sum().round(2),
            "watch_grids": by["watch"].sum().astype(int),
            "recent_cases": by["recent_cases"].sum(),
            "top_grid": by["grid_code"].first(),
            "top_expected": by["expected"].first(),
        }
    ).reset_index()
    if names is not None:
        out.insert(1, "township_name", out["township_code"].map(names).fillna(""))
    return out.sort_values(["expected", "township_code"], ascending=[False, True]).reset_index(drop=True)


def run_backtest(
    store: Store,
    kind: str,
    origin_from: str,
    origin_to: str,
    categories: list[str] | None = None,
    methods: list[str] | None = None,
    plan_id: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[str, BacktestResult]:
    """Backtest on the store's cases and store it (table, summary, PNG); returns (id, result)."""
    inputs = load_inputs(store, kind, categories, plan_id)
    result = backtest(
        inputs.grids,
        inputs.history,
        origin_from,
        origin_to,
        tuple(methods) if methods else None,
        progress=progress,
    )
    backtest_id = f"bt-{datetime.now(LOCAL_TZ).strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    summary = {
        "methods": {m: _clean(r.to_dict()) for m, r in result.summary.iterrows()},
        "plan_id": inputs.plan_id,
        "grids": int(len(inputs.grids)),
        "fitted_last": {m: _clean(p[max(p)]) for m, p in result.fitted.items() if p},
    }
    row = pd.DataFrame(
        [
            {
                "backtest_id": backtest_id,
                "kind": kind,
                "categories": _json(sorted(categories or [])),
                "origin_from": result.origins[0],
                "origin_to": result.origins[-1],
                "created_at": _now(),
                "best_method": result.best_method,
                "table": _json(result.table.to_dict(orient="records")),
                "summary": _json(summary),
                "seconds": round(result.seconds, 3),
                "png_base64": base64.b64encode(result.to_png()).decode("ascii"),
            }
        ]
    )
    store.write("forecast_backtests", row)
    return backtest_id, result
