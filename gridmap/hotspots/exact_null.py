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

import math

import numpy as np
from scipy.special import gammaln

#: largest sum range (k_max × value spread) handled exactly
MAX_SUM_RANGE = 4_000_000
#: working-set bound (floats) for the per-value tables
MAX_TABLE = 1_000_000


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


def _population_subset_sums(shifted: np.ndarray, k_max: int, width: int) -> np.ndarray:
    """p[j, s]: probability that a uniform random j-subset of all units sums to s (j <= k_max).

    Values are added in increasing order, rows from the top down (so every row reads rows
    below it before they change: no copy of the table), and each add touches only the
    columns a row can reach so far (``reach``): the cost is the occupied part of the table,
    not ``distinct values × k_max × width``.
    """
    n = len(shifted)
    levels, counts = np.unique(shifted, return_counts=True)
    ways = np.zeros((k_max + 1, width))
    ways[0, 0] = 1.0
    reach = [0] + [-1] * k_max  # reach[j]: last column row j may be non-zero in
    for level, count in zip(levels.tolist(), counts.tolist(), strict=True):
        if level >= width:
            continue
        for j in range(k_max, 0, -1):
            binomial = 1.0
            for a in range(1, min(count, j) + 1):
                binomial = binomial * (count - a + 1) / a  # C(count, a)
                source, shift = j - a, a * level
                if shift >= width:
                    break
                if reach[source] < 0:  # no subset of that size yet
                    continue
                hi = min(reach[source] + shift, width - 1)
                if binomial == 1.0:
                    ways[j, shift : hi + 1] += ways[source, : hi + 1 - shift]
                else:
                    ways[j, shift : hi + 1] += binomial * ways[source, : hi + 1 - shift]
                reach[j] = max(reach[j], hi)
    log_subsets = gammaln(n + 1) - gammaln(np.arange(k_max + 1) + 1) - gammaln(n - np.arange(k_max + 1) + 1)
    return ways / np.exp(log_subsets)[:, None]


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
    p = _population_subset_sums(shifted, k_max, width)  # (k_max + 1, width)
    at_least = np.cumsum(p[:, ::-1], axis=1)[:, ::-1]  # P_j(>= s)
    at_most = np.cumsum(p, axis=1)  # P_j(<= s)

    active = np.flatnonzero(cardinalities > 0)
    k = cardinalities[active]
    own = shifted[active]
    x = np.rint(observed[active] - k * base).astype(np.int64)
    # the tails depend on (k, own value, observed sum) only, and most units share their triple
    # with many others (zeros next to zeros): compute each distinct triple once
    expand = None
    x_low = int(x.min(initial=0))
    spans = (k_max + 1, int(own.max(initial=0)) + 1, int(x.max(initial=0)) - x_low + 1)
    if len(active) > 1000 and float(spans[0]) * spans[1] * spans[2] < 2.0**62:
        key = (k * spans[1] + own) * spans[2] + (x - x_low)
        space = spans[0] * spans[1] * spans[2]
        if space <= 4 * len(key) + 1_000_000:  # small key space: a table instead of a sort
            seen = np.zeros(space, dtype=bool)
            seen[key] = True
            rank = np.cumsum(seen, dtype=np.int64) - 1
            expand = rank[key]
            key = np.flatnonzero(seen)
            del seen, rank
        else:
            key, expand = np.unique(key, return_inverse=True)
        x = key % spans[2] + x_low
        key //= spans[2]
        own = key % spans[1]
        k = key // spans[1]
        del key

    def table_at(table: np.ndarray, j: np.ndarray, s: np.ndarray, below: float, above: float) -> np.ndarray:
        """table[j, s] with s outside 0..width-1 mapped to ``below`` / ``above``."""
        out = table[j, np.clip(s, 0, width - 1)]
        out = np.where(s < 0, below, out)
        return np.where(s >= width, above, out)

    # recursion from j = 1 up to each unit's k, all units at once (units with smaller k stop early)
    ge = (x - k * own <= 0).astype(np.float64)  # Q_0(>= x - k u): the empty set sums to 0
    le = (x - k * own >= 0).astype(np.float64)
    eq = (x - k * own == 0).astype(np.float64)
    for j in range(1, k_max + 1):
        running = k >= j
        # at step j the target is x − (k − j) u: what the j drawn units must reach
        target = x - (k - j) * own
        jj = np.full(len(k), j)
        new_ge = (n * table_at(at_least, jj, target, 1.0, 0.0) - j * ge) / (n - j)
        new_le = (n * table_at(at_most, jj, target, 0.0, 1.0) - j * le) / (n - j)
        new_eq = (n * table_at(p, jj, target, 0.0, 0.0) - j * eq) / (n - j)
        ge = np.where(running, np.clip(new_ge, 0.0, 1.0), ge)
        le = np.where(running, np.clip(new_le, 0.0, 1.0), le)
        eq = np.where(running, np.clip(new_eq, 0.0, 1.0), eq)
    eq = np.minimum(eq, np.minimum(ge, le))
    if expand is not None:
        ge, le, eq = ge[expand], le[expand], eq[expand]
    p_gt = np.zeros(n)
    p_eq = np.ones(n)
    p_lt = np.zeros(n)
    p_gt[active] = np.clip(ge - eq, 0.0, 1.0)
    p_lt[active] = np.clip(le - eq, 0.0, 1.0)
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
