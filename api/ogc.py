"""OGC API – Features (Part 1: Core) at ``/ogc``: what QGIS and GDAL's OAPIF driver read.

Collections (aggregates only — no personal data):

* ``admin-city``, ``admin-county``, ``admin-township``, ``admin-village``: administrative units;
* ``grids``: the grids of the active plan (households, population, compactness);
* ``hotspots-<method>``: the results of the latest hotspot run of each method (Gi* bins,
  emerging-hot-spot labels); counts below ``settings.suppress_counts_below`` are null with
  ``suppressed = true`` unless the request carries the token of a role that reads every case;
* ``coverage-findings``: grid-level coverage findings of the audit (grids without a worker,
  not visited, patrols not reaching addresses) with the grid polygon; ``datetime`` (a day
  or an interval) chooses the audited period.

Conformance: core, geojson, html, oas30.  ``f=json`` (default; GeoJSON for features,
``application/geo+json``) or ``f=html``; an ``Accept: text/html`` header also selects HTML.
Coordinates are CRS84 (lon/lat degrees).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import PrincipalDep, SettingsDep, StoreDep
from api.geojson import GEOJSON_MEDIA_TYPE, feature_collection_text, parse_bbox, records
from api.limits import answer_cap, feature_cap, features_within
from api.queries import coverage_audit, disclosure_rule, run_labels, suppress_frame
from api.tilesource import latest_hotspot_runs
from gridmap.errors import InputError
from gridmap.store.base import Store

router = APIRouter(prefix="/ogc", tags=["OGC API - Features"])

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10000
ADMIN_LEVELS = {"city": "市", "county": "旗县区", "township": "苏木乡镇街道", "village": "嘎查村社区"}
GRID_FINDINGS = ("no_active_worker", "not_visited_n_days", "patrol_does_not_reach")


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    id_column: str
    properties: tuple[str, ...]
    load: Callable[..., gpd.GeoDataFrame]  # (store, settings, principal, bbox, datetime) → frame
    temporal: bool = False


def _admin_loader(level: str):
    def load(store: Store, _settings, _principal, bbox, _dt) -> gpd.GeoDataFrame:
        return store.read("admin_units", where={"level": level}, bbox=bbox, order_by=["code"])

    return load


def _load_grids(store: Store, _settings, _principal, bbox, _dt) -> gpd.GeoDataFrame:
    plan_id = store.active_plan_id()
    if plan_id is None:
        return _empty()
    return store.read("grids", where={"plan_id": plan_id}, bbox=bbox, order_by=["code"])


def _hotspot_loader(method: str, run_ids: list[str]):
    """Results of ``run_ids`` (one run, or every city's newest run of ``method``), each run
    disclosed by its own labels, ordered by unit id."""

    def load(store: Store, settings, principal, bbox, _dt) -> gpd.GeoDataFrame:
        parts = []
        for run_id in run_ids:
            rows = store.read("hotspot_results", where={"run_id": run_id}, bbox=bbox, order_by=["unit_id"])
            parts.append(
                suppress_frame(
                    rows,
                    ["count"],
                    disclosure_rule(settings),
                    principal.sees_all_cases,
                    cell_labels=run_labels(store, run_id, rows["unit_id"]),
                    derived_columns=["value"],
                    statistics=True,
                )
            )
        if len(parts) == 1:
            return parts[0]
        return pd.concat(parts, ignore_index=True).sort_values("unit_id", ignore_index=True)

    return load


def _load_findings(store: Store, settings, _principal, bbox, dt) -> gpd.GeoDataFrame:
    plan_id = store.active_plan_id()
    if plan_id is None:
        return _empty()
    result = coverage_audit(store, _period_of(dt), settings, plan_id)
    findings = result.findings[result.findings["kind"].isin(GRID_FINDINGS)].reset_index(drop=True)
    grids = store.read("grids", where={"plan_id": plan_id}, columns=["code", "geometry"], bbox=bbox)
    out = grids.merge(findings.drop(columns=["worker_id"]), left_on="code", right_on="grid_code")
    out["finding_id"] = out["kind"] + ":" + out["grid_code"].astype(str)
    out["period"] = str(result.period)
    return out.sort_values("finding_id", ignore_index=True)


def _period_of(dt: str | None) -> str | None:
    """OGC ``datetime`` (a day or ``start/end``, open ends ``..``) → an audit period spec."""
    if not dt:
        return None
    parts = [p.strip()[:10] for p in dt.split("/")]
    if len(parts) == 1:
        return parts[0]
    start, end = parts
    if start in ("", "..") or end in ("", ".."):
        raise InputError("datetime: give a closed interval (start/end) for the audited period")
    return f"{start}/{end}"


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": []}, geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def collections(store: Store) -> dict[str, Collection]:
    """The collections this store offers now (hotspot ones depend on the runs present)."""
    out: dict[str, Collection] = {}
    for level, zh in ADMIN_LEVELS.items():
        out[f"admin-{level}"] = Collection(
            f"admin-{level}",
            f"行政区划：{zh} / admin units: {level}",
            f"Administrative units of level {level} (code, name, parent code).",
            "code",
            ("code", "name", "level", "parent_code"),
            _admin_loader(level),
        )
    out["grids"] = Collection(
        "grids",
        "网格（现行方案）/ grids of the active plan",
        "Management grids of the active plan: households, population, Polsby-Popper compactness.",
        "code",
        (
            "code",
            "plan_id",
            "village_code",
            "township_code",
            "county_code",
            "households",
            "population",
            "polsby_popper",
        ),
        _load_grids,
    )
    methods = store.read("hotspot_runs", columns=["method"])["method"].astype(str)
    for method in sorted(set(methods)):
        # one run, or each city's newest in a store of several cities (api.tilesource)
        run_ids = latest_hotspot_runs(store, method)
        which = f"hotspot run {run_ids[0]}" if len(run_ids) == 1 else f"hotspot runs {', '.join(run_ids)}"
        out[f"hotspots-{method}"] = Collection(
            f"hotspots-{method}",
            f"热点分析（{method}，最新）/ hotspots: latest {method} run",
            f"Aggregated results of {which} (method {method}); small counts suppressed.",
            "unit_id",
            ("unit_id", "run_id", "count", "value", "z", "p", "p_fdr", "bin", "label", "suppressed"),
            _hotspot_loader(method, run_ids),
        )
    out["coverage-findings"] = Collection(
        "coverage-findings",
        "巡查覆盖问题 / coverage findings",
        "Grid-level findings of the coverage audit (no worker, not visited, patrols not reaching addresses). "
        "datetime selects the audited period (a day or start/end).",
        "finding_id",
        (
            "finding_id",
            "kind",
            "grid_code",
            "figure",
            "threshold",
            "unit",
            "message_zh",
            "message_en",
            "period",
        ),
        _load_findings,
        temporal=True,
    )
    return out


# --- representation ------------------------------------------------------------------------
def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _wants_html(request: Request, f: str | None) -> bool:
    if f:
        if f not in ("json", "html"):
            raise InputError(f"f={f!r}: use json or html")
        return f == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def _html_page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>'
        f"{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _link_list(links: list[dict]) -> str:
    return (
        "<ul>"
        + "".join(
            f'<li><a href="{html.escape(link["href"])}">{html.escape(link.get("title") or link["rel"])}</a> '
            f"({html.escape(link['rel'])}, {html.escape(link.get('type', ''))})</li>"
            for link in links
        )
        + "</ul>"
    )


def _error(status_code: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"code": code, "description": description}, status_code=status_code)


@router.get("", include_in_schema=False)
@router.get("/", summary="Landing page")
def landing(request: Request, f: str | None = None) -> Response:
    base = _base(request)
    links = [
        {"href": f"{base}?f=json", "rel": "self", "type": "application/json", "title": "this document"},
        {"href": f"{base}?f=html", "rel": "alternate", "type": "text/html", "title": "this document as HTML"},
        {"href": f"{base}/api", "rel": "service-desc", "type": OPENAPI_MEDIA_TYPE, "title": "API definition"},
        {
            "href": str(request.base_url).rstrip("/") + "/docs",
            "rel": "service-doc",
            "type": "text/html",
            "title": "API documentation",
        },
        {
            "href": f"{base}/conformance",
            "rel": "conformance",
            "type": "application/json",
            "title": "conformance classes",
        },
        {"href": f"{base}/collections", "rel": "data", "type": "application/json", "title": "collections"},
    ]
    doc = {
        "title": "gridmap 网格化管理",
        "description": "Grids, admin units, hotspots and coverage findings "
        "of the gridmap store (aggregates only).",
        "links": links,
    }
    if _wants_html(request, f):
        return _html_page(doc["title"], f"<p>{html.escape(doc['description'])}</p>{_link_list(links)}")
    return JSONResponse(doc)


@router.get("/conformance", summary="Conformance classes")
def conformance(request: Request, f: str | None = None) -> Response:
    if _wants_html(request, f):
        return _html_page("Conformance", "<ul>" + "".join(f"<li>{c}</li>" for c in CONFORMANCE) + "</ul>")
    return JSONResponse({"conformsTo": CONFORMANCE})


def _extent(store: Store) -> list[float]:
    """The city's bounding box (every collection lies in it), CRS84 degrees."""
    city = store.read("admin_units", where={"level": "city"}, columns=["geometry"])
    frame = city if len(city) else store.read("admin_units", columns=["geometry"])
    if frame.empty:
        return [-180.0, -90.0, 180.0, 90.0]
    return [round(float(v), 6) for v in frame.total_bounds]


def _collection_doc(request: Request, coll: Collection, extent: list[float]) -> dict:
    base = _base(request)
    doc = {
        "id": coll.id,
        "title": coll.title,
        "description": coll.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [extent], "crs": CRS84}},
        "links": [
            {"href": f"{base}/collections/{coll.id}?f=json", "rel": "self", "type": "application/json"},
            {"href": f"{base}/collections/{coll.id}?f=html", "rel": "alternate", "type": "text/html"},
            {
                "href": f"{base}/collections/{coll.id}/items?f=json",
                "rel": "items",
                "type": GEOJSON_MEDIA_TYPE,
                "title": coll.title,
            },
            {"href": f"{base}/collections/{coll.id}/items?f=html", "rel": "items", "type": "text/html"},
        ],
    }
    if coll.temporal:
        doc["extent"]["temporal"] = {
            "interval": [[None, None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return doc


@router.get("/collections", summary="Feature collections")
def list_collections(request: Request, store: StoreDep, f: str | None = None) -> Response:
    base = _base(request)
    extent = _extent(store)
    docs = [_collection_doc(request, c, extent) for c in collections(store).values()]
    links = [
        {"href": f"{base}/collections?f=json", "rel": "self", "type": "application/json"},
        {"href": f"{base}/collections?f=html", "rel": "alternate", "type": "text/html"},
    ]
    if _wants_html(request, f):
        rows = "".join(
            f'<li><a href="{html.escape(d["links"][3]["href"])}">{html.escape(d["id"])}</a>: '
            f"{html.escape(d['title'])}</li>"
            for d in docs
        )
        return _html_page("Collections", f"<ul>{rows}</ul>")
    return JSONResponse({"links": links, "collections": docs})


@router.get("/collections/{collection_id}", summary="One feature collection")
def get_collection(collection_id: str, request: Request, store: StoreDep, f: str | None = None) -> Response:
    coll = collections(store).get(collection_id)
    if coll is None:
        return _error(404, "NotFound", f"no collection {collection_id}")
    doc = _collection_doc(request, coll, _extent(store))
    if _wants_html(request, f):
        return _html_page(coll.title, f"<p>{html.escape(coll.description)}</p>{_link_list(doc['links'])}")
    return JSONResponse(doc)


def _page_links(
    request: Request,
    coll: Collection,
    params: dict,
    offset: int,
    limit: int,
    matched: int,
    html_too: bool = True,
) -> list[dict]:
    base = f"{_base(request)}/collections/{coll.id}/items"

    def href(fmt: str, new_offset: int) -> str:
        q = {k: v for k, v in params.items() if v is not None}
        q.update({"f": fmt, "limit": limit, "offset": new_offset})
        return f"{base}?{urlencode(q)}"

    links = [
        {"href": href("json", offset), "rel": "self", "type": GEOJSON_MEDIA_TYPE, "title": "this page"},
        {"href": href("html", offset), "rel": "alternate", "type": "text/html", "title": "this page as HTML"},
        {"href": f"{_base(request)}/collections/{coll.id}", "rel": "collection", "type": "application/json"},
    ]
    if offset + limit < matched:
        links.append(
            {
                "href": href("json", offset + limit),
                "rel": "next",
                "type": GEOJSON_MEDIA_TYPE,
                "title": "next page",
            }
        )
    if offset > 0:
        links.append(
            {
                "href": href("json", max(offset - limit, 0)),
                "rel": "prev",
                "type": GEOJSON_MEDIA_TYPE,
                "title": "previous page",
            }
        )
    return links


def _features_html(coll: Collection, frame: pd.DataFrame, links: list[dict]) -> HTMLResponse:
    cols = [c for c in coll.properties if c in frame.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in (row.get(c) for c in cols))
        + "</tr>"
        for row in records(frame[cols])
    )
    return _html_page(coll.title, f"{_link_list(links)}<table><tr>{head}</tr>{body}</table>")


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a collection",
    response_class=Response,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}},
)
def items(
    collection_id: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    f: str | None = None,
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat (CRS84)"),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0),
    datetime_: str | None = Query(
        None, alias="datetime", description="coverage-findings: a day or start/end"
    ),
) -> Response:
    coll = collections(store).get(collection_id)
    if coll is None:
        return _error(404, "NotFound", f"no collection {collection_id}")
    try:
        box = parse_bbox(bbox)
    except InputError as exc:
        return _error(400, "InvalidParameterValue", str(exc))
    # a server may return fewer items than asked (OGC API – Features, /req/core/fc-limit-response-1):
    # the role's cap bounds the page, the next link gives the rest
    limit = min(limit, feature_cap(principal, settings))
    frame = coll.load(store, settings, principal, box, datetime_ if coll.temporal else None)
    matched = len(frame)
    page = frame.iloc[offset : offset + limit]
    props = [c for c in coll.properties if c in page.columns]
    cap = answer_cap(principal, settings)
    if cap is not None and len(page):  # a shorter page (and a next link) rather than a refusal
        limit = max(1, min(len(page), features_within(page, cap, len(props))))
        page = page.iloc[:limit]
    links = _page_links(request, coll, {"bbox": bbox, "datetime": datetime_}, offset, limit, matched)
    if _wants_html(request, f):
        return _features_html(coll, page, links)
    text = feature_collection_text(
        page,
        coll.id_column if len(page) else None,
        props,
        members={
            "numberMatched": matched,
            "numberReturned": len(page),
            "links": links,
            "timeStamp": datetime.now().astimezone().isoformat(timespec="seconds"),
        },
    )
    return Response(text, media_type=GEOJSON_MEDIA_TYPE)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature",
    response_class=Response,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}},
)
def item(
    collection_id: str,
    feature_id: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    f: str | None = None,
) -> Response:
    coll = collections(store).get(collection_id)
    if coll is None:
        return _error(404, "NotFound", f"no collection {collection_id}")
    frame = coll.load(store, settings, principal, None, None)
    match = frame[frame[coll.id_column].astype(str) == feature_id] if len(frame) else frame
    if match.empty:
        return _error(404, "NotFound", f"no feature {feature_id} in {collection_id}")
    base = f"{_base(request)}/collections/{coll.id}"
    links = [
        {"href": f"{base}/items/{feature_id}?f=json", "rel": "self", "type": GEOJSON_MEDIA_TYPE},
        {"href": f"{base}/items/{feature_id}?f=html", "rel": "alternate", "type": "text/html"},
        {"href": f"{base}?f=json", "rel": "collection", "type": "application/json"},
    ]
    if _wants_html(request, f):
        return _features_html(coll, match, links)
    props = [c for c in coll.properties if c in match.columns]
    collection = json.loads(feature_collection_text(match.head(1), coll.id_column, props))
    feature = collection["features"][0]
    feature["links"] = links
    return Response(json.dumps(feature, ensure_ascii=False), media_type=GEOJSON_MEDIA_TYPE)


@router.get(
    "/api",
    summary="OpenAPI 3.0 definition of this OGC API",
    response_class=Response,
    responses={200: {"content": {OPENAPI_MEDIA_TYPE: {}}}},
)
def api_definition(request: Request, store: StoreDep) -> Response:
    return Response(
        json.dumps(openapi_document(request, store), ensure_ascii=False), media_type=OPENAPI_MEDIA_TYPE
    )


def openapi_document(request: Request, store: Store) -> dict[str, Any]:
    """A small OpenAPI 3.0.3 document of the OGC endpoints (one items path per collection)."""

    def param(name: str, schema: dict, where: str = "query", required: bool = False, desc: str = "") -> dict:
        return {
            "name": name,
            "in": where,
            "required": required,
            "schema": schema,
            "description": desc,
            "style": "form",
            "explode": False,
        }

    common = [param("f", {"type": "string", "enum": ["json", "html"]}, desc="representation")]
    paging = [
        param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        param("offset", {"type": "integer", "minimum": 0, "default": 0}),
        param("bbox", {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
    ]
    ok_json = {"200": {"description": "OK", "content": {"application/json": {}, "text/html": {}}}}
    ok_geo = {"200": {"description": "OK", "content": {GEOJSON_MEDIA_TYPE: {}, "text/html": {}}}}
    paths: dict[str, Any] = {
        "/": {
            "get": {
                "summary": "Landing page",
                "operationId": "getLandingPage",
                "parameters": common,
                "responses": ok_json,
            }
        },
        "/conformance": {
            "get": {
                "summary": "Conformance",
                "operationId": "getConformance",
                "parameters": common,
                "responses": ok_json,
            }
        },
        "/collections": {
            "get": {
                "summary": "Collections",
                "operationId": "getCollections",
                "parameters": common,
                "responses": ok_json,
            }
        },
    }
    for cid, coll in collections(store).items():
        extra = [param("datetime", {"type": "string"})] if coll.temporal else []
        paths[f"/collections/{cid}"] = {
            "get": {
                "summary": coll.title,
                "operationId": f"describe-{cid}",
                "parameters": common,
                "responses": ok_json,
            }
        }
        paths[f"/collections/{cid}/items"] = {
            "get": {
                "summary": f"Features of {cid}",
                "operationId": f"getFeatures-{cid}",
                "parameters": [*common, *paging, *extra],
                "responses": ok_geo,
            }
        }
        paths[f"/collections/{cid}/items/{{featureId}}"] = {
            "get": {
                "summary": f"One feature of {cid}",
                "operationId": f"getFeature-{cid}",
                "parameters": [*common, param("featureId", {"type": "string"}, "path", True)],
                "responses": ok_geo,
            }
        }
    for spec in paths.values():  # path parameters are simple style
        for p in spec["get"]["parameters"]:
            if p["in"] == "path":
                p["style"] = "simple"
    return {
        "openapi": "3.0.3",
        "info": {"title": "gridmap OGC API - Features", "version": "1.0.0"},
        "servers": [{"url": _base(request)}],
        "paths": paths,
    }
