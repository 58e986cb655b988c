"""Partition the store's villages into a new draft plan: the one workflow behind
``gridmap partition --plan``, ``POST /api/v1/plans`` and the demo build."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import geopandas as gpd

from gridmap.errors import InputError


@dataclass
class PartitionOutcome:
    """A saved draft plan: its id, grids (store columns, EPSG:4326) and the partition result."""

    plan_id: str
    grids: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    result: object  # gridmap.partition.balance.PartitionResult
    band: tuple[int, int]


def partition_store(
    store,
    name: str,
    parent_id: str | None = None,
    target: int = 400,
    tolerance: float = 0.10,
    band: tuple[int, int] | None = None,
    resolution: int = 8,
    locked: Iterable[str] = (),
    n_jobs: int = 2,
    progress: Callable[[float, str], None] | None = None,
    engine: str = "processes",
) -> PartitionOutcome:
    """Build atoms from the store's villages and addresses, partition them into balanced
    grids and save a draft plan.

    ``target`` and ``band`` are households per grid; ``tolerance`` is the allowed relative
    deviation from the village mean.  With ``parent_id`` the parent plan's grids seed the
    partition (stability: atoms stay in their grid where balance allows) and its locked grids,
    plus ``locked``, are left untouched.  ``progress(fraction, message)`` is called as work goes.

    ``engine``: ``"processes"`` (default) builds the atoms of all villages at once and solves the
    villages on ``n_jobs`` local processes; ``"dask"`` runs atoms + partition as one dask.distributed
    task per county (:mod:`gridmap.partition.counties`; a LocalCluster of ``GRIDMAP_DASK_WORKERS``, or
    the scheduler at ``GRIDMAP_DASK_SCHEDULER``); ``"serial"`` does the same per-county work in this
    process.
    """
    from gridmap.partition import plans
    from gridmap.partition.atoms import build_atoms
    from gridmap.partition.balance import partition_plan
    from gridmap.partition.grids import grids_from_atoms

    say = progress or (lambda fraction, message: None)
    band = band or (round(target * 0.75), round(target * 1.25))
    villages = store.read("admin_units", where={"level": "village"})
    addresses = store.read("addresses")
    if villages.empty or addresses.empty:
        raise InputError(
            "the store has no villages or no addresses (run 'gridmap build-demo' or import them)"
        )
    if engine not in ("processes", "dask", "serial"):
        raise InputError(f"unknown engine {engine!r}: use processes, dask or serial")
    previous, locked = None, list(locked)
    if parent_id:
        parent = plans.load_plan(store, parent_id)
        previous = parent.grids[["code", "geometry"]]
        locked += parent.grids.loc[parent.grids["locked"].fillna(0).astype(int) == 1, "code"].tolist()
    if engine == "processes":
        say(0.05, f"atoms for {len(villages)} villages")
        atoms = build_atoms(villages, addresses, target=target, base_resolution=resolution)
        say(0.4, f"partitioning {len(atoms)} atoms")
        result = partition_plan(
            atoms,
            target=target,
            band=band,
            tolerance=tolerance,
            previous=previous,
            locked=locked,
            n_jobs=n_jobs,
            progress=lambda done, total: say(0.4 + 0.4 * done / max(total, 1), f"{done}/{total} villages"),
        )
    else:
        from gridmap.partition.counties import partition_by_county

        say(0.05, f"atoms and partition of {len(villages)} villages, county by county ({engine})")
        atoms, result = partition_by_county(
            villages,
            addresses,
            target=target,
            band=band,
            tolerance=tolerance,
            resolution=resolution,
            previous=previous,
            locked=locked,
            engine=engine,
            progress=lambda done, total, county: say(
                0.05 + 0.75 * done / max(total, 1), f"county {county} done ({done}/{total})"
            ),
        )
    say(0.8, "dissolving grids")
    grids = grids_from_atoms(atoms, result, villages, locked=locked)
    params = {
        "method": "balanced",
        "engine": engine,
        "target": target,
        "band": list(band),
        "tolerance": tolerance,
        "resolution": resolution,
        "from_plan": parent_id,
        "locked": locked,
        "report": {k: v for k, v in result.report.items() if k != "notes"},
    }
    plan_id = plans.create_plan(store, name, grids, result.atoms, params, parent_id=parent_id)
    say(1.0, f"draft plan {plan_id}: {len(grids)} grids")
    return PartitionOutcome(plan_id, grids, villages, result, band)


def partition_to_plan(
    store,
    name: str,
    parent_id: str | None = None,
    target: int = 400,
    tolerance: float = 0.10,
    progress: Callable[[float, str], None] | None = None,
    **options,
) -> str:
    """:func:`partition_store`, returning only the new draft plan's id."""
    return partition_store(store, name, parent_id, target, tolerance, progress=progress, **options).plan_id
