"""Rook adjacency of polygons that form a coverage (atoms, grids), with shared edge lengths."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

#: two polygons are rook neighbours when they share at least this much boundary (metres)
MIN_SHARED_M = 0.01
#: boundaries closer than this (metres) are one line: atoms whose outlines differ by floating-point
#: noise (µm) still share that edge, and the grid dissolve snaps them together by the same amount
SNAP_M = 1e-3


@dataclass
class Adjacency:
    """Undirected edges ``i < j`` between polygons of the same group, with the length of
    the shared boundary in metres (``length``)."""

    n: int
    i: np.ndarray
    j: np.ndarray
    length: np.ndarray

    def matrix(self, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """Symmetric CSR matrix (``weights`` per edge, default the shared length)."""
        data = self.length if weights is None else weights
        m = sp.coo_matrix((data, (self.i, self.j)), shape=(self.n, self.n))
        return (m + m.T).tocsr()

    def components(self, labels: np.ndarray | None = None) -> np.ndarray:
        """Connected-component id of every polygon; with ``labels`` only edges joining equal
        labels count (so each component is a contiguous piece of one label)."""
        keep = np.ones(len(self.i), bool) if labels is None else labels[self.i] == labels[self.j]
        m = sp.coo_matrix((np.ones(keep.sum()), (self.i[keep], self.j[keep])), shape=(self.n, self.n))
        return connected_components(m, directed=False)[1]


def shared_segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of polygons with identical boundary segments (same two vertices), and
    the summed length of those segments (units of the CRS).

    In an edge-matched coverage (``shapely.coverage_is_valid``) this is exactly the rook
    relation with exact shared lengths, found by sorting segments instead of intersecting
    polygons.
    """
    geoms = np.asarray(geoms, dtype=object)
    empty = np.empty(0, dtype=np.int64)
    if len(geoms) == 0:
        return empty, empty, np.empty(0)
    parts, part_owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    seg = np.flatnonzero(ring_of[:-1] == ring_of[1:])
    a, b = xy[seg], xy[seg + 1]
    owner = part_owner[ring_part[ring_of[seg]]]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    key = np.where(swap[:, None], np.c_[b, a], np.c_[a, b])
    length = np.hypot(*(b - a).T)
    real = length > 0
    key, owner, length = key[real], owner[real], length[real]
    # sort by a 64-bit hash of the segment (equal segments end up next to each other; owners
    # stay in order because the sort is stable); a hash collision only hides a match, which the
    # callers' intersection fallback then measures
    mix = np.uint64(0x9E3779B97F4A7C15)
    digest = pd.util.hash_array(np.ascontiguousarray(key[:, 0]))
    for c in range(1, 4):
        digest = digest * mix ^ pd.util.hash_array(np.ascontiguousarray(key[:, c]))
    order = np.argsort(digest, kind="stable")
    key, owner, length = key[order], owner[order], length[order]
    # consecutive equal segments of different polygons are a shared edge
    same = (key[1:] == key[:-1]).all(axis=1) & (owner[1:] != owner[:-1])
    i, j, seg_len = owner[:-1][same], owner[1:][same], length[1:][same]
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    if len(lo) == 0:
        return empty, empty, np.empty(0)
    frame = pd.DataFrame({"i": lo, "j": hi, "len": seg_len}).groupby(["i", "j"], sort=True)["len"].sum()
    return (
        frame.index.get_level_values(0).to_numpy(np.int64),
        frame.index.get_level_values(1).to_numpy(np.int64),
        frame.to_numpy(float),
    )


def _intersection_lengths(geoms: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Length of the common boundary of pairs of polygons by overlay (any input)."""
    shared = shapely.intersection(geoms[i], geoms[j])
    # lines are the shared edge; a tiny overlap polygon (floating noise) is counted by half its perimeter
    polygonal = np.isin(shapely.get_type_id(shared), (3, 6))
    length = shapely.length(shared)
    length[polygonal] *= 0.5
    mixed = shapely.get_type_id(shared) == 7
    if mixed.any():
        parts, owner = shapely.get_parts(shared[mixed], return_index=True)
        part_len = shapely.length(parts) * np.where(np.isin(shapely.get_type_id(parts), (3, 6)), 0.5, 1.0)
        length[np.flatnonzero(mixed)] = np.bincount(owner, part_len, minlength=mixed.sum())
    return length


def _near_lengths(geoms: np.ndarray, i: np.ndarray, j: np.ndarray, tolerance: float) -> np.ndarray:
    """Length of boundary the two polygons of each pair run along within ``tolerance`` of each
    other (the shorter of the two sides): a shared edge whose vertices differ by noise measures
    its full length, a corner contact about ``2 × tolerance``."""
    bi, bj = shapely.boundary(geoms[i]), shapely.boundary(geoms[j])
    near_i = shapely.intersection(bi, shapely.buffer(bj, tolerance, quad_segs=2))
    near_j = shapely.intersection(bj, shapely.buffer(bi, tolerance, quad_segs=2))
    return np.minimum(shapely.length(near_i), shapely.length(near_j))


def pair_lengths(geoms: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Length of the common boundary of the polygon pairs ``(i[k], j[k])`` (units of the CRS):
    identical segments where they share any (edge-matched coverages), else by intersecting
    the two polygons (any input)."""
    geoms = np.asarray(geoms, dtype=object)
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    out = np.zeros(len(i))
    if len(i) == 0:
        return out
    involved = np.unique(np.r_[i, j])
    si, sj, slen = shared_segments(geoms[involved])
    si, sj = involved[si], involved[sj]
    n = len(geoms)
    found = pd.Series(slen, index=si * n + sj)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    got = found.reindex(lo * n + hi).to_numpy()
    matched = ~np.isnan(got)
    out[matched] = got[matched]
    if (~matched).any():
        out[~matched] = _intersection_lengths(geoms, i[~matched], j[~matched])
    return out


def rook_adjacency(metric_geoms: np.ndarray, group: np.ndarray | None = None) -> Adjacency:
    """Pairs of polygons (LOCAL_CRS, metres) sharing an edge of at least :data:`MIN_SHARED_M`.

    ``group`` (e.g. village codes) restricts edges to polygons of the same group.  Corner
    contacts (queen-only neighbours) are not edges: a grid joined through a single point
    would not be one polygon.

    Shared edges are first found by matching identical boundary segments (exact and fast
    for an edge-matched coverage such as the atoms of :func:`~gridmap.partition.atoms.build_atoms`);
    touching pairs with no identical segment (inputs that are not edge-matched) are measured
    by intersecting the two polygons, so any polygons give the same relation.  Pairs whose
    common boundary is shorter than :data:`MIN_SHARED_M` by exact overlay (e.g. an edge whose
    vertices differ by µm of noise, so the polygons touch only at a point or not at all) are
    measured again with a :data:`SNAP_M` tolerance: an edge in the graph is always a positive
    length of boundary that :func:`~gridmap.partition.tiling.dissolve_grids` merges.
    """
    geoms = np.asarray(metric_geoms)
    n = len(geoms)
    i, j, length = shared_segments(geoms)
    if group is not None:
        group = np.asarray(group)
        keep = group[i] == group[j]
        i, j, length = i[keep], j[keep], length[keep]
    tree = shapely.STRtree(geoms)
    ci, cj = tree.query(geoms, predicate="dwithin", distance=SNAP_M)
    keep = ci < cj
    if group is not None:
        keep &= group[ci] == group[cj]
    ci, cj = ci[keep], cj[keep]
    matched = np.isin(ci * n + cj, i * n + j)
    ci, cj = ci[~matched], cj[~matched]
    if len(ci):
        extra = _intersection_lengths(geoms, ci, cj)
        short = extra < MIN_SHARED_M
        if short.any():
            extra[short] = np.maximum(extra[short], _near_lengths(geoms, ci[short], cj[short], SNAP_M))
        i, j, length = np.r_[i, ci], np.r_[j, cj], np.r_[length, extra]
        order = np.lexsort((j, i))
        i, j, length = i[order], j[order], length[order]
    ok = length >= MIN_SHARED_M
    return Adjacency(n=n, i=i[ok].astype(np.int64), j=j[ok].astype(np.int64), length=length[ok])
