"""Atoms: exact tiling of villages, nesting, adaptive refinement, weights (vs geopandas sjoin)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridmap.crs import LOCAL_CRS
from gridmap.errors import InputError
from gridmap.partition._frames import village_frame
from gridmap.partition.adjacency import rook_adjacency
from gridmap.partition.atoms import atoms_from_polygons, build_atoms
from gridmap.partition.h3plan import h3_plan
from gridmap.partition.sample import sample_area


@pytest.fixture(scope="module")
def area():
    return sample_area(seed=3, n_villages=4, size_km=3.0, households=5000)


@pytest.fixture(scope="module")
def atoms(area):
    return build_atoms(area.villages, area.addresses, target=400, max_share=0.25)


def _metric(frame):
    return np.asarray(frame.to_crs(LOCAL_CRS).geometry.values, dtype=object)


def assert_tiles(pieces: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, tol_m2: float = 1.0):
    v = village_frame(villages).to_crs(LOCAL_CRS).set_index("village_code").geometry
    assert set(pieces["village_code"]) <= set(v.index)
    for code, part in pieces.groupby("village_code"):
        geoms = _metric(part)
        union = shapely.union_all(geoms)
        overlap = shapely.area(geoms).sum() - shapely.area(union)
        gap = shapely.area(shapely.difference(v[code], union))
        spill = shapely.area(shapely.difference(union, v[code]))
        assert overlap < tol_m2, (code, overlap)
        assert gap < tol_m2, (code, gap)
        assert spill < tol_m2, (code, spill)


def test_atoms_tile_every_village_exactly(area, atoms):
    assert_tiles(atoms, area.villages)
    # every village is covered, every atom is one valid polygon of exactly one village
    assert set(atoms["village_code"]) == set(area.villages["code"])
    geoms = _metric(atoms)
    assert shapely.is_valid(geoms).all()
    assert (shapely.get_type_id(geoms) == 3).all()
    assert atoms["atom_id"].is_unique


def test_atoms_nest_in_their_own_village(area, atoms):
    v = village_frame(area.villages).to_crs(LOCAL_CRS).set_index("village_code").geometry
    own = np.asarray(v.reindex(atoms["village_code"]).values, dtype=object)
    outside = shapely.area(shapely.difference(_metric(atoms), own))
    assert outside.max() < 0.01


def test_refinement_caps_households_and_keeps_empty_land_coarse(area, atoms):
    cap = 0.25 * 400
    single_big = area.addresses["households"].max()
    assert atoms["households"].max() <= max(cap, single_big)
    assert atoms.attrs["report"]["overweight_atoms"] == [] or single_big > cap
    empty = atoms[atoms["households"] == 0]
    busy = atoms[atoms["households"] > 0]
    # empty land stays at the coarse base resolution far more often than populated land
    assert (empty["resolution"] == 8).mean() > (busy["resolution"] == 8).mean()
    assert atoms["resolution"].max() > 8  # dense places were refined
    assert set(atoms["h3_cell"].str.len()) == {15}


def test_weights_match_geopandas_sjoin(area, atoms):
    joined = gpd.sjoin(
        area.addresses.to_crs(LOCAL_CRS),
        atoms.to_crs(LOCAL_CRS)[["atom_id", "geometry"]],
        predicate="within",
        how="inner",
    )
    expected = (
        joined.groupby("atom_id")["households_left"].sum()
        if "households_left" in joined
        else joined.groupby("atom_id")["households"].sum()
    )
    got = atoms.set_index("atom_id")["households"]
    assert int(got.sum()) == int(area.addresses["households"].sum())
    diff = (got.reindex(expected.index) - expected).abs()
    # only points lying exactly on a shared edge may be counted by the neighbour
    assert (diff == 0).mean() > 0.99


def test_single_address_over_the_cap_is_reported(area):
    addresses = area.addresses.copy()
    addresses.loc[0, "households"] = 250
    atoms = build_atoms(area.villages, addresses, target=400, max_share=0.25, max_resolution=10)
    assert atoms.attrs["report"]["overweight_addresses"] == 1
    assert atoms["households"].max() >= 250


def test_adjacency_is_rook_within_villages(atoms):
    metric = _metric(atoms)
    adj = rook_adjacency(metric, atoms["village_code"].to_numpy())
    assert (atoms["village_code"].to_numpy()[adj.i] == atoms["village_code"].to_numpy()[adj.j]).all()
    assert (adj.length >= 0.01).all()
    # each village's atoms form one connected piece (sample villages are single polygons)
    comp = adj.components()
    per_village = atoms.assign(c=comp).groupby("village_code")["c"].nunique()
    assert (per_village == 1).all()


def test_planner_polygons_as_atoms_tile_villages(area):
    v = village_frame(area.villages).to_crs(LOCAL_CRS)
    x0, y0, x1, y1 = v.total_bounds
    xs = np.linspace(x0, x1, 5)
    blocks = [shapely.box(xs[i] + 5, y0, xs[i + 1] - 5, y1) for i in range(4)]  # streets between blocks
    blocks = gpd.GeoDataFrame({"block": [f"B{i}" for i in range(4)]}, geometry=blocks, crs=LOCAL_CRS)
    atoms = atoms_from_polygons(area.villages, blocks, area.addresses, id_field="block")
    assert_tiles(atoms, area.villages)
    assert int(atoms["households"].sum()) == int(area.addresses["households"].sum())
    assert {"rest"} <= {a.split(":")[1] for a in atoms["atom_id"]}
    assert (atoms["resolution"] == -1).all()


def test_h3_plan_one_grid_per_piece_slivers_merged(area):
    grids = h3_plan(area.villages, area.addresses, resolution=8)
    assert_tiles(grids, area.villages)
    assert grids["code"].is_unique and (grids["code"].str.len() == 15).all()
    assert (grids["code"].str[:12] == grids["village_code"]).all()
    cell = 737_327.6  # mean H3 r8 cell area, m²
    assert shapely.area(_metric(grids)).min() >= 0.01 * cell * 0.999
    assert int(grids["households"].sum()) == int(area.addresses["households"].sum())


def test_bad_inputs_are_clear_errors(area):
    with pytest.raises(InputError, match="households"):
        build_atoms(area.villages, area.addresses.drop(columns="households"))
    with pytest.raises(InputError, match="CRS"):
        build_atoms(area.villages.set_crs(None, allow_override=True), area.addresses)


def test_a_dense_compound_is_refined_until_grids_balance():
    """5,000 households in 125 buildings on ~2 ha (a high-rise estate): res-11 cells would leave
    atoms of over 1,000 households; refinement must go finer so every grid lands in the band."""
    from gridmap.partition.balance import partition_plan

    lon0, lat0 = 122.27, 43.62
    village = gpd.GeoDataFrame(
        {
            "code": ["150502001001"],
            "name": ["高层小区社区"],
            "level": ["village"],
            "parent_code": ["150502001"],
        },
        geometry=[shapely.box(lon0, lat0, lon0 + 0.002, lat0 + 0.0012)],
        crs="EPSG:4326",
    )
    rng = np.random.default_rng(5)
    n = 125
    addresses = gpd.GeoDataFrame(
        {
            "address_id": [f"B{i:03d}" for i in range(n)],
            "village_code": "150502001001",
            "households": 40,
            "population": 100,
        },
        geometry=gpd.points_from_xy(
            lon0 + 0.0001 + rng.random(n) * 0.0018, lat0 + 0.0001 + rng.random(n) * 0.001
        ),
        crs="EPSG:4326",
    )
    atoms = build_atoms(village, addresses, target=400, max_share=0.25)
    assert atoms["households"].sum() == 5000
    assert atoms["households"].max() <= 120  # about a quarter of the target, at most 3 buildings
    grids = partition_plan(atoms, target=400, n_jobs=1).grid_households()
    assert len(grids) == 13 and grids["households"].between(300, 500).all()
