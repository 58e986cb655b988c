"""The compiled (numba) kernels of :mod:`gridmap.hotspots.exact_null`: the subset-sum table and the tails.

A module of its own so that numba (about 50 MB of a process) is imported only when a permutation or
exact test first runs, not by every process that imports the hot-spot package (the API server).
They add in the numpy programme's order, so both give the same floats (tests compare them bit for bit).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def subset_sum_kernel(levels, counts, subsets, ways):
    """:func:`_subset_sum_table` compiled: the one-row-at-a-time programme itself.

    Rows top down for each value (ascending), ``a`` ascending within a row: each entry
    receives its terms in the order of the reference programme, and only up to the
    reach of the source row (past it the terms are exact zeros).
    """
    k_max = ways.shape[0] - 1
    width = ways.shape[1]
    ways[0, 0] = 1.0
    reach = np.full(k_max + 1, -1, dtype=np.int64)  # -1: no subset of j units yet
    reach[0] = 0
    last = width - 1
    for v in range(len(levels)):
        level = levels[v]
        count = counts[v]
        if level >= width:  # ascending: no later value fits either
            break
        for j in range(k_max, 0, -1):  # top down: rows read are not yet written for this value
            binomial = 1.0
            target = ways[j]
            for a in range(1, min(count, j) + 1):
                binomial = binomial * (count - a + 1) / a  # C(count, a)
                shift = a * level
                if shift >= width:
                    break
                source = j - a
                if reach[source] < 0:
                    continue
                hi = min(reach[source] + shift, last)
                row = ways[source]
                for s in range(shift, hi + 1):
                    target[s] += binomial * row[s - shift]
                if hi > reach[j]:
                    reach[j] = hi
    for j in range(k_max + 1):  # past its reach a row is zero (0 / C = 0)
        row = ways[j]
        divisor = subsets[j]
        for s in range(reach[j] + 1):
            row[s] /= divisor


@njit(cache=True)
def tails_kernel(p, reaches, n, k, own, x, table):
    """:func:`exact_tails` from the table, each unit on its own (compiled).

    The cumulative rows are the numpy programme's (sequential sums from each end, the
    same values at every position looked up), and each unit runs the same recursion on
    the same floats: the tails are the same to the last bit.  Step ``j`` of all units
    runs on row ``j`` alone, written just before into ``table`` (``(reach + 3, 3)``
    floats): its look-ups stay in cache.
    """
    k_max = p.shape[0] - 1
    width = p.shape[1]
    units = len(k)
    # the recursion's state per unit, Q_j(>= x), Q_j(<= x), Q_j(= x), from Q_0: the empty
    # set sums to 0
    ge = np.empty(units)
    le = np.empty(units)
    eq = np.empty(units)
    for i in range(units):
        gap = x[i] - k[i] * own[i]
        ge[i] = 1.0 if gap <= 0 else 0.0
        le[i] = 1.0 if gap >= 0 else 0.0
        eq[i] = 1.0 if gap == 0 else 0.0
    for j in range(1, k_max + 1):
        reach = reaches[j]
        # table[s + 1]: P_j(>= s), P_j(<= s), P_j(= s) side by side (one cache line per
        # look-up) for s = -1 (below the row: 1, 0, 0), 0..reach, reach + 1 (past its
        # reach: 0, the row's total, 0)
        table[0, 0] = 1.0
        table[0, 1] = 0.0
        table[0, 2] = 0.0
        total = 0.0
        for s in range(reach, -1, -1):
            total += p[j, s]
            table[s + 1, 0] = total
        total = 0.0
        for s in range(reach + 1):
            total += p[j, s]
            table[s + 1, 1] = total
            table[s + 1, 2] = p[j, s]
        table[reach + 2, 0] = 0.0
        table[reach + 2, 1] = total
        table[reach + 2, 2] = 0.0
        for i in range(units):
            if k[i] < j:
                continue
            target = x[i] - (k[i] - j) * own[i]
            at = min(max(target, -1), reach + 1) + 1
            found_le = 1.0 if target >= width else table[at, 1]
            ge[i] = min(max((n * table[at, 0] - j * ge[i]) / (n - j), 0.0), 1.0)
            le[i] = min(max((n * found_le - j * le[i]) / (n - j), 0.0), 1.0)
            eq[i] = min(max((n * table[at, 2] - j * eq[i]) / (n - j), 0.0), 1.0)
    for i in range(units):
        if k[i] == 0:  # no neighbours: the sum is always 0 = observed
            ge[i] = 0.0
            eq[i] = 1.0
            le[i] = 0.0
            continue
        share = min(eq[i], min(ge[i], le[i]))
        ge[i] = min(max(ge[i] - share, 0.0), 1.0)
        le[i] = min(max(le[i] - share, 0.0), 1.0)
        eq[i] = share
    return ge, eq, le
