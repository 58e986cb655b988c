"""The FastAPI application: ``create_app(settings=None, store=None)``.

* ``/api/v1/...`` REST (OpenAPI at ``/openapi.json``, Swagger UI at ``/docs`` from the vendored
  files — nothing is fetched from the internet; ReDoc is disabled);
* ``/ogc/...`` OGC API – Features (read by QGIS and GDAL's OAPIF driver);
* ``/tiles/{layer}/{z}/{x}/{y}.pbf`` Mapbox vector tiles;
* ``/`` the front end (``settings.web_dir``), its libraries under ``/vendor``.

Errors meant for the user come back as JSON ``{"detail": message}``:
:class:`~gridmap.errors.InputError` → 400, :class:`~gridmap.errors.ValidationError` → 422.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api import contract, limits
from api.jobs import JobManager
from api.mvt import TileCache
from api.privacy import install_log_filter
from api.tilesource import SourceIndexCache, SourceMemo
from gridmap.config import Settings, get_settings
from gridmap.errors import GridmapError, InputError, ValidationError
from gridmap.store.base import Store, StoreError

log = logging.getLogger("api")

API_PREFIX = "/api/v1"
VENDOR = "/vendor"


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ValidationError)
    async def _validation(_req: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(InputError)
    async def _input(_req: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(StoreError)
    async def _store(_req: Request, exc: StoreError) -> JSONResponse:
        # the driver's message names hosts and SQL: the log gets it, the caller a plain answer
        log.warning("store unavailable: %s", exc)
        return JSONResponse(
            {"detail": "the database is unavailable; try again shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(GridmapError)
    async def _gridmap(_req: Request, exc: GridmapError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _request(_req: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes the offending input back; it could be personal data
        errors = [{"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)


#: multipart framing around an uploaded file (boundaries, part headers), bytes
MULTIPART_OVERHEAD = 64 * 1024


def _upload_limit(app: FastAPI, settings: Settings) -> None:
    """Refuse an oversized import from its Content-Length, before the body is read."""

    @app.middleware("http")
    async def limit_upload(request: Request, call_next):
        if request.method == "POST" and request.url.path == f"{API_PREFIX}/imports":
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > settings.max_upload_bytes + MULTIPART_OVERHEAD:
                from api.routers.intake import too_large

                exc = too_large(int(length), settings.max_upload_bytes)
                return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return await call_next(request)


def content_security_policy(settings: Settings, inline_scripts: bool = False) -> str:
    """The page may load from this server only (plus the configured base-map tiles):
    the browser itself then refuses any request to the outside."""
    from urllib.parse import urlsplit

    images = ["'self'", "data:", "blob:"]
    for url in (settings.basemap_url, settings.tianditu_url):
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme and parts.netloc:
            # a {s} subdomain (a.tile…, t0.tianditu…) → a wildcard for the leftmost label
            host = (
                "*." + parts.netloc.split(".", 1)[1]
                if "{s}" in parts.netloc and "." in parts.netloc
                else parts.netloc
            )
            images.append(f"{parts.scheme}://{host}")
    scripts = "'self' 'unsafe-inline'" if inline_scripts else "'self'"
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        f"img-src {' '.join(images)}; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
        "base-uri 'self'; frame-ancestors 'self'"
    )


def _security_headers(app: FastAPI, settings: Settings) -> None:
    page_policy = content_security_policy(settings)
    docs_policy = content_security_policy(settings, inline_scripts=True)  # Swagger UI starts inline

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        docs = request.url.path.startswith("/docs")
        response.headers.setdefault("Content-Security-Policy", docs_policy if docs else page_policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _docs_routes(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="gridmap API",
            swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            # the validator badge would call validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """The gridmap web application.

    ``settings`` default to :func:`gridmap.config.get_settings`; ``store`` defaults to
    ``open_store()`` on those settings (the app closes only a store it opened itself).
    Background jobs run on a 2-thread pool shut down with the app.
    """
    from api import ogc
    from api.routers import (
        admin_units,
        auth,
        cases,
        coverage,
        field,
        forecast,
        health,
        hotspots,
        intake,
        jobs,
        petitions,
        plans,
        tiles,
    )

    settings = settings or get_settings()
    owns_store = store is None
    if store is None:
        from gridmap.store import open_store

        store = open_store(settings.database_url or settings.gpkg_path)
    store.init()
    install_log_filter()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.jobs.shutdown(wait=False)
        if owns_store:
            store.close()

    app = FastAPI(
        title="gridmap",
        summary="Grid-based social governance (网格化管理): grids, cases, hotspots, coverage",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.jobs = JobManager(store)
    app.state.tile_cache = TileCache()
    app.state.tile_sources = SourceMemo()
    app.state.tile_indexes = SourceIndexCache()

    _error_handlers(app)
    _upload_limit(app, settings)
    limits.install(app, settings)
    limits.limit_malloc_arenas()
    limits.disable_huge_pages()
    contract.install(app)
    _security_headers(app, settings)
    _docs_routes(app)
    app.include_router(health.router)
    for module in (
        auth,
        admin_units,
        plans,
        cases,
        hotspots,
        forecast,
        coverage,
        intake,
        jobs,
        petitions,
        field,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(tiles.router)
    app.include_router(ogc.router)

    # last: everything no route above claimed is a file of the front end (vendor/ included)
    app.mount("/", StaticFiles(directory=settings.web_dir, html=True), name="web")
    return app
