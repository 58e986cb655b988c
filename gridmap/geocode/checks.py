"""Sanity checks on declared coordinates before they are trusted.

An obviously wrong declaration is *flagged*, never silently repaired: a point whose
lon/lat look swapped gets the flag ``swapped_latlon`` and the swapped position as a
*suggestion* for the reviewer, but its own coordinates are left as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.geocode.transform import to_wgs84_mixed

FLAG_OK = "ok"
FLAG_SWAPPED = "swapped_latlon"
FLAG_OUTSIDE = "outside_city"
FLAG_ZERO = "zero"
FLAG_NOT_FINITE = "not_finite"
FLAGS = (FLAG_OK, FLAG_SWAPPED, FLAG_OUTSIDE, FLAG_ZERO, FLAG_NOT_FINITE)

#: one-line explanations for reports and the review queue
FLAG_REASONS = {
    FLAG_OK: "",
    FLAG_SWAPPED: "coordinates look swapped (lat/lon): the swapped point lies in the city",
    FLAG_OUTSIDE: "coordinates lie outside the city (beyond the margin)",
    FLAG_ZERO: "coordinates are zero (0, 0): a missing value exported as 0",
    FLAG_NOT_FINITE: "coordinates missing or not numbers",
}


@dataclass
class PointCheck:
    """Per-point outcome of :func:`check_declared_points` (all arrays have the input's length).

    ``lon``/``lat`` are the declared points converted to WGS-84 degrees (NaN when
    ``flag`` is ``not_finite`` or ``zero``).  ``suggested_lon``/``suggested_lat`` hold
    the swapped position in WGS-84 where ``flag == 'swapped_latlon'`` and NaN elsewhere.
    """

    flag: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    suggested_lon: np.ndarray
    suggested_lat: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        return self.flag == FLAG_OK

    def counts(self) -> dict[str, int]:
        values, counts = np.unique(self.flag, return_counts=True)
        return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


@lru_cache(maxsize=8)
def _fence_cached(wkb: bytes, margin_km: float) -> BaseGeometry:
    from gridmap.crs import to_local

    polygon = shapely.from_wkb(wkb)
    local = shapely.transform(polygon, lambda x, y: to_local(x, y), interleaved=False)
    # Simplify before buffering: the margin is kilometres, the outline has 15k vertices.
    local = local.simplify(min(200.0, margin_km * 100.0 + 1.0))
    fence = local.buffer(margin_km * 1000.0) if margin_km > 0 else local
    shapely.prepare(fence)
    return fence


def city_fence(city_polygon: BaseGeometry, margin_km: float) -> BaseGeometry:
    """The city polygon (WGS-84) grown by ``margin_km`` kilometres, in LOCAL_CRS metres (prepared)."""
    return _fence_cached(shapely.to_wkb(city_polygon), float(margin_km))


def _inside(fence: BaseGeometry, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    from gridmap.crs import to_local

    inside = np.zeros(lon.shape, dtype=bool)
    # Points that are not even plausible lon/lat never reach the projection.
    usable = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
    if usable.any():
        x, y = to_local(lon[usable], lat[usable])
        inside[usable] = shapely.contains_xy(fence, np.asarray(x), np.asarray(y))
    return inside


def check_declared_points(lon, lat, crs, city_polygon: BaseGeometry, margin_km: float = 20.0) -> PointCheck:
    """Check declared points against the city outline and convert them to WGS-84.

    Parameters
    ----------
    lon, lat : array-like of float
        Declared coordinates in degrees, in ``crs``.
    crs : str or array-like of str
        Declared coordinate system (wgs84 | cgcs2000 | gcj02 | bd09 or an alias), one for
        all points or one per point; empty/None means wgs84.
    city_polygon : shapely geometry
        The city outline in WGS-84 (EPSG:4326).
    margin_km : float
        Tolerance around the outline in kilometres (points just over the border still pass).

    Returns
    -------
    PointCheck
        ``flag`` per point, in order of precedence: ``not_finite`` (missing / NaN / inf),
        ``zero`` (lon or lat exactly 0), ``ok`` (inside the fence), ``swapped_latlon``
        (outside, but inside once lon and lat are exchanged), ``outside_city``.
    """
    lon = np.asarray(lon, dtype=float).ravel()
    lat = np.asarray(lat, dtype=float).ravel()
    if lon.shape != lat.shape:
        raise ValueError(f"lon and lat differ in length: {lon.shape[0]} vs {lat.shape[0]}")
    n = lon.shape[0]
    crs_values = crs if np.ndim(crs) == 0 else np.asarray(crs, dtype=object).ravel()

    finite = np.isfinite(lon) & np.isfinite(lat)
    zero = finite & ((lon == 0.0) | (lat == 0.0))
    usable = finite & ~zero

    wlon, wlat = to_wgs84_mixed(np.where(usable, lon, np.nan), np.where(usable, lat, np.nan), crs_values)
    fence = city_fence(city_polygon, margin_km)
    inside = _inside(fence, wlon, wlat)
    # only the points outside need their swapped position (a million check-ins: half the work)
    retry = usable & ~inside
    slon = np.full(n, np.nan)
    slat = np.full(n, np.nan)
    if retry.any():
        crs_retry = crs_values if np.ndim(crs_values) == 0 else crs_values[retry]
        slon[retry], slat[retry] = to_wgs84_mixed(lat[retry], lon[retry], crs_retry)
    swapped_inside = ~inside & _inside(fence, slon, slat)

    flag = np.full(n, FLAG_OUTSIDE, dtype=object)
    flag[swapped_inside] = FLAG_SWAPPED
    flag[inside] = FLAG_OK
    flag[zero] = FLAG_ZERO
    flag[~finite] = FLAG_NOT_FINITE
    return PointCheck(
        flag=flag,
        lon=np.where(usable, wlon, np.nan),
        lat=np.where(usable, wlat, np.nan),
        suggested_lon=np.where(swapped_inside, slon, np.nan),
        suggested_lat=np.where(swapped_inside, slat, np.nan),
    )
