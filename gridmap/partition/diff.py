"""Differences between two plans: grids added, removed, changed, and households that move."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from gridmap.partition.plans import Plan, load_plan


@dataclass
class PlanDiff:
    """``added``/``removed``: grid codes only in plan b / only in plan a; ``changed``: codes
    in both whose atoms differ (households_a, households_b, atoms_in, atoms_out);
    ``moves``: atoms whose grid differs (atom_id, village_code, from_code, to_code,
    households); atoms present in one plan only are counted in ``atoms_only_a/_b``."""

    plan_a: str
    plan_b: str
    added: list[str]
    removed: list[str]
    changed: pd.DataFrame
    unchanged: int
    moves: pd.DataFrame
    atoms_only_a: int
    atoms_only_b: int

    @property
    def households_moved(self) -> int:
        return int(self.moves["households"].sum())

    def summary(self) -> dict:
        return {
            "plan_a": self.plan_a,
            "plan_b": self.plan_b,
            "added": len(self.added),
            "removed": len(self.removed),
            "changed": len(self.changed),
            "unchanged": self.unchanged,
            "atoms_moved": len(self.moves),
            "households_moved": self.households_moved,
            "atoms_only_a": self.atoms_only_a,
            "atoms_only_b": self.atoms_only_b,
        }


def _plan(source, plan) -> Plan:
    if isinstance(plan, Plan):
        return plan
    if isinstance(source, dict):
        return source[plan]
    return load_plan(source, plan)


def diff_plans(store_or_frames, plan_a, plan_b) -> PlanDiff:
    """Compare two plans given as ids in a store, ids in a dict of :class:`Plan`, or Plans."""
    a, b = _plan(store_or_frames, plan_a), _plan(store_or_frames, plan_b)
    codes_a, codes_b = set(a.grids["code"]), set(b.grids["code"])
    cols = ["atom_id", "village_code", "grid_code", "households"]
    atoms = a.atoms[cols].merge(
        b.atoms[["atom_id", "grid_code"]], on="atom_id", how="outer", suffixes=("_a", "_b"), indicator=True
    )
    both = atoms[atoms["_merge"] == "both"]
    moved = both[both["grid_code_a"] != both["grid_code_b"]]
    moves = pd.DataFrame(
        {
            "atom_id": moved["atom_id"].to_numpy(),
            "village_code": moved["village_code"].to_numpy(),
            "from_code": moved["grid_code_a"].to_numpy(),
            "to_code": moved["grid_code_b"].to_numpy(),
            "households": moved["households"].fillna(0).astype(int).to_numpy(),
        }
    )
    members_a = a.atoms.groupby("grid_code")["atom_id"].apply(frozenset)
    members_b = b.atoms.groupby("grid_code")["atom_id"].apply(frozenset)
    hh_a = a.grids.set_index("code")["households"]
    hh_b = b.grids.set_index("code")["households"]
    rows = []
    common = sorted(codes_a & codes_b)
    for code in common:
        ma, mb = members_a.get(code, frozenset()), members_b.get(code, frozenset())
        geom_same = (
            a.grids.set_index("code").geometry[code].equals(b.grids.set_index("code").geometry[code])
            if not len(ma) and not len(mb)
            else True
        )
        if ma != mb or not geom_same:
            rows.append(
                {
                    "code": code,
                    "households_a": int(hh_a.get(code, 0)),
                    "households_b": int(hh_b.get(code, 0)),
                    "atoms_in": len(mb - ma),
                    "atoms_out": len(ma - mb),
                }
            )
    changed = pd.DataFrame(rows, columns=["code", "households_a", "households_b", "atoms_in", "atoms_out"])
    return PlanDiff(
        plan_a=a.plan_id,
        plan_b=b.plan_id,
        added=sorted(codes_b - codes_a),
        removed=sorted(codes_a - codes_b),
        changed=changed,
        unchanged=len(common) - len(changed),
        moves=moves,
        atoms_only_a=int((atoms["_merge"] == "left_only").sum()),
        atoms_only_b=int((atoms["_merge"] == "right_only").sum()),
    )
