"""Quartic (biweight) kernel density of case points: a heat surface for Leaflet and per-unit values.

The density is computed in :data:`gridmap.crs.LOCAL_CRS` metres: points are linearly
binned onto a square metric grid and convolved (FFT) with the quartic kernel

    K(d) = 3 / (π h²) · (1 − d²/h²)²   for d < h, else 0

which integrates to 1 over the plane, so the surface integrates to the number of
points (or the sum of their weights).  Values are reported in points per km².

Default bandwidth ``h`` (``bandwidth_m=None``) is ArcGIS *Kernel Density*'s spatial
variant of Silverman's rule of thumb, robust to outliers:
``h = 0.9 · min(SD, √(1/ln 2) · Dm) · n^(−0.2)`` with ``SD`` the standard distance and
``Dm`` the median distance of the points from their mean centre (weighted).  It adapts
to the spread of the data (a few hundred metres for one town, kilometres city-wide);
pass ``bandwidth_m=500`` for a fixed street-scale surface.

For display the metric grid is resampled (bilinear) onto a raster whose columns are
evenly spaced in longitude and rows evenly spaced in Web-Mercator y: exactly how
Leaflet's ``L.imageOverlay(png, bounds)`` stretches an image in its default EPSG:3857
map, so pixels land where they belong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from gridmap.crs import to_local, to_wgs84
from gridmap.errors import InputError
from gridmap.hotspots.png import encode_rgba, ramp

#: largest metric grid (cells) before the grid is coarsened
MAX_GRID_CELLS = 4_000_000
#: largest output raster side in pixels
MAX_RASTER_SIDE = 2048


def arcgis_bandwidth(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """ArcGIS default search radius (metres) for points in a metric CRS."""
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    total = w.sum()
    if total <= 0 or len(x) < 2:
        raise InputError("a default bandwidth needs at least two points with positive weight")
    cx, cy = np.average(x, weights=w), np.average(y, weights=w)
    d2 = (x - cx) ** 2 + (y - cy) ** 2
    standard_distance = math.sqrt((w * d2).sum() / total)
    d = np.sqrt(d2)
    order = np.argsort(d)
    cumulative = np.cumsum(w[order])
    median_distance = float(d[order][np.searchsorted(cumulative, total / 2.0)])
    spread = min(standard_distance, math.sqrt(1.0 / math.log(2.0)) * median_distance)
    if spread <= 0:
        raise InputError("all points coincide: give bandwidth_m explicitly")
    return 0.9 * spread * total**-0.2


def _merc_y(lat: np.ndarray) -> np.ndarray:
    return np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))


def _merc_lat(y: np.ndarray) -> np.ndarray:
    return np.degrees(2 * np.arctan(np.exp(y)) - np.pi / 2)


@dataclass(frozen=True)
class KDEResult:
    """A kernel density surface.

    Attributes
    ----------
    density : numpy.ndarray
        (rows, cols) points per km²; row 0 is the northern edge; columns evenly spaced in
        longitude, rows evenly spaced in Web-Mercator y between ``south`` and ``north``.
    west, south, east, north : float
        raster bounds, WGS-84 degrees.
    pixel_area_km2 : numpy.ndarray
        (rows, cols) ground area of each pixel, km² (from LOCAL_CRS).
    bandwidth_m : float
        kernel radius h, metres.
    cell_size_m : float
        metric computation grid spacing, metres.
    total : float
        number (or total weight) of points.
    """

    density: np.ndarray
    west: float
    south: float
    east: float
    north: float
    pixel_area_km2: np.ndarray
    bandwidth_m: float
    cell_size_m: float
    total: float
    grid_origin: tuple[float, float]
    grid: np.ndarray

    @property
    def bounds(self) -> list[list[float]]:
        """Leaflet ImageOverlay bounds ``[[south, west], [north, east]]``."""
        return [[self.south, self.west], [self.north, self.east]]

    def integral(self) -> float:
        """Σ density × pixel area: ≈ :attr:`total` when the raster covers all kernels."""
        return float((self.density * self.pixel_area_km2).sum())

    def to_png(self, vmax: float | None = None) -> bytes:
        """RGBA PNG of the surface (transparent where the density is ~0)."""
        return encode_rgba(ramp(self.density, vmax))

    def sample(self, lon, lat) -> np.ndarray:
        """Density (points per km²) at WGS-84 lon/lat, e.g. H3 cell centres; 0 outside the grid."""
        x, y = to_local(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        x0, y0 = self.grid_origin
        col = (np.asarray(x) - x0) / self.cell_size_m
        row = (np.asarray(y) - y0) / self.cell_size_m
        values = ndimage.map_coordinates(self.grid, [row, col], order=1, mode="constant", cval=0.0)
        return np.maximum(values, 0.0)


def _quartic_kernel(bandwidth: float, cell: float) -> np.ndarray:
    r = int(math.ceil(bandwidth / cell))
    offsets = np.arange(-r, r + 1) * cell
    d2 = offsets[None, :] ** 2 + offsets[:, None] ** 2
    u2 = d2 / bandwidth**2
    kernel = np.where(u2 < 1.0, (1.0 - u2) ** 2, 0.0)
    # normalise on the grid itself so the discrete surface integrates to exactly n
    return kernel / (kernel.sum() * cell * cell)


def kernel_density(
    lon,
    lat,
    weights=None,
    bandwidth_m: float | None = None,
    pixel_size_m: float | None = None,
    cell_size_m: float | None = None,
) -> KDEResult:
    """Quartic kernel density of points.

    Parameters
    ----------
    lon, lat : array-like
        WGS-84 degrees.
    weights : array-like or None
        per-point weights (default 1).
    bandwidth_m : float or None
        kernel radius in metres; None → ArcGIS's default rule (see module docstring).
    pixel_size_m : float or None
        approximate output pixel size in metres; default ``bandwidth / 4`` (capped so that
        no side exceeds :data:`MAX_RASTER_SIDE` pixels).
    cell_size_m : float or None
        metric computation grid spacing; default ``bandwidth / 8``, coarsened if the grid
        would exceed :data:`MAX_GRID_CELLS` cells.

    Returns
    -------
    KDEResult
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if lon.shape != lat.shape or lon.ndim != 1:
        raise InputError("lon and lat must be 1-D arrays of one length")
    ok = np.isfinite(lon) & np.isfinite(lat)
    w = np.ones(len(lon)) if weights is None else np.asarray(weights, dtype=np.float64)
    lon, lat, w = lon[ok], lat[ok], w[ok]
    if len(lon) == 0 or w.sum() <= 0:
        raise InputError("no located points to estimate a density from")
    x, y = (np.asarray(v) for v in to_local(lon, lat))
    h = float(bandwidth_m) if bandwidth_m else arcgis_bandwidth(x, y, w)
    if not h > 0:
        raise InputError(f"bandwidth_m must be > 0, got {bandwidth_m}")

    margin = h * 1.05
    xmin, xmax = x.min() - margin, x.max() + margin
    ymin, ymax = y.min() - margin, y.max() + margin
    cell = float(cell_size_m) if cell_size_m else h / 8.0
    cell = max(cell, math.sqrt((xmax - xmin) * (ymax - ymin) / MAX_GRID_CELLS))
    nx = int(math.ceil((xmax - xmin) / cell)) + 2
    ny = int(math.ceil((ymax - ymin) / cell)) + 2

    # linear binning: each point's weight is shared among its 4 surrounding grid nodes
    fx, fy = (x - xmin) / cell, (y - ymin) / cell
    ix, iy = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
    ax, ay = fx - ix, fy - iy
    binned = np.zeros(ny * nx)
    for dx, dy, share in (
        (0, 0, (1 - ax) * (1 - ay)),
        (1, 0, ax * (1 - ay)),
        (0, 1, (1 - ax) * ay),
        (1, 1, ax * ay),
    ):
        binned += np.bincount((iy + dy) * nx + ix + dx, weights=w * share, minlength=ny * nx)
    binned = binned.reshape(ny, nx)
    grid = signal.fftconvolve(binned, _quartic_kernel(h, cell), mode="same")
    grid = np.maximum(grid, 0.0) * 1e6  # per m² → per km²; FFT round-off can dip below 0

    # display raster: lon-linear columns, Web-Mercator-linear rows
    corner_x = np.array([xmin, xmax, xmin, xmax, (xmin + xmax) / 2, (xmin + xmax) / 2, xmin, xmax])
    corner_y = np.array([ymin, ymin, ymax, ymax, ymin, ymax, (ymin + ymax) / 2, (ymin + ymax) / 2])
    clon, clat = (np.asarray(v) for v in to_wgs84(corner_x, corner_y))
    west, east, south, north = clon.min(), clon.max(), clat.min(), clat.max()
    pixel = float(pixel_size_m) if pixel_size_m else h / 4.0
    width_m = xmax - xmin
    height_m = ymax - ymin
    cols = int(min(MAX_RASTER_SIDE, max(2, math.ceil(width_m / pixel))))
    rows = int(min(MAX_RASTER_SIDE, max(2, math.ceil(height_m / pixel))))
    lon_edges = np.linspace(west, east, cols + 1)
    y_edges = np.linspace(_merc_y(north), _merc_y(south), rows + 1)  # top row first
    lon_c = (lon_edges[:-1] + lon_edges[1:]) / 2
    lat_c = _merc_lat((y_edges[:-1] + y_edges[1:]) / 2)
    glon, glat = np.meshgrid(lon_c, lat_c)
    px, py = (np.asarray(v) for v in to_local(glon.ravel(), glat.ravel()))
    density = ndimage.map_coordinates(
        grid, [(py - ymin) / cell, (px - xmin) / cell], order=1, mode="constant", cval=0.0
    ).reshape(rows, cols)
    density = np.maximum(density, 0.0)
    # ground area of each pixel from the local projection of its four corners
    elon, elat = np.meshgrid(lon_edges, _merc_lat(y_edges))
    ex, ey = (np.asarray(v).reshape(elon.shape) for v in to_local(elon.ravel(), elat.ravel()))
    area = (
        0.5
        * np.abs(
            (ex[1:, 1:] - ex[:-1, :-1]) * (ey[:-1, 1:] - ey[1:, :-1])
            - (ex[:-1, 1:] - ex[1:, :-1]) * (ey[1:, 1:] - ey[:-1, :-1])
        )
        / 1e6
    )
    return KDEResult(
        density=density,
        west=float(west),
        south=float(south),
        east=float(east),
        north=float(north),
        pixel_area_km2=area,
        bandwidth_m=h,
        cell_size_m=cell,
        total=float(w.sum()),
        grid_origin=(float(xmin), float(ymin)),
        grid=grid,
    )
