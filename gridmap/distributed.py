"""Run independent batch tasks (one per county, city, …) on dask.distributed.

One job: hand a list of picklable tasks to a dask cluster and give back their results in order.

* By default a :class:`distributed.LocalCluster` on this machine: ``workers`` processes
  (``GRIDMAP_DASK_WORKERS``, default 2) with one thread each, so each task owns a core and numpy/GEOS
  work does not fight over the GIL.
* With ``GRIDMAP_DASK_SCHEDULER`` (or ``address=``) set, e.g. ``tcp://10.0.0.5:8786``, the same code
  connects to that scheduler instead, so a bigger deployment adds machines by starting
  ``dask worker tcp://10.0.0.5:8786`` on them (every worker needs gridmap and its data installed).

The caller's function must be importable on the workers (a module-level function, not a lambda) and
its inputs and outputs picklable (GeoDataFrames are). A task that raises fails the whole batch, after the
other tasks have been cancelled: a :class:`~gridmap.errors.GridmapError` comes back as the same type
with the task's key in front of its message, anything else as itself with a note naming the task.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from gridmap.config import get_settings
from gridmap.errors import GridmapError

log = logging.getLogger(__name__)


@contextmanager
def dask_client(
    address: str | None = None, workers: int | None = None, processes: bool = True
) -> Iterator[Any]:
    """A :class:`distributed.Client`: to ``address`` (or ``GRIDMAP_DASK_SCHEDULER``) when given, else
    to a fresh LocalCluster of ``workers`` single-threaded workers (processes, or threads in one
    process with ``processes=False``, which is enough for tests). Closed on exit.
    """
    from distributed import Client, LocalCluster

    settings = get_settings()
    address = address if address is not None else settings.dask_scheduler
    if address:
        log.info("dask: connecting to scheduler %s", address)
        client = Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    n = max(1, int(workers or settings.dask_workers))
    # the in-process scheduler logs every worker's start and stop at INFO: noise in a command's output
    logging.getLogger("distributed").setLevel(max(logging.WARNING, logging.getLogger("distributed").level))
    # dashboard on a free port: several clusters (other users, tests) may run on one machine
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=":0",
            silence_logs=logging.WARNING,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def run_tasks(
    function: Callable[..., Any],
    tasks: Sequence[Any],
    keys: Sequence[str] | None = None,
    client: Any = None,
    progress: Callable[[int, int, str], None] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """``[function(task, **kwargs) for task in tasks]``, computed on the dask cluster.

    ``keys`` name the tasks (e.g. county codes) in progress reports and errors; ``client`` is an open
    :func:`dask_client` (one is opened, and closed afterwards, when it is None). Tasks go out largest
    first when the caller sorted them so; results come back in the order of ``tasks``.
    ``progress(done, total, key)`` is called in this process as each task finishes.
    """
    from distributed import as_completed

    keys = [str(k) for k in (keys if keys is not None else range(len(tasks)))]
    if len(keys) != len(tasks):
        raise ValueError("run_tasks: one key per task")
    if not tasks:
        return []
    if client is None:
        with dask_client() as own:
            return run_tasks(function, tasks, keys, own, progress, **kwargs)
    # explicit keys: readable on the dashboard, and a token so two batches on one client never collide
    token = uuid.uuid4().hex[:8]
    name = getattr(function, "__name__", "task")
    futures = [
        client.submit(function, task, key=f"{name}-{key}-{token}", **kwargs)
        for task, key in zip(tasks, keys, strict=True)
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(tasks)
    done = 0
    try:
        for future in as_completed(futures):
            i = index[future.key]
            if future.status == "error":
                error = future.exception()
                if isinstance(error, GridmapError):  # an operator's message: say which task it was
                    raise type(error)(f"{keys[i]}: {error}") from error
                error.add_note(f"in dask task {keys[i]}")
                raise error
            results[i] = future.result()
            done += 1
            if progress:
                progress(done, len(tasks), keys[i])
    finally:
        client.cancel([f for f in futures if not f.done()])
    return results
