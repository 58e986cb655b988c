"""Atoms: the small building blocks that grids are assembled from.

An atom is a piece of exactly one village.  The atoms of a village tile it exactly, so
any grouping of atoms gives grids that nest in villages and tile them.

H3 atoms (:func:`build_atoms`)
    H3 cells of different resolutions do not nest exactly (a parent hexagon is not the
    union of its 7 children), so the cells are used as *labels* and the atoms are built
    as a planar partition of each village:

    * level ``base_resolution``: the village is cut by the H3 cells of that resolution
      (the cells of one resolution tile the plane, so the pieces tile the village);
    * a piece holding more than ``max_share × target`` households (and more than one
      address) is cut again by the cells of the next resolution, until
      ``max_resolution``.  Each cut splits one piece by a tiling, so the tiling of the
      village is preserved at every level; an atom at resolution r is
      ``village ∩ cell_base ∩ … ∩ cell_r``.
    * every piece is split into its polygon parts (an atom is one polygon);
    * finally each village's pieces are noded together (all their boundaries unioned and
      polygonized) so that neighbours share identical vertices — T-junctions where a
      refined piece meets a coarse one disappear, and dissolving atoms into grids with
      a coverage union is exact;
    * slivers (less than ``sliver_share`` of a cell's area, where hexagon edges graze the
      village line) are merged into the neighbour of the same village sharing the longest
      edge.

    Empty land is never refined, so it stays coarse.

Planner polygons (:func:`atoms_from_polygons`)
    Any polygon layer (street blocks, 小区) is clipped to villages; the parts of a
    village not covered by any polygon become atoms too, so the tiling stays exact.

Weights are counted geometrically: the households, population and workload of every
standard address inside an atom (an address on a shared edge counts once).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.errors import InputError
from gridmap.partition._frames import address_frame, polygonal, to_metric, village_frame
from gridmap.partition.adjacency import rook_adjacency

log = logging.getLogger(__name__)

ATOM_COLUMNS = ["atom_id", "village_code", "households", "population", "workload", "h3_cell", "resolution",
                "geometry"]
WEIGHTS = ["households", "population", "workload"]
#: snap-rounding grid of every overlay (metres): exact, robust noding; far below the 1 m² tiling tolerance
GRID_M = 1e-5
#: pieces and faces below this area (m²) are floating-point noise of the overlay, not land
NOISE_M2 = 1e-3


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


def _covering_cells(geom, res: int) -> list[str]:
    """Cells at ``res`` that may intersect ``geom`` (overlap cover plus one ring of margin,
    because straight lon/lat edges and H3's own edges differ slightly)."""
    shape = h3.geo_to_h3shape(geom)
    cells = set(h3.h3shape_to_cells_experimental(shape, res, contain="overlap"))
    if not cells:
        cells = {h3.latlng_to_cell(geom.representative_point().y, geom.representative_point().x, res)}
    ring = set()
    for c in cells:
        ring.update(h3.grid_disk(c, 1))
    return sorted(cells | ring)


def _cut(pieces: np.ndarray, cells: list[str], cell_geoms: np.ndarray, owner: np.ndarray):
    """Intersect piece ``owner[k]`` with cell ``k``; returns (owner, cell, geometry) of the
    non-empty polygonal results.  Cells lying wholly inside the piece are taken as they are."""
    shapely.prepare(pieces)
    hit = shapely.intersects(pieces[owner], cell_geoms)
    owner, cell_geoms = owner[hit], cell_geoms[hit]
    cells = np.asarray(cells, dtype=object)[hit]
    inside = shapely.contains_properly(pieces[owner], cell_geoms)
    geoms = shapely.set_precision(cell_geoms, GRID_M)
    geoms[~inside] = shapely.intersection(pieces[owner[~inside]], cell_geoms[~inside], grid_size=GRID_M)
    geoms = polygonal(geoms)
    ok = ~shapely.is_empty(geoms) & (shapely.area(geoms) > 0)
    return owner[ok], cells[ok], geoms[ok]


def _assign_points(points: np.ndarray, point_village: np.ndarray, geoms: np.ndarray,
                   geom_village: np.ndarray) -> np.ndarray:
    """Index of the polygon of the point's own village that holds each point (-1: none).
    A point on an edge shared by two polygons goes to the first one."""
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(geoms) == 0:
        return out
    pi, gi = shapely.STRtree(geoms).query(points, predicate="intersects")
    same = point_village[pi] == geom_village[gi]
    pi, gi = pi[same], gi[same]
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.unique(pi, return_index=True)[1]
    out[pi[first]] = gi[first]
    return out


def _locate_villages(points: gpd.GeoDataFrame, village_geoms: np.ndarray) -> np.ndarray:
    """Row of the village holding each address (-1 outside every village)."""
    return _assign_points(points.geometry.values, np.zeros(len(points), np.int64),
                          village_geoms, np.zeros(len(village_geoms), np.int64))


def _weights(points: gpd.GeoDataFrame, where: np.ndarray, n: int) -> pd.DataFrame:
    ok = where >= 0
    sums = points.loc[ok, WEIGHTS].groupby(where[ok]).sum()
    out = pd.DataFrame(0, index=np.arange(n), columns=WEIGHTS, dtype="int64")
    out.loc[sums.index, WEIGHTS] = sums.to_numpy()
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
        # faces of a few mm² are floating-point noise between pieces: dropping them leaves no real gap
        faces = faces[shapely.area(faces) > NOISE_M2]
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
                shapely.area(shapely.intersection(faces[lost], vg, grid_size=GRID_M)) > 0.5 * shapely.area(faces[lost]))
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


def _merge_slivers(geoms: np.ndarray, village: np.ndarray, weights: pd.DataFrame, reference_area: np.ndarray,
                   sliver_share: float):
    """Merge pieces smaller than ``sliver_share × reference_area`` (m²) into the neighbour of
    the same village that shares the longest edge.  Returns (keep mask, geoms, weights)."""
    metric = geoms
    area = shapely.area(metric)
    sliver = area < sliver_share * reference_area
    keep = np.ones(len(geoms), bool)
    if not sliver.any():
        return keep, geoms, weights
    adj = rook_adjacency(metric, village)
    # both directions, best non-sliver neighbour by shared length
    a = np.r_[adj.i, adj.j]
    b = np.r_[adj.j, adj.i]
    length = np.r_[adj.length, adj.length]
    cand = sliver[a] & ~sliver[b]
    frame = pd.DataFrame({"a": a[cand], "b": b[cand], "len": length[cand]})
    frame = frame.sort_values(["a", "len", "b"], ascending=[True, False, True]).drop_duplicates("a")
    if frame.empty:
        return keep, geoms, weights
    target = frame["b"].to_numpy()
    src = frame["a"].to_numpy()
    geoms = geoms.copy()
    weights = weights.copy()
    groups = pd.Series(src).groupby(target)
    for tgt, members in groups:
        members = members.to_numpy()
        geoms[tgt] = shapely.coverage_union_all(np.r_[geoms[tgt:tgt + 1], geoms[members]])
        weights.iloc[tgt] = weights.iloc[tgt].to_numpy() + weights.iloc[members].to_numpy().sum(axis=0)
    keep[src] = False
    return keep, geoms, weights


def _finish(villages: gpd.GeoDataFrame, village_geoms: np.ndarray, points: gpd.GeoDataFrame, point_village: np.ndarray,
            piece_village: np.ndarray, piece_label: np.ndarray, piece_res: np.ndarray, piece_geom: np.ndarray,
            reference_area: np.ndarray, sliver_share: float) -> gpd.GeoDataFrame:
    """Explode, node, count, merge slivers and label the pieces of every village (all
    geometry in LOCAL_CRS metres; the atoms come out in EPSG:4326)."""
    parts, owner = shapely.get_parts(piece_geom, return_index=True)
    keep = shapely.area(parts) > NOISE_M2
    parts, owner = parts[keep], owner[keep]
    piece_village, piece_label = piece_village[owner], piece_label[owner]
    piece_res, reference_area = piece_res[owner], reference_area[owner]
    parts = _node_villages(parts, piece_village, village_geoms)
    ok = ~shapely.is_empty(parts)
    parts, piece_village, piece_label = parts[ok], piece_village[ok], piece_label[ok]
    piece_res, reference_area = piece_res[ok], reference_area[ok]
    where = _assign_points(points.geometry.values, point_village, parts, piece_village)
    weights = _weights(points, where, len(parts))
    keep, parts, weights = _merge_slivers(parts, piece_village, weights, reference_area, sliver_share)
    parts, weights = parts[keep], weights[keep].reset_index(drop=True)
    piece_village, piece_label, piece_res = piece_village[keep], piece_label[keep], piece_res[keep]
    codes = villages["village_code"].to_numpy()[piece_village]
    frame = pd.DataFrame({"village_code": codes, "label": piece_label,
                          "area": shapely.area(parts)})
    # stable ids: village:label:n with n counting parts of the same label, largest first
    frame["n"] = (frame.sort_values("area", ascending=False, kind="stable")
                  .groupby(["village_code", "label"]).cumcount().reindex(frame.index))
    atom_id = frame["village_code"] + ":" + frame["label"].astype(str) + ":" + frame["n"].astype(str)
    out = gpd.GeoDataFrame({
        "atom_id": atom_id.to_numpy(),
        "village_code": codes,
        "households": weights["households"].to_numpy(),
        "population": weights["population"].to_numpy(),
        "workload": weights["workload"].to_numpy(),
        "h3_cell": np.where(piece_res >= 0, piece_label, ""),
        "resolution": piece_res.astype(np.int64),
    }, geometry=parts, crs=LOCAL_CRS).to_crs(WGS84)
    return out.sort_values(["village_code", "atom_id"], ignore_index=True)


def _prepare(villages, addresses, workload):
    v = village_frame(villages)
    pts = address_frame(addresses, workload if isinstance(workload, str) else None)
    if workload is not None and not isinstance(workload, str):
        pts = _with_workload_points(pts, workload)
    vm = to_metric(v.geometry.values)
    pts = pts.to_crs(LOCAL_CRS)
    where = _locate_villages(pts, vm)
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
    vals = (pd.to_numeric(w["workload"], errors="coerce").fillna(0).to_numpy("int64")
            if isinstance(w, gpd.GeoDataFrame) and "workload" in w.columns else np.ones(len(geoms), "int64"))
    ok = shapely.get_type_id(np.asarray(geoms)) == 0
    extra = gpd.GeoDataFrame({"households": 0, "population": 0, "workload": vals[ok]}, geometry=geoms[ok], crs=WGS84)
    out = pd.concat([points.assign(workload=0), extra], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)


def build_atoms(
    villages: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame,
    target: int = 400,
    max_share: float = 0.25,
    base_resolution: int = 8,
    max_resolution: int = 11,
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
        H3 resolutions of empty land and of the finest refinement.
    workload : str | GeoDataFrame | None
        An address column, or points (cases) counted per atom (column ``workload`` or 1 each).
    sliver_share : float
        Pieces smaller than this share of their H3 cell's area are merged into a neighbour.

    Returns
    -------
    GeoDataFrame
        ``atom_id, village_code, households, population, workload, h3_cell, resolution``,
        geometry Polygon in EPSG:4326.  ``attrs["report"]`` holds ``addresses_outside``
        (addresses in no village), ``overweight_addresses`` (single addresses above the cap)
        and ``overweight_atoms`` (atoms above the cap at ``max_resolution``).
    """
    if not 0 <= base_resolution <= max_resolution <= 15:
        raise InputError("need 0 <= base_resolution <= max_resolution <= 15")
    cap = max_share * target
    v, vgeoms, pts, point_village, outside = _prepare(villages, addresses, workload)
    cells, owner = [], []
    for i, g in enumerate(v.geometry.values):
        cs = _covering_cells(g, base_resolution)
        cells.extend(cs)
        owner.extend([i] * len(cs))
    owner = np.asarray(owner, dtype=np.int64)
    unique, inverse = np.unique(np.asarray(cells, dtype=object).astype(str), return_inverse=True)
    unique_geoms = to_metric(cell_polygons(unique))
    piece_village, piece_cell, piece_geom = _cut(vgeoms, list(unique[inverse]), unique_geoms[inverse], owner)
    piece_res = np.full(len(piece_geom), base_resolution, dtype=np.int64)
    pts_geom = pts.geometry.values
    hh = pts["households"].to_numpy()
    while True:
        where = _assign_points(pts_geom, point_village, piece_geom, piece_village)
        ok = where >= 0
        load = np.bincount(where[ok], weights=hh[ok], minlength=len(piece_geom))
        npts = np.bincount(where[ok], minlength=len(piece_geom))
        heavy = np.flatnonzero((load > cap) & (npts > 1) & (piece_res < max_resolution))
        if len(heavy) == 0:
            break
        res = piece_res[heavy[0]]  # all heavy pieces of one pass share a resolution only by chance
        new_cells, new_owner = [], []
        for p in heavy:
            kids = h3.cell_to_children(piece_cell[p], int(piece_res[p]) + 1)
            cand = set()
            for kid in kids:
                cand.update(h3.grid_disk(kid, 1))
            new_cells.extend(sorted(cand))
            new_owner.extend([p] * len(cand))
        new_owner = np.asarray(new_owner, dtype=np.int64)
        uniq, inv = np.unique(np.asarray(new_cells, dtype=object).astype(str), return_inverse=True)
        o, c, g = _cut(piece_geom, list(uniq[inv]), to_metric(cell_polygons(uniq))[inv], new_owner)
        keep = np.ones(len(piece_geom), bool)
        keep[heavy] = False
        piece_village = np.r_[piece_village[keep], piece_village[o]]
        piece_res = np.r_[piece_res[keep], piece_res[o] + 1]
        piece_cell = np.r_[piece_cell[keep], c]
        piece_geom = np.r_[piece_geom[keep], g]
        log.debug("refined %d pieces below resolution %d", len(heavy), res + 1)
    reference = np.array([h3.average_hexagon_area(int(r), "m^2") for r in range(16)])[piece_res]
    atoms = _finish(v, vgeoms, pts, point_village, piece_village, piece_cell.astype(object), piece_res, piece_geom,
                    reference, sliver_share)
    big = pts["households"].to_numpy() > cap
    atoms.attrs["report"] = {
        "addresses_outside": outside,
        "overweight_addresses": int(big.sum()),
        "overweight_atoms": atoms.loc[atoms["households"] > cap, "atom_id"].tolist(),
        "cap": cap,
    }
    return atoms


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
    labels = (polygons[id_field].astype(str).to_numpy() if id_field else
              np.array([f"b{i}" for i in range(len(polygons))], dtype=object))
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
    atoms = _finish(v, vgeoms, pts, point_village, piece_village, piece_label, np.full(len(piece_geom), -1),
                    piece_geom, np.full(len(piece_geom), float(sliver_m2)), 1.0)
    atoms.attrs["report"] = {"addresses_outside": outside, "overweight_addresses": 0, "overweight_atoms": []}
    return atoms
