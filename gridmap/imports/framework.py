"""The contract every import kind keeps: one transaction, every row accounted for, a batch
report, per-row change records, re-import changes nothing, and ``undo``.

A kind (``gridmap.imports.<kind>``) reads its file and computes a :class:`Prepared`: per
file row the record it stands for (only the columns the file determines), its outcome
(``accepted`` / ``review`` / ``rejected``) and the reason.  :func:`commit` then, in one
transaction:

* matches each record to the store by the table's primary key — the kind derives that key;
  an external id is only ever matched against external ids (see :func:`stable_key`);
* inserts new records (with the kind's ``defaults`` for columns the file lacks);
* updates existing records **only in the columns the file carries** (``Prepared.carried``)
  and only where a value differs; an identical re-import writes no record;
* writes one ``import_batches`` row and one ``import_rows`` row per file row with the action
  (insert / update / unchanged / none), the changed columns and their previous values.

:func:`undo_batch` reverses a batch from those rows: inserted records are deleted, updated
ones get their previous values back.  It refuses when a later batch changed the same
records (undo that one first).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84
from gridmap.errors import InputError
from gridmap.imports.reading import read_input
from gridmap.store.schema import get_table

log = logging.getLogger("gridmap.imports")

ACCEPTED, REVIEW, REJECTED = "accepted", "review", "rejected"
ROW_STATES = (ACCEPTED, REVIEW, REJECTED)
INSERT, UPDATE, UNCHANGED, NONE = "insert", "update", "unchanged", "none"

Progress = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    return None


@dataclass
class BatchReport:
    """What an import did: rows per outcome and per action, reasons, the column mapping used."""

    batch_id: str
    kind: str
    filename: str
    sha256: str
    rows: int = 0
    accepted: int = 0
    review: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tag_column: str | None = None
    table: str = ""
    #: other tables the batch wrote (e.g. admin_unit_versions); undo removes their rows of this batch
    extra_tables: list[str] = field(default_factory=list)

    # the case intake's names, kept for its callers
    @property
    def new_cases(self) -> int:
        return self.inserted

    @property
    def updated_cases(self) -> int:
        return self.updated

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        lines = [
            f"batch {self.batch_id} ({self.kind}): {self.filename} ({self.rows:,} rows, sha256 {self.sha256[:12]}…) "
            f"in {self.seconds:.1f} s",
            f"accepted {self.accepted:,}, review {self.review:,}, rejected {self.rejected:,}; "
            f"{self.inserted:,} new, {self.updated:,} updated, {self.unchanged:,} unchanged",
        ]
        lines += [
            f"  {count:6,}  {reason}" for reason, count in sorted(self.reasons.items(), key=lambda kv: -kv[1])
        ]
        lines += [f"finding: {finding}" for finding in self.findings]
        lines += [f"note: {note}" for note in self.notes]
        lines.append(f"undo with: gridmap import undo {self.batch_id}")
        return "\n".join(lines)


@dataclass
class Prepared:
    """A kind's result for one file: per file row (position ``i``) the record and its outcome.

    ``records`` has one row per file row, in file order, with the table's key columns and
    every column in ``carried`` (plus ``geometry`` for spatial tables when carried).
    ``status``/``reason`` are per file row; rejected rows are not written.  ``defaults``
    fill columns of *new* records the file does not carry (never existing ones).  ``keep``
    names, per column, rows whose stored value must stay (e.g. a reviewer's placement).
    """

    records: pd.DataFrame
    status: np.ndarray
    reason: np.ndarray
    carried: list[str]
    defaults: dict[str, Any] = field(default_factory=dict)
    keep: dict[str, np.ndarray] = field(default_factory=dict)
    external_id: np.ndarray | None = None
    candidates: list[str | None] | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    reason_kind: Callable[[str], str] | None = None
    extra_writes: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    #: rows whose record is written (default: every row not rejected); a case whose place was
    #: rejected is still a case on record, so the case kind writes it
    write: np.ndarray | None = None
    #: for very large kinds (check-ins): new records get ``import BATCH`` in this column and an
    #: accepted new record needs no ``import_rows`` row of its own (undo deletes by the tag);
    #: every other outcome is still recorded row by row
    tag_column: str | None = None
    #: a chunk of a streamed file: the share of the file read so far (progress)
    fraction: float = 1.0


def batch_tag(batch_id: str) -> str:
    """What a tagged kind writes into its tag column on the records a batch added."""
    return f"import {batch_id}"


def new_batch_id(sha256: str) -> str:
    return f"{datetime.now():%Y%m%d%H%M%S}-{sha256[:8]}-{secrets.token_hex(2)}"


def now_iso() -> str:
    return datetime.now().isoformat(timespec="seconds")


def stable_key(prefix: str, values: pd.Series | np.ndarray | list) -> np.ndarray:
    """A record key derived from an external id (or any text): ``prefix`` + 16 hex digits.

    Derived keys live in their own namespace, so an external id that happens to equal
    another record's internal id can never reach that record.
    """
    return np.array(
        [f"{prefix}{hashlib.sha1(str(v).encode('utf-8')).hexdigest()[:16]}" for v in values], dtype=object
    )


# --- comparing values ------------------------------------------------------------------


def _normalised(values: pd.Series, sql_type: str) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(float)


def _differs(new: pd.Series, old: pd.Series, sql_type: str) -> np.ndarray:
    if sql_type in ("INTEGER", "REAL"):
        av = _normalised(new.reset_index(drop=True), sql_type).to_numpy(float)
        bv = _normalised(old.reset_index(drop=True), sql_type).to_numpy(float)
        both_nan = np.isnan(av) & np.isnan(bv)
        close = np.isclose(av, bv, rtol=0.0, atol=1e-9)
        return ~(both_nan | close)
    (a, a_missing), (b, b_missing) = _texts(new), _texts(old)
    return (a_missing != b_missing) | (~a_missing & ~b_missing & (a != b))


def _texts(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cells as text (numpy, compared in C) and a mask of the missing: None, NA, NaN or empty."""
    cells = values.reset_index(drop=True).astype(object).to_numpy()
    missing = np.asarray(pd.isna(cells), dtype=bool)
    present = ~missing
    if present.any():
        missing[present] = cells[present] == ""
    # pandas' astype(str) keeps Python strings in an object array; numpy's would make a fixed-width
    # array as wide as the longest cell, times every row (a 2,000-character note → 8 kB a row)
    text = pd.Series(np.where(missing, "", cells), dtype=object).astype(str).to_numpy(dtype=object)
    return text, missing


def _geometry_differs(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    new_missing, old_missing = shapely.is_missing(new), shapely.is_missing(old)
    out = new_missing != old_missing
    both = ~new_missing & ~old_missing
    if both.any():
        same = shapely.equals_exact(new[both], old[both], tolerance=1e-9)
        # a Polygon is stored as a one-part MultiPolygon: the same shape, not a change
        retry = np.flatnonzero(~same)
        if len(retry):
            a, b = new[both][retry], old[both][retry]
            same[retry] = (shapely.get_num_geometries(a) == shapely.get_num_geometries(b)) & np.array(
                [
                    shapely.equals_exact(
                        shapely.get_geometry(x, 0) if shapely.get_num_geometries(x) == 1 else x,
                        shapely.get_geometry(y, 0) if shapely.get_num_geometries(y) == 1 else y,
                        tolerance=1e-9,
                    )
                    for x, y in zip(a, b, strict=True)
                ],
                dtype=bool,
            )
        out[both] = ~same
    return out


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, shapely.Geometry):
        return {"wkb": shapely.to_wkb(value, hex=True)}
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _from_jsonable(value: Any) -> Any:
    if isinstance(value, dict) and "wkb" in value:
        return shapely.from_wkb(value["wkb"])
    return value


def record_keys(frame: pd.DataFrame, key_columns: tuple[str, ...]) -> np.ndarray:
    if len(key_columns) == 1:
        return frame[key_columns[0]].astype(str).to_numpy(dtype=object)
    return frame[list(key_columns)].astype(str).agg("|".join, axis=1).to_numpy(dtype=object)


def _read_by_keys(store, table: str, key_columns: tuple[str, ...], records: pd.DataFrame) -> pd.DataFrame:
    if not len(records):
        return pd.DataFrame()
    where = {column: sorted(set(records[column].astype(str))) for column in key_columns}
    existing = store.read(table, where=where)
    if len(existing) and len(key_columns) > 1:
        wanted = set(record_keys(records, key_columns))
        existing = existing[pd.Series(record_keys(existing, key_columns)).isin(wanted).to_numpy()]
    return existing


# --- commit ------------------------------------------------------------------------------


@dataclass
class _Planned:
    """One prepared table (a whole file, or one chunk of a streamed one) matched to the store."""

    update_frame: pd.DataFrame | None
    insert_frame: pd.DataFrame | None
    rows: pd.DataFrame
    counts: Counter
    reasons: Counter
    unrecorded: int


def _plan(
    store,
    table: str,
    prepared: Prepared,
    batch_id: str,
    progress: Progress,
    row_offset: int = 0,
    lookup: bool = True,
) -> _Planned:
    """Match ``prepared`` to the store: what to insert, what to update, one outcome per row."""
    decl = get_table(table)
    key_columns = decl.primary_key
    records = prepared.records.reset_index(drop=True)
    n = len(records)
    status = np.asarray(prepared.status, dtype=object)
    reason = np.asarray(prepared.reason, dtype=object)
    if len(status) != n or len(reason) != n:
        raise ValueError("status and reason must have one entry per record")
    if not set(status) <= set(ROW_STATES):
        raise ValueError(f"row states must be {ROW_STATES}, got {sorted(set(status) - set(ROW_STATES))}")
    write = status != REJECTED if prepared.write is None else np.asarray(prepared.write, dtype=bool)
    positions = np.flatnonzero(write)
    to_write = records.iloc[positions].reset_index(drop=True)
    keys = record_keys(to_write, key_columns) if len(to_write) else np.array([], dtype=object)
    if len(set(keys)) != len(keys):
        raise ValueError("a kind must reject repeated keys in one file before commit")

    progress(0.6, "comparing with the store")
    existing = _read_by_keys(store, table, key_columns, to_write) if lookup else pd.DataFrame()
    existing_keys = record_keys(existing, key_columns) if len(existing) else np.array([], dtype=object)
    existing_pos = pd.Series(np.arange(len(existing_keys)), index=existing_keys)
    old_index = existing_pos.reindex(keys).to_numpy()
    is_existing = ~np.isnan(old_index.astype(float)) if len(keys) else np.zeros(0, dtype=bool)

    carried = [c for c in prepared.carried if c in decl.columns or (c == "geometry" and decl.is_spatial)]
    carried = [c for c in carried if c not in key_columns]
    action = np.full(n, NONE, dtype=object)
    changed_text = np.full(n, None, dtype=object)
    before_text = np.full(n, None, dtype=object)

    update_frame = None
    if is_existing.any():
        upd = np.flatnonzero(is_existing)
        old = existing.iloc[old_index[upd].astype(int)].reset_index(drop=True)
        new = to_write.iloc[upd].reset_index(drop=True)
        diff = {}
        for column in carried:
            keep = prepared.keep.get(column)
            keep_here = (
                np.asarray(keep, dtype=bool)[positions[upd]]
                if keep is not None
                else np.zeros(len(upd), dtype=bool)
            )
            if column == "geometry":
                d = _geometry_differs(
                    np.asarray(
                        new.geometry.values if isinstance(new, gpd.GeoDataFrame) else new["geometry"],
                        dtype=object,
                    ),
                    np.asarray(old.geometry.values, dtype=object),
                )
            else:
                d = _differs(new[column], old[column], decl.columns[column])
            diff[column] = d & ~keep_here
        changed_any = np.zeros(len(upd), dtype=bool)
        for d in diff.values():
            changed_any |= d
        merged = old.copy()
        for column, d in diff.items():
            if d.any():
                values = (
                    merged[column].astype(object).to_numpy()
                    if column != "geometry"
                    else np.asarray(merged.geometry.values, dtype=object)
                )
                source = (
                    np.asarray(new.geometry.values, dtype=object)
                    if column == "geometry" and isinstance(new, gpd.GeoDataFrame)
                    else new[column].astype(object).to_numpy()
                )
                values = values.copy()
                values[d] = source[d]
                if column == "geometry":
                    merged = merged.set_geometry(gpd.GeoSeries(values, crs=WGS84).values)
                else:
                    merged[column] = values
        for j in np.flatnonzero(changed_any):
            columns = [c for c, d in diff.items() if d[j]]
            row = positions[upd[j]]
            changed_text[row] = ",".join(columns)
            before_text[row] = json.dumps(
                {c: _jsonable(old.geometry.values[j] if c == "geometry" else old.at[j, c]) for c in columns},
                ensure_ascii=False,
                default=str,
            )
        action[positions[upd[changed_any]]] = UPDATE
        action[positions[upd[~changed_any]]] = UNCHANGED
        if changed_any.any():
            update_frame = merged.iloc[np.flatnonzero(changed_any)].reset_index(drop=True)

    insert_frame = None
    if (~is_existing).any():
        ins = np.flatnonzero(~is_existing)
        insert_frame = to_write.iloc[ins].reset_index(drop=True).copy()
        for column, value in prepared.defaults.items():
            if column not in insert_frame:
                insert_frame[column] = value
            else:
                missing = insert_frame[column].isna() | insert_frame[column].astype(str).eq("")
                if missing.any():
                    insert_frame[column] = insert_frame[column].astype(object).where(~missing, value)
        action[positions[ins]] = INSERT
        changed_text[positions[ins]] = "*"
        if prepared.tag_column:
            insert_frame[prepared.tag_column] = batch_tag(batch_id)

    reason_kind = prepared.reason_kind or (lambda r: r)
    reasons = Counter(reason_kind(str(r)) for r, s in zip(reason, status, strict=True) if s != ACCEPTED and r)
    counts = Counter(status.tolist()) + Counter(action.tolist())
    all_keys = np.full(n, None, dtype=object)
    all_keys[positions] = keys
    external = (
        np.asarray(prepared.external_id, dtype=object)
        if prepared.external_id is not None
        else np.full(n, None, dtype=object)
    )
    external = np.array(
        [
            None if v is None or (isinstance(v, float) and np.isnan(v)) or v == "" else str(v)
            for v in external
        ],
        dtype=object,
    )
    recorded = (
        np.ones(n, dtype=bool) if not prepared.tag_column else ~((action == INSERT) & (status == ACCEPTED))
    )
    rows = pd.DataFrame(
        {
            "batch_id": batch_id,
            # as a spreadsheet shows it: row 1 is the header
            "row_number": np.arange(n, dtype=np.int64) + 2 + row_offset,
            "external_id": external,
            "case_id": all_keys if table == "cases" else None,
            "status": status,
            "reason": [str(r) if r else None for r in reason],
            "candidates": prepared.candidates if prepared.candidates is not None else None,
            "record_key": all_keys,
            "action": action,
            "changed": changed_text,
            "before": before_text,
        }
    )
    if not recorded.all():
        rows = rows[recorded].reset_index(drop=True)
    return _Planned(update_frame, insert_frame, rows, counts, reasons, int((~recorded).sum()))


def _write_planned(store, table: str, prepared: Prepared, planned: _Planned) -> None:
    """The planned writes (inside the caller's transaction)."""
    if planned.update_frame is not None and len(planned.update_frame):
        store.upsert(table, planned.update_frame)
    if planned.insert_frame is not None and len(planned.insert_frame):
        store.write(table, planned.insert_frame)
    for extra_table, frame in prepared.extra_writes:
        store.upsert(extra_table, frame)
    if len(planned.rows):
        store.write("import_rows", planned.rows)


def _report(
    kind: str,
    table: str,
    batch_id: str,
    filename: str,
    sha256: str,
    rows: int,
    counts: Counter,
    reasons: Counter,
    prepared: Prepared,
    unrecorded: int,
) -> BatchReport:
    report = BatchReport(
        batch_id=batch_id,
        kind=kind,
        filename=filename,
        sha256=sha256,
        rows=rows,
        accepted=int(counts[ACCEPTED]),
        review=int(counts[REVIEW]),
        rejected=int(counts[REJECTED]),
        inserted=int(counts[INSERT]),
        updated=int(counts[UPDATE]),
        unchanged=int(counts[UNCHANGED]),
        reasons=dict(reasons.most_common()),
        mapping=dict(prepared.mapping),
        ignored_columns=list(prepared.ignored_columns),
        findings=list(prepared.findings),
        notes=list(prepared.notes),
        tag_column=prepared.tag_column,
        table=table,
        extra_tables=list(dict.fromkeys(name for name, _ in prepared.extra_writes)),
    )
    if prepared.tag_column:
        report.notes.append(
            f"{unrecorded:,} accepted new records carry {prepared.tag_column} = "
            f"'{batch_tag(batch_id)}' instead of a row each in import_rows"
        )
    return report


def _record_batch(store, report: BatchReport, actor: str) -> None:
    store.write(
        "import_batches",
        pd.DataFrame(
            [
                {
                    # microseconds: batches of the same second must still be ordered (undo checks later batches)
                    "batch_id": report.batch_id,
                    "filename": report.filename,
                    "sha256": report.sha256,
                    "created_at": datetime.now().isoformat(timespec="microseconds"),
                    "actor": actor,
                    "rows": report.rows,
                    "accepted": report.accepted,
                    "review": report.review,
                    "rejected": report.rejected,
                    "report": json.dumps(report.to_dict(), ensure_ascii=False),
                    "kind": report.kind,
                }
            ]
        ),
    )


def _log(report: BatchReport) -> None:
    log.info(
        "import %s (%s): %d rows, %d accepted, %d review, %d rejected; %d new, %d updated in %.1f s",
        report.batch_id,
        report.kind,
        report.rows,
        report.accepted,
        report.review,
        report.rejected,
        report.inserted,
        report.updated,
        report.seconds,
    )


def commit(
    store,
    kind: str,
    table: str,
    prepared: Prepared,
    *,
    filename: str,
    sha256: str,
    actor: str = "system",
    progress: Progress | None = None,
    started: float | None = None,
    batch_id: str | None = None,
) -> BatchReport:
    """Write ``prepared`` into ``table`` and record the batch (see the module doc)."""
    progress = progress or _no_progress
    t0 = time.perf_counter() if started is None else started
    batch_id = batch_id or new_batch_id(sha256)
    planned = _plan(store, table, prepared, batch_id, progress)
    report = _report(
        kind,
        table,
        batch_id,
        filename,
        sha256,
        len(prepared.records),
        planned.counts,
        planned.reasons,
        prepared,
        planned.unrecorded,
    )
    progress(0.8, f"writing {report.inserted:,} new and {report.updated:,} changed records")
    with store.transaction():
        _write_planned(store, table, prepared, planned)
        report.seconds = time.perf_counter() - t0
        _record_batch(store, report, actor)
    report.seconds = time.perf_counter() - t0
    progress(1.0, "done")
    _log(report)
    return report


def commit_stream(
    store,
    kind: str,
    table: str,
    chunks: Iterator[Prepared],
    *,
    filename: str,
    sha256: str,
    actor: str = "system",
    progress: Progress | None = None,
    started: float | None = None,
    notes: list[str] | None = None,
) -> BatchReport:
    """Like :func:`commit`, for a file prepared chunk by chunk (``chunks`` yields one
    :class:`Prepared` per chunk, rows in file order): every chunk is matched and written as it
    comes, all of them in one transaction with one batch record, so memory holds one chunk.

    The kind must drop keys repeated across chunks itself (a later chunk would otherwise
    find the earlier chunk's record in the store and call the row ``unchanged``).
    """
    progress = progress or _no_progress
    t0 = time.perf_counter() if started is None else started
    batch_id = new_batch_id(sha256)
    counts: Counter = Counter()
    reasons: Counter = Counter()
    rows = unrecorded = 0
    first: Prepared | None = None
    findings: list[str] = []
    with store.transaction(), store.bulk_writes(table):
        # into an empty table, no record can exist but those of earlier chunks, and the kind
        # rejects their repeats: the lookup of each chunk's keys is skipped
        lookup = store.count(table) > 0
        for prepared in chunks:
            planned = _plan(store, table, prepared, batch_id, _no_progress, row_offset=rows, lookup=lookup)
            _write_planned(store, table, prepared, planned)
            rows += len(prepared.records)
            counts += planned.counts
            reasons += planned.reasons
            unrecorded += planned.unrecorded
            findings += [f for f in prepared.findings if f not in findings]
            first = first or prepared
            progress(min(0.95, 0.1 + 0.85 * prepared.fraction), f"{rows:,} rows written")
        if first is None or not rows:
            raise InputError(f"{filename}: no data rows")
        report = _report(kind, table, batch_id, filename, sha256, rows, counts, reasons, first, unrecorded)
        report.notes = list(notes or []) + report.notes
        report.findings = findings
        report.seconds = time.perf_counter() - t0
        _record_batch(store, report, actor)
    report.seconds = time.perf_counter() - t0
    progress(1.0, "done")
    _log(report)
    return report


# --- undo ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UndoReport:
    batch_id: str
    kind: str
    deleted: int
    restored: int
    #: rows the batch wrote into other tables (e.g. boundary versions), deleted
    extra_deleted: int = 0

    def summary(self) -> str:
        extra = f", {self.extra_deleted:,} rows it kept on the side deleted" if self.extra_deleted else ""
        return (
            f"batch {self.batch_id} ({self.kind}) undone: {self.deleted:,} records it added deleted, "
            f"{self.restored:,} records it changed restored{extra}"
        )


def undo_batch(store, batch_id: str, actor: str = "system") -> UndoReport:
    """Reverse batch ``batch_id`` (see the module doc), in one transaction."""
    batch = store.read("import_batches", where={"batch_id": batch_id})
    if not len(batch):
        raise InputError(f"no import batch {batch_id!r} (gridmap import list shows them)")
    row = batch.iloc[0]
    if isinstance(row.get("undone_at"), str) and row["undone_at"]:
        raise InputError(f"batch {batch_id} was already undone at {row['undone_at']}")
    kind = row.get("kind") if isinstance(row.get("kind"), str) and row.get("kind") else "cases"
    document = json.loads(row["report"]) if isinstance(row.get("report"), str) and row["report"] else {}
    table = document.get("table") or ("cases" if kind == "cases" else "")
    if not table:
        raise InputError(f"batch {batch_id} does not say which table it wrote; it cannot be undone")
    decl = get_table(table)
    rows = store.read("import_rows", where={"batch_id": batch_id, "action": [INSERT, UPDATE]})
    rows = pd.DataFrame(rows)
    keys = rows["record_key"].astype(str).tolist() if len(rows) else []
    tag_column = document.get("tag_column")
    if tag_column and len(decl.primary_key) == 1:  # the records it added without a row each
        tagged = store.read(table, where={tag_column: batch_tag(batch_id)}, columns=list(decl.primary_key))
        keys += tagged[decl.primary_key[0]].astype(str).tolist()
    if keys:
        later = store.read(
            "import_batches", where={"kind": kind}, columns=["batch_id", "created_at", "undone_at"]
        )
        later = later[
            (later["created_at"].astype(str) > str(row["created_at"]))
            & (later["batch_id"] != batch_id)
            & later["undone_at"].isna()
        ]
        if len(later):
            touched = store.read(
                "import_rows",
                where={
                    "batch_id": later["batch_id"].tolist(),
                    "record_key": keys,
                    "action": [INSERT, UPDATE],
                },
                columns=["batch_id"],
            )
            if len(touched):
                raise InputError(
                    f"batch {touched['batch_id'].iloc[0]} changed the same records later; "
                    "undo that batch first"
                )
    inserted = rows[rows["action"] == INSERT] if len(rows) else rows
    updated = rows[rows["action"] == UPDATE] if len(rows) else rows
    with store.transaction():
        deleted = 0
        if tag_column:
            deleted += store.delete(table, where={tag_column: batch_tag(batch_id)})
        if len(inserted):
            if len(decl.primary_key) == 1:
                deleted += store.delete(
                    table, where={decl.primary_key[0]: inserted["record_key"].astype(str).tolist()}
                )
            else:
                for key in inserted["record_key"].astype(str):
                    deleted += store.delete(
                        table, where=dict(zip(decl.primary_key, key.split("|"), strict=True))
                    )
        restored = 0
        if len(updated):
            current = _read_by_keys(
                store, table, decl.primary_key, _keys_frame(updated["record_key"], decl.primary_key)
            )
            current_keys = record_keys(current, decl.primary_key)
            position = pd.Series(np.arange(len(current)), index=current_keys)
            current = current.copy()
            for key, before in zip(updated["record_key"].astype(str), updated["before"], strict=True):
                if key not in position.index:
                    continue
                j = int(position[key])
                for column, value in json.loads(before or "{}").items():
                    value = _from_jsonable(value)
                    if column == "geometry":
                        geoms = np.asarray(current.geometry.values, dtype=object).copy()
                        geoms[j] = value
                        current = current.set_geometry(gpd.GeoSeries(geoms, crs=WGS84).values)
                    else:
                        if current[column].dtype != object:
                            current[column] = current[column].astype(object)
                        current.iat[j, current.columns.get_loc(column)] = value
            if len(current):
                store.upsert(table, current)
                restored = len(current)
        # the side rows of the batch (a units import keeps replaced boundaries as versions):
        # batches before the report named them are units batches with versions
        extra_tables = document.get("extra_tables") or (["admin_unit_versions"] if kind == "units" else [])
        extra_deleted = 0
        for extra_table in extra_tables:
            if "batch_id" in get_table(extra_table).columns:
                extra_deleted += store.delete(extra_table, where={"batch_id": batch_id})
        store.update("import_batches", {"undone_at": f"{now_iso()} by {actor}"}, where={"batch_id": batch_id})
    log.info("undo %s (%s): %d deleted, %d restored", batch_id, kind, deleted, restored)
    return UndoReport(
        batch_id=batch_id,
        kind=kind,
        deleted=int(deleted),
        restored=int(restored),
        extra_deleted=int(extra_deleted),
    )


def _keys_frame(keys: pd.Series, key_columns: tuple[str, ...]) -> pd.DataFrame:
    parts = [str(k).split("|") if len(key_columns) > 1 else [str(k)] for k in keys]
    return pd.DataFrame(parts, columns=list(key_columns))


def resolve_columns(
    columns: list[str],
    aliases: Mapping[str, tuple[str, ...]],
    mapping: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """File column → field: ``mapping`` first (``field=column`` or ``column=field``), then
    :func:`alias_key`-equal aliases; each field taken once."""
    import re

    def alias_key(name: str) -> str:
        return re.sub(r"[\s_\-（）()]", "", str(name)).lower()

    fields = set(aliases)
    out: dict[str, str] = {}
    for a, b in (mapping or {}).items():
        if a in fields and b in columns:
            out[b] = a
        elif b in fields and a in columns:
            out[a] = b
        else:
            raise InputError(
                f"--map {a}={b}: one side must be a file column ({', '.join(columns)}), "
                f"the other a field ({', '.join(sorted(fields))})"
            )
    taken = set(out.values())
    lookup = {alias_key(alias): f for f, names in aliases.items() for alias in (f, *names)}
    for column in columns:
        if column in out:
            continue
        field_name = lookup.get(alias_key(column))
        if field_name is None and " " in str(column).strip():
            field_name = lookup.get(
                alias_key(str(column).split()[-1])
            )  # "联系方式 手机": a merged group's sub-column
        if field_name and field_name not in taken:
            out[column] = field_name
            taken.add(field_name)
    return out


def import_tabular(
    store,
    kind: str,
    table_name: str,
    prepare_rows: Callable[[Any], Prepared],
    source,
    filename: str | None = None,
    *,
    actor: str = "system",
    sheet: str | None = None,
    encoding: str | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
) -> BatchReport:
    """Read a CSV/XLSX/JSON upload, prepare its rows with ``prepare_rows(table)``, commit one batch.

    The one path every tabular kind takes (read → prepare → commit), so that reading limits,
    the empty-file refusal, progress and the batch record are the same for all of them.
    ``prepare_rows`` gets the :class:`gridmap.imports.reading.InputTable` and returns a
    :class:`Prepared`; the table's reading notes come first in the report.
    """

    started = time.perf_counter()
    table = read_input(source, filename, sheet=sheet, encoding=encoding, max_bytes=max_bytes)
    if not len(table.frame):
        raise InputError(f"{table.name}: no data rows")
    if progress:
        progress(0.2, f"read {len(table.frame):,} rows")
    prepared = prepare_rows(table)
    prepared.notes = table.notes + prepared.notes
    return commit(
        store,
        kind,
        table_name,
        prepared,
        filename=table.name,
        sha256=table.sha256,
        actor=actor,
        progress=progress,
        started=started,
    )
