"""Administrative units: city, counties, townships, villages (public: no personal data)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Response, status

from api.deps import PrincipalDep, SettingsDep, StoreDep
from api.geojson import GEOJSON_MEDIA_TYPE, check_crs, feature_collection_text, feature_text, parse_bbox
from api.limits import answer_cap, check_feature_count, count_rows

router = APIRouter(tags=["admin units"])

LEVELS = ("city", "county", "township", "village")
PROPERTIES = ["code", "name", "level", "parent_code"]


@router.get("/admin-units", response_class=Response, responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}})
def admin_units(
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    level: str | None = Query(None, description="city | county | township | village"),
    parent: str | None = Query(None, description="parent unit code: the children of that unit"),
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat (WGS-84 degrees)"),
    crs: str = Query("wgs84", description="wgs84 (RFC 7946) or gcj02 (to overlay a GCJ-02 base map)"),
    simplify: float = Query(
        0, ge=0, le=5000, description="display simplification tolerance in metres (0 = exact)"
    ),
) -> Response:
    """Units as a GeoJSON FeatureCollection (lon/lat), filtered by level and/or parent code."""
    if level is not None and level not in LEVELS:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"level {level!r}: use one of {', '.join(LEVELS)}")
    where = {k: v for k, v in (("level", level), ("parent_code", parent)) if v is not None}
    box = parse_bbox(bbox)
    check_feature_count(count_rows(store, "admin_units", where, box, "code"), principal, settings, "units")
    units = store.read("admin_units", where=where or None, bbox=box, order_by=["code"])
    text = feature_collection_text(
        units,
        "code",
        PROPERTIES,
        check_crs(crs),
        simplify_m=simplify,
        max_bytes=answer_cap(principal, settings),
    )
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


@router.get(
    "/admin-units/labels", response_class=Response, responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}}
)
def admin_unit_labels(
    store: StoreDep,
    level: str = Query(..., description="county | township | village"),
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat (WGS-84 degrees)"),
    crs: str = Query("wgs84", description="wgs84 or gcj02"),
) -> Response:
    """Where to write each unit's name: one point inside each unit (GeoJSON Points with code and name).

    For the page without a base map; a point inside the polygon (``representative_point``),
    not the centroid, which can fall outside a crescent-shaped unit.
    """
    if level not in LEVELS[1:]:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"level {level!r}: use county, township or village")
    units = store.read("admin_units", where={"level": level}, bbox=parse_bbox(bbox), order_by=["code"])
    units = units[units.geometry.notna() & ~units.geometry.is_empty]
    points = units.set_geometry(units.geometry.representative_point())
    text = feature_collection_text(points, "code", PROPERTIES, check_crs(crs))
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


@router.get(
    "/admin-units/{code}", response_class=Response, responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}}
)
def admin_unit(code: str, store: StoreDep, crs: str = "wgs84") -> Response:
    """One unit as a GeoJSON Feature, with the number of its child units."""
    units = store.read("admin_units", where={"code": code})
    if units.empty:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no admin unit {code}")
    children = store.count("admin_units", {"parent_code": code})
    text = feature_text(units.assign(children=children), "code", [*PROPERTIES, "children"], check_crs(crs))
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)
