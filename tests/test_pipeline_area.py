"""`gridmap build-demo --area`: two counties of two cities into PostGIS, city by city, in partitions.

The province build (`--area 150000`) is the same loop over 12 cities; it is measured in bench/scale.py.
"""

from __future__ import annotations

import json

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from api import mvt
from gridmap.coverage.batch import area_inputs
from gridmap.coverage.service import load_audit_inputs
from gridmap.domain import area_counties
from gridmap.hotspots.runs import compute_run
from gridmap.pipeline import build_demo, peak_rss_mb
from tests.api_testdata import make_client

#: 白云鄂博矿区 (包头市, 4 villages) and 乌达区 (乌海市, 21 villages): the smallest two-city build
AREA = "150206,150303"


@pytest.mark.postgis
def test_two_cities_build_into_partitions_and_serve_tiles_in_both(postgis_store):
    store = postgis_store
    report = build_demo(seed=3, scale=0.5, store=store, area=AREA, with_users=False)
    assert [c.code for c in report.cities] == AREA.split(",")
    assert {"grids_150206", "grids_150303", "grids_default"} <= set(store.partitions("grids"))
    assert {"cases_150206", "cases_150303"} <= set(store.partitions("cases"))
    units = store.read("admin_units", columns=["code", "level", "parent_code"])
    counties = set(units.loc[units["level"] == "county", "code"])
    assert counties == {"150206", "150303"}
    villages = units[units["level"] == "village"]
    assert set(villages["code"].str[:6]) == counties and len(villages) == 4 + 21
    plan = store.active_plan_id()
    grids = store.read("grids", where={"plan_id": plan})
    # every village is covered by its grids, in its county's partition
    assert set(grids["village_code"]) == set(villages["code"])
    rows = store._fetch(
        "rows per partition",
        f'SELECT tableoid::regclass::text, count(*) FROM "{store.schema}".grids GROUP BY 1',
        [],
    )
    assert {name.split(".")[-1].strip('"') for name, n in rows if n} == {"grids_150206", "grids_150303"}
    # ids of the two cities do not collide, and the cases were geocoded onto grids in both
    cases = store.read("cases", columns=["case_id", "grid_code", "county_code"])
    assert cases["case_id"].is_unique and set(cases["case_id"].str[:6]) == {"150206", "150303"}
    assert set(cases["county_code"].dropna()) == counties
    assert report.counts["grids"] == len(grids) and store.count("hotspot_results") > 0
    # hot spots city by city: each run covers its own city's grids only
    runs = store.read("hotspot_runs", columns=["run_id", "method", "summary"])
    runs["area"] = [json.loads(s).get("area") for s in runs["summary"]]
    assert set(runs["area"]) == {"150200", "150300"}, report.notes
    for run_id, area in runs.loc[runs["method"] == "gi", ["run_id", "area"]].itertuples(index=False):
        units = store.read("hotspot_results", where={"run_id": run_id}, columns=["unit_id"])["unit_id"]
        assert set(units) == set(grids.loc[grids["code"].str[:4] == area[:4], "code"]), area
    # and reads its own county partitions only
    assert area_counties(store, "150300") == ["150303"] and area_counties(store, "150303") == ["150303"]
    reads = []
    original = store.read

    def spy(table, where=None, **kwargs):
        reads.append((table, dict(where or {})))
        return original(table, where=where, **kwargs)

    store.read = spy
    try:
        compute_run(store, "gi", "grid", plan, None, {"kind": "dispute"}, {}, area="150300")
        partitioned = [(t, w) for t, w in reads if t in ("cases", "grids", "addresses")]
        assert {t for t, _ in partitioned} >= {"cases", "grids"}
        assert all(w.get("county_code") == ["150303"] for _, w in partitioned), partitioned
        # a city's audit too (check-ins: the counties its staff are posted in, or none), with the
        # same inputs as the city's share of the whole store's
        reads.clear()
        city = load_audit_inputs(store, "2024-11", area="150300")
        read = dict(reads)
        assert read["grids"]["county_code"] == read["cases"]["county_code"] == ["150303"]
        assert read["patrols"]["county_code"] == ["150303", None]
    finally:
        del store.read
    whole = area_inputs(load_audit_inputs(store, "2024-11"), "150300")
    city = area_inputs(city, "150300")
    for name in ("grids", "assignments", "patrols", "workers", "cases", "items"):
        a, b = getattr(city, name), getattr(whole, name)
        assert a.reset_index(drop=True).equals(b.reset_index(drop=True)), name
    # the first plan is a recipe, not stored grids
    first = store.read("plans", where={"status": "archived"})
    assert len(first) == 1 and store.count("grids", {"plan_id": first["plan_id"].iloc[0]}) == 0
    client = make_client(store, rate_limit_per_address=0, rate_limit_per_token=0)
    try:
        for county in sorted(counties):
            inside = grids[grids["county_code"] == county].geometry.iloc[0]
            point = shapely.get_coordinates(inside.representative_point())[0]
            z, x, y = mvt.tiles_covering((*point, *point), [12])[0]
            r = client.get(f"/tiles/grids/{z}/{x}/{y}.pbf")
            assert r.status_code == 200, (county, r.status_code)
            features = mapbox_vector_tile.decode(r.content)["grids"]["features"]
            assert any(f["properties"]["code"].startswith(county) for f in features), county
            # the hot-spot layer draws each city's newest run, not only the last city's (issue #15)
            r = client.get(f"/tiles/hotspots/{z}/{x}/{y}.pbf", params={"method": "gi"})
            assert r.status_code == 200, (county, r.status_code)
            features = mapbox_vector_tile.decode(r.content)["hotspots"]["features"]
            assert any(f["properties"]["unit_id"].startswith(county) for f in features), county
    finally:
        client.close()


def test_a_first_plan_stored_as_a_recipe_is_recomputed(gpkg_store):
    from gridmap.partition import plans
    from gridmap.partition.h3plan import h3_plan
    from gridmap.pipeline import _first_plan
    from gridmap.synth import synthesize

    city = synthesize(seed=5, scale=0.5, area="150206")  # 白云鄂博矿区: 4 villages
    gpkg_store.write("admin_units", city.admin_units)
    gpkg_store.write("addresses", city.addresses)
    villages = city.admin_units[city.admin_units["level"] == "village"]
    expected = h3_plan(villages, city.addresses, resolution=8)
    plan_id = _first_plan(gpkg_store, 8, len(expected))
    assert gpkg_store.count("grids", {"plan_id": plan_id}) == 0  # nothing stored but the recipe
    plan = plans.load_plan(gpkg_store, plan_id)
    assert len(plan.grids) == len(expected) and set(plan.grids["code"]) == set(expected["code"])


def test_the_demo_build_stores_the_first_plan_without_clipping_it(gpkg_store, monkeypatch):
    """Clipping every village to H3 cells only to count them cost Tongliao 76 s and 1.8 GB."""
    from gridmap.config import Settings
    from gridmap.partition import h3plan
    from gridmap.pipeline import BuildReport, _build_plans
    from gridmap.synth import synthesize

    city = synthesize(seed=5, scale=0.5, area="150206")  # 白云鄂博矿区: 4 villages
    gpkg_store.write("admin_units", city.admin_units)
    gpkg_store.write("addresses", city.addresses)
    villages = city.admin_units[city.admin_units["level"] == "village"].reset_index(drop=True)

    def refuse(*args, **kwargs):
        raise AssertionError("the first plan was materialised")

    monkeypatch.setattr(h3plan, "h3_plan", refuse)
    active = _build_plans(gpkg_store, villages, city.addresses, Settings(), BuildReport(), lambda m: None)
    first = gpkg_store.read("plans", where={"status": "archived"})
    assert len(first) == 1 and json.loads(first["params"].iloc[0])["grids"] is None
    assert gpkg_store.count("grids", {"plan_id": first["plan_id"].iloc[0]}) == 0
    assert gpkg_store.count("grids", {"plan_id": active}) > 0


def test_a_store_is_reopened_by_url_in_a_child_process(gpkg_store, tmp_path):
    from gridmap.pipeline import _reopen_url
    from gridmap.store import open_store
    from gridmap.store.postgis import PostgisStore

    assert _reopen_url(gpkg_store) == str(gpkg_store.path)
    pg = PostgisStore("postgresql://postgres@127.0.0.1:5432/db?sslmode=disable", schema="s1")
    assert _reopen_url(pg) == "postgresql://postgres@127.0.0.1:5432/db?sslmode=disable&schema=s1"
    assert _reopen_url(PostgisStore("dbname=db host=127.0.0.1")) is None  # a keyword DSN: in-process
    assert open_store(_reopen_url(gpkg_store)).path == gpkg_store.path


def test_a_city_built_in_a_child_process_equals_the_in_process_build(tmp_path):
    """The province builds each city in a spawned child (memory returned after each city): same rows."""
    from gridmap.store import open_store

    def build(isolate: bool):
        store = open_store(tmp_path / f"isolate_{isolate}.gpkg")
        report = build_demo(seed=3, scale=0.5, store=store, area="150206", with_users=False, isolate=isolate)
        grids = store.read("grids", where={"plan_id": store.active_plan_id()}, columns=["code", "households"])
        cases = store.read("cases", columns=["case_id", "grid_code"])
        store.close()
        return report, grids.sort_values("code").reset_index(drop=True), cases.sort_values("case_id")

    # the parent made big first: a spawned child's ru_maxrss would start at the parent's resident
    # size, its VmHWM (what the city reports) does not
    ballast = np.ones(96 * 2**20, dtype=np.float64)  # 768 MiB, touched
    parent_rss = peak_rss_mb()
    child, child_grids, child_cases = build(True)
    del ballast
    here, here_grids, here_cases = build(False)
    assert 0 < child.cities[0].peak_rss_mb < parent_rss - 300 and child.cities[0].code == "150206"
    assert child.counts == here.counts and child.counts["grids"] > 0
    assert child_grids.equals(here_grids)
    assert child_cases.reset_index(drop=True).equals(here_cases.reset_index(drop=True))
