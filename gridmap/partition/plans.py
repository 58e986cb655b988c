"""Plans in the store: draft → active → archived, each with its grids and atoms.

A plan is a row of ``plans`` (params as JSON), its grids in ``grids`` and the atoms the
grids are made of in ``plan_atoms`` (atom → grid code).  Creating a plan writes all three in
one transaction; activating one archives the previously active plan.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.domain import LOCAL_TZ, now_local
from gridmap.errors import InputError, ValidationError
from gridmap.partition.grids import GRID_COLUMNS, to_multipolygon

STATUSES = ("draft", "active", "archived")
ATOM_COLUMNS = [
    "atom_id",
    "village_code",
    "grid_code",
    "households",
    "population",
    "workload",
    "h3_cell",
    "resolution",
    "site_id",
]


@dataclass
class Plan:
    """A stored plan: its row fields, grids (store columns, EPSG:4326) and atoms
    (``plan_atoms`` columns, EPSG:4326; empty for plans saved without atoms)."""

    plan_id: str
    name: str
    status: str
    parent_id: str | None
    created_at: str
    params: dict
    note: str
    grids: gpd.GeoDataFrame
    atoms: gpd.GeoDataFrame


def _atoms_with_codes(atoms: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Atoms carrying ``grid_code``: kept when present, else from the grid holding each
    atom's representative point."""
    out = atoms.to_crs(WGS84).copy()
    if "grid_code" not in out.columns or out["grid_code"].isna().any():
        rep = shapely.point_on_surface(np.asarray(out.geometry.to_crs(LOCAL_CRS).values, dtype=object))
        gm = np.asarray(grids.geometry.to_crs(LOCAL_CRS).values, dtype=object)
        ai, gi = shapely.STRtree(gm).query(rep, predicate="within")
        code = np.full(len(out), None, dtype=object)
        code[ai] = grids["code"].astype(str).to_numpy()[gi]
        out["grid_code"] = code
    for c in ATOM_COLUMNS:
        if c not in out.columns:
            out[c] = 0 if c in ("households", "population", "workload", "resolution") else ""
    return out


def create_plan(
    store,
    name: str,
    grids: gpd.GeoDataFrame,
    atoms: gpd.GeoDataFrame | None = None,
    params: dict | None = None,
    parent_id: str | None = None,
    note: str = "",
    status: str = "draft",
) -> str:
    """Save a new plan (``draft`` unless told) with its grids and atoms; returns its plan_id.

    ``grids`` need ``code``, ``village_code``, ``households`` and polygons; ``atoms`` (any
    CRS) either carry ``grid_code`` or are matched to grids by location.
    """
    if status not in STATUSES:
        raise InputError(f"plan status must be one of {STATUSES}")
    if "code" not in grids.columns or grids["code"].isna().any():
        raise InputError("every grid needs a code")
    if grids["code"].duplicated().any():
        raise ValidationError(
            f"grid code {grids.loc[grids['code'].duplicated(), 'code'].iloc[0]} appears twice"
        )
    plan_id = f"plan-{datetime.now(LOCAL_TZ):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    row = pd.DataFrame(
        [
            {
                "plan_id": plan_id,
                "name": name,
                "status": status,
                "parent_id": parent_id,
                "created_at": now_local(),
                "params": json.dumps(params or {}, ensure_ascii=False, default=str),
                "note": note,
            }
        ]
    )
    with store.transaction():
        store.write("plans", row)
        add_plan_grids(store, plan_id, grids, atoms)
    return plan_id


def add_plan_grids(
    store, plan_id: str, grids: gpd.GeoDataFrame, atoms: gpd.GeoDataFrame | None = None
) -> int:
    """Write ``grids`` (and their ``atoms``) into the existing plan ``plan_id``; returns grids written.

    Lets a big area be saved city by city into one plan (``gridmap build-demo --area``); the caller
    keeps grid codes unique across calls (they are: a code starts with its village's code)."""
    g = grids.to_crs(WGS84).copy()
    for c in GRID_COLUMNS:
        if c not in g.columns:
            g[c] = {
                "township_code": g["village_code"].astype(str).str[:9],
                "county_code": g["village_code"].astype(str).str[:6],
            }.get(c, 0)
    g = g[GRID_COLUMNS].assign(plan_id=plan_id)
    g = g.set_geometry(to_multipolygon(g.geometry.values)).set_crs(WGS84, allow_override=True)
    with store.transaction():
        store.write("grids", g)
        if atoms is not None and len(atoms):
            a = _atoms_with_codes(atoms, grids)[ATOM_COLUMNS + ["geometry"]].assign(plan_id=plan_id)
            a = a.set_geometry(to_multipolygon(a.geometry.values)).set_crs(WGS84, allow_override=True)
            store.write("plan_atoms", a)
    return len(g)


def plan_row(store, plan_id: str) -> pd.Series:
    rows = store.read("plans", where={"plan_id": plan_id})
    if rows.empty:
        raise InputError(f"no plan {plan_id!r}")
    return rows.iloc[0]


def activate_plan(store, plan_id: str) -> None:
    """Make a draft plan active and archive the plan that was active (one transaction)."""
    row = plan_row(store, plan_id)
    if row["status"] == "active":
        return
    if row["status"] != "draft":
        raise ValidationError(
            f"plan {plan_id} is {row['status']}; only a draft can be activated (save a new draft from it)"
        )
    with store.transaction():
        store.update("plans", {"status": "archived"}, where={"status": "active"})
        store.update("plans", {"status": "active"}, where={"plan_id": plan_id})


def list_plans(store) -> pd.DataFrame:
    """All plans, oldest first, with their grid counts."""
    plans = store.read("plans", order_by=["created_at", "plan_id"])
    if plans.empty:
        return plans
    grids = store.read("grids", columns=["plan_id", "code"])
    counts = pd.DataFrame(grids).groupby("plan_id").size()
    return plans.assign(grids=plans["plan_id"].map(counts).fillna(0).astype(int))


def load_plan(store, plan_id: str | None = None) -> Plan:
    """A plan with its grids and atoms (``None`` → the active plan)."""
    plan_id = plan_id or store.active_plan_id()
    if plan_id is None:
        raise InputError("no active plan; name one")
    row = plan_row(store, plan_id)
    grids = store.read("grids", where={"plan_id": plan_id}, order_by=["code"])
    atoms = store.read("plan_atoms", where={"plan_id": plan_id}, order_by=["atom_id"])
    params = json.loads(row["params"]) if isinstance(row["params"], str) and row["params"] else {}
    parent = row["parent_id"] if isinstance(row["parent_id"], str) and row["parent_id"] else None
    if grids.empty and params.get("method") == "h3" and params.get("stored"):
        # a first plan stored as its recipe (gridmap build-demo): its grids are recomputed
        from gridmap.partition.h3plan import recompute_h3_plan

        grids = recompute_h3_plan(store, plan_id).sort_values("code", ignore_index=True)
    return Plan(
        plan_id=plan_id,
        name=str(row["name"]),
        status=str(row["status"]),
        parent_id=parent,
        created_at=str(row["created_at"]),
        params=params,
        note=str(row["note"] or ""),
        grids=grids,
        atoms=atoms,
    )
