"""Mapbox vector tiles: ``/tiles/{layer}/{z}/{x}/{y}.pbf``.

Layers:

* ``grids`` — the grids of the active plan (or ``?plan=ID``): code, village_code,
  households, population;
* ``hotspots`` — the results of the latest hotspot run (``?method=gi`` by default, or
  ``?run=ID``): unit_id, count, value, z, p_fdr, bin, label, suppressed.  For roles that do not
  read every case counts are disclosed (:mod:`gridmap.disclosure`) and value, z and p_fdr left
  out (they would give the exact counts back): bin and label remain.
* ``coverage`` — the active plan's grids with their patrol coverage in a month (``?period=2024-11``,
  default the month of the latest check-in): code, workers, days_since_visit, status
  (needs ``coverage.read``, like ``/api/v1/coverage/grids``).

``?crs=gcj02`` cuts the tiles from GCJ-02 coordinates, to lie on a GCJ-02 base map.

PostGIS builds tiles with ``ST_AsMVT``; the GeoPackage backend with :mod:`api.mvt`.
Tiles are cached in memory (LRU) under a key that names the plan and its edit count,
or the run, so an edit or a new run never serves a stale tile.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from api import mvt
from api.deps import PrincipalDep, require
from api.geojson import check_crs
from api.queries import coverage_audit, disclosure_rule, grid_coverage
from api.tilesource import LAYERS, TileRequest, build_tile

router = APIRouter(tags=["tiles"])

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: from this zoom a tile holds a handful of features: built on the event loop once its source is in memory
INLINE_MIN_ZOOM = 11


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.pbf",
    response_class=Response,
    responses={200: {"content": {MVT_MEDIA_TYPE: {}}}, 204: {"description": "empty tile"}},
)
async def tile(
    layer: str,
    z: int,
    x: int,
    y: int,
    request: Request,
    principal: PrincipalDep,
    plan: str | None = Query(None, description="grids layer: plan id (default: the active plan)"),
    method: str = Query("gi", description="hotspots layer: method of the latest run to show"),
    run: str | None = Query(None, description="hotspots layer: a specific run id"),
    period: str | None = Query(None, description="coverage layer: month (2024-11; default: the latest)"),
    crs: str = Query("wgs84", description="wgs84, or gcj02 to overlay a GCJ-02 base map"),
) -> Response:
    """One vector tile (XYZ scheme, y from the top; extent 4096, buffer 64).

    Served from memory when cached (no store access at all).  Otherwise built from the
    in-memory index of its source: on the event loop for small high-zoom tiles, on a worker
    thread for low-zoom tiles, PostGIS, and the first load of a source.
    """
    state = request.app.state
    store, cache = state.store, state.tile_cache
    if layer not in LAYERS:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no tile layer {layer!r}; layers: {', '.join(LAYERS)}"
        )
    if layer == "coverage":
        require("coverage.read")(principal)  # 401 anonymous, 403 without the right
    try:
        mvt.check_tile(z, x, y)
        crs = check_crs(crs)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    source_id, revision = await _resolve(state, store, layer, plan, method, run, period)
    if source_id is None:
        if layer == "coverage":
            detail = "no active plan"
        elif layer == "grids":
            detail = f"no plan {plan!r} with grids" if plan else "no active plan"
        else:
            detail = f"no hotspot run {run!r}" if run else f"no hotspot run for method {method!r}"
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail)
    tile_request = TileRequest(
        layer, source_id, z, x, y, principal.sees_all_cases, disclosure_rule(state.settings), crs
    )
    key = (tile_request, revision, store.url)
    data = cache.peek(key)
    if data is None:
        frame_loader = None
        if layer == "coverage":
            plan_id, month = source_id.split("|", 1)

            def frame_loader():
                audit_result = coverage_audit(store, month, state.settings, plan_id)
                return grid_coverage(store, audit_result, plan_id)

        def build() -> bytes:
            return build_tile(store, tile_request, revision, state.tile_indexes, frame_loader)

        if (
            z >= INLINE_MIN_ZOOM
            and store.backend != "postgis"
            and state.tile_indexes.has(store, tile_request, revision)
        ):
            data = cache.get_or_build(key, build)  # about a millisecond: cheaper than a thread hop
        else:
            data = await run_in_threadpool(cache.get_or_build, key, build)
    headers = {"Cache-Control": "no-cache"}
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MVT_MEDIA_TYPE, headers=headers)


async def _resolve(state, store, layer, plan, method, run, period):
    memo = state.tile_sources
    hit = memo.peek(store, layer, plan, method, run, period)
    if hit is not None:
        return hit
    return await run_in_threadpool(memo.resolve, store, layer, plan, method, run, period)
