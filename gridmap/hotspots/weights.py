"""Binary spatial weights as scipy CSR matrices: queen contiguity, H3 k-rings, distance bands.

Every builder returns :class:`SpatialWeights`: a square binary CSR matrix with a zero
diagonal (a unit is never its own neighbour here; Gi* adds the self weight itself),
the unit ids in matrix order, and the islands (units without a neighbour) listed
explicitly.  Matrices are symmetric for every builder in this module.

Inputs in WGS-84 (EPSG:4326, degrees); metric work (distance bands, snapping
tolerances) happens in :data:`gridmap.crs.LOCAL_CRS` metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import geopandas as gpd
import h3
import numpy as np
import scipy.sparse as sp
import shapely
from h3._cy import grid_disk as _grid_disk_int
from scipy.spatial import cKDTree

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.errors import InputError


@dataclass(frozen=True)
class SpatialWeights:
    """Binary neighbour relation between ``n`` units.

    Attributes
    ----------
    sparse : scipy.sparse.csr_matrix
        (n, n) float64, 1.0 where unit j is a neighbour of unit i, zero diagonal.
    ids : numpy.ndarray
        (n,) unit ids in matrix order (grid codes, admin codes, H3 cells as uint64, …).
    kind : str
        how the relation was built (``queen``, ``h3_k1``, ``distance_500m``, ``space_time``…).
    """

    sparse: sp.csr_matrix
    ids: np.ndarray
    kind: str = "custom"
    cardinalities: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        matrix = sp.csr_matrix(self.sparse, dtype=np.float64)
        if matrix.shape[0] != matrix.shape[1]:
            raise InputError(f"weights must be square, got shape {matrix.shape}")
        if len(self.ids) != matrix.shape[0]:
            raise InputError(f"{len(self.ids)} ids for a weights matrix of {matrix.shape[0]} units")
        matrix.sum_duplicates()
        # drop the diagonal and explicit zeros by masking the CSR arrays (setdiag would copy)
        rows = np.repeat(np.arange(matrix.shape[0], dtype=matrix.indices.dtype), np.diff(matrix.indptr))
        keep = (matrix.indices != rows) & (matrix.data != 0)
        if not keep.all():
            indptr = np.r_[0, np.cumsum(np.bincount(rows[keep], minlength=matrix.shape[0]))]
            matrix = sp.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)
        matrix.sort_indices()
        matrix.data = np.ones(len(matrix.indices))
        object.__setattr__(self, "sparse", matrix)
        object.__setattr__(self, "ids", np.asarray(self.ids))
        object.__setattr__(self, "cardinalities", np.diff(matrix.indptr).astype(np.int64))

    @classmethod
    def from_canonical(cls, matrix: sp.csr_matrix, ids: np.ndarray, kind: str) -> SpatialWeights:
        """Wrap a CSR matrix a builder made canonical (binary 1.0 data, sorted unique indices,
        zero diagonal, square, len(ids) rows) without re-checking it: the checks cost more than
        the fast builders themselves."""
        self = object.__new__(cls)
        object.__setattr__(self, "sparse", matrix)
        object.__setattr__(self, "ids", np.asarray(ids))
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "cardinalities", np.diff(matrix.indptr).astype(np.int64))
        return self

    @property
    def n(self) -> int:
        return int(self.sparse.shape[0])

    @property
    def islands(self) -> np.ndarray:
        """Positions (not ids) of units without any neighbour."""
        return np.flatnonzero(self.cardinalities == 0)

    @property
    def island_ids(self) -> np.ndarray:
        return self.ids[self.islands]

    @property
    def mean_neighbours(self) -> float:
        return float(self.cardinalities.mean()) if self.n else 0.0

    def subset(self, keep: np.ndarray) -> SpatialWeights:
        """The relation restricted to the units where boolean ``keep`` is true."""
        keep = np.asarray(keep, dtype=bool)
        return SpatialWeights(self.sparse[keep][:, keep], self.ids[keep], kind=f"{self.kind}_subset")


def as_weights(weights: SpatialWeights | sp.spmatrix | sp.sparray, n: int | None = None) -> SpatialWeights:
    """Accept a :class:`SpatialWeights` or any square scipy sparse matrix (made binary, diagonal dropped)."""
    if isinstance(weights, SpatialWeights):
        result = weights
    elif sp.issparse(weights):
        matrix = sp.csr_matrix(weights)
        result = SpatialWeights(matrix, np.arange(matrix.shape[0]))
    else:
        raise InputError(
            f"weights must be SpatialWeights or a scipy sparse matrix, got {type(weights).__name__}"
        )
    if n is not None and result.n != n:
        raise InputError(f"weights cover {result.n} units but {n} values were given")
    return result


def _pairs_to_weights(rows: np.ndarray, cols: np.ndarray, ids: np.ndarray, kind: str) -> SpatialWeights:
    """Canonical symmetric CSR straight from neighbour pairs: int32 indices (below 2**31 units),
    one sort of int64 (row, col) keys that also drops duplicates, no COO → CSR round trip."""
    n = len(ids)
    index_type = np.int32 if n < 2**31 - 1 else np.int64
    keep = rows != cols
    rows, cols = np.asarray(rows[keep], np.int64), np.asarray(cols[keep], np.int64)
    # symmetrise: every builder here describes a symmetric relation
    key = np.concatenate([rows * n + cols, cols * n + rows])
    del rows, cols
    key = np.unique(key)
    indices = (key % n).astype(index_type)
    indptr = np.zeros(n + 1, dtype=index_type)
    np.cumsum(np.bincount(key // n, minlength=n), out=indptr[1:])
    del key
    matrix = sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n, n))
    return SpatialWeights.from_canonical(matrix, ids, kind)


def _geometry_array(units: gpd.GeoDataFrame | gpd.GeoSeries) -> tuple[np.ndarray, object]:
    if not isinstance(units, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InputError(f"units must be a GeoDataFrame or GeoSeries, got {type(units).__name__}")
    if units.crs is None:
        raise InputError("units have no CRS; expected WGS-84 (EPSG:4326) polygons")
    geometry = units.geometry if isinstance(units, gpd.GeoDataFrame) else units
    if geometry.isna().any() or geometry.is_empty.any():
        bad = int((geometry.isna() | geometry.is_empty).sum())
        raise InputError(f"{bad} units have no geometry; drop or repair them before building weights")
    return np.asarray(geometry.values), units.crs


def _unit_ids(units: gpd.GeoDataFrame | gpd.GeoSeries, ids) -> np.ndarray:
    if ids is None:
        return np.arange(len(units))
    if isinstance(ids, str):
        if not isinstance(units, gpd.GeoDataFrame) or ids not in units.columns:
            raise InputError(f"id column {ids!r} not found in units")
        ids = units[ids].to_numpy()
    ids = np.asarray(ids)
    if len(ids) != len(units):
        raise InputError(f"{len(ids)} ids for {len(units)} units")
    if len(np.unique(ids)) != len(ids):
        raise InputError("unit ids are not unique")
    return ids


def _shared_vertex_pairs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (i, j) of geometries that have a vertex with identical coordinates."""
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    if len(coords) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.lexsort((owner, coords[:, 1], coords[:, 0]))
    x, y, owner = coords[order, 0], coords[order, 1], owner[order]
    same_xy = np.r_[False, (x[1:] == x[:-1]) & (y[1:] == y[:-1])]
    # one entry per (vertex position, geometry): rings repeat their first vertex
    repeated = same_xy & np.r_[False, owner[1:] == owner[:-1]]
    x, y, owner, same_xy = x[~repeated], y[~repeated], owner[~repeated], same_xy[~repeated]
    group = np.cumsum(~same_xy) - 1
    sizes = np.bincount(group)
    shared = sizes[group] >= 2
    owner, group = owner[shared], group[shared]
    if len(owner) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    # renumber the shared groups 0..g-1 and emit every member × member pair per group
    _, group = np.unique(group, return_inverse=True)
    sizes = np.bincount(group)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    per_member = sizes[group]
    rows = np.repeat(owner, per_member)
    pair_start = np.repeat(starts[group], per_member)
    offset_in_group = np.arange(per_member.sum()) - np.repeat(np.cumsum(per_member) - per_member, per_member)
    cols = owner[pair_start + offset_in_group]
    return rows.astype(np.int64), cols.astype(np.int64)


def queen_weights(
    units: gpd.GeoDataFrame | gpd.GeoSeries,
    ids: str | np.ndarray | None = None,
    criterion: str = "vertex",
    tolerance_m: float = 0.0,
) -> SpatialWeights:
    """Queen contiguity of polygons (grids, villages, townships, counties).

    Parameters
    ----------
    units : GeoDataFrame or GeoSeries
        polygons in WGS-84 (EPSG:4326); any CRS is accepted and used as is for ``vertex``.
    ids : str, array-like or None
        a column name or an array of unit ids (matrix order = row order); None → 0..n-1.
    criterion : {"vertex", "geometry"}
        ``vertex`` (default): neighbours share at least one vertex with identical
        coordinates, exactly what ``libpysal.weights.Queen.from_dataframe`` computes.
        ``geometry``: neighbours' outlines intersect (or come within ``tolerance_m``),
        which also catches a vertex lying on the other polygon's edge and small gaps
        from un-noded data; computed with a shapely STRtree in LOCAL_CRS metres.
    tolerance_m : float
        snapping distance in metres for ``criterion="geometry"`` (0 → touching/overlapping only).

    Returns
    -------
    SpatialWeights
        binary, symmetric, zero diagonal; islands listed in ``.islands``.
    """
    geoms, crs = _geometry_array(units)
    unit_ids = _unit_ids(units, ids)
    if criterion == "vertex":
        rows, cols = _shared_vertex_pairs(geoms)
        return _pairs_to_weights(rows, cols, unit_ids, "queen")
    if criterion == "geometry":
        if tolerance_m < 0:
            raise InputError(f"tolerance_m must be >= 0, got {tolerance_m}")
        local = np.asarray(gpd.GeoSeries(geoms, crs=crs).to_crs(LOCAL_CRS).values)
        tree = shapely.STRtree(local)
        if tolerance_m > 0:
            rows, cols = tree.query(local, predicate="dwithin", distance=tolerance_m)
        else:
            rows, cols = tree.query(local, predicate="intersects")
        return _pairs_to_weights(rows, cols, unit_ids, f"queen_geometry_{tolerance_m:g}m")
    raise InputError(f"criterion must be 'vertex' or 'geometry', got {criterion!r}")


def h3_cells_as_int(cells) -> np.ndarray:
    """H3 cells (hex strings or integers) → uint64 array."""
    arr = np.asarray(cells)
    if arr.dtype.kind in "OUS":
        try:
            return np.fromiter((h3.str_to_int(str(c)) for c in arr.tolist()), np.uint64, len(arr))
        except (ValueError, h3.H3BaseException) as exc:
            raise InputError(f"invalid H3 cell in input: {exc}") from exc
    return arr.astype(np.uint64)


def h3_disks(cells: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat k-ring members of every cell and their owner positions (uint64 cells, int64 owners)."""
    cell_list = cells.tolist()
    # one C call per cell, results joined as raw bytes: ~10x cheaper than building arrays per cell
    views = [_grid_disk_int(c, k) for c in cell_list]
    flat = np.frombuffer(b"".join([bytes(v) for v in views]), dtype=np.uint64)
    ring_size = 3 * k * (k + 1) + 1
    if len(flat) == ring_size * len(cell_list):
        owners = np.repeat(np.arange(len(cell_list), dtype=np.int64), ring_size)
    else:  # pentagons have smaller disks
        lengths = np.fromiter((len(v) for v in views), np.int64, len(views))
        owners = np.repeat(np.arange(len(cell_list), dtype=np.int64), lengths)
    return flat, owners


# --- H3 neighbours by integer arithmetic on the indexes -------------------------------------
#
# An H3 index holds a base cell and one digit 0..6 per resolution.  The neighbour of a cell in
# direction d (1..6) replaces the finest digit by NEW[digit, d] and, when ADJUST[digit, d] is
# not 0, moves the parent the same way in direction ADJUST[digit, d] (a carry), as H3's own
# h3NeighborRotations does.  Within one base cell no rotation is involved, so these two tables
# per resolution parity are all there is; they are read off h3 itself (below), not copied.
# Cells whose carry leaves the base cell, or lands in the deleted K sector of a pentagon base
# cell, are handed to h3.grid_disk one by one.

_DIGIT_MASK = np.uint64(7)


@cache
def _h3_digit_tables() -> tuple[np.ndarray, np.ndarray]:
    """(NEW, ADJUST), each (2, 49) int64 indexed [resolution % 2, digit * 7 + direction], from h3."""
    new = np.zeros((2, 7, 7), np.int64)
    adjust = np.zeros((2, 7, 7), np.int64)
    for resolution in (9, 10):  # one odd, one even resolution, deep inside a hexagon's subtree
        parent = h3.cell_to_parent(h3.latlng_to_cell(43.65, 122.26, resolution), resolution - 1)
        shift = 3 * (15 - resolution)
        for child in h3.cell_to_children(parent, resolution):
            digit = (h3.str_to_int(child) >> shift) & 7
            new[resolution % 2, digit, 0] = digit
            for other in h3.grid_disk(child, 1):
                if other == child:
                    continue
                direction = (h3.str_to_int(h3.cells_to_directed_edge(child, other)) >> 56) & 7
                new[resolution % 2, digit, direction] = (h3.str_to_int(other) >> shift) & 7
                other_parent = h3.cell_to_parent(other, resolution - 1)
                adjust[resolution % 2, digit, direction] = (
                    0
                    if other_parent == parent
                    else (h3.str_to_int(h3.cells_to_directed_edge(parent, other_parent)) >> 56) & 7
                )
    return new.reshape(2, 49), adjust.reshape(2, 49)


@cache
def _pentagon_base_cells() -> np.ndarray:
    """Boolean lookup over the 128 base-cell numbers: True for the 12 pentagons."""
    table = np.zeros(128, dtype=bool)
    table[[h3.get_base_cell_number(p) for p in h3.get_pentagons(0)]] = True
    return table


def h3_neighbours_arithmetic(cells: np.ndarray, resolution: int, directions=(1, 2, 3)) -> np.ndarray:
    """(len(directions), n) uint64 neighbour of each cell in each H3 direction; 0 where h3 must decide.

    Directions 1, 2, 3 (K, J, JK) reach every edge once: their opposites are 6, 5, 4.
    """
    new, adjust = _h3_digit_tables()
    n = len(cells)
    m = len(directions)
    current = np.tile(cells, m)
    carry_dir = np.repeat(np.asarray(directions, dtype=np.int64), n)
    todo = None  # None: every entry (the finest digit); then only the carrying ones
    for r in range(resolution, 0, -1):
        shift = np.uint64(3 * (15 - r))
        value = current if todo is None else current[todo]
        key = ((value >> shift) & _DIGIT_MASK).astype(np.int64)
        key *= 7
        key += carry_dir if todo is None else carry_dir[todo]
        value = (value & ~(_DIGIT_MASK << shift)) | (new[r % 2].take(key).astype(np.uint64) << shift)
        step = adjust[r % 2].take(key)
        carrying = step != 0
        if todo is None:
            current, carry_dir, todo = value, step, np.flatnonzero(carrying)
        else:
            current[todo] = value
            carry_dir[todo] = step
            todo = todo[carrying]
        if len(todo) == 0:
            break
    current[todo] = 0  # the carry left the base cell: rotations, ask h3
    in_pentagon = _pentagon_base_cells()[((cells >> np.uint64(45)) & np.uint64(127)).astype(np.intp)]
    if in_pentagon.any():
        # a result whose leading non-zero digit is K (1) lies in the deleted sector: ask h3
        out = current.reshape(m, n)
        leading = np.zeros((m, n), np.uint64)
        for r in range(resolution, 0, -1):
            digit = (out >> np.uint64(3 * (15 - r))) & _DIGIT_MASK
            leading = np.where(digit != 0, digit, leading)
        out[(leading == 1) & in_pentagon[None, :]] = 0
    return current.reshape(m, n)


# Lattice coordinates: inside one hexagon base cell an H3 cell's position is an integer point of
# the hexagonal lattice at its resolution, (i, j) = sum over levels of the aperture-7 maps of H3's
# _downAp7 / _downAp7r applied to the digits' unit vectors (ijk reduced to axial i - k, j - k).
# Two cells of one base cell are neighbours exactly when their lattice points differ by one of
# the six unit vectors, so most of a ring is six look-ups in a table of lattice points; cells
# with a missing lattice neighbour (the edge of the cell set, a base-cell border, a pentagon
# base cell) get their ring from the digit arithmetic above and h3 instead.
_UNIT_AXIAL = np.array([[0, 0], [-1, -1], [0, 1], [-1, 0], [1, 0], [0, -1], [1, 1]], dtype=np.int32)


@cache
def _lattice_step(first_level: int, levels: int) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The lattice map of ``levels`` consecutive digits from ``first_level``: the 2×2 integer matrix
    (a, b, c, d) applied to (i, j) and the offsets (8**levels, 2) added for the digits read as one
    number, as H3 applies _downAp7 (odd levels) or _downAp7r (even levels), then the digit's unit."""
    matrix = np.eye(2, dtype=np.int64)
    offsets = np.zeros((8**levels, 2), dtype=np.int64)
    for r in range(first_level, first_level + levels):
        step = np.array([[2, 1], [-1, 3]] if r % 2 else [[3, -1], [1, 2]], dtype=np.int64)
        matrix = step @ matrix
        offsets = offsets @ step.T
        digit = (np.arange(8**levels) >> (3 * (first_level + levels - 1 - r))) & 7
        offsets += _UNIT_AXIAL[np.minimum(digit, 6)]
    offsets = offsets.astype(np.int32)
    return tuple(int(x) for x in matrix.ravel()), offsets


def h3_lattice_coordinates(cells: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Axial (i, j) int32 lattice point of each uint64 cell within its base cell (H3's own IJK).

    Three digits at a time: one table look-up of 512 offsets and one integer 2×2 map per step.
    """
    i = np.zeros(len(cells), dtype=np.int32)
    j = np.zeros(len(cells), dtype=np.int32)
    for first in range(1, resolution + 1, 3):
        levels = min(3, resolution + 1 - first)
        (a, b, c, d), offsets = _lattice_step(first, levels)
        shift = np.uint64(3 * (15 - (first + levels - 1)))
        chunk = ((cells >> shift) & np.uint64(8**levels - 1)).astype(np.intp)
        i, j = a * i + b * j, c * i + d * j
        i += offsets[:, 0].take(chunk)
        j += offsets[:, 1].take(chunk)
    return i, j


def _exact_ring1_columns(
    ids: np.ndarray,
    sorted_ids: np.ndarray,
    order: np.ndarray,
    rows: np.ndarray,
    resolution: int,
    columns: np.ndarray,
) -> None:
    """Fill ``columns[rows]`` with each cell's ring positions (``n`` = no neighbour): digit
    arithmetic per direction, h3.grid_disk for the cells it leaves open."""
    n = len(ids)
    subset = ids[rows]
    columns[rows] = n
    open_cells = np.zeros(len(rows), dtype=bool)
    for slot, direction in enumerate(range(1, 7)):
        found = h3_neighbours_arithmetic(subset, resolution, directions=(direction,))[0]
        open_cells |= found == 0
        pos = np.searchsorted(sorted_ids, found)
        np.minimum(pos, n - 1, out=pos)
        present = (sorted_ids[pos] == found) & (found != 0)
        columns[rows[present], slot] = order[pos[present]]
    unresolved = rows[open_cells]
    if len(unresolved):
        flat, local = h3_disks(ids[unresolved], 1)
        keep = flat != ids[unresolved][local]
        flat, local = flat[keep], local[keep]
        slot = np.arange(len(local)) - np.searchsorted(local, local)  # 0.. within each cell
        pos = np.searchsorted(sorted_ids, flat)
        np.minimum(pos, n - 1, out=pos)
        hit = sorted_ids[pos] == flat
        columns[unresolved] = n
        columns[unresolved[local[hit]], slot[hit]] = order[pos[hit]]


def _lattice_ring1_columns(ids: np.ndarray, resolution: int, columns: np.ndarray) -> np.ndarray:
    """Fill ``columns`` from lattice look-ups; returns the rows that need the exact path."""
    n = len(ids)
    base = ((ids >> np.uint64(45)) & np.uint64(127)).astype(np.intp)
    i, j = h3_lattice_coordinates(ids, resolution)
    # one padded table of lattice points per base cell present, so that i ± 1, j ± 1 stay inside
    bases = np.flatnonzero(np.bincount(base, minlength=128))
    slot_of_base = np.zeros(128, dtype=np.int64)
    slot_of_base[bases] = np.arange(len(bases))
    base_slot = slot_of_base.take(base)
    i -= i.min() - 1
    j -= j.min() - 1
    height, width = int(i.max()) + 2, int(j.max()) + 2
    table_size = len(bases) * height * width
    key_type = np.int64 if table_size >= 2**31 else np.int32
    key = (base_slot.astype(key_type) * height + i) * width + j
    del base, base_slot
    dense = table_size <= 8 * n + 1_000_000
    if dense:
        table = np.full(table_size, n, dtype=columns.dtype)
        table[key] = np.arange(n, dtype=columns.dtype)
    else:  # scattered cells: binary search in the sorted keys instead of a mostly empty table
        key_order = np.argsort(key, kind="stable").astype(columns.dtype)
        sorted_keys = key[key_order]
    for slot, (di, dj) in enumerate(_UNIT_AXIAL[1:].tolist()):
        wanted = key + (di * width + dj)
        if dense:
            columns[:, slot] = table[wanted]
        else:
            pos = np.searchsorted(sorted_keys, wanted)
            np.minimum(pos, n - 1, out=pos)
            columns[:, slot] = np.where(sorted_keys[pos] == wanted, key_order[pos], n)
        del wanted
    # Pentagon base cells need no exclusion: the deleted K sector holds no cell, so a ring that
    # would cross it misses a lattice neighbour and takes the exact path; a lattice neighbour that
    # is present is the digit arithmetic's answer, which h3NeighborRotations gives there too.
    return np.flatnonzero((columns == n).any(axis=1))


def h3_ring1_csr(ids: np.ndarray, resolution: int) -> sp.csr_matrix:
    """Binary k=1 neighbour matrix among uint64 ``ids`` (matrix order = input order), sorted CSR.

    Vectorised: lattice look-ups (:func:`h3_lattice_coordinates`) for cells whose six
    neighbours all lie in their base cell and in ``ids``; the others (edges of the set,
    base-cell borders, a pentagon's deleted sector) from :func:`h3_neighbours_arithmetic` with one
    binary search per direction, and h3.grid_disk for the few that arithmetic leaves open.
    Indices are int32 below 2**31 cells.
    """
    n = len(ids)
    index_type = np.int32 if n < 2**31 - 1 else np.int64
    columns = np.empty((n, 6), dtype=index_type)  # n marks an empty slot
    rows = _lattice_ring1_columns(ids, resolution, columns)
    if len(rows):
        order = np.argsort(ids, kind="stable").astype(index_type)
        _exact_ring1_columns(ids, ids[order], order, rows, resolution, columns)
    columns.sort(axis=1)
    filled = columns < n
    indptr = np.zeros(n + 1, dtype=index_type)
    np.cumsum(filled.sum(axis=1), out=indptr[1:])
    indices = columns[filled]
    del columns, filled
    return sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n, n))


def h3_weights(cells, k: int = 1) -> SpatialWeights:
    """H3 k-ring contiguity among the given cells.

    Parameters
    ----------
    cells : array-like
        H3 cells of one resolution (uint64 integers or hex strings); matrix order = input order.
    k : int
        grid distance: k=1 → the 6 touching hexagons.

    Returns
    -------
    SpatialWeights
        ids are the uint64 cells.  A ring member that is not in ``cells`` is *absent*
        (it is not treated as a zero-count neighbour): to analyse empty cells as zeros,
        put them in ``cells`` (see :func:`gridmap.hotspots.aggregate.count_in_h3` with
        ``study_area``).  Cells whose whole ring is absent are islands.
    """
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    ids = h3_cells_as_int(cells)
    n = len(ids)
    if n == 0:
        return SpatialWeights(sp.csr_matrix((0, 0)), ids, kind=f"h3_k{k}")
    resolution = check_h3_cells(ids)
    if k == 1 and resolution > 0:
        return SpatialWeights.from_canonical(h3_ring1_csr(ids, resolution), ids, "h3_k1")
    flat, owners = h3_disks(ids, k)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    pos = np.searchsorted(sorted_ids, flat)
    pos[pos == n] = 0
    present = sorted_ids[pos] == flat
    return _pairs_to_weights(owners[present], order[pos[present]], ids, f"h3_k{k}")


def check_h3_cells(cells: np.ndarray) -> int:
    """Validate uint64 H3 cells (cell mode, one resolution, unique); returns the resolution."""
    mode = (cells >> np.uint64(59)) & np.uint64(0xF)
    if (mode != 1).any():
        raise InputError(f"{int((mode != 1).sum())} values are not H3 cell indexes")
    resolution = (cells >> np.uint64(52)) & np.uint64(0xF)
    if resolution.min() != resolution.max():  # min/max: np.unique would cost more than the weights
        raise InputError(
            f"H3 cells mix resolutions {np.unique(resolution).tolist()}; bin all points at one resolution"
        )
    increasing = bool((cells[1:] > cells[:-1]).all())  # sorted input (the usual case) needs no sort
    if not increasing and (np.diff(np.sort(cells)) == 0).any():
        raise InputError("H3 cells are not unique")
    return int(resolution[0])


def distance_band_weights(
    locations: gpd.GeoDataFrame | gpd.GeoSeries,
    threshold_m: float,
    ids: str | np.ndarray | None = None,
) -> SpatialWeights:
    """Units are neighbours when their points (polygon centroids) are within ``threshold_m`` metres.

    Parameters
    ----------
    locations : GeoDataFrame or GeoSeries
        points or polygons in WGS-84 (EPSG:4326); polygons use their centroid in LOCAL_CRS.
    threshold_m : float
        band in metres, measured in LOCAL_CRS (inclusive).
    ids : str, array-like or None
        a column name or an array of unit ids; None → 0..n-1.
    """
    if not threshold_m > 0:
        raise InputError(f"threshold_m must be > 0, got {threshold_m}")
    geoms, crs = _geometry_array(locations)
    unit_ids = _unit_ids(locations, ids)
    local = gpd.GeoSeries(geoms, crs=crs or WGS84).to_crs(LOCAL_CRS)
    centres = shapely.get_coordinates(shapely.centroid(np.asarray(local.values)))
    pairs = cKDTree(centres).query_pairs(threshold_m, output_type="ndarray")
    return _pairs_to_weights(
        pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), unit_ids, f"distance_{threshold_m:g}m"
    )


def space_time_weights(spatial: SpatialWeights, n_times: int, time_lag: int = 1) -> SpatialWeights:
    """Neighbours in a space-time cube, ArcGIS *Emerging Hot Spot Analysis* style.

    The cube is flattened time-major: bin ``t * n_units + u`` is unit ``u`` in time step ``t``.
    A bin's neighbours are its unit's spatial neighbours in the same time step, plus the
    same unit *and* its spatial neighbours in each of the ``time_lag`` previous time steps
    (never later ones).  The bin itself is not included (Gi* adds it).

    Returns
    -------
    SpatialWeights
        ids are the flat bin positions ``t * n_units + u``.
    """
    if n_times < 1:
        raise InputError(f"n_times must be >= 1, got {n_times}")
    if time_lag < 0:
        raise InputError(f"time_lag must be >= 0, got {time_lag}")
    n = spatial.n
    with_self = spatial.sparse + sp.identity(n, format="csr")
    # lower band matrix: time step t sees steps t-time_lag .. t
    band = sp.diags(
        [np.ones(n_times - d) for d in range(min(time_lag, n_times - 1) + 1)],
        [-d for d in range(min(time_lag, n_times - 1) + 1)],
        shape=(n_times, n_times),
        format="csr",
    )
    matrix = sp.kron(band, with_self, format="csr")
    # not symmetric (the past sees no future): built directly rather than via _pairs_to_weights
    return SpatialWeights(matrix, np.arange(n * n_times), kind=f"space_time_lag{time_lag}")
