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
    """p[j, s]: probability that a uniform random j-subset of all units sums to s (j <= k_max)."""
    n = len(shifted)
    levels, counts = np.unique(shifted, return_counts=True)
    ways = np.zeros((k_max + 1, width))
    ways[0, 0] = 1.0
    for level, count in zip(levels.tolist(), counts.tolist(), strict=True):
        updated = ways.copy()
        binomial = 1.0
        for a in range(1, min(count, k_max) + 1):
            binomial = binomial * (count - a + 1) / a  # C(count, a)
            shift = a * level
            if shift >= width:
                break
            updated[a:, shift:] += binomial * ways[: k_max + 1 - a, : width - shift]
        ways = updated
    log_subsets = gammaln(n + 1) - gammaln(np.arange(k_max + 1) + 1) - gammaln(n - np.arange(k_max + 1) + 1)
    return ways / np.exp(log_subsets)[:, None]


def exact_tails(values: np.ndarray, cardinalities: np.ndarray, observed: np.ndarray,
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

    Units without neighbours get (0, 1, 0): their sum is always 0 = observed.
    """
    n = len(values)
    base = values.min()
    shifted = np.rint(values - base).astype(np.int64)
    k_max = int(cardinalities.max())
    width = k_max * int(shifted.max()) + 1
    p = _population_subset_sums(shifted, k_max, width)

    p_gt = np.zeros(n)
    p_eq = np.ones(n)
    p_lt = np.zeros(n)
    active = cardinalities > 0
    obs = np.rint(observed - cardinalities * base).astype(np.int64)
    own_levels, own_index = np.unique(shifted[active], return_inverse=True)
    active_pos = np.flatnonzero(active)
    needed = set(np.unique(cardinalities[active]).tolist())
    chunk = max(1, MAX_TABLE // (3 * width))
    columns = np.arange(width)
    for start in range(0, len(own_levels), chunk):
        levels = own_levels[start : start + chunk]
        q = np.zeros((len(levels), width))
        q[:, 0] = 1.0
        # index of s - u for every (level, s); negative → outside the table (probability 0)
        back = columns[None, :] - levels[:, None]
        valid = back >= 0
        back = np.where(valid, back, 0)
        for j in range(1, k_max + 1):
            shifted_q = np.where(valid, np.take_along_axis(q, back, axis=1), 0.0)
            q = (n * p[j][None, :] - j * shifted_q) / (n - j)
            np.clip(q, 0.0, 1.0, out=q)
            if j not in needed:
                continue
            units = active_pos[(cardinalities[active] == j) & (own_index >= start) & (own_index < start + len(levels))]
            if len(units) == 0:
                continue
            rows = own_index[np.searchsorted(active_pos, units)] - start
            at_or_below = np.cumsum(q, axis=1)
            at_or_above = np.cumsum(q[:, ::-1], axis=1)[:, ::-1]
            o = np.clip(obs[units], 0, width - 1)
            inside = (obs[units] >= 0) & (obs[units] < width)
            eq = np.where(inside, q[rows, o], 0.0)
            below = np.where(obs[units] >= width, 1.0, np.where(obs[units] < 0, 0.0, at_or_below[rows, o] - eq))
            above = np.where(obs[units] < 0, 1.0, np.where(obs[units] >= width, 0.0, at_or_above[rows, o] - eq))
            total = eq + below + above  # 1 up to rounding; renormalise so the three add up exactly
            p_gt[units] = np.clip(above / total, 0.0, 1.0)
            p_eq[units] = np.clip(eq / total, 0.0, 1.0)
            p_lt[units] = np.clip(below / total, 0.0, 1.0)
    return p_gt, p_eq, p_lt


def sample_counts(p_gt: np.ndarray, p_eq: np.ndarray, permutations: int, seed: int,
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
