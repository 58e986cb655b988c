"""No role sees a case (or a personal value) it must not — through ANY endpoint.

The routes come from the application itself (its OpenAPI document, plus the OGC and tile
paths), so a route added later is checked without touching this file; a route with a
path parameter this file cannot fill fails the test instead of being skipped.
"""

from __future__ import annotations

import logging
import re

import pytest

from api import mvt
from api.privacy import PersonalDataFilter, install_log_filter, scrub_text
from tests.api_testdata import G1, G2, G3, G4, G5, PASSWORDS, city_gpkg, make_client, sign_in


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    store, city = city_gpkg(tmp_path_factory.mktemp("privacy") / "city.gpkg")
    client = make_client(store)
    headers = {u: sign_in(client, u) for u in PASSWORDS}
    headers["anonymous"] = {}
    job = client.app.state.jobs.submit("test", lambda: {"ok": True}, actor="admin")
    client.app.state.jobs.wait(job, timeout=10)
    yield store, city, client, headers, job
    client.close()
    store.close()


WORKER_VALUES = {
    "W1": ["李网格", "13900001111"],
    "W2": ["张网格", "13900002222"],
    "W3": ["刘网格", "13900003333"],
}


def _forbidden(city, role: str) -> list[str]:
    """Strings that must never appear in a response to ``role``."""
    party = [v for v in city.personal_values if not any(v in w for w in WORKER_VALUES.values())]
    workers = [v for vs in WORKER_VALUES.values() for v in vs]
    all_cases = [*city.cases_of(G1, G2, G3, G4, G5), city.unplaced_case]
    if role in ("anonymous", "planner"):
        return all_cases + party + workers
    if role == "worker":  # W1: grids G1, G2
        hidden = [*city.cases_of(G3, G4, G5), city.unplaced_case]
        return hidden + _party_values_of(city, hidden) + WORKER_VALUES["W2"] + WORKER_VALUES["W3"]
    if role == "worker2":  # W2: G3 only (the G4 assignment ended)
        hidden = [*city.cases_of(G1, G2, G4, G5), city.unplaced_case]
        return hidden + _party_values_of(city, hidden) + WORKER_VALUES["W1"] + WORKER_VALUES["W3"]
    if role == "commander":
        return party + workers
    if role == "supervisor":
        return party
    return []


def _party_values_of(city, case_ids: list[str]) -> list[str]:
    numbers = {int(c[1:]) for c in case_ids if c != city.unplaced_case}
    out = [v for v in city.personal_values if re.search(r"(\d{2})$", v) and _case_number(v) in numbers]
    if city.unplaced_case in case_ids:
        out += ["赵无名", "13800009999", "15050219800101999X"]
    return out


def _case_number(value: str) -> int:
    # names end in two digits (王小07), phones and ID numbers in four (…0007)
    digits = re.search(r"(\d+)$", value).group(1)
    return int(digits[-4:]) if len(digits) >= 4 else int(digits)


def _get_routes(app, store) -> list[str]:
    """Every GET path of the app with its path parameters filled (OGC: every collection)."""
    from api.ogc import collections

    fills = {
        "plan_id": ["P1"],
        "code": [G1, G4, G5],
        # hot-spot results of one unit (a click on a tile): units of these runs are grids
        "unit_id": [G1, G4, G5],
        "case_id": None,
        "run_id": ["R-gi", "R-emerging", "R-kde"],
        "worker_id": ["W1", "W2", "W3"],
        "method": ["gi", "emerging"],
        "job_id": None,
        "collection_id": list(collections(store)),
        "feature_id": None,
        "layer": ["grids", "hotspots", "coverage"],
        # the city of this test has no stored backtest: the route must answer without leaking
        "backtest_id": ["BT-none"],
    }
    paths = []
    for path, ops in app.openapi()["paths"].items():
        if "get" in ops:
            paths.append(path)
    return paths, fills


def _expand(path: str, fills: dict, city, job: str, store) -> list[str]:
    params = re.findall(r"{(\w+)}", path)
    if not params:
        return [path]
    if path.startswith("/tiles/"):
        tiles = mvt.tiles_covering((122.0, 43.5, 122.5, 43.8), [8, 10])
        return [f"/tiles/{layer}/{z}/{x}/{y}.pbf" for layer in fills["layer"] for z, x, y in tiles]
    if path.endswith("/items/{feature_id}"):
        out = []
        for coll in fills["collection_id"]:
            ids = {
                "admin-county": "150502",
                "grids": G5,
                "hotspots-gi": G5,
                "hotspots-emerging": G5,
                "coverage-findings": f"no_active_worker:{G5}",
            }.get(coll, "150500")
            out.append(path.replace("{collection_id}", coll).replace("{feature_id}", ids))
        return out
    values = {
        **fills,
        # two cases of every grid, and the one without a grid
        "case_id": [c for g in (G1, G2, G3, G4, G5) for c in city.case_ids[g][:2]] + [city.unplaced_case],
        "job_id": [job],
    }
    out = [path]
    for name in params:
        if values.get(name) is None:
            raise AssertionError(f"route {path}: no test values for path parameter {name!r}; add them here")
        out = [p.replace("{" + name + "}", str(v)) for p in out for v in values[name]]
    return out


QUERY_VARIANTS = [
    {"period": "2024", "other": "P2"},
    # ask for the hidden things explicitly: filters that name other grids, wide windows, big pages
    {"grid": G4, "limit": 1000, "period": "2024-11", "other": "P2", "level": "grid"},
    {
        "admin": "150502002",
        "grid": G5,
        "from": "2000-01-01",
        "to": "2100-01-01",
        "limit": 1000,
        "period": "2024",
        "other": "P2",
        "kind": "petition",
        "level": "village",
    },
]


def _variants(template: str) -> list[dict]:
    """Filters matter for listings; a route that names its object in the path gets one try."""
    named = "{" in template and not template.endswith("/items")
    return QUERY_VARIANTS[:1] if named else QUERY_VARIANTS


@pytest.fixture(scope="module")
def case_bearing(env):
    """Every GET the app serves (filled in, with the filter variants) whose answer to an admin
    — who sees everything, unmasked — carries a case id or a personal value.  Only these can
    leak; each is then asked again as every other role."""
    store, city, client, headers, job = env
    paths, fills = _get_routes(client.app, store)
    sensitive = [*city.cases_of(G1, G2, G3, G4, G5), city.unplaced_case, *city.personal_values]
    sensitive += [v for vs in WORKER_VALUES.values() for v in vs]
    urls, checked = [], 0
    for template in [*paths, "/ogc"]:
        for url in _expand(template, fills, city, job, store):
            for query in _variants(template):
                r = client.get(url, params=query, headers=headers["admin"])
                assert r.status_code < 500 or r.status_code == 501, (
                    f"admin GET {url} {query}: {r.status_code} {r.text[:300]}"
                )
                checked += 1
                if any(v.encode("utf-8") in r.content for v in sensitive):
                    urls.append((url, query))
    assert checked > 100
    return urls


def test_case_bearing_routes_are_found(case_bearing):
    found = {url.split("?")[0] for url, _ in case_bearing}
    # the detector works: the obvious case-bearing routes are among them
    assert {"/api/v1/cases", "/api/v1/cases/points", "/api/v1/coverage/workers"} <= found
    assert any(u.startswith("/api/v1/cases/C") for u in found)
    assert "/api/v1/admin-units" not in found


@pytest.mark.parametrize("role", ["anonymous", "planner", "worker", "worker2", "commander", "supervisor"])
def test_no_endpoint_leaks_what_the_role_must_not_see(env, case_bearing, role):
    _store, city, client, headers, _job = env
    forbidden = _forbidden(city, role)
    assert forbidden
    for url, query in case_bearing:
        r = client.get(url, params=query, headers=headers[role])
        assert r.status_code < 500 or r.status_code == 501, (
            f"{role} GET {url} {query}: {r.status_code} {r.text[:300]}"
        )
        leaked = [v for v in forbidden if v.encode("utf-8") in r.content]
        assert not leaked, f"{role} GET {url} {query} leaks {leaked[:5]}"


def test_case_bearing_routes_answer_401_or_403_to_roles_without_case_access(env):
    _, city, client, headers, _ = env
    case = city.case_ids[G1][0]
    for role in ("anonymous", "planner"):
        for url in ("/api/v1/cases", "/api/v1/cases/points", f"/api/v1/cases/{case}", "/api/v1/review"):
            assert client.get(url, headers=headers[role]).status_code in (401, 403), (role, url)
    # a grid worker asking for a case of another grid gets the same answer as for a missing case
    other = city.case_ids[G4][0]
    assert client.get(f"/api/v1/cases/{other}", headers=headers["worker"]).status_code == 404
    assert client.get("/api/v1/cases/C-none", headers=headers["worker"]).status_code == 404


#: field intake from the worker's phone (api/routers/field.py): grid workers only
FIELD_ROUTES = ("/api/v1/patrols", "/api/v1/cases")


def test_every_post_route_refuses_roles_without_the_right(env):
    _, _, client, headers, _ = env
    posts = [p for p, ops in client.app.openapi()["paths"].items() if "post" in ops]
    assert "/api/v1/imports" in posts and "/api/v1/plans/{plan_id}/edits/split" in posts
    for path in posts:
        if path in ("/api/v1/auth/token", "/api/v1/auth/logout"):
            continue
        url = path.replace("{plan_id}", "P1").replace("{case_id}", "C0001")
        for role in ("anonymous", "worker"):
            r = client.post(url, json={}, headers=headers[role])
            if role == "worker" and path in FIELD_ROUTES:  # the phone's routes: the worker may, with a body
                assert r.status_code == 422, (role, path, r.status_code)
                continue
            assert r.status_code in (401, 403), (role, path, r.status_code)
    for path in FIELD_ROUTES:
        for role in ("planner", "commander", "supervisor"):
            assert client.post(path, json={}, headers=headers[role]).status_code == 403, (role, path)


def test_no_personal_data_in_query_parameters(env):
    """Nothing personal travels in URLs (the access log records them)."""
    _, _, client, _, _ = env
    personal = {"party_name", "party_phone", "party_id_number", "phone", "name", "id_number", "password"}
    for path, ops in client.app.openapi()["paths"].items():
        for op in ops.values():
            for p in op.get("parameters", []):
                if p["in"] == "query":
                    assert p["name"] not in personal, (path, p["name"])


def test_unmasked_reads_are_audited_without_the_values(env):
    store, city, client, headers, _ = env
    before = len(store.read("audit_log"))
    client.get("/api/v1/cases", params={"grid": G1}, headers=headers["admin"])
    client.get(f"/api/v1/cases/{city.case_ids[G1][0]}", headers=headers["worker"])
    client.get("/api/v1/cases", params={"grid": G1}, headers=headers["commander"])  # masked: not audited
    log = store.read("audit_log", order_by=["ts"])
    new = log.iloc[before:]
    assert list(new["actor"]) == ["admin", "worker"]
    assert list(new["action"]) == ["case.list", "case.read"]
    assert set(new["object_id"].iloc[0].split(",")) == set(city.case_ids[G1])
    text = log.to_csv()
    assert not any(v in text for v in city.personal_values)


def test_log_filter_masks_phone_and_id_numbers(caplog):
    install_log_filter()
    assert scrub_text("call 13912345678 or id 150502199001011234 / 15050219900101123X") == (
        "call 139****5678 or id 150502********1234 / 150502********123X"
    )
    # codes are left alone: grid (15 digits), village (12), county (6)
    assert (
        scrub_text("grid 150502001001001 village 150502001001") == "grid 150502001001001 village 150502001001"
    )
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/api/v1/cases?q=13912345678", "1.1", 200
        )
    assert "13912345678" not in caplog.text and "139****5678" in caplog.text
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "id %(id)s", None, None)
    record.args = {"id": "150502199001011234"}
    PersonalDataFilter().filter(record)
    assert record.getMessage() == "id 150502********1234"
