"""Geometry helpers for the synthetic city: point sampling and exact polygon partitions.

Inputs and outputs are in :data:`gridmap.crs.LOCAL_CRS` (metres), except for the
coverage helpers at the end (:func:`gridmap.geometry.segmentize_shared` does the densifying; :func:`insert_touching_vertices`,
:func:`snap_coverage`), which work in the units of whatever CRS they are given.

:func:`partition_polygon` splits a parent polygon into child polygons that tile it
exactly: a fine Voronoi mesh (``shapely.voronoi_polygons`` of seeded points) is
clipped to the parent, and its cells are handed to the children by a multiplicatively
weighted graph Voronoi — Dijkstra over cell adjacency where each child travels at the
square root of its target area.  A cell is only ever claimed from an adjacent cell of
the same child, so children are contiguous by construction; cells keep their exact
Voronoi vertices, so a coverage union gives children whose union is the parent (to
~1e-6 m²) and which do not overlap.  Small units that must sit together (a town's
communities) are first given a compact *core* of cells around the town centre and
share it among themselves.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import Delaunay, cKDTree
from shapely.geometry.base import BaseGeometry

from gridmap.spatial import geometries_in_polygons


def sample_points_in(polygon: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniformly inside ``polygon``: (n, 2) array of x/y metres."""
    if n <= 0:
        return np.empty((0, 2))
    shapely.prepare(polygon)
    xmin, ymin, xmax, ymax = polygon.bounds
    inside_share = max(polygon.area / ((xmax - xmin) * (ymax - ymin)), 0.01)
    found: list[np.ndarray] = []
    have = 0
    while have < n:
        m = int((n - have) / inside_share * 1.3) + 16
        xy = np.column_stack([rng.uniform(xmin, xmax, m), rng.uniform(ymin, ymax, m)])
        xy = xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]
        found.append(xy)
        have += len(xy)
    return np.vstack(found)[:n]


def sample_points_in_many(
    polygons: np.ndarray, counts: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points inside many polygons at once.

    Returns ``(xy, owner)``: an (N, 2) array with ``counts[i]`` points for polygon ``i``,
    grouped by polygon in input order, and the owning polygon index of each point.
    """
    polygons = np.asarray(polygons, dtype=object)
    counts = np.asarray(counts, dtype=np.int64)
    shapely.prepare(polygons)
    bounds = shapely.bounds(polygons)
    box_area = np.maximum((bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1]), 1e-9)
    inside_share = np.clip(shapely.area(polygons) / box_area, 0.01, 1.0)
    need = counts.copy()
    pieces_xy: list[np.ndarray] = []
    pieces_owner: list[np.ndarray] = []
    while need.sum() > 0:
        draws = np.where(need > 0, (need / inside_share * 1.3).astype(np.int64) + 4, 0)
        owner = np.repeat(np.arange(len(polygons)), draws)
        b = bounds[owner]
        x = b[:, 0] + rng.random(len(owner)) * (b[:, 2] - b[:, 0])
        y = b[:, 1] + rng.random(len(owner)) * (b[:, 3] - b[:, 1])
        ok = shapely.contains_xy(polygons[owner], x, y)
        owner, x, y = owner[ok], x[ok], y[ok]
        # keep at most need[i] of the hits for each polygon (hits are grouped by owner)
        start = np.searchsorted(owner, np.arange(len(polygons)))
        rank = np.arange(len(owner)) - start[owner]
        keep = rank < need[owner]
        pieces_xy.append(np.column_stack([x[keep], y[keep]]))
        pieces_owner.append(owner[keep])
        need = need - np.bincount(owner[keep], minlength=len(polygons))
    xy = np.vstack(pieces_xy) if pieces_xy else np.empty((0, 2))
    owner = np.concatenate(pieces_owner) if pieces_owner else np.empty(0, dtype=np.int64)
    order = np.argsort(owner, kind="stable")
    return xy[order], owner[order]


def _polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polygonal parts of each geometry and the index of the geometry they came from."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, index = parts[keep], index[keep]
    # clipping can return GeometryCollections whose members are MultiPolygons
    multi = shapely.get_type_id(parts) == 6
    if multi.any():
        sub, sub_index = shapely.get_parts(parts[multi], return_index=True)
        parts = np.concatenate([parts[~multi], sub])
        index = np.concatenate([index[~multi], index[multi][sub_index]])
    keep = shapely.area(parts) > 0
    return parts[keep], index[keep]


def _mesh(parent: BaseGeometry, generators: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voronoi mesh of ``generators`` clipped to ``parent``, and its edge adjacency.

    Returns (nodes, nbr_to, nbr_start): polygon nodes, and the CSR adjacency (node ``u``
    neighbours ``nbr_to[nbr_start[u]:nbr_start[u+1]]``) of nodes sharing a boundary segment.
    """
    _, first = np.unique(np.round(generators, 3), axis=0, return_index=True)
    generators = generators[np.sort(first)]
    n_gen = len(generators)
    envelope = shapely.box(*shapely.buffer(shapely.envelope(parent), 1000.0).bounds)
    diagram = shapely.voronoi_polygons(shapely.multipoints(generators), extend_to=envelope, ordered=True)
    cells = shapely.get_parts(diagram)
    shapely.prepare(parent)
    inside = shapely.contains_properly(parent, cells)
    # cells inside keep their exact Voronoi vertices, so neighbours share edges exactly
    parts, part_of = _polygon_parts(shapely.intersection(cells[~inside], parent))
    nodes = np.concatenate([cells[inside], parts])
    node_gen = np.concatenate([np.flatnonzero(inside), np.flatnonzero(~inside)[part_of]])
    clipped = np.r_[np.zeros(int(inside.sum()), bool), np.ones(len(parts), bool)]

    # Voronoi neighbours are Delaunay neighbours; only pairs involving a clipped cell
    # may have lost their shared edge to the clipping, so only those are checked
    by_gen = np.argsort(node_gen, kind="stable")
    gen_start = np.searchsorted(node_gen[by_gen], np.arange(n_gen + 1))
    gen_count = np.diff(gen_start)
    indptr, indices = Delaunay(generators).vertex_neighbor_vertices
    ga = np.repeat(np.arange(n_gen), np.diff(indptr))
    gb = indices
    keep = ga < gb
    ga, gb = ga[keep], gb[keep]
    combos = gen_count[ga] * gen_count[gb]
    pair = np.repeat(np.arange(len(ga)), combos)
    k = np.arange(len(pair)) - np.repeat(np.cumsum(combos) - combos, combos)
    left = by_gen[gen_start[ga[pair]] + k // gen_count[gb[pair]]]
    right = by_gen[gen_start[gb[pair]] + k % gen_count[gb[pair]]]
    check = clipped[left] | clipped[right]
    ok = np.ones(len(left), dtype=bool)
    ok[check] = shapely.relate_pattern(nodes[left[check]], nodes[right[check]], "****1****")
    left, right = left[ok], right[ok]
    frm = np.concatenate([left, right])
    to = np.concatenate([right, left])
    order = np.lexsort((to, frm))
    nbr_start = np.searchsorted(frm[order], np.arange(len(nodes) + 1))
    return nodes, to[order], nbr_start


def _weighted_kmeans(
    points: np.ndarray,
    weights: np.ndarray,
    n: int,
    rng: np.random.Generator,
    fixed: np.ndarray,
    iterations: int = 10,
) -> np.ndarray:
    """``n`` free centres spread over weighted ``points`` (Lloyd), ``fixed`` centres held."""
    if n <= 0:
        return np.empty((0, 2))
    p = weights / weights.sum()
    free = points[rng.choice(len(points), n, replace=len(points) < n, p=p)].copy()
    for _ in range(iterations):
        _, label = cKDTree(np.vstack([fixed, free])).query(points)
        label = label - len(fixed)
        mine = label >= 0
        w = np.bincount(label[mine], weights=weights[mine], minlength=n)
        sx = np.bincount(label[mine], weights=weights[mine] * points[mine, 0], minlength=n)
        sy = np.bincount(label[mine], weights=weights[mine] * points[mine, 1], minlength=n)
        moved = w > 0
        free[moved] = np.column_stack([sx[moved] / w[moved], sy[moved] / w[moved]])
    return free


def _claim_nodes(positions: np.ndarray, centre: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """A distinct ``allowed`` node for each position: its nearest free one."""
    idx = np.flatnonzero(allowed)
    tree = cKDTree(centre[idx])
    taken: set[int] = set()
    out = np.empty(len(positions), dtype=np.int64)
    for i, xy in enumerate(positions):
        kq = min(len(idx), 8)
        while True:
            _, near = tree.query(xy, k=kq)
            free = [int(idx[j]) for j in np.atleast_1d(near) if int(idx[j]) not in taken]
            if free or kq >= len(idx):
                break
            kq = min(len(idx), kq * 4)
        if not free:
            raise ValueError("more children than mesh cells; increase the mesh density")
        out[i] = free[0]
        taken.add(free[0])
    return out


def partition_polygon(
    parent: BaseGeometry,
    target_areas: np.ndarray,
    rng: np.random.Generator,
    *,
    core: np.ndarray | None = None,
    core_centre: np.ndarray | None = None,
    core_rank: np.ndarray | None = None,
    core_west: np.ndarray | None = None,
    fixed_seeds: dict[int, np.ndarray] | None = None,
    mesh_per_child: int = 10,
) -> tuple[list[BaseGeometry], np.ndarray]:
    """Split ``parent`` into ``len(target_areas)`` contiguous children that tile it exactly.

    Parameters
    ----------
    parent : Polygon or MultiPolygon, LOCAL_CRS metres
    target_areas : (k,) positive array, m².  Children flagged ``core`` keep their
        absolute targets (capped at half the parent); the others share the rest in
        proportion to theirs.
    rng : the random stream of this parent
    core : (k,) bool, children packed into a compact core around ``core_centre`` (x, y
        metres) — the urban units of a town.  Ignored unless some children are not core.
    core_rank : (k,) numbers; core children with a lower rank sit nearer the centre
    core_west : (k,) bool; these core children take the westernmost core positions
    fixed_seeds : {child index: (x, y)} seeds placed by the caller (e.g. real town points)
    mesh_per_child : fine Voronoi cells per child (the resolution of the boundaries)

    Returns
    -------
    (children, seeds): ``k`` Polygon geometries (MultiPolygon only where the parent is
    itself split) in LOCAL_CRS whose union is ``parent`` and which do not overlap, and
    the (k, 2) seed point of each child (inside it).
    """
    target = np.asarray(target_areas, dtype=float)
    k = len(target)
    if k == 1:
        return [shapely.make_valid(parent)], np.asarray(
            shapely.get_coordinates(parent.representative_point())
        )
    core = np.zeros(k, dtype=bool) if core is None else np.asarray(core, dtype=bool)
    if core.all():
        core = np.zeros(k, dtype=bool)
    has_core = bool(core.any()) and core_centre is not None
    area = parent.area
    if has_core:
        core_area = min(float(target[core].sum()), 0.5 * area)
        target = target.copy()
        target[core] *= core_area / target[core].sum()
        target[~core] *= (area - core_area) / target[~core].sum()
    else:
        target = target / target.sum() * area

    generators = [sample_points_in(parent, mesh_per_child * int((~core).sum()), rng)]
    if has_core:
        core_radius = np.sqrt(core_area / np.pi)
        disc = shapely.intersection(shapely.Point(core_centre).buffer(core_radius * 1.5), parent)
        if disc.area > 0:
            generators.append(sample_points_in(disc, 2 * mesh_per_child * int(core.sum()), rng))
    nodes, nbr_to, nbr_start = _mesh(parent, np.vstack(generators))
    centre = shapely.get_coordinates(shapely.point_on_surface(nodes))
    node_area = shapely.area(nodes)

    # the core: the nodes nearest the centre up to the core area, kept contiguous
    in_core = np.zeros(len(nodes), dtype=bool)
    if has_core:
        dist = np.hypot(*(centre - core_centre).T)
        by_dist = np.argsort(dist, kind="stable")
        n_take = int(np.searchsorted(np.cumsum(node_area[by_dist]), core_area)) + 1
        candidate = np.zeros(len(nodes), dtype=bool)
        candidate[by_dist[:n_take]] = True
        in_core = _reachable(by_dist[0], candidate, nbr_to, nbr_start)
        if in_core.sum() < core.sum():
            in_core[by_dist[: core.sum()]] = True

    seeds = np.empty((k, 2))
    seed_node = np.empty(k, dtype=np.int64)
    if has_core:
        c_idx = np.flatnonzero(core)
        pos = _weighted_kmeans(centre[in_core], node_area[in_core], len(c_idx), rng, np.empty((0, 2)))
        pos = pos[np.argsort(np.hypot(*(pos - core_centre).T), kind="stable")]
        rank = np.zeros(len(c_idx)) if core_rank is None else np.asarray(core_rank, float)[c_idx]
        west = np.zeros(len(c_idx), bool) if core_west is None else np.asarray(core_west, bool)[c_idx]
        n_w = int(west.sum())
        west_slots = np.sort(np.argsort(pos[:, 0], kind="stable")[:n_w])
        other_slots = np.setdiff1d(np.arange(len(pos)), west_slots)
        order_other = np.flatnonzero(~west)[np.argsort(rank[~west], kind="stable")]
        placed = np.empty_like(pos)
        placed[np.flatnonzero(west)] = pos[west_slots]
        placed[order_other] = pos[other_slots]
        seed_node[c_idx] = _claim_nodes(placed, centre, in_core)
    r_idx = np.flatnonzero(~core)
    fixed_seeds = fixed_seeds or {}
    fixed_r = [i for i in r_idx if i in fixed_seeds]
    free_r = [i for i in r_idx if i not in fixed_seeds]
    fixed_xy = np.array([fixed_seeds[i] for i in fixed_r]).reshape(-1, 2)
    rest = ~in_core
    free_xy = _weighted_kmeans(centre[rest], node_area[rest], len(free_r), rng, fixed_xy)
    claim_order = fixed_r + free_r
    seed_node[claim_order] = _claim_nodes(np.vstack([fixed_xy, free_xy]), centre, rest)
    seeds[:] = centre[seed_node]

    group = in_core.astype(np.int64)
    label = _weighted_graph_voronoi(
        centre, nbr_to, nbr_start, seed_node, np.sqrt(target), group, core.astype(np.int64)
    )
    label = _fill_unlabelled(label, centre, nbr_to, nbr_start, seeds)

    # mesh cells share their Voronoi edges exactly, so a coverage union is exact (and fast)
    by_label = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[by_label], np.arange(k + 1))
    children = [shapely.coverage_union_all(nodes[by_label[bounds[c] : bounds[c + 1]]]) for c in range(k)]
    return _merge_detached_parts(children), seeds


def _reachable(start: int, allowed: np.ndarray, nbr_to: np.ndarray, nbr_start: np.ndarray) -> np.ndarray:
    """Nodes reachable from ``start`` through ``allowed`` nodes (breadth-first)."""
    seen = np.zeros(len(allowed), dtype=bool)
    seen[start] = True
    frontier = [start]
    while frontier:
        nxt = []
        for u in frontier:
            for v in nbr_to[nbr_start[u] : nbr_start[u + 1]]:
                if allowed[v] and not seen[v]:
                    seen[v] = True
                    nxt.append(int(v))
        frontier = nxt
    return seen


def _fill_unlabelled(
    label: np.ndarray, centre: np.ndarray, nbr_to: np.ndarray, nbr_start: np.ndarray, seeds: np.ndarray
) -> np.ndarray:
    """Nodes no seed of their group reached take a labelled neighbour's child (or the nearest seed)."""
    label = label.copy()
    frm = np.repeat(np.arange(len(label)), np.diff(nbr_start))
    while (label < 0).any():
        open_edge = (label[frm] < 0) & (label[nbr_to] >= 0)
        if not open_edge.any():
            lost = label < 0
            _, nearest = cKDTree(seeds).query(centre[lost])
            label[lost] = nearest
            break
        # first labelled neighbour of each open node (edges are sorted by node, then neighbour)
        first = np.unique(frm[open_edge], return_index=True)
        label[first[0]] = label[nbr_to[open_edge][first[1]]]
    return label


def _weighted_graph_voronoi(
    centre: np.ndarray,
    nbr_to: np.ndarray,
    nbr_start: np.ndarray,
    seed_node: np.ndarray,
    weights: np.ndarray,
    node_group: np.ndarray,
    seed_group: np.ndarray,
) -> np.ndarray:
    """Label each node with the seed that reaches it first (travel time = length / weight).

    A seed only travels through nodes of its own group; unreached nodes keep label -1.
    """
    n = len(centre)
    label = np.full(n, -1)
    best = np.full(n, np.inf)
    heap: list[tuple[float, int, int]] = []
    for s, node in enumerate(seed_node):
        best[node] = 0.0
        heap.append((0.0, int(node), s))
    heapq.heapify(heap)
    cx, cy = centre[:, 0].tolist(), centre[:, 1].tolist()
    starts, targets = nbr_start.tolist(), nbr_to.tolist()
    speed = weights.tolist()
    ngroup, sgroup = node_group.tolist(), seed_group.tolist()
    while heap:
        t, u, s = heapq.heappop(heap)
        if label[u] >= 0:
            continue
        label[u] = s
        ux, uy, w = cx[u], cy[u], speed[s]
        g = sgroup[s]
        for v in targets[starts[u] : starts[u + 1]]:
            if label[v] >= 0 or ngroup[v] != g:
                continue
            tv = t + ((cx[v] - ux) ** 2 + (cy[v] - uy) ** 2) ** 0.5 / w
            if tv < best[v]:
                best[v] = tv
                heapq.heappush(heap, (tv, v, s))
    return label


def _merge_detached_parts(children: list[BaseGeometry]) -> list[BaseGeometry]:
    """Give every detached part of a child to the neighbour it shares most boundary with.

    Keeps each child's largest part; a part touching no other child (an island of a
    multipart parent) stays with its child.
    """
    children = list(children)
    for c in range(len(children)):
        parts = shapely.get_parts(children[c])
        if len(parts) <= 1:
            continue
        order = np.argsort(-shapely.area(parts), kind="stable")
        kept = [parts[order[0]]]
        for p in parts[order[1:]]:
            others = [j for j in range(len(children)) if j != c]
            shared = np.array(
                [shapely.length(shapely.intersection(p.boundary, children[j].boundary)) for j in others]
            )
            if len(shared) and shared.max() > 0:
                j = others[int(np.argmax(shared))]
                children[j] = shapely.coverage_union(children[j], p)
            else:
                kept.append(p)
        children[c] = shapely.coverage_union_all(kept)
    return children


def insert_touching_vertices(geoms: np.ndarray, tolerance: float) -> np.ndarray:
    """Give every edge the vertices of the other polygons that lie on it (units of the CRS).

    Polygons split one parent at a time meet a neighbouring parent's children in
    T-junctions: a vertex of one side lies on an edge of the other (within rounding
    error) that lacks it.  Inserting it makes both sides of every shared edge carry the
    same vertices — bit-identical copies, so the layer becomes an edge-matched coverage.
    A vertex within ``tolerance`` of an edge's interior counts as lying on it.
    """

    def rebuild(xy: np.ndarray, ring_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seg = np.flatnonzero(ring_of[:-1] == ring_of[1:])
        a, b = xy[seg], xy[seg + 1]
        # an edge that both neighbours carry is matched; T-junctions sit on the unmatched ones,
        # at vertices that end an unmatched edge on the other side
        swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
        canon = np.where(swap[:, None], np.hstack([b, a]), np.hstack([a, b]))
        unmatched = np.flatnonzero(~pd.DataFrame(canon).duplicated(keep=False).to_numpy())
        ends = pd.DataFrame(np.vstack([a[unmatched], b[unmatched]]))
        vertices = ends[~ends.duplicated()].to_numpy()
        lines = shapely.linestrings(np.stack([a[unmatched], b[unmatched]], axis=1))
        s, v = shapely.STRtree(shapely.points(vertices)).query(lines, predicate="dwithin", distance=tolerance)
        s = unmatched[s]
        ab = b[s] - a[s]
        length = np.hypot(*ab.T)
        along = np.einsum("ij,ij->i", vertices[v] - a[s], ab) / np.maximum(length, 1e-300)
        inside = (along > tolerance) & (along < length - tolerance)
        s, v, along = s[inside], v[inside], along[inside]
        key = np.concatenate([np.arange(len(seg)), s])
        pos = np.concatenate([np.full(len(seg), -np.inf), along])
        order = np.lexsort((pos, key))
        pts = np.concatenate([a, vertices[v]])[order]
        return pts, ring_of[seg][key[order]]

    return _rebuild_rings(np.asarray(geoms, dtype=object), rebuild)


def _rebuild_rings(
    geoms: np.ndarray, rebuild: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Polygons rebuilt with new ring vertices.

    ``rebuild(xy, ring_of)`` gets the coordinates of all rings (each ring repeating its
    first point) with their ring index and returns the new open vertex sequences in the
    same ring order, as (points, ring index); rings are closed here.
    """
    out = geoms.copy()
    ok = np.flatnonzero(~shapely.is_empty(geoms) & np.isin(shapely.get_type_id(geoms), (3, 6)))
    if not len(ok):
        return out
    parts, part_owner = shapely.get_parts(geoms[ok], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    pts, pts_ring = rebuild(xy, ring_of)
    first = np.flatnonzero(np.r_[True, ring_of[1:] != ring_of[:-1]])
    order = np.argsort(np.concatenate([pts_ring, ring_of[first]]), kind="stable")
    coords = np.concatenate([pts, xy[first]])[order]
    new_rings = shapely.linearrings(coords, indices=np.concatenate([pts_ring, ring_of[first]])[order])
    new_parts = shapely.polygons(new_rings, indices=ring_part)
    n_parts = np.bincount(part_owner, minlength=len(ok))
    merged = np.empty(len(ok), dtype=object)
    single = np.flatnonzero(n_parts == 1)
    first_part = np.searchsorted(part_owner, np.arange(len(ok)))
    merged[single] = new_parts[first_part[single]]
    multi = n_parts > 1
    if multi.any():
        sel = multi[part_owner]
        merged[multi] = shapely.multipolygons(
            new_parts[sel], indices=np.unique(part_owner[sel], return_inverse=True)[1]
        )
    out[ok] = merged
    return out


def snap_coverage(
    polygons: np.ndarray, region_of: np.ndarray, regions: np.ndarray, grid_size: float
) -> np.ndarray:
    """Turn polygons that nearly tile ``regions`` into an exact polygonal coverage on a grid.

    Works in any CRS: ``grid_size`` is in the units of the coordinates (1e-7° ≈ 1 cm
    in EPSG:4326).  :func:`gridmap.synth.admin.build_admin` falls back on it should
    vertex rounding ever break its coverage.

    Parameters
    ----------
    polygons : (n,) Polygon/MultiPolygon array that tiles ``regions`` up to small gaps,
        overlaps and T-junctions (a vertex on one side of a shared edge that the other
        side lacks, or that it misses by a few decimetres after a reprojection)
    region_of : (n,) int, index into ``regions`` of the region each polygon belongs to
    regions : (m,) Polygon/MultiPolygon array, a valid coverage whose outlines are kept
        (e.g. real county outlines); vertices on the grid stay exactly where they are
    grid_size : float, the precision grid, CRS units

    Returns
    -------
    (n,) array of polygons, same CRS, forming a valid coverage
    (``shapely.coverage_is_valid``): every vertex on the grid, both sides of every
    shared edge with identical vertices, and the polygons of a region together filling
    the region as outlined on the grid.

    All boundaries, the regions' included, are snap-rounded together
    (``shapely.union_all(grid_size=...)``, which nodes them robustly) and polygonized
    into faces.  A face goes to the polygon of its own region that contains it (the
    lowest index where polygons overlap), a face in a gap to the neighbour in its region
    with which it shares most boundary; faces outside every region are dropped.  Each
    polygon is the coverage union of its faces, so shared edges are derived once.
    """
    polygons = np.asarray(polygons, dtype=object)
    regions = np.asarray(regions, dtype=object)
    region_of = np.asarray(region_of, dtype=np.int64)
    lines = np.concatenate([shapely.boundary(polygons), shapely.boundary(regions)])
    noded = shapely.union_all(lines, grid_size=grid_size)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    inner = shapely.point_on_surface(faces)

    face_region = geometries_in_polygons(inner, regions)  # the lowest region on a shared border
    face, poly = shapely.STRtree(polygons).query(inner, predicate="within")
    same = region_of[poly] == face_region[face]
    owner = _lowest_per_key(face[same], poly[same], len(faces))

    tree = shapely.STRtree(faces)
    while True:
        todo = np.flatnonzero((owner < 0) & (face_region >= 0))
        if not len(todo):
            break
        a, b = tree.query(faces[todo], predicate="intersects")
        a = todo[a]
        ok = (owner[b] >= 0) & (face_region[b] == face_region[a])
        a, b = a[ok], b[ok]
        shared = shapely.length(shapely.intersection(shapely.boundary(faces[a]), shapely.boundary(faces[b])))
        a, b, shared = a[shared > 0], b[shared > 0], shared[shared > 0]
        if not len(a):
            # an enclosed gap with no neighbour of its region: the nearest polygon of the region
            for f in todo:
                mine = np.flatnonzero(region_of == face_region[f])
                owner[f] = mine[int(np.argmin(shapely.distance(polygons[mine], faces[f])))]
            break
        best = np.lexsort((b, -shared, a))
        first = best[np.r_[True, a[best][1:] != a[best][:-1]]]
        owner[a[first]] = owner[b[first]]

    kept = np.flatnonzero(owner >= 0)
    kept = kept[np.argsort(owner[kept], kind="stable")]
    bounds = np.searchsorted(owner[kept], np.arange(len(polygons) + 1))
    count = np.diff(bounds)
    if (count == 0).any():
        lost = np.flatnonzero(count == 0)
        raise ValueError(f"polygons {lost[:5].tolist()} vanished when snapped to a {grid_size} grid")
    out = np.empty(len(polygons), dtype=object)
    single = count == 1
    out[single] = faces[kept[bounds[:-1][single]]]
    for i in np.flatnonzero(~single):
        out[i] = shapely.coverage_union_all(faces[kept[bounds[i] : bounds[i + 1]]])
    return out


def _lowest_per_key(key: np.ndarray, value: np.ndarray, n: int) -> np.ndarray:
    """For keys 0..n-1 the smallest ``value`` paired with it, -1 for unpaired keys."""
    out = np.full(n, -1, dtype=np.int64)
    order = np.lexsort((value, key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]] if len(order) else order
    out[key[first]] = value[first]
    return out
