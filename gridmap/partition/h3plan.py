"""The simple first plan: one grid per H3 cell piece inside each village."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from gridmap.partition.atoms import build_atoms
from gridmap.partition.grids import grids_from_assignment


def h3_plan(villages: gpd.GeoDataFrame, addresses: gpd.GeoDataFrame, resolution: int = 8) -> gpd.GeoDataFrame:
    """H3 cells at ``resolution`` clipped to village polygons, one grid per non-empty piece.

    Pieces smaller than 1% of a cell's area (where a hexagon grazes a village line) are
    merged into the neighbour of the same village sharing the longest edge.  Codes follow
    :mod:`gridmap.partition.codes`.  Returns the store's ``grids`` columns, EPSG:4326.
    """
    atoms = build_atoms(
        villages, addresses, base_resolution=resolution, max_resolution=resolution, sliver_share=0.01
    )
    assignment = pd.DataFrame(
        {
            "atom_id": atoms["atom_id"],
            "village_code": atoms["village_code"],
            "grid": atoms["village_code"] + "#" + atoms["atom_id"],
            "exclusive": False,
            "households": atoms["households"],
        }
    )
    grids, _ = grids_from_assignment(atoms, assignment, villages)
    return grids


#: what a first plan stores instead of its grids (``plans.params["stored"]``)
RECOMPUTED = "recipe only: grids recomputed on demand by gridmap.partition.h3plan.recompute_h3_plan"


def recompute_h3_plan(store, plan_id: str) -> gpd.GeoDataFrame:
    """The grids of a first plan stored as a recipe (``params`` method ``h3``, ``resolution``):
    :func:`h3_plan` over the store's villages and addresses, with the plan's id.  EPSG:4326.

    Deterministic: the same villages and addresses give the same cells and codes."""
    import json

    from gridmap.errors import InputError

    # the plan row read here, not through gridmap.partition.plans (whose load_plan calls this function)
    rows = store.read("plans", where={"plan_id": plan_id})
    if rows.empty:
        raise InputError(f"no plan {plan_id!r}")
    params = json.loads(rows["params"].iloc[0] or "{}")
    if params.get("method") != "h3" or "resolution" not in params:
        raise InputError(f"plan {plan_id} is not an H3 first plan")
    villages = store.read("admin_units", where={"level": "village"})
    addresses = store.read("addresses")
    return h3_plan(villages, addresses, resolution=int(params["resolution"])).assign(plan_id=plan_id)
