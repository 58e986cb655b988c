"""The demo pipeline end to end: what `make demo` builds, checked as a user would.

The session's scale-1 demo build (``demo_build`` in tests/conftest.py) is read here; its tables
are then copied into PostGIS so the same KPIs can be compared across backends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from gridmap.crs import LOCAL_CRS


@pytest.fixture
def demo(demo_build, demo_store):
    return demo_build.path, demo_store, demo_build.report


def test_geopackage_lists_the_layers(demo):
    path, _, report = demo
    layers = dict(pyogrio.list_layers(path))
    for layer in ("admin_units", "addresses", "grids", "cases", "patrols", "hotspot_results"):
        assert layer in layers, layers
    assert layers["grids"] == "MultiPolygon" and layers["cases"] == "Point"
    grids = pyogrio.read_dataframe(path, layer="grids")
    assert grids.crs.to_epsg() == 4326 and len(grids) == report.counts["grids"]


def _area_km2(geoms) -> float:
    return float(shapely.area(shapely.union_all(np.asarray(geoms))) / 1e6)


@pytest.mark.parametrize(
    ("child", "parent"), [("county", "city"), ("township", "county"), ("village", "township")]
)
def test_admin_levels_tile_their_parents(demo, child, parent):
    _, store, _ = demo
    units = store.read("admin_units")
    # densify first: a 10 km straight edge in degrees bends by ~2 m once projected
    units = units.set_geometry(units.geometry.segmentize(5e-4)).to_crs(LOCAL_CRS)
    assert units.geometry.is_valid.all()
    kids = units[units["level"] == child]
    parents = units[units["level"] == parent].set_index("code")
    for code, group in kids.groupby("parent_code"):
        outer = parents.loc[code, "geometry"]
        union = shapely.union_all(group.geometry.to_numpy())
        assert shapely.area(shapely.symmetric_difference(union, outer)) / 1e6 < 0.01, code
        # no overlaps: the parts' areas add up to the union's
        assert abs(group.geometry.area.sum() - union.area) / 1e6 < 0.01, code


def test_active_plan_grids_nest_in_villages_and_cases_land_on_them(demo):
    _, store, _ = demo
    plan_id = store.active_plan_id()
    assert plan_id is not None
    grids = store.read("grids", where={"plan_id": plan_id})
    assert grids["code"].str.len().eq(15).all()
    assert (grids["code"].str[:12] == grids["village_code"]).all()
    villages = store.read("admin_units", where={"level": "village"}).set_index("code")
    total = store.read("addresses", columns=["households"])["households"].sum()
    assert grids["households"].sum() == total  # no household lost or counted twice
    cases = store.read("cases")
    located = cases["grid_code"].notna()
    assert located.mean() > 0.9
    # a located case lies inside its grid's village
    sample = cases[located].head(200)
    vill = villages.loc[sample["grid_code"].str[:12], "geometry"].to_numpy()
    assert shapely.covers(vill, sample.geometry.to_numpy()).all()
    statuses = set(cases["geocode_status"].dropna())
    assert statuses <= {"accepted", "review", "rejected", "manual"}


def test_gi_star_run_is_stored_with_its_filters(demo):
    _, store, _ = demo
    runs = store.read("hotspot_runs")
    gi = runs[runs["method"] == "gi"]
    assert len(gi) >= 1
    results = store.read("hotspot_results", where={"run_id": gi["run_id"].iloc[0]})
    assert len(results) == store.count("grids", where={"plan_id": store.active_plan_id()})
    assert results["bin"].between(-3, 3).all()
    assert (results["p_fdr"] >= results["p"] - 1e-12).all()  # BH never lowers a p-value
    assert '"kind"' in gi["filters"].iloc[0]


def test_same_kpis_on_both_backends(demo, postgis_store):
    from gridmap.coverage.service import kpis_from_store

    _, gpkg, _ = demo
    with postgis_store.transaction():
        for table in ("admin_units", "plans", "cases", "petition_items", "petition_visits"):
            postgis_store.write(table, gpkg.read(table), mode="replace")
        # the active plan is what KPIs read; the archived first plan (150k H3 cells) is not copied
        active = gpkg.read("grids", where={"plan_id": gpkg.active_plan_id()})
        postgis_store.write("grids", active, mode="replace")
    for level in ("county", "township"):
        a = kpis_from_store(gpkg, level, "2023")
        b = kpis_from_store(postgis_store, level, "2023")
        assert len(a) > 0
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
