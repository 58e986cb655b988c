"""Coverage audits per city (and period), as a batch: serially here or as dask.distributed tasks.

A task audits one city for one period: the city's grids (codes under its prefix, see
:func:`gridmap.domain.area_prefix`), their assignments, the workers assigned there or based
there (``workers.village_code``) with all their check-ins of the period, the city's cases and
petition items.  Audits split by city, not by county, because workers patrol across county
lines (visits to other grids, workers with grids in two counties) but a city's grid workers
are the city's.  Each task opens the store itself (``store_url``), so a dask worker on another
machine needs only the store's address; the results are merged in task order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from gridmap.coverage.audit import AuditResult, AuditThresholds, sorted_findings
from gridmap.coverage.periods import parse_period
from gridmap.coverage.service import AuditInputs, audit_inputs, load_audit_inputs
from gridmap.domain import area_prefix
from gridmap.errors import InputError

ENGINES = ("serial", "dask")


@dataclass(frozen=True)
class AuditTask:
    """One city (``area``, a 6-digit code) audited for ``period`` (``2024-11``, ``2024-Q4`` …)."""

    area: str
    period: str
    plan_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.area}-{self.period}"


def _under(codes: pd.Series, prefix: str) -> pd.Series:
    return codes.astype(str).str.startswith(prefix)


def area_inputs(inputs: AuditInputs, area: str) -> AuditInputs:
    """The part of ``inputs`` that belongs to city ``area`` (see the module doc)."""
    prefix = area_prefix(area)
    grids = inputs.grids[_under(inputs.grids["code"], prefix)]
    assignments = inputs.assignments[inputs.assignments["grid_code"].astype(str).isin(set(grids["code"]))]
    based = inputs.workers["worker_id"][_under(inputs.workers["village_code"].fillna(""), prefix)]
    staff = set(assignments["worker_id"].astype(str)) | set(based.astype(str))
    workers = inputs.workers[inputs.workers["worker_id"].astype(str).isin(staff)]
    patrols = inputs.patrols[inputs.patrols["worker_id"].astype(str).isin(staff)]
    cases = inputs.cases[_under(inputs.cases["county_code"].fillna(""), prefix)]
    addresses = inputs.addresses
    if len(grids) and len(addresses):
        minx, miny, maxx, maxy = (float(v) for v in grids.total_bounds)
        addresses = addresses.cx[minx:maxx, miny:maxy]
    items, visits = inputs.items, inputs.visits
    if items is not None and len(items):
        items = items[_under(items["county_code"].fillna(""), prefix)]
        if visits is not None:
            visits = visits[visits["item_id"].isin(set(items["item_id"]))]
    return AuditInputs(inputs.plan_id, grids, assignments, patrols, workers, cases, addresses, items, visits)


def audit_city(
    task: AuditTask, store_url: str | None, thresholds: AuditThresholds | None = None
) -> AuditResult:
    """The audit of one task, from the store at ``store_url`` (opened here: on a dask worker,
    in its process)."""
    from gridmap.store import open_store

    period = parse_period(task.period)
    with open_store(store_url) as store:
        # the city's partitions only, then exactly the city's share (as of the whole store's inputs)
        inputs = area_inputs(load_audit_inputs(store, period, task.plan_id, area=task.area), task.area)
    if not len(inputs.grids):
        raise InputError(f"city {task.area} has no grids in plan {inputs.plan_id}")
    return audit_inputs(inputs, period, thresholds)


def merge_results(results: Sequence[AuditResult]) -> AuditResult:
    """Several cities' audits of one period as one result (findings in the audit's order)."""
    if not results:
        raise InputError("no audit to merge")
    periods = {str(r.period) for r in results}
    if len(periods) > 1:
        raise InputError(f"audits of different periods cannot be merged: {sorted(periods)}")

    def stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else results[0].grids.iloc[0:0]

    return AuditResult(
        findings=sorted_findings([r.findings for r in results]),
        grids=stack([r.grids for r in results]),
        workers=stack([r.workers for r in results]),
        period=results[0].period,
        thresholds=results[0].thresholds,
        unlocated_checkins=sum(r.unlocated_checkins for r in results),
        timings={},
        agents=stack([r.agents for r in results]),
    )


def audit_per_city(
    tasks: Sequence[AuditTask],
    store_url: str | None,
    thresholds: AuditThresholds | None = None,
    engine: str = "serial",
    client=None,
    workers: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[AuditResult]:
    """The audit of every task, in task order (``engine``: ``"serial"`` here, or ``"dask"`` on
    ``client`` / a fresh LocalCluster of ``workers``)."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}: use {' or '.join(ENGINES)}")
    if engine == "serial":
        out = []
        for i, task in enumerate(tasks, start=1):
            out.append(audit_city(task, store_url, thresholds))
            if progress:
                progress(i, len(tasks), task.key)
        return out
    from gridmap.distributed import dask_client, run_tasks

    keys = [t.key for t in tasks]
    if client is None:
        with dask_client(workers=workers) as own:
            return run_tasks(
                audit_city, tasks, keys, own, progress, store_url=store_url, thresholds=thresholds
            )
    return run_tasks(audit_city, tasks, keys, client, progress, store_url=store_url, thresholds=thresholds)
