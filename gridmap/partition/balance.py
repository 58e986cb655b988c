"""Balanced, contiguous, compact partition of every village's atoms into grids.

Per village (villages are independent and solved in parallel):

1. **k** — the number of grids whose mean size lies in the band and is closest to the
   target (:func:`choose_k`); a village under the band gets one grid.
2. **Contraction** — zero-household atoms (fields, water, empty land) must not steer the
   partition: each is contracted into the nearest populated atom (graph distance, multi-
   source BFS), so the partitioned units are "populated atom + its empty surroundings".
   Every unit is connected, so contiguous groups of units are contiguous grids.
3. **k-way partition** — METIS (pymetis) on the unit graph, vertex weight = households,
   edge weight = shared boundary length in metres (a small edge cut = short grid
   boundaries = compact grids), seeded, asking METIS for contiguous parts.
4. **Contiguity repair** — every grid keeps its heaviest connected piece; the other pieces
   go to the adjacent grid with the lowest load.
5. **Boundary refinement** — boundary units move from heavier to lighter adjacent grids
   while that reduces Σ(load − mean)², never through an articulation point (the source
   grid stays connected), preferring moves that shorten the boundary.  With a previous
   plan it stops as soon as every grid is within ±tolerance of the mean, so few atoms move.

Stability: ``previous`` (atom → grid code) is the starting point instead of METIS when its
grid count still gives a mean inside the band; atoms of ``locked`` grids are not touched
and the rest of their village is balanced around them.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pymetis
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra

from gridmap.crs import LOCAL_CRS
from gridmap.errors import InputError
from gridmap.partition.adjacency import rook_adjacency

log = logging.getLogger(__name__)


def choose_k(households: float, target: float = 400, band: tuple[float, float] = (300, 500)) -> int:
    """Number of grids for a village of ``households``.

    Among the k whose mean ``households / k`` lies in ``band`` the one closest to ``target``
    (ties: fewer grids); when no k reaches the band (e.g. 520 households with band 300–500)
    the k whose mean is nearest to the band, then to the target.  Under the band → 1.
    """
    lo, hi = band
    if households <= hi:
        return 1
    k_max = max(1, math.ceil(households / max(lo, 1.0)) + 1)
    ks = np.arange(1, k_max + 1)
    mean = households / ks
    band_gap = np.maximum(lo - mean, 0) + np.maximum(mean - hi, 0)
    order = np.lexsort((ks, np.abs(mean - target), band_gap))
    return int(ks[order[0]])


@dataclass
class VillageProblem:
    """One village's atoms as a graph (local indices)."""

    village_code: str
    atom_ids: np.ndarray
    weight: np.ndarray  # households per atom
    xy: np.ndarray  # (n, 2) representative points, metres
    ei: np.ndarray
    ej: np.ndarray
    elen: np.ndarray
    locked: np.ndarray  # bool: atom belongs to a locked grid (keeps its previous label)
    previous: np.ndarray  # previous label per atom (-1 none)
    previous_codes: list[str]  # label → previous grid code
    target: float
    band: tuple[float, float]
    tolerance: float
    seed: int


@dataclass
class VillageSolution:
    village_code: str
    labels: np.ndarray  # grid label per atom (index into keys)
    keys: list[str]  # grid key per label: previous code or provisional key
    k: int
    notes: list[str] = field(default_factory=list)


@dataclass
class PartitionResult:
    """Atom → grid assignment of a whole plan, with per-village figures and a report.

    ``assignment``: atom_id, village_code, grid (a previous 15-digit code kept by stability,
    or a provisional key ``<village>#<n>`` to be coded by :mod:`gridmap.partition.codes`),
    exclusive (bool), households.
    ``villages``: village_code, households, k, mean, min, max, max_rel_dev, cv,
    within_tolerance, in_band, notes.
    ``report``: seconds, villages, grids, atoms, atoms_moved, households_moved,
    noncontiguous_grids, villages_outside_tolerance, …
    """

    assignment: pd.DataFrame
    villages: pd.DataFrame
    report: dict
    #: the atoms with their final ``grid_code``, set by :func:`gridmap.partition.grids.grids_from_atoms`
    atoms: gpd.GeoDataFrame | None = None

    def grid_households(self) -> pd.DataFrame:
        """Households and atom count per grid key."""
        return self.assignment.groupby(["village_code", "grid", "exclusive"], as_index=False).agg(
            households=("households", "sum"), atoms=("atom_id", "size")
        )


# --------------------------------------------------------------------------------------
# graph helpers (local indices of one village)


def _csr(n: int, i: np.ndarray, j: np.ndarray, w: np.ndarray | None = None) -> sp.csr_matrix:
    data = np.ones(len(i)) if w is None else w
    m = sp.coo_matrix((data, (i, j)), shape=(n, n))
    return (m + m.T).tocsr()


def _label_components(n: int, i: np.ndarray, j: np.ndarray, labels: np.ndarray) -> np.ndarray:
    same = labels[i] == labels[j]
    return connected_components(_csr(n, i[same], j[same]), directed=False)[1]


def _nearest_source(n: int, i: np.ndarray, j: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """For every vertex the source vertex nearest by hop count (-1 unreachable)."""
    if len(sources) == 0:
        return np.full(n, -1)
    g = _csr(n, i, j)
    _, _, src = dijkstra(
        g, directed=False, indices=sources, unweighted=True, min_only=True, return_predecessors=True
    )
    return np.asarray(src, dtype=np.int64)


def _metis(
    k: int, n: int, i: np.ndarray, j: np.ndarray, length: np.ndarray, weight: np.ndarray, seed: int
) -> np.ndarray:
    if k <= 1 or n <= 1:
        return np.zeros(n, dtype=np.int64)
    g = _csr(n, i, j, np.maximum(1, np.rint(length)).astype(np.int64)).tocsr()
    g.sum_duplicates()
    g.sort_indices()
    adjacency = pymetis.CSRAdjacency(g.indptr.astype(np.int64), g.indices.astype(np.int64))
    eweights = np.asarray(g.data, dtype=np.int64)
    vweights = np.maximum(weight, 0).astype(np.int64)
    try:
        _, parts = pymetis.part_graph(
            k,
            adjacency,
            vweights=vweights,
            eweights=eweights,
            options=pymetis.Options(seed=seed, ufactor=30, niter=20, contig=1),
        )
    except Exception:  # METIS refuses contiguity on some graphs; repair takes over
        _, parts = pymetis.part_graph(
            k,
            adjacency,
            vweights=vweights,
            eweights=eweights,
            options=pymetis.Options(seed=seed, ufactor=30, niter=20),
        )
    return np.asarray(parts, dtype=np.int64)


def _fill_empty_parts(
    parts: np.ndarray, k: int, weight: np.ndarray, i: np.ndarray, j: np.ndarray, length: np.ndarray, seed: int
) -> np.ndarray:
    """METIS may leave parts empty when units are lumpy: bisect the heaviest part until k
    parts exist (or no part can be split)."""
    parts = parts.copy()
    for _ in range(k):
        used = np.unique(parts)
        if len(used) >= k:
            break
        loads = np.bincount(parts, weight, minlength=k)
        heavy = int(np.argmax(loads))
        sel = np.flatnonzero(parts == heavy)
        inside = np.isin(i, sel) & np.isin(j, sel)
        halves = partition_graph(
            weight[sel],
            np.searchsorted(sel, i[inside]),
            np.searchsorted(sel, j[inside]),
            length[inside],
            2,
            seed=seed,
        )
        if halves.max() == 0:
            break
        free = np.setdiff1d(np.arange(k), used)[0]
        parts[sel[halves == 1]] = free
    return parts


def _articulation(members: np.ndarray, nbrs: list[np.ndarray], labels: np.ndarray, label: int) -> set[int]:
    g = nx.Graph()
    g.add_nodes_from(members.tolist())
    for u in members:
        vs = nbrs[u]
        vs = vs[labels[vs] == label]
        g.add_edges_from((int(u), int(v)) for v in vs if v > u)
    return set(nx.articulation_points(g))


def _repair(labels: np.ndarray, k: int, weight: np.ndarray, i: np.ndarray, j: np.ndarray) -> int:
    """Give every label one connected piece (its heaviest); orphan pieces join the adjacent
    label with the lowest load.  Returns the number of units moved."""
    n = len(labels)
    moved = 0
    for _ in range(4 * k + 10):
        comp = _label_components(n, i, j, labels)
        frame = pd.DataFrame({"comp": comp, "label": labels, "w": weight, "one": 1})
        pieces = frame.groupby("comp").agg(label=("label", "first"), w=("w", "sum"), size=("one", "sum"))
        pieces = pieces.sort_values(["label", "w", "size"], ascending=[True, False, False])
        orphans = pieces[pieces.duplicated("label", keep="first")]
        if orphans.empty:
            break
        loads = np.bincount(labels, weight, minlength=k).astype(float)
        for c in orphans.sort_values("w").index:
            members = np.flatnonzero(comp == c)
            a = labels[members[0]]
            touching = np.r_[j[np.isin(i, members)], i[np.isin(j, members)]]
            other = np.unique(labels[touching])
            other = other[other != a]
            if len(other) == 0:
                continue
            b = other[np.argmin(loads[other])]
            labels[members] = b
            loads[a] -= weight[members].sum()
            loads[b] += weight[members].sum()
            moved += len(members)
    return moved


def _refine(
    labels: np.ndarray,
    k: int,
    weight: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    length: np.ndarray,
    tolerance: float,
    stop_within: bool,
    max_moves: int,
) -> int:
    """Greedy boundary moves reducing Σ(load − mean)² while keeping every grid connected."""
    n = len(labels)
    if k <= 1 or n <= 1:
        return 0
    w = weight.astype(float)
    loads = np.bincount(labels, w, minlength=k)
    mean = w.sum() / k
    lo, hi = mean * (1 - tolerance), mean * (1 + tolerance)
    src = np.r_[i, j]
    dst = np.r_[j, i]
    elen = np.r_[length, length]
    order = np.argsort(src, kind="stable")
    src, dst, elen = src[order], dst[order], elen[order]
    starts = np.searchsorted(src, np.arange(n + 1))
    nbrs = [dst[starts[u] : starts[u + 1]] for u in range(n)]
    nlen = [elen[starts[u] : starts[u + 1]] for u in range(n)]
    shared = np.zeros((n, k))
    np.add.at(shared, (src, labels[dst]), elen)
    sizes = np.bincount(labels, minlength=k)
    art: dict[int, set[int]] = {}
    moves = 0
    while moves < max_moves:
        if stop_within and np.all((loads >= lo) & (loads <= hi)):
            break
        a_lab = labels[src]
        b_lab = labels[dst]
        cand = a_lab != b_lab
        cu, cb = src[cand], b_lab[cand]
        if len(cu) == 0:
            break
        key = np.unique(cu * k + cb)
        cu, cb = key // k, key % k
        ca = labels[cu]
        wu = w[cu]
        gain = 2 * wu * (loads[cb] - loads[ca] + wu)
        ok = (gain < -1e-9) & (sizes[ca] > 1) & (wu > 0)
        if not ok.any():
            break
        cu, cb, ca, gain = cu[ok], cb[ok], ca[ok], gain[ok]
        compact = shared[cu, cb] - shared[cu, ca]
        # among moves at least half as good as the best, the one that shortens the boundary most
        sel = np.flatnonzero(gain <= 0.5 * gain.min())
        chosen = -1
        for idx in sel[np.lexsort((cu[sel], gain[sel], -compact[sel]))]:
            u, a, b = int(cu[idx]), int(ca[idx]), int(cb[idx])
            if a not in art:
                art[a] = _articulation(np.flatnonzero(labels == a), nbrs, labels, a)
            if u in art[a]:
                continue
            chosen = idx
            break
        if chosen < 0:
            break
        u, a, b = int(cu[chosen]), int(ca[chosen]), int(cb[chosen])
        labels[u] = b
        loads[a] -= w[u]
        loads[b] += w[u]
        sizes[a] -= 1
        sizes[b] += 1
        np.add.at(shared, (nbrs[u], a), -nlen[u])
        np.add.at(shared, (nbrs[u], b), nlen[u])
        art.pop(a, None)
        art.pop(b, None)
        moves += 1
    return moves


# --------------------------------------------------------------------------------------
# one village


def _fresh_labels(
    p: VillageProblem, idx: np.ndarray, i: np.ndarray, j: np.ndarray, length: np.ndarray, offset: int
) -> tuple[np.ndarray, int, list[str]]:
    """Partition the connected free sub-graph ``idx`` (local i/j over idx) from scratch."""
    w = p.weight[idx]
    total = float(w.sum())
    k = choose_k(total, p.target, p.band)
    populated = np.flatnonzero(w > 0)
    k = max(1, min(k, len(populated)))
    labels = np.zeros(len(idx), dtype=np.int64)
    if k > 1:
        seed_of = _nearest_source(len(idx), i, j, populated)
        unit_of = np.searchsorted(populated, seed_of)
        ui, uj = unit_of[i], unit_of[j]
        cross = ui != uj
        parts = _metis(k, len(populated), ui[cross], uj[cross], length[cross], w[populated], p.seed)
        parts = _fill_empty_parts(parts, k, w[populated], ui[cross], uj[cross], length[cross], p.seed)
        labels = parts[unit_of]
    return labels + offset, k, []


def solve_village(p: VillageProblem) -> VillageSolution:
    """Partition one village (see the module docstring)."""
    n = len(p.atom_ids)
    notes: list[str] = []
    labels = np.full(n, -1, dtype=np.int64)
    keys: list[str] = []
    free = ~p.locked
    # locked atoms keep their previous grid
    for lab in np.unique(p.previous[p.locked]):
        members = np.flatnonzero(p.locked & (p.previous == lab))
        labels[members] = len(keys)
        keys.append(p.previous_codes[lab])
    free_idx = np.flatnonzero(free)
    if len(free_idx) == 0:
        return VillageSolution(p.village_code, labels, keys, len(keys), notes)
    local = np.full(n, -1)
    local[free_idx] = np.arange(len(free_idx))
    both = free[p.ei] & free[p.ej]
    fi, fj, flen = local[p.ei[both]], local[p.ej[both]], p.elen[both]
    fw = p.weight[free_idx]
    nf = len(free_idx)
    comp = connected_components(_csr(nf, fi, fj), directed=False)[1]
    comp_w = np.bincount(comp, fw)
    prev = p.previous[free_idx]
    prev_labels = np.unique(prev[prev >= 0])
    total = float(fw.sum())
    k_fresh = choose_k(total, p.target, p.band)
    use_previous = (
        len(prev_labels) > 0
        and comp.max() == 0
        and (p.band[0] <= total / len(prev_labels) <= p.band[1] or len(prev_labels) == k_fresh)
    )
    flabels = np.full(nf, -1, dtype=np.int64)
    stop_within = False
    if use_previous:
        stop_within = True
        remap = {int(lab): t for t, lab in enumerate(prev_labels)}
        has = prev >= 0
        flabels[has] = [remap[int(x)] for x in prev[has]]
        if (~has).any():  # new atoms take the grid of the nearest atom that has one
            near = _nearest_source(nf, fi, fj, np.flatnonzero(has))
            flabels[~has] = np.where(near[~has] >= 0, flabels[np.maximum(near[~has], 0)], 0)
        k_total = len(prev_labels)
        base = len(keys)
        keys.extend(p.previous_codes[int(lab)] for lab in prev_labels)
    else:
        base = len(keys)
        k_total = 0
        order = np.argsort(-comp_w, kind="stable")
        for c in order:
            if comp_w[c] == 0 and k_total > 0:
                continue  # empty islands join the nearest grid below
            sel = np.flatnonzero(comp == c)
            loc = np.full(nf, -1)
            loc[sel] = np.arange(len(sel))
            e = comp[fi] == c
            lab, kc, _ = _fresh_labels(p, free_idx[sel], loc[fi[e]], loc[fj[e]], flen[e], k_total)
            flabels[sel] = lab
            k_total += kc
        empty_islands = np.flatnonzero((comp_w == 0)[comp] & (flabels < 0))
        if len(empty_islands):
            placed = np.flatnonzero(flabels >= 0)
            tree = shapely.STRtree(shapely.points(p.xy[free_idx[placed]]))
            nearest = tree.query_nearest(shapely.points(p.xy[free_idx[empty_islands]]), all_matches=False)[1]
            flabels[empty_islands] = flabels[placed[nearest]]
            notes.append(
                f"{len(np.unique(comp[empty_islands]))} empty island(s) joined the nearest grid "
                "(not contiguous)"
            )
        if comp.max() > 0 and (comp_w > 0).sum() > 1:
            notes.append(
                f"village is in {int((comp_w > 0).sum())} separate populated pieces; each has own grids"
            )
        keys.extend(f"{p.village_code}#{t + 1}" for t in range(k_total))
        if len(prev_labels):
            notes.append(f"re-partitioned: previous {len(prev_labels)} grids, now {k_total}")
    # units: populated atoms with the empty land nearest to them inside the same grid
    populated = np.flatnonzero(fw > 0)
    if k_total > 1 and len(populated) > 1:
        same = flabels[fi] == flabels[fj]
        seed_of = _nearest_source(nf, fi[same], fj[same], populated)
        lost = seed_of < 0
        if lost.any():
            seed_all = _nearest_source(nf, fi, fj, populated)
            seed_of[lost] = seed_all[lost]
        reach = seed_of >= 0
        unit_of = np.full(nf, -1)
        unit_of[reach] = np.searchsorted(populated, seed_of[reach])
        ui, uj = unit_of[fi], unit_of[fj]
        cross = (ui != uj) & (ui >= 0) & (uj >= 0)
        ulabels = flabels[populated].copy()
        uw = fw[populated]
        _repair(ulabels, k_total, uw, ui[cross], uj[cross])
        if len(np.unique(comp[populated])) == 1:
            max_moves = 20 * len(populated)
            _refine(
                ulabels, k_total, uw, ui[cross], uj[cross], flen[cross], p.tolerance, stop_within, max_moves
            )
        flabels[reach] = ulabels[unit_of[reach]]
    labels[free_idx] = flabels + base
    # labels of grids that ended empty are dropped from the key list
    used = np.unique(labels[labels >= 0])
    remap = np.full(len(keys), -1)
    remap[used] = np.arange(len(used))
    labels = remap[labels]
    keys = [keys[u] for u in used]
    return VillageSolution(p.village_code, labels, keys, len(keys), notes)


def _solve_chunk(problems: list[VillageProblem]) -> list[VillageSolution]:
    return [solve_village(p) for p in problems]


# --------------------------------------------------------------------------------------
# whole plan


def _previous_codes(atoms: gpd.GeoDataFrame, previous) -> np.ndarray:
    """Previous grid code per atom ('' none) from a Series/DataFrame (atom_id → code) or a
    grid GeoDataFrame (code, geometry: atoms go by their representative point)."""
    n = len(atoms)
    if previous is None:
        return np.full(n, "", dtype=object)
    if isinstance(previous, gpd.GeoDataFrame) and "atom_id" not in previous.columns:
        if "code" not in previous.columns:
            raise InputError("previous grids need a 'code' column")
        rep = shapely.point_on_surface(atoms.geometry.to_crs(LOCAL_CRS).values)
        grids = previous.geometry.to_crs(LOCAL_CRS).values
        pi, gi = shapely.STRtree(grids).query(rep, predicate="within")
        out = np.full(n, "", dtype=object)
        out[pi] = previous["code"].astype(str).to_numpy()[gi]
        return out
    if isinstance(previous, pd.DataFrame):
        col = "grid_code" if "grid_code" in previous.columns else "grid"
        previous = previous.set_index("atom_id")[col]
    mapping = pd.Series(previous).astype(str)
    return atoms["atom_id"].map(mapping).fillna("").astype(str).to_numpy().astype(object)


def build_problems(
    atoms: gpd.GeoDataFrame,
    target: float = 400,
    band=(300, 500),
    tolerance: float = 0.10,
    previous=None,
    locked: Iterable[str] | None = None,
    seed: int = 0,
) -> tuple[list[VillageProblem], pd.DataFrame]:
    """Village problems (graph + weights) for every non-exclusive atom, and the exclusive
    assignment rows.  Adjacency is computed once for all atoms (STRtree, vectorized)."""
    required = {"atom_id", "village_code", "households"}
    missing = required - set(atoms.columns)
    if missing:
        raise InputError(f"atoms are missing columns {sorted(missing)}")
    atoms = atoms.reset_index(drop=True)
    site = (
        atoms["site_id"].fillna("").astype(str).to_numpy()
        if "site_id" in atoms.columns
        else np.full(len(atoms), "", dtype=object)
    )
    prev_code = _previous_codes(atoms, previous)
    exclusive = site != ""
    ex_rows = pd.DataFrame(
        {
            "atom_id": atoms["atom_id"].to_numpy()[exclusive],
            "village_code": atoms["village_code"].astype(str).to_numpy()[exclusive],
            "grid": [
                pc if pc else f"{v}#x{s}"
                for pc, v, s in zip(
                    prev_code[exclusive],
                    atoms["village_code"].astype(str).to_numpy()[exclusive],
                    site[exclusive],
                    strict=True,
                )
            ],
            "exclusive": True,
            "households": atoms["households"].to_numpy()[exclusive],
        }
    )
    regular = atoms[~exclusive].reset_index(drop=True)
    prev_code = prev_code[~exclusive]
    metric = regular.geometry.to_crs(LOCAL_CRS).values
    village = regular["village_code"].astype(str).to_numpy()
    adj = rook_adjacency(metric, village)
    rep = shapely.point_on_surface(metric)
    xy = np.column_stack([shapely.get_x(rep), shapely.get_y(rep)])
    weight = regular["households"].fillna(0).astype(np.int64).to_numpy()
    locked = set(locked or ())
    codes_v, vidx = np.unique(village, return_inverse=True)
    order = np.argsort(vidx, kind="stable")
    starts = np.searchsorted(vidx[order], np.arange(len(codes_v) + 1))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order)) - starts[vidx[order]]
    e_v = vidx[adj.i]
    e_order = np.argsort(e_v, kind="stable")
    e_starts = np.searchsorted(e_v[e_order], np.arange(len(codes_v) + 1))
    ids = regular["atom_id"].to_numpy()
    problems = []
    for v, code in enumerate(codes_v):
        rows = order[starts[v] : starts[v + 1]]
        es = e_order[e_starts[v] : e_starts[v + 1]]
        pcodes = prev_code[rows]
        names, plabels = np.unique(pcodes, return_inverse=True)
        plabels = np.where(pcodes == "", -1, plabels)
        problems.append(
            VillageProblem(
                village_code=str(code),
                atom_ids=ids[rows],
                weight=weight[rows],
                xy=xy[rows],
                ei=position[adj.i[es]],
                ej=position[adj.j[es]],
                elen=adj.length[es],
                locked=np.isin(pcodes, list(locked)) & (pcodes != ""),
                previous=plabels.astype(np.int64),
                previous_codes=[str(x) for x in names],
                target=target,
                band=tuple(band),
                tolerance=tolerance,
                seed=seed,
            )
        )
    return problems, ex_rows


def _village_table(
    assign: pd.DataFrame, solutions: dict[str, VillageSolution], tolerance: float, band
) -> pd.DataFrame:
    g = assign[~assign["exclusive"]].groupby(["village_code", "grid"], as_index=False)["households"].sum()
    agg = g.groupby("village_code")["households"].agg(["sum", "size", "mean", "min", "max", "std"])
    agg["std"] = g.groupby("village_code")["households"].std(ddof=0)
    g = g.merge(agg[["mean"]], left_on="village_code", right_index=True)
    g["dev"] = np.where(g["mean"] > 0, (g["households"] - g["mean"]).abs() / g["mean"], 0.0)
    dev = g.groupby("village_code")["dev"].max()
    out = pd.DataFrame(
        {
            "village_code": agg.index,
            "households": agg["sum"].to_numpy(),
            "k": agg["size"].to_numpy(),
            "mean": agg["mean"].to_numpy(),
            "min": agg["min"].to_numpy(),
            "max": agg["max"].to_numpy(),
            "max_rel_dev": dev.reindex(agg.index).to_numpy(),
            "cv": np.where(agg["mean"] > 0, agg["std"] / agg["mean"], 0.0),
        }
    )
    out["within_tolerance"] = out["max_rel_dev"] <= tolerance + 1e-9
    out["in_band"] = (out["mean"] >= band[0]) & (out["mean"] <= band[1])
    out["notes"] = ["; ".join(solutions[c].notes) if c in solutions else "" for c in out["village_code"]]
    return out.reset_index(drop=True)


def partition_plan(
    atoms: gpd.GeoDataFrame,
    target: int = 400,
    band: tuple[int, int] = (300, 500),
    tolerance: float = 0.10,
    previous=None,
    locked: Iterable[str] | None = None,
    n_jobs: int = 2,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 0,
) -> PartitionResult:
    """Partition all villages' atoms into grids (see the module docstring).

    Parameters
    ----------
    atoms : GeoDataFrame
        From :func:`gridmap.partition.atoms.build_atoms` (``atom_id``, ``village_code``,
        ``households``, polygons, any CRS); atoms with a non-empty ``site_id`` are
        exclusive grids (one per village and site) and are not partitioned.
    target, band, tolerance : households per grid, the hard band of village means, and the
        allowed relative deviation of a grid from its village mean.
    previous : Series | DataFrame | GeoDataFrame | None
        Existing plan: atom_id → grid code, or grid polygons with ``code``.
    locked : grid codes of ``previous`` whose atoms must not move.
    n_jobs : worker processes (villages are solved independently, in chunks).
    progress : called as ``progress(done_villages, total_villages)``.
    """
    t0 = time.perf_counter()
    problems, ex_rows = build_problems(atoms, target, band, tolerance, previous, locked, seed)
    t_graph = time.perf_counter() - t0
    trivial = [
        p
        for p in problems
        if p.weight.sum() <= band[1] and p.previous.max(initial=-1) < 0 and not p.locked.any()
    ]
    hard = [
        p
        for p in problems
        if not (p.weight.sum() <= band[1] and p.previous.max(initial=-1) < 0 and not p.locked.any())
    ]
    solutions: dict[str, VillageSolution] = {}
    for p in trivial:
        comps = (
            connected_components(_csr(len(p.weight), p.ei, p.ej), directed=False)[0] if len(p.weight) else 1
        )
        if comps == 1:
            solutions[p.village_code] = VillageSolution(
                p.village_code, np.zeros(len(p.weight), np.int64), [f"{p.village_code}#1"], 1
            )
        else:
            hard.append(p)
    done = len(solutions)
    if progress:
        progress(done, len(problems))
    jobs = max(1, min(n_jobs or os.cpu_count() or 1, len(hard)))
    if jobs > 1 and len(hard) > 8:
        hard.sort(key=lambda p: -len(p.weight))
        chunks = [hard[c :: jobs * 4] for c in range(jobs * 4)]
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for result in pool.map(_solve_chunk, chunks):
                for s in result:
                    solutions[s.village_code] = s
                done += len(result)
                if progress:
                    progress(done, len(problems))
    else:
        for p in hard:
            s = solve_village(p)
            solutions[s.village_code] = s
            done += 1
            if progress and done % 50 == 0:
                progress(done, len(problems))
    frames = []
    for p in problems:
        s = solutions[p.village_code]
        frames.append(
            pd.DataFrame(
                {
                    "atom_id": p.atom_ids,
                    "village_code": p.village_code,
                    "grid": np.asarray(s.keys, dtype=object)[s.labels],
                    "exclusive": False,
                    "households": p.weight,
                }
            )
        )
    assign = pd.concat([*frames, ex_rows], ignore_index=True) if frames else ex_rows
    assign = _keep_previous_codes(assign, atoms, previous)
    villages = _village_table(assign, solutions, tolerance, band)
    report = _report(assign, villages, atoms, previous, solutions, tolerance, band)
    report["seconds"] = round(time.perf_counter() - t0, 3)
    report["seconds_graph"] = round(t_graph, 3)
    return PartitionResult(assignment=assign, villages=villages, report=report)


def _keep_previous_codes(assign: pd.DataFrame, atoms: gpd.GeoDataFrame, previous) -> pd.DataFrame:
    """New grids of a re-partitioned village inherit the previous code they overlap most
    (by households, then atoms), one code per grid, so codes stay stable."""
    if previous is None:
        return assign
    prev = pd.Series(
        _previous_codes(atoms.reset_index(drop=True), previous), index=atoms["atom_id"].to_numpy()
    )
    fresh = assign["grid"].str.contains("#") & ~assign["exclusive"]
    if not fresh.any():
        return assign
    sub = assign[fresh].assign(prev=prev.reindex(assign.loc[fresh, "atom_id"]).to_numpy())
    sub = sub[sub["prev"] != ""]
    used = set(assign.loc[~fresh, "grid"])
    overlap = (
        sub.groupby(["grid", "prev"])
        .agg(hh=("households", "sum"), n=("atom_id", "size"))
        .reset_index()
        .sort_values(["hh", "n", "grid", "prev"], ascending=[False, False, True, True])
    )
    rename: dict[str, str] = {}
    for grid, code in zip(overlap["grid"], overlap["prev"], strict=True):
        if grid in rename or code in used:
            continue
        rename[grid] = code
        used.add(code)
    assign = assign.copy()
    assign["grid"] = assign["grid"].map(lambda g: rename.get(g, g))
    return assign


def _report(assign, villages, atoms, previous, solutions, tolerance, band) -> dict:
    grid_hh = assign.groupby("grid")["households"].sum()
    report = {
        "villages": int(len(villages)),
        "grids": int(assign["grid"].nunique()),
        "atoms": int(len(assign)),
        "households": int(assign["households"].sum()),
        "villages_outside_tolerance": villages.loc[~villages["within_tolerance"], "village_code"].tolist(),
        "villages_outside_band": villages.loc[~villages["in_band"], "village_code"].tolist(),
        "share_villages_within_tolerance": float(villages["within_tolerance"].mean())
        if len(villages)
        else 1.0,
        "grid_households_min": int(grid_hh.min()) if len(grid_hh) else 0,
        "grid_households_max": int(grid_hh.max()) if len(grid_hh) else 0,
        "notes": {c: s.notes for c, s in solutions.items() if s.notes},
    }
    if previous is not None:
        prev = pd.Series(
            _previous_codes(atoms.reset_index(drop=True), previous), index=atoms["atom_id"].to_numpy()
        )
        before = prev.reindex(assign["atom_id"]).to_numpy()
        moved = (before != "") & (before != assign["grid"].to_numpy())
        report["atoms_moved"] = int(moved.sum())
        report["households_moved"] = int(assign.loc[moved, "households"].sum())
        report["atoms_new"] = int((before == "").sum())
    return report


def partition_graph(
    weight: np.ndarray,
    ei: np.ndarray,
    ej: np.ndarray,
    length: np.ndarray,
    k: int,
    tolerance: float = 0.10,
    seed: int = 0,
) -> np.ndarray:
    """Split one connected atom graph into ``k`` contiguous, balanced parts (labels 0..k-1).

    Same method as a village (contraction of empty atoms, METIS, repair, refinement); used
    by planner edits (split a grid).  Fewer parts come back when there are fewer populated
    atoms than ``k``.
    """
    n = len(weight)
    populated = np.flatnonzero(weight > 0)
    k = max(1, min(k, len(populated)))
    if k == 1 or n <= 1:
        return np.zeros(n, dtype=np.int64)
    seed_of = _nearest_source(n, ei, ej, populated)
    reach = seed_of >= 0
    unit_of = np.full(n, -1)
    unit_of[reach] = np.searchsorted(populated, seed_of[reach])
    ui, uj = unit_of[ei], unit_of[ej]
    cross = (ui != uj) & (ui >= 0) & (uj >= 0)
    uw = weight[populated]
    ulabels = _metis(k, len(populated), ui[cross], uj[cross], length[cross], uw, seed)
    _repair(ulabels, k, uw, ui[cross], uj[cross])
    _refine(ulabels, k, uw, ui[cross], uj[cross], length[cross], tolerance, False, 20 * len(populated))
    labels = np.zeros(n, dtype=np.int64)
    labels[reach] = ulabels[unit_of[reach]]
    used = np.unique(labels)
    return np.searchsorted(used, labels)


def partition_village(
    atoms: gpd.GeoDataFrame,
    target: int = 400,
    band: tuple[int, int] = (300, 500),
    tolerance: float = 0.10,
    previous=None,
    locked: Iterable[str] | None = None,
    seed: int = 0,
) -> PartitionResult:
    """:func:`partition_plan` for the atoms of a single village, in this process."""
    villages = atoms["village_code"].astype(str).unique()
    if len(villages) != 1:
        raise InputError(f"partition_village needs the atoms of one village, got {len(villages)}")
    return partition_plan(atoms, target, band, tolerance, previous, locked, n_jobs=1, seed=seed)
