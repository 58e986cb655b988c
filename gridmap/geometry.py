"""Geometry helpers shared by the synthetic city and the planner: coverage-preserving edits.

Units are those of the CRS of the geometries passed in (degrees or metres alike).
"""

from __future__ import annotations

import numpy as np
import shapely


def segmentize_shared(geoms: np.ndarray, max_length: float) -> np.ndarray:
    """``shapely.segmentize`` that keeps a coverage a coverage (units of the CRS of ``geoms``).

    The points inserted into an edge are computed from the edge's endpoints in a fixed
    (lexicographic) order, so an edge shared by two polygons, which the two rings run in
    opposite directions, gets bit-identical new vertices on both sides.  ``shapely.segmentize``
    interpolates from each ring's own start point, so the two sides of a shared edge differ
    in the last bits and the result is no longer edge-matched (``coverage_is_valid`` fails).
    """
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    ok = np.flatnonzero(~shapely.is_empty(geoms) & np.isin(shapely.get_type_id(geoms), (3, 6)))
    if len(ok) == 0:
        return out
    parts, part_owner = shapely.get_parts(geoms[ok], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    # segment k runs from xy[k] to xy[k + 1] inside one ring (each ring repeats its first point)
    seg = np.flatnonzero(ring_of[:-1] == ring_of[1:])
    a, b = xy[seg], xy[seg + 1]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    p = np.where(swap[:, None], b, a)
    q = np.where(swap[:, None], a, b)
    n = np.maximum(1, np.ceil(np.hypot(*(q - p).T) / max_length)).astype(np.int64)
    seg_of = np.repeat(np.arange(len(seg)), n)
    step = np.arange(len(seg_of)) - np.repeat(np.cumsum(n) - n, n)  # 0 .. n-1 within a segment
    frac = np.where(swap[seg_of], n[seg_of] - step, step) / n[seg_of]
    pts = p[seg_of] + (q[seg_of] - p[seg_of]) * frac[:, None]
    pts[step == 0] = a[seg_of[step == 0]]  # the segment's own start vertex, untouched
    pts_ring = ring_of[seg][seg_of]
    # close every ring with its first point
    first = np.flatnonzero(np.r_[True, ring_of[1:] != ring_of[:-1]])
    coords = np.concatenate([pts, xy[first]])
    ring_idx = np.concatenate([pts_ring, ring_of[first]])
    order = np.argsort(ring_idx, kind="stable")
    new_rings = shapely.linearrings(coords[order], indices=ring_idx[order])
    new_parts = shapely.polygons(new_rings, indices=ring_part)
    multi = np.bincount(part_owner, minlength=len(ok)) > 1
    merged = np.empty(len(ok), dtype=object)
    first_part = np.flatnonzero(np.r_[True, part_owner[1:] != part_owner[:-1]])
    merged[part_owner[first_part]] = new_parts[first_part]
    if multi.any():
        sel = np.isin(part_owner, np.flatnonzero(multi))
        mp = shapely.multipolygons(new_parts[sel], indices=np.unique(part_owner[sel], return_inverse=True)[1])
        merged[np.flatnonzero(multi)] = mp
    out[ok] = merged
    return out
