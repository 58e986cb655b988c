"""Extra store tables of the planning package: plan atoms and the edit log."""

from __future__ import annotations

from gridmap.store.schema import Table, register

T, INT, R = "TEXT", "INTEGER", "REAL"

PLAN_ATOMS = register(Table(
    "plan_atoms",
    {
        "plan_id": T, "atom_id": T, "village_code": T, "grid_code": T, "households": INT, "population": INT,
        "workload": INT, "h3_cell": T, "resolution": INT, "site_id": T,
    },
    primary_key=("plan_id", "atom_id"),
    geometry_type="MULTIPOLYGON",
    indexes=(("plan_id",), ("plan_id", "grid_code")),
    description="the atoms of every plan and the grid each belongs to (planner edits move atoms)",
))

PLAN_EDITS = register(Table(
    "plan_edits",
    {
        "edit_id": T, "plan_id": T, "kind": T, "params": T, "actor": T, "created_at": T, "override": INT,
        "reason": T,
    },
    primary_key=("edit_id",),
    indexes=(("plan_id",),),
    description="planner edits of draft plans (split/merge/move); override=1 when a rule was overridden",
))
