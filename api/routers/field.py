"""Field intake from the grid worker's phone: ``POST /patrols`` (check-in) and ``POST /cases`` (new case).

Thin over :mod:`gridmap.field`: the worker's own token (right ``field.report``, a user
linked to a worker), the point in one of the worker's own grids (403 otherwise),
idempotent by ``client_id`` (the same id twice → one row and the same answer, 200 instead
of 201; the same id for different content → 409).  Coordinates are GCJ-02 unless ``crs``
says ``wgs84`` or ``bd09``.  Personal fields (party name and phone) travel in the body,
never in the URL, and are not echoed back.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, audit
from api.deps import StoreDep, require
from gridmap.field import ClientIdReusedError, FieldResult, NotOwnGridError, record_case, record_patrol

router = APIRouter(tags=["field"])

FieldWorker = Annotated[Principal, Depends(require("field.report"))]


class PointIn(BaseModel):
    client_id: str = Field(..., min_length=1, max_length=64, description="id the phone chose for this record")
    lon: float = Field(..., description="longitude in degrees, in `crs`")
    lat: float = Field(..., description="latitude in degrees, in `crs`")
    crs: str = Field("gcj02", description="gcj02 (default: what phone map SDKs give) | wgs84 | bd09")


class PatrolIn(PointIn):
    ts: str | None = Field(None, description="check-in time, ISO 8601 (default: now)")


class CaseIn(PointIn):
    kind: str = Field("dispute", description="dispute/矛盾纠纷 | petition/信访")
    category: str | None = Field(None, description="e.g. neighbour/邻里, land/土地")
    reported_at: str | None = Field(None, description="ISO 8601 (default: now)")
    address_text: str | None = Field(None, max_length=500)
    persons: int | None = Field(None, ge=0, le=100_000)
    party_name: str | None = Field(None, max_length=100)
    party_phone: str | None = Field(None, max_length=40)


class FieldOut(BaseModel):
    id: str
    created: bool = Field(..., description="false when this client_id was stored before (a retry)")
    grid_code: str
    lon: float = Field(..., description="stored point, WGS-84 degrees")
    lat: float
    ts: str = Field(..., description="local time (Asia/Shanghai) as stored")


def _worker_id(principal: Principal) -> str:
    if not principal.worker_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this account is not linked to a grid worker")
    return principal.worker_id


async def _run(call, *args, **kwargs) -> FieldResult:
    try:
        return await run_in_threadpool(call, *args, **kwargs)
    except NotOwnGridError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except ClientIdReusedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


def _answer(result: FieldResult, response: Response) -> FieldOut:
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return FieldOut(**result.__dict__)


@router.post("/patrols", response_model=FieldOut, status_code=status.HTTP_201_CREATED)
async def post_patrol(
    body: PatrolIn, store: StoreDep, principal: FieldWorker, response: Response
) -> FieldOut:
    """One patrol check-in (巡查打卡) of the signed-in worker, in one of their grids."""
    worker = _worker_id(principal)
    result = await _run(record_patrol, store, worker, body.client_id, body.lon, body.lat, body.crs, body.ts)
    return _answer(result, response)


@router.post("/cases", response_model=FieldOut, status_code=status.HTTP_201_CREATED)
async def post_case(body: CaseIn, store: StoreDep, principal: FieldWorker, response: Response) -> FieldOut:
    """A case the signed-in worker reports from one of their grids (status ``reported``)."""
    worker = _worker_id(principal)
    result = await _run(
        record_case,
        store,
        worker,
        body.client_id,
        body.lon,
        body.lat,
        body.crs,
        kind=body.kind,
        category=body.category,
        reported_at=body.reported_at,
        address_text=body.address_text,
        persons=body.persons,
        party_name=body.party_name,
        party_phone=body.party_phone,
    )
    if result.created:
        await run_in_threadpool(audit, store, principal, "field_case", "case", [result.id])
    return _answer(result, response)
