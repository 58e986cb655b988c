"""Atoms and partition county by county: the unit of batch work for a city or a province.

Villages are partitioned independently (see :mod:`gridmap.partition.balance`), so a county's atoms and
grids need only its own villages and addresses. :func:`partition_by_county` splits the input into one
:class:`CountyWork` per county, runs :func:`atoms_and_partition` on each — in this process
(``engine="serial"``) or as dask.distributed tasks (``engine="dask"``, :mod:`gridmap.distributed`:
a LocalCluster, or ``GRIDMAP_DASK_SCHEDULER``) — and merges the results into the same shapes
:func:`~gridmap.partition.atoms.build_atoms` and :func:`~gridmap.partition.balance.partition_plan`
return. Both engines give identical atoms and assignments (tested).

How this differs from partitioning the whole area at once (``partition_plan`` with ``n_jobs``): an H3
region is refined when the households of one village in it exceed the cap, and the whole region is
cut, neighbours included. Per county, a village only sees the refinements of its own county's
villages, so atoms on a county line can differ; grids stay balanced and contiguous either way.

Statistical zones without an outline (e.g. 150571) are worked with their host county
(:data:`gridmap.boundaries.DEV_ZONE_HOSTS`), since their villages lie inside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.boundaries import DEV_ZONE_HOSTS
from gridmap.crs import LOCAL_CRS
from gridmap.errors import InputError
from gridmap.partition._frames import village_frame
from gridmap.partition.balance import PartitionResult

ENGINES = ("serial", "dask")


@dataclass(frozen=True)
class CountyWork:
    """One county's input: its village polygons and the addresses inside them (any CRS)."""

    county_code: str
    villages: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame
    previous: gpd.GeoDataFrame | pd.Series | pd.DataFrame | None = None


@dataclass
class CountyPartition:
    """One county's output: atoms (EPSG:4326) and the partition of its villages; ``seconds`` of work."""

    county_code: str
    atoms: gpd.GeoDataFrame
    result: PartitionResult
    seconds: float


def county_of_villages(village_codes: pd.Series) -> pd.Series:
    """The county (6 digits) a village lies in: its code prefix, or the host of a statistical zone."""
    prefix = village_codes.astype(str).str[:6]
    return prefix.map(DEV_ZONE_HOSTS).fillna(prefix)


def split_by_county(villages: gpd.GeoDataFrame, addresses: gpd.GeoDataFrame) -> tuple[list[CountyWork], int]:
    """One :class:`CountyWork` per county, largest (most households) first, and the number of
    addresses in no village. Each address goes with the village that holds it, by the rule
    ``build_atoms`` itself uses (on a shared line: the lowest village code), so no address is
    counted twice or lost at a county line."""
    from gridmap.partition.atoms import _locate_villages

    if "level" in villages.columns and "village_code" not in villages.columns:
        villages = villages[villages["level"].astype(str) == "village"]
    v = village_frame(villages)
    where = _locate_villages(
        addresses.to_crs(LOCAL_CRS),
        np.asarray(v.to_crs(LOCAL_CRS).geometry.values),
        v["village_code"].to_numpy(),
    )
    v_county = county_of_villages(v["village_code"]).to_numpy()
    a_county = np.where(where >= 0, v_county[np.maximum(where, 0)], "")
    hh = addresses["households"].to_numpy() if "households" in addresses.columns else np.ones(len(addresses))
    load = pd.Series(hh).groupby(a_county).sum()
    village_code_col = "village_code" if "village_code" in villages.columns else "code"
    in_county = county_of_villages(villages[village_code_col]).to_numpy()
    works = [
        CountyWork(str(code), villages[in_county == code], addresses[a_county == code])
        for code in np.unique(v_county)
    ]
    works.sort(key=lambda w: (-float(load.get(w.county_code, 0)), w.county_code))
    return works, int((where < 0).sum())


def _previous_for(previous, village_codes: set[str]):
    """A previous grid layer cut down to the grids of these villages (codes start with the village's)."""
    if (
        isinstance(previous, gpd.GeoDataFrame)
        and "code" in previous.columns
        and "atom_id" not in previous.columns
    ):
        return previous[previous["code"].astype(str).str[:12].isin(village_codes)]
    return previous


def atoms_and_partition(
    work: CountyWork,
    target: int = 400,
    band: tuple[int, int] = (300, 500),
    tolerance: float = 0.10,
    resolution: int = 8,
    locked: Iterable[str] = (),
    seed: int = 0,
) -> CountyPartition:
    """The per-county task: :func:`build_atoms` then :func:`partition_plan` (one process, ``n_jobs=1``).

    ``target``/``band`` in households per grid, ``resolution`` the H3 base resolution; ``locked`` and
    ``work.previous`` as in :func:`~gridmap.partition.balance.partition_plan`.
    """
    from gridmap.partition.atoms import build_atoms
    from gridmap.partition.balance import partition_plan

    t0 = time.perf_counter()
    atoms = build_atoms(work.villages, work.addresses, target=target, base_resolution=resolution)
    result = partition_plan(
        atoms,
        target=target,
        band=band,
        tolerance=tolerance,
        previous=work.previous,
        locked=list(locked),
        n_jobs=1,
        seed=seed,
    )
    return CountyPartition(work.county_code, atoms, result, time.perf_counter() - t0)


def merge_county_partitions(
    parts: list[CountyPartition], addresses_outside: int, tolerance: float
) -> tuple[gpd.GeoDataFrame, PartitionResult]:
    """Concatenate per-county atoms and results (in county-code order) into one atoms frame and one
    :class:`PartitionResult` whose report adds the counties' figures up."""
    parts = sorted(parts, key=lambda p: p.county_code)
    atoms = pd.concat([p.atoms for p in parts], ignore_index=True)
    atoms = gpd.GeoDataFrame(atoms, geometry="geometry", crs=parts[0].atoms.crs)
    atom_reports = [p.atoms.attrs.get("report", {}) for p in parts]
    atoms.attrs["report"] = {
        "addresses_outside": addresses_outside,
        "overweight_addresses": sum(r.get("overweight_addresses", 0) for r in atom_reports),
        "overweight_atoms": [a for r in atom_reports for a in r.get("overweight_atoms", [])],
        "cap": atom_reports[0].get("cap"),
    }
    assignment = pd.concat([p.result.assignment for p in parts], ignore_index=True)
    villages = pd.concat([p.result.villages for p in parts], ignore_index=True)
    reports = [p.result.report for p in parts]
    grid_hh = assignment.groupby("grid")["households"].sum()
    report = {
        "villages": int(len(villages)),
        "grids": int(assignment["grid"].nunique()),
        "atoms": int(len(assignment)),
        "households": int(assignment["households"].sum()),
        "villages_outside_tolerance": villages.loc[~villages["within_tolerance"], "village_code"].tolist(),
        "villages_outside_band": villages.loc[~villages["in_band"], "village_code"].tolist(),
        "share_villages_within_tolerance": float(villages["within_tolerance"].mean())
        if len(villages)
        else 1.0,
        "grid_households_min": int(grid_hh.min()) if len(grid_hh) else 0,
        "grid_households_max": int(grid_hh.max()) if len(grid_hh) else 0,
        "notes": {code: note for r in reports for code, note in r.get("notes", {}).items()},
        "tolerance": tolerance,
        "counties": len(parts),
        "seconds_per_county": {p.county_code: round(p.seconds, 3) for p in parts},
    }
    for key in ("atoms_moved", "households_moved", "atoms_new"):
        if any(key in r for r in reports):
            report[key] = int(sum(r.get(key, 0) for r in reports))
    return atoms, PartitionResult(assignment=assignment, villages=villages, report=report)


def partition_by_county(
    villages: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame,
    target: int = 400,
    band: tuple[int, int] = (300, 500),
    tolerance: float = 0.10,
    resolution: int = 8,
    previous=None,
    locked: Iterable[str] = (),
    engine: str = "dask",
    client=None,
    workers: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[gpd.GeoDataFrame, PartitionResult]:
    """Atoms and balanced grids for every village, one task per county (see the module docstring).

    ``engine``: ``"dask"`` (default: ``client``, else a LocalCluster of ``workers``, else
    ``GRIDMAP_DASK_SCHEDULER``) or ``"serial"`` (in this process). ``progress(done, total, county)``.
    Returns ``(atoms, result)`` like ``build_atoms`` + ``partition_plan``; ``result.report["seconds"]``
    is the wall time of the whole call.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    t0 = time.perf_counter()
    works, outside = split_by_county(villages, addresses)
    if previous is not None:
        works = [
            CountyWork(
                w.county_code,
                w.villages,
                w.addresses,
                _previous_for(previous, set(village_frame(w.villages)["village_code"])),
            )
            for w in works
        ]
    options = {
        "target": target,
        "band": tuple(band),
        "tolerance": tolerance,
        "resolution": resolution,
        "locked": tuple(locked),
    }
    keys = [w.county_code for w in works]
    if engine == "serial":
        parts = []
        for i, work in enumerate(works):
            parts.append(atoms_and_partition(work, **options))
            if progress:
                progress(i + 1, len(works), work.county_code)
    else:
        from gridmap.distributed import dask_client, run_tasks

        if client is None:
            with dask_client(workers=workers) as own:
                parts = run_tasks(atoms_and_partition, works, keys, own, progress, **options)
        else:
            parts = run_tasks(atoms_and_partition, works, keys, client, progress, **options)
    atoms, result = merge_county_partitions(parts, outside, tolerance)
    result.report["seconds"] = round(time.perf_counter() - t0, 3)
    result.report["engine"] = engine
    return atoms, result
