"""Reading an import file: size check, checksum, table cells as text, formula cells marked.

Formats and encodings are :func:`gridmap.loaders.read_table`'s (CSV UTF-8 ± BOM / GBK /
GB18030, XLSX on any sheet below title rows with merged headers, JSON).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gridmap.errors import InputError
from gridmap.loaders import read_table


@dataclass
class InputTable:
    """A table read from a file: every cell text, ``formula_cells`` row → column names."""

    frame: pd.DataFrame
    name: str
    sha256: str
    formula_cells: dict[int, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    #: a chunk of a streamed file (:mod:`gridmap.imports.streaming`): data rows before it, and
    #: the share of the file read so far
    offset: int = 0
    fraction: float = 1.0


def _max_upload_bytes() -> int:
    from gridmap.config import get_settings

    return int(get_settings().max_upload_bytes)


def read_bytes(
    source: str | Path | bytes, filename: str | None = None, max_bytes: int | None = None
) -> tuple[bytes, str]:
    """The file's bytes and the name to report; InputError when missing, empty or too large."""
    max_bytes = _max_upload_bytes() if max_bytes is None else int(max_bytes)
    if isinstance(source, bytes | bytearray):
        data, name = bytes(source), filename or "upload"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        size = path.stat().st_size
        name = filename or path.name
        if size > max_bytes:
            raise InputError(too_big(name, size, max_bytes))
        data = path.read_bytes()
    if len(data) > max_bytes:
        raise InputError(too_big(name, len(data), max_bytes))
    if not data.strip():
        raise InputError(f"{name}: the file is empty")
    return data, name


def too_big(name: str, size: int, limit: int) -> str:
    return (
        f"{name} is {size / 1e6:.1f} MB, larger than the upload limit of {limit / 1e6:.1f} MB "
        "(setting GRIDMAP_MAX_UPLOAD_BYTES); split the file"
    )


def read_input(
    source: str | Path | bytes,
    filename: str | None = None,
    *,
    sheet: str | int | None = None,
    encoding: str | None = None,
    max_bytes: int | None = None,
) -> InputTable:
    """Read a table file for an import (see the module doc)."""
    data, name = read_bytes(source, filename, max_bytes)
    frame, report = read_table(data, name, max_bytes=len(data) + 1, sheet=sheet, encoding=encoding)
    frame.columns = [str(c).strip() for c in frame.columns]
    columns = list(frame.columns)
    formulas = {
        row: [columns[c] for c in cols if c < len(columns)] for row, cols in report.formula_cells.items()
    }
    return InputTable(
        frame=frame.fillna("").astype(str),
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        formula_cells=formulas,
        notes=list(report.notes),
        encoding=report.encoding,
    )


def formula_reasons(
    formula_cells: Mapping[int, list[str]] | None, column_map: Mapping[str, str], n: int
) -> dict[int, str]:
    """Row → rejection reason for rows with a formula in a column the import uses.

    A formula (``=HYPERLINK(…)``, ``=cmd|…``) is not data: its cached result may be stale or
    absent, and some formulas are attacks on the next person who opens the file.  The
    formula's text is never quoted (cells carry personal data).
    """
    out: dict[int, str] = {}
    for row, columns in (formula_cells or {}).items():
        used = [c for c in columns if c in column_map]
        if used and 0 <= row < n:
            out[row] = (
                f"formula in column {', '.join(used)}: a formula is not a value; "
                "paste the cells as values and import again"
            )
    return out
