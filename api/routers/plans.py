"""Grid plans: list, grids as GeoJSON, one grid with its counts, edits, diff, quality, activation.

Grid geometry and household figures are public (no personal data).  Editing and activating
need ``plans.edit``; a rejected edit answers 422 with the validation reason, and every
accepted edit is written to the audit log.
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from api.auth import Principal, audit, case_grid_scope
from api.deps import JobsDep, PrincipalDep, SettingsDep, StoreDep, require, require_table
from api.geojson import (
    GEOJSON_MEDIA_TYPE,
    check_crs,
    feature_collection_text,
    feature_text,
    parse_bbox,
    records,
    to_jsonable,
)
from api.limits import REPORTS, answer_cap, check_feature_count, count_rows
from api.queries import disclosure_rule, present_workers, suppress_frame
from api.tilesource import plan_revision
from gridmap.cases import admin_condition
from gridmap.disclosure import cell_keys, record_keys
from gridmap.domain import OPEN_STATUSES
from gridmap.partition.diff import diff_plans
from gridmap.partition.edits import merge_grids, move_atoms, split_grid
from gridmap.partition.plans import activate_plan
from gridmap.partition.quality import quality_report
from gridmap.partition.workflow import partition_to_plan

router = APIRouter(tags=["plans"])

GRID_PROPERTIES = [
    "code",
    "village_code",
    "township_code",
    "county_code",
    "households",
    "population",
    "locked",
    "exclusive",
    "polsby_popper",
]
PlanEditor = Annotated[Principal, Depends(require("plans.edit"))]


def _plan_or_404(store, plan_id: str) -> dict:
    plans = store.read("plans", where={"plan_id": plan_id})
    if plans.empty:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no plan {plan_id}")
    row = records(plans)[0]
    with contextlib.suppress(ValueError):
        row["params"] = json.loads(row["params"]) if row.get("params") else {}
    return row


def _invalidate_tiles(request: Request) -> None:
    request.app.state.tile_cache.clear()
    request.app.state.tile_sources.clear()


@router.get("/plans")
def list_plans(store: StoreDep) -> list[dict]:
    """Every plan (newest first) with its status (draft, active, archived) and number of grids."""
    plans = store.read("plans", order_by=["-created_at", "plan_id"])
    counts = store.read("grids", columns=["plan_id"])["plan_id"].value_counts()
    return [{**row, "grids": int(counts.get(row["plan_id"], 0))} for row in records(plans)]


@router.get("/plans/{plan_id}")
def get_plan(plan_id: str, store: StoreDep) -> dict:
    """One plan with the household balance of its grids."""
    plan = _plan_or_404(store, plan_id)
    grids = store.read("grids", where={"plan_id": plan_id}, columns=["households"])
    hh = grids["households"].astype("float64")
    plan["grids"] = len(grids)
    plan["households"] = {
        "total": int(hh.sum()) if len(hh) else 0,
        "min": None if hh.empty else float(hh.min()),
        "median": None if hh.empty else float(hh.median()),
        "max": None if hh.empty else float(hh.max()),
    }
    return plan


@router.get(
    "/plans/{plan_id}/grids", response_class=Response, responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}}
)
def plan_grids(
    plan_id: str,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat (WGS-84 degrees)"),
    admin: str | None = Query(
        None, description="city (6 digits ending in 00), county (6), township (9) or village (12) code"
    ),
    crs: str = Query("wgs84", description="wgs84 (RFC 7946) or gcj02 (to overlay a GCJ-02 base map)"),
    simplify: float = Query(
        0, ge=0, le=5000, description="display simplification tolerance in metres (0 = exact)"
    ),
) -> Response:
    """The grids of a plan as a GeoJSON FeatureCollection (lon/lat), filtered by bbox and/or admin unit."""
    _plan_or_404(store, plan_id)
    where: dict[str, Any] = {"plan_id": plan_id}
    if admin:
        if len(admin) not in (6, 9, 12) or not admin.isdigit():
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                f"admin {admin!r}: give a county (6 digits), township (9) or village (12) code",
            )
        column, condition = admin_condition(admin)  # a city code: its counties' grids
        where[column] = condition
    box = parse_bbox(bbox)
    check_feature_count(count_rows(store, "grids", where, box, "code"), principal, settings, "grids")
    grids = store.read("grids", where=where, bbox=box, order_by=["code"])
    text = feature_collection_text(
        grids,
        "code",
        GRID_PROPERTIES,
        check_crs(crs),
        members={"plan_id": plan_id},
        simplify_m=simplify,
        max_bytes=answer_cap(principal, settings),
    )
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


@router.get(
    "/plans/{plan_id}/grids/{code}",
    response_class=Response,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}},
)
def plan_grid(
    plan_id: str,
    code: str,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    crs: str = Query("wgs84", description="wgs84 or gcj02"),
) -> Response:
    """One grid with its figures: households, cases (all / open; suppressed when small for roles
    without full case access) and its workers (names masked unless the role may see them)."""
    grids = store.read("grids", where={"plan_id": plan_id, "code": code})
    if grids.empty:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no grid {code} in plan {plan_id}")
    cases = store.read("cases", where={"grid_code": code}, columns=["case_id", "status"])
    open_cases = cases[cases["status"].isin(list(OPEN_STATUSES))]
    counts = {"cases": len(cases), "open_cases": len(open_cases)}
    scope = case_grid_scope(store, principal)
    full = principal.sees_all_cases or (scope is not None and code in scope)
    rule = disclosure_rule(settings)
    keys = {
        "cases": [int(cell_keys(record_keys(cases["case_id"], rule), [0] * len(cases)).sum())],
        "open_cases": [int(cell_keys(record_keys(open_cases["case_id"], rule), [0] * len(open_cases)).sum())],
    }
    shown = suppress_frame(grids.assign(**counts), ["cases", "open_cases"], rule, full, cell_keys=keys)
    assigned = store.read(
        "assignments",
        where={"plan_id": plan_id, "grid_code": code},
        columns=["worker_id", "role", "valid_from", "valid_to"],
    )
    workers = (
        store.read(
            "workers",
            where={"worker_id": assigned["worker_id"].astype(str).tolist()},
            columns=["worker_id", "name", "role"],
        )
        if len(assigned)
        else None
    )
    worker_list = (
        [] if workers is None else records(present_workers(store, principal, workers, "worker.read"))
    )
    text = feature_text(
        shown, "code", [*GRID_PROPERTIES, "cases", "open_cases", "suppressed"], check_crs(crs)
    )
    feature = json.loads(text)
    feature["properties"]["plan_id"] = plan_id
    feature["properties"]["workers"] = worker_list
    return Response(json.dumps(feature, ensure_ascii=False), media_type=GEOJSON_MEDIA_TYPE)


# --- edits, diff, quality (gridmap.partition) ---------------------------------------------------
class SplitRequest(BaseModel):
    grid: str = Field(description="code of the grid to split")
    parts: int = Field(2, ge=2, le=10, description="number of grids to split it into")
    override: bool = Field(False, description="apply even if a rule breaks (the reason is logged)")


class MergeRequest(BaseModel):
    grids: list[str] = Field(min_length=2, description="codes of adjacent grids of one village")
    override: bool = False


class MoveRequest(BaseModel):
    atoms: list[str] = Field(min_length=1, description="atom ids to move")
    to_grid: str = Field(description="code of the receiving grid")
    override: bool = False


def _edited(
    request: Request,
    store,
    principal: Principal,
    plan_id: str,
    action: str,
    objects: list[str],
    grids: list[str],
) -> dict:
    """Forget cached tiles, audit the edit, answer with the grids it produced."""
    _invalidate_tiles(request)
    audit(store, principal, f"plan.{action}", "plan", [plan_id, *objects])
    return {"plan_id": plan_id, "action": action, "grids": grids}


@router.post("/plans/{plan_id}/edits/split")
def split(plan_id: str, body: SplitRequest, request: Request, store: StoreDep, principal: PlanEditor) -> dict:
    """Split a grid of a draft plan into ``parts`` contiguous, balanced grids; 422 with the
    rule that broke (contiguity, nesting, household band, locked) unless ``override``."""
    _plan_or_404(store, plan_id)
    codes = split_grid(store, plan_id, body.grid, body.parts, principal.actor, override=body.override)
    return _edited(request, store, principal, plan_id, "split", [body.grid], list(codes))


@router.post("/plans/{plan_id}/edits/merge")
def merge(plan_id: str, body: MergeRequest, request: Request, store: StoreDep, principal: PlanEditor) -> dict:
    """Merge adjacent grids of one village in a draft plan; 422 with the reason on rejection."""
    _plan_or_404(store, plan_id)
    code = merge_grids(store, plan_id, body.grids, principal.actor, override=body.override)
    return _edited(request, store, principal, plan_id, "merge", body.grids, [code])


@router.post("/plans/{plan_id}/edits/move")
def move(plan_id: str, body: MoveRequest, request: Request, store: StoreDep, principal: PlanEditor) -> dict:
    """Move atoms into another grid of a draft plan; 422 with the reason on rejection."""
    _plan_or_404(store, plan_id)
    move_atoms(store, plan_id, body.atoms, body.to_grid, principal.actor, override=body.override)
    return _edited(request, store, principal, plan_id, "move", [body.to_grid], [body.to_grid])


@router.get("/plans/{plan_id}/edits")
def list_edits(plan_id: str, store: StoreDep) -> list[dict]:
    """The edit history of a plan, oldest first."""
    _plan_or_404(store, plan_id)
    require_table("plan_edits")
    return records(store.read("plan_edits", where={"plan_id": plan_id}, order_by=["created_at", "edit_id"]))


@router.get(
    "/plans/{plan_id}/atoms", response_class=Response, responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}}
)
def plan_atoms(
    plan_id: str,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    grid: str | None = Query(None, description="grid code: the atoms of that grid"),
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat (WGS-84 degrees)"),
    crs: str = Query("wgs84", description="wgs84 or gcj02"),
) -> Response:
    """The building blocks (atoms) of a plan's grids, to pick for a move (413 beyond the role's
    feature cap: ask for one grid or a bbox)."""
    _plan_or_404(store, plan_id)
    require_table("plan_atoms")
    where = {"plan_id": plan_id, **({"grid_code": grid} if grid else {})}
    box = parse_bbox(bbox)
    check_feature_count(
        count_rows(store, "plan_atoms", where, box, "grid_code"), principal, settings, "atoms"
    )
    atoms = store.read("plan_atoms", where=where, bbox=box)
    id_col = "atom_id" if "atom_id" in atoms.columns else None
    text = feature_collection_text(
        atoms, id_col, None, check_crs(crs), max_bytes=answer_cap(principal, settings)
    )
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


@router.get("/plans/{plan_id}/diff")
def diff(
    plan_id: str, store: StoreDep, other: str = Query(..., description="the plan to compare with")
) -> dict:
    """What changes from plan ``other`` to this plan: grids added, removed, changed; atoms and
    households that move."""
    _plan_or_404(store, plan_id)
    _plan_or_404(store, other)
    d = diff_plans(store, other, plan_id)
    return {
        "summary": to_jsonable(d.summary()),
        "added": d.added,
        "removed": d.removed,
        "changed": to_jsonable(d.changed),
        "moves": to_jsonable(d.moves),
    }


@router.get("/plans/{plan_id}/quality")
def quality(plan_id: str, store: StoreDep, settings: SettingsDep) -> dict:
    """Balance (households against the plan's band), compactness (Polsby-Popper), contiguity and
    nesting of a plan's grids (see gridmap.partition.quality)."""
    plan = _plan_or_404(store, plan_id)
    params = plan["params"] if isinstance(plan["params"], dict) else {}
    band = tuple(params.get("band") or (settings.grid_min_households, settings.grid_max_households))
    target = params.get("target", settings.grid_target_households)
    tolerance = float(params.get("tolerance", settings.grid_tolerance))
    # seconds for a big plan: computed once per plan state and served from memory afterwards
    key = (
        store.url,
        plan_id,
        plan_revision(store, plan_id),
        store.count("grids", {"plan_id": plan_id}),
        band,
        target,
        tolerance,
    )

    def compute() -> dict:
        grids = store.read("grids", where={"plan_id": plan_id})
        villages = store.read(
            "admin_units", where={"level": "village", "code": sorted(set(grids["village_code"].dropna()))}
        )
        report = quality_report(
            grids, villages if len(villages) else None, target=target, tolerance=tolerance, band=band
        )
        return {
            "plan_id": plan_id,
            "summary": to_jsonable(report.summary),
            "grids": to_jsonable(report.grids),
            "villages_forced": to_jsonable(report.villages_forced),
        }

    return REPORTS.get(("quality", *key), compute)


@router.post("/plans/{plan_id}/activate")
def activate(plan_id: str, request: Request, store: StoreDep, principal: PlanEditor) -> dict:
    """Make a plan the active one (the previous active plan is archived)."""
    _plan_or_404(store, plan_id)
    activate_plan(store, plan_id)
    _invalidate_tiles(request)
    audit(store, principal, "plan.activate", "plan", [plan_id])
    return {"plan_id": plan_id, "status": "active"}


class PartitionRequest(BaseModel):
    name: str = Field(description="name of the new draft plan")
    parent_id: str | None = Field(None, description="plan it derives from (default: the active plan)")
    target: int | None = Field(None, description="households per grid (default: settings)")
    tolerance: float | None = None


@router.post("/plans", status_code=202)
def partition(
    body: PartitionRequest, store: StoreDep, settings: SettingsDep, jobs: JobsDep, principal: PlanEditor
) -> dict:
    """Compute a new balanced draft plan in the background; poll ``/api/v1/jobs/{job_id}``."""
    parent = body.parent_id or store.active_plan_id()

    def work(progress) -> dict:
        plan_id = partition_to_plan(
            store,
            name=body.name,
            parent_id=parent,
            target=body.target or settings.grid_target_households,
            tolerance=body.tolerance if body.tolerance is not None else settings.grid_tolerance,
            progress=progress,
        )
        audit(store, principal, "plan.create", "plan", [plan_id])
        return {"plan_id": plan_id}

    job_id = jobs.submit("partition", work, body.model_dump(), actor=principal.actor)
    return {"job_id": job_id, "href": f"/api/v1/jobs/{job_id}"}
