"""Reading user files safely, for every importer.

* :func:`read_vector`: any GDAL vector file (GeoPackage, Shapefile/zip, GeoJSON, …) →
  GeoDataFrame in WGS-84 (EPSG:4326, lon/lat degrees), CRS checked, invalid polygons
  repaired, unusable rows dropped, and every change listed in a :class:`LoadReport`.
* :func:`read_table`: CSV / TSV / XLSX / JSON → DataFrame of strings, encoding detected
  (UTF-8 with or without BOM, GB18030/GBK, UTF-16 with BOM).

Nothing is lost silently: each repaired or dropped row appears in the report with its row
number (0-based position in the file) and the reason.  Reports never quote cell values
(files carry personal data).  Bad files raise :class:`~gridmap.errors.InputError` with a
message saying what was wrong.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import math
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from gridmap.crs import WGS84
from gridmap.errors import InputError

#: Tongliao city bounds (lon/lat degrees): minlon, minlat, maxlon, maxlat
TONGLIAO_BOUNDS = (119.2, 42.2, 123.7, 45.7)
#: mainland China, generously (lon/lat degrees): where a CRS-less lon/lat file may come from
CHINA_BOUNDS = (73.0, 18.0, 135.5, 54.0)
KM_PER_DEGREE = 111.32

_POLYGON, _MULTIPOLYGON = int(shapely.GeometryType.POLYGON), int(shapely.GeometryType.MULTIPOLYGON)
_COLLECTIONS = {
    int(shapely.GeometryType.MULTIPOINT),
    int(shapely.GeometryType.MULTILINESTRING),
    _MULTIPOLYGON,
    int(shapely.GeometryType.GEOMETRYCOLLECTION),
}


@dataclass(frozen=True)
class RowIssue:
    """One row that was changed or dropped: ``row`` is its 0-based position in the file."""

    row: int
    reason: str


@dataclass
class LoadReport:
    """What a loader did to a file, row by row (no cell values: files carry personal data)."""

    source: str = ""
    rows_read: int = 0
    rows_kept: int = 0
    crs: str | None = None  # the file's CRS as found (None: none declared)
    encoding: str | None = None  # tables: the detected text encoding
    sheet: str | None = None  # workbooks: the sheet read
    #: workbooks: data row (0-based) → column positions holding a formula (never read as a value)
    formula_cells: dict[int, list[int]] = field(default_factory=dict)
    repaired: list[RowIssue] = field(default_factory=list)
    dropped: list[RowIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One paragraph for an operator: counts, then each repair/drop (first ten), then notes."""
        lines = [f"{self.source or 'input'}: {self.rows_kept} of {self.rows_read} rows kept"]
        for label, issues in (("repaired", self.repaired), ("dropped", self.dropped)):
            if issues:
                shown = "; ".join(f"row {i.row}: {i.reason}" for i in issues[:10])
                more = f"; … {len(issues) - 10} more" if len(issues) > 10 else ""
                lines.append(f"{len(issues)} {label} ({shown}{more})")
        lines.extend(self.notes)
        return ". ".join(lines) + "."


# --- vector files ---------------------------------------------------------------------------


#: how every CSV is read: every cell as the text the office typed ("007" stays "007", "NA" stays
#: "NA"), blank lines skipped, and no header (taken by the reader, so repeated names stay visible)
CSV_AS_TEXT = {
    "dtype": str,
    "keep_default_na": False,
    "na_filter": False,
    "skip_blank_lines": True,
    "quoting": csv.QUOTE_MINIMAL,
    "header": None,
}


def _region_with_margin(
    bounds: tuple[float, float, float, float], margin_km: float
) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = bounds
    dlat = margin_km / KM_PER_DEGREE
    dlon = margin_km / (KM_PER_DEGREE * math.cos(math.radians((miny + maxy) / 2)))
    return minx - dlon, miny - dlat, maxx + dlon, maxy + dlat


def _within(bounds: Iterable[float], box: tuple[float, float, float, float]) -> bool:
    minx, miny, maxx, maxy = bounds
    return box[0] <= minx and maxx <= box[2] and box[1] <= miny and maxy <= box[3]


def _intersects(bounds: Iterable[float], box: tuple[float, float, float, float]) -> bool:
    minx, miny, maxx, maxy = bounds
    return minx <= box[2] and maxx >= box[0] and miny <= box[3] and maxy >= box[1]


def _fmt(bounds: Iterable[float]) -> str:
    minx, miny, maxx, maxy = bounds
    return f"x {minx:.6g}…{maxx:.6g}, y {miny:.6g}…{maxy:.6g}"


def _swapped(bounds: Iterable[float]) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = bounds
    return miny, minx, maxy, maxx


def _default_margin_km() -> float:
    from gridmap.config import get_settings

    return float(get_settings().city_margin_km)


def _polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every non-empty Polygon inside ``geoms`` (collections flattened) with its row index."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    for _ in range(4):  # GeometryCollections may nest MultiPolygons
        nested = np.isin(shapely.get_type_id(parts), list(_COLLECTIONS))
        if not nested.any():
            break
        inner, inner_index = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], inner])
        index = np.concatenate([index[~nested], index[nested][inner_index]])
    keep = (shapely.get_type_id(parts) == _POLYGON) & (shapely.area(parts) > 0)
    return parts[keep], index[keep]


def _repair_polygons(
    geoms: np.ndarray, rows: np.ndarray, report: LoadReport
) -> tuple[np.ndarray, np.ndarray]:
    """make_valid on invalid (Multi)Polygons keeping only their polygonal parts.

    Returns (geometries, keep-mask); repairs and rows left without any polygon are reported.
    """
    keep = np.ones(len(geoms), dtype=bool)
    polygonal = np.isin(shapely.get_type_id(geoms), [_POLYGON, _MULTIPOLYGON])
    invalid = polygonal & ~shapely.is_valid(geoms)
    if not invalid.any():
        return geoms, keep
    positions = np.flatnonzero(invalid)
    reasons = shapely.is_valid_reason(geoms[positions])
    parts, owner = _polygon_parts(shapely.make_valid(geoms[positions]))
    fixed = np.full(len(positions), None, dtype=object)
    if len(parts):
        shapely.multipolygons(parts, indices=owner, out=fixed)
    single = ~shapely.is_missing(fixed) & (shapely.get_num_geometries(fixed) == 1)
    fixed[single] = shapely.get_geometry(fixed[single], 0)  # one part: a plain Polygon again
    geoms = geoms.copy()
    geoms[positions] = fixed
    for position, row, reason, result in zip(positions, rows[positions], reasons, fixed, strict=True):
        if result is None:
            keep[position] = False
            report.dropped.append(
                RowIssue(int(row), f"invalid polygon ({reason}) with no area left after repair")
            )
        else:
            report.repaired.append(RowIssue(int(row), str(reason)))
    return geoms, keep


def read_vector(
    path: str | Path,
    expected_crs: Any = None,
    *,
    layer: str | int | None = None,
    region: tuple[float, float, float, float] | None = TONGLIAO_BOUNDS,
    margin_km: float | None = None,
    encoding: str | None = None,
) -> tuple[gpd.GeoDataFrame, LoadReport]:
    """Read a vector file into EPSG:4326, checking and repairing it on the way.

    Parameters
    ----------
    path
        any file GDAL reads (GeoPackage, Shapefile or zipped Shapefile, GeoJSON, KML, …).
    expected_crs
        the CRS to assume when the file declares none (anything pyproj accepts).  Without it,
        a CRS-less file is accepted only if its coordinates look like lon/lat in or near
        China, and is then taken as EPSG:4326 (reported).
    layer
        layer name or index for multi-layer files (default: the first, reported).
    region
        (minlon, minlat, maxlon, maxlat) in degrees that the data must lie in, widened by
        ``margin_km`` (default ``settings.city_margin_km``); default Tongliao.  ``None`` skips
        the check.  A file entirely outside → InputError (with a hint when lat/lon look
        swapped); single rows outside are dropped and reported.
    encoding
        the attribute encoding (Shapefile DBF: ``gbk``, ``gb18030``, ``utf-8``); default GDAL's
        (the ``.cpg``, else ISO-8859-1).

    Returns
    -------
    (GeoDataFrame, LoadReport)
        geometry column ``geometry`` in EPSG:4326, 2-D; the index is each row's 0-based
        position in the file (dropped rows are missing from it).  Invalid polygons are
        repaired with ``shapely.make_valid`` keeping polygonal parts (``report.repaired``,
        reason from ``shapely.is_valid_reason``); rows with no/empty geometry, or nothing
        polygonal left after repair, or outside the region, are in ``report.dropped``.
    """
    path = Path(path)
    report = LoadReport(source=path.name)
    if not path.exists():
        raise InputError(f"{path.name}: file not found")
    try:
        layers = pyogrio.list_layers(path)
        if layer is None and len(layers) > 1:
            report.notes.append(f"file has {len(layers)} layers; read the first, {layers[0][0]!r}")
        frame = pyogrio.read_dataframe(path, layer=layer, **({"encoding": encoding} if encoding else {}))
    except Exception as exc:  # GDAL raises several types; the operator needs the message
        raise InputError(
            f"{path.name}: cannot read as a vector file ({str(exc).strip() or type(exc).__name__})"
        ) from exc
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise InputError(f"{path.name}: the layer has no geometry column")
    frame = frame.reset_index(drop=True)
    if frame.geometry.name != "geometry":
        frame = frame.rename_geometry("geometry")
    report.rows_read = len(frame)
    report.crs = frame.crs.to_string() if frame.crs is not None else None
    geoms = np.asarray(frame.geometry.values, dtype=object)
    rows = np.arange(len(frame))

    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    for row in np.flatnonzero(missing):
        report.dropped.append(RowIssue(int(row), "no geometry"))
    for row in np.flatnonzero(empty):
        report.dropped.append(RowIssue(int(row), "empty geometry"))
    present = ~(missing | empty)
    frame, geoms, rows = frame.iloc[present], geoms[present], rows[present]
    if not len(geoms):
        raise InputError(f"{path.name}: no rows with a geometry ({report.rows_read} rows read)")
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
        report.notes.append("Z coordinates dropped (stored geometries are 2-D)")
    if not np.isfinite(shapely.bounds(geoms)).all():
        bad = np.flatnonzero(~np.isfinite(shapely.bounds(geoms)).all(axis=1))
        raise InputError(f"{path.name}: rows {[int(rows[b]) for b in bad[:5]]} have NaN/infinite coordinates")

    geoms = _to_wgs84(geoms, frame.crs, expected_crs, path.name, report)

    if region is not None:
        margin = _default_margin_km() if margin_km is None else margin_km
        area = _region_with_margin(region, margin)
        bounds = shapely.total_bounds(geoms)
        if not _intersects(bounds, area):
            if _intersects(_swapped(bounds), area):
                raise InputError(
                    f"{path.name}: coordinates ({_fmt(bounds)}) lie outside the Tongliao region but would fit it "
                    "with x and y exchanged: latitude and longitude look swapped"
                )
            raise InputError(
                f"{path.name}: coordinates ({_fmt(bounds)} in EPSG:4326) are not in the Tongliao region "
                f"({region[0]}–{region[2]}°E, {region[1]}–{region[3]}°N, ±{margin:g} km); wrong CRS declared?"
            )
        outside = ~shapely.intersects(geoms, shapely.box(*area))
        for position in np.flatnonzero(outside):
            report.dropped.append(RowIssue(int(rows[position]), f"outside the region (±{margin:g} km)"))
        frame, geoms, rows = frame.iloc[~outside], geoms[~outside], rows[~outside]

    geoms, keep = _repair_polygons(geoms, rows, report)
    frame, geoms, rows = frame.iloc[keep], geoms[keep], rows[keep]
    out = gpd.GeoDataFrame(
        pd.DataFrame(frame.drop(columns=frame.geometry.name)).set_axis(pd.Index(rows, name="row")),
        geometry=gpd.GeoSeries(geoms, index=pd.Index(rows, name="row"), crs=WGS84),
        crs=WGS84,
    )
    report.rows_kept = len(out)
    report.dropped.sort(key=lambda issue: issue.row)
    return out, report


def _to_wgs84(geoms: np.ndarray, crs: Any, expected_crs: Any, name: str, report: LoadReport) -> np.ndarray:
    bounds = shapely.total_bounds(geoms)
    if crs is None:
        if expected_crs is not None:
            crs = pyproj.CRS.from_user_input(expected_crs)
            report.notes.append(f"no CRS in the file; used the expected {crs.to_string()}")
        elif _within(bounds, CHINA_BOUNDS):
            report.notes.append(
                "no CRS in the file; coordinates look like lon/lat in China, assumed EPSG:4326"
            )
            return geoms
        elif _within(_swapped(bounds), CHINA_BOUNDS):
            raise InputError(
                f"{name}: no CRS, and the coordinates ({_fmt(bounds)}) look like lat/lon in China with latitude "
                "and longitude swapped; fix the column order"
            )
        else:
            raise InputError(
                f"{name}: no CRS declared and the coordinates ({_fmt(bounds)}) are not lon/lat degrees in China; "
                "add a .prj / CRS to the file or say which CRS it is in"
            )
    crs = pyproj.CRS.from_user_input(crs)
    if expected_crs is not None and not crs.equals(
        pyproj.CRS.from_user_input(expected_crs), ignore_axis_order=True
    ):
        report.notes.append(
            f"file declares {crs.to_string()}, not the expected {expected_crs}; used the file's CRS"
        )
    if crs.is_geographic and not _within(bounds, (-180.0, -90.0, 180.0, 90.0)):
        hint = (
            "latitude and longitude look swapped"
            if _within(_swapped(bounds), (-180.0, -90.0, 180.0, 90.0))
            else "the values look like metres: the declared CRS is probably wrong"
        )
        raise InputError(
            f"{name}: declares {crs.to_string()} (degrees) but coordinates are {_fmt(bounds)}; {hint}"
        )
    if crs.equals(pyproj.CRS.from_epsg(4326), ignore_axis_order=True):
        return geoms
    transformer = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)
    out = shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    if not np.isfinite(shapely.bounds(out)).all():
        raise InputError(f"{name}: coordinates ({_fmt(bounds)}) are outside the area of {crs.to_string()}")
    report.notes.append(f"reprojected from {crs.to_string()} to EPSG:4326")
    return out


# --- tables ---------------------------------------------------------------------------------

_TEXT_KINDS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".json": "json", ".xlsx": "xlsx", ".xlsm": "xlsx"}
_DELIMITERS = (",", "\t", ";", "|")


def decode_text(data: bytes, name: str, report: LoadReport) -> str:
    """Bytes → text: UTF-8 (BOM stripped), UTF-16 with BOM, else GB18030 (a superset of GBK).

    InputError for binary data (NUL bytes) or bytes valid in none of these, naming the offset.
    """
    if data.startswith(codecs.BOM_UTF8):
        report.encoding = "utf-8-sig"
        report.notes.append("UTF-8 byte-order mark stripped")
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        except UnicodeDecodeError as exc:
            offset = exc.start + len(codecs.BOM_UTF8)
            raise InputError(
                f"{name}: starts with a UTF-8 BOM but byte 0x{data[offset]:02X} at offset {offset} is not UTF-8"
            ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        report.encoding = "utf-16"
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{name}: starts with a UTF-16 BOM but is not valid UTF-16 (offset {exc.start})"
            ) from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(
            f"{name}: binary data (NUL byte at offset {nul}); expected a text CSV/JSON, or an .xlsx workbook"
        )
    try:
        text = data.decode("utf-8")
        report.encoding = "utf-8"
        return text
    except UnicodeDecodeError as utf8_error:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as gb_error:
            raise InputError(
                f"{name}: undecodable text: byte 0x{data[utf8_error.start]:02X} at offset {utf8_error.start} is not "
                f"UTF-8, and byte 0x{data[gb_error.start]:02X} at offset {gb_error.start} is not GB18030/GBK; "
                "save the file as UTF-8"
            ) from None
    try:
        data.decode("gbk")
        report.encoding = "gbk"
    except UnicodeDecodeError:
        report.encoding = "gb18030"
    report.notes.append(f"decoded as {report.encoding.upper()} (not UTF-8)")
    return text


def _text_kind(data: bytes, filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix == ".xls":
        raise InputError(
            f"{filename}: old Excel .xls files are not supported; save it as .xlsx or CSV (UTF-8)"
        )
    if suffix in _TEXT_KINDS:
        return _TEXT_KINDS[suffix]
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    head = data.lstrip(codecs.BOM_UTF8).lstrip()[:1]
    return "json" if head in (b"[", b"{") else "csv"


def _clean_columns(frame: pd.DataFrame, report: LoadReport) -> pd.DataFrame:
    names = [str(c).replace("\ufeff", "").strip() for c in frame.columns]
    blank = [i for i, n in enumerate(names) if not n or n.startswith("Unnamed: ")]
    for i in blank:
        names[i] = f"column_{i + 1}"
    if blank:
        report.notes.append(f"{len(blank)} columns without a header named column_N")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            seen[name] += 1
            names[i] = f"{name}_{seen[name]}"
            report.notes.append(f"duplicate column {name!r} renamed {names[i]!r}")
        else:
            seen[name] = 1
    frame.columns = names
    return frame


def _read_csv(text: str, name: str, report: LoadReport) -> pd.DataFrame:
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    delimiter = max(_DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","
    if delimiter != ",":
        report.notes.append(f"columns separated by {delimiter!r}")
    try:
        # header=None: the header row is taken below, so repeated names are not silently mangled to "a.1"
        raw = pd.read_csv(io.StringIO(text), sep=delimiter, **CSV_AS_TEXT)
    except pd.errors.EmptyDataError:
        raise InputError(f"{name}: no header row (the file is empty or blank)") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{name}: malformed CSV ({str(exc).strip()})") from None
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = raw.iloc[0].tolist()
    return frame


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:  # Excel stores 13800138000 as 13800138000.0
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return (
            value.isoformat(sep="T", timespec="seconds")
            if value.time() != dt.time(0)
            else value.date().isoformat()
        )
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


#: a header row has at least this share of the table's width filled
_HEADER_FILL = 0.5
#: rows looked at for the header (title rows above it are skipped)
_HEADER_SEARCH_ROWS = 15


def _sheet_rows(sheet, values_sheet=None) -> tuple[list[list[str]], set[tuple[int, int]]]:
    """All rows of ``sheet`` as text, merged ranges filled with their top-left value, and the
    (row, column) positions (0-based) of formula cells (whose text is blanked here)."""
    rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    for merged in getattr(sheet, "merged_cells", None) and sheet.merged_cells.ranges or ():
        r0, c0, r1, c1 = merged.min_row - 1, merged.min_col - 1, merged.max_row - 1, merged.max_col - 1
        if r0 >= len(rows):
            continue
        value = rows[r0][c0] if c0 < len(rows[r0]) else ""
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            if len(rows[r]) <= c1:
                rows[r] += [""] * (c1 + 1 - len(rows[r]))
            for c in range(c0, c1 + 1):
                rows[r][c] = value
    formulas: set[tuple[int, int]] = set()
    if values_sheet is not None:
        for r, row in enumerate(values_sheet.iter_rows()):
            for c, cell in enumerate(row):
                if getattr(cell, "data_type", None) == "f":
                    formulas.add((r, c))
    return rows, formulas


def _header_row(rows: list[list[str]]) -> int:
    """Index of the header: the first row (of the first few) filled over half the table's width
    — a title row above it (one merged cell, a date line) is skipped."""
    width = max((sum(1 for c in row if c != "") for row in rows[:200]), default=0)
    for i, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        filled = sum(1 for c in row if c != "")
        if filled >= max(2, _HEADER_FILL * width) and len({c for c in row if c != ""}) >= max(2, filled // 2):
            return i
    return 0


def _read_xlsx(data: bytes, name: str, report: LoadReport, sheet: str | int | None = None) -> pd.DataFrame:
    """One sheet of a workbook as text cells.

    ``sheet`` (name or 0-based index) picks the sheet; without it the sheet with the most
    filled cells is read (reported when there are several).  Title rows above the header
    are skipped; merged header cells give their text to every column they span, and a
    two-row header (a merged group over sub-columns) joins to "group sub".  Formula cells
    are never read as values: their positions go to ``report.formula_cells`` and their text
    is blank (the importer rejects those rows with the reason).
    """
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=False, data_only=True)
        formulas_book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(
            f"{name}: not a readable .xlsx workbook ({str(exc).strip() or type(exc).__name__})"
        ) from None
    try:
        chosen = choose_sheet(workbook.worksheets, sheet, name, report.notes)
        rows, formulas = _sheet_rows(chosen, formulas_book[chosen.title])
    finally:
        workbook.close()
        formulas_book.close()
    keep_rows = [i for i, row in enumerate(rows) if any(cell != "" for cell in row)]
    if not keep_rows:
        raise InputError(f"{name}: sheet {chosen.title!r} is empty")
    position = {old: new for new, old in enumerate(keep_rows)}
    rows = [rows[i] for i in keep_rows]
    formulas = {(position[r], c) for r, c in formulas if r in position}
    header, first_body = xlsx_header(rows, formulas, report)
    body = rows[first_body:]
    width = max(len(header), *(len(r) for r in body)) if body else len(header)
    while (
        width > 0
        and header[width - 1 : width] == [""]
        and all(len(r) < width or r[width - 1] == "" for r in body)
    ):
        width -= 1  # trailing columns empty in every row
    header = (header + [""] * width)[:width]
    body = [(r + [""] * width)[:width] for r in body]
    report.encoding = "xlsx"
    report.sheet = chosen.title
    for r, c in sorted(formulas):
        if r >= first_body and c < width:
            body[r - first_body][c] = ""
            report.formula_cells.setdefault(r - first_body, []).append(c)
    return pd.DataFrame(body, columns=header, dtype=str)


def xlsx_header(
    rows: list[list[str]], formulas: set[tuple[int, int]], report: LoadReport
) -> tuple[list[str], int]:
    """The header of a sheet's non-empty ``rows`` (text, merged cells filled) and the index of
    its first data row: title rows above it are skipped, a two-row header (a merged group
    over sub-columns) is joined to "group sub"."""
    head = _header_row(rows)
    if head:
        report.notes.append(f"{head} title row(s) above the header skipped")
    header = list(rows[head])
    first_body = head + 1
    if first_body < len(rows):
        below = rows[first_body]
        repeated = [c for c in range(1, len(header)) if header[c] != "" and header[c] == header[c - 1]]
        if (
            repeated
            and all(cell != "" for cell in below[: len(header)])
            and not any((first_body, c) in formulas for c in range(len(below)))
            and not any(_looks_numeric(cell) for cell in below[: len(header)])
        ):
            # a two-row header: the merged group above, the sub-columns below
            header = [
                (f"{top} {sub}".strip() if top != sub else top) if sub else top
                for top, sub in zip(header, (below + [""] * len(header))[: len(header)], strict=True)
            ]
            first_body += 1
            report.notes.append("two-row header with merged cells joined")
    return header, first_body


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _read_json(text: str, name: str, report: LoadReport) -> pd.DataFrame:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
        ) from None
    if isinstance(document, dict):
        lists = {k: v for k, v in document.items() if isinstance(v, list)}
        if (
            document
            and len(lists) == len(document)
            and len({len(v) for v in lists.values()}) == 1
            and not any(isinstance(x, dict) for v in lists.values() for x in v[:1])
        ):
            return pd.DataFrame(
                {k: [_json_text(x) for x in v] for k, v in lists.items()}, dtype=str
            )  # columns
        records = [k for k, v in lists.items() if v and all(isinstance(x, dict) for x in v)]
        if len(records) != 1:
            raise InputError(f"{name}: JSON object without one list of records; expected [{{…}}, …]")
        report.notes.append(f"records read from key {records[0]!r}")
        document = document[records[0]]
    if not isinstance(document, list) or not document:
        raise InputError(f"{name}: JSON must be a non-empty array of records")
    if all(isinstance(x, dict) for x in document):
        columns = list(dict.fromkeys(k for record in document for k in record))
        body = [[_json_text(record.get(c)) for c in columns] for record in document]
        return pd.DataFrame(body, columns=[str(c) for c in columns], dtype=str)
    if all(isinstance(x, list) for x in document):
        header = [_json_text(c) for c in document[0]]
        body = [([_json_text(v) for v in row] + [""] * len(header))[: len(header)] for row in document[1:]]
        return pd.DataFrame(body, columns=header, dtype=str)
    raise InputError(f"{name}: JSON array mixes records and other values; expected [{{…}}, …]")


def read_table(
    path_or_bytes: str | Path | bytes,
    filename: str | None = None,
    *,
    max_bytes: int | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
) -> tuple[pd.DataFrame, LoadReport]:
    """Read a CSV/TSV, XLSX or JSON table with every column as strings.

    Parameters
    ----------
    path_or_bytes
        a file path, or the file's bytes (an upload).
    filename
        the name to report and whose extension picks the format (.csv/.txt/.tsv, .xlsx/.xlsm,
        .json); without an extension the content decides.
    max_bytes
        refuse larger inputs (default ``settings.max_upload_bytes``).
    sheet
        workbooks: the sheet (name or 0-based index); default the one with the most data.
    encoding
        text files: the encoding to use instead of detecting it (``gbk``, ``gb18030``, ``utf-8``…).

    Returns
    -------
    (DataFrame, LoadReport)
        columns named as in the header (trimmed; blank → ``column_N``, repeats → ``name_2``),
        values as ``str`` with empty cells as ``""`` (nothing converted); ``report.encoding``
        is ``utf-8``, ``utf-8-sig``, ``gbk``, ``gb18030``, ``utf-16`` or ``xlsx``.
    """
    if isinstance(path_or_bytes, bytes | bytearray):
        data = bytes(path_or_bytes)
        name = filename or "upload"
    else:
        path = Path(path_or_bytes)
        name = filename or path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{name}: cannot read the file ({exc.strerror or exc})") from None
    if max_bytes is None:
        from gridmap.config import get_settings

        max_bytes = get_settings().max_upload_bytes
    if len(data) > max_bytes:
        raise InputError(f"{name}: {len(data)} bytes is more than the {max_bytes}-byte limit")
    report = LoadReport(source=name)
    if not data.strip():
        raise InputError(f"{name}: the file is empty")
    kind = _text_kind(data, name)
    if kind == "xlsx":
        if not data.startswith(b"PK\x03\x04"):
            raise InputError(f"{name}: not an .xlsx workbook (an .xlsx file is a zip archive)")
        frame = _read_xlsx(data, name, report, sheet=sheet)
    else:
        if encoding:
            try:
                text = data.decode(encoding)
            except LookupError:
                raise InputError(
                    f"{name}: unknown encoding {encoding!r} (use utf-8, gbk or gb18030)"
                ) from None
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{name}: byte offset {exc.start} is not {encoding}; drop --encoding to detect it"
                ) from None
            text = text.lstrip("\ufeff")
            report.encoding = encoding
        else:
            text = decode_text(data, name, report)
        frame = _read_json(text, name, report) if kind == "json" else _read_csv(text, name, report)
    frame = _clean_columns(frame.reset_index(drop=True), report)
    frame = frame.fillna("").astype("str")  # short CSV rows: missing cells are empty strings
    report.rows_read = report.rows_kept = len(frame)
    return frame, report


def choose_sheet(sheets: list, sheet: str | int | None, name: str, notes: list[str]):
    """The worksheet to read: the one ``sheet`` names, else the one with the most filled cells
    (a note in ``notes`` says so when there are several)."""
    if sheet is not None:
        return named_sheet(sheets, sheet, name)
    if len(sheets) == 1:
        return sheets[0]
    sizes = [
        sum(1 for row in s.iter_rows(values_only=True) for v in row if v not in (None, "")) for s in sheets
    ]
    chosen = sheets[int(np.argmax(sizes))]
    notes.append(
        f"workbook has {len(sheets)} sheets; read {chosen.title!r}, the one with the most data "
        "(--sheet picks another)"
    )
    return chosen


def named_sheet(sheets: list, sheet: str | int, name: str):
    """The worksheet ``sheet`` names (its title, or its 0-based position) in ``sheets``; a
    one-line :class:`InputError` that lists the sheets when there is none."""
    names = [s.title for s in sheets]
    if isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit() and sheet not in names):
        index = int(sheet)
        if not 0 <= index < len(sheets):
            raise InputError(f"{name}: no sheet {index} (sheets: {', '.join(names)})")
        return sheets[index]
    if sheet in names:
        return sheets[names.index(sheet)]
    raise InputError(f"{name}: no sheet {sheet!r} (sheets: {', '.join(names)}); pass --sheet NAME")
