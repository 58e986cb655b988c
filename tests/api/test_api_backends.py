"""The main reads of the API give the same answers on both store backends (GeoPackage, PostGIS)."""

from __future__ import annotations

import pytest

from tests.api_testdata import CASES_PER_GRID, G1, G4, G5, build_city, make_client, sign_in


@pytest.fixture
def client(store):
    build_city(store)
    c = make_client(store)
    yield c
    c.app.state.jobs.shutdown()
    c.close()


def test_main_reads_on_each_backend(client, store):
    h = {u: sign_in(client, u) for u in ("commander", "worker", "supervisor")}
    assert client.get("/api/health").json()["backend"] == store.backend
    grids = client.get("/api/v1/plans/P1/grids", params={"bbox": "122.26,43.51,122.49,43.79"}).json()
    assert sorted(f["id"] for f in grids["features"]) == [G4, G5]
    page = client.get(
        "/api/v1/cases", params={"limit": 10, "admin": "150502002"}, headers=h["commander"]
    ).json()
    assert page["total"] == CASES_PER_GRID[G4] + CASES_PER_GRID[G5] and page["next"] is None
    assert all(c["party_phone"].count("*") == 4 for c in page["items"])
    own = client.get("/api/v1/cases", params={"limit": 1000}, headers=h["worker"]).json()
    assert own["total"] == CASES_PER_GRID[G1] + CASES_PER_GRID["150502001001002"]
    public = {f["id"]: f["properties"] for f in client.get("/api/v1/hotspots/latest/gi").json()["features"]}
    assert public[G5]["suppressed"] is True and public[G1]["count"] >= 3  # perturbed (gridmap.disclosure)
    ogc = client.get("/ogc/collections/grids/items", params={"limit": 3}).json()
    assert ogc["numberMatched"] == 5 and ogc["numberReturned"] == 3
    coverage = client.get("/api/v1/coverage/grids", headers=h["supervisor"]).json()
    assert {f["id"]: f["properties"]["workers"] for f in coverage["features"]}[G4] == 0
