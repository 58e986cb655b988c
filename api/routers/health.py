"""Liveness and the front end's configuration."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PrincipalDep, SettingsDep, StoreDep
from gridmap.domain import vocabulary

router = APIRouter(tags=["health"])


@router.get("/api/health")
@router.get("/api/v1/health")
def health(store: StoreDep) -> dict:
    """Whether the server and its store answer; the store backend, schema version and active plan."""
    return {
        "status": "ok",
        "backend": store.backend,
        "schema_version": store.schema_version(),
        "active_plan": store.active_plan_id(),
    }


@router.get("/api/v1/config")
def client_config(settings: SettingsDep, principal: PrincipalDep) -> dict:
    """What the web page needs to start: base map, privacy threshold, the domain vocabulary
    (area, case kinds, categories and statuses with zh/en labels; see gridmap.domain) and who is signed in."""
    return {
        "basemap_url": settings.basemap_url,
        "basemap_crs": settings.basemap_crs,
        "basemap_attribution": settings.basemap_attribution,
        "tianditu": tianditu_config(settings),
        "suppress_counts_below": settings.suppress_counts_below,
        "max_upload_bytes": settings.max_upload_bytes,
        "grid_target_households": settings.grid_target_households,
        "grid_min_households": settings.grid_min_households,
        "grid_max_households": settings.grid_max_households,
        "grid_tolerance": settings.grid_tolerance,
        "vocabulary": vocabulary(),
        "user": {"username": principal.username, "role": principal.role, "rights": sorted(principal.rights)},
    }


def tianditu_config(settings) -> dict | None:
    """The Tianditu WMTS the page draws under everything (None when not configured).

    The key is a browser key (天地图 keys are made for the browser, which fetches the tiles).
    """
    if not settings.tianditu_url:
        return None
    matrix_set = settings.tianditu_matrix_set.strip().lower()
    if matrix_set not in ("c", "w"):
        raise ValueError(
            f"GRIDMAP_TIANDITU_MATRIX_SET={settings.tianditu_matrix_set!r}: use c (EPSG:4490) or w"
        )
    layers = [x.strip() for x in settings.tianditu_layers.split(",") if x.strip()]
    return {
        "url": settings.tianditu_url.rstrip("/"),
        "key": settings.tianditu_key,
        "matrix_set": matrix_set,
        "layers": layers,
        "attribution": settings.basemap_attribution or "天地图",
    }
