"""A county export the project has never seen goes into an empty store, on both backends:
init → units → addresses → workers → partition → assignments → patrols → cases → audit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.crs import to_local
from gridmap.errors import InputError
from gridmap.imports.init import init_store
from gridmap.imports.kinds import run_import
from tests.county_export import CountyExport, make_county_export


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> CountyExport:
    return make_county_export(tmp_path_factory.mktemp("county") / "export")


def _local(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(to_local(xy[:, 0], xy[:, 1])))


def test_county_export_end_to_end(store, export):
    from gridmap.coverage.service import audit_from_store
    from gridmap.partition.plans import activate_plan
    from gridmap.partition.workflow import partition_store

    counts = init_store(store)
    assert counts["county"] == 8 and counts["village"] > 2000
    assert store.count("addresses") == 0 and store.count("cases") == 0

    # the .prj-less Shapefile is refused, naming the code it is in and the flag
    with pytest.raises(InputError) as refused:
        run_import(store, "units", export.folder / "units.shp")
    message = str(refused.value)
    assert "fit EPSG:4529 (CGCS2000" in message and "most likely" in message and "\n" not in message
    assert "confirm with --crs EPSG:4529" in message
    units = run_import(store, "units", export.folder / "units.shp", crs="EPSG:4529")
    assert (units.accepted, units.rejected) == (5, 0), units.summary()
    stored = store.read("admin_units", where={"code": export.units_wgs84["code"].tolist()}).set_index("code")
    for row in export.units_wgs84.itertuples():
        assert stored.at[row.code, "name"] == row.name  # GBK names read right without a .cpg
        distance = shapely.hausdorff_distance(_local(stored.at[row.code, "geometry"]), _local(row.geometry))
        assert distance < 1.0, (row.code, distance)

    addresses = run_import(store, "addresses", export.folder / "addresses.xlsx")
    assert addresses.accepted == len(export.addresses), addresses.summary()
    assert (
        int(pd.to_numeric(store.read("addresses", columns=["households"])["households"]).sum())
        == export.households
    )

    workers = run_import(store, "workers", export.folder / "roster.xlsx")
    assert workers.accepted == 4, workers.summary()
    roster = pd.DataFrame(store.read("workers")).set_index("worker_id")
    assert roster.at["W002", "id_number"] == "15050219900202123X" and roster.at["W003", "role"] == "part_time"

    outcome = partition_store(store, "imported county")
    activate_plan(store, outcome.plan_id)
    grids = store.read("grids", where={"plan_id": outcome.plan_id})
    assert int(grids["households"].sum()) == export.households  # the plan holds every household

    assignments = run_import(store, "assignments", export.folder / "assignments.csv")
    assert assignments.rejected == 0 and assignments.accepted >= 4, assignments.summary()

    patrols = run_import(store, "patrols", export.folder / "patrols.csv")
    assert patrols.rows == export.patrol_rows
    assert (patrols.accepted, patrols.rejected) == (export.patrol_rows - 1, 1), patrols.summary()
    assert store.count("patrols") == export.patrol_rows - 1

    cases = run_import(store, "cases", export.folder / "cases.csv")
    assert cases.rows == export.case_rows and cases.accepted + cases.review + cases.rejected == cases.rows
    assert cases.accepted >= 0.8 * cases.rows, cases.summary()
    stored_cases = pd.DataFrame(store.read("cases"))
    assert len(stored_cases) == export.case_rows
    accepted = stored_cases[stored_cases["geocode_status"] == "accepted"]
    assert accepted["grid_code"].notna().all()

    # re-importing everything changes nothing
    again = run_import(store, "patrols", export.folder / "patrols.csv")
    assert again.inserted == 0 and again.updated == 0

    result, _ = audit_from_store(store, "2024-12")
    assert result.findings is not None
    assert set(result.findings["worker_id"].dropna()) <= set(export.workers["worker_id"]) | {""}

    from gridmap.hotspots.runs import run_hotspots

    run_id = run_hotspots(store, "gi", unit="grid", params={"value": "count"})
    assert store.count("hotspot_results", {"run_id": run_id}) == len(grids)
