"""The hand-written MVT encoder (api.mvt), checked by decoding with mapbox_vector_tile."""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from api import mvt

Z, X, Y = 12, 3438, 1495  # a tile over Tongliao city (122.2°E, 43.6°N)


def _decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def _tile_to_lonlat(geom, z=Z, x=X, y=Y, extent=mvt.EXTENT):
    minx, miny, maxx, maxy = mvt.tile_bounds_3857(z, x, y)
    size = maxx - minx

    def back(coords):
        mx = minx + coords[:, 0] * size / extent
        my = maxy - coords[:, 1] * size / extent
        lon, lat = mvt.mercator_to_lonlat(mx, my)
        return np.column_stack((lon, lat))

    return shapely.transform(geom, back)


def _unit_m(z=Z, x=X, y=Y) -> float:
    """Metres (Web Mercator) per tile unit."""
    minx, _, maxx, _ = mvt.tile_bounds_3857(z, x, y)
    return (maxx - minx) / mvt.EXTENT


def _in_tile(fx0, fy0, fx1, fy1):
    """A lon/lat box at fractions of the tile."""
    b = mvt.tile_bbox_wgs84(Z, X, Y, buffer=0)
    w, h = b[2] - b[0], b[3] - b[1]
    return shapely.box(b[0] + fx0 * w, b[1] + fy0 * h, b[0] + fx1 * w, b[1] + fy1 * h)


def test_varints_match_reference_encoding():
    values = np.array([0, 1, 127, 128, 300, 16383, 16384, 2**21 - 1, 2**21, 2**28, 2**32 - 1, 2**34])
    expected = b"".join(mvt._varint(int(v)) for v in values)
    assert mvt.packed_varints(values) == expected
    assert mvt._varint(300) == bytes([0xAC, 0x02])  # the protobuf documentation's example
    assert mvt.zigzag(np.array([0, -1, 1, -2, 2, -2048])).tolist() == [0, 1, 2, 3, 4, 4095]


def test_tile_arithmetic():
    minx, miny, maxx, maxy = mvt.tile_bounds_3857(0, 0, 0)
    assert minx == pytest.approx(-20037508.342789244) and maxy == pytest.approx(20037508.342789244)
    bbox = mvt.tile_bbox_wgs84(Z, X, Y, buffer=0)
    assert bbox[0] < 122.2 < bbox[2] and bbox[1] < 43.6 < bbox[3]
    tiles = mvt.tiles_covering((122.0, 43.5, 122.5, 43.8), [12])
    assert (Z, X, Y) in tiles
    # every covering tile intersects the box, and its neighbours outside do not
    for z, x, y in tiles:
        assert shapely.box(*mvt.tile_bbox_wgs84(z, x, y, buffer=0)).intersects(
            shapely.box(122.0, 43.5, 122.5, 43.8)
        )
    with pytest.raises(ValueError):
        mvt.check_tile(3, 8, 0)


def test_polygon_round_trip_with_hole_and_multipolygon():
    outer = _in_tile(0.1, 0.1, 0.6, 0.6)
    with_hole = outer.difference(_in_tile(0.25, 0.25, 0.4, 0.4))
    circle = shapely.Point(_in_tile(0.75, 0.75, 0.75, 0.75).centroid).buffer(
        (mvt.tile_bbox_wgs84(Z, X, Y, 0)[2] - mvt.tile_bbox_wgs84(Z, X, Y, 0)[0]) * 0.1
    )
    multi = shapely.MultiPolygon([_in_tile(0.7, 0.1, 0.8, 0.2), _in_tile(0.85, 0.1, 0.95, 0.3)])
    originals = [with_hole, circle, multi]
    layer = mvt.TileLayer("grids", originals, [{"code": "a"}, {"code": "b"}, {"code": "c"}], [1, 2, 3])
    decoded = _decode(mvt.encode_tile([layer], Z, X, Y))["grids"]
    assert decoded["extent"] == 4096
    assert [f["id"] for f in decoded["features"]] == [1, 2, 3]
    assert [f["properties"]["code"] for f in decoded["features"]] == ["a", "b", "c"]
    unit = _unit_m()
    for feature, original in zip(decoded["features"], originals, strict=True):
        tile_geom = shape(feature["geometry"])
        assert tile_geom.is_valid
        back = _tile_to_lonlat(tile_geom)
        # lon/lat → Web Mercator metres for a metric comparison
        to_m = lambda g: shapely.transform(  # noqa: E731
            g, lambda c: np.column_stack(mvt.lonlat_to_mercator(c[:, 0], c[:, 1]))
        )
        assert shapely.hausdorff_distance(to_m(back), to_m(original)) <= 1.0 * unit
        assert abs(back.area - original.area) / original.area < 0.01
    # the hole survived as an interior ring
    holed = shape(decoded["features"][0]["geometry"])
    assert len(holed.interiors) == 1


def _signed_area(ring) -> float:
    xy = np.asarray(ring)
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def test_winding_order_follows_the_spec():
    """Exterior rings have positive surveyor's area in tile coordinates (y down), holes negative,
    whatever the winding of the input."""
    poly = _in_tile(0.1, 0.1, 0.9, 0.9).difference(_in_tile(0.3, 0.3, 0.5, 0.5))
    for geom in (
        shapely.orient_polygons(poly, exterior_cw=True),
        shapely.orient_polygons(poly, exterior_cw=False),
    ):
        data = mvt.encode_tile([mvt.TileLayer("l", [geom], [{}])], Z, X, Y)
        coords = _decode(data)["l"]["features"][0]["geometry"]["coordinates"]
        assert _signed_area(coords[0]) > 0
        assert _signed_area(coords[1]) < 0


def test_command_stream_by_hand():
    """A square at known tile units: MoveTo(1) + 2 params, LineTo(3) + 6 params, ClosePath(1)."""
    minx, miny, maxx, maxy = mvt.tile_bounds_3857(Z, X, Y)
    size = maxx - minx

    def at(px, py):
        lon, lat = mvt.mercator_to_lonlat(
            np.array([minx + px * size / 4096]), np.array([maxy - py * size / 4096])
        )
        return float(lon[0]), float(lat[0])

    square = shapely.Polygon([at(10, 10), at(20, 10), at(20, 20), at(10, 20)])
    words, offsets = mvt._polygon_commands(mvt._to_tile_space(np.array([square]), Z, X, Y, 4096, 64))
    assert offsets.tolist() == [0, 11]
    # exterior clockwise on screen from (10,10): the encoder may start at any vertex, so check structure + deltas
    assert words[0] == (1 << 3) | 1 and words[3] == (3 << 3) | 2 and words[10] == (1 << 3) | 7
    deltas = np.array(words[[1, 2, 4, 5, 6, 7, 8, 9]], dtype=np.int64)
    signed = (deltas >> 1) ^ -(deltas & 1)
    pts = np.cumsum(signed.reshape(-1, 2), axis=0)
    assert sorted(map(tuple, pts.tolist())) == [(10, 10), (10, 20), (20, 10), (20, 20)]


def test_clipping_to_the_buffered_tile():
    huge = shapely.box(100.0, 30.0, 140.0, 60.0)  # covers the tile many times over
    data = mvt.encode_tile([mvt.TileLayer("l", [huge], [{}])], Z, X, Y)
    geom = shape(_decode(data)["l"]["features"][0]["geometry"])
    assert geom.bounds == (-mvt.BUFFER, -mvt.BUFFER, mvt.EXTENT + mvt.BUFFER, mvt.EXTENT + mvt.BUFFER)
    partial = _in_tile(0.5, 0.5, 1.5, 1.5)  # sticks out to the right and bottom... of lon/lat (up in y)
    data = mvt.encode_tile([mvt.TileLayer("l", [partial], [{}])], Z, X, Y)
    bounds = shape(_decode(data)["l"]["features"][0]["geometry"]).bounds
    assert bounds[2] == mvt.EXTENT + mvt.BUFFER and bounds[1] == -mvt.BUFFER
    assert bounds[0] == pytest.approx(2048, abs=1) and bounds[3] == pytest.approx(2048, abs=60)


def test_outside_and_collapsed_geometries_are_dropped():
    far = shapely.box(10, 10, 11, 11)
    tiny = shapely.Point(_in_tile(0.5, 0.5, 0.5, 0.5).centroid).buffer(1e-9)  # far below one tile unit
    assert mvt.encode_tile([mvt.TileLayer("l", [far, tiny], [{}, {}])], Z, X, Y) == b""


def test_property_types_round_trip():
    props = {
        "s": "科尔沁区",
        "i": 7,
        "neg": -3,
        "big": 150502001001001,
        "f": 0.25,
        "yes": True,
        "none": None,
        "nan": math.nan,
    }
    data = mvt.encode_tile(
        [mvt.TileLayer("l", [_in_tile(0.2, 0.2, 0.4, 0.4)], [props], [150502001001001])], Z, X, Y
    )
    feature = _decode(data)["l"]["features"][0]
    assert feature["id"] == 150502001001001
    assert feature["properties"] == {
        "s": "科尔沁区",
        "i": 7,
        "neg": -3,
        "big": 150502001001001,
        "f": 0.25,
        "yes": True,
    }


def test_points():
    pts = [shapely.Point(_in_tile(f, f, f, f).centroid) for f in (0.25, 0.5)]
    outside = shapely.Point(10, 10)
    data = mvt.encode_tile([mvt.TileLayer("p", [*pts, outside], [{"n": 1}, {"n": 2}, {"n": 3}])], Z, X, Y)
    features = _decode(data)["p"]["features"]
    assert [f["properties"]["n"] for f in features] == [1, 2]
    assert features[0]["geometry"]["coordinates"] == pytest.approx([1024, 3072], abs=1)


def test_tile_cache_is_lru_and_counts_hits():
    cache = mvt.TileCache(max_items=2)
    built = []

    def builder(key):
        return lambda: built.append(key) or key.encode()

    assert cache.get_or_build("a", builder("a")) == b"a"
    cache.get_or_build("b", builder("b"))
    cache.get_or_build("a", builder("a"))  # hit; a becomes most recent
    cache.get_or_build("c", builder("c"))  # evicts b
    cache.get_or_build("b", builder("b"))
    assert built == ["a", "b", "c", "b"]
    assert cache.hits == 1 and len(cache) == 2
