"""Early-warning forecasts (研判预警): stored runs, their per-grid results, backtests; start a run as a job.

Results are aggregates.  Roles that do not read every case get the recent-case counts
through the disclosure rule (small ones null, ``suppressed: true``; :mod:`gridmap.disclosure`) and no "why" text
(it quotes those counts); the expected counts, intervals and ranks are model outputs and
shown to everyone who may see the map.  Starting a run needs ``hotspots.run``.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from api.auth import Principal, audit
from api.deps import JobsDep, PrincipalDep, SettingsDep, StoreDep, require, require_table
from api.geojson import GEOJSON_MEDIA_TYPE, check_crs, feature_collection_text, records
from api.queries import disclosure_rule, suppress_frame
from gridmap.forecast.runs import run_forecast, township_summary

router = APIRouter(tags=["forecast"])

RESULT_COLUMNS = [
    "run_id",
    "grid_code",
    "township_code",
    "village_code",
    "expected",
    "lower",
    "upper",
    "rank",
    "households",
    "recent_cases",
    "recent_nearby",
    "trend",
    "season",
    "why",
]


def _parsed(frame, columns: tuple[str, ...]) -> list[dict]:
    out = records(frame)
    for row in out:
        for col in columns:
            with contextlib.suppress(ValueError, TypeError):
                row[col] = json.loads(row[col]) if row.get(col) else {}
    return out


@router.get("/forecast/runs")
def list_runs(store: StoreDep, kind: str | None = None) -> list[dict]:
    """Every forecast run, newest first (optionally of one kind): method, target month, summary."""
    require_table("forecast_runs")
    runs = store.read(
        "forecast_runs", where={"kind": kind} if kind else None, order_by=["-created_at", "run_id"]
    )
    return _parsed(runs, ("params", "summary", "categories"))


@router.get("/forecast/runs/{run_id}")
def get_run(run_id: str, store: StoreDep) -> dict:
    require_table("forecast_runs")
    runs = store.read("forecast_runs", where={"run_id": run_id})
    if runs.empty:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no forecast run {run_id}")
    return _parsed(runs, ("params", "summary", "categories"))[0]


def _results(store, run_id: str, principal: Principal, rule, limit: int):
    if not store.count("forecast_runs", {"run_id": run_id}):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no forecast run {run_id}")
    frame = store.read("forecast_results", where={"run_id": run_id}, order_by=["rank"], limit=limit or None)
    labels = run_id + "|" + frame["grid_code"].astype(str)
    frame = suppress_frame(
        frame, ["recent_cases", "recent_nearby"], rule, principal.sees_all_cases, cell_labels=labels
    )
    if not principal.sees_all_cases:
        frame["why"] = None
    return frame


@router.get(
    "/forecast/runs/{run_id}/results",
    response_class=Response,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}},
)
def run_results(
    run_id: str,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    limit: int = Query(0, ge=0, le=100000, description="the top N grids by rank only (0 = all)"),
    crs: str = Query("wgs84", description="wgs84 or gcj02"),
    simplify: float = Query(0, ge=0, le=5000, description="display simplification in metres"),
) -> Response:
    """Per-grid forecast as GeoJSON (by rank): expected, 80 % interval, rank, why."""
    frame = _results(store, run_id, principal, disclosure_rule(settings), limit)
    text = feature_collection_text(
        frame,
        "grid_code",
        [*RESULT_COLUMNS, "suppressed"],
        check_crs(crs),
        members={"run_id": run_id},
        simplify_m=simplify,
    )
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


@router.get("/forecast/runs/{run_id}/list")
def run_list(
    run_id: str,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    limit: int = Query(20, ge=1, le=100000),
) -> dict:
    """The warning list (top ``limit`` grids, no geometry) and the summary per township."""
    frame = _results(store, run_id, principal, disclosure_rule(settings), 0)
    names = store.read("admin_units", where={"level": "township"}, columns=["code", "name"])
    towns = township_summary(
        frame.fillna({"recent_cases": 0}), names.set_index("code")["name"] if len(names) else None
    )
    towns = suppress_frame(
        towns,
        ["recent_cases"],
        disclosure_rule(settings),
        principal.sees_all_cases,
        cell_labels=run_id + "|" + towns["township_code"].astype(str),
    )
    columns = [c for c in [*RESULT_COLUMNS, "suppressed"] if c in frame.columns]
    return {"run_id": run_id, "grids": records(frame[columns].head(limit)), "townships": records(towns)}


@router.get("/forecast/backtests")
def list_backtests(store: StoreDep, kind: str | None = None) -> list[dict]:
    """Stored backtests (newest first): best method and the means per method (no per-origin table)."""
    require_table("forecast_backtests")
    rows = store.read(
        "forecast_backtests",
        where={"kind": kind} if kind else None,
        columns=[
            "backtest_id",
            "kind",
            "categories",
            "origin_from",
            "origin_to",
            "created_at",
            "best_method",
            "summary",
            "seconds",
        ],
        order_by=["-created_at", "backtest_id"],
    )
    return _parsed(rows, ("summary", "categories"))


@router.get(
    "/forecast/backtests/{backtest_id}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def backtest_png(backtest_id: str, store: StoreDep) -> Response:
    rows = store.read("forecast_backtests", where={"backtest_id": backtest_id}, columns=["png_base64"])
    if rows.empty:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no backtest {backtest_id}")
    return Response(base64.b64decode(rows["png_base64"].iloc[0]), media_type="image/png")


class ForecastRequest(BaseModel):
    kind: str = Field("dispute", description="dispute | petition")
    asof: str = Field(description="first day of the target month, e.g. 2025-01-01")
    horizon: str = Field("1M", description="1M … 12M")
    categories: list[str] = Field(default_factory=list)
    method: str | None = Field(None, description="default: the best of the latest backtest of the kind")
    plan_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="reserved")


@router.post("/forecast/runs", status_code=202)
def start_run(
    body: ForecastRequest,
    store: StoreDep,
    jobs: JobsDep,
    principal: Annotated[Principal, Depends(require("hotspots.run"))],
) -> dict:
    """Start a forecast in the background; poll ``/api/v1/jobs/{job_id}``, whose result names the run."""

    def work(progress) -> dict:
        progress(0.0, f"forecast {body.kind} from {body.asof}")
        run_id = run_forecast(
            store, body.kind, body.asof, body.horizon, body.categories or None, body.method, body.plan_id
        )
        audit(store, principal, "forecast.run", "forecast_run", [run_id], {"kind": body.kind})
        return {"run_id": run_id}

    job_id = jobs.submit("forecast", work, body.model_dump(), actor=principal.actor)
    return {"job_id": job_id, "href": f"/api/v1/jobs/{job_id}"}
