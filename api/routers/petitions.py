"""Petition agency (信访代办): write items and follow-up visits, read agents' KPIs and duties.

* writing items and visits needs ``petitions.write`` (admin, supervisor); every row ends
  accepted or rejected with a reason, and the write is recorded in ``audit_log`` (ids only);
* KPIs need ``kpi.read``; small counts are suppressed for roles without full case access;
* agents' duty table (patrol gaps, follow-ups missing, items overdue) needs ``coverage.read``.

No personal value is read or returned: items and visits hold ids, dates and scores only.
"""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.auth import Principal, audit
from api.deps import SettingsDep, StoreDep, require
from api.geojson import records, to_jsonable
from api.queries import disclosure_rule, suppress_frame
from gridmap.coverage.audit import AuditThresholds, duty_tables
from gridmap.coverage.duty import agents_of
from gridmap.coverage.kpi import ITEM_LEVELS
from gridmap.coverage.periods import parse_period
from gridmap.coverage.petitions import upsert_items, upsert_visits
from gridmap.coverage.service import kpis_from_store, load_petition_items
from gridmap.store.base import Between

router = APIRouter(tags=["petitions"])

Writer = Annotated[Principal, Depends(require("petitions.write"))]
KpiReader = Annotated[Principal, Depends(require("kpi.read"))]
CoverageReader = Annotated[Principal, Depends(require("coverage.read"))]


class Item(BaseModel):
    item_id: str = Field(max_length=64)
    agent_id: str = Field(max_length=64)
    taken_at: str = Field(max_length=32, description="ISO date/time, local time")
    case_id: str | None = Field(None, max_length=64)
    deadline_at: str | None = Field(
        None, max_length=32, description="default: taken_at + the deadline setting"
    )
    done_at: str | None = Field(None, max_length=32)
    status: str | None = Field(None, description="open or done (follows done_at)")
    village_code: str | None = Field(None, max_length=12)
    township_code: str | None = Field(None, max_length=9)
    county_code: str | None = Field(None, max_length=6)


class Visit(BaseModel):
    visit_id: str = Field(max_length=64)
    visited_at: str = Field(max_length=32)
    visitor_id: str | None = Field(None, max_length=64)
    method: str | None = Field(None, description="phone, in_person or wechat")
    satisfaction: int | None = Field(None, description="1–5")


class ItemBatch(BaseModel):
    items: list[Item] = Field(max_length=10000)


def _answer(outcome) -> dict[str, Any]:
    return {**outcome.summary(), "rejected_rows": records(outcome.rejected)}


@router.post("/petition-items")
def write_items(batch: ItemBatch, store: StoreDep, settings: SettingsDep, principal: Writer) -> dict:
    """Create or replace petition items (upsert by ``item_id``); each row accepted or rejected with a reason."""
    frame = pd.DataFrame([i.model_dump() for i in batch.items], columns=list(Item.model_fields))
    outcome = upsert_items(store, frame, settings.petition_item_deadline_days)
    audit(store, principal, "petition_items.write", "petition_item", outcome.accepted["item_id"].tolist())
    return _answer(outcome)


@router.post("/petition-items/{item_id}/visits")
def write_visits(item_id: str, visits: list[Visit], store: StoreDep, principal: Writer) -> dict:
    """Record follow-up visits (回访) of one item (upsert by ``visit_id``)."""
    frame = pd.DataFrame([v.model_dump() for v in visits], columns=list(Visit.model_fields)).assign(
        item_id=item_id
    )
    outcome = upsert_visits(store, frame)
    audit(store, principal, "petition_visits.write", "petition_visit", outcome.accepted["visit_id"].tolist())
    return _answer(outcome)


@router.get("/petition-items")
def list_items(
    store: StoreDep,
    _user: CoverageReader,
    agent: str | None = Query(None, description="agent id"),
    period: str | None = Query(None, description="items taken on in 2022, 2022-12 …"),
) -> list[dict]:
    """Petition items (ids, dates, status, codes), oldest first."""
    where: dict = {}
    if agent:
        where["agent_id"] = agent
    if period:
        p = parse_period(period)
        where["taken_at"] = Between(p.start_iso, p.end_iso)
    items = store.read("petition_items", where=where or None, order_by=["taken_at", "item_id"])
    return records(items)


@router.get("/agents/kpi")
def agent_kpis(
    store: StoreDep,
    settings: SettingsDep,
    principal: KpiReader,
    level: str = Query("agent", description=", ".join(ITEM_LEVELS)),
    period: str = Query(..., description="2022, 2022-12, 2022-Q4 …"),
) -> dict:
    """Items taken/done, done rate, follow-up rate, satisfaction (and petitions, cases and persons) with 同比."""
    if level not in ITEM_LEVELS:
        from gridmap.errors import InputError

        raise InputError(f"level {level!r}: use one of {', '.join(ITEM_LEVELS)}")
    table = kpis_from_store(store, level, period)
    counts = [
        c
        for c in (
            "items_taken",
            "items_done",
            "followed_up",
            "petitions_cases",
            "petitions_persons",
            "found",
            "resolved",
        )
        if c in table.columns
    ]
    derived = [
        c
        for c in ("done_rate", "followup_rate", "mean_visit_satisfaction", "resolution_rate")
        if c in table.columns
    ]
    # small counts hidden and the others perturbed for roles that do not read every case (gridmap.disclosure)
    table = suppress_frame(
        table,
        counts,
        disclosure_rule(settings),
        principal.sees_all_cases,
        derived,
        cell_labels=f"agents|{level}|{period}|" + table["unit_code"].astype(str),
    )
    return {"level": level, "period": str(parse_period(period)), "rows": records(table)}


@router.get("/agents/duty")
def agent_duty(
    store: StoreDep, _user: CoverageReader, period: str = Query(..., description="2024-12, 2024-Q4 …")
) -> dict:
    """Per agent: days patrolled, longest gap, follow-ups missing and items overdue in the period."""
    p = parse_period(period)
    workers = store.read(
        "workers",
        where={"role": "agent"},
        columns=["worker_id", "role", "village_code", "township_code", "active"],
    )
    patrols = (
        store.read(
            "patrols",
            where={
                "ts": Between(p.start_iso, p.end_iso),
                "worker_id": workers["worker_id"].astype(str).tolist(),
            },
            columns=["worker_id", "ts"],
        )
        if len(workers)
        else pd.DataFrame(columns=["worker_id", "ts"])
    )
    items, visits = load_petition_items(store, p)
    thresholds = AuditThresholds.from_settings()
    duty = duty_tables(agents_of(workers), patrols, items, visits, p, thresholds)
    return {"period": str(p), "thresholds": to_jsonable(thresholds.as_dict()), "agents": records(duty.agents)}
