"""Store tables of the forecast package (runs, per-grid results, backtests)."""

from __future__ import annotations

from gridmap.store.schema import Table, register

T, I, R = "TEXT", "INTEGER", "REAL"  # noqa: E741 - as in gridmap.store.schema

FORECAST_RUNS = register(Table(
    "forecast_runs",
    {
        "run_id": T, "kind": T, "categories": T, "method": T, "asof": T, "horizon_months": I,
        "target_start": T, "target_end": T, "plan_id": T, "created_at": T, "params": T, "summary": T,
    },
    primary_key=("run_id",),
    indexes=(("kind",),),
    description="a forecast of the cases per grid in [target_start, target_end) made from the cases reported "
                "before asof; params and summary are JSON; categories a JSON list (empty = all)",
))

FORECAST_RESULTS = register(Table(
    "forecast_results",
    {
        "run_id": T, "grid_code": T, "township_code": T, "village_code": T, "expected": R, "lower": I,
        "upper": I, "rank": I, "households": I, "recent_cases": I, "recent_nearby": I, "trend": R,
        "season": R, "why": T,
    },
    primary_key=("run_id", "grid_code"),
    geometry_type="MULTIPOLYGON",
    indexes=(("run_id",),),
    description="per grid of the plan: expected cases in the horizon, 80 % interval [lower, upper] (Poisson "
                "10 %/90 % quantiles), rank (1 = most expected), and why: cases in the last 30 days in the grid "
                "and within 1 km, trend (last 3 months / the 12-month mean), season (the target month's "
                "city-wide factor), households",
))

FORECAST_BACKTESTS = register(Table(
    "forecast_backtests",
    {
        "backtest_id": T, "kind": T, "categories": T, "origin_from": T, "origin_to": T, "created_at": T,
        "best_method": T, "table": T, "summary": T, "seconds": R, "png_base64": T,
    },
    primary_key=("backtest_id",),
    indexes=(("kind",),),
    description="rolling-origin backtest: table = JSON rows (method, origin, log score, PAI/PEI at 1/5/10 % of "
                "area, top-10 % share); summary = means per method; best_method = highest mean log score "
                "(the default for the kind); png_base64 the plot",
))
