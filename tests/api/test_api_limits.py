"""Bounded cost, faults and the API contract (issue #13): empty parameters, feature and response
caps, rate limits, the KDE surface, tiles of unknown sources, masks, a lost PostGIS connection,
the CLI's one-line error, documented error schemas, empty methods and upload filenames."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from api.contract import ErrorMessage, Unprocessable
from api.limits import TokenBucket, empty_parameter
from api.privacy import PersonalDataFilter, scrub_text
from api.routers.intake import safe_filename
from tests.api_testdata import G1, PASSWORDS, build_city, city_gpkg, make_client, sign_in


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    store, city = city_gpkg(tmp_path_factory.mktemp("limits") / "city.gpkg")
    client = make_client(store)
    headers = {u: sign_in(client, u) for u in PASSWORDS}
    yield store, city, client, headers
    client.close()
    store.close()


def test_an_empty_parameter_is_400_not_everything(env):
    _, _, client, _ = env
    for url in (
        "/api/v1/plans/P2/atoms?grid=",
        "/api/v1/grid-counts?admin=",
        "/ogc/collections/grids/items?bbox=",
        "/api/v1/cases/points?kind=%20",
    ):
        r = client.get(url)
        assert r.status_code == 400 and "is empty" in r.json()["detail"], url
    assert empty_parameter("a=1&b=") == "b" and empty_parameter("a=1") is None


def test_collections_beyond_the_role_cap_are_refused_before_they_are_built(env):
    store, _, _, headers = env
    client = make_client(store, max_features_anonymous=20)
    r = client.get("/api/v1/plans/P2/atoms")  # 5 grids × 16 atoms
    assert r.status_code == 413 and "80 atoms exceed the limit of 20" in r.json()["detail"]
    assert client.get("/api/v1/plans/P2/atoms", params={"grid": G1}).status_code == 200
    assert client.get("/api/v1/plans/P2/atoms", headers=headers["planner"]).status_code == 200
    assert client.get("/api/v1/admin-units", params={"level": "village"}).status_code == 200


def test_anonymous_answers_over_the_byte_cap_become_413(env):
    store, _, _, headers = env
    client = make_client(store, max_response_bytes_anonymous=1000)
    r = client.get("/api/v1/plans/P1/grids")
    assert r.status_code == 413 and "too large" in r.json()["detail"]
    assert client.get("/api/v1/plans/P1/grids", headers=headers["planner"]).status_code == 200


def test_rate_limit_per_address_and_per_token(env):
    store, _, _, headers = env
    client = make_client(store, rate_limit_per_address=0.5, rate_limit_burst=3)
    codes = [client.get("/api/v1/health").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/api/v1/health")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    # a signed-in caller has a bucket of its own (the token's)
    assert client.get("/api/v1/health", headers=headers["commander"]).status_code == 200
    bucket = TokenBucket(rate=2, burst=2)
    assert [bucket.take("k", now=0.0) == 0 for _ in range(3)] == [True, True, False]
    assert bucket.take("k", now=0.6) == 0  # 0.6 s × 2/s = 1.2 tokens refilled


def test_kde_surface_only_for_roles_that_read_every_case(env):
    _, city, client, headers = env
    for path in (
        f"/api/v1/hotspots/runs/{city.kde_run}/kde",
        f"/api/v1/hotspots/runs/{city.kde_run}/kde.png",
    ):
        assert client.get(path, headers=headers["worker"]).status_code == 403
        assert client.get(path).status_code == 401
        assert client.get(path, headers=headers["commander"]).status_code == 200
        assert client.get(path, headers=headers["supervisor"]).status_code == 200


def test_tiles_of_unknown_plans_and_runs_are_404(env):
    _, _, client, _ = env
    assert client.get("/tiles/grids/10/845/380.pbf", params={"plan": "nope"}).status_code == 404
    assert client.get("/tiles/hotspots/10/845/380.pbf", params={"run": "nope"}).status_code == 404
    assert client.get("/tiles/grids/10/845/380.pbf", params={"plan": "P1"}).status_code in (200, 204)


@pytest.mark.parametrize(
    "text, masked",
    [
        ("199-0036-3604", "199-****-3604"),
        ("199 0036 3604", "199 **** 3604"),
        ("19900363604", "199****3604"),
        ("+86 199 0036 3604", "+86 199 **** 3604"),
        ("+8619900363604", "+86199****3604"),
        ("008619900363604", "0086199****3604"),
        ("0475-8123456", "0475-*****56"),
        ("(0475) 812 3456", "(0475) *** **56"),
        ("010 1234 5678", "010 **** **78"),
        ("+86 475 8123456", "+86 475 *****56"),
        ("150502199001011234", "150502********1234"),
        ("15050219900101123X", "150502********123X"),
        ("150502 19900101 123x", "150502 ******** 123x"),
    ],
)
def test_log_mask_covers_phone_and_id_formats(text, masked):
    assert scrub_text(f"party {text}, called") == f"party {masked}, called"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%s %s", ("GET", f"/x?q={text}"), None
    )
    PersonalDataFilter().filter(record)
    assert text not in record.getMessage()


def test_log_mask_leaves_codes_dates_and_tiles_alone():
    line = "GET /tiles/hotspots/10/845/380.pbf?from=2024-01-01 grid 150502001001001 127.0.0.1:54321 10:30:00"
    assert scrub_text(line) == line


@pytest.mark.postgis
def test_lost_postgis_connection_is_503_then_reconnects(postgis_store):
    import psycopg2

    build_city(postgis_store, with_users=False)
    with make_client(postgis_store) as client:  # one event loop and worker pool, as under uvicorn
        assert client.get("/api/health").status_code == 200
        pids = [conn.get_backend_pid() for conn in list(postgis_store._connections) if not conn.closed]
        killer = psycopg2.connect(postgis_store.dsn)
        killer.autocommit = True
        with killer.cursor() as cursor:
            for pid in pids:  # only this store's own connections: other sessions share the server
                cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
        killer.close()
        answers = [client.get("/api/health") for _ in range(len(pids) + 2)]
    codes = [a.status_code for a in answers]
    assert 503 in codes and codes[-1] == 200 and set(codes) <= {200, 503}
    failed = answers[codes.index(503)]
    assert failed.json()["detail"] == "the database is unavailable; try again shortly"
    assert "Retry-After" in failed.headers


def test_cli_prints_one_line_and_no_traceback(tmp_path):
    env = {"GRIDMAP_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none", "PATH": "/usr/bin:/bin"}
    import os

    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "gridmap.cli", "plan", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode != 0 or lines, done
    assert "Traceback" not in done.stderr and len(lines) == 1 and "cannot connect" in lines[0]


def test_openapi_documents_400_and_422_with_the_real_schemas(env):
    _, _, client, headers = env
    spec = client.get("/openapi.json").json()
    operations = [op for item in spec["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert len(operations) > 30
    for op in operations:
        for code in ("400", "422", "429", "503"):
            assert code in op["responses"], (op.get("operationId"), code)
    assert (
        spec["paths"]["/api/v1/plans/{plan_id}/edits/split"]["post"]["responses"]["422"]["content"][
            "application/json"
        ]["schema"]["$ref"]
        == "#/components/schemas/Unprocessable"
    )
    # the bodies match: a rule message (plan edit) and a parsing problem
    rule = client.post(
        "/api/v1/plans/P2/edits/split",
        json={"grid": "150502002001002", "parts": 2},
        headers=headers["planner"],
    )
    parsing = client.post("/api/v1/plans/P2/edits/split", json={"parts": "x"}, headers=headers["planner"])
    for answer in (rule, parsing):
        assert answer.status_code == 422
        Unprocessable.model_validate(answer.json())
    ErrorMessage.model_validate(client.get("/api/v1/grid-counts", params={"kind": "nope"}).json())


def test_empty_or_unknown_method_is_refused(env):
    _, _, client, headers = env
    for body in ({"method": ""}, {"method": "nope"}, {"method": "gi", "unit": ""}):
        r = client.post("/api/v1/hotspots/runs", json=body, headers=headers["commander"])
        assert r.status_code == 422, body


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("../../etc/passwd.csv", "passwd.csv"),
        ("C:\\Users\\x\\cases.xlsx", "cases.xlsx"),
        ("案件\x00<script>.csv", "案件script.csv"),
        (".hidden.csv", "hidden.csv"),
        ("", ""),
        (None, ""),
        ("a" * 300 + ".csv", "a" * 116 + ".csv"),
    ],
)
def test_upload_filenames_are_sanitised(raw, safe):
    assert safe_filename(raw) == safe


def test_ogc_pages_are_capped_per_role(env):
    store, _, _, headers = env
    client = make_client(store, max_features_anonymous=2)
    page = client.get("/ogc/collections/grids/items", params={"limit": 1000}).json()
    assert page["numberReturned"] == 2 and page["numberMatched"] == 5
    assert any(link["rel"] == "next" for link in page["links"])
    signed = client.get(
        "/ogc/collections/grids/items", params={"limit": 1000}, headers=headers["planner"]
    ).json()
    assert signed["numberReturned"] == 5


#: the probe's path-traversal variants (issue #13: all answered 404): raw, percent-encoded,
#: double-encoded, backslashes, overlong UTF-8, through static files, tiles, OGC and the API
TRAVERSALS = [
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/vendor/%2e%2e/%2e%2e/pyproject.toml",
    "/vendor/..%2f..%2fpyproject.toml",
    "/%252e%252e/%252e%252e/etc/passwd",
    "/..%5c..%5cpyproject.toml",
    "/vendor/..%5c..%5cpyproject.toml",
    "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "/....//....//etc/passwd",
    "/tiles/grids/..%2f..%2f..%2fetc%2fpasswd",
    "/tiles/%2e%2e/%2e%2e/1/1/1.pbf",
    "/ogc/collections/..%2f..%2fetc%2fpasswd/items",
    "/api/v1/plans/..%2f..%2fetc%2fpasswd",
    "/api/v1/hotspots/runs/..%2f..%2fpyproject.toml/kde.png",
]


def test_path_traversal_variants_answer_404(env):
    _, _, client, _ = env
    assert len(TRAVERSALS) == 15
    for path in TRAVERSALS:
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert b"root:" not in response.content and b"[project]" not in response.content


HOSTILE = ["' OR '1'='1", "1; DROP TABLE cases; --", '" OR ""="', "x') UNION SELECT * FROM users --"]


def _hostile_filters_match_nothing(store, client, headers) -> None:
    for value in HOSTILE:
        for path, params in (
            ("/api/v1/cases", {"category": value}),
            ("/api/v1/cases", {"status": value}),
            ("/api/v1/grid-counts", {"category": value}),
            ("/api/v1/cases/points", {"kind": value}),
        ):
            response = client.get(path, params=params, headers=headers)
            assert response.status_code in (200, 400, 422), (path, value, response.status_code)
            if response.status_code == 200:
                body = response.json()
                rows = body.get("grids", body.get("features", body.get("items", body.get("cases"))))
                assert rows == [], (path, value, str(body)[:200])
    assert store.count("cases") > 0 and store.count("users") > 0  # nothing dropped


def test_sql_looking_filter_values_match_nothing_and_fail_nothing(env):
    store, _, client, headers = env
    _hostile_filters_match_nothing(store, client, headers["admin"])


def test_sql_looking_filter_values_match_nothing_and_fail_nothing_on_postgis(postgis_store):
    build_city(postgis_store)
    with make_client(postgis_store) as client:
        _hostile_filters_match_nothing(postgis_store, client, sign_in(client, "admin"))


def test_freed_memory_goes_back_once_the_server_is_idle(monkeypatch):
    import asyncio

    from api import limits

    trims = []
    monkeypatch.setattr(limits, "release_memory", lambda: trims.append(1))

    async def scenario() -> None:
        idle = limits.IdleTrim(after_s=0.05)
        idle.started()
        idle.started()
        idle.finished()
        await asyncio.sleep(0.1)
        assert trims == []  # a request is still running
        idle.finished()
        idle.started()  # a new request before the delay: no trim yet
        await asyncio.sleep(0.1)
        assert trims == []
        idle.finished()
        await asyncio.sleep(0.1)

    asyncio.run(scenario())
    assert trims == [1]


def test_the_second_idle_stage_empties_every_cache(env):
    """After a long pause every in-process cache is emptied; the next requests rebuild them."""
    from api import limits, mvt, tilesource

    _, _, client, headers = env
    state = client.app.state
    z, x, y = mvt.tiles_covering((122.1, 43.6, 122.1, 43.6), [10])[0]
    tile = client.get(f"/tiles/grids/{z}/{x}/{y}.pbf")
    assert tile.status_code == 200
    assert client.get("/api/v1/plans/P2/quality", headers=headers["admin"]).status_code == 200
    assert client.get("/api/v1/grid-counts", params={"limit": 5}).status_code == 200
    tilesource._DEFAULT_INDEXES._items["probe"] = object()  # a caller that passes no index cache
    filled = [c for c in limits.project_lru_caches() if c.cache_info().currsize]
    assert len(state.tile_cache) and len(state.tile_indexes) and len(limits.REPORTS) and filled

    state.idle_trim.release_all()

    assert len(state.tile_cache) == len(state.tile_indexes) == len(limits.REPORTS) == 0
    assert len(tilesource._DEFAULT_INDEXES) == 0 and state.tile_sources._items == {}
    assert [c.__qualname__ for c in limits.project_lru_caches() if c.cache_info().currsize] == []
    again = client.get(f"/tiles/grids/{z}/{x}/{y}.pbf")
    assert again.status_code == 200 and again.content == tile.content  # rebuilt, same bytes
    assert state.idle_trim.release_after_s == 60  # GRIDMAP_IDLE_RELEASE_S
    assert make_client(env[0], idle_release_s=0).app.state.idle_trim.release_after_s == 0


def test_the_second_idle_stage_comes_after_the_first_and_not_under_load():
    import asyncio

    from api import limits

    events = []

    class Probe(limits.IdleTrim):
        def _trim(self):
            events.append("trim")

        def release_all(self):
            events.append("release")

    async def scenario() -> None:
        idle = Probe(after_s=0.02, release_after_s=0.06)
        idle.started()
        idle.finished()
        await asyncio.sleep(0.04)
        idle.started()  # a request between the stages: the second stage waits for a new pause
        await asyncio.sleep(0.05)
        assert events == ["trim"]
        idle.finished()
        await asyncio.sleep(0.1)

    asyncio.run(scenario())
    assert events == ["trim", "trim", "release"]


def test_the_second_idle_stage_ends_the_idle_worker_threads(monkeypatch):
    """Worker threads left by a busy spell (each with its store connection and PROJ contexts)
    end at the second idle stage, not only when the next request comes."""
    import asyncio
    import threading

    import anyio.to_thread
    from anyio._backends._asyncio import WorkerThread

    from api import limits

    monkeypatch.setattr(WorkerThread, "MAX_IDLE_TIME", 0.1)  # anyio's 10 s, shortened
    trims = []
    monkeypatch.setattr(limits, "release_memory", lambda: trims.append(1))

    async def scenario() -> tuple[int, int, int]:
        start = threading.active_count()
        together = threading.Barrier(4)
        await asyncio.gather(*(anyio.to_thread.run_sync(together.wait) for _ in range(4)))
        busy = threading.active_count()
        await asyncio.sleep(0.2)  # longer idle than MAX_IDLE_TIME
        limits.IdleTrim(after_s=0.01, release_after_s=0.02).release_all()
        await asyncio.sleep(2.2)  # the job (after anyio's idle time), the threads end, the trim
        return start, busy, threading.active_count()

    start, busy, after = asyncio.run(scenario())
    assert busy == start + 4
    assert after <= start + 1  # one worker stays for the job that ended the others
    assert len(trims) == 2  # the stage's own trim and the one after the threads ended


def test_the_server_process_keeps_to_small_pages():
    """The app opts its process out of transparent huge pages and numpy's huge-page advice
    (checked in a child process: the setting is per process and inherited, not undone)."""
    code = (
        "from numpy._core import multiarray\n"
        "from api import limits\n"
        "assert multiarray._get_madvise_hugepage()\n"
        "accepted = limits.disable_huge_pages()\n"
        "assert not multiarray._get_madvise_hugepage()\n"
        "print(accepted, limits.thp_disabled())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    accepted, disabled = out.stdout.split()
    assert accepted == disabled == "True"


def test_building_the_app_turns_huge_pages_off(env):
    from numpy._core import multiarray

    from api import limits

    assert limits.thp_disabled() is True and not multiarray._get_madvise_hugepage()


def test_serve_restarts_itself_under_the_chosen_allocator(monkeypatch):
    """GRIDMAP_PYTHON_ALLOCATOR=malloc: ``serve`` execs itself with PYTHONMALLOC=malloc (same
    arguments, same process); pymalloc, or malloc already in force, starts nothing."""
    from api import cli

    calls = []
    monkeypatch.setattr(cli.os, "execve", lambda *a: calls.append(a))
    monkeypatch.setattr(cli.sys, "argv", ["gridmap", "serve", "--port", "8123"])
    monkeypatch.delenv("PYTHONMALLOC", raising=False)
    cli._use_allocator("pymalloc")
    assert calls == []
    cli._use_allocator("malloc")
    (executable, argv, environ) = calls[0]
    assert argv[1:] == ["-m", "api.cli", "serve", "--port", "8123"] and environ["PYTHONMALLOC"] == "malloc"
    monkeypatch.setenv("PYTHONMALLOC", "malloc")
    cli._use_allocator("malloc")
    assert len(calls) == 1
    from gridmap.errors import InputError

    with pytest.raises(InputError, match="GRIDMAP_PYTHON_ALLOCATOR"):
        cli._use_allocator("jemalloc")
