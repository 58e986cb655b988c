"""Rook adjacency of polygons that form a coverage (atoms, grids), with shared edge lengths."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

#: two polygons are rook neighbours when they share at least this much boundary (metres)
MIN_SHARED_M = 0.01


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


def rook_adjacency(metric_geoms: np.ndarray, group: np.ndarray | None = None) -> Adjacency:
    """Pairs of polygons (LOCAL_CRS, metres) sharing an edge of at least :data:`MIN_SHARED_M`.

    ``group`` (e.g. village codes) restricts edges to polygons of the same group.  Corner
    contacts (queen-only neighbours) are not edges: a grid joined through a single point
    would not be one polygon.
    """
    geoms = np.asarray(metric_geoms)
    n = len(geoms)
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    if group is not None:
        group = np.asarray(group)
        keep &= group[i] == group[j]
    i, j = i[keep], j[keep]
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
    ok = length >= MIN_SHARED_M
    return Adjacency(n=n, i=i[ok].astype(np.int64), j=j[ok].astype(np.int64), length=length[ok])
