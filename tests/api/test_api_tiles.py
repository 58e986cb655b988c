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
from tests.api_testdata import CASES_PER_GRID, G1, G5, GRID_BOXES, build_city, make_client

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
