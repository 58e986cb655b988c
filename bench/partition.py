"""Benchmark: gridmap's partition vs spopt max-p vs plain METIS k-way, on the same atoms.

Test area: a synthetic 30 km × 30 km square (``gridmap.partition.sample``) with ~20
communities (villages) and ~76,000 households (~190 grids of ~400), cut into H3 res-9
atoms (no adaptive refinement, so all three methods see the same units).

* **gridmap** — ``partition_plan`` (contraction of empty atoms, METIS, contiguity repair,
  boundary refinement), 2 processes.
* **METIS k-way** — pymetis on each village's atom graph with the same k, vertex weight =
  households, no contraction, no repair, no refinement.
* **spopt max-p** — ``MaxPHeuristic`` per village with threshold = target households
  (a region holds at least 400), attribute = households, capped at 3 construction and 1
  annealing iterations.  It is far slower (minutes per village), so it runs only on the
  ``--maxp-villages`` least-populated villages above 500 households (default 1), and the
  speed ratio is taken on exactly those villages against gridmap on the same atoms
  (gridmap: best of 3 runs, one process).

spopt is a bench-only dependency: ``pip install spopt``.

    .venv/bin/python bench/partition.py [--seed 1] [--maxp-villages 3]

With ``--city-scale S`` it instead times the whole planning chain on the synthetic city
(``gridmap.synth.synthesize(seed, S)``; scale 1 is all 2,568 villages, ~386k addresses,
~1.0M households): ``build_atoms``, ``partition_plan``, ``grids_from_atoms``,
``quality_report`` (with the tiling check) and ``h3_plan`` (r8), each step's seconds, the
plan's quality, and whether the grids are an edge-matched coverage (per village, per
township, city-wide).

    .venv/bin/python bench/partition.py --city-scale 1 [--city-seed 7]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pymetis
import shapely

from gridmap.crs import LOCAL_CRS
from gridmap.partition.adjacency import rook_adjacency
from gridmap.partition.atoms import build_atoms
from gridmap.partition.balance import build_problems, choose_k, partition_plan
from gridmap.partition.sample import sample_area
from gridmap.partition.tiling import polsby_popper

TARGET = 400


def metrics(name: str, seconds: float, atoms: gpd.GeoDataFrame, grid: np.ndarray) -> dict:
    """Figures of one method: ``grid`` is a grid key per atom (row order of ``atoms``)."""
    frame = atoms.assign(grid=grid)
    metric = np.asarray(frame.to_crs(LOCAL_CRS).geometry.values, dtype=object)
    adj = rook_adjacency(metric)  # across villages too: a grid spanning a village line is found
    comp = adj.components(frame["grid"].to_numpy())
    pieces = frame.assign(c=comp).groupby("grid")["c"].nunique()
    villages = frame.groupby("grid")["village_code"].nunique()
    hh = frame.groupby("grid")["households"].sum()
    first_village = frame.groupby("grid")["village_code"].first()
    mean_v = hh.groupby(first_village).transform("mean")
    dev = (hh / mean_v - 1).abs()
    order = np.argsort(frame["grid"].to_numpy(), kind="stable")
    keys = frame["grid"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    merged = [shapely.union_all(metric[order][s:e]) for s, e in zip(starts, ends, strict=True)]
    pp = polsby_popper(np.asarray(merged, dtype=object))
    return {
        "method": name,
        "seconds": round(seconds, 3),
        "grids": len(hh),
        "cv_households": round(float(hh.std(ddof=0) / hh.mean()), 3),
        "within_10pct": round(float((dev <= 0.10 + 1e-9).mean()), 3),
        "mean_polsby_popper": round(float(pp.mean()), 3),
        "noncontiguous": int((pieces > 1).sum()),
        "crossing_village": int((villages > 1).sum()),
    }


def plain_metis(atoms: gpd.GeoDataFrame) -> np.ndarray:
    problems, _ = build_problems(atoms, TARGET)
    out = pd.Series("", index=atoms["atom_id"].to_numpy(), dtype=object)
    for p in problems:
        k = choose_k(p.weight.sum(), TARGET, (300, 500))
        n = len(p.weight)
        if k <= 1 or n <= 1:
            labels = np.zeros(n, int)
        else:
            xadj = np.zeros(n + 1, np.int64)
            nb = [[] for _ in range(n)]
            for i, j in zip(p.ei, p.ej, strict=True):
                nb[i].append(j)
                nb[j].append(i)
            labels = np.asarray(pymetis.part_graph(k, adjacency=nb, vweights=p.weight.tolist())[1])
            del xadj
        out[p.atom_ids] = [f"{p.village_code}#{x}" for x in labels]
    return out.reindex(atoms["atom_id"]).to_numpy()


def maxp(atoms: gpd.GeoDataFrame, villages: list[str]) -> tuple[np.ndarray, float]:
    # bench/coverage.py would shadow the 'coverage' package that numba (via spopt) probes for
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    from libpysal.weights import Rook
    from spopt.region import MaxPHeuristic

    out = np.full(len(atoms), "", dtype=object)
    t0 = time.perf_counter()
    for v in villages:
        sel = np.flatnonzero(atoms["village_code"].to_numpy() == v)
        sub = atoms.iloc[sel].to_crs(LOCAL_CRS).reset_index(drop=True)
        sub["hh"] = sub["households"].astype(float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = Rook.from_dataframe(sub, use_index=False, silence_warnings=True)
            model = MaxPHeuristic(
                sub, w, ["hh"], "hh", TARGET, top_n=2, max_iterations_construction=3, max_iterations_sa=1
            )
            model.solve()
        labels = np.asarray(model.labels_)
        out[sel] = [f"{v}#{x}" for x in labels]
    return out, time.perf_counter() - t0


def edge_matched_share(grids: gpd.GeoDataFrame, key: pd.Series) -> float:
    """Share of groups (villages, townships) whose grids pass ``shapely.coverage_is_valid``."""
    ok = [shapely.coverage_is_valid(np.asarray(part.geometry.values)) for _, part in grids.groupby(key)]
    return float(np.mean(ok)) if ok else 1.0


def city_chain(seed: int, scale: float) -> None:
    # bench/api.py would shadow the 'api' package that the store schema imports
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    from gridmap.partition.grids import grids_from_atoms
    from gridmap.partition.h3plan import h3_plan
    from gridmap.partition.quality import quality_report
    from gridmap.synth import synthesize

    t = time.perf_counter()
    city = synthesize(seed, scale)
    villages = city.admin_units[city.admin_units["level"] == "village"]
    addresses = city.addresses
    print(
        f"synthetic city seed {seed} scale {scale}: {len(villages):,} villages, {len(addresses):,} addresses, "
        f"{int(addresses['households'].sum()):,} households (synthesized in {time.perf_counter() - t:.1f} s)"
    )
    seconds = {}
    t = time.perf_counter()
    atoms = build_atoms(villages, addresses, target=TARGET)
    seconds["build_atoms"] = time.perf_counter() - t
    t = time.perf_counter()
    result = partition_plan(atoms, target=TARGET, n_jobs=2)
    seconds["partition_plan"] = time.perf_counter() - t
    t = time.perf_counter()
    grids = grids_from_atoms(atoms, result, villages)
    seconds["grids_from_atoms"] = time.perf_counter() - t
    t = time.perf_counter()
    quality = quality_report(grids, villages, target=TARGET)
    seconds["quality_report"] = time.perf_counter() - t
    chain = sum(seconds.values())
    t = time.perf_counter()
    first = h3_plan(villages, addresses, resolution=8)
    seconds["h3_plan"] = time.perf_counter() - t
    for step, s in seconds.items():
        extra = (
            f" (adjacency graph {result.report['seconds_graph']:.1f} s)" if step == "partition_plan" else ""
        )
        print(f"{step:18s} {s:7.1f} s{extra}")
    print(f"{'chain (first four)':18s} {chain:7.1f} s")
    print(
        f"atoms {len(atoms):,} holding {int(atoms['households'].sum()):,} households; "
        f"grids {len(grids):,}; h3 plan grids {len(first):,}"
    )
    print(quality.to_text())
    for name, layer in (("balanced grids", grids), ("h3 plan grids", first)):
        code = layer["village_code"].astype(str)
        print(
            f"{name}: edge-matched villages {edge_matched_share(layer, code):.1%}, "
            f"townships {edge_matched_share(layer, code.str[:9]):.1%}, "
            f"city-wide {shapely.coverage_is_valid(np.asarray(layer.geometry.values))}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--maxp-villages", type=int, default=1)
    ap.add_argument(
        "--city-scale",
        type=float,
        default=None,
        help="time the whole chain on the synthetic city at this scale instead",
    )
    ap.add_argument("--city-seed", type=int, default=7)
    args = ap.parse_args()
    if args.city_scale is not None:
        city_chain(args.city_seed, args.city_scale)
        return
    t0 = time.perf_counter()
    area = sample_area(
        seed=args.seed,
        n_villages=20,
        size_km=30.0,
        households=76_000,
        n_clusters=120,
        max_building_households=30,
        spread_m=(600.0, 1500.0),
    )
    atoms = build_atoms(area.villages, area.addresses, base_resolution=9, max_resolution=9)
    print(
        f"test area: 30 km x 30 km, {len(area.villages)} communities, {int(atoms['households'].sum()):,} "
        f"households, {len(atoms):,} H3 r9 atoms (built in {time.perf_counter() - t0:.1f} s)"
    )
    rows = []
    t = time.perf_counter()
    ours = partition_plan(atoms, n_jobs=2)
    rows.append(
        metrics(
            "gridmap (all)",
            time.perf_counter() - t,
            atoms,
            ours.assignment.set_index("atom_id")["grid"].reindex(atoms["atom_id"]).to_numpy(),
        )
    )
    t = time.perf_counter()
    plain = plain_metis(atoms)
    rows.append(metrics("METIS k-way (all)", time.perf_counter() - t, atoms, plain))
    hh = atoms.groupby("village_code")["households"].sum()
    subset = hh[hh > 500].sort_values().index[: args.maxp_villages].tolist()
    sub_atoms = atoms[atoms["village_code"].isin(subset)].reset_index(drop=True)
    ours_sub_s = np.inf
    for _ in range(3):  # best of 3 (warm caches), as for any micro-benchmark
        t = time.perf_counter()
        ours_sub = partition_plan(sub_atoms, n_jobs=1)
        ours_sub_s = min(ours_sub_s, time.perf_counter() - t)
    rows.append(
        metrics(
            f"gridmap ({len(subset)} villages)",
            ours_sub_s,
            sub_atoms,
            ours_sub.assignment.set_index("atom_id")["grid"].reindex(sub_atoms["atom_id"]).to_numpy(),
        )
    )
    rows.append(
        metrics(
            f"METIS k-way ({len(subset)} villages)",
            np.nan,
            sub_atoms,
            pd.Series(plain, index=atoms["atom_id"]).reindex(sub_atoms["atom_id"]).to_numpy(),
        )
    )
    labels, maxp_s = maxp(sub_atoms, subset)
    rows.append(metrics(f"spopt max-p ({len(subset)} villages)", maxp_s, sub_atoms, labels))
    table = pd.DataFrame(rows)
    print(
        f"max-p subset: {len(subset)} villages, {len(sub_atoms):,} atoms, "
        f"{int(sub_atoms['households'].sum()):,} households"
    )
    print(table.to_string(index=False))
    print(f"speed-up vs max-p on the same villages: {maxp_s / ours_sub_s:,.0f}x")


if __name__ == "__main__":
    main()
