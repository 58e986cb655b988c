"""The server backend: PostgreSQL + PostGIS through psycopg2.

Tables come from the same declarations as the GeoPackage (:mod:`gridmap.store.schema`):
TEXT → ``text COLLATE "C"`` (byte order, so sorting and ranges match SQLite exactly),
INTEGER → ``bigint``, REAL → ``double precision``, geometry → ``geometry(<type>, 4326)``
in column ``geom`` with a GiST index; the declared primary key and indexes as btree.

Bulk writes stream through ``COPY`` (geometries as hex EWKB with SRID 4326, which PostGIS
parses on input like ``ST_GeomFromEWKB``); upserts ``COPY`` into a temporary table and
``INSERT … ON CONFLICT DO UPDATE``.  Reads return geometries with ``ST_AsBinary``.

One connection per thread (autocommit, with explicit BEGIN/SAVEPOINT from
:meth:`PostgisStore.transaction`); ``schema`` isolates a store inside one database
(the tests use a throw-away schema).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg2
import psycopg2.errors

from gridmap.store.base import Store, StoreError, Where
from gridmap.store.frames import WriteBatch, prepare_write
from gridmap.store.geometry import WGS84_EPSG, ewkb_hex
from gridmap.store.schema import SCHEMA_VERSION, Table, all_tables
from gridmap.store.sql import (
    PostgresDialect,
    check_bbox,
    quote,
)

log = logging.getLogger(__name__)

GEOMETRY_COLUMN = "geom"
SQL_TYPES = {"TEXT": 'text COLLATE "C"', "INTEGER": "bigint", "REAL": "double precision"}
GEOMETRY_TYPES = {"POINT": "Point", "MULTIPOLYGON": "MultiPolygon", "GEOMETRY": "Geometry"}
COPY_CHUNK_ROWS = 200_000
REBUILD_INDEXES_ROWS = 20_000
_INIT_LOCK = "gridmap-store-init"


def mask_dsn(dsn: str) -> str:
    """The DSN with its password replaced by ``***`` (safe to print or log)."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return dsn
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", dsn)


def _pg_message(exc: psycopg2.Error) -> str:
    # First line only: the DETAIL line of a constraint error quotes row values.
    text = (getattr(exc, "pgerror", None) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(eq=False)
class _ThreadState:
    conn: Any
    depth: int = 0


def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(psycopg2.Error):
        conn.close()


def _copy_escape(series: pd.Series) -> list[str]:
    """Text values escaped for COPY's text format; NULL → ``\\N``."""
    joined = "".join(series.dropna().tolist())
    if any(c in joined for c in "\\\t\n\r"):
        series = (
            series.str.replace("\\", "\\\\", regex=False)
            .str.replace("\t", "\\t", regex=False)
            .str.replace("\n", "\\n", regex=False)
            .str.replace("\r", "\\r", regex=False)
        )
    return series.to_numpy(dtype=object, na_value="\\N").tolist()


def copy_text(batch: WriteBatch, rows: slice) -> str:
    """Rows of ``batch`` as COPY text (tab-separated, ``\\N`` for NULL), built column-wise."""
    columns = []
    for name, sql_type in batch.table.columns.items():
        series = batch.frame[name].iloc[rows]
        if sql_type == "TEXT":
            columns.append(_copy_escape(series))
        else:
            # float64 → str is the shortest round-trip repr; Int64 prints plain integers
            columns.append(series.astype("str").to_numpy(dtype=object, na_value="\\N").tolist())
    if batch.table.is_spatial:
        columns.append(["\\N" if h is None else h for h in ewkb_hex(batch.geometry[rows])])
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


class PostgisStore(Store):
    """The store in a PostgreSQL/PostGIS database.

    Parameters
    ----------
    dsn
        a libpq connection string or ``postgresql://`` URL.
    schema
        the PostgreSQL schema holding gridmap's tables (created on :meth:`init`).
    """

    backend = "postgis"

    def __init__(self, dsn: str, schema: str = "public", *, connect_timeout_s: int = 10) -> None:
        self.dsn = dsn
        self.schema = schema
        self.url = mask_dsn(dsn)
        self.connect_timeout_s = connect_timeout_s
        self._local = threading.local()
        # one connection per thread, closed when its thread ends (weak: see _state)
        self._states: weakref.WeakSet[_ThreadState] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False
        self._dialect = PostgresDialect()

    def __repr__(self) -> str:
        return f"PostgisStore({self.url!r}, schema={self.schema!r})"

    # --- connections and transactions ---------------------------------------------------
    def _state(self) -> _ThreadState:
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        state = getattr(self._local, "state", None)
        if state is None or state.conn.closed:
            try:
                conn = psycopg2.connect(self.dsn, connect_timeout=self.connect_timeout_s)
            except psycopg2.Error as exc:
                raise StoreError(f"cannot connect to PostgreSQL at {self.url}: {_pg_message(exc)}") from exc
            conn.autocommit = True
            state = _ThreadState(conn)
            # closed when its thread ends: a server's worker threads come and go, and a session
            # kept per finished thread would pile up on the database server
            weakref.finalize(state, _close_quietly, conn)
            self._local.state = state
            with self._lock:
                self._states.add(state)
        return state

    @property
    def _connections(self) -> list[Any]:
        """The open connections (one per live thread that used the store)."""
        with self._lock:
            return [state.conn for state in self._states]

    @contextmanager
    def _cursor(self, what: str) -> Iterator[Any]:
        state = self._state()
        try:
            with state.conn.cursor() as cursor:
                yield cursor
        except psycopg2.Error as exc:
            if isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)) and state.depth == 0:
                self._drop_connection(state)  # lost: this thread's next call connects afresh
            raise StoreError(f"PostGIS {what}: {_pg_message(exc)}") from exc

    def _drop_connection(self, state: _ThreadState) -> None:
        with contextlib.suppress(psycopg2.Error):
            state.conn.close()
        with self._lock:
            self._states.discard(state)
        self._local.state = None

    def _table_sql(self, table: str) -> str:
        return f"{quote(self.schema)}.{quote(table)}"

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all.

        A nested call joins the outer transaction (as a SAVEPOINT: if the inner block fails,
        only its own writes are undone and the outer block decides).  The transaction is the
        calling thread's.
        """
        state = self._state()
        depth = state.depth
        with self._cursor("transaction") as cursor:
            cursor.execute("BEGIN" if depth == 0 else f"SAVEPOINT gridmap_{depth}")
        state.depth += 1
        try:
            yield
        except BaseException:
            state.depth = depth
            try:
                with state.conn.cursor() as cursor:
                    if depth == 0:
                        cursor.execute("ROLLBACK")
                    else:
                        cursor.execute(f"ROLLBACK TO SAVEPOINT gridmap_{depth}")
                        cursor.execute(f"RELEASE SAVEPOINT gridmap_{depth}")
            except psycopg2.Error as exc:  # one line: the error that caused the rollback follows
                log.warning("rollback failed on %r: %s", self, _pg_message(exc))
                if depth == 0:
                    self._drop_connection(state)
            raise
        state.depth = depth
        with self._cursor("commit") as cursor:
            cursor.execute("COMMIT" if depth == 0 else f"RELEASE SAVEPOINT gridmap_{depth}")

    def close(self) -> None:
        with self._lock:
            states, self._states = list(self._states), weakref.WeakSet()
            self._closed = True
        for state in states:
            _close_quietly(state.conn)
        self._local = threading.local()

    # --- schema ---------------------------------------------------------------------------
    def _stored_version(self, cursor: Any) -> int | None:
        cursor.execute("SELECT to_regclass(%s)", (self._table_sql("meta"),))
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT value FROM {self._table_sql('meta')} WHERE key = 'schema_version'")
        row = cursor.fetchone()
        if row is None or row[0] is None:
            return None
        try:
            return int(row[0])
        except ValueError:
            raise StoreError(f"{self!r}: schema_version {row[0]!r} in meta is not a number") from None

    def schema_version(self) -> int | None:
        with self._cursor("schema_version") as cursor:
            return self._stored_version(cursor)

    def init(self) -> None:
        """Create or migrate: the PostGIS extension, the schema, every registered table
        (missing ones created, missing columns added, indexes); records ``schema_version``.

        Refuses (:class:`StoreError`, database untouched) a store written by a newer gridmap.
        """
        with self.transaction(), self._cursor("init") as cursor:
            # concurrent inits (parallel test sessions, several API workers) take turns
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_INIT_LOCK,))
            stored = self._stored_version(cursor)
            if stored is not None and stored > SCHEMA_VERSION:
                raise StoreError(
                    f"{self!r} has schema_version {stored}, newer than this gridmap's {SCHEMA_VERSION}; "
                    "upgrade gridmap or use another store"
                )
            try:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except psycopg2.Error as exc:
                raise StoreError(
                    f"PostGIS is not available in {self.url}: {_pg_message(exc)} "
                    "(install postgresql-15-postgis-3, e.g. `bash scripts/pg_setup.sh`)"
                ) from exc
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.schema)}")
            for table in all_tables().values():
                self._create_table(cursor, table)
            cursor.execute(
                f"INSERT INTO {self._table_sql('meta')} (key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (str(SCHEMA_VERSION),),
            )

    def _create_table(self, cursor: Any, table: Table) -> None:
        reserved = {GEOMETRY_COLUMN, "geometry"} & set(table.columns)
        if reserved:
            raise StoreError(f"table {table.name}: column names {sorted(reserved)} are reserved by the store")
        name = self._table_sql(table.name)
        parts = [f"{quote(c)} {SQL_TYPES[t]}" for c, t in table.columns.items()]
        if table.is_spatial:
            geometry_type = GEOMETRY_TYPES[(table.geometry_type or "GEOMETRY").upper()]
            parts.append(f"{quote(GEOMETRY_COLUMN)} geometry({geometry_type}, {WGS84_EPSG})")
        key = table.partition_key
        if table.primary_key and key and key not in table.primary_key:
            # a unique constraint of a partitioned table must hold the partition key; NULLS NOT
            # DISTINCT keeps rows without a county unique too.  Upserts replace by the declared key.
            columns = ", ".join(quote(k) for k in (*table.primary_key, key))
            parts.append(f"CONSTRAINT {quote(table.name + '_key')} UNIQUE NULLS NOT DISTINCT ({columns})")
        elif table.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(quote(k) for k in table.primary_key)})")
        partition = f" PARTITION BY LIST ({quote(key)})" if key else ""
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(parts)}){partition}")
        if key and self._is_partitioned(cursor, table.name):
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self._table_sql(table.name + '_default')} PARTITION OF {name} DEFAULT"
            )
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
            (name,),
        )
        existing = {row[0] for row in cursor.fetchall()}
        missing = [c for c in table.columns if c not in existing]
        lost_keys = [c for c in missing if c in table.primary_key]
        if lost_keys:
            raise StoreError(f"{self!r}: table {table.name} lacks key columns {lost_keys}; cannot migrate")
        for column in missing:
            cursor.execute(
                f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {quote(column)} {SQL_TYPES[table.columns[column]]}"
            )
        for _, create in self._secondary_indexes(table):
            cursor.execute(create)

    def _is_partitioned(self, cursor: Any, table: str) -> bool:
        """True when ``table`` exists as a partitioned table (a store made before partitioning keeps
        its plain tables: they work, without pruning)."""
        cursor.execute(
            "SELECT c.relkind = 'p' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            (self.schema, table),
        )
        row = cursor.fetchone()
        return bool(row and row[0])

    def partitions(self, table: str) -> dict[str, str]:
        """Partition name → its bound (``FOR VALUES IN (…)`` or ``DEFAULT``) of ``table``; empty when
        the table is not partitioned."""
        rows = self._fetch(
            f"partitions of {table}",
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = %s AND p.relname = %s "
            "ORDER BY c.relname",
            [self.schema, table],
        )
        return {name: bound for name, bound in rows}

    def ensure_partitions(self, groups: Mapping[str, Sequence[str]]) -> int:
        """One partition per county of every partitioned table, ``<table>_<county>``, holding the
        key values ``groups[county]``; rows already in the default partition move into it.
        Idempotent; returns partitions created."""
        created = 0
        tables = [t for t in all_tables().values() if t.partition_key]
        with self.transaction(), self._cursor("ensure partitions") as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_INIT_LOCK,))
            for table in tables:
                if not self._is_partitioned(cursor, table.name):
                    continue
                existing = set(self.partitions(table.name))
                parent, default = self._table_sql(table.name), self._table_sql(table.name + "_default")
                key = quote(table.partition_key or "")
                for county, values in sorted(groups.items()):
                    child = f"{table.name}_{county}"
                    if child in existing:
                        continue
                    values = sorted({str(v) for v in values} | {str(county)})
                    cursor.execute(f"SELECT 1 FROM {default} WHERE {key} = ANY(%s) LIMIT 1", (values,))
                    moving = cursor.fetchone() is not None
                    if moving:  # a default partition may not keep rows that a new partition would take
                        cursor.execute(f"ALTER TABLE {parent} DETACH PARTITION {default}")
                    cursor.execute(
                        f"CREATE TABLE {self._table_sql(child)} PARTITION OF {parent} FOR VALUES IN "
                        f"({', '.join(['%s'] * len(values))})",
                        values,
                    )
                    if moving:
                        cursor.execute(
                            f"WITH moved AS (DELETE FROM {default} WHERE {key} = ANY(%s) RETURNING *) "
                            f"INSERT INTO {parent} SELECT * FROM moved",
                            (values,),
                        )
                        cursor.execute(f"ALTER TABLE {parent} ATTACH PARTITION {default} DEFAULT")
                    created += 1
        return created

    def _secondary_indexes(self, table: Table) -> list[tuple[str, str]]:
        """(name, CREATE INDEX IF NOT EXISTS …) of the declared btree indexes and the GiST index."""
        name = self._table_sql(table.name)
        out = []
        for columns in table.indexes:
            index = f"{table.name}_{'_'.join(columns)}_idx"
            out.append(
                (
                    index,
                    f"CREATE INDEX IF NOT EXISTS {quote(index)} ON {name} ({', '.join(quote(c) for c in columns)})",
                )
            )
        if table.is_spatial:
            index = f"{table.name}_{GEOMETRY_COLUMN}_gist"
            out.append(
                (
                    index,
                    f"CREATE INDEX IF NOT EXISTS {quote(index)} ON {name} USING GIST ({quote(GEOMETRY_COLUMN)})",
                )
            )
        return out

    # --- the SQL this backend differs in (reads, counts and updates: :class:`Store`) -----
    def _geometry_sql(self) -> str:
        # hex text travels faster through psycopg2 than bytea (no per-value memoryview)
        return f"encode(ST_AsBinary({quote(GEOMETRY_COLUMN)}, 'NDR'), 'hex')"

    def _bbox_sql(self, table: Table, bbox: tuple[float, float, float, float]) -> tuple[str, list[Any]]:
        minx, miny, maxx, maxy = check_bbox(table, bbox)
        return (
            f"{quote(GEOMETRY_COLUMN)} && ST_MakeEnvelope(%s, %s, %s, %s, {WGS84_EPSG})",
            [minx, miny, maxx, maxy],
        )

    def _geometry_assignment(self, geometry: Any) -> tuple[str, Any]:
        return f"{quote(GEOMETRY_COLUMN)} = %s::geometry", ewkb_hex(geometry)[0]

    def _fetch(self, what: str, sql: str, params: list[Any]) -> list[tuple]:
        with self._cursor(what) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def _execute(self, what: str, sql: str, params: list[Any]) -> int:
        with self._cursor(what) as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount)

    # --- writes ---------------------------------------------------------------------------
    def _copy(self, cursor: Any, target: str, batch: WriteBatch) -> None:
        names = [quote(c) for c in batch.columns]
        if batch.table.is_spatial:
            names.append(quote(GEOMETRY_COLUMN))
        for start in range(0, len(batch), COPY_CHUNK_ROWS):
            text = copy_text(batch, slice(start, start + COPY_CHUNK_ROWS))
            cursor.copy_expert(f"COPY {target} ({', '.join(names)}) FROM STDIN", io.StringIO(text))

    def write(self, table: str, frame: pd.DataFrame, mode: Literal["append", "replace"] = "append") -> int:
        """Insert rows (``replace`` first empties the table), all or nothing.

        Frames are validated and converted by :func:`~gridmap.store.frames.prepare_write`:
        unknown columns are refused, missing ones are NULL, a GeoDataFrame in another CRS is
        reprojected to EPSG:4326, Polygons are promoted for MULTIPOLYGON tables.
        """
        if mode not in ("append", "replace"):
            raise StoreError(f"write mode must be 'append' or 'replace', got {mode!r}")
        batch = prepare_write(self.table(table), frame)
        with self.transaction(), self._cursor(f"write {table}") as cursor:
            if mode == "replace":
                # TRUNCATE is transactional; it holds an exclusive lock until commit (readers wait)
                cursor.execute(f"TRUNCATE {self._table_sql(table)}")
            if len(batch):
                # not for a partitioned table: its indexes span every partition (100+ for a province),
                # and re-creating them all for one county's rows costs more than maintaining them
                rebuild = (
                    not batch.table.partition_key
                    and len(batch) >= REBUILD_INDEXES_ROWS
                    and self._fewer_rows_than(cursor, table, len(batch))
                )
                if rebuild:
                    # Building indexes once after COPY is ~3x faster than maintaining them row by row.
                    for index, _ in self._secondary_indexes(batch.table):
                        cursor.execute(f"DROP INDEX IF EXISTS {quote(self.schema)}.{quote(index)}")
                self._copy(cursor, self._table_sql(table), batch)
                if rebuild:
                    for _, create in self._secondary_indexes(batch.table):
                        cursor.execute(create)
        return len(batch)

    def _fewer_rows_than(self, cursor: Any, table: str, rows: int) -> bool:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {self._table_sql(table)} LIMIT %s) AS probe", (rows,)
        )
        return int(cursor.fetchone()[0]) < rows

    def upsert(self, table: str, frame: pd.DataFrame) -> int:
        """Insert rows; a row whose primary key exists is replaced entirely (missing columns → NULL)."""
        decl = self.table(table)
        if not decl.primary_key:
            raise StoreError(f"{table}: upsert needs a primary key")
        batch = prepare_write(decl, frame)
        if not len(batch):
            return 0
        columns = [quote(c) for c in batch.columns] + ([quote(GEOMETRY_COLUMN)] if decl.is_spatial else [])
        updates = [c for c in columns if c not in {quote(k) for k in decl.primary_key}]
        on_conflict = (
            "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in updates) if updates else "DO NOTHING"
        )
        staging = quote("gridmap_upsert")
        with self.transaction(), self._cursor(f"upsert {table}") as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{staging}")
            cursor.execute(f"CREATE TEMP TABLE {staging} (LIKE {self._table_sql(table)} INCLUDING DEFAULTS)")
            self._copy(cursor, staging, batch)
            if decl.partition_key and decl.partition_key not in decl.primary_key:
                # the unique constraint holds the partition key, so ON CONFLICT cannot match on the
                # declared key alone: replace by it (a row may move to another county's partition)
                keys = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in decl.primary_key)
                cursor.execute(f"DELETE FROM {self._table_sql(table)} t USING {staging} s WHERE {keys}")
                cursor.execute(
                    f"INSERT INTO {self._table_sql(table)} ({', '.join(columns)}) "
                    f"SELECT {', '.join(columns)} FROM {staging}"
                )
            else:
                cursor.execute(
                    f"INSERT INTO {self._table_sql(table)} ({', '.join(columns)}) SELECT {', '.join(columns)} "
                    f"FROM {staging} ON CONFLICT ({', '.join(quote(k) for k in decl.primary_key)}) {on_conflict}"
                )
            cursor.execute(f"DROP TABLE {staging}")
        return len(batch)

    def delete(self, table: str, where: Where | None = None) -> int:
        decl = self.table(table)
        condition, params = self._conditions(decl, where, None)
        with self.transaction(), self._cursor(f"delete {table}") as cursor:
            cursor.execute(f"DELETE FROM {self._table_sql(decl.name)}{condition}", params)
            return int(cursor.rowcount)

    # --- vector tiles ------------------------------------------------------------
    def mvt_tile(
        self,
        table: str,
        z: int,
        x: int,
        y: int,
        *,
        layer: str,
        columns: Sequence[str],
        filter_column: str,
        filter_value: Any,
        id_column: str | None = None,
        extent: int = 4096,
        buffer: int = 64,
        small_counts: tuple[str, int, Sequence[str]] | None = None,
    ) -> bytes:
        """The tile as PostGIS encodes it (``ST_AsMVT``/``ST_AsMVTGeom``, PostGIS ≥ 3.0); empty bytes
        when nothing is in it.

        Features carry ``columns``; their id is ``id_column`` when it holds a numeric code (up to
        18 digits), else none.  ``small_counts = (count_column, k, nulled_columns)`` nulls
        ``nulled_columns`` where ``0 < count < k`` and adds a boolean ``suppressed`` column
        (``k`` = 0 suppresses nothing).
        """
        geom = quote(GEOMETRY_COLUMN)
        props = [f"t.{quote(c)}" for c in columns]
        outer = [quote(c) for c in columns]
        params: dict[str, Any] = {
            "z": z,
            "x": x,
            "y": y,
            "extent": extent,
            "buffer": buffer,
            "source": filter_value,
            "layer": layer,
        }
        if small_counts is not None:
            count_column, k, nulled = small_counts
            small = f"(t.{quote(count_column)} > 0 AND t.{quote(count_column)} < %(k)s)"
            params["k"] = int(k)
            props = [
                f"CASE WHEN {small} THEN NULL ELSE t.{quote(c)} END AS {quote(c)}"
                if c in nulled
                else f"t.{quote(c)}"
                for c in columns
            ]
            props.append(f"COALESCE({small}, false) AS suppressed")
            outer.append("suppressed")
        fid = (
            f"CASE WHEN t.{quote(id_column)} ~ '^[0-9]{{1,18}}$' THEN t.{quote(id_column)}::bigint END"
            if id_column
            else "NULL::bigint"
        )
        # a list of values (every city's newest hot-spot run of a method): any of them
        match = "= ANY(%(source)s)" if isinstance(filter_value, list | tuple) else "= %(source)s"
        if isinstance(filter_value, tuple):
            params["source"] = list(filter_value)
        sql = f"""
            WITH bounds AS (
                SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env
            ), features AS (
                SELECT ST_AsMVTGeom(ST_Transform(t.{geom}, 3857), bounds.env, %(extent)s, %(buffer)s, true)
                           AS mvtgeom,
                       {fid} AS fid, {", ".join(props)}
                FROM {self._table_sql(table)} t, bounds
                WHERE t.{quote(filter_column)} {match}
                  AND t.{geom} && ST_Transform(
                        ST_Expand(bounds.env, (ST_XMax(bounds.env) - ST_XMin(bounds.env)) * %(buffer)s / %(extent)s),
                        4326)
            )
            SELECT ST_AsMVT(f, %(layer)s, %(extent)s, 'mvtgeom', 'fid')
            FROM (SELECT mvtgeom, fid, {", ".join(outer)} FROM features WHERE mvtgeom IS NOT NULL) f
        """
        with self._cursor(f"tile {layer} {z}/{x}/{y}") as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        data = row[0] if row else None
        return bytes(data) if data else b""
