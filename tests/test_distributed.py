"""Per-county atoms + partition on dask.distributed (gridmap.distributed, gridmap.partition.counties)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.config import get_settings
from gridmap.distributed import dask_client, run_tasks
from gridmap.errors import InputError
from gridmap.partition.atoms import build_atoms
from gridmap.partition.balance import partition_plan
from gridmap.partition.counties import county_of_villages, partition_by_county, split_by_county
from gridmap.partition.sample import SAMPLE_TOWNSHIP, sample_area

SECOND_TOWNSHIP = "150521001"


def _recode(area, township: str):
    villages = area.villages.assign(
        code=area.villages["code"].str.replace(SAMPLE_TOWNSHIP, township), parent_code=township
    )
    addresses = area.addresses.assign(
        village_code=area.addresses["village_code"].str.replace(SAMPLE_TOWNSHIP, township),
        address_id=township + area.addresses["address_id"],
    )
    return villages, addresses


def two_counties(gap_km: float):
    """Two tiny counties (150502, 150521) of 3 villages each, side by side ``gap_km`` apart."""
    a = sample_area(seed=3, n_villages=3, size_km=2.0, households=2500, centre=(122.25, 43.62))
    b = sample_area(
        seed=4, n_villages=3, size_km=2.0, households=2000, centre=(122.25 + (2.0 + gap_km) / 80.6, 43.62)
    )  # 1° lon ≈ 80.6 km here
    va, aa = a.villages, a.addresses
    vb, ab = _recode(b, SECOND_TOWNSHIP)
    villages = gpd.GeoDataFrame(pd.concat([va, vb], ignore_index=True), crs=va.crs)
    addresses = gpd.GeoDataFrame(pd.concat([aa, ab], ignore_index=True), crs=aa.crs)
    return villages, addresses


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2, processes=False) as c:
        yield c


@pytest.fixture(scope="module")
def apart():
    return two_counties(gap_km=5.0)


@pytest.fixture(scope="module")
def serial(apart):
    return partition_by_county(*apart, engine="serial")


def _same(left, right):
    (atoms_l, res_l), (atoms_r, res_r) = left, right
    assert atoms_l["atom_id"].tolist() == atoms_r["atom_id"].tolist()
    assert (atoms_l["households"].to_numpy() == atoms_r["households"].to_numpy()).all()
    assert shapely.equals_exact(atoms_l.geometry.values, atoms_r.geometry.values, 0).all()
    cols = ["atom_id", "village_code", "grid", "households"]
    pd.testing.assert_frame_equal(
        res_l.assignment[cols].sort_values("atom_id", ignore_index=True),
        res_r.assignment[cols].sort_values("atom_id", ignore_index=True),
    )


def test_dask_gives_the_serial_result(apart, serial, client):
    progress = []
    dask_run = partition_by_county(
        *apart,
        engine="dask",
        client=client,
        progress=lambda done, total, key: progress.append((done, total, key)),
    )
    _same(dask_run, serial)
    assert sorted(k for _, _, k in progress) == ["150502", "150521"] and progress[-1][:2] == (2, 2)
    assert dask_run[1].report["counties"] == 2 and dask_run[1].report["engine"] == "dask"


def test_per_county_equals_the_whole_area_when_counties_do_not_touch(apart, serial):
    villages, addresses = apart
    atoms = build_atoms(villages, addresses)
    whole = partition_plan(atoms, n_jobs=1)
    _same(serial, (atoms, whole))
    for key in ("villages", "grids", "atoms", "households", "grid_households_min", "grid_households_max"):
        assert serial[1].report[key] == whole.report[key], key


def test_touching_counties_lose_and_double_no_household(client):
    villages, addresses = two_counties(gap_km=0.0)
    # an address exactly on the county line goes to one county only
    line_x = float(villages.to_crs(3857).geometry.iloc[:3].total_bounds[2])
    on_line = gpd.GeoSeries.from_xy(
        [line_x], [float(villages.to_crs(3857).geometry.iloc[0].centroid.y)], crs=3857
    ).to_crs(villages.crs)
    extra = gpd.GeoDataFrame(
        {"address_id": ["ON-LINE"], "village_code": [""], "households": [7], "population": [20]},
        geometry=on_line.values,
        crs=villages.crs,
    )
    addresses = gpd.GeoDataFrame(pd.concat([addresses, extra], ignore_index=True), crs=villages.crs)
    works, outside = split_by_county(villages, addresses)
    assert sum(len(w.addresses) for w in works) + outside == len(addresses)
    atoms, result = partition_by_county(villages, addresses, engine="dask", client=client)
    assert outside in (0, 1)  # the sample's own addresses all lie in a village; only the extra may not
    inside = addresses["households"].sum() - 7 * outside
    assert atoms["households"].sum() == result.report["households"] == inside
    assert result.villages["within_tolerance"].all()


def test_statistical_zone_villages_go_with_their_host_county():
    codes = pd.Series(["150571001001", "150502001001", "150172401498", "152921100001"])
    assert county_of_villages(codes).tolist() == ["150502", "150502", "150105", "152921"]


def _fails_for_b(task: str) -> str:
    if task == "b":
        raise InputError("village 42 has no polygon")
    return task.upper()


def test_run_tasks_keeps_order_and_names_the_failing_task(client):
    assert run_tasks(_fails_for_b, ["c", "a"], keys=["C", "A"], client=client) == ["C", "A"]
    with pytest.raises(InputError, match="^county B: village 42 has no polygon$"):
        run_tasks(_fails_for_b, ["a", "b"], keys=["county A", "county B"], client=client)
    with pytest.raises(InputError, match="unknown engine"):
        partition_by_county(*two_counties(5.0), engine="spark")


def test_the_same_code_runs_against_a_scheduler_address(monkeypatch):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        monkeypatch.setenv("GRIDMAP_DASK_SCHEDULER", cluster.scheduler_address)
        get_settings.cache_clear()
        try:
            with dask_client() as c:
                assert c.scheduler.address == cluster.scheduler_address
                assert run_tasks(np.square, [2, 3], client=c) == [4, 9]
        finally:
            monkeypatch.delenv("GRIDMAP_DASK_SCHEDULER")
            get_settings.cache_clear()


def test_store_workflow_and_cli_offer_the_county_engines(tmp_path, apart, client, monkeypatch, capsys):
    from gridmap.cli import main
    from gridmap.partition.workflow import partition_store
    from gridmap.store import open_store

    villages, addresses = apart
    path = tmp_path / "s.gpkg"
    store = open_store(path)
    store.write("admin_units", villages.assign(source="sample"))
    store.write("addresses", addresses)
    # the running test cluster stands in for a deployment's scheduler
    monkeypatch.setenv("GRIDMAP_DASK_SCHEDULER", client.scheduler.address)
    get_settings.cache_clear()
    try:
        on_dask = partition_store(store, "on dask", engine="dask")
    finally:
        monkeypatch.delenv("GRIDMAP_DASK_SCHEDULER")
        get_settings.cache_clear()
    here = partition_store(store, "serial", engine="serial")
    assert here.grids["code"].tolist() == on_dask.grids["code"].tolist()
    assert here.grids["households"].tolist() == on_dask.grids["households"].tolist()
    assert shapely.equals_exact(here.grids.geometry.values, on_dask.grids.geometry.values, 1e-9).all()
    assert on_dask.result.report["engine"] == "dask" and on_dask.result.report["counties"] == 2
    assert (
        main(
            [
                "partition",
                "--plan",
                "v2",
                "--store",
                str(path),
                "--from-plan",
                here.plan_id,
                "--engine",
                "serial",
            ]
        )
        == 0
    )
    printed = capsys.readouterr()
    assert "county 150521: done" in printed.err and "atoms moved 0" in printed.out
