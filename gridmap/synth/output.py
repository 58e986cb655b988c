"""Writing a :class:`~gridmap.synth.city.SynthCity` to disk, with a reproducible manifest.

``out_dir/city.gpkg`` holds the layers admin_units, addresses, cases, workers,
patrols, petition_items and petition_visits (EPSG:4326, written with pyogrio); ``case_truth.csv`` and ``truth.json`` the
ground truth; ``manifest.json`` the seed, scale, row counts, a SHA-256 of every file
and a SHA-256 of every frame's *data* (CSV text of the attributes plus WKB of the
geometry), which is what reproducibility checks compare.

The GeoPackage is made byte-reproducible too: GDAL's ``OGR_CURRENT_DATE`` pins the
timestamps the driver would otherwise take from the clock.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridmap.errors import InputError
from gridmap.synth.city import SynthCity

LAYERS = ("admin_units", "addresses", "cases", "workers", "patrols", "petition_items", "petition_visits")
GEOMETRY_TYPES = {"admin_units": "MultiPolygon", "addresses": "Point", "cases": "Point", "patrols": "Point"}
#: fixed GeoPackage timestamp so the same city gives the same bytes
FIXED_TIMESTAMP = "2025-01-01T00:00:00.000Z"


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's data, column by column in order.

    Each column contributes its name, and its values: numbers as little-endian float64
    bytes (NaN for missing), text as UTF-8 with a unit separator (missing → ``\x00``),
    geometry as WKB.  Independent of file format, GDAL version and timestamps.
    """
    digest = hashlib.sha256()
    for name in frame.columns:
        col = frame[name]
        digest.update(f"\x1e{name}\x1e".encode())
        if name == "geometry" or isinstance(col.dtype, gpd.array.GeometryDtype):
            wkb = shapely.to_wkb(np.asarray(col.values), output_dimension=2)
            digest.update(b"\x1f".join(b"\x00" if w is None else w for w in wkb.tolist()))
        elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            digest.update(col.astype("float64").to_numpy(na_value=np.nan).astype("<f8").tobytes())
        else:
            values = [
                "\x00" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                for v in col.tolist()
            ]
            digest.update("\x1f".join(values).encode("utf-8"))
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _dump_json(obj: dict, path: Path) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1) + "\n", encoding="utf-8")


def write_city(city: SynthCity, out_dir: str | Path) -> Path:
    """Write ``city`` to ``out_dir`` (created if needed; existing files are replaced).

    Returns the path of ``manifest.json``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    gpkg = out / "city.gpkg"
    for stale in (gpkg, out / "city.gpkg-journal", out / "city.gpkg-wal", out / "city.gpkg-shm"):
        stale.unlink(missing_ok=True)

    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIMESTAMP})
    try:
        for name in LAYERS:
            frame = getattr(city, name)
            kwargs = {}
            if name in GEOMETRY_TYPES:
                kwargs["geometry_type"] = GEOMETRY_TYPES[name]
            pyogrio.write_dataframe(frame, gpkg, layer=name, driver="GPKG", append=gpkg.exists(), **kwargs)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})

    city.case_truth.to_csv(out / "case_truth.csv", index=False, lineterminator="\n")
    _dump_json(city.truth, out / "truth.json")

    manifest = {
        "seed": city.seed,
        "scale": city.scale,
        "generator": "gridmap.synth",
        "crs": "EPSG:4326",
        "counts": {name: int(len(getattr(city, name))) for name in (*LAYERS, "case_truth")},
        "data_sha256": {name: frame_digest(getattr(city, name)) for name in (*LAYERS, "case_truth")},
        "files_sha256": {p.name: file_digest(p) for p in (gpkg, out / "case_truth.csv", out / "truth.json")},
    }
    manifest["data_sha256"]["truth"] = hashlib.sha256(
        json.dumps(city.truth, ensure_ascii=False, sort_keys=True).encode("utf-8")
    ).hexdigest()
    path = out / "manifest.json"
    _dump_json(manifest, path)
    return path
