"""Geometries on their way into the store, and the GeoPackage binary encoding.

Everything stored is 2-D WGS-84 (EPSG:4326, lon/lat degrees).  :func:`prepare_geometries`
enforces that for every backend; :func:`encode_gpkg` / :data:`GPKG_WKB_SQL` convert
between shapely arrays and GeoPackage geometry blobs (GP header + little-endian WKB).
"""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pyproj
import shapely

from gridmap.errors import InputError
from gridmap.store.filters import StoreError

WGS84_EPSG = 4326

#: shapely type ids accepted by each declared geometry type
_ACCEPTED_TYPES = {
    "POINT": {shapely.GeometryType.POINT},
    "MULTIPOLYGON": {shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON},
    "GEOMETRY": None,
}


def _is_wgs84(crs: object) -> bool:
    return pyproj.CRS.from_user_input(crs).equals(pyproj.CRS.from_epsg(WGS84_EPSG), ignore_axis_order=True)


def prepare_geometries(
    geoms: pd.Series | np.ndarray, crs: object, geometry_type: str, where: str
) -> np.ndarray:
    """Validate and normalise geometries for a spatial table; returns a shapely object array.

    Parameters
    ----------
    geoms
        shapely geometries (``None``/NaN allowed: stored as NULL; empty geometries are stored as NULL too).
    crs
        the CRS of ``geoms`` (anything pyproj accepts) or None.  Another CRS than EPSG:4326 is
        reprojected to EPSG:4326.  With no CRS, coordinates must look like lon/lat degrees
        (|x| ≤ 180, |y| ≤ 90), else :class:`~gridmap.errors.InputError`.
    geometry_type
        the declared type: ``POINT`` (Points only), ``MULTIPOLYGON`` (Polygons are promoted),
        ``GEOMETRY`` (anything).
    where
        names the table in error messages.

    Z/M ordinates are dropped (stored geometries are 2-D).
    """
    values = np.asarray(geoms, dtype=object)
    values = np.where(pd.isna(values), None, values)
    try:
        if shapely.has_z(values).any() or shapely.has_m(values).any():
            values = shapely.force_2d(values)
        values = np.where(shapely.is_empty(values), None, values)
    except TypeError:
        raise StoreError(f"{where}: geometry column must hold shapely geometries") from None
    present = ~shapely.is_missing(values)
    if crs is not None and not _is_wgs84(crs):
        values = _reproject(values, crs, where)
    elif crs is None and present.any():
        xmin, ymin, xmax, ymax = shapely.total_bounds(values)
        if not (xmin >= -180 and xmax <= 180 and ymin >= -90 and ymax <= 90):
            raise InputError(
                f"{where}: geometries have no CRS and coordinates ({xmin:.6g}, {ymin:.6g}) – "
                f"({xmax:.6g}, {ymax:.6g}) are not lon/lat degrees; set the CRS (e.g. gdf.set_crs(...)) "
                "so they can be reprojected to EPSG:4326"
            )
    accepted = _ACCEPTED_TYPES[geometry_type.upper()]
    if accepted is not None and present.any():
        type_ids = shapely.get_type_id(values)
        bad = present & ~np.isin(type_ids, [int(t) for t in accepted])
        if bad.any():
            found = sorted({shapely.GeometryType(t).name for t in type_ids[bad]})
            raise StoreError(
                f"{where}: column takes {geometry_type} geometries, got {', '.join(found)} "
                f"(row {int(np.flatnonzero(bad)[0])})"
            )
    if geometry_type.upper() == "MULTIPOLYGON":
        is_polygon = shapely.get_type_id(values) == int(shapely.GeometryType.POLYGON)
        if is_polygon.any():
            values = values.copy()
            values[is_polygon] = shapely.multipolygons(values[is_polygon].reshape(-1, 1))
    return values


def _reproject(values: np.ndarray, crs: object, where: str) -> np.ndarray:
    try:
        transformer = pyproj.Transformer.from_crs(crs, WGS84_EPSG, always_xy=True)
    except pyproj.exceptions.CRSError as exc:
        raise InputError(f"{where}: cannot reproject from CRS {crs}: {exc}") from exc
    out = shapely.transform(values, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    if not np.isfinite(shapely.bounds(out[~shapely.is_missing(out)])).all():
        raise InputError(f"{where}: reprojecting from {crs} to EPSG:4326 gave invalid coordinates")
    return out


# --- GeoPackage binary -------------------------------------------------------------------
# GP header: magic "GP", version 0, flags, srs_id (int32), envelope.  Flags 0b00000011 =
# little-endian header (bit 0) + envelope [minx, maxx, miny, maxy] (bits 1-3 = 1).
_HEADER = np.dtype(
    [("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"), ("env", "<f8", (4,))]
)
_FLAGS_LE_XY_ENVELOPE = 0b00000011


#: a 2-D point blob: GP header without envelope (flags: little-endian, envelope code 0) + WKB
_GPKG_POINT = np.dtype(
    [
        ("magic", "S2"),
        ("version", "u1"),
        ("flags", "u1"),
        ("srs_id", "<i4"),
        ("order", "u1"),
        ("type", "<u4"),
        ("xy", "<f8", (2,)),
    ]
)


def encode_gpkg(geoms: np.ndarray, srs_id: int = WGS84_EPSG) -> list[bytes | None]:
    """shapely array → GeoPackage geometry blobs (None stays None).

    Points are written without an envelope (a point is its own; GDAL writes them so too),
    with numpy alone — a million check-ins in a fraction of a second; every other geometry
    carries its envelope [minx, maxx, miny, maxy].
    """
    geoms = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(geoms)
    out: list[bytes | None] = [None] * len(geoms)
    if not present.any():
        return out
    kept = geoms[present]
    # the numpy path needs one coordinate pair per geometry: POINT EMPTY has none
    if (shapely.get_type_id(kept) == int(shapely.GeometryType.POINT)).all() and not shapely.is_empty(
        kept
    ).any():
        records = np.zeros(len(kept), dtype=_GPKG_POINT)
        records["magic"] = b"GP"
        records["flags"] = 0b00000001
        records["srs_id"] = srs_id
        records["order"] = 1
        records["type"] = 1
        records["xy"] = shapely.get_coordinates(kept)
        blobs = records.view(f"V{_GPKG_POINT.itemsize}").tolist()
        if present.all():
            return blobs
        for index, blob in zip(np.flatnonzero(present).tolist(), blobs, strict=True):
            out[index] = blob
        return out
    header = np.zeros(len(kept), dtype=_HEADER)
    header["magic"] = b"GP"
    header["flags"] = _FLAGS_LE_XY_ENVELOPE
    header["srs_id"] = srs_id
    bounds = shapely.bounds(kept)  # minx, miny, maxx, maxy
    header["env"] = bounds[:, [0, 2, 1, 3]]
    headers = header.view(f"V{_HEADER.itemsize}").tolist()
    wkbs = shapely.to_wkb(kept, byte_order=1, output_dimension=2)
    blobs = list(map(bytes.__add__, headers, wkbs.tolist()))
    for index, blob in zip(np.flatnonzero(present).tolist(), blobs, strict=True):
        out[index] = blob
    return out


def gpkg_wkb_sql(column: str) -> str:
    """SQL expression: the WKB inside a GeoPackage blob column (the header length depends on the
    envelope code in bits 1-3 of the flags byte, read as the low hex digit of byte 4)."""
    code = f"substr(hex(substr({column}, 4, 1)), 2, 1)"
    return (
        f"substr({column}, 9 + CASE {code} WHEN '0' THEN 0 WHEN '1' THEN 0 WHEN '2' THEN 32 "
        "WHEN '3' THEN 32 WHEN '4' THEN 48 WHEN '5' THEN 48 WHEN '6' THEN 48 WHEN '7' THEN 48 "
        "WHEN '8' THEN 64 WHEN '9' THEN 64 ELSE 0 END)"
    )


_HEX_DIGITS = np.array([f"{i:02X}" for i in range(256)], dtype="S2")
_EWKB_POINT_SRID = np.dtype([("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("xy", "<f8", (2,))])


def ewkb_hex(geoms: np.ndarray, srid: int = WGS84_EPSG) -> list[str | None]:
    """Hex EWKB with ``srid`` (what PostGIS parses on input), None for None.

    All-point arrays are encoded with numpy alone (the big tables are points).
    """
    geoms = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(geoms)
    kept = geoms[present]
    points = len(kept) and (shapely.get_type_id(kept) == int(shapely.GeometryType.POINT)).all()
    if points and not shapely.is_empty(kept).any():  # POINT EMPTY has no coordinate pair
        records = np.zeros(len(kept), dtype=_EWKB_POINT_SRID)
        records["order"] = 1
        records["type"] = 0x20000001  # Point with the EWKB SRID flag
        records["srid"] = srid
        records["xy"] = shapely.get_coordinates(kept)
        raw = records.view(np.uint8).reshape(len(kept), _EWKB_POINT_SRID.itemsize)
        hexes = _HEX_DIGITS[raw].view(f"S{2 * _EWKB_POINT_SRID.itemsize}").ravel().astype(str)
    else:
        hexes = shapely.to_wkb(
            shapely.set_srid(kept, srid), hex=True, include_srid=True, byte_order=1, output_dimension=2
        )
    out = np.full(len(geoms), None, dtype=object)
    out[present] = hexes
    return out.tolist()


_POINT_WKB_SIZE = 21  # byte order, uint32 type, two float64


def decode_wkb(wkbs: list[bytes | str | None]) -> np.ndarray:
    """WKB (bytes or hex strings) values → shapely object array (None for NULL).

    2-D little-endian points (the bulk of gridmap's rows) are decoded straight from the
    bytes with numpy, several times faster than parsing each WKB.
    """
    values = np.array(wkbs, dtype=object)
    present = np.array([w is not None for w in wkbs], dtype=bool)
    kept = values[present]
    joined = None
    if len(kept) and isinstance(kept[0], bytes):
        joined = b"".join(kept)
    elif len(kept) and isinstance(kept[0], str):
        text = "".join(kept)
        if len(text) == 2 * _POINT_WKB_SIZE * len(kept):
            joined = bytes.fromhex(text)
    if joined is not None and len(joined) == _POINT_WKB_SIZE * len(kept):
        raw = np.frombuffer(joined, dtype=np.uint8).reshape(-1, _POINT_WKB_SIZE)
        if (raw[:, 0] == 1).all() and (raw[:, 1:5].copy().view("<u4").ravel() == 1).all():
            xy = raw[:, 5:].copy().view("<f8")
            out = np.full(len(values), None, dtype=object)
            out[present] = shapely.points(xy)
            return out
    return shapely.from_wkb(values)


_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def _gpkg_header(blob: bytes) -> tuple[int, bool, tuple[float, float, float, float] | None]:
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    flags = blob[3]
    code = (flags >> 1) & 0b111
    if code not in _ENVELOPE_BYTES:
        raise ValueError(f"invalid GeoPackage envelope code {code}")
    endian = "<" if flags & 1 else ">"
    empty = bool(flags & 0b10000)
    envelope = struct.unpack_from(f"{endian}4d", blob, 8) if code else None
    return 8 + _ENVELOPE_BYTES[code], empty, envelope


def _envelope(blob: bytes) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a GeoPackage blob (from its header when present)."""
    offset, empty, envelope = _gpkg_header(blob)
    if empty:
        return None
    if envelope is not None:
        return envelope
    geom = shapely.from_wkb(blob[offset:])
    if geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return minx, maxx, miny, maxy


def _st_envelope_part(index: int):
    def function(blob: bytes | None) -> float | None:
        if blob is None:
            return None
        envelope = _envelope(blob)
        return None if envelope is None else envelope[index]

    return function


def _st_is_empty(blob: bytes | None) -> int | None:
    if blob is None:
        return None
    offset, empty, _ = _gpkg_header(blob)
    return int(empty or shapely.from_wkb(blob[offset:]).is_empty)


#: SQL functions the GeoPackage R-tree triggers call (GDAL registers the same ones)
GPKG_SQL_FUNCTIONS = {
    "ST_MinX": _st_envelope_part(0),
    "ST_MaxX": _st_envelope_part(1),
    "ST_MinY": _st_envelope_part(2),
    "ST_MaxY": _st_envelope_part(3),
    "ST_IsEmpty": _st_is_empty,
}
