"""WGS-84 / CGCS2000 / GCJ-02 / BD-09 conversions."""

from __future__ import annotations

import numpy as np
import pytest

from gridmap.errors import InputError
from gridmap.geocode import transform as tf

# Tongliao city bbox (the issue's test area), sampled every 0.01° (≈ 1 km): 161,000 points
CITY_LON, CITY_LAT = np.meshgrid(np.arange(119.2, 123.8001, 0.01), np.arange(42.2, 45.7001, 0.01))
CITY_LON, CITY_LAT = CITY_LON.ravel(), CITY_LAT.ravel()


def metres_apart(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Equirectangular distance in metres: exact enough at centimetre scale."""
    k = 111_320.0
    dx = (np.asarray(lon1) - lon2) * k * np.cos(np.radians(lat2))
    dy = (np.asarray(lat1) - lat2) * k
    return np.hypot(dx, dy)


def test_published_reference_values():
    # wandergis/coordtransform (test/app.js), the reference JS implementation of these formulas:
    # wgs84togcj02(116.404, 39.915) = [116.41024449916938, 39.91640428150164] (closed form: same to 1e-9°)
    lon, lat = tf.wgs84_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=1e-9)
    assert lat == pytest.approx(39.91640428150164, abs=1e-9)
    # gcj02tobd09(116.404, 39.915) = [116.41036949371029, 39.92133699351021]
    lon, lat = tf.gcj02_to_bd09(116.404, 39.915)
    assert lon == pytest.approx(116.41036949371029, abs=1e-9)
    assert lat == pytest.approx(39.92133699351021, abs=1e-9)
    # Their inverses are one-step approximations (bd09togcj02 → [116.39762729119315, 39.90865673957631],
    # gcj02towgs84 → [116.39775550083061, 39.91359571849836]); ours are iterated to the exact inverse,
    # so they agree only to the approximation error: ≤ 1e-6° for BD-09, ≤ 1e-5° (≈ 1 m) for GCJ-02.
    lon, lat = tf.bd09_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.39762729119315, abs=1e-6)
    assert lat == pytest.approx(39.90865673957631, abs=1e-6)
    lon, lat = tf.gcj02_to_wgs84(116.404, 39.915)
    assert lon == pytest.approx(116.39775550083061, abs=1e-5)
    assert lat == pytest.approx(39.91359571849836, abs=1e-5)


def test_issue_reference_pair_tiananmen():
    # The commonly quoted pair WGS (116.397428, 39.90923) ↔ GCJ (116.403664, 39.910628) is rounded:
    # the formula gives (116.4036716, 39.9106335), within 1e-5° (≈ 1 m) of the quoted GCJ value.
    lon, lat = tf.wgs84_to_gcj02(116.397428, 39.90923)
    assert lon == pytest.approx(116.403664, abs=1e-5)
    assert lat == pytest.approx(39.910628, abs=1e-5)
    back_lon, back_lat = tf.gcj02_to_wgs84(lon, lat)
    assert metres_apart(back_lon, back_lat, 116.397428, 39.90923) < 0.01


def test_offset_size_in_tongliao_is_hundreds_of_metres():
    lon, lat = tf.wgs84_to_gcj02(CITY_LON, CITY_LAT)
    shift = metres_apart(lon, lat, CITY_LON, CITY_LAT)
    assert shift.min() > 100 and shift.max() < 1000


@pytest.mark.parametrize(
    "forward, inverse",
    [
        (tf.wgs84_to_gcj02, tf.gcj02_to_wgs84),
        (tf.gcj02_to_bd09, tf.bd09_to_gcj02),
        (tf.wgs84_to_bd09, tf.bd09_to_wgs84),
    ],
)
def test_round_trips_within_1cm_over_the_whole_city(forward, inverse):
    # forward then inverse, and inverse then forward, at every point of the dense city grid
    lon, lat = inverse(*forward(CITY_LON, CITY_LAT))
    assert metres_apart(lon, lat, CITY_LON, CITY_LAT).max() < 0.01
    lon, lat = forward(*inverse(CITY_LON, CITY_LAT))
    assert metres_apart(lon, lat, CITY_LON, CITY_LAT).max() < 0.01


def test_inverse_is_not_the_forward_rule_backwards():
    # guards against an "inverse" that just subtracts the forward offset once (≈ 1 m error)
    gcj_lon, gcj_lat = tf.wgs84_to_gcj02(CITY_LON, CITY_LAT)
    one_step_lon = 2 * gcj_lon - tf.wgs84_to_gcj02(gcj_lon, gcj_lat)[0]
    assert metres_apart(one_step_lon, CITY_LAT, CITY_LON, CITY_LAT).max() > 0.05
    lon, _ = tf.gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert np.abs(lon - CITY_LON).max() < 1e-9


def test_outside_china_untouched_by_gcj():
    lon = np.array([2.3522, 139.6917, -74.006, 100.0, 60.0])  # Paris, Tokyo, New York, north of 55.83°N, west
    lat = np.array([48.8566, 35.6895, 40.7128, 60.0, 40.0])
    assert tf.outside_china(lon, lat).all()
    for func in (tf.wgs84_to_gcj02, tf.gcj02_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)
    # BD-09 still applies its own shift there (as Baidu's converter does), on top of an untouched GCJ step
    bd = tf.wgs84_to_bd09(lon, lat)
    np.testing.assert_allclose(bd, tf.gcj02_to_bd09(lon, lat), atol=0)
    assert not np.allclose(bd[0], lon)


def test_inside_china_is_shifted():
    assert not tf.outside_china(122.26, 43.61)
    lon, lat = tf.wgs84_to_gcj02(122.26, 43.61)
    assert metres_apart(lon, lat, 122.26, 43.61) > 100


def test_dispatch_and_aliases():
    lon, lat = np.array([122.26, 121.5]), np.array([43.61, 44.0])
    for crs in ("gcj02", "GCJ-02", "amap", "高德", "tencent"):
        np.testing.assert_allclose(tf.to_wgs84(lon, lat, crs), tf.gcj02_to_wgs84(lon, lat), atol=0)
    for crs in ("bd09", "BD-09", "baidu", "百度"):
        np.testing.assert_allclose(tf.to_wgs84(lon, lat, crs), tf.bd09_to_wgs84(lon, lat), atol=0)
    np.testing.assert_allclose(tf.from_wgs84(lon, lat, "bd09"), tf.wgs84_to_bd09(lon, lat), atol=0)
    np.testing.assert_allclose(tf.from_wgs84(lon, lat, "gcj02"), tf.wgs84_to_gcj02(lon, lat), atol=0)
    for crs in ("wgs84", "EPSG:4326", "", None):
        np.testing.assert_array_equal(tf.to_wgs84(lon, lat, crs), (lon, lat))


def test_cgcs2000_is_identity_at_this_precision_but_goes_through_pyproj():
    lon, lat = tf.to_wgs84(CITY_LON[:1000], CITY_LAT[:1000], "cgcs2000")
    assert metres_apart(lon, lat, CITY_LON[:1000], CITY_LAT[:1000]).max() < 0.01
    assert tf._cgcs_transformer.cache_info().currsize >= 1
    lon, lat = tf.from_wgs84(CITY_LON[:1000], CITY_LAT[:1000], "EPSG:4490")
    assert metres_apart(lon, lat, CITY_LON[:1000], CITY_LAT[:1000]).max() < 0.01


def test_unknown_crs_is_an_input_error_not_a_guess():
    with pytest.raises(InputError, match="unknown coordinate system 'mercator'"):
        tf.to_wgs84(122.0, 43.0, "mercator")


def test_nan_and_shapes():
    lon = np.array([[122.0, np.nan], [121.0, 120.0]])
    lat = np.array([[43.0, 43.0], [np.nan, 44.0]])
    for func in (tf.gcj02_to_wgs84, tf.bd09_to_wgs84, tf.wgs84_to_bd09):
        out_lon, out_lat = func(lon, lat)
        assert out_lon.shape == (2, 2)
        assert np.isnan(out_lon[0, 1]) and np.isnan(out_lat[1, 0])
        assert np.isfinite(out_lon[1, 1])
    scalar = tf.gcj02_to_wgs84(122.0, 43.0)
    assert np.ndim(scalar[0]) == 0


def test_mixed_crs_per_point():
    lon = np.array([122.26, 122.26, 122.26, 122.26])
    lat = np.array([43.61, 43.61, 43.61, 43.61])
    crs = np.array(["wgs84", "gcj02", "bd09", None], dtype=object)
    out_lon, out_lat = tf.to_wgs84_mixed(lon, lat, crs)
    assert out_lon[0] == 122.26 and out_lon[3] == 122.26
    assert out_lon[1] == pytest.approx(float(tf.gcj02_to_wgs84(122.26, 43.61)[0]), abs=1e-12)
    assert out_lon[2] == pytest.approx(float(tf.bd09_to_wgs84(122.26, 43.61)[0]), abs=1e-12)
    with pytest.raises(InputError):
        tf.to_wgs84_mixed(lon, lat, np.array(["wgs84", "utm", "bd09", "gcj02"], dtype=object))
