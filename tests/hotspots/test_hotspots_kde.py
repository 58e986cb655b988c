"""Kernel density: integrates to the point count, PNG decodes, Leaflet bounds, ArcGIS bandwidth rule."""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np
import pytest

from gridmap.crs import to_local
from gridmap.errors import InputError
from gridmap.hotspots.kde import arcgis_bandwidth, kernel_density
from gridmap.hotspots.png import decode_rgba, encode_rgba, ramp


def clustered_points(seed: int = 0):
    rng = np.random.default_rng(seed)
    lon = np.r_[122.26 + rng.normal(0, 0.01, 3000), rng.uniform(122.1, 122.4, 1000)]
    lat = np.r_[43.65 + rng.normal(0, 0.008, 3000), rng.uniform(43.55, 43.75, 1000)]
    return lon, lat


@pytest.mark.parametrize("bandwidth", [None, 500.0, 2000.0])
def test_surface_integrates_to_the_number_of_points(bandwidth):
    lon, lat = clustered_points()
    kde = kernel_density(lon, lat, bandwidth_m=bandwidth)
    assert kde.total == 4000
    assert kde.integral() == pytest.approx(4000, rel=0.02)
    weights = np.full(len(lon), 2.5)
    assert kernel_density(lon, lat, weights=weights, bandwidth_m=bandwidth).integral() == pytest.approx(
        10_000, rel=0.02
    )


def test_density_matches_direct_quartic_sum_at_sample_points():
    lon, lat = clustered_points()
    h = 800.0
    kde = kernel_density(lon, lat, bandwidth_m=h, cell_size_m=25.0)
    qlon, qlat = np.array([122.26, 122.27, 122.2]), np.array([43.65, 43.655, 43.6])
    px, py = to_local(lon, lat)
    qx, qy = to_local(qlon, qlat)
    d2 = (np.asarray(px)[None, :] - np.asarray(qx)[:, None]) ** 2 + (
        np.asarray(py)[None, :] - np.asarray(qy)[:, None]
    ) ** 2
    u2 = d2 / h**2
    direct = (3 / (math.pi * h**2) * np.where(u2 < 1, (1 - u2) ** 2, 0)).sum(axis=1) * 1e6
    np.testing.assert_allclose(kde.sample(qlon, qlat), direct, rtol=0.03)
    assert kde.sample([125.0], [40.0])[0] == 0.0


def test_png_decodes_to_raster_size_and_is_transparent_where_empty():
    lon, lat = clustered_points()
    kde = kernel_density(lon, lat, bandwidth_m=600.0)
    png = kde.to_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (height, width) == kde.density.shape
    # decode independently of our decoder: IDAT inflates to height × (1 + 4·width) bytes
    idat_len = struct.unpack(">I", png[33:37])[0]
    assert png[37:41] == b"IDAT"
    assert len(zlib.decompress(png[41 : 41 + idat_len])) == height * (1 + 4 * width)
    pixels = decode_rgba(png)
    assert pixels.shape == (height, width, 4)
    assert pixels[..., 3][kde.density == 0].max() == 0
    peak = np.unravel_index(np.argmax(kde.density), kde.density.shape)
    assert pixels[peak][3] > 200


def test_leaflet_bounds_and_mercator_rows():
    lon, lat = clustered_points()
    kde = kernel_density(lon, lat, bandwidth_m=500.0)
    (south, west), (north, east) = kde.bounds
    assert west < lon.min() < lon.max() < east and south < lat.min() < lat.max() < north
    # the densest pixel sits over the cluster centre: image rows are Web-Mercator-linear, top = north
    rows, cols = kde.density.shape
    r, c = np.unravel_index(np.argmax(kde.density), kde.density.shape)
    merc = lambda v: math.log(math.tan(math.pi / 4 + math.radians(v) / 2))  # noqa: E731
    frac = (r + 0.5) / rows
    lat_pixel = math.degrees(
        2 * math.atan(math.exp(merc(north) + frac * (merc(south) - merc(north)))) - math.pi / 2
    )
    lon_pixel = west + (c + 0.5) / cols * (east - west)
    assert abs(lat_pixel - 43.65) < 0.01 and abs(lon_pixel - 122.26) < 0.01


def test_arcgis_default_bandwidth_rule():
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1000, 500), rng.normal(0, 500, 500)
    sd = math.sqrt(((x - x.mean()) ** 2 + (y - y.mean()) ** 2).mean())
    dm = np.median(np.hypot(x - x.mean(), y - y.mean()))
    expected = 0.9 * min(sd, math.sqrt(1 / math.log(2)) * dm) * 500**-0.2
    assert arcgis_bandwidth(x, y) == pytest.approx(expected, rel=0.01)
    with pytest.raises(InputError):
        kernel_density([122.0], [43.0])
    with pytest.raises(InputError):
        kernel_density([], [])


def test_png_encoder_round_trip_and_ramp():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)
    assert np.array_equal(decode_rgba(encode_rgba(pixels)), pixels)
    coloured = ramp(np.array([[0.0, 0.5, 1.0]]))
    assert coloured[0, 0, 3] == 0 and coloured[0, 2, 3] > coloured[0, 1, 3] > 0
    with pytest.raises(InputError):
        encode_rgba(np.zeros((2, 2, 3), np.uint8))
