"""CSV and XLSX exports that spreadsheet programs cannot turn into formulas.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
would be evaluated by Excel/WPS/LibreOffice (CSV injection); every such cell — and
column name — is written with a leading apostrophe, the OWASP-recommended neutraliser.
Numbers stay numbers.  CSV is UTF-8 with a BOM so Excel shows Chinese correctly.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.errors import InputError

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# characters an XLSX cell cannot hold (openpyxl refuses them)
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MAX_SHEET_NAME = 31


def neutralize(value):
    """``value`` with a leading apostrophe if it is text that a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are neutralised (see :func:`neutralize`).

    Datetimes become ISO text; missing values stay missing.
    """
    out = frame.copy()
    out.columns = [neutralize(str(c)) for c in out.columns]
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[column] = series.dt.strftime("%Y-%m-%dT%H:%M:%S").astype("object")
            continue
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        values = series.astype("object")
        text = values.map(lambda v: isinstance(v, str))
        risky = text & values.where(text, "").astype(str).str.startswith(FORMULA_PREFIXES)
        out[column] = values.where(~risky, "'" + values.where(risky, "").astype(str))
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as formula-safe UTF-8 (BOM) CSV; returns the path."""
    path = Path(path)
    # quote every text field so an embedded CR/LF cannot split a row; numbers stay bare
    safe_frame(frame).to_csv(path, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_NONNUMERIC)
    return path


def write_xlsx(sheets: Mapping[str, pd.DataFrame] | pd.DataFrame, path: str | Path) -> Path:
    """Write one frame or several named frames (one sheet each) as formula-safe XLSX.

    Every text cell is stored as a string cell (never a formula), after neutralising
    and dropping the control characters XLSX cannot hold.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    if isinstance(sheets, pd.DataFrame):
        sheets = {"data": sheets}
    path = Path(path)
    book = Workbook(write_only=True)
    used: set[str] = set()
    for name, frame in sheets.items():
        title = _sheet_title(str(name), used)
        sheet = book.create_sheet(title)
        safe = safe_frame(frame)
        header = []
        for column in safe.columns:
            cell = WriteOnlyCell(sheet, value=_ILLEGAL_XLSX.sub("", str(column)))
            cell.data_type = "s"
            header.append(cell)
        sheet.append(header)
        for row in safe.itertuples(index=False, name=None):
            sheet.append([_xlsx_cell(sheet, WriteOnlyCell, v) for v in row])
    book.save(path)
    return path


def _sheet_title(name: str, used: set[str]) -> str:
    title = re.sub(r"[\[\]:*?/\\]", "_", name)[:_MAX_SHEET_NAME] or "sheet"
    base, k = title, 1
    while title in used:
        k += 1
        title = f"{base[: _MAX_SHEET_NAME - len(str(k)) - 1]}_{k}"
    used.add(title)
    return title


def _xlsx_cell(sheet, cell_type, value):
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    cell = cell_type(sheet, value=_ILLEGAL_XLSX.sub("", str(value)))
    cell.data_type = "s"  # a string cell, even if it looked like a formula
    return cell


def write_table(frame: pd.DataFrame | Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write by suffix: ``.csv`` (first frame only when given several) or ``.xlsx``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return write_xlsx(frame, path)
    if suffix == ".csv":
        first = frame if isinstance(frame, pd.DataFrame) else next(iter(frame.values()))
        return write_csv(first, path)
    raise InputError(f"{path.name}: export as .csv or .xlsx")
