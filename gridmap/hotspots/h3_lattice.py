"""H3 cells of one icosahedron face as a dense hexagonal lattice: points → counts → ring sums → indexes.

Why this module exists: issue #12 asks for hot spots from 1M points in a fraction of a second.
h3ronpy places a point in 0.4 µs; a count map, its empty cells and its ring-1 neighbours then cost
another sort, a polygon fill and a weights build.  Inside one of the icosahedron's 20 faces H3 is a
plain hexagonal lattice, so all of that becomes array arithmetic in one compiled pass over the points.

How H3 places a point (H3 4.x, ``latLngToCell``), and what is done here instead:

1. the face is the one whose centre is nearest;
2. the point is projected gnomonically onto that face and scaled to the resolution (the "hex2d" plane,
   where neighbouring cell centres lie 1 apart; odd resolutions are rotated by the aperture-7 angle);
   here with dot products against two tangent vectors per face instead of ``acos``/``atan2``/``tan``;
3. rounded to the nearest cell centre (integer lattice coordinates ``a, b``);
4. the index: the coordinates are walked up resolution by resolution (one base-7 digit per level)
   to resolution 0, whose coordinates fix the base cell and a rotation of the digits.

Steps 1–3 are the same geometry as H3 with different floating-point operations, so the two can only
disagree for a point within ~1e-10 (relative) of a cell edge or of a face boundary.  Such points are
flagged and placed by h3ronpy itself.  In step 4 the digits are computed here, and the base cell and
rotation of each resolution-0 group are read from h3ronpy's index of one cell of the group (a sample
of cells is checked too).  Pentagon base cells (a deleted sector) are placed by h3ronpy.

Everything that cannot be done on one face returns ``None`` and the caller takes the general path
(:func:`gridmap.hotspots.aggregate.count_in_h3` and :func:`gridmap.hotspots.weights.h3_weights`):
points or a study area on more than one face, non-finite coordinates, a lattice too large for
memory.  Tests compare every cell, count and neighbour with h3ronpy and the general path.

Units: lon/lat in WGS-84 degrees (EPSG:4326); lattice coordinates are integers at the given resolution.
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import shapely

from gridmap.errors import InputError

try:  # compiled kernels; without numba every call returns None and callers take the general path
    import numba
    from numba import njit, prange
except ImportError:  # pragma: no cover - numba is a dependency; kept optional for odd platforms
    numba = None

# --- H3's icosahedron (H3 4.x, src/h3lib/lib/faceijk.c and constants.h, Apache-2.0) -------------------
# face centres as unit vectors, and the azimuth (radians, clockwise from north at the centre) of each
# face's Class II i-axis
_FACE_CENTRE_XYZ = np.array(
    [
        (0.2199307791404606, 0.6583691780274996, 0.7198475378926182),
        (-0.2139234834501421, 0.1478171829550703, 0.9656017935214205),
        (0.1092625278784797, -0.4811951572873210, 0.8697775121287253),
        (0.7428567301586791, -0.3593941678278028, 0.5648005936517033),
        (0.8112534709140969, 0.3448953237639384, 0.4721387736413930),
        (-0.1055498149613921, 0.9794457296411413, 0.1718874610009365),
        (-0.8075407579970092, 0.1533552485898818, 0.5695261994882688),
        (-0.2846148069787907, -0.8644080972654206, 0.4144792552473539),
        (0.7405621473854482, -0.6673299564565524, -0.0789837646326737),
        (0.8512303986474293, 0.4722343788582681, -0.2289137388687808),
        (-0.7405621473854481, 0.6673299564565524, 0.0789837646326737),
        (-0.8512303986474292, -0.4722343788582682, 0.2289137388687808),
        (0.1055498149613919, -0.9794457296411413, -0.1718874610009365),
        (0.8075407579970092, -0.1533552485898819, -0.5695261994882688),
        (0.2846148069787908, 0.8644080972654204, -0.4144792552473539),
        (-0.7428567301586791, 0.3593941678278027, -0.5648005936517033),
        (-0.8112534709140971, -0.3448953237639382, -0.4721387736413930),
        (-0.2199307791404607, -0.6583691780274996, -0.7198475378926182),
        (0.2139234834501420, -0.1478171829550704, -0.9656017935214205),
        (-0.1092625278784796, 0.4811951572873210, -0.8697775121287253),
    ]
)
_FACE_AXIS_AZIMUTH = np.array(
    [
        5.619958268523939882, 5.760339081714187279, 0.780213654393430055, 0.430469363979999913,
        6.130269123335111400, 2.692877706530642877, 2.982963003477243874, 3.532912002790141181,
        3.494305004259568154, 3.003214169499538391, 5.930472956509811562, 0.138378484090254847,
        0.448714947059150361, 0.158629650112549365, 5.891865957979238535, 2.711123289609793325,
        3.294508837434268316, 3.804819692245439833, 3.664438879055192436, 2.361378999196363184,
    ]
)  # fmt: skip
_RES0_U_GNOMONIC = 0.38196601125010500003  # resolution-0 cell spacing on the gnomonic plane
_AP7_ROTATION = 0.333473172251832115336090755351601070065900389  # odd resolutions: radians
_PENTAGON_BASE_CELLS = frozenset((4, 14, 24, 38, 49, 58, 63, 72, 83, 97, 107, 117))
# a point this close to a cell edge (in cell spacings, relative to its distance from the face centre)
# or to a face boundary (in cosine) is placed by h3ronpy, not by this module's arithmetic
_EDGE_MARGIN = 1e-9
_FACE_MARGIN = 1e-12
_MAX_LATTICE_CELLS = 30_000_000  # dense arrays of this many cells cost ~0.4 GB at most
# ring-1 neighbours in lattice coordinates, sorted by flat-index offset (row-major, b outer)
_NEIGHBOUR_OFFSETS = np.array([(-1, -1), (0, -1), (-1, 0), (1, 0), (0, 1), (1, 1)], dtype=np.int64)

# H3 digits: 0 centre, 1 k, 2 j, 3 jk, 4 i, 5 ik, 6 ij; by axial step (da, db) at (da + 1) * 3 + (db + 1)
_AXIAL_DIGIT = np.array([1, 3, -1, 5, 0, 2, -1, 4, 6], dtype=np.int64)
# digit -> digit after t rotations of 60° counter-clockwise (H3's _rotate60ccw applied t times)
_ROTATE_60_CCW = np.array([0, 5, 3, 1, 6, 4, 2, 7], dtype=np.uint8)
_ROTATION_TABLES = np.stack([np.arange(8, dtype=np.uint8)] * 6)
for _t in range(1, 6):
    _ROTATION_TABLES[_t] = _ROTATE_60_CCW[_ROTATION_TABLES[_t - 1]]

# sin/cos by table and short Taylor series: 4x faster than libm, within an ulp or two (the edge
# margin absorbs that); the table steps 1/64 rad, so |remainder| <= 1/128 rad
_TABLE_STEP = 64.0
_TABLE_ANGLES = np.arange(-int(math.pi * _TABLE_STEP) - 2, int(math.pi * _TABLE_STEP) + 3) / _TABLE_STEP
_TABLE_OFFSET = int(math.pi * _TABLE_STEP) + 2
_SIN_TABLE = np.sin(_TABLE_ANGLES)
_COS_TABLE = np.cos(_TABLE_ANGLES)


@dataclass(frozen=True)
class FaceFrame:
    """One face at one resolution: centre and the two scaled tangent vectors of H3's hex2d plane.

    For a unit vector ``p`` on the face, hex2d ``x = p·u / p·c`` and ``y = p·v / p·c``.
    """

    face: int
    resolution: int
    centre: np.ndarray
    u: np.ndarray
    v: np.ndarray
    scale: float


def face_frame(face: int, resolution: int) -> FaceFrame:
    """The hex2d frame of ``face`` at ``resolution`` (0–15)."""
    if not 0 <= resolution <= 15:
        raise InputError(f"H3 resolution must be 0..15, got {resolution}")
    centre = _FACE_CENTRE_XYZ[face]
    lat0 = math.asin(centre[2])
    lng0 = math.atan2(centre[1], centre[0])
    north = np.array([-math.sin(lat0) * math.cos(lng0), -math.sin(lat0) * math.sin(lng0), math.cos(lat0)])
    east = np.array([-math.sin(lng0), math.cos(lng0), 0.0])
    # theta = axis azimuth - point azimuth (counter-clockwise from the i-axis), less the aperture-7
    # rotation on odd resolutions; x = R cos(theta), y = R sin(theta)
    axis = _FACE_AXIS_AZIMUTH[face] - (_AP7_ROTATION if resolution % 2 else 0.0)
    scale = math.sqrt(7.0) ** resolution / _RES0_U_GNOMONIC
    u = scale * (math.cos(axis) * north + math.sin(axis) * east)
    v = scale * (math.sin(axis) * north - math.cos(axis) * east)
    return FaceFrame(face, resolution, centre.copy(), u, v, scale)


@dataclass(frozen=True)
class LatticeCounts:
    """Counts per H3 cell on one face's lattice.

    Attributes
    ----------
    cells : uint64 H3 indexes of the units (study-area cells and cells holding points), lattice order
        (row-major: ``b`` outer, ``a`` inner), not sorted by index.
    totals : float64 points (or point weights) per unit.
    a, b : int64 lattice coordinates of the units.
    unit_grid : int32 (nb, na) dense map of lattice cell → unit position, -1 where no unit.
    origin : (a0, b0), the lattice coordinates of ``unit_grid[0, 0]``.
    frame : the face and resolution.
    placed_by_h3ronpy : points near a cell edge that h3ronpy placed.
    """

    cells: np.ndarray
    totals: np.ndarray
    a: np.ndarray
    b: np.ndarray
    unit_grid: np.ndarray
    origin: tuple[int, int]
    frame: FaceFrame
    placed_by_h3ronpy: int

    @property
    def n(self) -> int:
        return len(self.cells)


if numba is not None:
    # The kernels below are branch-free (selects, clamped table indexes) so that LLVM vectorises the
    # point loop: ~5 ns a point a thread, against 30 ns with branches (a parallel loop also tells LLVM
    # that the arrays do not alias; a plain loop over eight arrays is not vectorised).  No
    # "nnan"/"ninf" in fastmath: the NaN test must survive; reassociation errors (~1e-16) are far
    # inside the 1e-9 edge margin.
    _FASTMATH = {"contract", "afn", "reassoc", "arcp", "nsz"}

    @njit(cache=True, inline="always", fastmath=_FASTMATH)
    def _sincos(angle):
        """(sin, cos) by a table every 1/64 rad and a short Taylor series (index clamped: NaN-safe)."""
        k = min(max(math.floor(angle * _TABLE_STEP + 0.5), -200.0), 200.0)
        d = angle - k / _TABLE_STEP
        d2 = d * d
        s = d * (1.0 - d2 / 6.0 * (1.0 - d2 / 20.0 * (1.0 - d2 / 42.0)))
        c = 1.0 - d2 / 2.0 * (1.0 - d2 / 12.0 * (1.0 - d2 / 30.0 * (1.0 - d2 / 56.0)))
        at = int(k) + _TABLE_OFFSET
        return _SIN_TABLE[at] * c + _COS_TABLE[at] * s, _COS_TABLE[at] * c - _SIN_TABLE[at] * s

    @njit(cache=True, inline="always", fastmath=_FASTMATH)
    def _unit_vector(lat_deg, lon_deg):
        """The point on the unit sphere (x, y, z) of WGS-84 degrees, as H3's ``_geoToVec3d``."""
        sla, cla = _sincos(lat_deg * (math.pi / 180.0))
        slo, clo = _sincos(lon_deg * (math.pi / 180.0))
        return cla * clo, cla * slo, sla

    @njit(cache=True, inline="always", fastmath=_FASTMATH)
    def _round_hex(x, y):
        """Nearest lattice centre (a, b) of hex2d (x, y), as floats, and the relative edge margin.

        Cube rounding in the 60° basis (q, r).  Margin: distance to the cell's edge in cell spacings
        over ``1 + |x| + |y|`` (the size of the floating-point error of x and y).
        """
        h = math.sqrt(3.0) / 2.0
        r = y * (2.0 / math.sqrt(3.0))
        q = x - 0.5 * r
        s = -q - r
        rq = math.floor(q + 0.5)
        rr = math.floor(r + 0.5)
        rs = math.floor(s + 0.5)
        dq = abs(rq - q)
        dr = abs(rr - r)
        ds = abs(rs - s)
        fix_q = (dq > dr) & (dq > ds)
        fix_r = (~fix_q) & (dr > ds)
        rq = -rr - rs if fix_q else rq
        rr = -rq - rs if fix_r else rr
        a = rq + rr
        b = rr
        dx = x - (a - 0.5 * b)
        dy = y - b * h
        worst = max(abs(dx), max(abs(0.5 * dx + h * dy), abs(-0.5 * dx + h * dy)))
        return a, b, (0.5 - worst) / (1.0 + abs(x) + abs(y))

    @njit(parallel=True, cache=True, fastmath=_FASTMATH)
    def _place_points(lat, lon, c, u, v, out_a, out_b, out_margin):
        """Lattice coordinates (as float32) and relative edge margin of points on the face of ``c``.

        ``x = p·u / p·c``, ``y = p·v / p·c`` (H3's hex2d plane, see :class:`FaceFrame`); margin -2 for
        NaN or coordinates off the globe.  Whether each point's nearest face is this one is :func:`_test_faces`' question.
        """
        for n in prange(len(lat)):
            px, py, pz = _unit_vector(lat[n], lon[n])
            inv = 1.0 / (px * c[0] + py * c[1] + pz * c[2])
            a, b, margin = _round_hex(
                (px * u[0] + py * u[1] + pz * u[2]) * inv, (px * v[0] + py * v[1] + pz * v[2]) * inv
            )
            out_a[n] = np.float32(a)  # float32 holds every lattice coordinate exactly (|a| < 2**24)
            out_b[n] = np.float32(b)
            out_margin[n] = np.float32(margin if abs(lat[n]) <= 90.0 and abs(lon[n]) <= 180.0 else -2.0)

    @njit(parallel=True, cache=True)
    def _test_faces(lat, lon, face, centres, out_margin):
        """Margin -2 for a point whose nearest face is another, 0 for one within 1e-12 (cosine) of a
        face boundary (placed by h3ronpy); for point sets near a face edge (see :func:`_cap_inside_face`)."""
        for n in prange(len(lat)):
            px, py, pz = _unit_vector(lat[n], lon[n])
            own = px * centres[face, 0] + py * centres[face, 1] + pz * centres[face, 2]
            other = -2.0
            for f in range(20):
                if f != face:
                    other = max(other, px * centres[f, 0] + py * centres[f, 1] + pz * centres[f, 2])
            if own < other:
                out_margin[n] = -2.0
            elif own - other < _FACE_MARGIN:
                out_margin[n] = min(out_margin[n], 0.0)

    @njit(parallel=True, cache=True)
    def _point_bounds(fa, fb, margin):
        """(min a, max a, min b, max b, smallest margin) in one parallel pass."""
        a0 = np.inf
        a1 = -np.inf
        b0 = np.inf
        b1 = -np.inf
        worst = np.inf
        for n in prange(len(fa)):
            a0 = min(a0, fa[n])
            a1 = max(a1, fa[n])
            b0 = min(b0, fb[n])
            b1 = max(b1, fb[n])
            worst = min(worst, margin[n])
        return int(a0), int(a1), int(b0), int(b1), worst

    @njit(cache=True)
    def _histogram(fa, fb, a0, b0, na, weights, weighted, dense, hit):
        """Sum points (or their weights) into the dense lattice; ``hit`` marks cells with any point."""
        for n in range(len(fa)):
            cell = (np.int64(fb[n]) - b0) * na + (np.int64(fa[n]) - a0)
            dense[cell] += weights[n] if weighted else 1.0
            hit[cell] = True

    @njit(cache=True, inline="always")
    def _normalize(i, j, k):
        if i < 0:
            j -= i
            k -= i
            i = 0
        if j < 0:
            i -= j
            k -= j
            j = 0
        if k < 0:
            i -= k
            j -= k
            k = 0
        m = min(i, j, k)
        return i - m, j - m, k - m

    @njit(parallel=True, cache=True)
    def _digits(a, b, resolution, out_digits, out_key):
        """Unrotated base-7 digits (resolutions 1..res) and a group key per cell.

        Walks up in axial coordinates (i - k, j - k): the parent is the aperture-7 rounding, the digit
        the unit step from the parent's centre child.  The key is 8 * (resolution-0 coordinates as
        9i + 3j + k) + the leading non-zero digit; within a key H3's base cell and digit rotation are
        fixed (for a pentagon base cell the rotation depends on the leading digit), or -1 off range.
        """
        for n in prange(len(a)):
            x = a[n]
            y = b[n]
            lead = 0
            valid = True
            for r in range(resolution - 1, -1, -1):
                # H3's lround(n / 7): never a tie for an integer n, so floor(n / 7 + 0.5); in floats,
                # which vectorise (Python's integer // does not)
                if (r + 1) % 2 == 1:  # the child resolution is Class III
                    i = np.int64(math.floor((3 * x - y) * (1.0 / 7.0) + 0.5))
                    j = np.int64(math.floor((x + 2 * y) * (1.0 / 7.0) + 0.5))
                    cx = 2 * i + j
                    cy = 3 * j - i
                else:
                    i = np.int64(math.floor((2 * x + y) * (1.0 / 7.0) + 0.5))
                    j = np.int64(math.floor((3 * y - x) * (1.0 / 7.0) + 0.5))
                    cx = 3 * i - j
                    cy = i + 2 * j
                dx = x - cx
                dy = y - cy
                digit = _AXIAL_DIGIT[(dx + 1) * 3 + (dy + 1)] if abs(dx) <= 1 and abs(dy) <= 1 else -1
                if digit < 0:
                    valid = False
                    digit = 0
                out_digits[n, r] = digit
                if digit != 0:
                    lead = digit
                x = i
                y = j
            i, j, k = _normalize(x, y, 0)
            if max(i, j, k) > 2 or not valid:
                out_key[n] = -1
            else:
                out_key[n] = 8 * (9 * i + 3 * j + k) + lead

    @njit(cache=True)
    def _samples(keys, per_key):
        """Up to ``per_key`` positions of every key (first occurrences), and how many were found."""
        found = np.zeros(27 * 8, np.int64)
        picks = np.full((27 * 8, per_key), -1, np.int64)
        for n in range(len(keys)):
            key = keys[n]
            if found[key] < per_key:
                picks[key, found[key]] = n
                found[key] += 1
        return picks, found

    @njit(parallel=True, cache=True)
    def _assemble(digits, keys, base_of_key, rotation_of_key, rotation_tables, header, shifts):
        n, res = digits.shape
        out = np.empty(n, np.uint64)
        for m in prange(n):
            key = keys[m]
            table = rotation_of_key[key]
            h = header | (np.uint64(base_of_key[key]) << np.uint64(45))
            for r in range(res):
                h |= np.uint64(rotation_tables[table, digits[m, r]]) << shifts[r]
            out[m] = h
        return out

    @njit(cache=True)
    def _ring1(unit_grid, values, offsets):
        """Per unit (lattice order): neighbours that are units, and the sum of their values."""
        nb, na = unit_grid.shape
        n = len(values)
        count = np.zeros(n, np.float64)
        total = np.zeros(n, np.float64)
        for row in range(nb):
            for col in range(na):
                unit = unit_grid[row, col]
                if unit < 0:
                    continue
                c = 0
                s = 0.0
                for o in range(6):
                    rr = row + offsets[o, 1]
                    cc = col + offsets[o, 0]
                    if 0 <= rr < nb and 0 <= cc < na:
                        other = unit_grid[rr, cc]
                        if other >= 0:
                            c += 1
                            s += values[other]
                count[unit] = c
                total[unit] = s
        return count, total

    @njit(cache=True)
    def _ring1_csr(unit_grid, n, offsets):
        nb, na = unit_grid.shape
        indptr = np.zeros(n + 1, np.int32)
        indices = np.empty(6 * n, np.int32)
        filled = 0
        for row in range(nb):
            for col in range(na):
                unit = unit_grid[row, col]
                if unit < 0:
                    continue
                for o in range(6):
                    rr = row + offsets[o, 1]
                    cc = col + offsets[o, 0]
                    if 0 <= rr < nb and 0 <= cc < na:
                        other = unit_grid[rr, cc]
                        if other >= 0:
                            indices[filled] = other
                            filled += 1
                indptr[unit + 1] = filled
        return indptr, indices[:filled]

    @njit(parallel=True, cache=True)
    def _centres_lonlat(a, b, centre, u, v, scale):
        n = len(a)
        lon = np.empty(n)
        lat = np.empty(n)
        inv = 1.0 / (scale * scale)
        h = math.sqrt(3.0) / 2.0
        for m in prange(n):
            x = a[m] - 0.5 * b[m]
            y = b[m] * h
            px = centre[0] + (x * u[0] + y * v[0]) * inv
            py = centre[1] + (x * u[1] + y * v[1]) * inv
            pz = centre[2] + (x * u[2] + y * v[2]) * inv
            norm = math.sqrt(px * px + py * py + pz * pz)
            lat[m] = math.degrees(math.asin(pz / norm))
            lon[m] = math.degrees(math.atan2(py, px))
        return lon, lat

    @njit(parallel=True, cache=True)
    def _in_rings(lon, lat, xs, ys, starts):
        """Even–odd rule over all rings (exterior and holes) in lon/lat: centroid containment."""
        n = len(lon)
        inside = np.zeros(n, np.bool_)
        for m in prange(n):
            x = lon[m]
            y = lat[m]
            odd = False
            for ring in range(len(starts) - 1):
                first = starts[ring]
                last = starts[ring + 1] - 1
                j = last
                for i in range(first, last + 1):
                    yi = ys[i]
                    yj = ys[j]
                    if (yi > y) != (yj > y):
                        xc = xs[i] + (y - yi) * (xs[j] - xs[i]) / (yj - yi)
                        if x < xc:
                            odd = not odd
                    j = i
            inside[m] = odd
        return inside


_PARALLEL_FROM = 50_000  # below this many items a kernel runs on one thread
# numba's "workqueue" threading layer (the one left where neither TBB nor OpenMP is installed) aborts
# the process when two threads launch parallel kernels at once: the API server's request and job
# threads take turns (re-entrant: lattice_counts calls lattice_indexes)
_LAUNCH = threading.RLock()


@contextmanager
def _threads_for(items: int):
    """One numba thread for small inputs: waking a second thread costs more than it saves, and under
    load a parallel kernel waits for its slowest thread."""
    if numba is None or items >= _PARALLEL_FROM:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _face_of(lon_deg: np.ndarray, lat_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest face of each point and the cosine gap to the runner-up face (numpy; for a few points)."""
    la = np.radians(lat_deg)
    lo = np.radians(lon_deg)
    p = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)
    dots = p @ _FACE_CENTRE_XYZ.T
    order = np.argsort(-dots, axis=1)
    best = dots[np.arange(len(p)), order[:, 0]]
    second = dots[np.arange(len(p)), order[:, 1]]
    return order[:, 0], best - second


def _cap_inside_face(lon: np.ndarray, lat: np.ndarray, face: int) -> bool:
    """True when every point of the lon/lat box of the points is nearer ``face``'s centre than any other.

    The box lies in the spherical cap around its centre whose radius is the largest angle to its
    outline (sampled every 0.05°, plus a 1e-4 rad pad); over such a cap ``p·(c_face - c_other)`` is at
    least ``|w| cos(angle(m, w) + radius)``.  Saves the 19 dot products per point of the general test.
    """
    if len(lon) == 0:
        return True
    west, east, south, north = float(lon.min()), float(lon.max()), float(lat.min()), float(lat.max())
    if not (math.isfinite(west + east + south + north) and abs(south) < 90 and abs(north) < 90):
        return False  # NaN or out-of-range coordinates: the per-point test flags them
    box = shapely.box(west, south, east, north)
    outline = shapely.get_coordinates(shapely.segmentize(box.exterior, 0.05))
    outline = np.vstack([outline, [box.centroid.x, box.centroid.y]])
    la = np.radians(outline[:, 1])
    lo = np.radians(outline[:, 0])
    p = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)
    middle = p.mean(axis=0)
    middle /= np.linalg.norm(middle)
    radius = float(np.arccos(np.clip(p @ middle, -1.0, 1.0)).max()) + 1e-4
    w = _FACE_CENTRE_XYZ[face][None, :] - np.delete(_FACE_CENTRE_XYZ, face, axis=0)
    norm = np.linalg.norm(w, axis=1)
    angle = np.arccos(np.clip(w @ middle / norm, -1.0, 1.0))
    return bool((angle + radius < math.pi / 2 - 1e-6).all())


def _h3ronpy_cells(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    from h3ronpy.vector import coordinates_to_cells

    cells = coordinates_to_cells(
        np.ascontiguousarray(lat, np.float64), np.ascontiguousarray(lon, np.float64), resolution
    )
    return np.asarray(cells).astype(np.uint64)


def _digits_of(cells: np.ndarray, resolution: int) -> np.ndarray:
    shifts = np.array([(15 - r) * 3 for r in range(1, resolution + 1)], dtype=np.uint64)
    return ((cells[:, None] >> shifts[None, :]) & np.uint64(7)).astype(np.uint8)


def _lattice_indexes(a: np.ndarray, b: np.ndarray, frame: FaceFrame) -> np.ndarray | None:
    """H3 indexes (uint64) of lattice cells ``(a, b)`` on ``frame``; None if the arithmetic disagrees with H3.

    Digits are computed here.  Each key (resolution-0 coordinates and leading digit, see ``_digits``)
    takes its base cell and digit rotation from h3ronpy's indexes of up to 16 of its cells, and all 16
    must agree: a disagreement returns None and the caller takes the general path.
    """
    n = len(a)
    res = frame.resolution
    if n == 0:
        return np.empty(0, np.uint64)
    a = np.ascontiguousarray(a, np.int64)
    b = np.ascontiguousarray(b, np.int64)
    digits = np.zeros((n, res), np.uint8)
    keys = np.empty(n, np.int64)
    with _threads_for(n):
        _digits(a, b, res, digits, keys)
    if (keys < 0).any():
        return None
    picks, found = _samples(keys, 16)
    present = np.flatnonzero(found)
    sample = np.concatenate([picks[key, : found[key]] for key in present])
    with _threads_for(len(sample)):
        lon, lat = _centres_lonlat(a[sample], b[sample], frame.centre, frame.u, frame.v, frame.scale)
    truth = _h3ronpy_cells(lat, lon, res)
    want = _digits_of(truth, res)
    base_of_key = np.zeros(27 * 8, np.int64)
    rotation_of_key = np.zeros(27 * 8, np.int64)
    start = 0
    for key in present:
        rows = slice(start, start + found[key])
        start += found[key]
        bases = (truth[rows] >> np.uint64(45)) & np.uint64(0x7F)
        if (bases != bases[0]).any():
            return None
        mine = digits[sample[rows]]
        for rotation in range(6):
            if np.array_equal(_ROTATION_TABLES[rotation][mine], want[rows]):
                break
        else:
            return None
        base_of_key[key] = int(bases[0])
        rotation_of_key[key] = rotation
    header = (np.uint64(1) << np.uint64(59)) | (np.uint64(res) << np.uint64(52))
    for r in range(res + 1, 16):
        header |= np.uint64(7) << np.uint64((15 - r) * 3)
    shifts = np.array([(15 - r) * 3 for r in range(1, res + 1)], dtype=np.uint64)
    with _threads_for(n):
        return _assemble(digits, keys, base_of_key, rotation_of_key, _ROTATION_TABLES, header, shifts)


def _study_rings(study_area) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    polygons = [study_area] if isinstance(study_area, shapely.Polygon) else list(study_area.geoms)
    xs, ys, starts = [], [], [0]
    for polygon in polygons:
        for ring in [polygon.exterior, *polygon.interiors]:
            coords = np.asarray(ring.coords)[:-1]
            xs.append(coords[:, 0])
            ys.append(coords[:, 1])
            starts.append(starts[-1] + len(coords))
    return np.concatenate(xs), np.concatenate(ys), np.asarray(starts, np.int64)


def _study_cells(study_area, frame: FaceFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Lattice cells whose centre lies in ``study_area`` (h3ronpy's ContainsCentroid), or None off-face."""
    outline = shapely.segmentize(shapely.envelope(study_area), 0.05)
    corners = shapely.get_coordinates(outline)
    faces, gap = _face_of(corners[:, 0], corners[:, 1])
    if (faces != frame.face).any() or (gap < 1e-6).any():
        return None
    # the outline's hex2d extent, padded by two cells, bounds every centre inside
    la = np.radians(corners[:, 1])
    lo = np.radians(corners[:, 0])
    p = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)
    own = p @ frame.centre
    x = p @ frame.u / own
    y = p @ frame.v / own
    b_lo = int(math.floor(y.min() / (math.sqrt(3) / 2))) - 2
    b_hi = int(math.ceil(y.max() / (math.sqrt(3) / 2))) + 2
    rows = np.arange(b_lo, b_hi + 1)
    a_lo = np.floor(x.min() + 0.5 * rows).astype(np.int64) - 2
    a_hi = np.ceil(x.max() + 0.5 * rows).astype(np.int64) + 2
    widths = a_hi - a_lo + 1
    if widths.sum() > _MAX_LATTICE_CELLS:
        return None
    b = np.repeat(rows, widths)
    a = np.arange(widths.sum()) - np.repeat(np.cumsum(widths) - widths, widths) + np.repeat(a_lo, widths)
    with _threads_for(len(a)):
        lon, lat = _centres_lonlat(a, b, frame.centre, frame.u, frame.v, frame.scale)
    xs, ys, starts = _study_rings(study_area)
    if len(xs) <= 512:
        with _threads_for(len(lon)):
            inside = _in_rings(lon, lat, xs, ys, starts)
    else:
        inside = shapely.contains_xy(study_area, lon, lat)
    return a[inside], b[inside]


def lattice_indexes(a: np.ndarray, b: np.ndarray, frame: FaceFrame) -> np.ndarray | None:
    """H3 indexes (uint64) of lattice cells ``(a, b)`` on ``frame``; None if the arithmetic disagrees with H3.

    See :func:`_lattice_indexes`; one thread of the process at a time (``_LAUNCH``).
    """
    with _LAUNCH:
        return _lattice_indexes(a, b, frame)


def lattice_counts(
    lon: np.ndarray,
    lat: np.ndarray,
    resolution: int,
    study_area=None,
    weights: np.ndarray | None = None,
) -> LatticeCounts | None:
    """Points (or point weights) summed per H3 cell, on one face's lattice; None → use the general path.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        WGS-84 degrees.
    resolution : int
        H3 resolution, 1–15.
    study_area : shapely Polygon/MultiPolygon in WGS-84 lon/lat, or None
        also return every cell whose centre lies inside it, with 0 (as h3ronpy's centroid fill).
    weights : per-point weights or None (counts).

    Returns
    -------
    LatticeCounts with the same cells and totals as :func:`gridmap.hotspots.aggregate.count_in_h3`
    (in lattice order rather than sorted), or None when the points or the study area are not all on one
    icosahedron face, a coordinate is not finite, or the lattice would be too large.
    """
    with _LAUNCH:
        return _lattice_counts(lon, lat, resolution, study_area, weights)


def _lattice_counts(
    lon: np.ndarray,
    lat: np.ndarray,
    resolution: int,
    study_area=None,
    weights: np.ndarray | None = None,
) -> LatticeCounts | None:
    """The body of :func:`lattice_counts` (under its lock)."""
    if numba is None or not 1 <= resolution <= 15:
        return None
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    if len(lon) == 0 and study_area is None:
        return None
    if len(lon):
        probe = len(lon) // 2
        face = int(_face_of(lon[probe : probe + 1], lat[probe : probe + 1])[0][0])
    else:
        c = study_area.representative_point()
        face = int(_face_of(np.array([c.x]), np.array([c.y]))[0][0])
    frame = face_frame(face, resolution)
    near_edge = 0
    a0 = b0 = np.iinfo(np.int64).max
    a1 = b1 = np.iinfo(np.int64).min
    # lattice coordinates as float32 (exact below 2**24, half the memory of int64) and the relative
    # margin to the cell edge as float32 (only compared with 1e-9)
    fa = np.empty(len(lon), np.float32)
    fb = np.empty(len(lon), np.float32)
    if len(lon):
        margin = np.empty(len(lon), np.float32)
        with _threads_for(len(lon)):
            _place_points(lat, lon, frame.centre, frame.u, frame.v, fa, fb, margin)
            if not _cap_inside_face(lon, lat, face):  # near a face edge: each point's nearest face
                _test_faces(lat, lon, face, _FACE_CENTRE_XYZ, margin)
            a0, a1, b0, b1, worst = _point_bounds(fa, fb, margin)
        if worst < -1.5:  # a point on another face, or NaN
            return None
        if worst < _EDGE_MARGIN:
            near = np.flatnonzero(margin < _EDGE_MARGIN)
            if not _resolve_near_edge(lon, lat, fa, fb, near, frame):
                return None
            near_edge = len(near)
            a0, a1 = min(a0, int(fa[near].min())), max(a1, int(fa[near].max()))
            b0, b1 = min(b0, int(fb[near].min())), max(b1, int(fb[near].max()))
        del margin
    sa = sb = np.empty(0, np.int64)
    if study_area is not None:
        study = _study_cells(study_area, frame)
        if study is None:
            return None
        sa, sb = study
        if len(sa):
            a0, a1 = min(a0, int(sa.min())), max(a1, int(sa.max()))
            b0, b1 = min(b0, int(sb.min())), max(b1, int(sb.max()))
    if a1 < a0:
        return None
    na, nb = a1 - a0 + 1, b1 - b0 + 1
    if na * nb > _MAX_LATTICE_CELLS:
        return None
    dense = np.zeros(na * nb)
    units = np.zeros(na * nb, np.bool_)
    weighted = weights is not None
    point_weights = np.ascontiguousarray(weights, np.float64) if weighted else np.empty(0)
    if weighted and len(point_weights) != len(fa):
        raise InputError(f"{len(point_weights)} weights for {len(fa)} points")
    _histogram(fa, fb, a0, b0, na, point_weights, weighted, dense, units)
    if len(sa):
        units[(sb - b0) * na + (sa - a0)] = True
    positions = np.flatnonzero(units)
    unit_grid = np.full(na * nb, -1, np.int32)
    unit_grid[positions] = np.arange(len(positions), dtype=np.int32)
    ua = positions % na + a0
    ub = positions // na + b0
    cells = lattice_indexes(ua, ub, frame)
    if cells is None:
        return None
    return LatticeCounts(
        cells=cells,
        totals=dense[positions],
        a=ua,
        b=ub,
        unit_grid=unit_grid.reshape(nb, na),
        origin=(a0, b0),
        frame=frame,
        placed_by_h3ronpy=near_edge,
    )


def _resolve_near_edge(lon, lat, fa, fb, near: np.ndarray, frame: FaceFrame) -> bool:
    """Place the points at ``near`` with h3ronpy (in place); False if one is not on this face's lattice."""
    truth = _h3ronpy_cells(lat[near], lon[near], frame.resolution)
    # the true cell is the rounded one or one of its six neighbours
    ca = fa[near].astype(np.int64)[:, None] + np.r_[0, _NEIGHBOUR_OFFSETS[:, 0]][None, :]
    cb = fb[near].astype(np.int64)[:, None] + np.r_[0, _NEIGHBOUR_OFFSETS[:, 1]][None, :]
    candidates = lattice_indexes(ca.ravel(), cb.ravel(), frame)
    if candidates is None:
        return False
    match = candidates.reshape(len(near), 7) == truth[:, None]
    if not match.any(axis=1).all():
        return False
    pick = match.argmax(axis=1)
    fa[near] = ca[np.arange(len(near)), pick]
    fb[near] = cb[np.arange(len(near)), pick]
    return True


def ring1_sums(counts: LatticeCounts, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: how many of its six H3 neighbours are units, and the sum of their ``values``."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    if len(values) != counts.n:
        raise InputError(f"{len(values)} values for {counts.n} lattice units")
    return _ring1(counts.unit_grid, values, _NEIGHBOUR_OFFSETS)


def ring1_csr(counts: LatticeCounts):
    """The binary ring-1 neighbour matrix among the units (scipy CSR, sorted int32 indices)."""
    import scipy.sparse as sp

    indptr, indices = _ring1_csr(counts.unit_grid, counts.n, _NEIGHBOUR_OFFSETS)
    return sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(counts.n, counts.n))
