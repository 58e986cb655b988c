"""Conditional randomisation of neighbour sums, vectorised with numpy.

The engine behind the permutation inference of :mod:`gridmap.hotspots.getis_ord`
and :mod:`gridmap.hotspots.moran`.  For every unit ``i`` with ``k_i`` neighbours it
draws ``k_i`` *other* units without replacement from the ``n - 1`` units that are not
``i`` (unit ``i`` keeps its own value: the randomisation is conditional on it), sums
their values, and counts how many of the ``permutations`` random sums are at least /
at most the observed neighbour sum.  Both local statistics are monotone in that sum
for a fixed ``i`` (Gi* increasing; local Moran increasing or decreasing with the sign
of ``z_i``), so the counts give their pseudo p-values directly.

Random streams
    Units are cut into fixed *stream groups* of :data:`STREAM_GROUP` consecutive
    units; group ``g`` draws from its own generator
    ``PCG64(SeedSequence(entropy=seed, spawn_key=(g,)))``.  Results therefore depend
    only on (seed, values, weights, permutations): never on ``block_units`` nor on
    ``n_jobs``.  Within a group the units draw in a fixed order, so every unit's draws
    are disjoint from every other unit's and independent of them.

Exactness
    Indices come from ``Generator.integers`` (Lemire's unbiased bounded integers);
    a sample that repeats an index is redrawn whole, which is exact rejection
    sampling of a ``k``-subset (repeats are rare: about ``k²/2n`` per sample).
    Ties are counted on both sides: a random sum equal to the observed one counts as
    "at least" *and* "at most" as extreme (esda counts it on the upper side only).

Exact engine
    For integer values (case counts) the default engine does not draw neighbour sets one
    by one: each unit's exact null distribution is computed (it depends only on ``k_i``
    and the unit's own value, see :mod:`gridmap.hotspots.exact_null`) and its counts of
    ≥/≤ among ``permutations`` draws are sampled from it with two binomials.  Those counts
    have exactly the joint distribution of the draw-by-draw procedure; the cost is O(n)
    instead of ``n × permutations × k``.  ``engine="draws"`` forces drawing.

Memory
    One task holds ``k × block_units × permutations`` int32 indices plus as many
    float64 values: about 15 MB for ``k = 6``, 64 units and 999 permutations.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gridmap.errors import InputError
from gridmap.hotspots.exact_null import exact_feasible, exact_tails, sample_counts

#: units per independent random stream (fixed: changing it changes the draws)
STREAM_GROUP = 64


@dataclass(frozen=True)
class NeighbourSumCounts:
    """How extreme each observed neighbour sum is among its random sums.

    ``at_least[i]`` random sums were >= the observed sum and ``at_most[i]`` were <= it
    (ties count in both); ``seed`` is the entropy that reproduces the draws; ``engine``
    says how they were made.  With the exact engine ``tail_at_least``/``tail_at_most`` hold
    the exact probabilities P(sum >= observed) and P(sum <= observed).
    """

    at_least: np.ndarray
    at_most: np.ndarray
    permutations: int
    seed: int
    engine: str
    tail_at_least: np.ndarray | None = None
    tail_at_most: np.ndarray | None = None

    @property
    def p_exact(self) -> np.ndarray | None:
        """Exact conditional-randomisation p: the limit of the pseudo p for infinitely many draws."""
        if self.tail_at_least is None or self.tail_at_most is None:
            return None
        return np.minimum(np.minimum(self.tail_at_least, self.tail_at_most), 1.0)


def folded_pseudo_p(at_least: np.ndarray, at_most: np.ndarray, permutations: int) -> np.ndarray:
    """esda's pseudo p-value: (extreme + 1) / (permutations + 1), extreme = the smaller tail count."""
    extreme = np.minimum(at_least, at_most)
    return (extreme + 1.0) / (permutations + 1.0)


def resolve_seed(seed: int | None) -> int:
    """A concrete integer seed (fresh OS entropy when ``seed`` is None), recorded in results."""
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def _has_repeat(idx: np.ndarray) -> np.ndarray:
    """Boolean per column of (k, m) ``idx``: does the column contain a repeated value?"""
    k = idx.shape[0]
    if k < 2:
        return np.zeros(idx.shape[1], dtype=bool)
    if k <= 12:  # pairwise comparisons of contiguous rows beat a sort for small k
        repeat = idx[0] == idx[1]
        for a in range(k - 1):
            for b in range(a + 1, k):
                if (a, b) != (0, 1):
                    repeat |= idx[a] == idx[b]
        return repeat
    ordered = np.sort(idx, axis=0)
    return (ordered[1:] == ordered[:-1]).any(axis=0)


def _draw_subsets(gen: np.random.Generator, n: int, k: int, owners: np.ndarray, dtype) -> np.ndarray:
    """(k, len(owners)) indices: column c is a uniform k-subset of range(n) without owners[c]."""
    m = len(owners)
    idx = gen.integers(0, n - 1, size=(k, m), dtype=dtype)
    idx += idx >= owners  # skip the unit itself: n-1 candidates mapped onto range(n) \ {i}
    todo = np.flatnonzero(_has_repeat(idx))
    while len(todo):
        fresh = gen.integers(0, n - 1, size=(k, len(todo)), dtype=dtype)
        fresh += fresh >= owners[todo]
        idx[:, todo] = fresh
        todo = todo[_has_repeat(fresh)]
    return idx


def _count_group(
    group: int,
    values: np.ndarray,
    observed: np.ndarray,
    tolerance: np.ndarray,
    cardinalities: np.ndarray,
    permutations: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(values)
    start = group * STREAM_GROUP
    stop = min(n, start + STREAM_GROUP)
    gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(group,))))
    at_least = np.zeros(stop - start, dtype=np.int64)
    at_most = np.zeros(stop - start, dtype=np.int64)
    ks = cardinalities[start:stop]
    distinct = [int(ks[0])] if ks.min() == ks.max() else np.unique(ks).tolist()
    for k in distinct:  # ascending: a fixed draw order within the group
        local = np.arange(stop - start) if len(distinct) == 1 else np.flatnonzero(ks == k)
        if k == 0:  # an island: its neighbour sum is 0 in every permutation, a tie each time
            at_least[local] = permutations
            at_most[local] = permutations
            continue
        units = start + local
        # int64 indices: take() gathers them without an internal conversion
        idx = _draw_subsets(gen, n, k, np.repeat(units, permutations), np.int64)
        sums = values.take(idx).sum(axis=0).reshape(len(local), permutations)
        obs = observed[units][:, None]
        tol = tolerance[units][:, None]
        at_least[local] = (sums >= obs - tol).sum(axis=1)
        at_most[local] = (sums <= obs + tol).sum(axis=1)
    return at_least, at_most


ENGINES = ("auto", "exact", "draws")


def neighbour_sum_counts(
    values: np.ndarray,
    adjacency: sp.csr_matrix,
    permutations: int,
    seed: int | None = None,
    n_jobs: int = 1,
    block_units: int = STREAM_GROUP,
    engine: str = "auto",
) -> NeighbourSumCounts:
    """Conditional-permutation counts for the neighbour sums ``adjacency @ values``.

    Parameters
    ----------
    values : numpy.ndarray
        (n,) float values per unit.
    adjacency : scipy.sparse.csr_matrix
        (n, n) binary neighbours, zero diagonal.
    permutations : int
        random samples per unit (>= 1).
    seed : int or None
        None → fresh entropy; the value used is returned in the result.
    n_jobs : int
        threads (numpy releases the GIL in the heavy loops); -1 → all cores.
    block_units : int
        units per task; rounded up to a multiple of :data:`STREAM_GROUP`.  Only memory
        and scheduling depend on it, never the result.
    engine : {"auto", "exact", "draws"}
        ``draws``: sample every neighbour set as described in the module docstring.
        ``exact``: for integer values (counts) compute each unit's exact null distribution
        (:mod:`gridmap.hotspots.exact_null`) and sample its counts of ≥/≤ among
        ``permutations`` draws from it — the same joint law as drawing one by one, in O(n).
        ``auto``: ``exact`` when the values allow it, else ``draws``.
    """
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {ENGINES}, got {engine!r}")
    values = np.ascontiguousarray(values, dtype=np.float64)
    n = len(values)
    if not np.isfinite(values).all():
        raise InputError("values contain NaN or infinite entries")
    if permutations < 1:
        raise InputError(f"permutations must be >= 1, got {permutations}")
    cardinalities = np.diff(adjacency.indptr).astype(np.int64)
    if n and cardinalities.max(initial=0) > n - 1:
        raise InputError("a unit has more neighbours than there are other units")
    seed = resolve_seed(seed)
    observed = np.asarray(adjacency @ values).ravel()
    if engine != "draws":
        feasible = exact_feasible(values, cardinalities)
        if engine == "exact" and not feasible:
            raise InputError("the exact engine needs integer values (counts) with a bounded range")
        if feasible:
            p_gt, p_eq, p_lt = exact_tails(values, cardinalities, observed)
            at_least, at_most = sample_counts(p_gt, p_eq, permutations, seed)
            return NeighbourSumCounts(
                at_least,
                at_most,
                permutations,
                seed,
                "exact",
                tail_at_least=np.minimum(p_gt + p_eq, 1.0),
                tail_at_most=np.minimum(p_lt + p_eq, 1.0),
            )
    scale = np.abs(values).max(initial=0.0)
    k_max = int(cardinalities.max(initial=0))
    if np.array_equal(values, np.round(values)) and scale * max(k_max, 1) < 2**24:
        # counts: float32 sums are exact and gather faster; ties are exact equalities
        values = values.astype(np.float32)
        observed = observed.astype(np.float32)
        tolerance = np.zeros(n, dtype=np.float32)
    else:
        # sums are formed in another order than the sparse product: treat as ties what
        # differs only by rounding
        tolerance = 1e-10 * np.maximum(cardinalities, 1) * max(scale, 1e-300)
    n_groups = -(-n // STREAM_GROUP)
    groups_per_task = max(1, -(-int(block_units) // STREAM_GROUP))
    tasks = [range(t, min(n_groups, t + groups_per_task)) for t in range(0, n_groups, groups_per_task)]

    at_least = np.zeros(n, dtype=np.int64)
    at_most = np.zeros(n, dtype=np.int64)

    def run(task: range) -> None:
        for g in task:
            lo, hi = _count_group(g, values, observed, tolerance, cardinalities, permutations, seed)
            start = g * STREAM_GROUP
            at_least[start : start + len(lo)] = lo
            at_most[start : start + len(hi)] = hi

    workers = _workers(n_jobs)
    if workers == 1 or len(tasks) == 1:
        for task in tasks:
            run(task)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, tasks))
    return NeighbourSumCounts(at_least, at_most, permutations, seed, "draws")


def _workers(n_jobs: int) -> int:
    import os

    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise InputError(f"n_jobs must be >= 1 or -1, got {n_jobs}")
    return n_jobs
