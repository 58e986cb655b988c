"""Background jobs: long work (partition, big imports, permutation hotspot runs) off the request.

A job is a callable ``work(progress) -> result`` run on a small thread pool;
``progress(fraction, message)`` reports 0..1 and a short text.  State lives in the
``jobs`` table so any server thread (or a later process) can answer ``GET /api/v1/jobs/{id}``:

``queued`` → ``running`` → ``done`` (``result``: a JSON document) or ``failed`` (``error``:
the operator-facing message of a :class:`gridmap.errors.GridmapError`, or a generic text for
an unexpected exception, which is logged with its traceback).
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from gridmap.domain import now_local
from gridmap.errors import GridmapError
from gridmap.store.base import Store

log = logging.getLogger("api.jobs")

Progress = Callable[[float, str], None]

STATES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class JobStatus:
    """What ``/api/v1/jobs/{id}`` returns."""

    job_id: str
    kind: str
    state: str
    progress: float
    message: str
    actor: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    params: dict
    result: Any
    error: str | None

    @classmethod
    def from_row(cls, row: pd.Series) -> JobStatus:
        def text(col: str) -> str | None:
            value = row.get(col)
            return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)

        return cls(
            job_id=str(row["job_id"]),
            kind=str(row["kind"]),
            state=str(row["state"]),
            progress=float(row["progress"] or 0.0),
            message=text("message") or "",
            actor=text("actor") or "",
            created_at=str(row["created_at"]),
            started_at=text("started_at"),
            finished_at=text("finished_at"),
            params=json.loads(text("params") or "{}"),
            result=json.loads(text("result") or "null"),
            error=text("error"),
        )


class JobManager:
    """Runs jobs on ``max_workers`` threads and records their state in ``store``."""

    #: write progress at most this often (seconds), so a chatty job cannot flood the store
    PROGRESS_INTERVAL_S = 0.5

    def __init__(self, store: Store, max_workers: int = 2) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="gridmap-job")
        self._futures: dict[str, Future] = {}
        self._lock = threading.Lock()
        self._fail_orphans()

    def _fail_orphans(self) -> None:
        """Jobs left queued/running by a previous server process can never finish."""
        for state in ("queued", "running"):
            self.store.update(
                "jobs",
                {"state": "failed", "error": "interrupted by a server restart", "finished_at": now_local()},
                {"state": state},
            )

    def _set(self, job_id: str, **values: Any) -> None:
        self.store.update("jobs", values, {"job_id": job_id})

    def submit(self, kind: str, work: Callable[..., Any], params: dict | None = None, actor: str = "") -> str:
        """Queue ``work`` and return the new job id at once.

        ``work`` is called as ``work(progress)`` when it accepts an argument, else ``work()``;
        its return value must be JSON-serialisable (it becomes the job's ``result``).
        """
        job_id = uuid.uuid4().hex
        self.store.write(
            "jobs",
            pd.DataFrame(
                [
                    {
                        "job_id": job_id,
                        "kind": kind,
                        "state": "queued",
                        "progress": 0.0,
                        "message": "",
                        "actor": actor,
                        "created_at": now_local(),
                        "started_at": None,
                        "finished_at": None,
                        "params": json.dumps(params or {}, ensure_ascii=False, default=str),
                        "result": None,
                        "error": None,
                    }
                ]
            ),
        )
        future = self._pool.submit(self._run, job_id, kind, work)
        with self._lock:
            self._futures[job_id] = future
        future.add_done_callback(lambda _f: self._forget(job_id))
        return job_id

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._futures.pop(job_id, None)

    def _run(self, job_id: str, kind: str, work: Callable[..., Any]) -> None:
        self._set(job_id, state="running", started_at=now_local())
        last = [0.0]

        def progress(fraction: float, message: str = "") -> None:
            now = time.monotonic()
            if now - last[0] >= self.PROGRESS_INTERVAL_S:
                last[0] = now
                self._set(job_id, progress=float(min(max(fraction, 0.0), 1.0)), message=str(message)[:500])

        try:
            takes_progress = bool(inspect.signature(work).parameters)
            result = work(progress) if takes_progress else work()
            self._set(
                job_id,
                state="done",
                progress=1.0,
                finished_at=now_local(),
                result=json.dumps(result, ensure_ascii=False, default=str),
            )
        except GridmapError as exc:
            self._set(job_id, state="failed", finished_at=now_local(), error=str(exc))
        except Exception:
            log.exception("job %s (%s) failed", job_id, kind)
            self._set(
                job_id,
                state="failed",
                finished_at=now_local(),
                error="internal error; the server log has the details",
            )

    def status(self, job_id: str) -> JobStatus | None:
        rows = self.store.read("jobs", where={"job_id": job_id})
        return None if rows.empty else JobStatus.from_row(rows.iloc[0])

    def list(self, actor: str | None = None, limit: int = 50) -> list[JobStatus]:
        rows = self.store.read("jobs", where={"actor": actor} if actor else None, order_by=["created_at"])
        return [JobStatus.from_row(r) for _, r in rows.iloc[::-1].head(limit).iterrows()]

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus | None:
        """Block until the job ends (tests, CLI); returns its final status."""
        with self._lock:
            future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout=timeout)
        return self.status(job_id)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
