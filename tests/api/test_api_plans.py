"""Plan edits through the API: split, merge, move (422 with the rule on rejection), audit,
tile cache invalidation, diff, quality and activation."""

from __future__ import annotations

import mapbox_vector_tile
import pytest

from api import mvt
from tests.api_testdata import G1, G2, G3, G4, G5, city_gpkg, make_client, sign_in


@pytest.fixture()
def env(tmp_path):
    store, _ = city_gpkg(tmp_path / "city.gpkg")
    client = make_client(store)
    headers = {u: sign_in(client, u) for u in ("planner", "commander", "admin")}
    yield store, client, headers
    client.close()
    store.close()


def _tile_codes(client, plan: str) -> set[str]:
    z, x, y = 10, *mvt.tiles_covering((122.3, 43.6, 122.3, 43.6), [10])[0][1:]
    r = client.get(f"/tiles/grids/{z}/{x}/{y}.pbf", params={"plan": plan})
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    return {f["properties"]["code"] for f in mapbox_vector_tile.decode(r.content)["grids"]["features"]}


def test_split_and_merge_go_through_and_are_audited(env):
    store, client, h = env
    before = _tile_codes(client, "P2")
    assert {G4, G5} <= before
    r = client.post("/api/v1/plans/P2/edits/split", json={"grid": G3, "parts": 2}, headers=h["planner"])
    assert r.status_code == 200, r.text
    new = r.json()["grids"]
    assert len(new) == 2 and all(c.startswith(G3[:12]) and c != G3 for c in new)
    grids = store.read("grids", where={"plan_id": "P2"})
    assert G3 not in set(grids["code"]) and set(new) <= set(grids["code"])
    split_hh = grids.loc[grids["code"].isin(new), "households"]
    assert split_hh.sum() == 700 and all(300 <= v <= 500 for v in split_hh)
    r = client.post("/api/v1/plans/P2/edits/merge", json={"grids": [G4, G5]}, headers=h["planner"])
    assert r.status_code == 200, r.text
    merged = r.json()["grids"][0]
    assert int(store.read("grids", where={"plan_id": "P2", "code": merged})["households"].iloc[0]) == 450
    # the tile cache did not serve the old grids
    after = _tile_codes(client, "P2")
    assert merged in after and not ({G4, G5} & after)
    edits = client.get("/api/v1/plans/P2/edits", headers=h["planner"]).json()
    assert sorted(e["kind"] for e in edits) == ["merge", "split"] and {e["actor"] for e in edits} == {
        "planner"
    }
    audit = store.read("audit_log", where={"action": ["plan.split", "plan.merge"]})
    assert sorted(audit["action"]) == ["plan.merge", "plan.split"] and set(audit["actor"]) == {"planner"}


def test_rejected_edits_answer_422_with_the_reason(env):
    store, client, h = env
    r = client.post("/api/v1/plans/P2/edits/split", json={"grid": G5, "parts": 2}, headers=h["planner"])
    assert r.status_code == 422 and "outside the band 300–500" in r.json()["detail"]
    r = client.post("/api/v1/plans/P2/edits/merge", json={"grids": [G1, G2]}, headers=h["planner"])
    assert r.status_code == 422 and "770 households" in r.json()["detail"]
    r = client.post("/api/v1/plans/P2/edits/merge", json={"grids": [G2, G4]}, headers=h["planner"])
    assert r.status_code == 422 and "different villages" in r.json()["detail"]
    r = client.post(
        "/api/v1/plans/P2/edits/move", json={"atoms": [f"{G1}-00"], "to_grid": G2}, headers=h["planner"]
    )
    assert r.status_code == 422 and "contiguous" in r.json()["detail"]
    r = client.post("/api/v1/plans/P1/edits/split", json={"grid": G1, "parts": 2}, headers=h["planner"])
    assert r.status_code == 422 and "only draft plans can be edited" in r.json()["detail"]
    assert (
        client.post(
            "/api/v1/plans/P2/edits/split", json={"grid": "nope", "parts": 2}, headers=h["planner"]
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/v1/plans/P2/edits/split", json={"grid": G3, "parts": 2}, headers=h["commander"]
        ).status_code
        == 403
    )
    # nothing changed and nothing was logged
    assert len(store.read("grids", where={"plan_id": "P2"})) == 5
    assert len(store.read("audit_log", where={"action": ["plan.split", "plan.merge", "plan.move"]})) == 0


def test_move_atoms_and_override(env):
    store, client, h = env
    edge_atom = f"{G1}-12"  # eastern column of G1, touching G2
    r = client.post(
        "/api/v1/plans/P2/edits/move", json={"atoms": [edge_atom], "to_grid": G2}, headers=h["planner"]
    )
    assert r.status_code == 200, r.text
    atoms = store.read("plan_atoms", where={"plan_id": "P2", "atom_id": edge_atom})
    assert atoms["grid_code"].iloc[0] == G2
    r = client.post(
        "/api/v1/plans/P2/edits/split", json={"grid": G5, "parts": 2, "override": True}, headers=h["planner"]
    )
    assert r.status_code == 200
    edits = store.read("plan_edits", where={"plan_id": "P2", "kind": "split"})
    assert int(edits["override"].iloc[0]) == 1 and "band" in edits["reason"].iloc[0]


def test_diff_quality_and_activation(env):
    store, client, h = env
    client.post("/api/v1/plans/P2/edits/merge", json={"grids": [G4, G5]}, headers=h["planner"])
    d = client.get("/api/v1/plans/P2/diff", params={"other": "P1"}).json()
    assert set(d["removed"]) == {G4, G5} and len(d["added"]) == 1
    assert {c["code"] for c in d["changed"]} >= {G3}  # households differ between the plans
    q = client.get("/api/v1/plans/P2/quality").json()
    assert q["summary"]["grids"] == 4 and q["summary"]["band"] == [300, 500]
    assert {g["code"] for g in q["grids"]} == set(store.read("grids", where={"plan_id": "P2"})["code"])
    assert client.post("/api/v1/plans/P2/activate", headers=h["commander"]).status_code == 403
    assert client.post("/api/v1/plans/P2/activate", headers=h["planner"]).json()["status"] == "active"
    assert client.get("/api/health").json()["active_plan"] == "P2"
    assert {p["plan_id"]: p["status"] for p in client.get("/api/v1/plans").json()} == {
        "P1": "archived",
        "P2": "active",
    }
    assert client.post("/api/v1/plans/P1/activate", headers=h["planner"]).status_code == 422
    assert store.read("audit_log", where={"action": "plan.activate"})["object_id"].tolist() == ["P2"]


def test_unknown_plan_is_404(env):
    _, client, h = env
    for url in ("/api/v1/plans/none", "/api/v1/plans/none/quality", "/api/v1/plans/none/edits"):
        assert client.get(url).status_code == 404
    assert (
        client.post("/api/v1/plans/none/edits/split", json={"grid": G1}, headers=h["planner"]).status_code
        == 404
    )


def test_partition_job_saves_a_balanced_draft_plan(env):
    """POST /api/v1/plans runs the partition in the background and the job reports the plan."""
    import time

    import geopandas as gpd
    import numpy as np

    store, client, h = env
    rng = np.random.default_rng(3)
    n = 120  # 120 addresses × 10 households in one 民航社区 → k = 3 grids of ~400
    lon = 122.05 + rng.random(n) * 0.15
    lat = 43.52 + rng.random(n) * 0.1
    store.write(
        "addresses",
        gpd.GeoDataFrame(
            {
                "address_id": [f"A{i:04d}" for i in range(n)],
                "village_code": "150502001001",
                "households": 10,
                "population": 27,
                "urban": 1,
                "source": "test",
            },
            geometry=gpd.points_from_xy(lon, lat),
            crs="EPSG:4326",
        ),
        mode="replace",
    )
    assert client.post("/api/v1/plans", json={"name": "v3"}, headers=h["commander"]).status_code == 403
    r = client.post("/api/v1/plans", json={"name": "v3", "parent_id": None}, headers=h["planner"])
    assert r.status_code == 202, r.text
    href = r.json()["href"]
    for _ in range(600):
        job = client.get(href, headers=h["planner"]).json()
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["state"] == "done", job
    plan_id = job["result"]["plan_id"]
    plan = store.read("plans", where={"plan_id": plan_id}).iloc[0]
    assert plan["status"] == "draft" and plan["name"] == "v3"
    grids = store.read("grids", where={"plan_id": plan_id, "village_code": "150502001001"})
    assert len(grids) == 3 and grids["households"].sum() == 1200
    assert grids["households"].between(360, 440).all()
