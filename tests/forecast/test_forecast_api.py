"""The forecast API: POST starts a job, GET lists runs, results (GeoJSON), the warning list; roles."""

from __future__ import annotations

import time

import pytest

from tests.api_testdata import G5, PASSWORDS, city_gpkg, make_client, sign_in


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    store, city = city_gpkg(tmp_path_factory.mktemp("fc") / "city.gpkg")
    client = make_client(store)
    headers = {u: sign_in(client, u) for u in PASSWORDS}
    yield store, client, headers
    client.close()
    store.close()


def _wait(client, headers, job_id):
    for _ in range(300):
        body = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if body["state"] in ("done", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_run_as_job_then_read_results_and_list(env):
    _store, client, headers = env
    body = {"kind": "dispute", "asof": "2024-12-01", "method": "rolling_3"}
    assert client.post("/api/v1/forecast/runs", json=body).status_code == 401
    assert client.post("/api/v1/forecast/runs", json=body, headers=headers["planner"]).status_code == 403
    started = client.post("/api/v1/forecast/runs", json=body, headers=headers["commander"])
    assert started.status_code == 202
    job = _wait(client, headers["commander"], started.json()["job_id"])
    assert job["state"] == "done", job
    run_id = job["result"]["run_id"]
    runs = client.get("/api/v1/forecast/runs", params={"kind": "dispute"}).json()
    assert [r["run_id"] for r in runs] == [run_id] and runs[0]["summary"]["method"] == "rolling_3"
    assert client.get(f"/api/v1/forecast/runs/{run_id}").json()["target_end"] == "2025-01-01"
    features = client.get(f"/api/v1/forecast/runs/{run_id}/results", headers=headers["commander"]).json()[
        "features"
    ]
    ranks = [f["properties"]["rank"] for f in features]
    assert (
        ranks == sorted(ranks)
        and ranks[0] == 1
        and features[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    )
    assert all(f["properties"]["why"] for f in features)
    listing = client.get(
        f"/api/v1/forecast/runs/{run_id}/list", params={"limit": 3}, headers=headers["commander"]
    ).json()
    assert len(listing["grids"]) == 3 and listing["townships"]
    assert client.get("/api/v1/forecast/runs/nope/results").status_code == 404


def test_public_gets_no_small_counts_and_no_why(env):
    _store, client, headers = env
    job = client.post(
        "/api/v1/forecast/runs",
        json={"kind": "dispute", "asof": "2024-12-01", "method": "kde"},
        headers=headers["commander"],
    ).json()
    run_id = _wait(client, headers["commander"], job["job_id"])["result"]["run_id"]
    public = {
        f["id"]: f["properties"]
        for f in client.get(f"/api/v1/forecast/runs/{run_id}/results").json()["features"]
    }
    assert all(p["why"] is None for p in public.values())
    small = [p for p in public.values() if p["suppressed"]]
    assert all(p["recent_cases"] is None for p in small)
    assert public[G5]["expected"] is not None


def test_bad_request_fails_the_job_with_a_message(env):
    _store, client, headers = env
    job = client.post(
        "/api/v1/forecast/runs", json={"kind": "dispute", "asof": "2024-12-09"}, headers=headers["commander"]
    ).json()
    body = _wait(client, headers["commander"], job["job_id"])
    assert body["state"] == "failed" and "first day of a month" in body["error"]
