"""Atoms: the small building blocks that grids are assembled from.

An atom is a piece of exactly one village.  The atoms of a village tile it exactly, so
any grouping of atoms gives grids that nest in villages and tile them.

H3 atoms (:func:`build_atoms`)
    H3 cells of different resolutions do not nest exactly (a parent hexagon is not the
    union of its 7 children), so the cells are used as *labels* of *regions*, and an atom
    is a piece of ``village ∩ region``:

    * level ``base_resolution``: the regions are the H3 cells of that resolution (the cells
      of one resolution tile the plane, so their pieces tile every village);
    * a region in which some village holds more than ``max_share × target`` households
      (and more than one address) is cut by the cells of the next resolution, until
      ``max_resolution``: region ``cell_base ∩ … ∩ cell_r``.  Each cut splits one region by
      a tiling, so the regions keep tiling the plane.  The regions are the same for all
      villages, so the two sides of a village line are cut at the same points;
    * households are counted per (village, region) from the addresses' positions while
      refining (point in polygon against the small convex regions, not the villages), so
      no village geometry is cut until the regions are final;
    * where a cut region meets an uncut neighbour the neighbour gets the new vertices
      (inserted within :data:`INSERT_M`), so the regions are an edge-matched coverage;
    * every village is intersected once with each final region it touches (regions wholly
      inside the village are taken as they are) and every piece is split into its polygon
      parts (an atom is one polygon).  All coordinates are rounded to the :data:`GRID_M`
      grid, so neighbours — also across a village line — share identical vertices: the atoms
      form an edge-matched coverage and dissolving them into grids with a coverage union is
      exact.  Rounding near-degenerate corners can still leave a T-junction; a village whose
      unmatched segments are longer than its outline (:func:`_mismatched_villages`) is
      re-noded from its pieces' boundaries (snap-rounded union + polygonize);
    * slivers (less than ``sliver_share`` of a cell's area, where hexagon edges graze the
      village line) are merged into the neighbour of the same village sharing the longest
      edge.

    Empty land is never refined, so it stays coarse.

Planner polygons (:func:`atoms_from_polygons`)
    Any polygon layer (street blocks, 小区) is clipped to villages; the parts of a
    village not covered by any polygon become atoms too, so the tiling stays exact.

Weights are counted geometrically: the households, population and workload of every
standard address inside an atom.  Every address is counted exactly once: an address on a
line shared by two villages belongs to the village with the lowest code, and inside its
village to the first region (lowest index) holding it; an address that the rounding of
the atom outlines leaves a few micrometres outside its village's atoms goes to the nearest
atom of that village.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.errors import InputError
from gridmap.partition._frames import address_frame, polygonal, to_metric, village_frame
from gridmap.partition.adjacency import pair_lengths, shared_segments

log = logging.getLogger(__name__)

ATOM_COLUMNS = [
    "atom_id",
    "village_code",
    "households",
    "population",
    "workload",
    "h3_cell",
    "resolution",
    "geometry",
]
WEIGHTS = ["households", "population", "workload"]
#: snap-rounding grid of every overlay (metres): exact, robust noding; far below the 1 m² tiling tolerance
GRID_M = 1e-5
#: pieces and faces below this area (m²) are floating-point noise of the overlay, not land
NOISE_M2 = 1e-3
#: a vertex of a region within this distance (m) of a neighbour's edge is put into that edge
#: (a rounded crossing point is up to GRID_M off the line; near-degenerate corners a few times more)
INSERT_M = 1e-4
#: outline length (m) that may differ from the village's before its atoms count as not edge-matched
MISMATCH_M = 1e-4


def cell_polygons(cells) -> np.ndarray:
    """H3 cell ids → shapely polygons in lon/lat (EPSG:4326).

    Vertices shared by neighbouring cells are bit-identical, so the cells of one
    resolution tile the plane without gaps.
    """
    cells = list(cells)
    if not cells:
        return np.empty(0, dtype=object)
    bounds = [h3.cell_to_boundary(c) for c in cells]
    sizes = np.fromiter((len(b) for b in bounds), dtype=np.int64, count=len(bounds))
    latlng = np.array([p for b in bounds for p in b], dtype=float)
    rings = shapely.linearrings(latlng[:, ::-1], indices=np.repeat(np.arange(len(cells)), sizes))
    return shapely.polygons(rings)


def _cells_metric(cells) -> np.ndarray:
    """H3 cells as LOCAL_CRS polygons with vertices on the :data:`GRID_M` grid (shared
    vertices stay identical: the same lon/lat gives the same metres and the same rounding)."""
    return shapely.set_precision(to_metric(cell_polygons(cells)), GRID_M, mode="pointwise")


def _boundary_samples(geoms: np.ndarray, spacing_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Points on the boundary of every geometry (lon/lat) no further apart than ``spacing_deg``
    along it; returns (xy, owner)."""
    lines = shapely.segmentize(shapely.boundary(geoms), spacing_deg / 2)
    xy, owner = shapely.get_coordinates(lines, return_index=True)
    if len(xy) == 0:
        return xy, owner
    step = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
    new_owner = np.r_[True, owner[1:] != owner[:-1]]
    # a point is kept when the arc length enters a new bucket of spacing/2: kept neighbours are
    # less than one bucket plus one (≤ spacing/2) segment apart
    bucket = np.floor(np.cumsum(step) / (spacing_deg / 2))
    keep = new_owner | np.r_[True, bucket[1:] != bucket[:-1]]
    return xy[keep], owner[keep]


def _covering_cells(geoms_wgs: np.ndarray, res: int) -> tuple[np.ndarray, np.ndarray]:
    """(owner, cell) pairs: the cells at ``res`` that may intersect each geometry (lon/lat).

    A cell meeting a polygon has its centre inside it, or is crossed by its boundary, or
    holds it: the cells whose centre is inside (``h3shape_to_cells``) plus one ring around
    the cells of boundary points spaced under the edge length cover all three.  The caller
    keeps the pairs that really intersect.
    """
    # 111 km per degree of latitude is the most a degree can be; 0.4 edge lengths leaves
    # room for H3's edge lengths varying around the average
    spacing = 0.4 * h3.average_hexagon_edge_length(res, "m") / 111_320.0
    xy, owner = _boundary_samples(geoms_wgs, spacing)
    sample_cells = np.array([h3.latlng_to_cell(y, x, res) for x, y in xy], dtype=object)
    pairs = pd.DataFrame({"owner": owner, "cell": sample_cells}).drop_duplicates()
    ring_of = {c: h3.grid_disk(c, 1) for c in pd.unique(pairs["cell"])}
    sizes = np.fromiter((len(ring_of[c]) for c in pairs["cell"]), dtype=np.int64, count=len(pairs))
    ring_owner = np.repeat(pairs["owner"].to_numpy(), sizes)
    ring_cells = [c for cell in pairs["cell"] for c in ring_of[cell]]
    # centre containment is insensitive to centimetres, so a lightly simplified outline will do
    shapes = shapely.simplify(geoms_wgs, 1e-7)
    inner_owner, inner_cells = [], []
    for k, g in enumerate(shapes):
        if shapely.is_empty(g):
            continue
        cells = h3.h3shape_to_cells(h3.geo_to_h3shape(g), res)
        inner_cells.extend(cells)
        inner_owner.extend([k] * len(cells))
    out = pd.DataFrame(
        {
            "owner": np.r_[ring_owner, np.asarray(inner_owner, dtype=np.int64)],
            "cell": np.asarray(ring_cells + inner_cells, dtype=object),
        }
    ).drop_duplicates()
    out = out.sort_values(["owner", "cell"], kind="stable")
    return out["owner"].to_numpy(np.int64), out["cell"].to_numpy(object)


def _first_hits(
    query_idx: np.ndarray, tree_idx: np.ndarray, n: int, rank: np.ndarray | None = None
) -> np.ndarray:
    """For every query item the tree item of lowest ``rank`` (default its index) among its
    hits; -1 without hits."""
    out = np.full(n, -1, dtype=np.int64)
    if len(query_idx) == 0:
        return out
    r = tree_idx if rank is None else rank[tree_idx]
    order = np.lexsort((r, query_idx))
    q, t = query_idx[order], tree_idx[order]
    first = np.flatnonzero(np.r_[True, q[1:] != q[:-1]])
    out[q[first]] = t[first]
    return out


def _assign_points(
    points: np.ndarray, point_village: np.ndarray, geoms: np.ndarray, geom_village: np.ndarray
) -> np.ndarray:
    """Index of the polygon of the point's own village that holds each point (-1: none).
    A point on an edge shared by two polygons goes to the first one."""
    if len(points) == 0 or len(geoms) == 0:
        return np.full(len(points), -1, dtype=np.int64)
    pi, gi = shapely.STRtree(geoms).query(points, predicate="intersects")
    same = point_village[pi] == geom_village[gi]
    return _first_hits(pi[same], gi[same], len(points))


def _nearest_in_village(
    points: np.ndarray, point_village: np.ndarray, geoms: np.ndarray, geom_village: np.ndarray
) -> np.ndarray:
    """Index of the nearest polygon of the point's own village (-1: the village has none)."""
    out = np.full(len(points), -1, dtype=np.int64)
    for v in np.unique(point_village):
        mine = np.flatnonzero(geom_village == v)
        if len(mine) == 0:
            continue
        sel = np.flatnonzero(point_village == v)
        near = shapely.STRtree(geoms[mine]).query_nearest(points[sel], all_matches=False)[1]
        # query_nearest returns (input, tree) pairs in input order, one per point
        out[sel] = mine[near]
    return out


def _locate_villages(
    points: gpd.GeoDataFrame, village_geoms: np.ndarray, village_codes: np.ndarray
) -> np.ndarray:
    """Row of the village holding each address (-1 outside every village).  An address on a
    line shared by villages (or where village polygons overlap) goes to the lowest code."""
    pts = np.asarray(points.geometry.values, dtype=object)
    if len(pts) == 0 or len(village_geoms) == 0:
        return np.full(len(pts), -1, dtype=np.int64)
    # the villages are the query side, so each (large) polygon is prepared once
    vi, pi = shapely.STRtree(pts).query(village_geoms, predicate="intersects")
    rank = np.argsort(np.argsort(np.asarray(village_codes).astype(str), kind="stable"), kind="stable")
    return _first_hits(pi, vi, len(pts), rank=rank)


def _weights(points: gpd.GeoDataFrame, where: np.ndarray, n: int) -> pd.DataFrame:
    ok = where >= 0
    out = pd.DataFrame(
        {
            c: np.bincount(where[ok], weights=points[c].to_numpy()[ok], minlength=n).astype(np.int64)
            for c in WEIGHTS
        }
    )
    out["n_points"] = np.bincount(where[ok], minlength=n)
    return out


def _node_villages(geoms: np.ndarray, village: np.ndarray, village_geoms: np.ndarray) -> np.ndarray:
    """Re-draw each village's pieces from one noded arrangement of their boundaries so that
    neighbours share identical vertices (an exact coverage); tiny gap faces left by floating
    point noise go to the nearest piece, faces outside the village (its holes) are dropped."""
    out = geoms.copy()
    order = np.argsort(village, kind="stable")
    starts = np.flatnonzero(np.r_[True, village[order][1:] != village[order][:-1]])
    ends = np.r_[starts[1:], len(order)]
    for s, e in zip(starts, ends, strict=True):
        idx = order[s:e]
        if len(idx) == 1:
            continue
        own = geoms[idx]
        lines = shapely.union_all(shapely.boundary(own), grid_size=GRID_M)
        faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
        if len(faces) == 0:
            continue
        # faces of a few mm² are floating-point noise between pieces; they are kept (and go to a
        # piece below) because dropping one would open a gap that can part two neighbours
        faces = faces[shapely.area(faces) > 0]
        rep = shapely.point_on_surface(faces)
        holder = np.full(len(faces), -1, dtype=np.int64)
        tree = shapely.STRtree(own)
        fi, pi = tree.query(rep, predicate="within")
        first = np.unique(fi, return_index=True)[1]
        holder[fi[first]] = pi[first]
        lost = np.flatnonzero(holder < 0)
        if len(lost):
            vg = village_geoms[village[idx[0]]]
            inside = shapely.contains(vg, rep[lost]) | (
                shapely.area(shapely.intersection(faces[lost], vg, grid_size=GRID_M))
                > 0.5 * shapely.area(faces[lost])
            )
            lost = lost[inside]
            if len(lost):
                holder[lost] = tree.query_nearest(rep[lost], all_matches=False)[1]
        keep = holder >= 0
        faces, holder = faces[keep], holder[keep]
        single = np.bincount(holder, minlength=len(idx)) == 1
        new = np.empty(len(idx), dtype=object)
        first_face = np.full(len(idx), -1)
        first_face[holder[::-1]] = np.arange(len(holder))[::-1]
        new[single] = faces[first_face[single]]
        for p in np.flatnonzero(~single):
            mine = faces[holder == p]
            new[p] = shapely.coverage_union_all(mine) if len(mine) else shapely.Polygon()
        out[idx] = new
    return out


def _merge_slivers(
    geoms: np.ndarray,
    village: np.ndarray,
    weights: pd.DataFrame,
    reference_area: np.ndarray,
    sliver_share: float,
):
    """Merge pieces smaller than ``sliver_share × reference_area`` (m²) into the neighbour of
    the same village that shares the longest edge.  Returns (keep mask, geoms, weights)."""
    area = shapely.area(geoms)
    sliver = area < sliver_share * reference_area
    keep = np.ones(len(geoms), bool)
    if not sliver.any():
        return keep, geoms, weights
    # neighbours of the slivers only (a sliver is rare, the full graph is not needed)
    slivers = np.flatnonzero(sliver)
    qi, ti = shapely.STRtree(geoms).query(geoms[slivers], predicate="intersects")
    a, b = slivers[qi], ti
    ok = (a != b) & (village[a] == village[b]) & ~sliver[b]
    a, b = a[ok], b[ok]
    length = pair_lengths(geoms, a, b)
    frame = pd.DataFrame({"a": a, "b": b, "len": length})
    frame = frame[frame["len"] > 0]
    frame = frame.sort_values(["a", "len", "b"], ascending=[True, False, True]).drop_duplicates("a")
    # floating-point crumbs that touch nothing and hold nothing are not land
    crumbs = slivers[
        (area[slivers] <= NOISE_M2)
        & ~np.isin(slivers, frame["a"].to_numpy())
        & (weights.to_numpy()[slivers].sum(axis=1) == 0)
    ]
    keep[crumbs] = False
    if frame.empty:
        return keep, geoms, weights
    target = frame["b"].to_numpy()
    src = frame["a"].to_numpy()
    geoms = geoms.copy()
    values = weights.to_numpy().copy()
    np.add.at(values, target, values[src])
    for tgt, members in pd.Series(src).groupby(target):
        geoms[tgt] = _merge_group(np.r_[geoms[tgt : tgt + 1], geoms[members.to_numpy()]])
    keep[src] = False
    return keep, geoms, pd.DataFrame(values, columns=weights.columns)


def _finish(
    villages: gpd.GeoDataFrame,
    village_geoms: np.ndarray,
    points: gpd.GeoDataFrame,
    point_village: np.ndarray,
    part_village: np.ndarray,
    part_label: np.ndarray,
    part_res: np.ndarray,
    parts: np.ndarray,
    reference_area: np.ndarray,
    sliver_share: float,
    point_part: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Count, merge slivers and label the atom polygons of every village (all geometry in
    LOCAL_CRS metres; the atoms come out in EPSG:4326).

    ``point_part``: the part already known to hold each point (-1: find it here, first the
    part of its own village holding it, else the nearest part of its own village).
    """
    pts = np.asarray(points.geometry.values, dtype=object)
    where = np.full(len(pts), -1, dtype=np.int64) if point_part is None else point_part.copy()
    todo = np.flatnonzero(where < 0)
    if len(todo):
        where[todo] = _assign_points(pts[todo], point_village[todo], parts, part_village)
    todo = np.flatnonzero(where < 0)
    if len(todo):  # on the village line, rounded a few µm outside its village's atoms
        where[todo] = _nearest_in_village(pts[todo], point_village[todo], parts, part_village)
    weights = _weights(points, where, len(parts))
    keep, parts, weights = _merge_slivers(parts, part_village, weights[WEIGHTS], reference_area, sliver_share)
    parts, weights = parts[keep], weights[keep].reset_index(drop=True)
    part_village, part_label, part_res = part_village[keep], part_label[keep], part_res[keep]
    parts = _drop_crumbs(parts)
    codes = villages["village_code"].to_numpy()[part_village]
    frame = pd.DataFrame({"village_code": codes, "label": part_label, "area": shapely.area(parts)})
    # stable ids: village:label:n with n counting parts of the same label, largest first
    frame["n"] = (
        frame.sort_values("area", ascending=False, kind="stable")
        .groupby(["village_code", "label"])
        .cumcount()
        .reindex(frame.index)
    )
    atom_id = frame["village_code"] + ":" + frame["label"].astype(str) + ":" + frame["n"].astype(str)
    out = gpd.GeoDataFrame(
        {
            "atom_id": atom_id.to_numpy(),
            "village_code": codes,
            "households": weights["households"].to_numpy(),
            "population": weights["population"].to_numpy(),
            "workload": weights["workload"].to_numpy(),
            "h3_cell": np.where(part_res >= 0, part_label, ""),
            "resolution": part_res.astype(np.int64),
        },
        geometry=parts,
        crs=LOCAL_CRS,
    ).to_crs(WGS84)
    return out.sort_values(["village_code", "atom_id"], ignore_index=True)


def _drop_crumbs(parts: np.ndarray) -> np.ndarray:
    """An atom is one polygon: parts of a few mm² that a fallback union left beside the real
    polygon (floating-point crumbs) are dropped, the largest part is kept."""
    multi = np.flatnonzero(shapely.get_type_id(parts) != 3)
    if len(multi) == 0:
        return parts
    parts = parts.copy()
    for k in multi:
        pieces = shapely.get_parts(parts[k])
        pieces = pieces[shapely.get_type_id(pieces) == 3]
        if len(pieces) == 0:
            continue
        area = shapely.area(pieces)
        real = pieces[area > NOISE_M2]
        parts[k] = (
            real[0]
            if len(real) == 1
            else (pieces[np.argmax(area)] if len(real) == 0 else shapely.multipolygons(real))
        )
    return parts


def _prepare(villages, addresses, workload):
    v = village_frame(villages)
    pts = address_frame(addresses, workload if isinstance(workload, str) else None)
    if workload is not None and not isinstance(workload, str):
        pts = _with_workload_points(pts, workload)
    vm = to_metric(v.geometry.values)
    pts = pts.to_crs(LOCAL_CRS)
    where = _locate_villages(pts, vm, v["village_code"].to_numpy())
    outside = int((where < 0).sum())
    pts, where = pts[where >= 0].reset_index(drop=True), where[where >= 0]
    return v, vm, pts, where, outside


def _with_workload_points(points: gpd.GeoDataFrame, workload) -> gpd.GeoDataFrame:
    """Append workload points (e.g. geocoded cases; a ``workload`` column or 1 each) with
    zero households so they are counted by the same point-in-atom rule."""
    if not isinstance(workload, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InputError("workload must be an address column name or a GeoDataFrame of points (cases)")
    w = workload.to_crs(WGS84)
    geoms = w.geometry.values if isinstance(w, gpd.GeoDataFrame) else w.values
    vals = (
        pd.to_numeric(w["workload"], errors="coerce").fillna(0).to_numpy("int64")
        if isinstance(w, gpd.GeoDataFrame) and "workload" in w.columns
        else np.ones(len(geoms), "int64")
    )
    ok = shapely.get_type_id(np.asarray(geoms)) == 0
    extra = gpd.GeoDataFrame(
        {"households": 0, "population": 0, "workload": vals[ok]}, geometry=geoms[ok], crs=WGS84
    )
    out = pd.concat([points.assign(workload=0), extra], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)


def _round(geoms: np.ndarray) -> np.ndarray:
    """Coordinates onto the :data:`GRID_M` grid; the rare polygon the rounding leaves invalid
    (a collapsed spike) is repaired, and only polygonal parts are kept."""
    out = shapely.set_precision(geoms, GRID_M, mode="pointwise")
    bad = ~shapely.is_valid(out)
    if bad.any():
        out[bad] = shapely.make_valid(out[bad])
    return polygonal(out)


def _split_regions(geoms: np.ndarray, cells: np.ndarray, res: np.ndarray):
    """Cut each region by the cells of the next resolution that may meet it (its cell's
    children and their neighbours).  Returns (parent index, cell, geometry) of the new regions."""
    child_cells, parent = [], []
    for k, (cell, r) in enumerate(zip(cells, res, strict=True)):
        kids = set()
        for kid in h3.cell_to_children(cell, int(r) + 1):
            kids.update(h3.grid_disk(kid, 1))
        child_cells.extend(sorted(kids))
        parent.extend([k] * len(kids))
    parent = np.asarray(parent, dtype=np.int64)
    uniq, inv = np.unique(np.asarray(child_cells, dtype=object).astype(str), return_inverse=True)
    cell_geoms = _cells_metric(uniq)[inv]
    shapely.prepare(geoms)
    hit = shapely.intersects(geoms[parent], cell_geoms)
    parent, cell_geoms, kid_cells = parent[hit], cell_geoms[hit], uniq[inv][hit]
    # regions are convex (intersections of hexagons): the float overlay is exact enough and the
    # rounding puts the new vertices on the grid
    pieces = _round(shapely.intersection(geoms[parent], cell_geoms))
    # even a µm sliver (where a child's edge runs within a hair of the parent's) is kept: dropping
    # it would open a gap that parts its neighbours; the sliver merge at the end absorbs it
    ok = (shapely.get_type_id(pieces) == 3) & (shapely.area(pieces) > 0)
    return parent[ok], kid_cells[ok].astype(object), pieces[ok]


def _merge_group(group: np.ndarray):
    """One polygon from edge-matched neighbours (coverage union), robust union otherwise."""
    try:
        merged = shapely.coverage_union_all(group)
    except shapely.errors.GEOSException:  # not edge-matched after all
        merged = None
    if merged is None or not shapely.is_valid(merged) or shapely.get_type_id(merged) != 3:
        merged = polygonal(np.array([shapely.union_all(group, grid_size=GRID_M)]))[0]
    return merged


def _conform(geoms: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Put into every region touching a ``changed`` one the vertices of other regions that lie
    on its edges (T-junctions where a cut region meets an uncut one, or where rounding left a
    near-coincident pair of vertices), so that the regions are edge-matched.  Vertices are
    only inserted, never moved, so regions that are not touched stay matched with the rest."""
    changed = np.flatnonzero(changed)
    if len(changed) == 0:
        return geoms
    tree = shapely.STRtree(geoms)
    _, near = tree.query(geoms[changed], predicate="intersects")
    todo = np.unique(near)
    xy, owner = shapely.get_coordinates(geoms, return_index=True)
    # a region's own vertices, and the distinct vertices of all regions
    own_key = pd.util.hash_array(owner) * np.uint64(31) ^ _xy_hash(xy)
    vertices = np.unique(xy, axis=0)
    vtree = shapely.STRtree(shapely.points(vertices))
    qi, vi = vtree.query(shapely.get_exterior_ring(geoms[todo]), predicate="dwithin", distance=INSERT_M)
    region = todo[qi]
    cand_key = pd.util.hash_array(region) * np.uint64(31) ^ _xy_hash(vertices[vi])
    new = ~np.isin(cand_key, own_key)
    region, vi = region[new], vi[new]
    if len(region) == 0:
        return geoms
    # a vertex next to (not on) one of the region's own vertices would move it: leave those
    own_points = shapely.multipoints(xy, indices=owner)
    apart = shapely.distance(shapely.points(vertices[vi]), own_points[region]) > INSERT_M
    region, vi = region[apart], vi[apart]
    if len(region) == 0:
        return geoms
    order = np.argsort(region, kind="stable")
    region, vi = region[order], vi[order]
    targets, idx = np.unique(region, return_inverse=True)
    refs = shapely.multipoints(vertices[vi], indices=idx)
    snapped = shapely.snap(geoms[targets], refs, INSERT_M)
    fine = shapely.is_valid(snapped) & (shapely.get_type_id(snapped) == 3)
    out = geoms.copy()
    out[targets[fine]] = snapped[fine]
    return out


def _xy_hash(xy: np.ndarray) -> np.ndarray:
    """64-bit hash of coordinate pairs (equal pairs, equal hashes)."""
    return pd.util.hash_array(np.ascontiguousarray(xy[:, 0])) * np.uint64(
        0x9E3779B97F4A7C15
    ) ^ pd.util.hash_array(np.ascontiguousarray(xy[:, 1]))


def _mismatched_villages(parts: np.ndarray, village: np.ndarray, village_geoms: np.ndarray) -> np.ndarray:
    """Villages whose parts are not edge-matched.  In an edge-matched tiling the segments no
    other part of the village repeats are exactly the village's outline; a T-junction (a vertex
    of one part in the middle of its neighbour's edge) leaves both sides' segments unmatched,
    so the unmatched length exceeds the outline by twice the edge."""
    i, j, length = shared_segments(parts)
    same = village[i] == village[j]
    matched = np.bincount(village[i[same]], weights=2 * length[same], minlength=len(village_geoms))
    perimeter = np.bincount(village, weights=shapely.length(parts), minlength=len(village_geoms))
    outline = shapely.length(shapely.set_precision(village_geoms, GRID_M, mode="pointwise"))
    present = np.unique(village)
    excess = (perimeter - matched - outline)[present]
    return present[np.abs(excess) > MISMATCH_M]


def _points_in(
    points: np.ndarray, point_group: np.ndarray, geoms: np.ndarray, geom_group: np.ndarray
) -> np.ndarray:
    """For every point the first polygon of its own group holding it, else the nearest polygon
    of its group (-1: its group has none)."""
    out = _assign_points(points, point_group, geoms, geom_group)
    lost = np.flatnonzero(out < 0)
    if len(lost):
        out[lost] = _nearest_in_village(points[lost], point_group[lost], geoms, geom_group)
    return out


def _cut_villages(
    village_geoms: np.ndarray, pair_village: np.ndarray, region_geoms: np.ndarray
) -> np.ndarray:
    """``village ∩ region`` for every pair, in LOCAL_CRS with vertices on the grid.  Regions
    wholly inside their village are taken as they are; the others are cut from the village
    clipped to the region's box first (the overlay then only sees the village's nearby edges)."""
    shapely.prepare(village_geoms)
    out = region_geoms.copy()
    edge = np.flatnonzero(~shapely.contains_properly(village_geoms[pair_village], region_geoms))
    if len(edge) == 0:
        return out
    box = shapely.bounds(region_geoms[edge]) + np.array([-1.0, -1.0, 1.0, 1.0])
    clipped = np.array(
        [shapely.clip_by_rect(village_geoms[v], *b) for v, b in zip(pair_village[edge], box, strict=True)],
        dtype=object,
    )
    out[edge] = _round(shapely.intersection(clipped, region_geoms[edge]))
    return out


def build_atoms(
    villages: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame,
    target: int = 400,
    max_share: float = 0.25,
    base_resolution: int = 8,
    max_resolution: int = 13,
    workload=None,
    sliver_share: float = 0.01,
) -> gpd.GeoDataFrame:
    """Adaptive H3 atoms tiling every village (see the module docstring for the method).

    Parameters
    ----------
    villages : GeoDataFrame
        Village polygons (``code`` or ``village_code``), any CRS; ``level`` other than
        ``village`` is ignored when present.
    addresses : GeoDataFrame
        Standard address points with ``households`` (and optionally ``population``).
    target : int
        Households per grid; an atom holds at most ``max_share × target`` households
        unless a single address exceeds that (reported, see below).
    base_resolution, max_resolution : int
        H3 resolutions of empty land and of the finest refinement.  Refinement only happens
        where an atom is over the cap, so a fine limit costs little: res 13 cells (~44 m²)
        still split a compound of high-rise buildings, where res 11 (~2,150 m²) left single
        atoms of 2,000 households.
    workload : str | GeoDataFrame | None
        An address column, or points (cases) counted per atom (column ``workload`` or 1 each).
    sliver_share : float
        Pieces smaller than this share of their H3 cell's area are merged into a neighbour.

    Returns
    -------
    GeoDataFrame
        ``atom_id, village_code, households, population, workload, h3_cell, resolution``,
        geometry Polygon in EPSG:4326, an edge-matched coverage.  ``attrs["report"]`` holds
        ``addresses_outside`` (addresses in no village), ``overweight_addresses`` (single
        addresses above the cap) and ``overweight_atoms`` (atoms above the cap at
        ``max_resolution``).
    """
    if not 0 <= base_resolution <= max_resolution <= 15:
        raise InputError("need 0 <= base_resolution <= max_resolution <= 15")
    cap = max_share * target
    # read: villages, addresses and workload checked and in metres
    v, vgeoms, pts, point_village, outside = _prepare(villages, addresses, workload)
    shapely.prepare(vgeoms)
    pts_geom = np.asarray(pts.geometry.values, dtype=object)
    # compute: H3 regions refined where over the cap, cut by the villages, addresses placed
    regions = _refined_regions(
        v, vgeoms, pts_geom, point_village, pts["households"].to_numpy(), cap, base_resolution, max_resolution
    )
    parts, part_pair, part_village = _village_parts(vgeoms, regions)
    point_part = _points_to_parts(pts_geom, point_village, regions, parts, part_pair)
    # rows: one atom per part, slivers merged, households summed
    leaf = regions.pair_leaf[part_pair]
    reference = np.array([h3.average_hexagon_area(r, "m^2") for r in range(16)])[regions.res[leaf]]
    atoms = _finish(
        v,
        vgeoms,
        pts,
        point_village,
        part_village,
        regions.cell[leaf],
        regions.res[leaf],
        parts,
        reference,
        sliver_share,
        point_part,
    )
    big = pts["households"].to_numpy() > cap
    atoms.attrs["report"] = {
        "addresses_outside": outside,
        "overweight_addresses": int(big.sum()),
        "overweight_atoms": atoms.loc[atoms["households"] > cap, "atom_id"].tolist(),
        "cap": cap,
    }
    return atoms


@dataclass
class _Regions:
    """H3 regions (metric geometry, cell id, resolution, alive = not cut further), the
    (village, region) pairs that meet, and each address's region (-1: none)."""

    cell: np.ndarray
    geom: np.ndarray
    res: np.ndarray
    alive: np.ndarray
    pair_village: np.ndarray
    pair_leaf: np.ndarray
    point_leaf: np.ndarray


def _refined_regions(
    v: gpd.GeoDataFrame,
    vgeoms: np.ndarray,
    pts_geom: np.ndarray,
    point_village: np.ndarray,
    hh: np.ndarray,
    cap: float,
    base_resolution: int,
    max_resolution: int,
) -> _Regions:
    """Regions of ``base_resolution`` cut into their H3 children while one holds more than ``cap``
    households of one village in several addresses (down to ``max_resolution``), then conformed."""
    # regions of the base resolution and the (village, region) pairs that meet
    owner, cells = _covering_cells(np.asarray(v.geometry.values, dtype=object), base_resolution)
    uniq, inv = np.unique(cells.astype(str), return_inverse=True)
    cell_geoms = _cells_metric(uniq)
    hit = shapely.intersects(vgeoms[owner], cell_geoms[inv])
    used, pair_leaf = np.unique(inv[hit], return_inverse=True)
    pair_village = owner[hit]
    reg_cell = uniq[used].astype(object)
    reg_geom = cell_geoms[used]
    reg_res = np.full(len(used), base_resolution, dtype=np.int64)
    reg_alive = np.ones(len(used), bool)
    # each address's region: the first region its village meets that holds it
    point_leaf = _points_in(pts_geom, point_village, reg_geom[pair_leaf], pair_village)
    point_leaf = np.where(point_leaf >= 0, pair_leaf[np.maximum(point_leaf, 0)], -1)

    while True:
        ok = point_leaf >= 0
        key = point_village[ok] * len(reg_geom) + point_leaf[ok]
        keys, kinv = np.unique(key, return_inverse=True)
        load = np.bincount(kinv, weights=hh[ok])
        npts = np.bincount(kinv)
        heavy = np.unique(keys[(load > cap) & (npts > 1)] % len(reg_geom))
        heavy = heavy[reg_res[heavy] < max_resolution]
        if len(heavy) == 0:
            break
        parent, kid_cells, kid_geoms = _split_regions(reg_geom[heavy], reg_cell[heavy], reg_res[heavy])
        first_new = len(reg_geom)
        kid_index = first_new + np.arange(len(kid_geoms))
        kid_parent = heavy[parent]
        reg_cell = np.r_[reg_cell, kid_cells]
        reg_geom = np.r_[reg_geom, kid_geoms]
        reg_res = np.r_[reg_res, reg_res[kid_parent] + 1]
        reg_alive = np.r_[reg_alive, np.ones(len(kid_geoms), bool)]
        reg_alive[heavy] = False
        # the villages that met a cut region meet those of its pieces they intersect
        is_heavy = np.zeros(len(reg_alive), bool)
        is_heavy[heavy] = True
        cut = np.flatnonzero(is_heavy[pair_leaf])
        kids_of = pd.Series(kid_index).groupby(kid_parent).agg(list)
        expand = [kids_of.get(pair_leaf[c], []) for c in cut]
        sizes = np.fromiter((len(e) for e in expand), dtype=np.int64, count=len(expand))
        new_village = np.repeat(pair_village[cut], sizes)
        new_leaf = np.fromiter((k for e in expand for k in e), dtype=np.int64, count=int(sizes.sum()))
        meets = shapely.intersects(vgeoms[new_village], reg_geom[new_leaf])
        keep = np.ones(len(pair_leaf), bool)
        keep[cut] = False
        pair_village = np.r_[pair_village[keep], new_village[meets]]
        pair_leaf = np.r_[pair_leaf[keep], new_leaf[meets]]
        # addresses of a cut region move to the piece of it that holds them
        moving = np.flatnonzero(is_heavy[np.maximum(point_leaf, 0)] & (point_leaf >= 0))
        if len(moving):
            local = _points_in(pts_geom[moving], point_leaf[moving], kid_geoms, kid_parent)
            point_leaf[moving] = np.where(local >= 0, kid_index[np.maximum(local, 0)], -1)
        log.debug("cut %d regions to resolution %d", len(heavy), int(reg_res[heavy].max()) + 1)

    if (reg_res[reg_alive] > base_resolution).any():
        alive = np.flatnonzero(reg_alive)
        reg_geom = reg_geom.copy()
        reg_geom[alive] = _conform(reg_geom[alive], reg_res[alive] > base_resolution)
    return _Regions(reg_cell, reg_geom, reg_res, reg_alive, pair_village, pair_leaf, point_leaf)


def _village_parts(vgeoms: np.ndarray, regions: _Regions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (village, region) pair cut into polygon parts, edge-matched: ``(parts, part_pair, part_village)``."""
    pair_village, pair_leaf, reg_geom = regions.pair_village, regions.pair_leaf, regions.geom
    pieces = _cut_villages(vgeoms, pair_village, reg_geom[pair_leaf])
    parts, part_pair = shapely.get_parts(pieces, return_index=True)
    real = shapely.area(parts) > 0
    parts, part_pair = parts[real], part_pair[real]
    part_village = pair_village[part_pair]
    bad = _mismatched_villages(parts, part_village, vgeoms)
    if len(bad):  # rounding left a mismatched vertex: re-node those villages from their boundaries
        log.info("re-noding %d villages whose atoms are not edge-matched", len(bad))
        fix = np.isin(part_village, bad)
        parts = parts.copy()
        parts[fix] = _node_villages(parts[fix], part_village[fix], vgeoms)
        ok = ~shapely.is_empty(parts)
        parts, part_pair, part_village = parts[ok], part_pair[ok], part_village[ok]
    return parts, part_pair, part_village


def _points_to_parts(
    pts_geom: np.ndarray,
    point_village: np.ndarray,
    regions: _Regions,
    parts: np.ndarray,
    part_pair: np.ndarray,
) -> np.ndarray:
    """Each address's part: the part of its (village, region) piece that holds it (-1: none)."""
    pair_village, pair_leaf, reg_geom, point_leaf = (
        regions.pair_village,
        regions.pair_leaf,
        regions.geom,
        regions.point_leaf,
    )
    # each address goes to the part of its (village, region) piece that holds it
    pair_key = pd.Series(np.arange(len(pair_leaf)), index=pair_village * len(reg_geom) + pair_leaf)
    point_pair = pair_key.reindex(point_village * len(reg_geom) + point_leaf).to_numpy()
    point_pair = np.where(np.isnan(point_pair) | (point_leaf < 0), -1, np.nan_to_num(point_pair)).astype(
        np.int64
    )
    n_parts = np.bincount(part_pair, minlength=len(pair_leaf))
    first_part = np.full(len(pair_leaf), -1, dtype=np.int64)
    first_part[part_pair[::-1]] = np.arange(len(part_pair))[::-1]
    point_part = np.full(len(pts_geom), -1, dtype=np.int64)
    single = (point_pair >= 0) & (n_parts[np.maximum(point_pair, 0)] == 1)
    point_part[single] = first_part[point_pair[single]]
    multi = np.flatnonzero((point_pair >= 0) & (n_parts[np.maximum(point_pair, 0)] > 1))
    if len(multi):
        point_part[multi] = _assign_points(pts_geom[multi], point_pair[multi], parts, part_pair)
    return point_part


def atoms_from_polygons(
    villages: gpd.GeoDataFrame,
    polygons: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame,
    id_field: str | None = None,
    workload=None,
    sliver_m2: float = 1.0,
) -> gpd.GeoDataFrame:
    """Planner-supplied polygons (street blocks, 小区, any CRS) as atoms, clipped to villages.

    Where polygons overlap, the earlier row wins; village land covered by no polygon becomes
    atoms labelled ``rest``, so the atoms still tile every village.  Pieces under
    ``sliver_m2`` square metres are merged into the neighbour sharing the longest edge.
    Same columns as :func:`build_atoms` (``h3_cell`` empty, ``resolution`` −1).
    """
    if not isinstance(polygons, gpd.GeoDataFrame) or polygons.crs is None:
        raise InputError("atom polygons must be a GeoDataFrame with a CRS")
    v, vgeoms, pts, point_village, outside = _prepare(villages, addresses, workload)
    geoms = polygonal(shapely.make_valid(np.asarray(polygons.geometry.to_crs(LOCAL_CRS).values)))
    labels = (
        polygons[id_field].astype(str).to_numpy()
        if id_field
        else np.array([f"b{i}" for i in range(len(polygons))], dtype=object)
    )
    # earlier rows win where planner polygons overlap
    taken = shapely.Polygon()
    exclusive = np.empty(len(geoms), dtype=object)
    for k, g in enumerate(geoms):
        exclusive[k] = shapely.difference(g, taken, grid_size=GRID_M) if not shapely.is_empty(taken) else g
        taken = shapely.union(taken, g, grid_size=GRID_M)
    vi, bi = shapely.STRtree(exclusive).query(vgeoms, predicate="intersects")
    pieces = polygonal(shapely.intersection(vgeoms[vi], exclusive[bi], grid_size=GRID_M))
    rest = polygonal(shapely.difference(vgeoms, taken, grid_size=GRID_M))
    piece_village = np.r_[vi, np.arange(len(vgeoms))]
    piece_label = np.r_[labels[bi], np.full(len(vgeoms), "rest", dtype=object)].astype(object)
    piece_geom = np.r_[pieces, rest]
    ok = ~shapely.is_empty(piece_geom)
    piece_village, piece_label, piece_geom = piece_village[ok], piece_label[ok], piece_geom[ok]
    parts, owner = shapely.get_parts(piece_geom, return_index=True)
    real = shapely.area(parts) > NOISE_M2
    parts, owner = parts[real], owner[real]
    part_village, part_label = piece_village[owner], piece_label[owner]
    # planner polygons share no vertices with the village lines: node every village
    parts = _node_villages(parts, part_village, vgeoms)
    ok = ~shapely.is_empty(parts)
    parts, part_village, part_label = parts[ok], part_village[ok], part_label[ok]
    atoms = _finish(
        v,
        vgeoms,
        pts,
        point_village,
        part_village,
        part_label,
        np.full(len(parts), -1),
        parts,
        np.full(len(parts), float(sliver_m2)),
        1.0,
    )
    atoms.attrs["report"] = {"addresses_outside": outside, "overweight_addresses": 0, "overweight_atoms": []}
    return atoms
