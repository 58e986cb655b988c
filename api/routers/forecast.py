"""Early-warning forecasts (研判预警): stored runs, their per-grid results, backtests; start a run as a job.

Results are aggregates, but a forecast of a rolling baseline is nearly last months' counts.
Roles that read every case (:attr:`api.auth.Principal.sees_all_cases`) get every figure and
the XLSX for the weekly 联席会商.  The others get, per grid, only the rank band (top 1/5/10 %
of grids, or the rest), the rank inside the top 10 %, the recent-case counts through the
disclosure rule (small ones null, ``suppressed: true``; :mod:`gridmap.disclosure`), no
expected count, interval, trend or "why" text (they quote or derive from exact counts); per
township and in the run summary the expected totals go through the same rule (rounded to
whole cases, keyed by the run's record selection, so repeating a run adds no information).
Starting a run needs ``hotspots.run``.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from api.auth import Principal, audit
from api.deps import JobsDep, PrincipalDep, SettingsDep, StoreDep, require, require_table
from api.geojson import GEOJSON_MEDIA_TYPE, check_crs, feature_collection_text, records
from api.queries import disclosure_rule, suppress_frame
from gridmap.disclosure import disclose, label_keys
from gridmap.forecast.export import about_rows, forecast_xlsx
from gridmap.forecast.runs import rank_band, read_forecast, run_forecast, township_summary

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
    "band",
]
#: per-grid figures that only roles reading every case see (the rest derive from exact counts)
EXACT_ONLY = ("expected", "lower", "upper", "trend", "why")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _parsed(frame, columns: tuple[str, ...]) -> list[dict]:
    out = records(frame)
    for row in out:
        for col in columns:
            with contextlib.suppress(ValueError, TypeError):
                row[col] = json.loads(row[col]) if row.get(col) else {}
    return out


def _selection(run: dict) -> str:
    """A label naming the run's record selection and model (not its id): the same forecast
    asked again gets the same disclosure noise."""
    return json.dumps(
        [
            run.get("kind"),
            run.get("categories"),
            run.get("method"),
            run.get("asof"),
            run.get("horizon_months"),
            run.get("plan_id"),
        ],
        default=str,
    )


def _public_summary(run: dict, settings) -> dict:
    """The run row as a role without all-case access sees it: totals disclosed, no per-grid numbers."""
    summary = dict(run.get("summary") or {})
    if "expected_total" in summary:
        shown = disclose(
            np.array([round(float(summary["expected_total"]))], float),
            label_keys([_selection(run) + "|total|expected"], disclosure_rule(settings)),
            disclosure_rule(settings),
        )
        summary["expected_total"] = None if np.isnan(shown.values[0]) else float(shown.values[0])
    summary["top"] = [{k: v for k, v in t.items() if k != "expected"} for t in summary.get("top", [])]
    for key in ("cases_read", "cases_outside_grids", "history_cases", "fitted"):  # exact counts, fits
        summary.pop(key, None)
    return {**run, "summary": summary}


@router.get("/forecast/runs")
def list_runs(
    store: StoreDep, settings: SettingsDep, principal: PrincipalDep, kind: str | None = None
) -> list[dict]:
    """Every forecast run, newest first (optionally of one kind): method, target month, summary."""
    require_table("forecast_runs")
    runs = store.read(
        "forecast_runs", where={"kind": kind} if kind else None, order_by=["-created_at", "run_id"]
    )
    out = _parsed(runs, ("params", "summary", "categories"))
    return out if principal.sees_all_cases else [_public_summary(r, settings) for r in out]


@router.get(
    "/forecast/runs/{run_id}.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}},
)
def run_xlsx(
    run_id: str,
    store: StoreDep,
    principal: Annotated[Principal, Depends(require("cases.read"))],
) -> Response:
    """The warning list for the weekly 联席会商 (预警清单, 乡镇汇总, 说明) — exact figures, so only
    for roles that read every case (401 anonymous, 403 others)."""
    require_table("forecast_runs")
    if not principal.sees_all_cases:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"role {principal.role} may not export the warning list"
        )
    if not store.count("forecast_runs", {"run_id": run_id}):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no forecast run {run_id}")
    run, results = read_forecast(store, run_id)
    names = store.read("admin_units", where={"level": "township"}, columns=["code", "name"])
    towns = township_summary(results, names.set_index("code")["name"] if len(names) else None)
    synthetic = bool(store.count("cases", {"source": "synthetic"}))
    body = forecast_xlsx(results, towns, about_rows({**run, "synthetic": synthetic}))
    audit(store, principal, "forecast.export", "forecast_run", [run_id], {"format": "xlsx"})
    return Response(
        body,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="forecast-{run_id}.xlsx"'},
    )


def _records_selection(run: dict) -> str:
    """A label naming only the cases a run counted (kind, categories, as-of date, plan), not its
    model: recent-case counts are the same for every method and horizon, so they get the same
    noise in every run over those cases (a method per request would otherwise average it away)."""
    return json.dumps(
        [run.get("kind"), run.get("categories"), run.get("asof"), run.get("plan_id")], default=str
    )


@router.get("/forecast/runs/{run_id}")
def get_run(run_id: str, store: StoreDep, settings: SettingsDep, principal: PrincipalDep) -> dict:
    require_table("forecast_runs")
    runs = store.read("forecast_runs", where={"run_id": run_id})
    if runs.empty:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no forecast run {run_id}")
    run = _parsed(runs, ("params", "summary", "categories"))[0]
    return run if principal.sees_all_cases else _public_summary(run, settings)


def _run_row(store, run_id: str) -> dict:
    runs = store.read("forecast_runs", where={"run_id": run_id})
    if runs.empty:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no forecast run {run_id}")
    return _parsed(runs, ("params", "summary", "categories"))[0]


def _results(store, run: dict, principal: Principal, rule, limit: int):
    """Per-grid results by rank with ``band``; scrubbed for roles without all-case access, and
    then ordered by what they see (band, published rank, grid code): the exact rank order of the
    grids whose rank is withheld would otherwise be their position in the list."""
    full = principal.sees_all_cases
    frame = store.read(
        "forecast_results",
        where={"run_id": run["run_id"]},
        order_by=["rank"],
        limit=(limit or None) if full else None,
    )
    frame["band"] = rank_band(frame["rank"], int(run["summary"].get("grids") or len(frame)))
    labels = _records_selection(run) + "|" + frame["grid_code"].astype(str)
    frame = suppress_frame(frame, ["recent_cases", "recent_nearby"], rule, full, cell_labels=labels)
    if not full:
        for column in EXACT_ONLY:
            frame[column] = None
        frame["rank"] = frame["rank"].astype(object).where(frame["band"] <= 10, None)
        frame = frame.sort_values(["band", "rank", "grid_code"], na_position="last", kind="stable")
        frame = frame.head(limit) if limit else frame
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
    """Per-grid forecast as GeoJSON (by rank): expected, 80 % interval, rank, band, why (see the module
    docstring for what roles without all-case access get)."""
    frame = _results(store, _run_row(store, run_id), principal, disclosure_rule(settings), limit)
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
    run = _run_row(store, run_id)
    rule = disclosure_rule(settings)
    frame = _results(store, run, principal, rule, 0)
    names = store.read("admin_units", where={"level": "township"}, columns=["code", "name"])
    exact = store.read("forecast_results", where={"run_id": run_id}, order_by=["rank"])
    towns = township_summary(exact, names.set_index("code")["name"] if len(names) else None)
    if not principal.sees_all_cases:
        towns["expected"] = towns["expected"].round()
        towns["top_expected"] = None
    township = "|township|" + towns["township_code"].astype(str)
    towns = suppress_frame(
        towns,
        ["recent_cases"],
        rule,
        principal.sees_all_cases,
        cell_labels=_records_selection(run) + township,
    )
    counted = towns.pop("suppressed")
    towns = suppress_frame(
        towns, ["expected"], rule, principal.sees_all_cases, cell_labels=_selection(run) + township
    )
    towns["suppressed"] |= counted
    if not principal.sees_all_cases:  # ordered by what is shown, not by the exact expectation
        towns = towns.sort_values(["expected", "township_code"], ascending=[False, True], na_position="last")
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
