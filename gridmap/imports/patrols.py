"""Kind ``patrols``: patrol check-ins (巡查打卡) → ``patrols``, duplicates dropped.

A check-in is identified by worker, time and place: its ``patrol_id`` is derived from them,
so a check-in exported twice (in one file or in two) is stored once — the repeat in the
file is rejected as a duplicate, the one already stored is ``unchanged``.

The file is streamed (:mod:`gridmap.imports.streaming`, chunks of 100,000 rows): each chunk
is checked and written as it is read, all chunks in one transaction with one batch report,
so memory holds one chunk plus 16 bytes per check-in for the duplicate check across chunks.
Every step is vectorised: a million rows import in well under a minute (``bench/intake.py``).

Checks: the time must be readable (else rejected); the worker should be on the roster
(else review: the check-in is kept, the audit lists it); the point must lie in the area
(else review, with the swapped position suggested).  Coordinates: the 坐标系 column or
``--crs`` (GCJ-02 from a phone app is normal); without either the file is refused with
the candidate systems.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84
from gridmap.domain import post_counties
from gridmap.imports import streaming
from gridmap.imports.common import (
    COORDINATE_ALIASES,
    Rows,
    declared_points,
    drop_repeats,
    map_columns,
    parse_times,
)
from gridmap.imports.framework import (
    REJECTED,
    REVIEW,
    BatchReport,
    Prepared,
    Progress,
    commit_stream,
)

KIND = "patrols"
TABLE = "patrols"
ALIASES: dict[str, tuple[str, ...]] = {
    "worker_id": ("worker_id", "worker", "工号", "网格员编号", "人员编号", "网格员工号", "账号"),
    "ts": ("ts", "time", "timestamp", "打卡时间", "巡查时间", "时间", "签到时间"),
    **COORDINATE_ALIASES,
}


@dataclass
class StreamState:
    """What the chunks of one file share: the roster, the area, the check-ins seen so far.

    ``seen`` holds the 64-bit keys of earlier chunks' rows (sorted) and ``seen_row`` the file
    row of each (the key *is* the check-in id: ``PT-`` + 16 hex digits), so that a repeat in a
    later chunk is rejected as a duplicate like a repeat in the same chunk.
    """

    roster: pd.Series  # worker_id → county of the worker's post (domain.post_counties)
    area: object
    seen: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    seen_row: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @classmethod
    def of(cls, store) -> StreamState:
        from gridmap.geocode.batch import city_outline

        workers = store.read("workers", columns=["worker_id", "village_code", "township_code"])
        return cls(
            post_counties(workers),
            city_outline(store.read("admin_units", where={"level": ["city", "county"]})),
        )

    def drop_seen(self, keys: np.ndarray, rows: Rows, offset: int, what: str) -> None:
        """Reject rows whose key (uint64) an earlier chunk had; then remember this chunk's first occurrences."""
        if len(self.seen):
            at = np.minimum(np.searchsorted(self.seen, keys), len(self.seen) - 1)
            hit = (self.seen[at] == keys) & rows.live
            if hit.any():
                reasons = np.full(len(keys), "", dtype=object)
                reasons[hit] = [
                    f"duplicate {what}: the same as row {int(self.seen_row[at[i]]) + 2}"
                    for i in np.flatnonzero(hit)
                ]
                rows.mark(hit, REJECTED, reasons)
        unique, first = np.unique(keys, return_index=True)
        fresh = np.ones(len(unique), dtype=bool)
        if len(self.seen):
            at = np.minimum(np.searchsorted(self.seen, unique), len(self.seen) - 1)
            fresh = self.seen[at] != unique
        merged = np.concatenate([self.seen, unique[fresh]])
        merged_row = np.concatenate([self.seen_row, first[fresh].astype(np.int64) + offset])
        order = np.argsort(merged, kind="stable")
        self.seen, self.seen_row = merged[order], merged_row[order]


def prepare(
    store,
    table,
    mapping: Mapping[str, str] | None = None,
    crs: str | None = None,
    state: StreamState | None = None,
) -> Prepared:
    state = state or StreamState.of(store)
    fields, column_map, rows = map_columns(
        table, ALIASES, mapping, ("worker_id", "ts", "raw_lon", "raw_lat"), KIND
    )
    n = len(fields)
    rows.mark(fields["worker_id"].eq("").to_numpy(), REJECTED, "no worker id")
    ts, bad_ts = parse_times(fields["ts"])
    rows.mark(bad_ts | pd.isna(ts), REJECTED, "unreadable or missing check-in time")
    lon, lat, x, y = declared_points(store, fields, crs, table.name, rows, area=state.area)
    rows.mark(~(np.isfinite(x) & np.isfinite(y)), REJECTED, "no coordinates")
    # worker|time|x|y, floats as Python writes them (the ids of earlier imports stay the same)
    key_text = [
        f"{w}|{'' if t is None else t}|{a!r}|{b!r}"
        for w, t, a, b in zip(
            fields["worker_id"].tolist(),
            ts.tolist(),
            np.round(x, 7).tolist(),
            np.round(y, 7).tolist(),
            strict=True,
        )
    ]
    # stable_key("PT-", key_text), with the 64 bits of each key kept as a number too
    digests = [hashlib.sha1(text.encode("utf-8")).digest()[:8] for text in key_text]
    ids = np.array([f"PT-{d.hex()}" for d in digests], dtype=object)
    keys = np.frombuffer(b"".join(digests), dtype=">u8").astype(np.uint64)
    what = "check-in (same worker, time and point)"
    drop_repeats(ids, rows, what, offset=table.offset)
    state.drop_seen(keys, rows, table.offset, what)
    unknown = ~fields["worker_id"].isin(state.roster.index).to_numpy()
    rows.mark(unknown & rows.live, REVIEW, "worker not on the roster (import workers first)")
    crs_cells = fields["raw_crs"] if "raw_crs" in fields else pd.Series([""] * n)
    raw_crs = crs_cells.where(crs_cells.ne(""), crs or "").to_numpy(dtype=object)
    geometry = np.full(n, None, dtype=object)
    ok = np.isfinite(lon)
    geometry[ok] = shapely.points(lon[ok], lat[ok])
    records = gpd.GeoDataFrame(
        {
            "patrol_id": ids,
            "worker_id": fields["worker_id"].to_numpy(dtype=object),
            "ts": ts,
            "raw_lon": x,
            "raw_lat": y,
            "raw_crs": raw_crs,
            "source": f"import {table.name}",
            "county_code": fields["worker_id"].map(state.roster).to_numpy(dtype=object),
        },
        geometry=gpd.GeoSeries(geometry, crs=WGS84).values,
        crs=WGS84,
    )
    keep_source = np.ones(n, dtype=bool)  # an existing check-in keeps the file it first came from
    return Prepared(
        records=records,
        status=rows.status,
        reason=rows.reason,
        carried=["worker_id", "ts", "raw_lon", "raw_lat", "raw_crs", "geometry", "source"],
        keep={"source": keep_source},
        mapping=column_map,
        tag_column="source",
        ignored_columns=[c for c in table.frame.columns if c not in column_map],
        fraction=table.fraction,
        reason_kind=_reason_kind,
    )


def _reason_kind(reason: str) -> str:
    """The report counts duplicates together (each row's own reason names its first row)."""
    return reason.split(": the same as row", 1)[0]


def import_file(
    store,
    source: str | Path | bytes,
    filename: str | None = None,
    mapping: Mapping[str, str] | None = None,
    *,
    actor: str = "system",
    crs: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
    **_: object,
) -> BatchReport:
    """Import a check-in file (CSV/XLSX streamed, JSON whole); returns the batch report."""
    started = time.perf_counter()
    stream = streaming.stream_input(
        source, filename, sheet=sheet, encoding=encoding, max_bytes=max_bytes, chunk_rows=streaming.CHUNK_ROWS
    )
    state = StreamState.of(store)

    def chunks() -> Iterator[Prepared]:
        for table in stream.chunks:
            if len(table.frame):
                yield prepare(store, table, mapping, crs, state)

    return commit_stream(
        store,
        KIND,
        TABLE,
        chunks(),
        filename=stream.name,
        sha256=stream.sha256,
        actor=actor,
        progress=progress,
        started=started,
        notes=stream.notes,
    )
