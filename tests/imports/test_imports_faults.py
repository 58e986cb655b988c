"""Imports under faults (issue #13, "keep what was measured to hold"): all or nothing when the
process is killed (``kill -9``) or its PostgreSQL session terminated mid-import, and two
concurrent imports into one GeoPackage without "database is locked"."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from gridmap.imports.init import init_store
from gridmap.imports.kinds import run_import
from gridmap.store import open_store

ROOT = Path(__file__).resolve().parents[2]


def _roster(path: Path, prefix: str, rows: int = 300) -> Path:
    pd.DataFrame(
        {"工号": [f"{prefix}{i:04d}" for i in range(rows)], "姓名": [f"员{i}" for i in range(rows)]}
    ).to_csv(path, index=False)
    return path


def test_kill_9_mid_import_leaves_nothing(tmp_path):
    store_path = tmp_path / "county.gpkg"
    with open_store(store_path) as store:
        init_store(store, empty=True)
    roster = _roster(tmp_path / "roster.csv", "K")
    # the importing process kills itself (SIGKILL: no cleanup, no rollback code) after its
    # first write inside the import's transaction
    script = f"""
import os, signal
from gridmap.store.gpkg import GpkgStore
from gridmap.imports.kinds import run_import
from gridmap.store import open_store
write = GpkgStore.write
def dying_write(self, *args, **kwargs):
    write(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
GpkgStore.write = dying_write
run_import(open_store({str(store_path)!r}), "workers", {str(roster)!r})
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=120
    )
    assert done.returncode == -9
    with open_store(store_path) as store:
        assert store.count("workers") == 0 and store.count("import_batches") == 0
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert run_import(store, "workers", roster).accepted == 300  # and the next import works


@pytest.mark.postgis
def test_terminated_postgres_session_mid_import_leaves_nothing(postgis_store, tmp_path, monkeypatch):
    import psycopg2

    from gridmap.store.base import StoreError
    from gridmap.store.postgis import PostgisStore

    init_store(postgis_store, empty=True)
    roster = _roster(tmp_path / "roster.csv", "T")
    write = PostgisStore.write

    def write_then_lose_the_session(self, *args, **kwargs):
        write(self, *args, **kwargs)
        killer = psycopg2.connect(self.dsn)
        killer.autocommit = True
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (self._state().conn.get_backend_pid(),))
        killer.close()

    monkeypatch.setattr(PostgisStore, "write", write_then_lose_the_session)
    with pytest.raises((StoreError, psycopg2.Error)):
        run_import(postgis_store, "workers", roster)
    monkeypatch.undo()
    postgis_store._drop_connection(postgis_store._state())  # this thread reconnects
    assert postgis_store.count("workers") == 0 and postgis_store.count("import_batches") == 0
    assert run_import(postgis_store, "workers", roster).accepted == 300


def test_two_concurrent_imports_into_one_geopackage(tmp_path):
    store_path = tmp_path / "county.gpkg"
    with open_store(store_path) as store:
        init_store(store, empty=True)
    rosters = [_roster(tmp_path / f"roster{i}.csv", f"C{i}") for i in range(2)]
    outcomes: list[object] = [None, None]

    def import_one(i: int) -> None:
        with open_store(store_path) as own:  # a second process would open its own store too
            try:
                outcomes[i] = run_import(own, "workers", rosters[i]).accepted
            except Exception as exc:  # noqa: BLE001 - the test reports what went wrong
                outcomes[i] = exc

    threads = [threading.Thread(target=import_one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [300, 300], outcomes
    with open_store(store_path) as store:
        assert store.count("workers") == 600
