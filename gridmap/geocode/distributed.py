"""Geocode a large table as dask.distributed tasks (:mod:`gridmap.distributed`).

The rows are cut into chunks of ``chunk_rows``; each task geocodes one chunk with
:func:`gridmap.geocode.batch.geocode_rows`.  Each worker builds its
:class:`~gridmap.geocode.batch.GeocodeContext` (address matcher, grid and village indexes) from
the store once and keeps it for the next chunks, so a chunk ships only its rows.

Rows are decided one by one except for a single file-wide judgement (is the file's "WGS-84"
really GCJ-02?, :func:`gridmap.geocode.batch.gcj02_suspects`).  Each chunk reports its evidence;
the whole file's verdict is formed from the sum, and the few chunks whose own verdict differed are
geocoded again with it.  The result is therefore the serial ``geocode_rows`` over the whole
table, row for row (tests/geocode/test_geocode_distributed.py).

Chunks are rows, not counties: a raw row's county is known only once its address is matched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from gridmap.geocode.batch import GeocodeContext, gcj02_file_verdict, geocode_rows

_CONTEXTS: dict[tuple, GeocodeContext] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Chunk:
    """Rows ``start`` … of the table: address text, declared lon/lat and CRS (lists)."""

    start: int
    address_text: list
    raw_lon: list | None
    raw_lat: list | None
    raw_crs: list | None


def worker_context(store_url: str | None, plan_id: str | None) -> GeocodeContext:
    """The geocoding context of the store at ``store_url`` (this process keeps one per store,
    plan and size of addresses and grids, so a changed store gets a fresh one)."""
    from gridmap.store import open_store

    with open_store(store_url) as store:
        plan = plan_id or store.active_plan_id()
        key = (
            store.url,
            plan,
            store.count("addresses"),
            store.count("grids", {"plan_id": plan}) if plan else 0,
        )
        with _LOCK:
            ctx = _CONTEXTS.get(key)
        if ctx is None:
            ctx = GeocodeContext.from_store(store, plan_id=plan)
            with _LOCK:
                _CONTEXTS.clear()  # one store at a time per worker: contexts are large
                _CONTEXTS[key] = ctx
    return ctx


def geocode_chunk(
    chunk: Chunk, store_url: str | None, plan_id: str | None, gcj02_file: bool | None = None
) -> tuple[pd.DataFrame, dict]:
    """One chunk's rows (index from ``chunk.start``) and its GCJ-02 evidence."""
    ctx = worker_context(store_url, plan_id)
    evidence = {"suspect": 0, "confirmed": 0}
    out = geocode_rows(
        ctx, chunk.address_text, chunk.raw_lon, chunk.raw_lat, chunk.raw_crs, gcj02_file, evidence
    )
    out.index = pd.RangeIndex(chunk.start, chunk.start + len(out))
    return out, evidence


def _column(values, start: int, stop: int) -> list | None:
    return None if values is None else list(values[start:stop])


def geocode_table(
    address_text,
    raw_lon=None,
    raw_lat=None,
    raw_crs=None,
    store_url: str | None = None,
    plan_id: str | None = None,
    chunk_rows: int = 20_000,
    client=None,
    workers: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """:func:`geocode_rows` over the whole table, as dask tasks of ``chunk_rows`` rows each
    (on ``client``, else a LocalCluster of ``workers``); the store at ``store_url`` (a path or URL
    every worker can open; None = the settings' store) gives addresses, admin units and grids."""
    from gridmap.distributed import dask_client, run_tasks

    texts = list(pd.Series(address_text, dtype=object))
    n = len(texts)
    columns = [None if c is None else list(c) for c in (raw_lon, raw_lat, raw_crs)]
    chunks = [
        Chunk(
            start,
            texts[start : start + chunk_rows],
            *(_column(c, start, start + chunk_rows) for c in columns),
        )
        for start in range(0, n, max(1, chunk_rows))
    ]
    keys = [f"rows{c.start}" for c in chunks]

    def run(cl) -> pd.DataFrame:
        parts = run_tasks(geocode_chunk, chunks, keys, cl, progress, store_url=store_url, plan_id=plan_id)
        suspect = sum(e["suspect"] for _, e in parts)
        confirmed = sum(e["confirmed"] for _, e in parts)
        verdict = gcj02_file_verdict(suspect, confirmed)
        # the file-wide GCJ-02 verdict is the whole table's: redo the chunks that judged otherwise
        redo = [
            i for i, (_, e) in enumerate(parts) if gcj02_file_verdict(e["suspect"], e["confirmed"]) != verdict
        ]
        if redo:
            again = run_tasks(
                geocode_chunk,
                [chunks[i] for i in redo],
                [keys[i] for i in redo],
                cl,
                None,
                store_url=store_url,
                plan_id=plan_id,
                gcj02_file=verdict,
            )
            for i, part in zip(redo, again, strict=True):
                parts[i] = part
        frames = [frame for frame, _ in parts]
        if not frames:
            return geocode_rows(worker_context(store_url, plan_id), [])
        out = pd.concat(frames)
        # a chunk where a text column is all missing has it as object: give it back the dtype the
        # other chunks (and the serial path) have, so missing values read alike
        for column in out.columns:
            typed = [f[column].dtype for f in frames if f[column].dtype != object]
            if out[column].dtype == object and typed:
                out[column] = out[column].astype(typed[0])
        return out

    if client is None:
        with dask_client(workers=workers) as own:
            return run(own)
    return run(client)
