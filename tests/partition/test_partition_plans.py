"""Plans in the store (draft → active → archived), planner edits with rules and overrides, diff."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gridmap.errors import ValidationError
from gridmap.partition import edits, plans
from gridmap.partition.atoms import build_atoms
from gridmap.partition.balance import partition_plan
from gridmap.partition.diff import diff_plans
from gridmap.partition.grids import grids_from_atoms
from gridmap.partition.sample import sample_area
from gridmap.partition.tiling import validate_tiling


@pytest.fixture(scope="module")
def planned():
    area = sample_area(seed=11, n_villages=3, size_km=3.0, households=5200)
    atoms = build_atoms(area.villages, area.addresses)
    result = partition_plan(atoms, n_jobs=1)
    grids = grids_from_atoms(atoms, result, area.villages)
    return area, grids, result.atoms


@pytest.fixture
def plan_store(request, tmp_path):
    """The shared ``store`` fixture (GeoPackage + PostGIS) when it exists, else a GeoPackage."""
    try:
        return request.getfixturevalue("store")
    except pytest.FixtureLookupError:
        from gridmap.store import open_store

        return open_store(tmp_path / "plans.gpkg")


@pytest.fixture
def draft(plan_store, planned):
    _, grids, atoms = planned
    pid = plans.create_plan(plan_store, "v1", grids, atoms, {"target": 400, "band": [300, 500]})
    return plan_store, pid


def _multi_grid_village(plan):
    counts = plan.grids.groupby("village_code").size()
    return counts[counts > 1].index[0]


def test_create_load_activate_archive(draft, planned):
    store, pid = draft
    plan = plans.load_plan(store, pid)
    assert plan.status == "draft" and plan.params["target"] == 400
    assert len(plan.grids) == len(planned[1]) and len(plan.atoms) == len(planned[2])
    assert set(plan.atoms["grid_code"]) == set(plan.grids["code"])
    plans.activate_plan(store, pid)
    assert store.active_plan_id() == pid
    second = plans.create_plan(store, "v2", planned[1], planned[2], {}, parent_id=pid)
    plans.activate_plan(store, second)
    assert plans.load_plan(store, pid).status == "archived"
    assert plans.load_plan(store, second).parent_id == pid
    with pytest.raises(ValidationError, match="only a draft"):
        plans.activate_plan(store, pid)
    with pytest.raises(ValidationError, match="only draft"):
        edits.merge_grids(store, second, list(plans.load_plan(store, second).grids["code"][:2]), "ann")


def test_split_rejected_below_band_then_overridden_and_recorded(draft, planned):
    store, pid = draft
    plan = plans.load_plan(store, pid)
    code = plan.grids.sort_values("households")["code"].iloc[-1]
    with pytest.raises(ValidationError, match="outside the band 300–500"):
        edits.split_grid(store, pid, code, 2, "ann")
    assert plans.load_plan(store, pid).grids["code"].tolist() == plan.grids["code"].tolist()  # unchanged
    new = edits.split_grid(store, pid, code, 2, "ann", override=True)
    after = plans.load_plan(store, pid)
    assert code not in set(after.grids["code"])
    seq = sorted(int(c[12:]) for c in new)
    top = max(int(c[12:]) for c in plan.grids["code"] if c[:12] == code[:12] and int(c[12:]) < 901)
    assert seq == [top + 1, top + 2]  # next free numbers, the retired one not reused
    untouched = plan.grids[plan.grids["code"] != code].set_index("code")["households"]
    assert after.grids.set_index("code")["households"].reindex(untouched.index).equals(untouched)
    log = store.read("plan_edits", where={"plan_id": pid})
    assert log["kind"].tolist() == ["split"] and int(log["override"].iloc[0]) == 1
    assert "outside the band" in log["reason"].iloc[0] and log["actor"].iloc[0] == "ann"
    assert json.loads(log["params"].iloc[0]) == {"code": code, "k": 2}
    assert validate_tiling(after.grids, planned[0].villages).ok


def test_split_valid_big_grid(plan_store, planned):
    area, grids, atoms = planned
    # a plan where one grid holds two grids' worth of households (a merge of two neighbours)
    pid = plans.create_plan(plan_store, "v1", grids, atoms, {"band": [300, 500]})
    plan = plans.load_plan(plan_store, pid)
    v = _multi_grid_village(plan)
    codes = plan.grids[plan.grids["village_code"] == v]["code"].tolist()
    pair = _adjacent_pair(plan, codes)
    merged = edits.merge_grids(plan_store, pid, pair, "bo", override=True)
    new = edits.split_grid(plan_store, pid, merged, 2, "bo")
    after = plans.load_plan(plan_store, pid)
    hh = after.grids.set_index("code").loc[new, "households"]
    assert ((hh >= 300) & (hh <= 500)).all()
    log = plan_store.read("plan_edits", where={"plan_id": pid}, order_by=["created_at", "kind"])
    assert sorted(log["override"].astype(int).tolist()) == [0, 1]


def _adjacent_pair(plan, codes):
    from gridmap.partition.edits import _pieces

    for a in codes:
        for b in codes:
            if a < b and _pieces(plan.atoms[plan.atoms["grid_code"].isin([a, b])]) == 1:
                return [a, b]
    raise AssertionError("no adjacent pair")


def test_merge_rules(draft):
    store, pid = draft
    plan = plans.load_plan(store, pid)
    vs = plan.grids["village_code"].unique()
    other = [
        plan.grids[plan.grids["village_code"] == vs[0]]["code"].iloc[0],
        plan.grids[plan.grids["village_code"] == vs[1]]["code"].iloc[0],
    ]
    with pytest.raises(ValidationError, match="different villages"):
        edits.merge_grids(store, pid, other, "cy")
    v = _multi_grid_village(plan)
    pair = _adjacent_pair(plan, plan.grids[plan.grids["village_code"] == v]["code"].tolist())
    with pytest.raises(ValidationError, match="outside the band"):
        edits.merge_grids(store, pid, pair, "cy")
    assert plan_edits_count(store, pid) == 0


def plan_edits_count(store, pid):
    return store.count("plan_edits", where={"plan_id": pid})


def test_move_atoms_valid_and_rejected(draft):
    store, pid = draft
    plan = plans.load_plan(store, pid)
    v = _multi_grid_village(plan)
    a, b = _adjacent_pair(plan, plan.grids[plan.grids["village_code"] == v]["code"].tolist())
    from gridmap.crs import LOCAL_CRS
    from gridmap.partition.adjacency import rook_adjacency

    pair = plan.atoms[plan.atoms["grid_code"].isin([a, b])].reset_index(drop=True)
    adj = rook_adjacency(pair.to_crs(LOCAL_CRS).geometry.values)
    border = [
        pair["atom_id"][i]
        for i, j in zip(adj.i, adj.j, strict=True)
        if pair["grid_code"][i] == a and pair["grid_code"][j] == b and pair["households"][i] <= 15
    ] + [
        pair["atom_id"][j]
        for i, j in zip(adj.i, adj.j, strict=True)
        if pair["grid_code"][j] == a and pair["grid_code"][i] == b and pair["households"][j] <= 15
    ]
    moved = None
    for atom in border:  # a small border atom whose move keeps both grids whole and in the band
        try:
            edits.move_atoms(store, pid, [atom], b, "dee")
            moved = atom
            break
        except ValidationError:
            continue
    assert moved is not None
    after = plans.load_plan(store, pid)
    assert after.atoms.set_index("atom_id").loc[moved, "grid_code"] == b
    assert {a, b} <= set(after.grids["code"])  # codes kept on a move
    hh = after.grids.set_index("code")["households"]
    w = int(plan.atoms.set_index("atom_id").loc[moved, "households"])
    before = plan.grids.set_index("code")["households"]
    assert hh[a] == before[a] - w and hh[b] == before[b] + w
    # all of grid a into b: a would be empty
    rest = after.atoms[after.atoms["grid_code"] == a]["atom_id"].tolist()
    with pytest.raises(ValidationError, match="left empty"):
        edits.move_atoms(store, pid, rest, b, "dee")
    # an atom of another village
    foreign = after.atoms[after.atoms["village_code"] != v]["atom_id"].iloc[0]
    with pytest.raises(ValidationError, match="lie in village"):
        edits.move_atoms(store, pid, [foreign], b, "dee")


def test_diff_lists_added_removed_changed_and_moved_households(plan_store, planned):
    _, grids, atoms = planned
    pa = plans.create_plan(plan_store, "a", grids, atoms, {"band": [300, 500]})
    pb = plans.create_plan(plan_store, "b", grids, atoms, {"band": [300, 500]})
    same = diff_plans(plan_store, pa, pb)
    assert same.summary()["added"] == 0 and same.summary()["changed"] == 0 and same.households_moved == 0
    plan = plans.load_plan(plan_store, pb)
    code = plan.grids.sort_values("households")["code"].iloc[-1]
    new = edits.split_grid(plan_store, pb, code, 2, "eve", override=True)
    d = diff_plans(plan_store, pa, pb)
    assert d.removed == [code] and d.added == sorted(new)
    assert d.unchanged == len(grids) - 1
    assert set(d.moves["from_code"]) == {code} and set(d.moves["to_code"]) == set(new)
    assert d.households_moved == int(plan.grids.set_index("code").loc[code, "households"])
    # frames work too
    frames = {pa: plans.load_plan(plan_store, pa), pb: plans.load_plan(plan_store, pb)}
    assert diff_plans(frames, pa, pb).summary() == d.summary()


def test_plan_without_atoms_cannot_be_edited(plan_store, planned):
    pid = plans.create_plan(plan_store, "h3", planned[1], None, {})
    with pytest.raises(ValidationError, match="no atoms"):
        edits.split_grid(plan_store, pid, planned[1]["code"].iloc[0], 2, "x")
    assert isinstance(plans.list_plans(plan_store), pd.DataFrame)
