"""GeoDataFrames → RFC 7946 GeoJSON text, fast (vectorized geometry serialisation).

Output coordinates are lon/lat degrees in WGS-84, rounded to 7 decimals (≈1 cm), polygon
exteriors counter-clockwise (RFC 7946 §3.1.6).  With ``crs="gcj02"`` the coordinates are
shifted to GCJ-02 so overlays line up with a GCJ-02 base map (Amap/Tencent tiles); such
output is *not* RFC 7946 WGS-84 any more, which the ``crs`` member of the collection says.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import InputError

OUTPUT_CRS = ("wgs84", "gcj02")
GEOJSON_MEDIA_TYPE = "application/geo+json"


def check_crs(crs: str) -> str:
    crs = (crs or "wgs84").lower()
    if crs not in OUTPUT_CRS:
        raise InputError(f"crs {crs!r}: use one of {', '.join(OUTPUT_CRS)}")
    return crs


#: metres per degree of latitude (display simplification only)
METRES_PER_DEGREE = 111_320.0


def output_geometries(
    geoms: Sequence[Any] | np.ndarray, crs: str = "wgs84", simplify_m: float = 0.0
) -> np.ndarray:
    """Geometries in the output CRS, polygons oriented per RFC 7946, coordinates rounded.

    ``simplify_m`` > 0: Douglas-Peucker to that many metres, for maps that show many polygons
    at a small scale (about half a screen pixel is enough).  Plain Douglas-Peucker is ten times
    faster than the topology-preserving variant; a polygon it collapses keeps its original shape.
    """
    geoms = np.asarray(geoms, dtype=object)
    if simplify_m > 0:
        simple = shapely.simplify(geoms, simplify_m / METRES_PER_DEGREE, preserve_topology=False)
        keep = shapely.is_empty(simple) | ~shapely.is_valid(simple)
        geoms = np.where(keep, geoms, simple)
    if check_crs(crs) == "gcj02":
        from gridmap.geocode.transform import wgs84_to_gcj02

        def shift(coords: np.ndarray) -> np.ndarray:
            lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
            return np.column_stack((lon, lat))

        geoms = shapely.transform(geoms, shift)
    geoms = shapely.transform(geoms, lambda c: np.round(c, 7))
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    if polygonal.any():
        geoms[polygonal] = shapely.orient_polygons(geoms[polygonal], exterior_cw=False)
    return geoms


def _clean(value: Any) -> Any:
    """JSON-safe scalar: NaN/NaT → None, numpy → Python."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (no geometry column)."""
    frame = frame.drop(columns=[c for c in frame.columns if c == "geometry"])
    cols = list(frame.columns)
    return [{c: _clean(v) for c, v in zip(cols, row, strict=True)} for row in frame.itertuples(index=False)]


#: a lon/lat pair as shapely writes it ("[122.12345678901234,43.12345678901234],")
BYTES_PER_COORDINATE = 38
#: feature framing: type, id, geometry type, property braces
BYTES_PER_FEATURE = 80


def feature_collection_text(
    frame: gpd.GeoDataFrame,
    id_column: str | None = None,
    properties: Sequence[str] | None = None,
    crs: str = "wgs84",
    members: Mapping[str, Any] | None = None,
    simplify_m: float = 0.0,
    max_bytes: int | None = None,
) -> str:
    """A GeoJSON FeatureCollection as text.

    ``frame``: GeoDataFrame in EPSG:4326; ``id_column`` becomes each feature's ``id``;
    ``properties`` (default: every non-geometry column) become its properties;
    ``members``: extra top-level members (``links``, ``numberMatched`` …);
    ``simplify_m``: see :func:`output_geometries`; ``max_bytes``: refuse (413) before writing any
    text when the answer would be larger (estimated from the output coordinates and rows).
    """
    props = [c for c in (properties if properties is not None else frame.columns) if c != "geometry"]
    geoms = (
        output_geometries(frame.geometry.to_numpy(), crs, simplify_m)
        if len(frame)
        else np.array([], dtype=object)
    )
    if max_bytes is not None and len(frame):
        estimate = int(shapely.get_num_coordinates(geoms).sum()) * BYTES_PER_COORDINATE + len(frame) * (
            BYTES_PER_FEATURE + 24 * len(props)
        )
        if estimate > max_bytes:
            from fastapi import HTTPException

            raise HTTPException(
                413,
                f"answer too large for anonymous use (about {estimate / 1e6:.1f} MB, limit "
                f"{max_bytes / 1e6:.1f} MB): narrow it with bbox, admin, grid or simplify, "
                "or sign in",
            )
    geom_texts = shapely.to_geojson(geoms) if len(frame) else []
    rows = records(frame[props]) if props else [{} for _ in range(len(frame))]
    ids = frame[id_column].tolist() if id_column else [None] * len(frame)
    parts = []
    for fid, geom, row in zip(ids, geom_texts, rows, strict=True):
        head = '{"type":"Feature",' + (f'"id":{json.dumps(_clean(fid))},' if fid is not None else "")
        parts.append(
            f'{head}"geometry":{geom if geom else "null"},"properties":'
            f"{json.dumps(row, ensure_ascii=False)}}}"
        )
    top = {"type": "FeatureCollection"}
    if crs != "wgs84":
        top["crs_note"] = "coordinates shifted to GCJ-02 to match the base map (not WGS-84)"
    top.update(members or {})
    head = json.dumps(top, ensure_ascii=False)[:-1]
    return head + ',"features":[' + ",".join(parts) + "]}"


def feature_text(
    frame: gpd.GeoDataFrame,
    id_column: str | None = None,
    properties: Sequence[str] | None = None,
    crs: str = "wgs84",
    members: Mapping[str, Any] | None = None,
) -> str:
    """The single row of ``frame`` as a GeoJSON Feature (text)."""
    collection = json.loads(feature_collection_text(frame.head(1), id_column, properties, crs))
    feature = collection["features"][0]
    feature.update(members or {})
    return json.dumps(feature, ensure_ascii=False)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` (degrees, WGS-84) → tuple; ``InputError`` when malformed."""
    if not text:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"bbox {text!r}: expected four numbers minlon,minlat,maxlon,maxlat") from None
    if len(values) == 6:  # OGC allows 3-D boxes: keep the horizontal part
        values = (values[0], values[1], values[3], values[4])
    if len(values) != 4 or values[0] > values[2] or values[1] > values[3]:
        raise InputError(f"bbox {text!r}: expected minlon,minlat,maxlon,maxlat with min ≤ max")
    if not (
        -180 <= values[0] <= 180
        and -180 <= values[2] <= 180
        and -90 <= values[1] <= 90
        and -90 <= values[3] <= 90
    ):
        raise InputError(f"bbox {text!r}: longitudes must lie in -180..180 and latitudes in -90..90")
    return values  # type: ignore[return-value]


def to_jsonable(value: Any) -> Any:
    """Result objects → JSON-safe values: dataclasses → dicts, frames → records (geometry as
    GeoJSON geometry objects), numpy/pandas scalars → Python, shapely → GeoJSON geometry."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, gpd.GeoDataFrame):
        rows = records(value)
        if value.geometry.name in value.columns:
            geoms = output_geometries(value.geometry.to_numpy())
            for row, g in zip(rows, geoms, strict=True):
                row["geometry"] = None if g is None else json.loads(shapely.to_geojson(g))
        return rows
    if isinstance(value, pd.DataFrame):
        return records(value)
    if isinstance(value, pd.Series):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | np.ndarray):
        return [to_jsonable(v) for v in value]
    if isinstance(value, shapely.Geometry):
        return json.loads(shapely.to_geojson(output_geometries([value])[0]))
    return _clean(value)
