"""Case import (multipart upload) and the geocoding review queue (``intake`` right: admins).

Uploads larger than ``settings.max_upload_bytes`` are refused with 413 before they are
stored; small files are imported at once, larger ones (over ``BACKGROUND_IMPORT_BYTES``)
in a background job.  Review items carry case text: personal fields are masked unless the
role may see them, and unmasked reads are audited.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import Principal, audit
from api.deps import JobsDep, SettingsDep, StoreDep, require
from api.geojson import to_jsonable
from api.queries import present_cases
from gridmap.geocode import intake

router = APIRouter(tags=["intake"])

Clerk = Annotated[Principal, Depends(require("intake"))]
#: files above this size are imported in a background job (bytes)
BACKGROUND_IMPORT_BYTES = 2 * 1024 * 1024
ALLOWED_SUFFIXES = (".csv", ".xlsx", ".xls", ".json", ".geojson", ".gpkg")
_CHUNK = 1024 * 1024


def too_large(size: int | None, limit: int) -> HTTPException:
    got = f"{size / 1e6:.1f} MB" if size is not None else "more"
    return HTTPException(
        413,
        f"file too large: {got}, the limit is {limit / 1e6:.1f} MB (settings.max_upload_bytes); "
        "split the file or ask the administrator to raise the limit",
    )


def _save_upload(upload: UploadFile, limit: int) -> tuple[Path, int]:
    """Copy the upload to a temporary file, refusing it (413) as soon as it passes ``limit``."""
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            f"file type {suffix or '(none)'} not supported; use {', '.join(ALLOWED_SUFFIXES)}")
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


@router.post("/imports", responses={202: {"description": "large file: imported by a background job"},
                                    413: {"description": "file larger than settings.max_upload_bytes"}})
def import_cases(
    store: StoreDep,
    settings: SettingsDep,
    jobs: JobsDep,
    principal: Clerk,
    file: Annotated[UploadFile, File(description="cases as CSV, Excel, GeoJSON or GeoPackage")],
) -> Any:
    """Import cases: parse, check coordinates, geocode addresses, assign grids; doubtful
    rows go to the review queue.  Returns the import summary (or a job for large files)."""
    path, size = _save_upload(file, settings.max_upload_bytes)

    source = file.filename or path.name

    def work(progress=None) -> Any:
        try:
            result = intake.import_cases(store, path, filename=source, actor=principal.actor)
            audit(store, principal, "cases.import", "import", [source], {"bytes": size})
            return to_jsonable(result)
        finally:
            path.unlink(missing_ok=True)

    if size > BACKGROUND_IMPORT_BYTES:
        job_id = jobs.submit("import", work, {"file": source, "bytes": size}, actor=principal.actor)
        return JSONResponse({"job_id": job_id, "href": f"/api/v1/jobs/{job_id}"}, status_code=202)
    return work()


@router.get("/review")
def review_queue(store: StoreDep, principal: Clerk,
                 limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)) -> dict:
    """Cases whose location needs a human decision (oldest first), with candidate addresses."""
    items = present_cases(store, principal, intake.review_queue(store, limit=limit, offset=offset), "review.read")
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
    result = intake.resolve_review(store, case_id, body.action, address_id=body.address_id, lon=body.lon,
                                   lat=body.lat, reason=body.reason, actor=principal.actor)
    audit(store, principal, f"review.{body.action}", "case", [case_id])
    return {"case_id": case_id, **to_jsonable(result)}
