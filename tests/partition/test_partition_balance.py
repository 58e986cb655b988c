"""partition_plan: k choice, contiguity, nesting, balance, determinism, stability, locked grids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.crs import LOCAL_CRS
from gridmap.partition.adjacency import rook_adjacency
from gridmap.partition.atoms import build_atoms
from gridmap.partition.balance import choose_k, partition_plan, partition_village
from gridmap.partition.grids import grids_from_atoms
from gridmap.partition.sample import sample_area
from gridmap.partition.tiling import validate_tiling


@pytest.fixture(scope="module")
def area():
    return sample_area(seed=5, n_villages=4, size_km=3.0, households=7000)


@pytest.fixture(scope="module")
def atoms(area):
    return build_atoms(area.villages, area.addresses)


@pytest.fixture(scope="module")
def result(atoms):
    return partition_plan(atoms, target=400, band=(300, 500), tolerance=0.10, n_jobs=1)


def grid_components(atoms, assignment) -> pd.Series:
    """Connected pieces per grid, from the atom adjacency graph restricted to each grid."""
    frame = atoms.merge(assignment[["atom_id", "grid"]], on="atom_id")
    adj = rook_adjacency(
        np.asarray(frame.to_crs(LOCAL_CRS).geometry.values, dtype=object), frame["village_code"].to_numpy()
    )
    comp = adj.components(frame["grid"].to_numpy())
    return frame.assign(c=comp).groupby("grid")["c"].nunique()


@pytest.mark.parametrize(
    ("households", "k"),
    [
        (0, 1),
        (120, 1),
        (299, 1),
        (450, 1),
        (500, 1),  # under or in the band → one grid
        (800, 2),
        (1200, 3),
        (4000, 10),
        (4100, 10),  # mean in band, closest to 400
        (620, 2),
        (1000, 3),
    ],
)
def test_choose_k(households, k):
    got = choose_k(households, 400, (300, 500))
    assert got == k
    mean = households / got
    feasible = [kk for kk in range(1, 40) if 300 <= households / kk <= 500]
    if feasible:  # in the band and closest to the target among those in the band
        assert 300 <= mean <= 500
        assert abs(mean - 400) == min(abs(households / kk - 400) for kk in feasible)


def test_520_households_picks_the_k_nearest_the_band():
    # 520/1 is 20 above the band, 520/2 = 260 is 40 below it
    assert choose_k(520, 400, (300, 500)) == 1


def test_every_grid_is_contiguous_and_nested(atoms, result):
    pieces = grid_components(atoms, result.assignment)
    assert (pieces == 1).all()
    per_grid_villages = result.assignment.groupby("grid")["village_code"].nunique()
    assert (per_grid_villages == 1).all()
    assert set(result.assignment["atom_id"]) == set(atoms["atom_id"])


def test_k_per_village_follows_the_rule(atoms, result):
    hh = atoms.groupby("village_code")["households"].sum()
    for row in result.villages.itertuples():
        assert row.k == choose_k(hh[row.village_code], 400, (300, 500))


def test_balance_within_tolerance_on_feasible_case(result):
    gh = result.grid_households()
    mean = gh.groupby("village_code")["households"].transform("mean")
    dev = (gh["households"] / mean - 1).abs()
    assert dev.max() <= 0.10 + 1e-9
    assert result.villages["within_tolerance"].all()
    assert float(np.sqrt((dev**2).mean())) <= 0.05


def test_grids_tile_villages(area, atoms, result):
    grids = grids_from_atoms(atoms, result, area.villages)
    findings = validate_tiling(grids, area.villages)
    assert findings.ok, findings.findings
    assert int(grids["households"].sum()) == int(atoms["households"].sum())
    assert (shapely.get_num_geometries(np.asarray(grids.geometry.values, dtype=object)) == 1).all()


def test_validate_tiling_reports_breakage(area, atoms, result):
    grids = grids_from_atoms(atoms, result, area.villages)
    broken = grids.copy()
    broken.loc[0, "geometry"] = broken.geometry.iloc[0].buffer(0.002)  # spills ~200 m over lines
    broken = broken.drop(index=len(broken) - 1)  # leaves a gap
    kinds = set(validate_tiling(broken, area.villages).findings["kind"])
    assert {"crosses_village", "overlap", "gap"} <= kinds


COLS = ["atom_id", "village_code", "grid", "households"]


def test_deterministic(atoms, result):
    again = partition_plan(atoms, n_jobs=1)
    pd.testing.assert_frame_equal(result.assignment[COLS], again.assignment[COLS])


def test_parallel_equals_serial(atoms, result):
    par = partition_plan(atoms, n_jobs=2)
    pd.testing.assert_frame_equal(result.assignment[COLS], par.assignment[COLS])


def test_partition_village_single(atoms):
    one = atoms[atoms["village_code"] == atoms["village_code"].iloc[0]]
    r = partition_village(one)
    assert r.report["villages"] == 1


def test_stability_same_input_moves_nothing(atoms, result):
    grids = grids_from_atoms(atoms, result)
    prev = result.atoms.set_index("atom_id")["grid_code"]
    again = partition_plan(atoms, previous=prev, n_jobs=1)
    assert again.report["atoms_moved"] == 0
    assert set(again.assignment["grid"]) == set(grids["code"])


def test_stability_after_growth_moves_few_atoms(area, atoms, result):
    grids_from_atoms(atoms, result)
    prev = result.atoms.set_index("atom_id")["grid_code"]
    grown = atoms.copy()
    k = result.villages.set_index("village_code")["k"]
    code = prev[prev.str[:12].isin(k.index[k > 1])].iloc[0]
    busy = grown.index[grown["atom_id"].isin(prev.index[prev == code]) & (grown["households"] > 0)][:3]
    grown.loc[busy, "households"] += 40  # new buildings push one grid over the tolerance
    stable = partition_plan(grown, previous=prev, n_jobs=1)
    assert 0 < stable.report["atoms_moved"] < 0.15 * len(atoms)
    assert stable.report["households_moved"] > 0
    assert (grid_components(grown, stable.assignment) == 1).all()
    assert stable.villages["within_tolerance"].all()


def test_locked_grids_are_untouched(atoms, result):
    grids_from_atoms(atoms, result)
    prev = result.atoms.set_index("atom_id")["grid_code"]
    village = result.villages.sort_values("k").iloc[-1]["village_code"]
    codes = sorted(prev[prev.str.startswith(village)].unique())
    lock = codes[0]
    grown = atoms.copy()
    grown.loc[grown["village_code"] == village, "households"] *= 2  # the village doubles
    r = partition_plan(grown, previous=prev, locked=[lock], n_jobs=1)
    before = set(prev[prev == lock].index)
    after = set(r.assignment.loc[r.assignment["grid"] == lock, "atom_id"])
    assert before == after
    assert r.villages.set_index("village_code").loc[village, "k"] > len(codes)
