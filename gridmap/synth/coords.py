"""Raw coordinates as phone SDKs report them: GPS noise, then the app's CRS.

A point is read as WGS-84 with a few metres of GPS error and then converted to the
CRS the app declares (GCJ-02 for Amap/Tencent SDKs, BD-09 for Baidu's).  The forward
transforms come from :mod:`gridmap.geocode.transform`; a private copy of the standard
formulas is kept as a fallback so the synthetic city does not depend on the
geocoder being installed.
"""

from __future__ import annotations

import numpy as np

from gridmap.crs import to_local, to_wgs84

try:  # prefer the geocoder's implementation: one formula for the whole project
    from gridmap.geocode.transform import gcj02_to_bd09, wgs84_to_gcj02
except ImportError:  # pragma: no cover - exercised only without gridmap.geocode
    wgs84_to_gcj02 = None
    gcj02_to_bd09 = None

_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BD_X_PI = np.pi * 3000.0 / 180.0


def _fallback_wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 → GCJ-02 (Krasovsky-ellipsoid offset), degrees; points in China only."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_KRASOVSKY_A / sqrt_magic * np.cos(rad) * np.pi)
    return lon + dlon, lat + dlat


def _fallback_gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → BD-09 (Baidu's published offset), degrees."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _to_gcj02(lon, lat):
    return (wgs84_to_gcj02 or _fallback_wgs84_to_gcj02)(lon, lat)


def _to_bd09(lon, lat):
    return (gcj02_to_bd09 or _fallback_gcj02_to_bd09)(*_to_gcj02(lon, lat))


def from_wgs84(lon: np.ndarray, lat: np.ndarray, crs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 degrees → the per-point declared ``crs`` (wgs84 | gcj02 | bd09), degrees."""
    lon = np.asarray(lon, dtype=float).copy()
    lat = np.asarray(lat, dtype=float).copy()
    crs = np.asarray(crs, dtype=object)
    for name, fn in (("gcj02", _to_gcj02), ("bd09", _to_bd09)):
        sel = crs == name
        if sel.any():
            lon[sel], lat[sel] = fn(lon[sel], lat[sel])
    return lon, lat


def gps_reading(
    x: np.ndarray, y: np.ndarray, sigma_m: float | np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A GPS fix near LOCAL_CRS ``x``/``y`` (metres): Gaussian error of ``sigma_m`` metres
    per axis (scalar or per point); returns WGS-84 lon/lat degrees."""
    noisy_x = np.asarray(x) + rng.normal(0.0, sigma_m, len(x))
    noisy_y = np.asarray(y) + rng.normal(0.0, sigma_m, len(y))
    return to_wgs84(noisy_x, noisy_y)


def plant_errors(
    lon: np.ndarray, lat: np.ndarray, share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corrupt about ``share`` of the coordinates the way bad intake data does.

    Returns new lon/lat and the error kind per point: "" (none), ``swapped`` (lat/lon
    exchanged), ``zero`` (0, 0) or ``far`` (a point 150–900 km away, outside the city).
    """
    n = len(lon)
    lon, lat = np.asarray(lon, float).copy(), np.asarray(lat, float).copy()
    kind = np.full(n, "", dtype=object)
    n_bad = int(round(share * n))
    if n_bad == 0 or n == 0:
        return lon, lat, kind
    bad = rng.choice(n, min(n_bad, n), replace=False)
    kind[bad] = np.asarray(["swapped", "zero", "far"], dtype=object)[np.arange(len(bad)) % 3]
    sw = kind == "swapped"
    lon[sw], lat[sw] = lat[sw].copy(), lon[sw].copy()
    zero = kind == "zero"
    lon[zero], lat[zero] = 0.0, 0.0
    far = kind == "far"
    if far.any():
        x, y = to_local(lon[far], lat[far])
        dist = rng.uniform(150e3, 900e3, far.sum())
        ang = rng.uniform(0, 2 * np.pi, far.sum())
        lon[far], lat[far] = to_wgs84(np.asarray(x) + dist * np.cos(ang), np.asarray(y) + dist * np.sin(ang))
    return lon, lat, kind
