"""Point → grid assignment, vectorized, with the rule of :mod:`gridmap.spatial` for points on grid edges.

Rule (:mod:`gridmap.spatial`): a point gets the grid whose interior contains it; a point on
the boundary of one or more grids — a shared edge or vertex — gets the **smallest code**
among the grids whose closure contains it; a point in no grid gets None.

Speed: most points lie well inside a grid, and a point-in-polygon test per point is what
makes ``sjoin`` slow.  :class:`GridIndex` lays a raster of square cells (degrees) over the
grids and marks every cell that a grid boundary touches (each edge is cut into pieces
shorter than half a cell, and every cell overlapping a piece's envelope — grown by a tiny
epsilon — is marked, so the marking is conservative).  Unmarked cells form connected
regions (``scipy.ndimage.label``) that no boundary crosses: every point of such a region
lies in exactly the same grids, so one exact test per region labels all of them.  A point
then costs one array lookup; only points in marked cells — near a boundary — are tested
exactly by :class:`gridmap.spatial.PolygonIndex`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from scipy import ndimage

from gridmap.crs import WGS84
from gridmap.spatial import PolygonIndex

#: cap on raster cells (int32 labels: 4 bytes each)
MAX_RASTER_CELLS = 24_000_000
NO_GRID = -1
#: boundary pieces rasterised per batch in :meth:`GridIndex._build_raster` (bounds its memory)
_PIECES_PER_BATCH = 1 << 19
#: an index asked about fewer points than this (over all its calls) skips the raster (measured on the scale-0.1 demo's 2,574 grids,
#: 2.0 M boundary vertices: raster 0.4 s to build + 0.5 µs a point, exact test 2 µs a point)
RASTER_MIN_POINTS = 250_000


class GridIndex:
    """A reusable point-in-grid index over ``grids`` (WGS-84 polygons) keyed by ``code_col``.

    Parameters
    ----------
    grids : GeoDataFrame
        Grid polygons; reprojected to WGS-84 (EPSG:4326) if in another CRS.
    code_col : str
        Column holding the grid code returned for each point.
    cell_deg : float or None
        Raster cell side in degrees; default a twelfth of the median grid envelope side,
        coarsened so that the raster has at most :data:`MAX_RASTER_CELLS` cells.
    raster_min_points : int or None
        Until the index has been asked about this many points in all (default
        :data:`RASTER_MIN_POINTS`; 0 = always use the raster) it uses the exact test alone and
        builds no raster.  Both give the same answer; the raster is built on the call that
        reaches the count and kept.
    """

    def __init__(
        self,
        grids: gpd.GeoDataFrame,
        code_col: str = "code",
        cell_deg: float | None = None,
        raster_min_points: int | None = None,
    ) -> None:
        if isinstance(grids, gpd.GeoDataFrame) and grids.crs is not None and not grids.crs.equals(WGS84):
            grids = grids.to_crs(WGS84)
        geoms = np.asarray(grids.geometry.values, dtype=object)
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        self.codes = grids[code_col].astype(str).to_numpy(dtype=object)[keep]
        self.geoms = geoms[keep]
        # the exact rule lives in gridmap.spatial; its code ranks are ours ("smallest code" = "smallest rank")
        self.exact = PolygonIndex(self.geoms, self.codes)
        self.codes_by_rank = self.codes[np.argsort(self.exact.rank, kind="stable")]
        self.origin = (0.0, 0.0)
        self.cell_deg = 1.0
        self.shape = (0, 0)
        self.region = np.zeros((0, 0), dtype=np.int32)  # 0 = cell touched by a boundary
        self.region_rank = np.zeros(1, dtype=np.int64)
        self.raster_min_points = RASTER_MIN_POINTS if raster_min_points is None else int(raster_min_points)
        self._cell_deg_asked = cell_deg
        self._raster_built = False
        self._points_asked = 0

    def __len__(self) -> int:
        return len(self.geoms)

    # --- raster ----------------------------------------------------------------------
    def _build_raster(self, cell_deg: float | None) -> None:
        bounds = shapely.bounds(self.geoms)
        minx, miny = bounds[:, 0].min(), bounds[:, 1].min()
        maxx, maxy = bounds[:, 2].max(), bounds[:, 3].max()
        if cell_deg is None:
            sides = np.sqrt(np.maximum((bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1]), 0.0))
            cell_deg = float(np.median(sides)) / 12.0
        area = max((maxx - minx) * (maxy - miny), 1e-12)
        side = max(float(cell_deg), np.sqrt(area / MAX_RASTER_CELLS), 1e-7)
        # one spare cell around the extent so every boundary cell index is inside the raster
        x0, y0 = minx - side, miny - side
        nx = int(np.ceil((maxx - x0) / side)) + 2
        ny = int(np.ceil((maxy - y0) / side)) + 2
        self.origin, self.cell_deg, self.shape = (float(x0), float(y0)), side, (ny, nx)

        touched = np.zeros((ny, nx), dtype=bool)
        rings = shapely.get_rings(shapely.get_parts(self.geoms))  # MultiPolygons have no rings of their own
        coords, ring_index = shapely.get_coordinates(rings, return_index=True)
        same_ring = ring_index[1:] == ring_index[:-1]
        ax, ay = coords[:-1][same_ring, 0], coords[:-1][same_ring, 1]
        bx, by = coords[1:][same_ring, 0], coords[1:][same_ring, 1]
        # Pieces no longer than 0.99 cell: with the epsilon their envelope spans at most 2×2 cells.
        length = np.maximum(np.abs(bx - ax), np.abs(by - ay))
        pieces = np.maximum(np.ceil(length / (side * 0.99)).astype(np.int64), 1)
        # A few million pieces for a city's grids: about a dozen arrays of that length live at
        # once, so they are made a bounded batch of segments at a time (the same cells get
        # marked; memory stays at a few tens of MiB instead of hundreds).
        ends = np.cumsum(pieces)
        first = 0
        while first < len(pieces):
            last = int(np.searchsorted(ends, ends[first] - pieces[first] + _PIECES_PER_BATCH, "right"))
            last = max(last, first + 1)
            self._touch_pieces(
                touched,
                ax[first:last],
                ay[first:last],
                bx[first:last],
                by[first:last],
                pieces[first:last],
                x0,
                y0,
                side,
            )
            first = last

        region, n_regions = ndimage.label(~touched)
        self.region = region
        # One cell centre per region, tested exactly, labels the whole region.
        any_cell = np.zeros(n_regions + 1, dtype=np.int64)
        any_cell[region.ravel()] = np.arange(region.size, dtype=np.int64)  # any cell of each region will do
        rows, cols = np.divmod(any_cell[1:], nx)
        cx = x0 + (cols + 0.5) * side
        cy = y0 + (rows + 0.5) * side
        self.region_rank = np.concatenate([[NO_GRID], self._exact_ranks(cx, cy)])

    @staticmethod
    def _touch_pieces(
        touched: np.ndarray,
        ax: np.ndarray,
        ay: np.ndarray,
        bx: np.ndarray,
        by: np.ndarray,
        pieces: np.ndarray,
        x0: float,
        y0: float,
        side: float,
    ) -> None:
        """Mark in ``touched`` every raster cell that segments a→b (degrees), each cut into
        ``pieces`` equal parts shorter than a cell, may cross."""
        eps = side * 1e-6
        seg = np.repeat(np.arange(len(ax), dtype=np.int64), pieces)
        step = np.arange(len(seg), dtype=np.int64) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        n_pieces = pieces[seg]
        ax, ay, dx, dy = ax[seg], ay[seg], (bx - ax)[seg], (by - ay)[seg]
        px0, px1 = ax + dx * (step / n_pieces), ax + dx * ((step + 1) / n_pieces)
        py0, py1 = ay + dy * (step / n_pieces), ay + dy * ((step + 1) / n_pieces)
        lo_x = ((np.minimum(px0, px1) - (x0 + eps)) // side).astype(np.int64)
        hi_x = ((np.maximum(px0, px1) - (x0 - eps)) // side).astype(np.int64)
        lo_y = ((np.minimum(py0, py1) - (y0 + eps)) // side).astype(np.int64)
        hi_y = ((np.maximum(py0, py1) - (y0 - eps)) // side).astype(np.int64)
        for ix in (lo_x, hi_x):
            for iy in (lo_y, hi_y):
                touched[iy, ix] = True

    # --- assignment --------------------------------------------------------------------
    def assign_ranks(self, lon, lat) -> np.ndarray:
        """Per point the code rank of its grid (index into :attr:`codes_by_rank`), or -1 for none."""
        lon = np.ascontiguousarray(lon, dtype=float).ravel()
        lat = np.ascontiguousarray(lat, dtype=float).ravel()
        if lon.shape != lat.shape:
            raise ValueError(f"lon and lat differ in length: {lon.shape[0]} vs {lat.shape[0]}")
        out = np.full(lon.shape[0], NO_GRID, dtype=np.int64)
        if not len(self.geoms) or not lon.size:
            return out
        self._points_asked += lon.size
        if self._points_asked < self.raster_min_points and not self._raster_built:
            # building the raster costs as much as ~250k exact tests (a city's grids have
            # millions of boundary vertices): until an index has been asked about that many
            # points (over all its calls: a kept index pays the raster off in batches too) the
            # exact test alone is quicker and needs no raster in memory
            return self._exact_ranks(lon, lat)
        if not self._raster_built:
            self._build_raster(self._cell_deg_asked)
            self._raster_built = True
        ny, nx = self.shape
        x0, y0 = self.origin
        with np.errstate(invalid="ignore"):
            fx = np.floor((lon - x0) / self.cell_deg)
            fy = np.floor((lat - y0) / self.cell_deg)
        # NaN and points off the raster (which lies around every grid) stay NO_GRID.
        on = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)
        idx = np.flatnonzero(on)
        region = self.region[fy[idx].astype(np.int64), fx[idx].astype(np.int64)]
        out[idx] = self.region_rank[region]
        near_boundary = idx[region == 0]
        if near_boundary.size:
            out[near_boundary] = self._exact_ranks(lon[near_boundary], lat[near_boundary])
        return out

    def _exact_ranks(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Point by point: smallest code rank among grids whose closure contains the point."""
        return self.exact.locate_ranks(lon, lat)

    def assign(self, lon, lat) -> np.ndarray:
        """Grid code per point (object array of str, None where no grid covers the point).

        ``lon``/``lat`` are WGS-84 degrees; NaN coordinates get None.
        """
        ranks = self.assign_ranks(lon, lat)
        out = np.full(ranks.shape[0], None, dtype=object)
        found = ranks >= 0
        out[found] = self.codes_by_rank[ranks[found]]
        return out


def assign_points(lon, lat, grids: gpd.GeoDataFrame, code_col: str = "code") -> np.ndarray:
    """Grid code for each WGS-84 point (see the module doc for the edge rule); None outside all grids.

    Builds a :class:`GridIndex` each call; keep one when assigning several batches to the same plan.
    """
    return GridIndex(grids, code_col=code_col).assign(lon, lat)


def locate_points(lon: np.ndarray, lat: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon holding each point, -1 outside; on shared borders the lowest index
    (the rule of :mod:`gridmap.spatial`).

    ``lon``/``lat`` WGS-84 degrees, ``polygons`` shapely geometries in EPSG:4326; give them
    sorted by grid code to make "lowest index" mean "lowest code".  Uses
    :class:`gridmap.geocode.assign.GridIndex` (cell binning, exact tests only near borders).
    """
    lon = np.asarray(lon, dtype=float)
    out = np.full(len(lon), -1, dtype=np.int64)
    if not len(polygons):
        return out
    # zero-padded positions as codes keep "lowest code" == "lowest index"
    width = len(str(len(polygons)))
    codes = np.char.zfill(np.arange(len(polygons)).astype(str), width)
    index = GridIndex(gpd.GeoDataFrame({"code": codes}, geometry=list(polygons), crs=WGS84))
    ranks = index.assign_ranks(lon, np.asarray(lat, dtype=float))
    found = ranks >= 0
    out[found] = index.codes_by_rank[ranks[found]].astype(np.int64)
    return out
