"""Vector tiles through the API on both backends; the GeoPackage encoder (api.mvt) agrees with
PostGIS's own ST_AsMVT on the same data."""

from __future__ import annotations

import mapbox_vector_tile
import pytest
import shapely
from shapely.geometry import shape

from api import mvt
from api.tilesource import TileRequest, build_tile
from gridmap.disclosure import DisclosureRule
from tests.api_testdata import CASES_PER_GRID, G1, G2, G3, G4, G5, GRID_BOXES, build_city, make_client

CITY_BOX = (122.0, 43.5, 122.5, 43.8)
RULE = DisclosureRule(threshold=3)


@pytest.fixture
def city_store(store):
    build_city(store, with_users=False)
    return store


def _decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def test_grid_tiles_cover_the_city(city_store):
    client = make_client(city_store)
    seen = set()
    for z, x, y in mvt.tiles_covering(CITY_BOX, [9, 11]):
        r = client.get(f"/tiles/grids/{z}/{x}/{y}.pbf")
        if r.status_code == 204:
            continue
        assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        layer = _decode(r.content)["grids"]
        for f in layer["features"]:
            assert f["id"] == int(f["properties"]["code"])
            seen.add(f["properties"]["code"])
    assert seen == set(GRID_BOXES)


def test_hotspot_tiles_suppress_small_counts_for_the_public(city_store):
    client = make_client(city_store)
    z, x, y = mvt.tiles_covering((122.4, 43.7, 122.4, 43.7), [10])[0]
    public = {
        f["properties"]["unit_id"]: f["properties"]
        for f in _decode(client.get(f"/tiles/hotspots/{z}/{x}/{y}.pbf").content)["hotspots"]["features"]
    }
    assert "count" not in public[G5] and public[G5]["suppressed"] is True and public[G5]["bin"] == -1
    assert client.get(f"/tiles/hotspots/{z}/{x}/{y}.pbf", params={"method": "nope"}).status_code == 404
    full = TileRequest("hotspots", "R-gi", z, x, y, True, RULE)
    props = {
        f["properties"]["unit_id"]: f["properties"]
        for f in _decode(build_tile(city_store, full))["hotspots"]["features"]
    }
    assert props[G5]["count"] == CASES_PER_GRID[G5] and props[G5]["suppressed"] is False


def test_empty_tile_is_204(gpkg_store):
    build_city(gpkg_store, with_users=False)
    client = make_client(gpkg_store)
    assert client.get("/tiles/grids/10/0/0.pbf").status_code == 204


@pytest.mark.postgis
def test_hand_encoder_matches_st_asmvt(postgis_store, tmp_path):
    """The same city in PostGIS (ST_AsMVT) and through api.mvt: same features, ids, properties;
    geometries within a tile unit."""
    from gridmap.store import open_store

    build_city(postgis_store, with_users=False)
    gpkg = open_store(tmp_path / "same.gpkg")
    build_city(gpkg, with_users=False)
    compared = 0
    for layer, source in (("grids", "P1"), ("hotspots", "R-gi")):
        for z, x, y in mvt.tiles_covering(CITY_BOX, [10, 12]):
            request = TileRequest(layer, source, z, x, y, False, RULE)
            ours, theirs = build_tile(gpkg, request), build_tile(postgis_store, request)
            if not ours and not theirs:
                continue
            a = {f["id"]: f for f in _decode(ours)[layer]["features"]}
            b = {f["id"]: f for f in _decode(theirs)[layer]["features"]}
            assert set(a) == set(b), (layer, z, x, y)
            for fid in a:
                assert a[fid]["properties"] == pytest.approx(b[fid]["properties"])
                ga, gb = shape(a[fid]["geometry"]), shape(b[fid]["geometry"])
                assert shapely.hausdorff_distance(ga, gb) <= 1.5
                assert abs(ga.area - gb.area) <= max(0.01 * gb.area, 2 * gb.length)
                compared += 1
    gpkg.close()
    assert compared >= 10


def test_cache_keys_follow_plan_edits(city_store):
    """A tile built for a plan is not served again once the plan has been edited (outside this
    server, after the source memo's few seconds)."""
    client = make_client(city_store)
    cache = client.app.state.tile_cache
    client.app.state.tile_sources.ttl_s = 0  # look the plan revision up on every request
    z, x, y = mvt.tiles_covering((122.1, 43.6, 122.1, 43.6), [10])[0]
    first = client.get(f"/tiles/grids/{z}/{x}/{y}.pbf", params={"plan": "P2"}).content
    client.get(f"/tiles/grids/{z}/{x}/{y}.pbf", params={"plan": "P2"})
    assert cache.hits >= 1
    from gridmap.partition.edits import split_grid

    split_grid(city_store, "P2", "150502001002001", 2, actor="test")  # outside the API: no cache clear
    after = client.get(f"/tiles/grids/{z}/{x}/{y}.pbf", params={"plan": "P2"}).content
    codes = {f["properties"]["code"] for f in _decode(after)["grids"]["features"]}
    assert after != first and "150502001002001" not in codes and G1 in codes


def test_coverage_tiles_need_coverage_rights_and_match_the_geojson(store):
    from tests.api_testdata import sign_in

    build_city(store)
    client = make_client(store)
    z, x, y = mvt.tiles_covering((122.3, 43.7, 122.3, 43.7), [9])[0]
    assert client.get(f"/tiles/coverage/{z}/{x}/{y}.pbf").status_code == 401
    headers = sign_in(client, "supervisor")
    geojson = client.get("/api/v1/coverage/grids", headers=headers).json()
    r = client.get(
        f"/tiles/coverage/{z}/{x}/{y}.pbf", params={"period": geojson["period"][:7]}, headers=headers
    )
    assert r.status_code == 200
    tiled = {f["properties"]["code"]: f["properties"] for f in _decode(r.content)["coverage"]["features"]}
    assert set(tiled) == set(GRID_BOXES)
    for feature in geojson["features"]:
        p = feature["properties"]
        assert tiled[p["code"]]["workers"] == p["workers"]
        assert tiled[p["code"]].get("days_since_visit") == p["days_since_visit"]
    assert (
        client.get(f"/tiles/coverage/{z}/{x}/{y}.pbf", params={"period": "13"}, headers=headers).status_code
        == 400
    )


def test_gcj02_tiles_are_shifted_like_the_geojson(city_store):
    client = make_client(city_store)
    z, x, y = mvt.tiles_covering((122.3, 43.7, 122.3, 43.7), [9])[0]
    plain = _decode(client.get(f"/tiles/grids/{z}/{x}/{y}.pbf").content)["grids"]["features"]
    shifted = _decode(client.get(f"/tiles/grids/{z}/{x}/{y}.pbf", params={"crs": "gcj02"}).content)
    shifted = shifted["grids"]["features"]
    # GCJ-02 lies some hundreds of metres off WGS-84 around Tongliao: a few tile units at zoom 9
    west = {f["properties"]["code"]: shape(f["geometry"]).bounds[0] for f in plain}
    west_gcj = {f["properties"]["code"]: shape(f["geometry"]).bounds[0] for f in shifted}
    assert west.keys() == west_gcj.keys()
    assert all(west_gcj[c] - west[c] >= 2 for c in west)
    assert client.get(f"/tiles/grids/{z}/{x}/{y}.pbf", params={"crs": "bd09"}).status_code == 400


def test_unit_counts_disclose_for_the_public_and_are_exact_for_commanders(store):
    from tests.api_testdata import sign_in

    build_city(store)
    client = make_client(store)
    public = client.get("/api/v1/unit-counts", params={"level": "township", "parent": "150502"}).json()
    by_code = {u["code"]: u for u in public["units"]}
    assert set(by_code) == {"150502001", "150502002"}
    headers = sign_in(client, "commander")
    exact = client.get(
        "/api/v1/unit-counts", params={"level": "township", "parent": "150502"}, headers=headers
    ).json()
    exact_by_code = {u["code"]: u["count"] for u in exact["units"]}
    # G1, G2 lie in 西门街道 (150502001); G3, G4, G5 in 东门街道
    west = sum(CASES_PER_GRID[g] for g in CASES_PER_GRID if g.startswith("150502001"))
    assert exact_by_code["150502001"] == west
    assert sum(exact_by_code.values()) == sum(CASES_PER_GRID.values())
    for code, unit in by_code.items():  # disclosed: never exact-by-construction, never below k
        assert unit["suppressed"] or unit["count"] >= 3
        assert abs(unit["count"] - exact_by_code[code]) <= 15
    county = client.get("/api/v1/unit-counts", params={"level": "county"}, headers=headers).json()
    assert county["units"] == [{"code": "150502", "name": "科尔沁区", "count": 41, "suppressed": False}]
    assert client.get("/api/v1/unit-counts", params={"level": "village"}).status_code == 400
    assert client.get("/api/v1/unit-counts", params={"from": "2024-03-05"}).status_code == 400


def test_one_hotspot_result_by_unit(city_store):
    client = make_client(city_store)
    r = client.get(f"/api/v1/hotspots/runs/R-gi/results/{G5}")
    assert r.status_code == 200
    (feature,) = r.json()["features"]
    assert feature["id"] == G5 and feature["properties"]["bin"] == -1 and feature["properties"]["suppressed"]
    assert client.get("/api/v1/hotspots/runs/R-gi/results/nope").status_code == 404


def test_a_store_of_several_cities_shows_each_citys_newest_run(city_store):
    """An area build stores a Gi* run per city (summary.area): the hot-spot tiles and the latest
    results draw every city's newest run together, not only the last city built (issue #15)."""
    import json

    import pandas as pd

    from api.tilesource import hotspot_run_for, latest_hotspot_runs

    base = city_store.read("hotspot_results", where={"run_id": "R-gi"})
    west, east = [G1, G2, G3], [G4, G5]  # two "cities": 150500 and 150400 (synthetic split)
    runs = [
        ("R-a-old", "150500", "2024-12-02T00:00:00", west),  # superseded by R-a
        ("R-a", "150500", "2024-12-03T00:00:00", west),
        ("R-b", "150400", "2024-12-04T00:00:00", east),
    ]
    city_store.write(
        "hotspot_runs",
        pd.DataFrame(
            [
                {
                    "run_id": run,
                    "method": "gi",
                    "created_at": created,
                    "plan_id": "P1",
                    "unit_kind": "grid",
                    "params": "{}",
                    "filters": json.dumps({"kind": "dispute"}),
                    "summary": json.dumps({"area": area}),
                }
                for run, area, created, _ in runs
            ]
        ),
    )
    city_store.write(
        "hotspot_results",
        pd.concat([base[base["unit_id"].isin(units)].assign(run_id=run) for run, _, _, units in runs]),
    )
    assert latest_hotspot_runs(city_store, "gi") == ["R-b", "R-a"]
    assert latest_hotspot_runs(city_store, "emerging") == ["R-emerging"]  # one run: as before
    client = make_client(city_store)
    z, x, y = mvt.tiles_covering(CITY_BOX, [9])[0]
    r = client.get(f"/tiles/hotspots/{z}/{x}/{y}.pbf", params={"method": "gi"})
    public = {f["properties"]["unit_id"]: f["properties"] for f in _decode(r.content)["hotspots"]["features"]}
    assert set(public) == set(west + east)  # the old route drew R-b's (east) only
    assert public[G5]["suppressed"] is True and "count" not in public[G5]  # disclosed run by run
    full = TileRequest("hotspots", hotspot_run_for(city_store, "gi"), z, x, y, True, RULE)
    units = [
        f["properties"]["unit_id"] for f in _decode(build_tile(city_store, full))["hotspots"]["features"]
    ]
    assert sorted(units) == sorted(west + east)  # once each: R-a-old is not drawn
    latest = client.get("/api/v1/hotspots/latest/gi").json()
    assert latest["run_ids"] == ["R-b", "R-a"] and {f["id"] for f in latest["features"]} == set(west + east)
    ogc = client.get("/ogc/collections/hotspots-gi/items").json()["features"]
    assert sorted(f["id"] for f in ogc) == sorted(west + east)
    listed = client.get("/api/v1/hotspots/latest/gi/runs").json()
    assert [(r["run_id"], r["area"]) for r in listed] == [("R-b", "150400"), ("R-a", "150500")]
