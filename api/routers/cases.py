"""Cases (矛盾纠纷 disputes and 信访 petitions): paginated listing, points for the map, one case.

Access: roles with ``cases.read``; grid workers only the cases of their own grids.
Personal fields are masked unless the role holds ``cases.personal``; unmasked reads are audited.
Filters travel in the query string, so none of them takes personal data.
"""

from __future__ import annotations

from typing import Annotated

import geopandas as gpd
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from api.auth import Principal
from api.deps import CaseScopeDep, StoreDep, require
from api.geojson import GEOJSON_MEDIA_TYPE, check_crs, feature_collection_text, parse_bbox, records
from api.queries import CASE_COLUMNS, POINT_COLUMNS, present_cases
from gridmap.cases import CaseFilter, count_cases, read_cases
from gridmap.domain import CASE_KINDS, CASE_STATUSES, STATUS_GROUPS
from gridmap.store.base import Op

router = APIRouter(tags=["cases"])

CaseReader = Annotated[Principal, Depends(require("cases.read"))]


def case_filter(
    kind: str | None = Query(None, description=" | ".join(CASE_KINDS) + " (comma-separated for several)"),
    category: str | None = Query(None, description="case category, e.g. neighbour, wages, petition_land"),
    status_: str | None = Query(
        None, alias="status", description=" | ".join([*CASE_STATUSES, *STATUS_GROUPS])
    ),
    date_from: str | None = Query(None, alias="from", description="reported at or after (ISO date/time)"),
    date_to: str | None = Query(None, alias="to", description="reported before (ISO date/time)"),
    admin: str | None = Query(
        None, description="county (6 digits), township (9), village (12) or grid (15) code"
    ),
    grid: str | None = Query(None, description="grid code (15 digits)"),
) -> CaseFilter:
    return CaseFilter.from_dict(
        {
            "kind": kind,
            "category": category,
            "status": status_,
            "start": date_from,
            "end": date_to,
            "admin": admin,
            "grid": grid,
        }
    )


CaseFilterDep = Annotated[CaseFilter, Depends(case_filter)]


@router.get("/cases")
def list_cases(
    request: Request,
    store: StoreDep,
    principal: CaseReader,
    scope: CaseScopeDep,
    flt: CaseFilterDep,
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat (WGS-84 degrees)"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict:
    """One page of cases (oldest first) with ``total`` and a ``next`` link while more remain."""
    box = parse_bbox(bbox)
    page = read_cases(store, flt, CASE_COLUMNS, scope, limit, offset, box)
    total = count_cases(store, flt, scope, box)
    page = present_cases(store, principal, page, "case.list")

    def link(new_offset: int) -> str:
        return str(request.url.include_query_params(offset=new_offset, limit=limit))

    return {
        "items": records(page),
        "total": total,
        "limit": limit,
        "offset": offset,
        "next": link(offset + limit) if offset + limit < total else None,
        "prev": link(max(offset - limit, 0)) if offset > 0 else None,
    }


@router.get("/cases/points", response_class=Response, responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}})
def case_points(
    store: StoreDep,
    _principal: CaseReader,
    scope: CaseScopeDep,
    flt: CaseFilterDep,
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat (WGS-84 degrees)"),
    limit: int = Query(20000, ge=1, le=100000),
    crs: str = Query("wgs84", description="wgs84 or gcj02"),
) -> Response:
    """Geocoded case points for clustering on the map: id, kind, category, status, time, grid
    (no personal fields).  ``numberMatched`` tells when ``limit`` cut the set."""
    box = parse_bbox(bbox)
    page = read_cases(store, flt, [*POINT_COLUMNS, "geometry"], scope, limit, 0, box)
    total = count_cases(store, flt, scope, box)
    if not isinstance(page, gpd.GeoDataFrame):
        page = gpd.GeoDataFrame(page, geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    page = page[~page.geometry.isna() & ~page.geometry.is_empty]
    text = feature_collection_text(
        page,
        "case_id",
        POINT_COLUMNS,
        check_crs(crs),
        members={"numberMatched": total, "numberReturned": len(page)},
    )
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


@router.get("/cases/range")
def case_range(store: StoreDep) -> dict:
    """First and last ``reported_at`` of all cases (public: it names no case), for time sliders."""
    first = store.read(
        "cases",
        columns=["reported_at"],
        where={"reported_at": Op("!=", None)},
        order_by=["reported_at"],
        limit=1,
    )
    last = store.read(
        "cases",
        columns=["reported_at"],
        where={"reported_at": Op("!=", None)},
        order_by=["-reported_at"],
        limit=1,
    )
    return {
        "first": None if first.empty else str(first["reported_at"].iloc[0]),
        "last": None if last.empty else str(last["reported_at"].iloc[0]),
    }


@router.get("/cases/{case_id}")
def get_case(case_id: str, store: StoreDep, principal: CaseReader, scope: CaseScopeDep) -> dict:
    """One case; 404 when it does not exist or lies outside the user's grids."""
    where = {"case_id": case_id}
    if scope is not None:
        where["grid_code"] = scope
    rows = store.read("cases", where=where, columns=CASE_COLUMNS)
    if rows.empty:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such case, or not one you may see")
    return records(present_cases(store, principal, rows, "case.read"))[0]
