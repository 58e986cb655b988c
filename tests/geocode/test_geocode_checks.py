"""Declared-coordinate checks: flagged, never silently repaired."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridmap import boundaries
from gridmap.crs import to_local, to_wgs84
from gridmap.geocode import transform as tf
from gridmap.geocode.checks import check_declared_points


@pytest.fixture(scope="module")
def city_polygon():
    return boundaries.city().geometry.iloc[0]


def test_flags_each_kind(city_polygon):
    inside = shapely.get_coordinates(city_polygon.representative_point())[0]  # (lon, lat) in Tongliao
    lon = np.array([inside[0], inside[1], 116.40, 0.0, np.nan, np.inf, inside[0]])
    lat = np.array([inside[1], inside[0], 39.90, 0.0, 43.0, 43.0, 0.0])
    check = check_declared_points(lon, lat, "wgs84", city_polygon, margin_km=20)
    assert list(check.flag) == [
        "ok",
        "swapped_latlon",
        "outside_city",
        "zero",
        "not_finite",
        "not_finite",
        "zero",
    ]
    # the swapped point is not repaired: its own coordinates stay as declared, the fix is a suggestion
    assert check.lon[1] == pytest.approx(inside[1]) and check.lat[1] == pytest.approx(inside[0])
    assert check.suggested_lon[1] == pytest.approx(inside[0]) and check.suggested_lat[1] == pytest.approx(
        inside[1]
    )
    assert np.isnan(check.suggested_lon[[0, 2, 3, 4]]).all()
    assert np.isnan(check.lon[[3, 4, 5, 6]]).all()
    assert check.counts() == {"ok": 1, "swapped_latlon": 1, "outside_city": 1, "zero": 2, "not_finite": 2}


def test_margin_in_kilometres(city_polygon):
    # 10 km due west of the city's westernmost vertex: 10 km from the outline
    coords = shapely.get_coordinates(city_polygon)
    west = coords[np.argmin(coords[:, 0])]
    x, y = to_local(west[0], west[1])
    lon, lat = to_wgs84(x - 10_000.0, y)
    assert check_declared_points([lon], [lat], "wgs84", city_polygon, margin_km=20).flag[0] == "ok"
    assert check_declared_points([lon], [lat], "wgs84", city_polygon, margin_km=5).flag[0] == "outside_city"


def test_declared_crs_is_converted_before_checking(city_polygon):
    wgs = np.array([122.26, 121.5]), np.array([43.61, 44.0])
    for crs in ("gcj02", "bd09"):
        declared = tf.from_wgs84(*wgs, crs)
        check = check_declared_points(*declared, crs, city_polygon)
        assert (check.flag == "ok").all()
        np.testing.assert_allclose(check.lon, wgs[0], atol=1e-9)
        np.testing.assert_allclose(check.lat, wgs[1], atol=1e-9)
    # one CRS per point
    lon = np.array([float(tf.from_wgs84(122.26, 43.61, "bd09")[0]), 122.26])
    lat = np.array([float(tf.from_wgs84(122.26, 43.61, "bd09")[1]), 43.61])
    check = check_declared_points(lon, lat, np.array(["bd09", "wgs84"], dtype=object), city_polygon)
    np.testing.assert_allclose(check.lon, [122.26, 122.26], atol=1e-9)


def test_swapped_suggestion_is_converted_from_the_declared_crs(city_polygon):
    gcj_lon, gcj_lat = tf.from_wgs84(122.26, 43.61, "gcj02")
    check = check_declared_points([gcj_lat], [gcj_lon], "gcj02", city_polygon)
    assert check.flag[0] == "swapped_latlon"
    assert check.suggested_lon[0] == pytest.approx(122.26, abs=1e-9)
    assert check.suggested_lat[0] == pytest.approx(43.61, abs=1e-9)
