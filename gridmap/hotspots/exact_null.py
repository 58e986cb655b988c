"""Exact conditional-randomisation tails of neighbour sums for integer values (case counts).

Under conditional randomisation unit ``i`` keeps its value and its ``k_i`` neighbour
slots receive a uniformly random ``k_i``-subset of the other ``n − 1`` units.  For integer
values the distribution of that subset's sum can be computed exactly:

1. Over the whole population, the number of ``j``-subsets with sum ``s`` is the
   coefficient of ``x^j t^s`` in ``Π_v (1 + x t^v)^{c_v}`` (``c_v`` units have value ``v``):
   a small dynamic programme over the distinct values, ``j <= k_max``.
2. Leaving out unit ``i`` (value ``u``) divides that polynomial by ``(1 + x t^u)``; in
   probabilities ``q_j(s) = (n p_j(s) − j q_{j−1}(s − u)) / (n − j)``, where ``p_j`` and
   ``q_j`` are the sum distributions of a random ``j``-subset with and without unit ``i``.
   The subtracted term is the small share of subsets containing ``i``, so the recursion
   is numerically stable.

The result depends only on ``(k_i, value of i)``, so all units are served by one small
table per distinct pair: O(n) overall instead of ``n × permutations × k`` random draws.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pandas as pd
from scipy.special import gammaln

#: numba is there: the table and the tails run as compiled kernels (gridmap/hotspots/_exact_null_kernels.py,
#: imported on first use); without it the numpy programme below runs
HAS_NUMBA = importlib.util.find_spec("numba") is not None

#: largest sum range (k_max × value spread) handled exactly
MAX_SUM_RANGE = 4_000_000
#: working-set bound (floats) for the per-value tables
MAX_TABLE = 1_000_000
#: one-unit values whose rows reach fewer columns are added as one rectangle (a numpy call
#: costs about as much as adding a few thousand floats)
_RECTANGLE_REACH = 1_000
#: the compiled kernels when numba is there (the numpy programme gives the same floats: tests
#: switch this off to compare the two bit for bit)
_KERNELS = HAS_NUMBA


def exact_feasible(values: np.ndarray, cardinalities: np.ndarray) -> bool:
    """Integer values, a bounded sum range and subset counts that fit a float64."""
    n = len(values)
    k_max = int(cardinalities.max(initial=0))
    if n < 2 or k_max == 0 or k_max > n - 1:
        return False
    if not np.array_equal(values, np.round(values)):
        return False
    spread = float(values.max() - values.min())
    if k_max * spread > MAX_SUM_RANGE:
        return False
    log10_subsets = (gammaln(n + 1) - gammaln(k_max + 1) - gammaln(n - k_max + 1)) / math.log(10)
    return bool(log10_subsets < 290)


def _levels(shifted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (ascending) and their counts: ``np.unique(shifted, return_counts=True)``."""
    top = int(shifted.max(initial=0))
    if top <= 4 * len(shifted) + 1024:  # a histogram instead of a sort
        histogram = np.bincount(shifted, minlength=top + 1)
        levels = np.flatnonzero(histogram)
        return levels, histogram[levels]
    return np.unique(shifted, return_counts=True)


def _population_subset_sums(shifted: np.ndarray, k_max: int, width: int) -> np.ndarray:
    """p[j, s]: probability that a uniform random j-subset of all units sums to s (j <= k_max)."""
    levels, counts = _levels(shifted)
    return _subset_sum_table(levels, counts, len(shifted), k_max, width)


def _top_sums(levels: np.ndarray, counts: np.ndarray, k_max: int) -> list[int]:
    """[s_0, …, s_k_max]: s_j is the sum of the j largest units (0 for j = 0; needs k_max units)."""
    top = np.repeat(levels[::-1][:k_max], np.minimum(counts[::-1][:k_max], k_max))[:k_max]
    return [0, *np.cumsum(top).tolist()]


def _zeros(shape: tuple[int, int]) -> np.ndarray:
    """``np.zeros(shape)``, from a block of at least 4 MiB when the table is over 256 KiB: numpy
    asks for huge pages from 4 MiB on, and in a fresh process their few page faults cost less
    than one per 4 KiB of table (at most 4 MiB more memory, for tables under 4 MiB)."""
    size = shape[0] * shape[1]
    if size <= 1 << 15:
        return np.zeros(shape)
    return np.zeros(max(size, 1 << 19))[:size].reshape(shape)


def _subset_counts(n: int, k_max: int) -> np.ndarray:
    """[C(n, 0), …, C(n, k_max)] as floats (from log-gamma): what each table row is divided by."""
    j = np.arange(k_max + 1)
    return np.exp(gammaln(n + 1) - gammaln(j + 1) - gammaln(n - j + 1))


def _subset_sum_table(levels: np.ndarray, counts: np.ndarray, n: int, k_max: int, width: int) -> np.ndarray:
    """:func:`_population_subset_sums` from the distinct values (ascending) and their counts.

    The compiled kernel :func:`gridmap.hotspots._exact_null_kernels.subset_sum_kernel` when numba is there, else
    :func:`_subset_sum_table_numpy`: the same floats either way.
    """
    if _KERNELS:
        levels = np.ascontiguousarray(levels, dtype=np.int64)
        counts = np.ascontiguousarray(counts, dtype=np.int64)
        # numpy allocates the tables: large ones on huge pages (far fewer page faults in a fresh
        # process than numba's allocator)
        ways = _zeros((k_max + 1, width))
        from gridmap.hotspots._exact_null_kernels import subset_sum_kernel

        subset_sum_kernel(levels, counts, _subset_counts(n, k_max), ways)
        return ways
    return _subset_sum_table_numpy(levels, counts, n, k_max, width)


def _subset_sum_table_numpy(
    levels: np.ndarray, counts: np.ndarray, n: int, k_max: int, width: int
) -> np.ndarray:
    """:func:`_subset_sum_table` in numpy (the fallback without numba).

    A dynamic programme over the distinct values in increasing order: adding ``c`` units of
    value ``v`` sends row ``j − a`` (shifted ``a v`` columns, weighted ``C(c, a)``) into row
    ``j``.  Every add reads the table as it was before the value (the rows it writes are
    never read by the same value), and touches only the columns a row can reach so far:
    ``reach[j]``, the largest sum of ``j`` units seen, beyond which row ``j`` is zero.

    The rows share numpy operations where that saves more interpreter work than it costs in
    arithmetic on zeros: rows ``1…`` as one rectangle per ``a`` (for a value held by several
    units, or a one-unit value while the rows are short; long rows of a one-unit value are
    added one by one, top down), row 0 (the empty set) as single elements.  Each table entry
    still receives the same terms in the same order (``a`` ascending, values ascending) as
    in the one-row-at-a-time programme; the extra terms are exact zeros (``x + b·0 = x``),
    so the table is the same to the last bit (see ``test_exact_tails_bit_identical_to_one_row_programme``
    in ``tests/hotspots/test_hotspots_permutation.py``).
    """
    keep = levels < width
    levels, counts = levels[keep], counts[keep]
    ways = np.zeros((k_max + 1, width))
    ways[0, 0] = 1.0
    rows = list(ways)  # 1-D views: cheaper to slice than the 2-D table
    last = width - 1
    # reach before each value: the sum of the j largest units of the smaller values (-1: fewer
    # than j units), from the prefix sums of the sorted units
    # (k_max copies of a value are as many as any row can take)
    copies = np.minimum(counts, k_max)
    prefix = np.concatenate(([0], np.cumsum(np.repeat(levels, copies))))
    before = np.cumsum(copies) - copies  # units with a smaller value (at most k_max of each)
    j = np.arange(k_max + 1)
    reaches = np.where(
        before[:, None] >= j, prefix[before][:, None] - prefix[np.maximum(before[:, None] - j, 0)], -1
    )
    np.minimum(reaches, last, out=reaches)
    for level, count, reach, done in zip(
        levels.tolist(), counts.tolist(), reaches.tolist(), before.tolist(), strict=True
    ):
        filled = min(done, k_max)  # rows 0..filled hold subsets
        if count == 1:
            top = min(filled, k_max - 1)
            if top >= 1:
                if reach[top] < _RECTANGLE_REACH:
                    hi = min(reach[top] + level, last)
                    target = ways[2 : top + 2, level : hi + 1]  # a view: `+=` on it, no __setitem__
                    target += ways[1 : top + 1, : hi + 1 - level]
                else:  # long rows: one add per row, top down, each on its own reach
                    for r in range(top, 0, -1):
                        hi = min(reach[r] + level, last)
                        target = rows[r + 1][level : hi + 1]
                        target += rows[r][: hi + 1 - level]
            rows[1][level] += 1.0
            continue
        binomials = []
        binomial = 1.0
        for a in range(1, min(count, k_max) + 1):
            binomial = binomial * (count - a + 1) / a  # C(count, a), as the one-row programme
            if a * level >= width:
                break
            binomials.append(binomial)
        # every term from the table as it was before this value, then added in order of a
        made = []
        for a, b in enumerate(binomials, start=1):
            top_a = min(filled, k_max - a)  # source rows 1..top_a (row 0 below)
            if top_a < 1:
                break
            shift = a * level
            hi = min(reach[top_a] + shift, last)
            made.append((a, top_a, shift, hi, ways[1 : top_a + 1, : hi + 1 - shift] * b))
        for a, top_a, shift, hi, term in made:
            target = ways[a + 1 : a + top_a + 1, shift : hi + 1]
            target += term
        for a, b in enumerate(binomials, start=1):
            rows[a][a * level] += b  # the empty set plus a units of this value
    ways /= _subset_counts(n, k_max)[:, None]  # in place: no second table
    return ways


def exact_tails(
    values: np.ndarray,
    cardinalities: np.ndarray,
    observed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact P(sum > observed), P(sum = observed), P(sum < observed) per unit.

    Parameters
    ----------
    values : numpy.ndarray
        (n,) integer-valued floats (see :func:`exact_feasible`).
    cardinalities : numpy.ndarray
        (n,) neighbours per unit.
    observed : numpy.ndarray
        (n,) observed neighbour sums.

    Summed over ``s >= x``, the leave-one-out recursion of the module docstring becomes one
    for tails: ``Q_j(>= x) = (n P_j(>= x) − j Q_{j−1}(>= x − u)) / (n − j)`` with
    ``Q_0(>= x) = [x <= 0]`` — and likewise for ``<=`` and for the point probability.  So
    each unit needs only ``k_i`` look-ups into the cumulative population tables: O(n k)
    after the tables, whatever the number of distinct values.  Each tail is computed from
    its own side (never as 1 − the other), so small tails keep their relative precision.

    Units without neighbours get (0, 1, 0): their sum is always 0 = observed.
    """
    n = len(values)
    base = values.min()
    shifted = np.rint(values - base).astype(np.int64)
    k_max = int(cardinalities.max())
    width = k_max * int(shifted.max()) + 1
    levels, counts = _levels(shifted)
    p = _subset_sum_table(levels, counts, n, k_max, width)  # (k_max + 1, width)
    # row j is zero beyond the sum of the j largest units: its cumulative sums stop there
    # (past it P_j(>= s) is 0 and P_j(<= s) keeps its last value: adding zeros changes nothing)
    reaches = [min(s, width - 1) for s in _top_sums(levels, counts, k_max)]
    if _KERNELS:
        x = np.rint(observed - cardinalities * base).astype(np.int64)
        k = np.ascontiguousarray(cardinalities, dtype=np.int64)
        table = np.empty((max(reaches) + 3, 3))
        from gridmap.hotspots._exact_null_kernels import tails_kernel

        return tails_kernel(p, np.array(reaches, dtype=np.int64), n, k, shifted, x, table)

    has_neighbours = cardinalities > 0
    active = None if has_neighbours.all() else np.flatnonzero(has_neighbours)
    if active is None:  # no islands: no copies
        k, own = cardinalities, shifted
        x = np.rint(observed - k * base).astype(np.int64)
    else:
        k = cardinalities[active]
        own = shifted[active]
        x = np.rint(observed[active] - k * base).astype(np.int64)
    # the tails depend on (k, own value, observed sum) only, and most units share their triple
    # with many others (zeros next to zeros): compute each distinct triple once
    expand = None
    x_low = int(x.min(initial=0))
    spans = (k_max + 1, int(own.max(initial=0)) + 1, int(x.max(initial=0)) - x_low + 1)
    if len(k) > 1000 and float(spans[0]) * spans[1] * spans[2] < 2.0**62:
        key = (k * spans[1] + own) * spans[2] + (x - x_low)
        space = spans[0] * spans[1] * spans[2]
        if space <= 4 * len(key) + 1_000_000:  # small key space: a table instead of a hash
            seen = np.zeros(space, dtype=bool)
            seen[key] = True
            distinct = np.flatnonzero(seen)
            del seen
            # rank of each distinct key, written only where keys are (the rest stays untouched)
            rank = np.empty(space, dtype=np.min_scalar_type(len(distinct)))
            rank[distinct] = np.arange(len(distinct))
            expand = rank[key]
            key = distinct
            del rank
        else:
            expand, key = pd.factorize(key)  # distinct keys in order of appearance
        x = key % spans[2] + x_low
        key //= spans[2]
        own = key % spans[1]
        k = key // spans[1]
        del key
    # triples by k, largest first: the units still running at step j are a prefix
    order = np.argsort(-k, kind="stable")
    k, own, x = k[order], own[order], x[order]
    running = np.searchsorted(-k, -np.arange(k_max + 1), side="right")  # running[j]: how many k >= j

    # recursion from j = 1 up to each unit's k, all units at once (units with smaller k stop early)
    # the three tails side by side: rows P(>=), P(<=), P(=)
    tails = np.empty((3, len(k)))
    tails[0] = x - k * own <= 0  # Q_0(>= x - k u): the empty set sums to 0
    tails[1] = x - k * own >= 0
    tails[2] = x - k * own == 0
    buffer = np.empty((3, max(reaches) + 3))  # one allocation for every row's lookup table
    for j in range(1, k_max + 1):
        m = int(running[j])
        reach = reaches[j]
        row = p[j, : reach + 1]
        # at step j the target is x − (k − j) u: what the j drawn units must reach
        target = x[:m] - (k[:m] - j) * own[:m]
        low, high = int(target.min()), int(target.max())
        # row j's P_j(>= s), P_j(<= s), P_j(= s) at position s + 1 for s = -1 (below the table:
        # 1, 0, 0), 0..reach, and reach + 1 (past the row's reach: 0, the row's total, 0); the
        # sums run from their own end of the row only as far as some target needs
        table = buffer[:, : reach + 3]
        table[:, 0] = (1.0, 0.0, 0.0)
        first = min(max(low, 0), reach)
        np.cumsum(row[first:][::-1], out=table[0, reach + 1 : first : -1])
        if high > reach:
            np.cumsum(row, out=table[1, 1 : reach + 2])
            table[1, reach + 2] = table[1, reach + 1]
        elif high >= 0:
            np.cumsum(row[: high + 1], out=table[1, 1 : high + 2])
        table[2, 1 : reach + 2] = row
        table[0, reach + 2] = table[2, reach + 2] = 0.0
        found = table[:, np.clip(target, -1, reach + 1) + 1]
        if high >= width:  # past the table's width P_j(<= s) is 1 (not reached by sums of counts)
            found[1, target >= width] = 1.0
        tails[:, :m] = np.clip((n * found - j * tails[:, :m]) / (n - j), 0.0, 1.0)
    ge, le, eq = tails
    eq = np.minimum(eq, np.minimum(ge, le))
    gt = np.clip(ge - eq, 0.0, 1.0)
    lt = np.clip(le - eq, 0.0, 1.0)
    # back to the order of the triples, then to the units
    for tail in (gt, eq, lt):
        tail[order] = tail.copy()
    if expand is not None:
        gt, eq, lt = gt[expand], eq[expand], lt[expand]
    if active is None:
        return gt, eq, lt
    p_gt = np.zeros(n)
    p_eq = np.ones(n)
    p_lt = np.zeros(n)
    p_gt[active] = gt
    p_lt[active] = lt
    p_eq[active] = eq
    return p_gt, p_eq, p_lt


def sample_counts(
    p_gt: np.ndarray,
    p_eq: np.ndarray,
    permutations: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of ≥ and ≤ among ``permutations`` independent draws, sampled from exact tails.

    ``#greater ~ Binomial(P, p_gt)`` then ``#equal ~ Binomial(P − #greater, p_eq / (1 − p_gt))``:
    exactly the joint law of the counts from ``P`` draws one by one.
    """
    gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(2**32 - 1,))))
    greater = gen.binomial(permutations, p_gt)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(p_gt < 1.0, p_eq / (1.0 - p_gt), 0.0)
    equal = gen.binomial(permutations - greater, np.clip(share, 0.0, 1.0))
    return greater + equal, permutations - greater
