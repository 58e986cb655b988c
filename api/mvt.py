"""Mapbox Vector Tiles (spec 2.1) encoded by hand, for the GeoPackage backend.

PostGIS builds tiles itself (``ST_AsMVT``); the embedded backend has no such function,
so this module does the same job with shapely 2 array functions and a small protobuf
writer (varints, zigzag, length-delimited fields — no protobuf library):

1. WGS-84 lon/lat (degrees) → spherical Web Mercator (EPSG:3857, metres);
2. clip to the tile plus a buffer (``shapely.clip_by_rect``);
3. affine to tile space: units of ``extent`` (4096) per tile side, origin top-left, y down;
   simplified (Douglas-Peucker, half a unit) and snapped to the integer grid with
   ``shapely.set_precision`` (valid polygons out, parts that collapse dropped);
4. exterior rings wound clockwise on screen (positive surveyor's area in tile coordinates),
   holes the other way, as the spec requires;
5. one command stream per feature (MoveTo / LineTo / ClosePath, zigzag-encoded deltas from
   a cursor that starts at (0, 0) for each feature), built for all features at once with
   numpy and written as packed varints.

Supported geometry types: Polygon/MultiPolygon and Point/MultiPoint (the API serves grids,
admin units and hotspot cells, all polygonal).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

import numpy as np
import shapely

EXTENT = 4096
BUFFER = 64
#: simplification tolerance in tile units before snapping (invisible: a unit is 1/16 pixel at 256 px)
SIMPLIFY_UNITS = 0.5
EARTH_RADIUS_M = 6378137.0
#: half the side of the Web Mercator square (metres)
MERCATOR_HALF = math.pi * EARTH_RADIUS_M
#: Web Mercator is undefined at the poles; clamp latitudes like every tile server
MAX_LAT = 85.0511287798066

_MOVE_TO, _LINE_TO, _CLOSE_PATH = 1, 2, 7
_POINT, _POLYGON = 1, 3


# --- tile arithmetic ---------------------------------------------------------------------
def check_tile(z: int, x: int, y: int) -> None:
    """Raise ``ValueError`` unless z/x/y address a tile of the Web Mercator pyramid (z ≤ 24)."""
    if not (0 <= z <= 24):
        raise ValueError(f"zoom {z} outside 0..24")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise ValueError(f"tile {z}/{x}/{y} outside the {n}×{n} tiles of zoom {z}")


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of tile z/x/y (XYZ scheme, y from the top) in EPSG:3857 metres."""
    size = 2 * MERCATOR_HALF / (1 << z)
    minx = -MERCATOR_HALF + x * size
    maxy = MERCATOR_HALF - y * size
    return minx, maxy - size, minx + size, maxy


def mercator_to_lonlat(mx: np.ndarray, my: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:3857 metres → WGS-84 lon/lat degrees."""
    lon = np.degrees(np.asarray(mx, float) / EARTH_RADIUS_M)
    lat = np.degrees(2 * np.arctan(np.exp(np.asarray(my, float) / EARTH_RADIUS_M)) - math.pi / 2)
    return lon, lat


def lonlat_to_mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon/lat degrees → EPSG:3857 metres (latitudes clamped to ±85.0511°)."""
    lat = np.clip(np.asarray(lat, float), -MAX_LAT, MAX_LAT)
    mx = EARTH_RADIUS_M * np.radians(np.asarray(lon, float))
    my = EARTH_RADIUS_M * np.log(np.tan(math.pi / 4 + np.radians(lat) / 2))
    return mx, my


def tile_bbox_wgs84(z: int, x: int, y: int, buffer: int = BUFFER, extent: int = EXTENT) -> tuple[float, ...]:
    """(minlon, minlat, maxlon, maxlat) in degrees of the tile grown by ``buffer`` tile units.

    Use it to select the rows a tile needs from the store.
    """
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    pad = (maxx - minx) * buffer / extent
    lon, lat = mercator_to_lonlat(np.array([minx - pad, maxx + pad]), np.array([miny - pad, maxy + pad]))
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


def tiles_covering(bounds: Sequence[float], zooms: Sequence[int]) -> list[tuple[int, int, int]]:
    """Every z/x/y tile intersecting WGS-84 ``bounds`` (minlon, minlat, maxlon, maxlat) at each zoom."""
    mx, my = lonlat_to_mercator(np.array([bounds[0], bounds[2]]), np.array([bounds[1], bounds[3]]))
    out = []
    for z in zooms:
        n = 1 << z
        size = 2 * MERCATOR_HALF / n
        x0, x1 = (int((v + MERCATOR_HALF) // size) for v in mx)
        y0, y1 = (int((MERCATOR_HALF - v) // size) for v in my[::-1])
        out += [
            (z, x, y)
            for x in range(max(x0, 0), min(x1, n - 1) + 1)
            for y in range(max(y0, 0), min(y1, n - 1) + 1)
        ]
    return out


# --- protobuf primitives -------------------------------------------------------------------
def _varint(value: int) -> bytes:
    """One unsigned varint (value ≥ 0, < 2**64)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def packed_varints(values: np.ndarray) -> bytes:
    """Unsigned integers (< 2**35) as concatenated varints, vectorized."""
    v = np.asarray(values, dtype=np.uint64)
    if v.size == 0:
        return b""
    nbytes = np.ones(v.shape, dtype=np.int64)
    for k in range(1, 5):
        nbytes += v >= np.uint64(1 << (7 * k))
    starts = np.concatenate(([0], np.cumsum(nbytes)[:-1]))
    out = np.zeros(int(nbytes.sum()), dtype=np.uint8)
    for k in range(int(nbytes.max())):
        has = nbytes > k
        byte = (v[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (nbytes[has] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[has] + k] = (byte | more).astype(np.uint8)
    return out.tobytes()


def zigzag(values: np.ndarray) -> np.ndarray:
    """Signed → unsigned zigzag (0, -1, 1, -2 … → 0, 1, 2, 3 …) for 32-bit integers."""
    v = np.asarray(values, dtype=np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint64)


def _field(number: int, wire_type: int) -> bytes:
    return _varint((number << 3) | wire_type)


def _len_field(number: int, payload: bytes) -> bytes:
    return _field(number, 2) + _varint(len(payload)) + payload


def _encode_value(value: Any) -> bytes:
    """A ``Tile.Value`` message."""
    if isinstance(value, bool | np.bool_):
        return _field(7, 0) + _varint(int(value))
    if isinstance(value, int | np.integer):
        value = int(value)
        if value >= 0:
            return _field(5, 0) + _varint(value)
        return _field(6, 0) + _varint(int(zigzag(np.array([value]))[0]))
    if isinstance(value, float | np.floating):
        return _field(3, 1) + np.float64(value).astype("<f8").tobytes()
    return _len_field(1, str(value).encode("utf-8"))


# --- geometry → command streams --------------------------------------------------------------
def to_mercator(geoms: np.ndarray) -> np.ndarray:
    """WGS-84 lon/lat geometries → Web Mercator (EPSG:3857) metres."""
    return shapely.transform(
        np.asarray(geoms, dtype=object), lambda c: np.column_stack(lonlat_to_mercator(c[:, 0], c[:, 1]))
    )


def _to_tile_space(
    geoms: np.ndarray, z: int, x: int, y: int, extent: int, buffer: int, mercator: bool = False
) -> np.ndarray:
    """Geometries (WGS-84, or Web Mercator when ``mercator``) → clipped, integer-snapped
    tile-space geometries (empty when outside)."""
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    scale = extent / (maxx - minx)

    def to_tile(coords: np.ndarray) -> np.ndarray:
        if mercator:
            mx, my = coords[:, 0], coords[:, 1]
        else:
            mx, my = lonlat_to_mercator(coords[:, 0], coords[:, 1])
        return np.column_stack(((mx - minx) * scale, (maxy - my) * scale))

    tile = shapely.transform(geoms, to_tile)
    tile = shapely.clip_by_rect(tile, -buffer, -buffer, extent + buffer, extent + buffer)
    # Douglas-Peucker to half a tile unit first: at low zooms a polygon has hundreds of vertices
    # per unit, and snapping them all costs ~20x more; the snap then repairs any self-touching
    tile = shapely.simplify(tile, SIMPLIFY_UNITS, preserve_topology=False)
    return shapely.set_precision(tile, 1.0)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal part of each geometry (clipping can leave collections)."""
    types = shapely.get_type_id(geoms)
    odd = np.flatnonzero(~np.isin(types, (3, 6)) & ~shapely.is_empty(geoms))
    for i in odd:  # rare: only geometries that clipping turned into collections
        parts = shapely.get_parts(geoms[i])
        parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        geoms[i] = shapely.multipolygons(shapely.get_parts(parts)) if len(parts) else shapely.Polygon()
    return geoms


def _polygon_commands(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Command integers for polygonal tile-space geometries, and each feature's slice offsets."""
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)  # positive area in y-down tile space
    kind, coords, offsets = shapely.to_ragged_array(geoms)
    if kind == shapely.GeometryType.POLYGON:
        ring_off, poly_off = offsets
        multi_off = np.arange(len(geoms) + 1)
    else:
        ring_off, poly_off, multi_off = offsets
    coords = np.rint(coords).astype(np.int64)
    ring_len = np.diff(ring_off) - 1  # the closing point is implied by ClosePath
    keep = np.ones(len(coords), bool)
    keep[ring_off[1:] - 1] = False
    pts = coords[keep]
    first_pt_of_ring = np.concatenate(([0], np.cumsum(ring_len)[:-1]))
    feature_rings = poly_off[multi_off]  # ring index range of each feature
    deltas = np.diff(pts, axis=0, prepend=np.zeros((1, 2), np.int64))
    starts = first_pt_of_ring[feature_rings[:-1]]
    deltas[starts] = pts[starts]  # the cursor starts at (0, 0) for every feature
    zz = zigzag(deltas)
    # per ring: MoveTo(1) x y, LineTo(n-1) (x y)*, ClosePath(1) → 2n + 3 integers
    word_start = np.concatenate(([0], np.cumsum(2 * ring_len + 3)))
    rs = word_start[:-1]
    out = np.empty(int(word_start[-1]), np.uint64)
    out[rs] = (1 << 3) | _MOVE_TO
    out[rs + 3] = ((ring_len - 1) << 3) | _LINE_TO
    out[word_start[1:] - 1] = (1 << 3) | _CLOSE_PATH
    # the first point follows MoveTo, the others follow LineTo
    pt_ring = np.repeat(np.arange(len(ring_len)), ring_len)
    pt_rank = np.arange(len(pts)) - first_pt_of_ring[pt_ring]
    pos = rs[pt_ring] + 1 + 2 * pt_rank + (pt_rank > 0)
    out[pos] = zz[:, 0]
    out[pos + 1] = zz[:, 1]
    return out, word_start[feature_rings]


def _point_commands(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Command integers for point tile-space geometries, and each feature's slice offsets."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    coords = np.rint(coords).astype(np.int64)
    counts = np.bincount(index, minlength=len(geoms))
    deltas = np.diff(coords, axis=0, prepend=np.zeros((1, 2), np.int64))
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))[counts > 0]
    deltas[first] = coords[first]
    zz = zigzag(deltas)
    words = 1 + 2 * counts
    word_start = np.concatenate(([0], np.cumsum(words)))
    out = np.empty(int(word_start[-1]), np.uint64)
    out[word_start[:-1]] = (counts.astype(np.uint64) << np.uint64(3)) | np.uint64(_MOVE_TO)
    rank = np.arange(len(coords)) - np.repeat(np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    pos = np.repeat(word_start[:-1], counts) + 1 + 2 * rank
    out[pos] = zz[:, 0]
    out[pos + 1] = zz[:, 1]
    return out, word_start


# --- layers and tiles ----------------------------------------------------------------------
@dataclass
class TileLayer:
    """One layer of a tile.

    ``geometries``: shapely geometries in WGS-84 lon/lat degrees (EPSG:4326), or in Web
    Mercator metres with ``crs="EPSG:3857"``.
    ``ids``: optional non-negative integer feature ids (``None`` entries → no id).
    ``properties``: one mapping per feature; ``None``/NaN values are left out (MVT has no null).
    """

    name: str
    geometries: Sequence[Any] | np.ndarray
    properties: Sequence[Mapping[str, Any]] = field(default_factory=list)
    ids: Sequence[int | None] | None = None
    crs: str = "EPSG:4326"


def encode_layer(
    layer: TileLayer, z: int, x: int, y: int, extent: int = EXTENT, buffer: int = BUFFER
) -> bytes:
    """The ``Tile.Layer`` message of ``layer`` for tile z/x/y (empty bytes when no feature is in it)."""
    geoms = np.asarray(layer.geometries, dtype=object)
    if geoms.size == 0:
        return b""
    props = list(layer.properties) or [{}] * len(geoms)
    ids = list(layer.ids) if layer.ids is not None else [None] * len(geoms)
    if layer.crs not in ("EPSG:4326", "EPSG:3857"):
        raise ValueError(f"layer {layer.name!r}: crs must be EPSG:4326 or EPSG:3857, not {layer.crs}")
    tile = _to_tile_space(geoms, z, x, y, extent, buffer, mercator=layer.crs == "EPSG:3857")
    types = shapely.get_type_id(geoms)
    pointish = np.isin(types, (0, 4))
    if not (pointish.all() or np.isin(types, (3, 6)).all()):
        raise ValueError(f"layer {layer.name!r}: mixed or unsupported geometry types {sorted(set(types))}")
    if pointish.all():
        keep = np.flatnonzero(~shapely.is_empty(tile) & _inside_tile(tile, extent))
        commands, geom_type = _point_commands, _POINT
    else:
        tile = _polygonal(tile)
        keep = np.flatnonzero(~shapely.is_empty(tile) & (shapely.area(tile) > 0))
        commands, geom_type = _polygon_commands, _POLYGON
    if len(keep) == 0:
        return b""
    words, offsets = commands(tile[keep])

    keys: dict[str, int] = {}
    values: dict[tuple[type, Any], int] = {}
    value_bytes: list[bytes] = []
    features = bytearray()
    for pos, i in enumerate(keep):
        tags = []
        for key, value in props[i].items():
            if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
                continue
            k = keys.setdefault(key, len(keys))
            vkey = (type(value), value)
            if vkey not in values:
                values[vkey] = len(value_bytes)
                value_bytes.append(_encode_value(value))
            tags += [k, values[vkey]]
        msg = bytearray()
        if ids[i] is not None:
            msg += _field(1, 0) + _varint(int(ids[i]))
        if tags:
            msg += _len_field(2, packed_varints(np.array(tags)))
        msg += _field(3, 0) + _varint(geom_type)
        msg += _len_field(4, packed_varints(words[offsets[pos] : offsets[pos + 1]]))
        features += _len_field(2, bytes(msg))

    out = bytearray(_field(15, 0) + _varint(2))
    out += _len_field(1, layer.name.encode("utf-8"))
    out += features
    for key in keys:
        out += _len_field(3, key.encode("utf-8"))
    for vb in value_bytes:
        out += _len_field(4, vb)
    out += _field(5, 0) + _varint(extent)
    return bytes(out)


def _inside_tile(points: np.ndarray, extent: int) -> np.ndarray:
    """Points are not clipped by geometry (a point is in or out): keep those inside the tile proper."""
    xy = shapely.get_coordinates(points)
    if len(xy) != len(points):  # multipoints: keep every feature clip_by_rect left non-empty
        return np.ones(len(points), bool)
    return (xy[:, 0] >= 0) & (xy[:, 0] < extent) & (xy[:, 1] >= 0) & (xy[:, 1] < extent)


def encode_tile(
    layers: Sequence[TileLayer], z: int, x: int, y: int, extent: int = EXTENT, buffer: int = BUFFER
) -> bytes:
    """A whole tile (``Tile`` message): the non-empty layers in order."""
    check_tile(z, x, y)
    out = bytearray()
    for layer in layers:
        encoded = encode_layer(layer, z, x, y, extent, buffer)
        if encoded:
            out += _len_field(3, encoded)
    return bytes(out)


# --- cache -----------------------------------------------------------------------------------
class TileCache:
    """A thread-safe LRU of encoded tiles; keys carry the plan/run they were built from."""

    def __init__(self, max_items: int = 4096) -> None:
        self.max_items = max_items
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = Lock()
        self.hits = 0
        self.misses = 0

    def peek(self, key: Hashable) -> bytes | None:
        """The cached tile, or None (counts as a hit when found)."""
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return data

    def get_or_build(self, key: Hashable, build: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        data = build()  # built outside the lock: concurrent misses of one key just build twice
        with self._lock:
            self._items[key] = data
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return data

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
