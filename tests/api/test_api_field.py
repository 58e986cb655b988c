"""Field intake from the worker's phone: POST /api/v1/patrols and /api/v1/cases, on both backends.

W1 holds grids G1 and G2; W2 holds G3, and held G4 until 2023-06-30 (inclusive).
"""

from __future__ import annotations

import pytest

from gridmap.geocode.transform import from_wgs84, to_wgs84
from tests.api_testdata import G1, G3, G4, build_city, make_client, sign_in


def _gcj(lon: float, lat: float) -> tuple[float, float]:
    x, y = from_wgs84(lon, lat, "gcj02")
    return float(x), float(y)


@pytest.fixture
def client(store):
    build_city(store)
    c = make_client(store)
    yield c
    c.app.state.jobs.shutdown()
    c.close()


def test_patrol_in_own_grid_with_gcj02_point(client, store):
    worker = sign_in(client, "worker")
    lon, lat = _gcj(122.06, 43.60)  # inside G1 (WGS-84), sent the way the phone's map SDK gives it
    body = {"client_id": "phone-1-0001", "lon": lon, "lat": lat, "ts": "2024-12-02T09:15:00+08:00"}
    r = client.post("/api/v1/patrols", json=body, headers=worker)
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["created"] is True and answer["grid_code"] == G1 and answer["ts"] == "2024-12-02T09:15:00"
    assert abs(answer["lon"] - 122.06) < 1e-6 and abs(answer["lat"] - 43.60) < 1e-6  # stored as WGS-84
    stored = store.read("patrols", where={"patrol_id": answer["id"]})
    assert len(stored) == 1 and stored["worker_id"].iloc[0] == "W1" and stored["raw_crs"].iloc[0] == "gcj02"
    assert abs(stored.geometry.iloc[0].x - 122.06) < 1e-6


def test_same_client_id_twice_is_one_row_and_the_same_answer(client, store):
    worker = sign_in(client, "worker")
    before = store.count("patrols")
    body = {"client_id": "retry-7", "lon": 122.2, "lat": 43.55, "crs": "wgs84", "ts": "2024-12-02T10:00:00"}
    first = client.post("/api/v1/patrols", json=body, headers=worker)
    second = client.post("/api/v1/patrols", json=body, headers=worker)
    assert (first.status_code, second.status_code) == (201, 200)
    assert {k: v for k, v in first.json().items() if k != "created"} == {
        k: v for k, v in second.json().items() if k != "created"
    }
    assert second.json()["created"] is False
    assert store.count("patrols") == before + 1
    # the same client id for a different point is a conflict, not a silent second row
    moved = client.post("/api/v1/patrols", json={**body, "lon": 122.21}, headers=worker)
    assert moved.status_code == 409 and store.count("patrols") == before + 1
    # another worker's client ids are their own
    other = client.post(
        "/api/v1/patrols", json={**body, "lon": 122.1, "lat": 43.7}, headers=sign_in(client, "worker2")
    )
    assert other.status_code == 201 and other.json()["grid_code"] == G3


def test_only_own_grids_and_valid_to_is_inclusive(client, store):
    worker2 = sign_in(client, "worker2")
    before = store.count("patrols")
    in_g4 = {"lon": 122.3, "lat": 43.55, "crs": "wgs84"}
    r = client.post(
        "/api/v1/patrols", json={"client_id": "a", **in_g4, "ts": "2024-12-02T09:00:00"}, headers=worker2
    )
    assert r.status_code == 403 and "outside worker W2's grids" in r.json()["detail"]
    last_day = client.post(
        "/api/v1/patrols", json={"client_id": "b", **in_g4, "ts": "2023-06-30T18:00:00"}, headers=worker2
    )
    assert last_day.status_code == 201 and last_day.json()["grid_code"] == G4
    day_after = client.post(
        "/api/v1/patrols", json={"client_id": "c", **in_g4, "ts": "2023-07-01T08:00:00"}, headers=worker2
    )
    assert day_after.status_code == 403
    assert store.count("patrols") == before + 1


def test_roles_and_bad_input(client, store):
    body = {"client_id": "x", "lon": 122.06, "lat": 43.6, "crs": "wgs84"}
    assert client.post("/api/v1/patrols", json=body).status_code == 401
    assert client.post("/api/v1/patrols", json=body, headers=sign_in(client, "commander")).status_code == 403
    worker = sign_in(client, "worker")
    r = client.post("/api/v1/patrols", json={**body, "crs": "mars"}, headers=worker)
    assert r.status_code == 400 and "\n" not in r.json()["detail"]
    r = client.post("/api/v1/patrols", json={**body, "ts": "2999-01-01T00:00:00"}, headers=worker)
    assert r.status_code == 400 and "future" in r.json()["detail"]
    r = client.post("/api/v1/patrols", json={**body, "ts": "yesterday"}, headers=worker)
    assert r.status_code == 400 and "ISO" in r.json()["detail"]


def test_case_from_the_phone(client, store):
    worker = sign_in(client, "worker")
    lon, lat = (float(v) for v in from_wgs84(122.2, 43.6, "bd09"))
    body = {
        "client_id": "case-1",
        "lon": lon,
        "lat": lat,
        "crs": "bd09",
        "kind": "矛盾纠纷",
        "category": "邻里",
        "address_text": "民航社区建国路18号",
        "persons": 2,
        "party_name": "王五",
        "party_phone": "13700001111",
    }
    r = client.post("/api/v1/cases", json=body, headers=worker)
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["grid_code"] == "150502001001002" and "王五" not in r.text and "13700001111" not in r.text
    case = store.read("cases", where={"case_id": answer["id"]}).iloc[0]
    assert (case["kind"], case["category"], case["status"], case["geocode_status"], case["precision"]) == (
        "dispute",
        "neighbour",
        "reported",
        "accepted",
        "coordinates",
    )
    assert case["grid_code"] == answer["grid_code"] and case["party_name"] == "王五"
    x, y = to_wgs84(lon, lat, "bd09")
    assert abs(case.geometry.x - float(x)) < 1e-9 and abs(case.geometry.y - float(y)) < 1e-9
    again = client.post("/api/v1/cases", json=body, headers=worker)
    assert again.status_code == 200 and again.json()["id"] == answer["id"]
    assert store.count("cases", where={"case_id": answer["id"]}) == 1
    # the worker now reads it among their own cases
    listed = client.get(f"/api/v1/cases/{answer['id']}", headers=worker)
    assert listed.status_code == 200
    bad = client.post(
        "/api/v1/cases", json={**body, "client_id": "case-2", "category": "weather"}, headers=worker
    )
    assert bad.status_code == 400 and "category" in bad.json()["detail"]
    outside = client.post(
        "/api/v1/cases",
        json={**body, "client_id": "case-3", "lon": 122.4, "lat": 43.7, "crs": "wgs84"},
        headers=worker,
    )
    assert outside.status_code == 403


def test_case_scope_counts_the_last_day_of_an_assignment(client, store):
    """An assignment ending today still lets the worker read that grid's cases (valid_to inclusive)."""
    import pandas as pd

    from api.auth import now_local
    from tests.api_testdata import G5

    worker2 = sign_in(client, "worker2")
    case = store.read("cases", where={"grid_code": G5}, columns=["case_id"])["case_id"].iloc[0]
    assert client.get(f"/api/v1/cases/{case}", headers=worker2).status_code == 404
    store.write(
        "assignments",
        pd.DataFrame(
            [
                {
                    "assignment_id": "A-today",
                    "worker_id": "W2",
                    "plan_id": "P1",
                    "grid_code": G5,
                    "role": "part_time",
                    "valid_from": "2024-01-01",
                    "valid_to": now_local()[:10],
                }
            ]
        ),
    )
    assert client.get(f"/api/v1/cases/{case}", headers=worker2).status_code == 200
