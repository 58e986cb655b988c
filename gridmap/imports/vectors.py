"""Reading a vector file for an import: Shapefile (plain or zipped; DBF in GBK, GB18030 or
UTF-8, with or without ``.cpg`` / ``.prj``), GeoPackage, GeoJSON, KML and FileGDB.

* the DBF encoding comes from the ``.cpg`` when there is one, else from the bytes (UTF-8
  if they decode as UTF-8, else GB18030, of which GBK is a subset);
* a file without a coordinate system is refused by :func:`gridmap.crsdetect.require_crs`
  unless ``crs`` (``--crs``) says what it is; GCJ-02 / BD-09 are converted here;
* everything else (repair, region check, report) is :func:`gridmap.loaders.read_vector`.

Returns the frame in WGS-84 (EPSG:4326) with the attribute columns as text.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from gridmap.errors import InputError


@dataclass
class VectorInput:
    frame: gpd.GeoDataFrame
    name: str
    sha256: str
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    #: file row → why the reader dropped it (no geometry, outside the area, nothing left after repair);
    #: ``frame`` still has a row for it (no geometry, empty attributes) so that it is accounted for
    dropped: dict[int, str] = field(default_factory=dict)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        h.update(p.read_bytes())
    return h.hexdigest()


def _dataset(path: Path, workdir: Path) -> Path:
    """The file GDAL should open: a zip is unpacked (its .shp, .gdb or single dataset)."""
    if path.suffix.lower() != ".zip":
        return path
    try:
        with zipfile.ZipFile(path) as archive:
            archive.extractall(workdir)
    except zipfile.BadZipFile:
        raise InputError(f"{path.name}: not a readable zip archive") from None
    found = [
        *workdir.rglob("*.gdb"),
        *workdir.rglob("*.shp"),
        *workdir.rglob("*.gpkg"),
        *workdir.rglob("*.geojson"),
        *workdir.rglob("*.kml"),
    ]
    found = [p for p in found if not p.name.startswith(".")]
    if not found:
        raise InputError(f"{path.name}: the zip holds no .shp, .gdb, .gpkg, .geojson or .kml")
    if len(found) > 1:
        raise InputError(
            f"{path.name}: the zip holds {len(found)} datasets ({', '.join(p.name for p in found[:5])}); "
            "zip one"
        )
    return found[0]


def dbf_encoding(shp: Path) -> str | None:
    """The DBF's text encoding: the .cpg's when present, else UTF-8 / GB18030 from the bytes."""
    cpg = shp.with_suffix(".cpg")
    if not cpg.exists():
        cpg = next((p for p in shp.parent.glob(shp.stem + ".*") if p.suffix.lower() == ".cpg"), cpg)
    if cpg.exists():
        text = cpg.read_text(errors="ignore").strip().lower()
        return {
            "936": "gbk",
            "cp936": "gbk",
            "gbk": "gbk",
            "gb2312": "gbk",
            "gb18030": "gb18030",
            "utf-8": "utf-8",
            "utf8": "utf-8",
            "65001": "utf-8",
        }.get(text, text or None)
    dbf = next((p for p in shp.parent.glob(shp.stem + ".*") if p.suffix.lower() == ".dbf"), None)
    if dbf is None:
        return None
    data = dbf.read_bytes()
    header = int.from_bytes(data[8:10], "little") if len(data) > 10 else 0
    body = data[header:]
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def read_vector_input(
    source: str | Path,
    filename: str | None = None,
    *,
    crs: str | None = None,
    layer: str | None = None,
    area=None,
) -> VectorInput:
    """Read a vector file (see the module doc); ``area`` is the WGS-84 polygon the data must lie in."""
    from gridmap import crsdetect
    from gridmap.loaders import read_vector

    path = Path(source)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    name = filename or path.name
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gridmap-vector-") as tmp:
        dataset = _dataset(path, Path(tmp))
        encoding = dbf_encoding(dataset) if dataset.suffix.lower() == ".shp" else None
        options = {"encoding": encoding} if encoding else {}
        try:
            info = pyogrio.read_info(dataset, layer=layer, **options)
        except Exception as exc:  # GDAL raises several types; the operator needs the message
            raise InputError(
                f"{name}: cannot read as a vector file ({str(exc).strip() or type(exc).__name__})"
            ) from None
        shifted = crs and crs.strip().lower() in ("gcj02", "gcj-02", "bd09", "bd-09")
        if info.get("crs") is None and not crs:
            frame = pyogrio.read_dataframe(dataset, layer=layer, **options)
            coords = shapely.get_coordinates(np.asarray(frame.geometry.values, dtype=object))
            crsdetect.require_crs(
                coords[:, 0], coords[:, 1], area if area is not None else _default_area(), name
            )
        expected = "EPSG:4326" if shifted else crs
        if encoding:
            notes.append(f"attribute table read as {encoding.upper()}")
        frame, report = _read(read_vector, dataset, expected, layer, area, options)
        notes.extend(report.notes)
        dropped = {int(d.row): d.reason for d in report.dropped}
        if report.repaired:
            notes.append(f"{len(report.repaired)} invalid polygons repaired")
        if shifted:
            geoms = np.asarray(frame.geometry.values, dtype=object)

            def unshift(xy):
                lon, lat = crsdetect.to_wgs84(xy[:, 0], xy[:, 1], crs)
                return np.column_stack([lon, lat])

            frame = frame.set_geometry(
                gpd.GeoSeries(shapely.transform(geoms, unshift), index=frame.index, crs="EPSG:4326")
            )
            notes.append(f"converted from {crs} to WGS-84")
        digest = _digest(dataset if dataset.suffix.lower() == ".gdb" else path)
    for column in frame.columns:
        if column != frame.geometry.name:
            frame[column] = frame[column].map(
                lambda v: (
                    ""
                    if v is None or (isinstance(v, float) and np.isnan(v))
                    else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
                )
            )
    if dropped:
        frame = frame.reindex(range(report.rows_read))
        for column in frame.columns:
            if column != frame.geometry.name:
                frame[column] = frame[column].fillna("")
    return VectorInput(
        frame=frame.reset_index(drop=True),
        name=name,
        sha256=digest,
        notes=notes,
        encoding=encoding,
        dropped=dropped,
    )


def _read(read_vector, dataset, expected, layer, area, options):
    region = tuple(area.bounds) if area is not None else None
    return read_vector(
        dataset, expected_crs=expected, layer=layer, region=region, encoding=options.get("encoding")
    )


def _default_area():
    from gridmap import boundaries

    return boundaries.city().geometry.iloc[0]
