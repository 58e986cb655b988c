"""Vectorized conversions between the coordinate systems Chinese case data arrives in.

* **WGS-84** (EPSG:4326): GPS, the storage CRS of gridmap.
* **CGCS2000** (EPSG:4490): the national geodetic datum (天地图).  It differs from
  WGS-84 by centimetres, far below address precision, so the conversion is a
  declared identity; it still goes through pyproj so the declaration is explicit
  and a future datum shift would be picked up.
* **GCJ-02** (Amap 高德, Tencent 腾讯, Google China): WGS-84 plus the state-mandated
  offset computed on the Krasovsky 1940 ellipsoid (a = 6 378 245 m,
  e² = 0.006 693 421 622 965 943 23).  About 500 m in Tongliao.
* **BD-09** (Baidu 百度): GCJ-02 plus Baidu's own rotation/shift.

Every function takes lon/lat in degrees (scalars or arrays, any shape) and returns a
``(lon, lat)`` pair of float arrays (0-d arrays for scalar input) in degrees.
NaN stays NaN.

**Outside China** (the usual test: lon < 72.004 or lon > 137.8347 or
lat < 0.8293 or lat > 55.8271) the GCJ-02 offset is not applied and
WGS-84 = GCJ-02.  The BD-09 step is applied everywhere, as Baidu's public
converter does.  The box is coarse (it includes e.g. Korea and Mongolia) — it is the
rule every GCJ-02 implementation uses, so it is the one that matches Amap data.

The forward offsets are closed-form; the inverses (GCJ-02 → WGS-84, BD-09 → GCJ-02)
have no closed form and are solved iteratively: a vectorized fixed-point iteration
``x ← x + (target − forward(x))`` whose contraction factor is the offset's derivative
(≈ 1e-3 per degree), so it converges to 1e-10° (≈ 0.01 mm) in 3–6 rounds.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pyproj

from gridmap.crs import CGCS2000, WGS84
from gridmap.errors import InputError

# Krasovsky 1940 ellipsoid, the one the GCJ-02 offset is defined on.
KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323
# Baidu's constant (π · 3000 / 180).
BD_X_PI = np.pi * 3000.0 / 180.0
BD_DLON = 0.0065
BD_DLAT = 0.006

#: the bounding box outside which GCJ-02 leaves coordinates alone (lon_min, lat_min, lon_max, lat_max)
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)

#: stop the inverse iteration once every point moves less than this (degrees; ≈ 0.01 mm)
INVERSE_TOLERANCE_DEG = 1e-10
INVERSE_MAX_ITER = 30

#: canonical CRS names and their accepted spellings
CRS_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "wgs_84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "gps": "wgs84",
    "cgcs2000": "cgcs2000",
    "cgcs-2000": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "4490": "cgcs2000",
    "tianditu": "cgcs2000",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj_02": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "tencent": "gcj02",
    "qq": "gcj02",
    "高德": "gcj02",
    "腾讯": "gcj02",
    "火星": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd_09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
    "百度": "bd09",
}
CRS_NAMES = ("wgs84", "cgcs2000", "gcj02", "bd09")


def canonical_crs(crs: str | None) -> str:
    """The canonical name (one of :data:`CRS_NAMES`) for a declared CRS; empty/None → ``wgs84``.

    Raises :class:`~gridmap.errors.InputError` for an unknown name rather than guessing.
    """
    if crs is None:
        return "wgs84"
    key = str(crs).strip().lower()
    if key in ("", "nan", "none"):
        return "wgs84"
    if key not in CRS_ALIASES:
        raise InputError(f"unknown coordinate system {crs!r}; use one of {', '.join(CRS_NAMES)}")
    return CRS_ALIASES[key]


def _as_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    lon, lat = np.broadcast_arrays(lon, lat)
    return lon.astype(float, copy=True), lat.astype(float, copy=True)


def _pair(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def outside_china(lon, lat) -> np.ndarray:
    """True where the GCJ-02 rule leaves the point alone (see :data:`CHINA_BBOX`)."""
    lon, lat = _as_arrays(lon, lat)
    lon_min, lat_min, lon_max, lat_max = CHINA_BBOX
    return (lon < lon_min) | (lon > lon_max) | (lat < lat_min) | (lat > lat_max)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS-84 lon/lat; zero outside China."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sqrt_abs_x
        + common
        + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sqrt_abs_x
        + common
        + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * pi
    magic = 1.0 - KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * pi)
    outside = outside_china(lon, lat)
    dlon = np.where(outside, 0.0, dlon)
    dlat = np.where(outside, 0.0, dlat)
    return dlon, dlat


def _bd_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * BD_X_PI)
    return z * np.cos(theta) + BD_DLON, z * np.sin(theta) + BD_DLAT


def _bd_inverse_guess(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Baidu's published approximate inverse; good to ~1e-6°, refined by iteration below.
    x = lon - BD_DLON
    y = lat - BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * BD_X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(forward, lon_t: np.ndarray, lat_t: np.ndarray, lon0: np.ndarray, lat0: np.ndarray):
    """Solve ``forward(x) = target`` by fixed-point iteration from ``x0`` (all vectorized)."""
    lon, lat = lon0.copy(), lat0.copy()
    for _ in range(INVERSE_MAX_ITER):
        flon, flat = forward(lon, lat)
        dlon = lon_t - flon
        dlat = lat_t - flat
        lon += dlon
        lat += dlat
        step = np.nanmax(np.abs(np.concatenate([dlon.ravel(), dlat.ravel()])), initial=0.0)
        if not step > INVERSE_TOLERANCE_DEG:  # also stops when everything is NaN
            break
    return lon, lat


def _gcj_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 → GCJ-02 (degrees in, degrees out); identity outside China."""
    lon, lat = _as_arrays(lon, lat)
    return _pair(*_gcj_forward(lon, lat))


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS-84, iterated until the forward round trip is within 1e-10° (≈ 0.01 mm)."""
    lon, lat = _as_arrays(lon, lat)
    # First guess: subtract the offset evaluated at the GCJ point (error ≈ 1 m), then iterate.
    dlon, dlat = _gcj_offset(lon, lat)
    out_lon, out_lat = _invert(_gcj_forward, lon, lat, lon - dlon, lat - dlat)
    # A point the GCJ rule leaves alone stays exactly as it was.
    outside = outside_china(lon, lat) & outside_china(out_lon, out_lat)
    return _pair(np.where(outside, lon, out_lon), np.where(outside, lat, out_lat))


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → BD-09 (Baidu), degrees."""
    lon, lat = _as_arrays(lon, lat)
    return _pair(*_bd_forward(lon, lat))


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → GCJ-02, iterated until the forward round trip is within 1e-10°."""
    lon, lat = _as_arrays(lon, lat)
    g_lon, g_lat = _bd_inverse_guess(lon, lat)
    return _pair(*_invert(_bd_forward, lon, lat, g_lon, g_lat))


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 → BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → WGS-84 (through GCJ-02, both steps iterated)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


@lru_cache(maxsize=2)
def _cgcs_transformer(inverse: bool) -> pyproj.Transformer:
    src, dst = (WGS84, CGCS2000) if inverse else (CGCS2000, WGS84)
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _cgcs2000_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _as_arrays(lon, lat)
    out_lon, out_lat = _cgcs_transformer(False).transform(lon, lat)
    return np.asarray(out_lon, dtype=float), np.asarray(out_lat, dtype=float)


def _wgs84_to_cgcs2000(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _as_arrays(lon, lat)
    out_lon, out_lat = _cgcs_transformer(True).transform(lon, lat)
    return np.asarray(out_lon, dtype=float), np.asarray(out_lat, dtype=float)


def _identity(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return _as_arrays(lon, lat)


_TO_WGS84 = {
    "wgs84": _identity,
    "cgcs2000": _cgcs2000_to_wgs84,
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_FROM_WGS84 = {
    "wgs84": _identity,
    "cgcs2000": _wgs84_to_cgcs2000,
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


def to_wgs84(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates declared in ``crs`` (wgs84 | cgcs2000 | gcj02 | bd09, or an alias) → WGS-84 degrees."""
    return _TO_WGS84[canonical_crs(crs)](lon, lat)


def from_wgs84(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 degrees → coordinates in ``crs`` (wgs84 | cgcs2000 | gcj02 | bd09, or an alias)."""
    return _FROM_WGS84[canonical_crs(crs)](lon, lat)


def to_wgs84_mixed(lon, lat, crs) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`to_wgs84` but ``crs`` may be one value per point (array of names; empty → wgs84).

    Raises :class:`~gridmap.errors.InputError` naming the first unknown CRS.
    """
    lon, lat = _as_arrays(lon, lat)
    if np.ndim(crs) == 0:
        return to_wgs84(lon, lat, crs)
    raw = np.asarray(crs, dtype=object).ravel()
    raw = np.where(pd.isna(raw), "", raw).astype(str)
    names = np.empty(raw.shape, dtype=object)
    for value in np.unique(raw):  # a handful of distinct spellings, not one call per row
        names[raw == value] = canonical_crs(value)
    names = names.reshape(lon.shape)
    out_lon, out_lat = lon.copy(), lat.copy()
    for name in CRS_NAMES:
        sel = names == name
        if sel.any():
            out_lon[sel], out_lat[sel] = to_wgs84(lon[sel], lat[sel], name)
    return out_lon, out_lat
