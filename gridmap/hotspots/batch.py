"""Hot-spot runs per city, as a batch: serially here or as dask.distributed tasks.

A province's hot spots are analysed city by city (a Gi* z-score compares a unit with the
city's mean, and grid workers and commanders work per city).  Each task reads one city's cases
and units from the store and computes its run (:func:`gridmap.hotspots.runs.compute_run`); the
caller writes every run to the store, so workers never write (a GeoPackage has one writer) and
the runs land in the order of the tasks.

``engine="dask"`` sends the tasks to :func:`gridmap.distributed.run_tasks` (a LocalCluster of
``GRIDMAP_DASK_WORKERS`` processes, or the scheduler at ``GRIDMAP_DASK_SCHEDULER``); every worker
opens the store itself from ``store_url`` (a GeoPackage path it can read, or a PostGIS URL).
The results are the serial path's, row for row (only the run ids and times differ).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gridmap.errors import InputError
from gridmap.hotspots.runs import ComputedRun, compute_run, write_run
from gridmap.store.base import Store

ENGINES = ("serial", "dask")


@dataclass(frozen=True)
class CityRun:
    """One task: a hot-spot run of ``method`` over the cases and units of city ``area``."""

    area: str
    method: str = "gi"
    unit: str = "grid"
    plan_id: str | None = None
    h3_resolution: int | None = None
    filters: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.area}-{self.method}"


def city_codes(store: Store) -> list[str]:
    """Codes of the cities (地级市) in the store's admin units, sorted."""
    cities = store.read("admin_units", where={"level": "city"}, columns=["code"])
    return sorted(cities["code"].astype(str))


def compute_city_run(task: CityRun, store_url: str | None) -> ComputedRun:
    """The run of one task, computed from the store at ``store_url`` (opened here: on a dask
    worker, in its process)."""
    from gridmap.store import open_store

    with open_store(store_url) as store:
        return compute_run(
            store,
            task.method,
            task.unit,
            task.plan_id,
            task.h3_resolution,
            task.filters,
            task.params,
            area=task.area,
        )


def run_per_city(
    store: Store,
    tasks: Sequence[CityRun],
    store_url: str | None,
    engine: str = "serial",
    client=None,
    workers: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[str]:
    """Compute ``tasks`` (``engine``: ``"serial"`` here, or ``"dask"`` on ``client`` / a fresh
    LocalCluster of ``workers``) and write their runs to ``store``; the run ids, in task order.

    ``store_url`` is what each task opens (``store``'s own path or URL, or None for the
    settings' store); the serial path opens it too, so both paths read alike.  The serial path
    stores each run before it computes the next (memory holds one city's run; a failing task
    leaves the runs before it stored); the dask path stores them all once every task is done."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}: use {' or '.join(ENGINES)}")
    if not tasks:
        raise InputError("no city to analyse: the store has no city-level admin unit")
    if engine == "serial":
        run_ids = []
        for i, task in enumerate(tasks, start=1):
            run = compute_city_run(task, store_url)
            # stored before the next city is computed: one city's results in memory at a time
            write_run(store, run.run_row, run.results, run.areas, run.surface)
            run_ids.append(run.run_id)
            del run
            if progress:
                progress(i, len(tasks), task.key)
        return run_ids
    from gridmap.distributed import dask_client, run_tasks

    keys = [t.key for t in tasks]
    if client is None:
        with dask_client(workers=workers) as own:
            runs = run_tasks(compute_city_run, tasks, keys, own, progress, store_url=store_url)
    else:
        runs = run_tasks(compute_city_run, tasks, keys, client, progress, store_url=store_url)
    for run in runs:
        write_run(store, run.run_row, run.results, run.areas, run.surface)
    return [run.run_id for run in runs]
