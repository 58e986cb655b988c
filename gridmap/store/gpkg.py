"""The embedded backend: one GeoPackage 1.3 file written with Python's sqlite3.

Why sqlite3 and not GDAL: writes to several tables must commit or roll back together,
and GDAL has no multi-layer transactions.  The file stays a standard GeoPackage that
QGIS, GDAL/pyogrio and geopandas open directly:

* ``application_id`` 'GPKG', ``user_version`` 10300; ``gpkg_spatial_ref_sys`` (EPSG:4326 and
  the required -1/0 rows), ``gpkg_contents`` ('features' / 'attributes'),
  ``gpkg_geometry_columns``, ``gpkg_extensions``;
* every table has an integer ``fid`` primary key (the declared key is a UNIQUE constraint);
  spatial tables store GeoPackage binary geometries in column ``geom`` (GP header with
  envelope + little-endian WKB) and carry an R-tree index ``rtree_<table>_geom`` kept
  current by the spec's triggers (the GeoPackage 1.4 trigger set, which GDAL writes too).

Bulk inserts drop the R-tree insert trigger, fill the R-tree from envelopes computed with
shapely in one pass, and recreate the trigger, all inside the transaction; triggers stay in
place for anyone else (QGIS edits) who writes the file.

Concurrency: WAL journal, a busy timeout, and one connection per thread (FastAPI's thread
pool); a transaction belongs to the thread that opened it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import shapely

from gridmap.store.base import Store, StoreError, Where
from gridmap.store.frames import WriteBatch, prepare_write
from gridmap.store.geometry import (
    GPKG_SQL_FUNCTIONS,
    WGS84_EPSG,
    encode_gpkg,
    gpkg_wkb_sql,
)
from gridmap.store.rtree import bulk_load, float32_outward
from gridmap.store.schema import SCHEMA_VERSION, Table, all_tables
from gridmap.store.sql import (
    SqliteDialect,
    check_bbox,
    quote,
)

log = logging.getLogger(__name__)

GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10300
GEOMETRY_COLUMN = "geom"
FID = "fid"
RTREE_EXTENSION_DEFINITION = "http://www.geopackage.org/spec120/#extension_rtree"

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

_CORE_DDL = (
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
        description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_extensions (
        table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
        scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))""",
)

_SRS_ROWS = (
    (
        "Undefined cartesian SRS",
        -1,
        "NONE",
        -1,
        "undefined",
        "undefined cartesian coordinate reference system",
    ),
    (
        "Undefined geographic SRS",
        0,
        "NONE",
        0,
        "undefined",
        "undefined geographic coordinate reference system",
    ),
    (
        "WGS 84 geodetic",
        WGS84_EPSG,
        "EPSG",
        WGS84_EPSG,
        WGS84_WKT,
        "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid",
    ),
)

_NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ','now')"


def _rtree_name(table: str) -> str:
    return f"rtree_{table}_{GEOMETRY_COLUMN}"


def _rtree_triggers(table: str) -> dict[str, str]:
    """The GeoPackage R-tree triggers (1.4 set: update1/update3 of 1.3 replaced by update5-7)."""
    t, c, i, r = quote(table), quote(GEOMETRY_COLUMN), quote(FID), quote(_rtree_name(table))
    envelope = f"ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}), ST_MinY(NEW.{c}), ST_MaxY(NEW.{c})"
    new_present = f"(NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c}))"
    new_absent = f"(NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))"
    old_present = f"(OLD.{c} NOTNULL AND NOT ST_IsEmpty(OLD.{c}))"
    old_absent = f"(OLD.{c} ISNULL OR ST_IsEmpty(OLD.{c}))"
    base = _rtree_name(table)
    return {
        f"{base}_insert": f"AFTER INSERT ON {t} WHEN {new_present} "
        f"BEGIN INSERT OR REPLACE INTO {r} VALUES (NEW.{i}, {envelope}); END",
        f"{base}_update6": f"AFTER UPDATE OF {c} ON {t} WHEN OLD.{i} = NEW.{i} AND {new_present} AND {old_present} "
        f"BEGIN UPDATE {r} SET minx = ST_MinX(NEW.{c}), maxx = ST_MaxX(NEW.{c}), "
        f"miny = ST_MinY(NEW.{c}), maxy = ST_MaxY(NEW.{c}) WHERE id = NEW.{i}; END",
        f"{base}_update7": f"AFTER UPDATE OF {c} ON {t} WHEN OLD.{i} = NEW.{i} AND {new_present} AND {old_absent} "
        f"BEGIN INSERT INTO {r} VALUES (NEW.{i}, {envelope}); END",
        f"{base}_update2": f"AFTER UPDATE OF {c} ON {t} WHEN OLD.{i} = NEW.{i} AND {new_absent} "
        f"BEGIN DELETE FROM {r} WHERE id = OLD.{i}; END",
        f"{base}_update5": f"AFTER UPDATE ON {t} WHEN OLD.{i} != NEW.{i} AND {new_present} "
        f"BEGIN DELETE FROM {r} WHERE id = OLD.{i}; INSERT OR REPLACE INTO {r} VALUES (NEW.{i}, {envelope}); END",
        f"{base}_update4": f"AFTER UPDATE ON {t} WHEN OLD.{i} != NEW.{i} AND {new_absent} "
        f"BEGIN DELETE FROM {r} WHERE id IN (OLD.{i}, NEW.{i}); END",
        f"{base}_delete": f"AFTER DELETE ON {t} WHEN OLD.{c} NOT NULL "
        f"BEGIN DELETE FROM {r} WHERE id = OLD.{i}; END",
    }


def _index_sql(table: Table) -> list[tuple[str, str]]:
    """(name, CREATE INDEX IF NOT EXISTS …) for the declared secondary indexes."""
    out = []
    for columns in table.indexes:
        index = f"idx_{table.name}_{'_'.join(columns)}"
        out.append(
            (
                index,
                f"CREATE INDEX IF NOT EXISTS {quote(index)} ON {quote(table.name)} "
                f"({', '.join(quote(c) for c in columns)})",
            )
        )
    return out


@dataclass
class _Bulk:
    """R-tree entries (and secondary indexes) owed to ``table`` at the end of :meth:`GpkgStore.bulk_writes`."""

    table: Table
    ids: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    indexes: list[tuple[str, str]] = field(default_factory=list)


@dataclass(eq=False)
class _ThreadState:
    conn: sqlite3.Connection
    depth: int = 0
    bulk: _Bulk | None = None


def _close_quietly(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error:  # pragma: no cover - closing a reader never loses data
        log.warning("closing a GeoPackage connection failed")


#: SQLite's memory for the whole process (page caches of every connection), MiB: the
#: ``PRAGMA soft_heap_limit`` every connection sets (``GRIDMAP_GPKG_MEMORY_MIB``)
DEFAULT_MEMORY_LIMIT_MIB = 128


class GpkgStore(Store):
    """The store in one GeoPackage file (default ``settings.gpkg_path``, ``var/gridmap.gpkg``).

    Parameters
    ----------
    path
        the ``.gpkg`` file; created (with its directory) on :meth:`init`.
    timeout_s
        how long a writer waits for another writer's lock before failing (seconds).
    """

    backend = "gpkg"

    def __init__(
        self, path: str | Path | None = None, *, timeout_s: float = 30.0, memory_limit_mib: int | None = None
    ) -> None:
        if path is None or memory_limit_mib is None:
            from gridmap.config import get_settings

            settings = get_settings()
            path = settings.gpkg_path if path is None else path
            memory_limit_mib = getattr(settings, "gpkg_memory_mib", DEFAULT_MEMORY_LIMIT_MIB)
        self.path = Path(path)
        self.url = str(self.path)
        self.timeout_s = timeout_s
        self.memory_limit_mib = int(memory_limit_mib)
        self._local = threading.local()
        # one connection per thread, closed when its thread ends (weak: see _state)
        self._states: weakref.WeakSet[_ThreadState] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False
        self._dialect = SqliteDialect()

    def __repr__(self) -> str:
        return f"GpkgStore({str(self.path)!r})"

    # --- connections and transactions ---------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False
        )
        for name, function in GPKG_SQL_FUNCTIONS.items():
            conn.create_function(name, 1, function, deterministic=True)
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
            # A new file: GDAL reads application_id from the file header itself, so write it
            # before WAL mode would keep it in the -wal file until a checkpoint.
            conn.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -65536")  # KiB: index pages of a 500k-row table stay in memory
        if self.memory_limit_mib > 0:
            # process-wide: past it, every connection recycles its own cached pages instead of
            # growing (a server's worker threads each hold a connection: 40 × 64 MiB otherwise)
            conn.execute(f"PRAGMA soft_heap_limit = {self.memory_limit_mib * 2**20}")
        return conn

    def release_memory(self) -> None:
        """Empty the page caches of every open connection (``PRAGMA shrink_memory``): a server
        calls this when idle, so a load does not leave the caches of its threads behind."""
        for conn in self._connections:
            try:
                conn.execute("PRAGMA shrink_memory")
            except sqlite3.Error:  # busy or closing: its cache stays bounded by the soft limit
                continue

    @property
    def _connections(self) -> list[sqlite3.Connection]:
        """The open connections (one per live thread that used the store)."""
        with self._lock:
            return [state.conn for state in self._states]

    def _state(self) -> _ThreadState:
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        state = getattr(self._local, "state", None)
        if state is None:
            try:
                conn = self._connect()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open GeoPackage {self.path}: {exc}") from exc
            state = _ThreadState(conn)
            # the connection closes when its thread ends and the thread's state goes: a server's
            # worker threads come and go (anyio retires idle ones after 10 s), and a connection
            # kept per finished thread held its page cache for good
            weakref.finalize(state, _close_quietly, conn)
            self._local.state = state
            with self._lock:
                self._states.add(state)
        return state

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._state().conn

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path.name} {what}: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all.

        A nested call joins the outer transaction (as a SAVEPOINT: if the inner block fails,
        only its own writes are undone and the outer block decides).  The transaction is the
        calling thread's.
        """
        state = self._state()
        conn = state.conn
        depth = state.depth
        with self._errors("transaction"):
            conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT gridmap_{depth}")
        state.depth += 1
        try:
            yield
        except BaseException:
            state.depth = depth
            try:
                if depth == 0:
                    conn.execute("ROLLBACK")
                else:
                    conn.execute(f"ROLLBACK TO gridmap_{depth}")
                    conn.execute(f"RELEASE gridmap_{depth}")
            except sqlite3.Error:
                log.exception("rollback failed on %s", self.path)
            raise
        state.depth = depth
        with self._errors("commit"):
            try:
                conn.execute("COMMIT" if depth == 0 else f"RELEASE gridmap_{depth}")
            except sqlite3.Error:
                if depth == 0 and conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def bulk_writes(self, table: str) -> Iterator[None]:
        """Many writes to ``table`` inside one transaction (a streamed import): its R-tree is
        filled once at the end (bulk-loaded, or row by row when the table already holds far
        more than was added), and the secondary indexes of a table that starts empty are
        built once at the end, instead of maintained row by row on every write.

        Reads of ``table`` by attribute see every row written so far; a ``bbox`` read
        inside the block does not see the rows written in it.
        """
        decl = self.table(table)
        state = self._state()
        if state.depth == 0:
            raise StoreError(f"bulk_writes({table}) must run inside a transaction")
        if state.bulk is not None or not decl.is_spatial:
            yield
            return
        conn = state.conn
        bulk = _Bulk(decl)
        with self._errors(f"bulk writes to {table}"):
            (existing,) = conn.execute(f"SELECT count(*) FROM {quote(decl.name)}").fetchone()
            if existing == 0:
                bulk.indexes = _index_sql(decl)
                for index, _ in bulk.indexes:
                    conn.execute(f"DROP INDEX IF EXISTS {quote(index)}")
            self._drop_triggers(decl, ["insert"])
        state.bulk = bulk
        try:
            yield
        finally:
            state.bulk = None
        with self._errors(f"bulk writes to {table}"):
            self._finish_bulk(bulk, int(existing))

    def _finish_bulk(self, bulk: _Bulk, existing: int) -> None:
        conn, table = self._conn, bulk.table
        ids = np.concatenate(bulk.ids) if bulk.ids else np.empty(0, dtype=np.int64)
        boxes = np.concatenate(bulk.boxes) if bulk.boxes else np.empty((0, 4), dtype=np.float32)
        (written,) = (
            conn.execute(
                f"SELECT count(*) FROM {quote(table.name)} WHERE {quote(FID)} >= ?", (int(ids.min()),)
            ).fetchone()
            if len(ids)
            else (0,)
        )
        if len(ids) and written != len(ids):  # rows written and deleted again inside the block have no entry
            present = np.array(
                [
                    row[0]
                    for row in conn.execute(
                        f"SELECT {quote(FID)} FROM {quote(table.name)} WHERE {quote(FID)} >= ?",
                        (int(ids.min()),),
                    )
                ],
                dtype=np.int64,
            )
            kept = np.isin(ids, present)
            ids, boxes = ids[kept], boxes[kept]
        if len(ids) and (existing == 0 or 8 * len(ids) >= existing):
            self._rebuild_rtree(table, np.empty(0, dtype=np.int64), ids, boxes)
        elif len(ids):
            conn.executemany(
                f"INSERT INTO {quote(_rtree_name(table.name))} VALUES (?, ?, ?, ?, ?)",
                zip(ids.tolist(), *(boxes[:, i].astype(np.float64).tolist() for i in range(4)), strict=True),
            )
        self._create_triggers(table, ["insert"])
        for _, create in bulk.indexes:
            conn.execute(create)

    def close(self) -> None:
        with self._lock:
            states, self._states = list(self._states), weakref.WeakSet()
            self._closed = True
        for state in states:
            _close_quietly(state.conn)
        self._local = threading.local()

    # --- schema ---------------------------------------------------------------------------
    def _has_table(self, name: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def schema_version(self) -> int | None:
        with self._errors("schema_version"):
            if not self._has_table("meta"):
                return None
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or row[0] is None:
            return None
        try:
            return int(row[0])
        except ValueError:
            raise StoreError(f"{self.path}: schema_version {row[0]!r} in meta is not a number") from None

    def init(self) -> None:
        """Create or migrate the GeoPackage: core tables, every registered table (missing ones
        created, missing columns added, indexes), R-trees; records ``schema_version``.

        Refuses (:class:`StoreError`, file untouched) a store written by a newer gridmap.
        """
        conn = self._conn
        with self._errors("init"):
            self._check_header(conn)
            with self.transaction():
                stored = self.schema_version()
                if stored is not None and stored > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path} has schema_version {stored}, newer than this gridmap's "
                        f"{SCHEMA_VERSION}; upgrade gridmap or use another store"
                    )
                for ddl in _CORE_DDL:
                    conn.execute(ddl)
                conn.executemany(
                    "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", _SRS_ROWS
                )
                for table in all_tables().values():
                    self._create_table(conn, table)
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(SCHEMA_VERSION),),
                )
            # leave a self-contained file for readers that look at the main file only
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _check_header(self, conn: sqlite3.Connection) -> None:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if application_id == GPKG_APPLICATION_ID:
            return
        if application_id != 0:
            raise StoreError(
                f"{self.path} is an SQLite file but not a GeoPackage (application_id {application_id:#x})"
            )
        foreign = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        if foreign and not self._has_table("gpkg_contents"):
            raise StoreError(f"{self.path} is an SQLite database of something else, not a GeoPackage")
        conn.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")

    def _create_table(self, conn: sqlite3.Connection, table: Table) -> None:
        reserved = {FID, GEOMETRY_COLUMN, "geometry"} & set(table.columns)
        if reserved:
            raise StoreError(f"table {table.name}: column names {sorted(reserved)} are reserved by the store")
        name = quote(table.name)
        if not self._has_table(table.name):
            parts = [f"{quote(FID)} INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"]
            if table.is_spatial:
                parts.append(f"{quote(GEOMETRY_COLUMN)} {table.geometry_type}")
            for column, sql_type in table.columns.items():
                parts.append(
                    f"{quote(column)} {sql_type}{' NOT NULL' if column in table.primary_key else ''}"
                )
            if table.primary_key:
                keys = ", ".join(quote(k) for k in table.primary_key)
                parts.append(f"CONSTRAINT {quote(table.name + '_key')} UNIQUE ({keys})")
            conn.execute(f"CREATE TABLE {name} ({', '.join(parts)})")
        else:
            existing = {row[1] for row in conn.execute(f"PRAGMA table_info({name})")}
            missing = [c for c in table.columns if c not in existing]
            lost_keys = [c for c in missing if c in table.primary_key]
            if lost_keys:
                raise StoreError(
                    f"{self.path}: table {table.name} lacks key columns {lost_keys}; cannot migrate"
                )
            for column in missing:
                conn.execute(f"ALTER TABLE {name} ADD COLUMN {quote(column)} {table.columns[column]}")
        for _, create in _index_sql(table):
            conn.execute(create)
        conn.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                table.name,
                "features" if table.is_spatial else "attributes",
                table.name,
                table.description,
                WGS84_EPSG if table.is_spatial else None,
            ),
        )
        if table.is_spatial:
            self._create_spatial_index(conn, table)

    def _create_spatial_index(self, conn: sqlite3.Connection, table: Table) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)",
            (table.name, GEOMETRY_COLUMN, table.geometry_type, WGS84_EPSG),
        )
        rtree = _rtree_name(table.name)
        if not self._has_table(rtree):
            conn.execute(f"CREATE VIRTUAL TABLE {quote(rtree)} USING rtree(id, minx, maxx, miny, maxy)")
            g = quote(GEOMETRY_COLUMN)
            conn.execute(
                f"INSERT INTO {quote(rtree)} SELECT {quote(FID)}, ST_MinX({g}), ST_MaxX({g}), ST_MinY({g}), "
                f"ST_MaxY({g}) FROM {quote(table.name)} WHERE {g} NOT NULL AND NOT ST_IsEmpty({g})"
            )
        for trigger, body in _rtree_triggers(table.name).items():
            conn.execute(f"CREATE TRIGGER IF NOT EXISTS {quote(trigger)} {body}")
        conn.execute(
            "INSERT OR IGNORE INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', ?, 'write-only')",
            (table.name, GEOMETRY_COLUMN, RTREE_EXTENSION_DEFINITION),
        )

    # --- reads ----------------------------------------------------------------------------
    # --- the SQL this backend differs in (reads, counts and updates: :class:`Store`) -----
    def _table_sql(self, table: str) -> str:
        return quote(table)

    def _geometry_sql(self) -> str:
        return gpkg_wkb_sql(quote(GEOMETRY_COLUMN))

    def _bbox_sql(self, table: Table, bbox: tuple[float, float, float, float]) -> tuple[str, list[Any]]:
        minx, miny, maxx, maxy = check_bbox(table, bbox)
        return (
            f"{quote(FID)} IN (SELECT id FROM {quote(_rtree_name(table.name))} "
            "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"
        ), [maxx, minx, maxy, miny]

    def _geometry_assignment(self, geometry: Any) -> tuple[str, Any]:
        return f"{quote(GEOMETRY_COLUMN)} = ?", encode_gpkg(geometry)[0]

    def _fetch(self, what: str, sql: str, params: list[Any]) -> list[tuple]:
        with self._errors(what):
            return self._conn.execute(sql, params).fetchall()

    def _execute(self, what: str, sql: str, params: list[Any]) -> int:
        with self._errors(what):
            return int(self._conn.execute(sql, params).rowcount)

    def _updated(self, table: Table, geometry: Any) -> None:
        self._extend_extent(table, shapely.bounds(geometry[~shapely.is_missing(geometry)]))

    # --- writes ---------------------------------------------------------------------------
    def write(self, table: str, frame: pd.DataFrame, mode: Literal["append", "replace"] = "append") -> int:
        """Insert rows (``replace`` first empties the table), all or nothing.

        Frames are validated and converted by :func:`~gridmap.store.frames.prepare_write`:
        unknown columns are refused, missing ones are NULL, a GeoDataFrame in another CRS is
        reprojected to EPSG:4326, Polygons are promoted for MULTIPOLYGON tables.
        """
        if mode not in ("append", "replace"):
            raise StoreError(f"write mode must be 'append' or 'replace', got {mode!r}")
        batch = prepare_write(self.table(table), frame)
        with self._errors(f"write {table}"), self.transaction():
            self._store_batch(batch, mode)
        return len(batch)

    def upsert(self, table: str, frame: pd.DataFrame) -> int:
        """Insert rows; a row whose primary key exists is replaced entirely (missing columns → NULL)."""
        decl = self.table(table)
        if not decl.primary_key:
            raise StoreError(f"{table}: upsert needs a primary key")
        batch = prepare_write(decl, frame)
        with self._errors(f"upsert {table}"), self.transaction():
            self._store_batch(batch, "upsert")
        return len(batch)

    def delete(self, table: str, where: Where | None = None) -> int:
        decl = self.table(table)
        with self._errors(f"delete {table}"), self.transaction():
            if not where:
                return self._delete_all(decl)
            condition, params = self._conditions(decl, where, None)
            return int(self._conn.execute(f"DELETE FROM {quote(decl.name)}{condition}", params).rowcount)

    # --- write internals (inside a transaction) -----------------------------------------
    def _drop_triggers(self, table: Table, suffixes: Sequence[str]) -> None:
        for suffix in suffixes:
            self._conn.execute(f"DROP TRIGGER IF EXISTS {quote(_rtree_name(table.name) + '_' + suffix)}")

    def _create_triggers(self, table: Table, suffixes: Sequence[str]) -> None:
        triggers = _rtree_triggers(table.name)
        for suffix in suffixes:
            name = f"{_rtree_name(table.name)}_{suffix}"
            self._conn.execute(f"CREATE TRIGGER {quote(name)} {triggers[name]}")

    def _delete_all(self, table: Table) -> int:
        conn = self._conn
        name = quote(table.name)
        count = int(conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
        if not table.is_spatial:
            conn.execute(f"DELETE FROM {name}")
            return count
        # Without the per-row trigger SQLite empties the table in one step; the R-tree is emptied alongside.
        self._drop_triggers(table, ["delete"])
        conn.execute(f"DELETE FROM {name}")
        self._rebuild_rtree(
            table,
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.int64),
            np.empty((0, 4), dtype=np.float32),
            keep_existing=False,
        )
        self._create_triggers(table, ["delete"])
        conn.execute(
            f"UPDATE gpkg_contents SET min_x = NULL, min_y = NULL, max_x = NULL, max_y = NULL, "
            f"last_change = {_NOW_SQL} WHERE table_name = ?",
            (table.name,),
        )
        return count

    def _delete_keys(self, batch: WriteBatch) -> np.ndarray:
        """Delete the rows whose primary key is in ``batch``; returns their fids."""
        conn, table = self._conn, batch.table
        keys = table.primary_key
        temp = quote("gridmap_upsert_keys")
        conn.execute(f"DROP TABLE IF EXISTS temp.{temp}")
        conn.execute(
            f"CREATE TEMP TABLE {temp} ({', '.join(f'k{i} {table.columns[k]}' for i, k in enumerate(keys))})"
        )
        conn.executemany(f"INSERT INTO temp.{temp} VALUES ({', '.join('?' * len(keys))})", batch.key_values())
        match = " AND ".join(f"t.{quote(k)} = k.k{i}" for i, k in enumerate(keys))
        matched = f"SELECT t.{quote(FID)} FROM {quote(table.name)} t JOIN temp.{temp} k ON {match}"
        fids = np.array([row[0] for row in conn.execute(matched)], dtype=np.int64)
        if len(fids):
            conn.execute(f"DELETE FROM {quote(table.name)} WHERE {quote(FID)} IN ({matched})")
        conn.execute(f"DROP TABLE temp.{temp}")
        return fids

    def _store_batch(self, batch: WriteBatch, mode: str) -> None:
        """Write ``batch`` with ``mode`` append / replace / upsert (inside a transaction)."""
        conn, table = self._conn, batch.table
        if mode == "replace":
            self._delete_all(table)
        if not len(batch):
            return
        names = [quote(c) for c in batch.columns]
        values = batch.column_values()
        (existing,) = conn.execute(f"SELECT count(*) FROM {quote(table.name)}").fetchone()
        # Rebuilding indexes and the R-tree in one pass (the R-tree at ~2 µs per entry) beats
        # row-by-row maintenance (~15 µs per R-tree insert) once the batch is a fair share of the table.
        bulk = self._state().bulk
        deferred = bulk is not None and bulk.table.name == table.name
        rebuild = not deferred and (existing == 0 or (len(batch) >= 1000 and 8 * len(batch) >= existing))
        secondary = _index_sql(table) if rebuild and len(batch) >= 1000 else []
        for index, _ in secondary:
            conn.execute(f"DROP INDEX IF EXISTS {quote(index)}")
        if not table.is_spatial:
            if mode == "upsert":
                self._delete_keys(batch)
            conn.executemany(
                f"INSERT INTO {quote(table.name)} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                zip(*values, strict=True),
            )
            for _, create in secondary:
                conn.execute(create)
            return
        rtree = _rtree_name(table.name)
        suspended = [] if deferred else ["insert", "delete"] if rebuild else ["insert"]
        self._drop_triggers(table, suspended)
        removed = self._delete_keys(batch) if mode == "upsert" else np.empty(0, dtype=np.int64)
        (start,) = conn.execute(
            f"SELECT max(coalesce((SELECT max({quote(FID)}) FROM {quote(table.name)}), 0), "
            "coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0)) + 1",
            (table.name,),
        ).fetchone()
        fids = np.arange(start, start + len(batch), dtype=np.int64)
        conn.executemany(
            f"INSERT INTO {quote(table.name)} ({quote(FID)}, {quote(GEOMETRY_COLUMN)}, {', '.join(names)}) "
            f"VALUES ({', '.join('?' * (len(names) + 2))})",
            zip(fids.tolist(), encode_gpkg(batch.geometry), *values, strict=True),
        )
        present = ~shapely.is_missing(batch.geometry)
        bounds = shapely.bounds(batch.geometry[present])  # minx, miny, maxx, maxy
        new_ids = fids[present]
        new_boxes = float32_outward(bounds[:, 0], bounds[:, 2], bounds[:, 1], bounds[:, 3])
        if deferred:  # the R-tree is filled once, when the bulk block ends
            bulk.ids.append(new_ids)
            bulk.boxes.append(new_boxes)
        elif rebuild:
            self._rebuild_rtree(table, removed, new_ids, new_boxes)
        else:
            conn.executemany(
                f"INSERT INTO {quote(rtree)} VALUES (?, ?, ?, ?, ?)",
                zip(
                    new_ids.tolist(),
                    *(new_boxes[:, i].astype(np.float64).tolist() for i in range(4)),
                    strict=True,
                ),
            )
        self._create_triggers(table, suspended)
        for _, create in secondary:
            conn.execute(create)
        self._extend_extent(table, bounds)

    def _rebuild_rtree(
        self,
        table: Table,
        removed: np.ndarray,
        new_ids: np.ndarray,
        new_boxes: np.ndarray,
        keep_existing: bool = True,
    ) -> None:
        """R-tree := its entries minus ``removed`` (all of them unless ``keep_existing``) plus the new ones."""
        conn = self._conn
        rtree = quote(_rtree_name(table.name))
        rows = (
            conn.execute(f"SELECT id, minx, maxx, miny, maxy FROM {rtree}").fetchall()
            if keep_existing
            else []
        )
        old = np.array(rows, dtype=np.float64).reshape(-1, 5)
        keep = ~np.isin(old[:, 0].astype(np.int64), removed)
        ids = np.concatenate([old[keep, 0].astype(np.int64), new_ids])
        boxes = np.concatenate([old[keep, 1:].astype(np.float32), new_boxes])
        conn.execute("SAVEPOINT gridmap_rtree")
        try:
            bulk_load(conn, _rtree_name(table.name), ids, boxes)
        except sqlite3.Error:
            # e.g. SQLite built with SQLITE_DBCONFIG_DEFENSIVE (shadow tables read-only): row by row
            log.info("R-tree bulk load refused on %s; inserting row by row", self.path)
            conn.execute("ROLLBACK TO gridmap_rtree")
            if keep_existing:
                conn.executemany(f"DELETE FROM {rtree} WHERE id = ?", [(int(i),) for i in removed])
            else:
                conn.execute(f"DELETE FROM {rtree}")
            conn.executemany(
                f"INSERT INTO {rtree} VALUES (?, ?, ?, ?, ?)",
                zip(
                    new_ids.tolist(),
                    *(new_boxes[:, i].astype(np.float64).tolist() for i in range(4)),
                    strict=True,
                ),
            )
        conn.execute("RELEASE gridmap_rtree")

    def _extend_extent(self, table: Table, bounds: np.ndarray) -> None:
        """Grow the layer extent in gpkg_contents (QGIS/GDAL read it for 'zoom to layer')."""
        if len(bounds):
            minx, miny = np.nanmin(bounds[:, 0]), np.nanmin(bounds[:, 1])
            maxx, maxy = np.nanmax(bounds[:, 2]), np.nanmax(bounds[:, 3])
            self._conn.execute(
                "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?1), ?1), min_y = min(coalesce(min_y, ?2), ?2), "
                "max_x = max(coalesce(max_x, ?3), ?3), max_y = max(coalesce(max_y, ?4), ?4), "
                f"last_change = {_NOW_SQL} WHERE table_name = ?5",
                (float(minx), float(miny), float(maxx), float(maxy), table.name),
            )
