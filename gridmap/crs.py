"""Coordinate reference systems used across gridmap.

Storage and exchange CRS is WGS-84 (EPSG:4326, degrees, lon/lat axis order).
Metric work happens in :data:`LOCAL_CRS`, an Albers equal-area projection fitted to
Tongliao (119.2–123.7°E, 42.2–45.7°N): areas are exact and distances/perimeters are
within about 0.3% over the whole city, which is enough for compactness scores,
1 m² tiling checks and patrol distances.
"""

from __future__ import annotations

import pyproj

WGS84 = "EPSG:4326"
CGCS2000 = "EPSG:4490"
LOCAL_CRS = pyproj.CRS.from_proj4(
    "+proj=aea +lat_0=44 +lat_1=42.5 +lat_2=45.5 +lon_0=121.5 +x_0=0 +y_0=0 "
    "+ellps=GRS80 +units=m +no_defs +type=crs"
)

_to_local = pyproj.Transformer.from_crs(WGS84, LOCAL_CRS, always_xy=True)
_to_wgs84 = pyproj.Transformer.from_crs(LOCAL_CRS, WGS84, always_xy=True)


def to_local(lon, lat):
    """WGS-84 lon/lat (degrees, arrays or scalars) → LOCAL_CRS x/y (metres)."""
    return _to_local.transform(lon, lat)


def to_wgs84(x, y):
    """LOCAL_CRS x/y (metres) → WGS-84 lon/lat (degrees)."""
    return _to_wgs84.transform(x, y)
