"""On the real demo city (the session's scale-1 build): no anonymous request makes the server
build an answer over 5 MB — the heavy public routes of issue #13 answer 413 or stay small."""

from __future__ import annotations

import pytest

from tests.api_testdata import make_client

CAP = 5 * 1024 * 1024


def heavy_public_urls(store) -> list[str]:
    """The largest things an anonymous caller can ask for in one request."""
    plan = store.active_plan_id()
    runs = store.read("hotspot_runs", columns=["run_id", "method"])
    urls = [
        f"/api/v1/plans/{plan}/atoms",
        f"/api/v1/plans/{plan}/grids",
        "/api/v1/admin-units",
        "/api/v1/admin-units?level=village",
        "/api/v1/hotspots/latest/gi",
        "/api/v1/hotspots/latest/emerging",
        "/ogc/collections/villages/items?limit=10000",
        "/ogc/collections/grids/items?limit=10000",
        "/api/v1/grid-counts",
    ]
    urls += [f"/api/v1/hotspots/runs/{r}/results" for r in runs["run_id"].head(6)]
    return urls


def check_anonymous_answers_are_bounded(store) -> dict[str, tuple[int, int]]:
    """url → (status, bytes); asserts every answer is ≤ the cap or a 413 (refused before it was built)."""
    client = make_client(store)
    seen = {}
    for url in heavy_public_urls(store):
        r = client.get(url)
        seen[url] = (r.status_code, len(r.content))
        assert r.status_code in (200, 404, 413), (url, r.status_code)
        assert len(r.content) <= CAP, (url, len(r.content))
    return seen


@pytest.mark.slow
def test_no_anonymous_answer_over_5_mb_on_the_demo(demo_store):
    seen = check_anonymous_answers_are_bounded(demo_store)
    assert seen[f"/api/v1/plans/{demo_store.active_plan_id()}/atoms"][0] == 413
