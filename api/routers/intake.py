"""Imports of every kind (multipart upload) and the geocoding review queue (``intake`` right: admins).

Uploads larger than ``settings.max_upload_bytes`` are refused with 413 before they are
stored; small files are imported at once, larger ones (over ``BACKGROUND_IMPORT_BYTES``)
in a background job.  Review items carry case text: personal fields are masked unless the
role may see them, and unmasked reads are audited.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import Principal, audit
from api.deps import JobsDep, SettingsDep, StoreDep, require
from api.geojson import to_jsonable
from api.intake_context import geocode_context
from api.limits import release_memory
from api.queries import present_cases
from gridmap.geocode import intake
from gridmap.imports.init import refuse_synthetic
from gridmap.imports.kinds import KIND_MODULES, run_import

router = APIRouter(tags=["intake"])

Clerk = Annotated[Principal, Depends(require("intake"))]
#: files above this size are imported in a background job (bytes)
BACKGROUND_IMPORT_BYTES = 2 * 1024 * 1024
ALLOWED_SUFFIXES = (".csv", ".txt", ".xlsx", ".xls", ".json", ".geojson", ".gpkg", ".zip", ".kml")
_CHUNK = 1024 * 1024


def too_large(size: int | None, limit: int) -> HTTPException:
    got = f"{size / 1e6:.1f} MB" if size is not None else "more"
    return HTTPException(
        413,
        f"file too large: {got}, the limit is {limit / 1e6:.1f} MB (settings.max_upload_bytes); "
        "split the file or ask the administrator to raise the limit",
    )


def safe_filename(name: str | None, max_length: int = 120) -> str:
    """The name of an uploaded file fit to store and show: its last path component only (no
    ``../``, no directories, either slash), no control or markup characters, at most
    ``max_length`` characters (the suffix kept)."""
    import unicodedata

    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(
        ch
        for ch in unicodedata.normalize("NFC", base)
        if unicodedata.category(ch)[0] != "C" and ch not in '<>:"|?*`$;&'
    )
    base = base.strip().lstrip(".").strip()
    if len(base) > max_length:
        stem, dot, suffix = base.rpartition(".")
        base = (
            (stem[: max_length - len(suffix) - 1] + dot + suffix)
            if dot and len(suffix) <= 10
            else base[:max_length]
        )
    return base


def _save_upload(upload: UploadFile, limit: int) -> tuple[Path, int]:
    """Copy the upload to a temporary file, refusing it (413) as soon as it passes ``limit``."""
    suffix = Path(safe_filename(upload.filename)).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"file type {suffix or '(none)'} not supported; use {', '.join(ALLOWED_SUFFIXES)}",
        )
    fd, name = tempfile.mkstemp(prefix="gridmap-import-", suffix=suffix)
    size = 0
    try:
        with open(fd, "wb") as out:
            while chunk := upload.file.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise too_large(None, limit)
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), size


@router.post(
    "/imports",
    responses={
        202: {"description": "large file or background=true: a background job"},
        413: {"description": "file larger than settings.max_upload_bytes"},
    },
)
def import_file(
    store: StoreDep,
    settings: SettingsDep,
    jobs: JobsDep,
    principal: Clerk,
    file: Annotated[
        UploadFile,
        File(
            description="the file: CSV, Excel, JSON; for polygons a zipped Shapefile, "
            "GeoPackage, GeoJSON or KML"
        ),
    ],
    kind: Annotated[
        str,
        Form(
            description="units, addresses, workers, assignments, patrols, grids, cases, petition_items or petition_visits"
        ),
    ] = "cases",
    mapping: Annotated[
        str | None, Form(description='JSON {"field": "file column"} overriding the aliases')
    ] = None,
    sheet: Annotated[str | None, Form(description="workbooks: the sheet")] = None,
    encoding: Annotated[str | None, Form(description="text files: utf-8, gbk or gb18030")] = None,
    crs: Annotated[
        str | None, Form(description="coordinate system when the file has none (EPSG:NNNN, gcj02, …)")
    ] = None,
    plan: Annotated[str | None, Form(description="grids: the plan name; assignments: the plan")] = None,
    background: Annotated[
        bool, Query(description="always run as a background job (progress at /api/v1/jobs/ID)")
    ] = False,
) -> Any:
    """Import a file of ``kind`` (``gridmap import KIND FILE``): every row accepted, in review or
    rejected with a reason, in one transaction.  Returns the batch report, or — for files over
    2 MB or with ``background=true`` — a job whose progress ``GET /api/v1/jobs/{id}`` shows."""
    if kind not in KIND_MODULES:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"unknown kind {kind!r}; use one of {', '.join(KIND_MODULES)}"
        )
    options: dict[str, Any] = {
        k: v for k, v in {"sheet": sheet, "encoding": encoding, "crs": crs, "plan": plan}.items() if v
    }
    if mapping:
        try:
            parsed = json.loads(mapping)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, 'mapping must be a JSON object {"field": "column"}'
            )
        options["mapping"] = parsed
    path, size = _save_upload(file, settings.max_upload_bytes)

    source = safe_filename(file.filename) or path.name

    def work(progress=None) -> Any:
        try:
            refuse_synthetic(store)  # real rows never go into the synthetic demo
            # cases: the geocoding context is built once per store state, not per upload
            extra = {"context": geocode_context(store)} if kind == "cases" else {}
            result = run_import(
                store,
                kind,
                path,
                filename=source,
                actor=principal.actor,
                progress=progress,
                **options,
                **extra,
            )
            audit(store, principal, f"{kind}.import", "import", [source], {"bytes": size})
            return to_jsonable(result)
        finally:
            path.unlink(missing_ok=True)
            release_memory()

    if background or size > BACKGROUND_IMPORT_BYTES:
        job_id = jobs.submit(
            "import", work, {"file": source, "kind": kind, "bytes": size}, actor=principal.actor
        )
        return JSONResponse({"job_id": job_id, "href": f"/api/v1/jobs/{job_id}"}, status_code=202)
    return work()


@router.get("/review")
def review_queue(
    store: StoreDep, principal: Clerk, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)
) -> dict:
    """Cases whose location needs a human decision (oldest first), with candidate addresses."""
    items = present_cases(
        store, principal, intake.review_queue(store, limit=limit, offset=offset), "review.read"
    )
    total = store.count("cases", {"geocode_status": "review"})
    return {"items": to_jsonable(items), "total": total, "limit": limit, "offset": offset}


class ReviewAction(BaseModel):
    action: str = Field(description="pick (a candidate address) | place (on a point) | reject")
    address_id: str | None = Field(None, description="for pick: the chosen standard address")
    lon: float | None = Field(None, description="for place: WGS-84 longitude")
    lat: float | None = Field(None, description="for place: WGS-84 latitude")
    reason: str | None = Field(None, description="for reject: why")


@router.post("/review/{case_id}")
def resolve(case_id: str, body: ReviewAction, store: StoreDep, principal: Clerk) -> dict:
    """Decide a review item; 400 with the reason when the decision is not valid (e.g. a point
    outside the city)."""
    result = intake.resolve_review(
        store,
        case_id,
        body.action,
        address_id=body.address_id,
        lon=body.lon,
        lat=body.lat,
        reason=body.reason,
        actor=principal.actor,
    )
    audit(store, principal, f"review.{body.action}", "case", [case_id])
    return {"case_id": case_id, **to_jsonable(result)}
