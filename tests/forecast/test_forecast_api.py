"""The forecast API: POST starts a job, GET lists runs, results (GeoJSON), the warning list; roles."""

from __future__ import annotations

import io
import time

import openpyxl
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


def _run(client, headers, method):
    job = client.post(
        "/api/v1/forecast/runs",
        json={"kind": "dispute", "asof": "2024-12-01", "method": method},
        headers=headers["commander"],
    ).json()
    return _wait(client, headers["commander"], job["job_id"])["result"]["run_id"]


def test_without_case_access_only_bands_and_disclosed_totals(env):
    """A rolling baseline's expected count is last months' count: roles without all-case
    access get rank bands, ranks inside the top 10 %, and totals through the disclosure rule."""
    store, client, headers = env
    run_id = _run(client, headers, "rolling_3")
    full = {
        f["id"]: f["properties"]
        for f in client.get(f"/api/v1/forecast/runs/{run_id}/results", headers=headers["commander"]).json()[
            "features"
        ]
    }
    assert all(p["expected"] is not None and p["why"] for p in full.values())
    for who in ({}, headers["planner"]):
        public = {
            f["id"]: f["properties"]
            for f in client.get(f"/api/v1/forecast/runs/{run_id}/results", headers=who).json()["features"]
        }
        assert set(public) == set(full)
        # listed by what is shown: the grids whose rank is withheld come in code order, not rank order
        shown_order = [(p["band"], p["rank"] is None, p["rank"] or 0, code) for code, p in public.items()]
        assert shown_order == sorted(shown_order)
        run_summary = client.get(f"/api/v1/forecast/runs/{run_id}", headers=who).json()["summary"]
        assert not {"cases_read", "history_cases", "cases_outside_grids", "fitted"} & set(run_summary)
        for code, p in public.items():
            assert p["expected"] is None and p["lower"] is None and p["upper"] is None
            assert p["why"] is None and p["trend"] is None
            assert p["band"] == full[code]["band"] and p["band"] in (1, 5, 10, 100)
            assert p["rank"] == (full[code]["rank"] if p["band"] <= 10 else None)
            if p["suppressed"]:
                assert p["recent_cases"] is None or p["recent_nearby"] is None
        run = client.get(f"/api/v1/forecast/runs/{run_id}", headers=who).json()
        assert all("expected" not in t for t in run["summary"]["top"])
        exact_total = client.get(f"/api/v1/forecast/runs/{run_id}", headers=headers["commander"]).json()[
            "summary"
        ]["expected_total"]
        shown = run["summary"]["expected_total"]
        assert shown is None or (shown == int(shown) and abs(shown - exact_total) < 0.5 + 10)
        towns = client.get(f"/api/v1/forecast/runs/{run_id}/list", headers=who).json()["townships"]
        for t in towns:
            assert t["top_expected"] is None
            assert t["expected"] is None or t["expected"] == int(t["expected"])
            if t["suppressed"]:
                assert t["expected"] is None or t["recent_cases"] is None
    # the same request twice: the same published numbers (no averaging away the noise)
    first = client.get(f"/api/v1/forecast/runs/{run_id}/list").json()
    assert client.get(f"/api/v1/forecast/runs/{run_id}/list").json() == first
    assert public[G5]["band"] is not None


def test_xlsx_from_the_api_for_roles_reading_every_case(env):
    _store, client, headers = env
    run_id = _run(client, headers, "kde")
    assert client.get(f"/api/v1/forecast/runs/{run_id}.xlsx").status_code == 401
    assert client.get(f"/api/v1/forecast/runs/{run_id}.xlsx", headers=headers["planner"]).status_code == 403
    assert client.get("/api/v1/forecast/runs/nope.xlsx", headers=headers["commander"]).status_code == 404
    got = client.get(f"/api/v1/forecast/runs/{run_id}.xlsx", headers=headers["commander"])
    assert got.status_code == 200 and got.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    book = openpyxl.load_workbook(io.BytesIO(got.content))
    assert book.sheetnames == ["预警清单", "乡镇汇总", "说明"]
    rows = list(book["预警清单"].values)
    listing = client.get(
        f"/api/v1/forecast/runs/{run_id}/list", params={"limit": 100000}, headers=headers["commander"]
    ).json()
    assert rows[0][:2] == ("排名 rank", "网格编码 grid") and len(rows) == len(listing["grids"]) + 1
    assert [r[1] for r in rows[1:4]] == [g["grid_code"] for g in listing["grids"][:3]]
    towns = list(book["乡镇汇总"].values)
    assert len(towns) == len(listing["townships"]) + 1
    assert sum(r[3] for r in towns[1:]) == pytest.approx(
        sum(g["expected"] for g in listing["grids"]), abs=0.05
    )


def test_bad_request_fails_the_job_with_a_message(env):
    _store, client, headers = env
    job = client.post(
        "/api/v1/forecast/runs", json={"kind": "dispute", "asof": "2024-12-09"}, headers=headers["commander"]
    ).json()
    body = _wait(client, headers["commander"], job["job_id"])
    assert body["state"] == "failed" and "first day of a month" in body["error"]


def test_recent_counts_are_keyed_by_the_cases_not_the_model():
    """Recent-case counts do not depend on the model: their disclosure noise is keyed by the
    cases counted only, so one run per method or horizon averages nothing away (the test city's
    counts are all small, so the published values cannot show it: the keys are checked)."""
    from api.routers.forecast import _records_selection, _selection

    runs = [
        {
            "kind": "dispute",
            "categories": None,
            "asof": "2024-12-01",
            "plan_id": "P1",
            "method": m,
            "horizon_months": h,
        }
        for m, h in (("hgb", 1), ("rolling_3", 1), ("sepp", 3))
    ]
    assert len({_records_selection(r) for r in runs}) == 1
    assert len({_selection(r) for r in runs}) == 3
    other_cases = {**runs[0], "asof": "2024-11-01"}
    assert _records_selection(other_cases) != _records_selection(runs[0])
