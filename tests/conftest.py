"""Shared fixtures: an empty, initialised store on each backend.

* ``gpkg_store``: a :class:`~gridmap.store.gpkg.GpkgStore` in a fresh file under ``tmp_path``.
* ``postgis_store``: a :class:`~gridmap.store.postgis.PostgisStore` on
  ``GRIDMAP_TEST_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/gridmap_test``,
  created if missing), in a schema unique to this test session (dropped at the end); every
  table is emptied before each test.  Tests using it are marked ``postgis`` automatically.
* ``store``: parametrized over both, so a test written against ``store`` runs on each backend.

PostGIS unreachable: when ``CI`` is set or ``GRIDMAP_REQUIRE_POSTGIS=1`` that is an error
of every PostGIS test (with the reason); otherwise those tests are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/gridmap_test"


def postgis_required() -> bool:
    ci = os.environ.get("CI", "").strip().lower()
    return ci not in ("", "0", "false", "no") or os.environ.get("GRIDMAP_REQUIRE_POSTGIS") == "1"


def _ensure_database(url: str) -> str | None:
    """Make sure the test database exists and has PostGIS; returns a problem or None."""
    import psycopg2

    try:
        conn = psycopg2.connect(url, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        if "does not exist" not in str(exc):
            return f"cannot connect to {url}: {str(exc).strip()}"
        parts = urlsplit(url)
        database = parts.path.lstrip("/")
        try:
            admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")), connect_timeout=5)
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{database}"')
            admin.close()
        except psycopg2.errors.DuplicateDatabase:
            pass  # a parallel session created it first
        except psycopg2.Error as create_exc:
            return f"database {database!r} is missing and could not be created: {str(create_exc).strip()}"
        try:
            conn = psycopg2.connect(url, connect_timeout=5)
        except psycopg2.Error as retry_exc:
            return f"cannot connect to {url}: {str(retry_exc).strip()}"
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtext('gridmap-store-init'))")
            cursor.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cursor.execute("SELECT postgis_lib_version()")
    except psycopg2.Error as exc:
        return f"PostGIS extension not available in {url}: {str(exc).strip()}"
    finally:
        conn.close()
    return None


@pytest.fixture(scope="session")
def postgis_database() -> Iterator[tuple[str, str]]:
    """(database URL, schema name unique to this session); the schema is dropped at the end."""
    url = os.environ.get("GRIDMAP_TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    problem = _ensure_database(url)
    if problem:
        hint = "run `bash scripts/pg_setup.sh` or set GRIDMAP_TEST_DATABASE_URL"
        if postgis_required():
            pytest.fail(
                f"PostGIS is required here (CI / GRIDMAP_REQUIRE_POSTGIS=1) but {problem}; {hint}",
                pytrace=False,
            )
        pytest.skip(f"PostGIS unavailable: {problem}; {hint}")
    schema = f"gridmap_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    yield url, schema
    import psycopg2

    conn = psycopg2.connect(url, connect_timeout=5)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


@pytest.fixture
def gpkg_store(tmp_path):
    """An initialised, empty GeoPackage store in ``tmp_path / "store.gpkg"``."""
    from gridmap.store.gpkg import GpkgStore

    store = GpkgStore(tmp_path / "store.gpkg")
    store.init()
    yield store
    store.close()


@pytest.fixture
def postgis_store(postgis_database):
    """An initialised PostGIS store in the session's schema, every table emptied first."""
    from gridmap.store.postgis import PostgisStore

    url, schema = postgis_database
    store = PostgisStore(url, schema=schema)
    store.init()
    with store.transaction(), store._cursor("empty test schema") as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
        tables = [row[0] for row in cursor.fetchall()]
        # DELETE, not TRUNCATE: on a few rows it is ~50x faster
        for table in tables:
            cursor.execute(f'DELETE FROM "{schema}"."{table}"')
    store.init()  # records schema_version again
    yield store
    store.close()


BACKENDS = [pytest.param("gpkg", id="gpkg"), pytest.param("postgis", id="postgis", marks=pytest.mark.postgis)]


def pytest_generate_tests(metafunc):
    """Run every test that needs ``store`` (directly or through another fixture) on each backend."""
    if "store" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if "store" in names:
            return  # the test chose its own backends
    metafunc.parametrize("store", BACKENDS, indirect=True)


@pytest.fixture
def store(request):
    """The same test on each backend: an initialised, empty store.

    Tests (and fixtures) that list ``store`` run once per backend; one fetched dynamically
    with ``request.getfixturevalue("store")`` gets the GeoPackage.
    """
    return request.getfixturevalue(f"{getattr(request, 'param', 'gpkg')}_store")


DEMO_FIXTURES = {"demo_build", "demo_store", "copy_demo"}


def pytest_collection_modifyitems(config, items):
    # One demo test first, the other demo tests last: under xdist the first worker starts the
    # ~90 s demo build at once while the other works through the unit tests, and the demo tests
    # are shared by both workers at the end instead of one worker idling on the build lock.
    uses_demo = [bool(DEMO_FIXTURES & set(getattr(item, "fixturenames", ()))) for item in items]
    first = next((i for i, demo in enumerate(uses_demo) if demo), None)
    order = {id(item): (0 if i == first else 2 if uses_demo[i] else 1) for i, item in enumerate(items)}
    items.sort(key=lambda item: order[id(item)])  # stable: the file order holds within each group
    for item in items:
        if "postgis_store" in getattr(item, "fixturenames", ()) or "postgis_database" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(pytest.mark.postgis)


# --- the demo city, built once per test session -----------------------------------------------

DEMO_SEED = 7
DEMO_SCALE = 1.0


@dataclass(frozen=True)
class DemoBuild:
    """The scale-1 demo (what ``make demo`` builds) and the synthetic city it came from.

    ``path`` is the GeoPackage; ``city`` is the :class:`gridmap.synth.SynthCity` (with
    ``truth`` and ``case_truth``).  Tests must treat both as read-only: open
    ``open_store(path)`` to read, and copy the file (``copy_demo``) before writing.
    """

    path: Path
    city: object
    report: object


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory, worker_id) -> Iterator[DemoBuild]:
    """The Tongliao demo at seed 7, scale 1, built once for the whole run (about 90 s).

    Under pytest-xdist (``make test`` runs two workers) the first worker to ask builds it into
    the run's shared temporary folder while holding a file lock; the others wait for the lock and
    read the same GeoPackage and the pickled city, so the city is still built exactly once.
    """
    import pickle

    from filelock import FileLock

    from gridmap import synth
    from gridmap.pipeline import build_demo
    from gridmap.store import open_store

    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # shared by the workers of this run
    folder = root / "demo_build"
    path, saved = folder / "gridmap.gpkg", folder / "city.pickle"
    with FileLock(str(root / "demo_build.lock")):
        if saved.exists():
            with saved.open("rb") as handle:
                city, report = pickle.load(handle)
        else:
            folder.mkdir(exist_ok=True)
            built = {}
            original = synth.synthesize

            def keep(*args, **kwargs):
                built["city"] = original(*args, **kwargs)
                return built["city"]

            store = open_store(path)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(synth, "synthesize", keep)
                report = build_demo(
                    seed=DEMO_SEED, scale=DEMO_SCALE, store=store, progress=lambda m: None, with_users=False
                )
            store.close()
            city = built["city"]
            with saved.open("wb") as handle:
                pickle.dump((city, report), handle, protocol=pickle.HIGHEST_PROTOCOL)
    yield DemoBuild(path=path, city=city, report=report)


@pytest.fixture
def demo_store(demo_build):
    """The session's demo GeoPackage opened read-mostly (do not write to it; see ``copy_demo``)."""
    from gridmap.store import open_store

    store = open_store(demo_build.path)
    yield store
    store.close()


@pytest.fixture
def copy_demo(demo_build, tmp_path):
    """A writable copy of the session's demo GeoPackage (path)."""
    import shutil

    target = tmp_path / "demo_copy.gpkg"
    shutil.copyfile(demo_build.path, target)
    return target
