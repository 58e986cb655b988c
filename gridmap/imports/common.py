"""Pieces every table kind shares: column mapping, times, declared coordinates, duplicates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.domain import AGENT_ROLE
from gridmap.errors import InputError
from gridmap.imports.framework import REJECTED, REVIEW, resolve_columns
from gridmap.imports.reading import InputTable, formula_reasons

#: coordinate columns shared by every kind with points
COORDINATE_ALIASES: dict[str, tuple[str, ...]] = {
    "raw_lon": ("lon", "lng", "long", "longitude", "x", "经度", "x坐标", "横坐标"),
    "raw_lat": ("lat", "latitude", "y", "纬度", "y坐标", "纵坐标"),
    "raw_crs": ("crs", "坐标系", "坐标类型", "coordsys"),
}

#: 专职 / 兼职 … → the role vocabulary of :mod:`gridmap.coverage.assignments`
ROLE_VALUES = {
    "专职": "full_time",
    "专职网格员": "full_time",
    "full_time": "full_time",
    "fulltime": "full_time",
    "兼职": "part_time",
    "兼职网格员": "part_time",
    "part_time": "part_time",
    "parttime": "part_time",
    "干部": "cadre",
    "村干部": "cadre",
    "社区干部": "cadre",
    "cadre": "cadre",
    "民警": "police",
    "社区民警": "police",
    "police": "police",
    # petition agents (信访代办员) are workers of their own role, posted to a village or a township
    "信访代办员": AGENT_ROLE,
    "代办员": AGENT_ROLE,
    "信访代办": AGENT_ROLE,
    "agent": AGENT_ROLE,
}


@dataclass
class Rows:
    """Per file row: outcome and reason, filled as checks run (first reason wins)."""

    status: np.ndarray
    reason: np.ndarray

    @classmethod
    def start(cls, n: int) -> Rows:
        from gridmap.imports.framework import ACCEPTED

        return cls(np.full(n, ACCEPTED, dtype=object), np.full(n, "", dtype=object))

    def mark(self, mask: np.ndarray, state: str, reason: str | np.ndarray) -> None:
        """Set ``state`` where ``mask`` and the row is not already worse (rejected beats review)."""
        mask = np.asarray(mask, dtype=bool)
        free = self.status != REJECTED if state == REJECTED else self.status == "accepted"
        hit = mask & free
        self.status[hit] = state
        self.reason[hit] = reason[hit] if isinstance(reason, np.ndarray) else reason

    @property
    def live(self) -> np.ndarray:
        return self.status != REJECTED


def map_columns(
    table: InputTable,
    aliases: Mapping[str, tuple[str, ...]],
    mapping: Mapping[str, str] | None,
    required: tuple[str, ...],
    kind: str,
) -> tuple[pd.DataFrame, dict[str, str], Rows]:
    """File → fields (text, stripped) for the columns the file has; rows with a formula in a
    used column rejected; one-line error when a required field has no column."""
    column_map = resolve_columns(list(table.frame.columns), aliases, mapping)
    missing = [f for f in required if f not in column_map.values()]
    if missing:
        names = {f: "/".join(aliases[f][:3]) for f in missing}
        raise InputError(
            f"{table.name}: no column for {', '.join(f'{f} ({names[f]})' for f in missing)} of a {kind} "
            f"file; the file has {', '.join(table.frame.columns)}; use --map field=column"
        )
    fields = pd.DataFrame(
        {f: _stripped_text(table.frame[c]) for c, f in column_map.items()},
        index=pd.RangeIndex(len(table.frame)),
    )
    rows = Rows.start(len(fields))
    for i, message in formula_reasons(table.formula_cells, column_map, len(fields)).items():
        rows.status[i], rows.reason[i] = REJECTED, message
    return fields, column_map, rows


def _stripped_text(column: pd.Series) -> np.ndarray:
    """Cells as stripped text, an object array (a list comprehension: pandas' string methods
    cost ten times more per cell on a million-row file)."""
    return np.array(
        [v.strip() if type(v) is str else ("" if v is None else str(v).strip()) for v in column.tolist()],
        dtype=object,
    )


def parse_times(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """ISO text (``YYYY-MM-DDTHH:MM:SS``, None where empty) and a mask of unreadable cells.

    ISO input takes the fast path; 2024/3/5, 2024年3月5日 and Excel dates are read too.
    """
    text = pd.Series(values, dtype=object).astype(str).str.strip()
    empty = text.eq("") | text.str.lower().isin(["nan", "none", "nat"])
    parsed = pd.to_datetime(text.where(~empty, None), errors="coerce", format="ISO8601")
    retry = parsed.isna() & ~empty
    if retry.any():
        cleaned = (
            text[retry]
            .str.replace(r"[年月/.]", "-", regex=True)
            .str.replace("日", " ", regex=False)
            .str.replace("T", " ", regex=False)
            .str.strip()
        )
        parsed.loc[retry] = pd.to_datetime(cleaned, errors="coerce", format="mixed")
    bad = (~empty & parsed.isna()).to_numpy()
    missing = pd.isna(parsed).to_numpy()
    # numpy formats datetimes in C (strftime is ten times slower); the tz-aware are written as parsed
    if isinstance(parsed.dtype, np.dtype) and parsed.dtype.kind == "M":
        iso = np.datetime_as_string(parsed.to_numpy(dtype="datetime64[s]"), unit="s").astype(object)
    else:
        iso = parsed.dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
    iso[missing] = None
    return iso, bad


def declared_points(
    store, fields: pd.DataFrame, crs_option: str | None, source: str, rows: Rows, area=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Declared coordinates → WGS-84 lon/lat, per row (NaN where none); marks bad rows.

    The coordinate system of a row is its 坐标系 cell, else ``crs_option`` (``--crs``); a
    file with neither is refused by :func:`gridmap.crsdetect.require_crs` (it names the one
    system that fits, or the candidates).  Rows outside the area go to review with the
    reason (swapped lat/lon suggested where that fits).  ``area`` is the area's outline
    (default: read from the store's city/county units).  Returns lon, lat, raw x, raw y.
    """
    from gridmap import crsdetect
    from gridmap.geocode.batch import city_outline
    from gridmap.geocode.checks import FLAG_OK, FLAG_REASONS, check_declared_points
    from gridmap.geocode.transform import canonical_crs

    n = len(fields)
    x = pd.to_numeric(fields.get("raw_lon", pd.Series([""] * n)), errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(fields.get("raw_lat", pd.Series([""] * n)), errors="coerce").to_numpy(dtype=float)
    crs_cells = (
        fields["raw_crs"].to_numpy(dtype=object) if "raw_crs" in fields else np.full(n, "", dtype=object)
    )
    crs = np.where(crs_cells == "", crs_option or "", crs_cells).astype(object)
    if area is None:
        area = city_outline(store.read("admin_units", where={"level": ["city", "county"]}))
    has_point = np.isfinite(x) & np.isfinite(y)
    if has_point.any() and (crs[has_point] == "").any():
        crsdetect.require_crs(x[has_point & (crs == "")], y[has_point & (crs == "")], area, source)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    for code in pd.unique(crs[has_point]):
        sel = has_point & (crs == code)
        try:
            name = canonical_crs(code)
        except InputError:
            name = None
        if name is not None:
            check = check_declared_points(x[sel], y[sel], name, area)
            good = check.flag == FLAG_OK
            idx = np.flatnonzero(sel)
            lon[idx[good]], lat[idx[good]] = check.lon[good], check.lat[good]
            bad = np.zeros(n, dtype=bool)
            bad[idx[~good]] = True
            reasons = np.full(n, "", dtype=object)
            reasons[idx[~good]] = [FLAG_REASONS[f] for f in check.flag[~good]]
            rows.mark(bad, REVIEW, reasons)
            continue
        try:
            wlon, wlat = crsdetect.to_wgs84(x[sel], y[sel], str(code))
        except InputError as exc:
            rows.mark(sel, REJECTED, str(exc))
            continue
        check = check_declared_points(wlon, wlat, "wgs84", area)
        good = check.flag == FLAG_OK
        idx = np.flatnonzero(sel)
        lon[idx[good]], lat[idx[good]] = wlon[good], wlat[good]
        bad = np.zeros(n, dtype=bool)
        bad[idx[~good]] = True
        rows.mark(bad, REVIEW, f"coordinates in {code} lie outside the area")
    return lon, lat, x, y


def drop_repeats(keys: np.ndarray, rows: Rows, what: str, offset: int = 0) -> None:
    """Rows repeating an earlier row's key are rejected ("duplicate …, as row N"); the first stays.
    ``offset``: data rows before these (a chunk of a streamed file)."""
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object))
    first_position = np.full(len(uniques), -1, dtype=np.int64)
    order = np.arange(len(codes))
    # the first row of each key: assign in reverse so the earliest position wins
    first_position[codes[::-1]] = order[::-1]
    first_row = first_position[codes]
    repeated = (first_row != order) & rows.live
    if repeated.any():
        reasons = np.full(len(keys), "", dtype=object)
        reasons[repeated] = [
            f"duplicate {what}: the same as row {int(first_row[i]) + 2 + offset}"
            for i in np.flatnonzero(repeated)
        ]
        rows.mark(repeated, REJECTED, reasons)
