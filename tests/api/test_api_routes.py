"""The REST API on the hand-made test city: GeoJSON, paging, filters, errors, jobs, sign-in."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from gridmap.errors import InputError
from tests.api_testdata import CASES_PER_GRID, G1, G3, G4, G5, PASSWORDS, city_gpkg, make_client, sign_in


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    store, city = city_gpkg(tmp_path_factory.mktemp("api") / "city.gpkg")
    client = make_client(store)
    headers = {u: sign_in(client, u) for u in PASSWORDS}
    yield store, city, client, headers
    client.close()
    store.close()


def test_health_on_both_paths(env):
    _, _, client, _ = env
    for path in ("/api/health", "/api/v1/health"):
        body = client.get(path).json()
        assert body["status"] == "ok" and body["active_plan"] == "P1" and body["backend"] == "gpkg"


def test_docs_use_only_vendored_assets(env):
    _, _, client, _ = env
    page = client.get("/docs").text
    assert "/vendor/swagger-ui/swagger-ui-bundle.js" in page and "/vendor/swagger-ui/swagger-ui.css" in page
    assert "http://" not in page and "https://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert client.get(f"/vendor/swagger-ui/{asset}").status_code == 200
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "gridmap"


def test_admin_units_geojson_by_level_and_parent(env):
    _, _, client, _ = env
    r = client.get("/api/v1/admin-units", params={"level": "village"})
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert sorted(f["id"] for f in fc["features"]) == ["150502001001", "150502001002", "150502002001"]
    children = client.get("/api/v1/admin-units", params={"parent": "150502001"}).json()
    assert sorted(f["properties"]["code"] for f in children["features"]) == ["150502001001", "150502001002"]
    one = client.get("/api/v1/admin-units/150502").json()
    assert one["properties"]["name"] == "科尔沁区" and one["properties"]["children"] == 2
    assert client.get("/api/v1/admin-units", params={"level": "province"}).status_code == 400
    assert client.get("/api/v1/admin-units/999").status_code == 404


def _signed_area(ring) -> float:
    xy = np.asarray(ring)
    return 0.5 * float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]))


def test_grids_are_rfc7946_lonlat_with_bbox_filter(env):
    _, _, client, _ = env
    fc = client.get("/api/v1/plans/P1/grids").json()
    assert len(fc["features"]) == 5
    for feature in fc["features"]:
        ring = feature["geometry"]["coordinates"][0][0]
        assert 121 < ring[0][0] < 123 and 43 < ring[0][1] < 44  # lon first, then lat
        assert _signed_area(ring) > 0  # RFC 7946 §3.1.6: exterior rings counter-clockwise
        assert shape(feature["geometry"]).is_valid
    west = client.get("/api/v1/plans/P1/grids", params={"bbox": "122.01,43.51,122.1,43.6"}).json()
    assert [f["id"] for f in west["features"]] == [G1]
    by_admin = client.get("/api/v1/plans/P1/grids", params={"admin": "150502002"}).json()
    assert sorted(f["id"] for f in by_admin["features"]) == [G4, G5]
    assert client.get("/api/v1/plans/P1/grids", params={"bbox": "1,2,3"}).status_code == 400
    assert client.get("/api/v1/plans/NOPE/grids").status_code == 404


def test_gcj02_output_is_the_geocode_transform_of_wgs84(env):
    from gridmap.geocode.transform import wgs84_to_gcj02

    _, _, client, _ = env
    wgs = client.get("/api/v1/plans/P1/grids").json()["features"][0]["geometry"]["coordinates"][0][0]
    gcj = client.get("/api/v1/plans/P1/grids", params={"crs": "gcj02"}).json()
    ring = gcj["features"][0]["geometry"]["coordinates"][0][0]
    lon, lat = wgs84_to_gcj02(np.array(wgs)[:, 0], np.array(wgs)[:, 1])
    assert np.allclose(np.array(ring), np.column_stack((lon, lat)), atol=1e-7)
    assert "GCJ-02" in gcj["crs_note"]
    assert not np.allclose(np.array(ring), np.array(wgs), atol=1e-4)  # the shift is real (~500 m)
    assert client.get("/api/v1/plans/P1/grids", params={"crs": "bd09"}).status_code == 400


def test_grid_detail_has_code_counts_and_workers(env):
    _, _, client, headers = env
    admin = client.get(f"/api/v1/plans/P1/grids/{G1}", headers=headers["admin"]).json()["properties"]
    assert admin["code"] == G1 and admin["cases"] == CASES_PER_GRID[G1] and admin["households"] == 350
    assert [w["name"] for w in admin["workers"]] == ["李网格"]
    commander = client.get(f"/api/v1/plans/P1/grids/{G1}", headers=headers["commander"]).json()["properties"]
    assert [w["name"] for w in commander["workers"]] == ["李**"]
    # two cases: shown to the commander, suppressed for the public
    assert (
        client.get(f"/api/v1/plans/P1/grids/{G5}", headers=headers["commander"]).json()["properties"]["cases"]
        == 2
    )
    public = client.get(f"/api/v1/plans/P1/grids/{G5}").json()["properties"]
    assert public["cases"] is None and public["suppressed"] is True


def test_cases_paging_walks_every_case_once(env):
    _, city, client, headers = env
    seen, url, pages = [], "/api/v1/cases?limit=7", 0
    while url:
        body = client.get(url, headers=headers["commander"]).json()
        seen += [c["case_id"] for c in body["items"]]
        assert body["total"] == sum(CASES_PER_GRID.values()) + 1
        url, pages = body["next"], pages + 1
    assert pages == 6 and len(seen) == len(set(seen)) == 42
    assert set(seen) == set(city.cases_of(*CASES_PER_GRID)) | {city.unplaced_case}
    assert client.get("/api/v1/cases?limit=5000", headers=headers["commander"]).status_code == 422


def test_case_filters(env):
    _, city, client, headers = env
    h = headers["commander"]

    def ids(**params):
        return {
            c["case_id"]
            for c in client.get("/api/v1/cases", params={"limit": 1000, **params}, headers=h).json()["items"]
        }

    assert ids(grid=G3) == set(city.case_ids[G3])
    assert ids(admin="150502002") == set(city.cases_of(G4, G5))
    assert ids(admin="150502001002") == set(city.case_ids[G3])
    petitions = ids(kind="petition")
    assert petitions and all(
        client.get(f"/api/v1/cases/{c}", headers=h).json()["kind"] == "petition" for c in petitions
    )
    both = ids(kind="petition,dispute")
    assert len(both) == 42
    march = ids(**{"from": "2024-03-01", "to": "2024-04-01"})
    assert march and all(
        client.get(f"/api/v1/cases/{c}", headers=h).json()["reported_at"].startswith("2024-03") for c in march
    )
    assert ids(status="resolved,closed") == ids(status="resolved") | ids(status="closed")
    for bad in ({"kind": "theft"}, {"admin": "12345"}, {"from": "yesterday"}, {"status": "done"}):
        r = client.get("/api/v1/cases", params=bad, headers=h)
        assert r.status_code == 400 and r.json()["detail"]


def test_case_points_have_no_personal_fields(env):
    _, city, client, headers = env
    fc = client.get("/api/v1/cases/points", headers=headers["admin"]).json()
    assert fc["numberReturned"] == 41  # the un-geocoded case has no point
    assert set(fc["features"][0]["properties"]) == {
        "case_id",
        "kind",
        "category",
        "status",
        "reported_at",
        "grid_code",
    }
    text = json.dumps(fc, ensure_ascii=False)
    assert not any(v in text for v in city.personal_values)


def test_masking_by_role(env):
    _, city, client, headers = env
    case = city.case_ids[G1][0]
    full = client.get(f"/api/v1/cases/{case}", headers=headers["admin"]).json()
    masked = client.get(f"/api/v1/cases/{case}", headers=headers["commander"]).json()
    own = client.get(f"/api/v1/cases/{case}", headers=headers["worker"]).json()
    assert full["party_phone"].startswith("1391234") and own == full
    assert masked["party_phone"] == full["party_phone"][:3] + "****" + full["party_phone"][-4:]
    assert (
        masked["party_id_number"] == full["party_id_number"][:6] + "********" + full["party_id_number"][-4:]
    )
    assert masked["party_name"] == full["party_name"][0] + "*" * (len(full["party_name"]) - 1)


def test_hotspot_results_suppress_small_counts_for_the_public(env):
    _, _, client, headers = env
    public = {
        f["id"]: f["properties"] for f in client.get("/api/v1/hotspots/runs/R-gi/results").json()["features"]
    }
    assert public[G5]["count"] is None and public[G5]["value"] is None and public[G5]["suppressed"] is True
    assert public[G1]["count"] >= 3 and public[G1]["suppressed"] is False and "extra" not in public[G1]
    assert public[G1]["value"] is None  # computed from the exact count: it would give the count away
    commander = client.get("/api/v1/hotspots/latest/gi", headers=headers["commander"]).json()
    assert {f["id"]: f["properties"]["count"] for f in commander["features"]}[G5] == 2
    gi_runs = client.get("/api/v1/hotspots/runs", params={"method": "gi"}).json()
    assert [r["run_id"] for r in gi_runs] == ["R-gi"]
    assert (
        gi_runs[0]["bin_confidence"]["1"] == "hot spot, 90 % confidence"
    )  # bins say what confidence they are
    assert client.get("/api/v1/hotspots/runs/nope/results").status_code == 404


def test_top_grids_of_a_period(env):
    _, _, client, headers = env
    top = client.get("/api/v1/grid-counts", params={"limit": 2}, headers=headers["commander"]).json()["grids"]
    assert [g["grid_code"] for g in top] == [G1, G3] and [g["count"] for g in top] == [12, 10]
    public = client.get("/api/v1/grid-counts").json()["grids"]
    assert {g["grid_code"]: g["count"] for g in public}[G5] is None


def test_kpis_suppressed_for_planner_not_for_commander(env):
    _, _, client, headers = env
    params = {"level": "grid", "period": "2024", "kind": "dispute,petition"}
    params["kind"] = "dispute"
    commander = {
        u["unit_code"]: u
        for u in client.get("/api/v1/kpis", params=params, headers=headers["commander"]).json()["units"]
    }
    planner = {
        u["unit_code"]: u
        for u in client.get("/api/v1/kpis", params=params, headers=headers["planner"]).json()["units"]
    }
    small = [code for code, u in commander.items() if 0 < u["found"] < 3]
    assert small, "the test city has a grid with fewer than 3 disputes"
    for code in small:
        assert planner[code]["found"] is None and planner[code]["suppressed"] is True
        assert planner[code]["resolution_rate"] is None
    assert client.get("/api/v1/kpis", params=params).status_code == 401


def test_coverage_views(env):
    _, _, client, headers = env
    h = headers["supervisor"]
    audit = client.get("/api/v1/coverage/audit", headers=h).json()
    assert audit["period"] == "2024-11"
    kinds = {f["kind"] for f in audit["findings"]}
    assert "no_active_worker" in kinds  # G4 and G5 have nobody on 2024-11-30
    grids = {
        f["id"]: f["properties"] for f in client.get("/api/v1/coverage/grids", headers=h).json()["features"]
    }
    assert grids[G1]["workers"] == 1 and grids[G1]["days_since_visit"] == 0
    assert grids[G4]["workers"] == 0 and grids[G4]["days_since_visit"] is None
    workers = {w["worker_id"]: w for w in client.get("/api/v1/coverage/workers", headers=h).json()}
    assert workers["W1"]["name"] == "李网格" and workers["W1"]["checkins"] == 30
    checkins = client.get(
        "/api/v1/coverage/workers/W1/checkins", headers=h, params={"from": "2024-11-10", "to": "2024-11-12"}
    ).json()
    assert [f["properties"]["ts"][:10] for f in checkins["features"]] == ["2024-11-10", "2024-11-11"]
    assert client.get("/api/v1/coverage/workers/W1/checkins", headers=headers["worker"]).status_code == 200
    assert client.get("/api/v1/coverage/workers/W1/checkins", headers=headers["worker2"]).status_code == 403


def test_sign_in_errors_expiry_and_logout(env, tmp_path):
    store, _, client, headers = env
    assert (
        client.post("/api/v1/auth/token", data={"username": "admin", "password": "wrong"}).status_code == 401
    )
    assert client.post("/api/v1/auth/token", data={"username": "nobody", "password": "x"}).status_code == 401
    assert client.get("/api/v1/cases", headers={"Authorization": "Bearer forged"}).status_code == 401
    me = client.get("/api/v1/auth/me", headers=headers["worker"]).json()
    assert me["role"] == "grid_worker" and me["worker_id"] == "W1"
    # a token issued with a zero lifetime is already expired
    expiring = make_client(store, token_ttl_hours=0)
    token = sign_in(expiring, "commander")
    assert expiring.get("/api/v1/cases", headers=token).status_code == 401
    fresh = sign_in(client, "commander")
    assert client.get("/api/v1/auth/me", headers=fresh).json()["username"] == "commander"
    assert client.post("/api/v1/auth/logout", headers=fresh).status_code == 204
    assert client.get("/api/v1/auth/me", headers=fresh).status_code == 401


def test_passwords_and_tokens_are_stored_hashed(env):
    store, _, _, _ = env
    users = store.read("users")
    assert all(h.startswith("scrypt$") for h in users["password_hash"])
    assert not any(p in "".join(users["password_hash"]) for p in PASSWORDS.values())
    salts = [h.split("$")[4] for h in users["password_hash"]]
    assert len(set(salts)) == len(salts)
    tokens = store.read("tokens")
    assert len(tokens) and all(len(t) == 64 for t in tokens["token_hash"])


def test_import_size_limit_413(env, tmp_path):
    store, _, _, _ = env
    client = make_client(store, max_upload_bytes=1000)
    h = sign_in(client, "admin")
    # refused from the Content-Length header, before the body is read
    r = client.post("/api/v1/imports", headers=h, files={"file": ("big.csv", b"x" * 200_000, "text/csv")})
    assert r.status_code == 413 and "limit is 0.0 MB" in r.json()["detail"]
    # within the multipart allowance: refused while streaming the file
    r = client.post("/api/v1/imports", headers=h, files={"file": ("big.csv", b"x" * 5000, "text/csv")})
    assert r.status_code == 413 and "settings.max_upload_bytes" in r.json()["detail"]
    r = client.post("/api/v1/imports", headers=h, files={"file": ("cases.exe", b"x", "text/plain")})
    assert r.status_code == 400 and ".exe" in r.json()["detail"]
    assert (
        client.post(
            "/api/v1/imports",
            headers=sign_in(client, "commander"),
            files={"file": ("a.csv", b"x", "text/csv")},
        ).status_code
        == 403
    )


def test_background_jobs_report_state_and_progress(env):
    _, _, client, headers = env
    jobs = client.app.state.jobs

    def work(progress):
        progress(0.5, "half way")
        return {"answer": 42}

    def fails():
        raise InputError("the file has no case_id column")

    ok = jobs.submit("test", work, {"n": 1}, actor="planner")
    bad = jobs.submit("test", fails, actor="planner")
    jobs.wait(ok, timeout=10)
    jobs.wait(bad, timeout=10)
    body = client.get(f"/api/v1/jobs/{ok}", headers=headers["planner"]).json()
    assert body["state"] == "done" and body["progress"] == 1.0 and body["result"] == {"answer": 42}
    failed = client.get(f"/api/v1/jobs/{bad}", headers=headers["planner"]).json()
    assert failed["state"] == "failed" and failed["error"] == "the file has no case_id column"
    assert client.get(f"/api/v1/jobs/{ok}", headers=headers["commander"]).status_code == 404
    assert client.get(f"/api/v1/jobs/{ok}", headers=headers["admin"]).status_code == 200
    assert {j["job_id"] for j in client.get("/api/v1/jobs", headers=headers["planner"]).json()} >= {ok, bad}


def test_progress_is_visible_while_running(env):
    _, _, client, headers = env
    jobs = client.app.state.jobs
    gate = {"go": False}

    def slow(progress):
        progress(0.25, "a quarter")
        while not gate["go"]:
            time.sleep(0.01)
        return None

    job = jobs.submit("slow", slow, actor="planner")
    deadline = time.time() + 10
    body = {}
    while time.time() < deadline:
        body = client.get(f"/api/v1/jobs/{job}", headers=headers["planner"]).json()
        if body["state"] == "running" and body["progress"] == 0.25:
            break
        time.sleep(0.02)
    gate["go"] = True
    assert body["state"] == "running" and body["message"] == "a quarter"
    assert jobs.wait(job, timeout=10).state == "done"


def test_user_management_is_admin_only(env):
    _, _, client, headers = env
    body = {"username": "clerk1", "password": "long-enough-1", "role": "commander"}
    assert client.post("/api/v1/users", json=body, headers=headers["commander"]).status_code == 403
    assert client.post("/api/v1/users", json=body, headers=headers["admin"]).status_code == 201
    assert (
        client.post("/api/v1/users", json={**body, "role": "king"}, headers=headers["admin"]).status_code
        == 400
    )
    users = client.get("/api/v1/users", headers=headers["admin"]).json()
    assert "clerk1" in {u["username"] for u in users} and all("password_hash" not in u for u in users)


def test_unknown_tile_layer_and_bad_tile(env):
    _, _, client, _ = env
    assert client.get("/tiles/people/1/0/0.pbf").status_code == 404
    assert client.get("/tiles/grids/3/9/0.pbf").status_code == 400


def test_shapely_geometry_of_grid_feature_matches_store(env):
    store, _, client, _ = env
    feature = client.get(f"/api/v1/plans/P1/grids/{G3}").json()
    stored = store.read("grids", where={"plan_id": "P1", "code": G3}).geometry.iloc[0]
    assert shapely.equals_exact(shape(feature["geometry"]).normalize(), stored.normalize(), tolerance=1e-7)


def test_pages_forbid_outside_requests_by_csp(env):
    store, _, client, _ = env
    policy = client.get("/").headers["content-security-policy"]
    assert (
        "default-src 'self'" in policy and "connect-src 'self'" in policy and "script-src 'self';" in policy
    )
    assert (
        "unsafe-inline"
        in client.get("/docs").headers["content-security-policy"].split("script-src")[1].split(";")[0]
    )
    with_basemap = make_client(store, basemap_url="http://tiles.intranet.local/{z}/{x}/{y}.png")
    assert (
        "img-src 'self' data: blob: http://tiles.intranet.local"
        in with_basemap.get("/").headers["content-security-policy"]
    )


def test_kde_surface_needs_case_access_and_is_a_png(env):
    from gridmap.geocode.transform import wgs84_to_gcj02
    from gridmap.hotspots.png import decode_rgba

    _, city, client, headers = env
    assert client.get(f"/api/v1/hotspots/runs/{city.kde_run}/kde").status_code == 401
    assert (
        client.get(f"/api/v1/hotspots/runs/{city.kde_run}/kde.png", headers=headers["planner"]).status_code
        == 403
    )
    info = client.get(f"/api/v1/hotspots/runs/{city.kde_run}/kde", headers=headers["commander"]).json()
    assert info["bounds"] == [122.0, 43.5, 122.5, 43.8]
    png = client.get(info["href"].replace("api/v1", "/api/v1"), headers=headers["commander"])
    assert png.headers["content-type"] == "image/png"
    pixels = decode_rgba(png.content)
    assert pixels.shape == (4, 4, 4) and pixels[1, 1].tolist() == [215, 25, 28, 200] and pixels[0, 0, 3] == 0
    shifted = client.get(
        f"/api/v1/hotspots/runs/{city.kde_run}/kde", params={"crs": "gcj02"}, headers=headers["commander"]
    ).json()["bounds"]
    lon, lat = wgs84_to_gcj02([122.0, 122.5], [43.5, 43.8])
    assert shifted == pytest.approx([lon[0], lat[0], lon[1], lat[1]])
    assert (
        client.get(f"/api/v1/hotspots/runs/{city.gi_run}/kde", headers=headers["commander"]).status_code
        == 404
    )


def test_hotspot_areas_with_suppression(env):
    _, city, client, headers = env
    public = {
        f["id"]: f["properties"]
        for f in client.get(f"/api/v1/hotspots/runs/{city.gi_run}/areas").json()["features"]
    }
    assert public["1:1"]["cases"] >= 3 and public["1:1"]["top_categories"] == ["neighbour"]
    assert public["-1:1"]["cases"] is None and public["-1:1"]["suppressed"] is True
    hot = client.get(
        f"/api/v1/hotspots/runs/{city.gi_run}/areas", params={"sign": 1}, headers=headers["commander"]
    ).json()["features"]
    assert [f["id"] for f in hot] == ["1:1"] and hot[0]["geometry"]["type"] == "MultiPolygon"


def test_hotspot_run_in_the_background(env):
    store, _, client, headers = env
    body = {"method": "kde", "filters": {"kind": "dispute"}, "params": {"bandwidth_m": 2000}}
    assert client.post("/api/v1/hotspots/runs", json=body, headers=headers["planner"]).status_code == 403
    r = client.post("/api/v1/hotspots/runs", json=body, headers=headers["commander"])
    assert r.status_code == 202
    job = client.app.state.jobs.wait(r.json()["job_id"], timeout=60)
    assert job.state == "done", job.error
    run_id = job.result["run_id"]
    runs = client.get("/api/v1/hotspots/runs", params={"method": "kde"}).json()
    assert runs[0]["run_id"] == run_id and runs[0]["filters"]["kind"] == "dispute"
    info = client.get(f"/api/v1/hotspots/runs/{run_id}/kde", headers=headers["commander"]).json()
    assert info["bandwidth_m"] == 2000
    assert store.read("audit_log", where={"action": "hotspots.run"})["object_id"].tolist() == [run_id]
