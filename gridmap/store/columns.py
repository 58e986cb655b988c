"""Column values between pandas and SQL, identical for every backend.

Each portable SQL type has one pandas dtype family, on the way in and on the way out:

=========  ==================  ==========================================
SQL type   pandas dtype        NULL comes back as
=========  ==================  ==========================================
TEXT       ``str``             ``NaN`` (``pd.isna`` is True)
INTEGER    ``Int64``           ``pd.NA``
REAL       ``float64``         ``NaN``
=========  ==================  ==========================================

Datetime columns written to TEXT become ISO local time ``YYYY-MM-DDTHH:MM:SS``
(time-zone aware values are converted to Asia/Shanghai first).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gridmap.domain import LOCAL_TZ_NAME as LOCAL_TZ
from gridmap.store.filters import StoreError

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
RESULT_DTYPES = {"TEXT": "str", "INTEGER": "Int64", "REAL": "float64"}


def _bad_rows(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(r) for r in rows[:5])
    return f"rows {shown}{' …' if len(rows) > 5 else ''}"


def _to_text(series: pd.Series, where: str) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(series):
        out = series.dt.strftime(TIMESTAMP_FORMAT).astype("str")
    elif series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty"):
        # mixed objects (datetimes among strings, numbers, …): each value as coerce_scalar would store it
        out = pd.Series([coerce_scalar(v, "TEXT", where) for v in series], dtype="str")
    else:
        out = series.astype("str")
    # PostgreSQL cannot store NUL in text; refuse it on every backend so both behave alike.
    # One join is far cheaper than a per-row search; rows are located only when there is one.
    if "\x00" in "".join(out.dropna().tolist()):
        nul = out.str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)
        raise StoreError(f"{where}: text contains NUL characters ({_bad_rows(nul)})")
    return out


def _to_number(series: pd.Series, where: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype("Int64")
    if pd.api.types.is_numeric_dtype(series):
        return series
    text = series.astype("str")
    blank = text.isna() | (text.str.strip() == "")
    numeric = pd.to_numeric(text.where(~blank), errors="coerce")
    bad = (numeric.isna() & ~blank).to_numpy(dtype=bool)
    if bad.any():
        raise StoreError(f"{where}: values are not numbers ({_bad_rows(bad)})")
    return numeric


def coerce_column(series: pd.Series, sql_type: str, where: str) -> pd.Series:
    """``series`` converted to the dtype of ``sql_type`` (see module docstring).

    ``where`` names the column in error messages (values are never quoted: they may be personal).
    Raises :class:`StoreError` when a value cannot be converted.
    """
    series = series.reset_index(drop=True)
    if sql_type == "TEXT":
        return _to_text(series, where)
    numeric = _to_number(series, where)
    if sql_type == "REAL":
        return numeric.astype("float64")
    if sql_type == "INTEGER":
        try:
            return numeric.astype("Int64")
        except (TypeError, ValueError):
            values = numeric.astype("float64").to_numpy()
            bad = ~np.isnan(values) & (values != np.round(values))
            raise StoreError(f"{where}: INTEGER column got fractional values ({_bad_rows(bad)})") from None
    raise StoreError(f"{where}: unsupported column type {sql_type!r}")


def is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def coerce_scalar(value: Any, sql_type: str, where: str) -> Any:
    """One value (a filter operand or an ``update`` value) as the Python type bound for ``sql_type``."""
    if is_null(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if sql_type == "TEXT":
        if isinstance(value, pd.Timestamp | dt.datetime):
            ts = pd.Timestamp(value)
            if ts.tzinfo is not None:
                ts = ts.tz_convert(LOCAL_TZ).tz_localize(None)
            return ts.strftime(TIMESTAMP_FORMAT)
        if isinstance(value, dt.date):
            return value.isoformat()
        text = str(value)
        if "\x00" in text:
            raise StoreError(f"{where}: text contains NUL characters")
        return text
    try:
        number = float(value) if isinstance(value, str) else value
        if sql_type == "REAL":
            return float(number)
        if sql_type == "INTEGER":
            if isinstance(number, bool):
                return int(number)
            if isinstance(number, float):
                if not number.is_integer():
                    raise StoreError(f"{where}: INTEGER column got a fractional value")
                return int(number)
            return int(number)
    except (TypeError, ValueError):
        raise StoreError(f"{where}: value is not a number") from None
    raise StoreError(f"{where}: unsupported column type {sql_type!r}")


def python_values(series: pd.Series) -> list[Any]:
    """Plain Python values with ``None`` for NULL (what DB drivers bind)."""
    return series.to_numpy(dtype=object, na_value=None).tolist()


def frame_from_columns(
    columns: Sequence[str], types: Sequence[str], values: Sequence[Sequence[Any]]
) -> pd.DataFrame:
    """A DataFrame of the canonical dtypes from column-wise Python values (``None`` = NULL)."""
    data = {}
    for name, sql_type, column in zip(columns, types, values, strict=True):
        if sql_type == "INTEGER":
            data[name] = pd.array(list(column), dtype="Int64")
        elif sql_type == "REAL":
            data[name] = pd.array(np.array(column, dtype="float64"), dtype="float64")
        else:
            data[name] = pd.array(np.array(column, dtype=object), dtype="str")
    frame = pd.DataFrame(data, columns=list(columns))
    return frame.reset_index(drop=True)
