"""Planner edits of a draft plan: split a grid, merge grids, move atoms between grids.

Every edit checks the planning rules and raises :class:`~gridmap.errors.ValidationError`
saying which rule broke and why:

* **contiguity** — every resulting grid is one connected piece of atoms (rook adjacency);
* **nesting** — grids never mix villages;
* **balance** — every resulting regular grid's households lie in the plan's band
  (``params["band"]`` or the settings' 300–500);
* locked grids are not edited.

With ``override=True`` the edit goes through anyway and the broken rules are recorded as
the reason in ``plan_edits`` (override=1).  Each edit — grids, atoms and the log row — is
written in one store transaction.  Codes: grids made by a split or a merge get new codes
(the village's next free sequence numbers); the grids they replace retire their codes;
moving atoms keeps both grids' codes (they remain the same grids, re-drawn).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

import numpy as np
import pandas as pd

from gridmap.config import get_settings
from gridmap.crs import LOCAL_CRS
from gridmap.domain import now_local
from gridmap.errors import InputError, ValidationError
from gridmap.partition.adjacency import Adjacency, rook_adjacency
from gridmap.partition.balance import partition_graph
from gridmap.partition.grids import grids_from_assignment
from gridmap.partition.plans import Plan, load_plan


def _draft(store, plan_id: str) -> Plan:
    plan = load_plan(store, plan_id)
    if plan.status != "draft":
        raise ValidationError(
            f"plan {plan_id} is {plan.status}; only draft plans can be edited "
            "(partition --from-plan makes a new draft)"
        )
    if plan.atoms.empty:
        raise ValidationError(f"plan {plan_id} has no atoms; edits need a plan made by 'gridmap partition'")
    return plan


def _band(plan: Plan) -> tuple[int, int]:
    s = get_settings()
    band = plan.params.get("band") or (s.grid_min_households, s.grid_max_households)
    return int(band[0]), int(band[1])


def _pieces(atoms) -> int:
    """Number of connected pieces the atoms form."""
    if len(atoms) <= 1:
        return len(atoms)
    metric = np.asarray(atoms.geometry.to_crs(LOCAL_CRS).values, dtype=object)
    adj = rook_adjacency(metric)
    return int(adj.components().max() + 1)


def _grid(plan: Plan, code: str) -> pd.Series:
    rows = plan.grids[plan.grids["code"] == code]
    if rows.empty:
        raise InputError(f"plan {plan.plan_id} has no grid {code}")
    return rows.iloc[0]


def _decide(problems: list[str], override: bool, what: str) -> str:
    if problems and not override:
        raise ValidationError(f"{what} rejected: " + "; ".join(problems) + " (override=True to force)")
    return "; ".join(problems)


def _apply(
    store,
    plan: Plan,
    new_codes: pd.Series,
    retired: Iterable[str],
    kind: str,
    params: dict,
    actor: str,
    override: bool,
    reason: str,
) -> list[str]:
    """Re-draw the touched grids from the atoms and write grids, atoms and the log row."""
    atoms = plan.atoms.copy()
    changed = atoms["atom_id"].isin(new_codes.index)
    old_codes = set(atoms.loc[changed, "grid_code"])
    atoms.loc[changed, "grid_code"] = atoms.loc[changed, "atom_id"].map(new_codes).to_numpy()
    retired = set(retired)
    touched_keys = set(new_codes) | (old_codes - retired)
    sub = atoms[atoms["grid_code"].isin(touched_keys)]
    assignment = pd.DataFrame(
        {
            "atom_id": sub["atom_id"],
            "grid": sub["grid_code"],
            "exclusive": sub["site_id"].fillna("").astype(str) != "",
        }
    )
    reserved = set(plan.grids["code"]) | retired
    old = plan.grids.set_index("code")
    locked = set(old.index[old["locked"].fillna(0).astype(int) == 1])
    grids, coded = grids_from_assignment(sub, assignment, reserved=reserved, locked=locked)
    key_to_code = dict(zip(coded["grid"], coded["grid_code"], strict=True))
    final = atoms.loc[changed, "atom_id"].map(new_codes).map(lambda k: key_to_code.get(k, k))
    grids = grids.assign(plan_id=plan.plan_id)
    gone = sorted(retired | old_codes | set(grids["code"]))
    edit = pd.DataFrame(
        [
            {
                "edit_id": uuid.uuid4().hex,
                "plan_id": plan.plan_id,
                "kind": kind,
                "params": json.dumps(params, ensure_ascii=False, default=str),
                "actor": actor,
                "created_at": now_local(),
                "override": int(bool(reason)),
                "reason": reason,
            }
        ]
    )
    with store.transaction():
        store.delete("grids", where={"plan_id": plan.plan_id, "code": gone})
        store.write("grids", grids)
        moved = pd.DataFrame({"atom_id": atoms.loc[changed, "atom_id"].to_numpy(), "code": final.to_numpy()})
        for code, part in moved.groupby("code"):
            store.update(
                "plan_atoms",
                {"grid_code": code},
                where={"plan_id": plan.plan_id, "atom_id": part["atom_id"].tolist()},
            )
        store.write("plan_edits", edit)
    return sorted(grids["code"])


def split_grid(
    store, plan_id: str, code: str, k: int, actor: str, override: bool = False, seed: int = 0
) -> list[str]:
    """Split grid ``code`` into ``k`` contiguous, balanced grids; returns the new codes."""
    plan = _draft(store, plan_id)
    grid = _grid(plan, code)
    if k < 2:
        raise InputError("a split needs k >= 2")
    problems = []
    if int(grid.get("locked") or 0):
        problems.append(f"grid {code} is locked")
    if int(grid.get("exclusive") or 0):
        problems.append(f"grid {code} is an exclusive grid")
    atoms = plan.atoms[plan.atoms["grid_code"] == code].reset_index(drop=True)
    metric = np.asarray(atoms.geometry.to_crs(LOCAL_CRS).values, dtype=object)
    adj = rook_adjacency(metric)
    weight = atoms["households"].fillna(0).astype(np.int64).to_numpy()
    labels = partition_graph(weight, adj.i, adj.j, adj.length, k, seed=seed)
    parts = int(labels.max()) + 1
    if parts < k:
        problems.append(f"grid {code} has only {parts} populated atom group(s), cannot make {k} grids")
    hh = np.bincount(labels, weight, minlength=parts).astype(int)
    lo, hi = _band(plan)
    out = [h for h in hh if not lo <= h <= hi]
    if out:
        problems.append(
            f"split of {code} ({int(weight.sum())} households) into {parts} gives grids of "
            f"{', '.join(map(str, hh))} households, outside the band {lo}–{hi}"
        )
    for lab in range(parts):
        sel = np.flatnonzero(labels == lab)
        same = np.isin(adj.i, sel) & np.isin(adj.j, sel)
        sub = Adjacency(
            len(sel), np.searchsorted(sel, adj.i[same]), np.searchsorted(sel, adj.j[same]), adj.length[same]
        )
        if len(sel) > 1 and sub.components().max() > 0:
            problems.append(f"part {lab + 1} of the split is not contiguous")
    reason = _decide(problems, override, f"split of {code}")
    village = str(grid["village_code"])
    new = pd.Series([f"{village}#split{lab}" for lab in labels], index=atoms["atom_id"].to_numpy())
    return _apply(store, plan, new, [code], "split", {"code": code, "k": k}, actor, override, reason)


def merge_grids(store, plan_id: str, codes: list[str], actor: str, override: bool = False) -> str:
    """Merge grids ``codes`` (same village, adjacent) into one grid; returns its code."""
    plan = _draft(store, plan_id)
    codes = list(dict.fromkeys(codes))
    if len(codes) < 2:
        raise InputError("a merge needs at least two grid codes")
    grids = [_grid(plan, c) for c in codes]
    problems = []
    villages = sorted({str(g["village_code"]) for g in grids})
    if len(villages) > 1:
        problems.append(
            f"grids {', '.join(codes)} lie in different villages ({', '.join(villages)}); "
            "a grid must nest in one village"
        )
    for g in grids:
        if int(g.get("locked") or 0):
            problems.append(f"grid {g['code']} is locked")
        if int(g.get("exclusive") or 0):
            problems.append(f"grid {g['code']} is an exclusive grid")
    atoms = plan.atoms[plan.atoms["grid_code"].isin(codes)]
    if _pieces(atoms) > 1:
        problems.append(f"grids {', '.join(codes)} do not touch; the merged grid would not be contiguous")
    hh = int(atoms["households"].sum())
    lo, hi = _band(plan)
    if not lo <= hh <= hi:
        problems.append(f"merged grid would hold {hh} households, outside the band {lo}–{hi}")
    reason = _decide(problems, override, f"merge of {', '.join(codes)}")
    new = pd.Series(f"{villages[0]}#merged", index=atoms["atom_id"].to_numpy())
    codes_after = _apply(store, plan, new, codes, "merge", {"codes": codes}, actor, override, reason)
    return next(c for c in codes_after if c not in codes)


def move_atoms(
    store, plan_id: str, atom_ids: list[str], to_code: str, actor: str, override: bool = False
) -> None:
    """Move atoms into grid ``to_code`` (codes of both grids stay)."""
    plan = _draft(store, plan_id)
    target = _grid(plan, to_code)
    atom_ids = list(dict.fromkeys(atom_ids))
    atoms = plan.atoms.set_index("atom_id")
    unknown = [a for a in atom_ids if a not in atoms.index]
    if unknown:
        raise InputError(f"plan {plan_id} has no atom(s) {', '.join(unknown[:5])}")
    moving = atoms.loc[atom_ids]
    moving = moving[moving["grid_code"] != to_code]
    if moving.empty:
        raise InputError(f"the atoms are already in grid {to_code}")
    problems = []
    village = str(target["village_code"])
    foreign = moving[moving["village_code"].astype(str) != village]
    if len(foreign):
        problems.append(
            f"atom(s) {', '.join(foreign.index[:3])} lie in village "
            f"{foreign['village_code'].iloc[0]}, not in {village} of grid {to_code}"
        )
    sources = sorted(set(moving["grid_code"]))
    lo, hi = _band(plan)
    for code in [*sources, to_code]:
        g = _grid(plan, code)
        if int(g.get("locked") or 0):
            problems.append(f"grid {code} is locked")
    after = plan.atoms.copy()
    after.loc[after["atom_id"].isin(moving.index), "grid_code"] = to_code
    for code in [*sources, to_code]:
        part = after[after["grid_code"] == code]
        if part.empty:
            problems.append(f"grid {code} would be left empty (merge it instead)")
            continue
        if _pieces(part) > 1:
            problems.append(f"grid {code} would not be contiguous")
        hh = int(part["households"].sum())
        if not int(_grid(plan, code).get("exclusive") or 0) and not lo <= hh <= hi:
            problems.append(f"grid {code} would hold {hh} households, outside the band {lo}–{hi}")
    reason = _decide(problems, override, f"move of {len(moving)} atom(s) to {to_code}")
    new = pd.Series(to_code, index=moving.index.to_numpy())
    _apply(
        store,
        plan,
        new,
        [],
        "move",
        {"atom_ids": list(moving.index), "to_code": to_code},
        actor,
        override,
        reason,
    )
