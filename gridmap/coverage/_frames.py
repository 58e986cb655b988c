"""Small helpers shared by the coverage modules: column checks, ISO text → datetime, day numbers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

from gridmap import domain
from gridmap.errors import InputError

WORKER_ROLES = ("full_time", "part_time", "cadre", "police")
#: petition agents (信访代办员) are workers too, posted to a village or township rather than to grids
AGENT_ROLE = domain.AGENT_ROLE


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`InputError` naming the missing columns of ``what``."""
    if frame is None:
        raise InputError(f"{what}: no table given")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what}: missing column(s) {', '.join(missing)}; has {', '.join(map(str, frame.columns))}"
        )


def _blank_uniques(uniques: np.ndarray) -> np.ndarray:
    stripped = pd.Series(uniques, dtype="object").astype(str).str.strip()
    return ((stripped == "") | stripped.str.lower().isin(["nan", "none", "nat"])).to_numpy()


def is_blank(values: pd.Series) -> np.ndarray:
    """True where a text column is NULL/NaN or only whitespace.

    Works on the distinct values (ids and codes repeat a lot), not row by row.
    """
    codes, uniques = pd.factorize(values.astype("object"), use_na_sentinel=True)
    blank_unique = _blank_uniques(np.asarray(uniques, dtype=object))
    return np.where(codes < 0, True, blank_unique[np.maximum(codes, 0)] if len(uniques) else True)


def parse_timestamps(values: pd.Series, what: str, ids: pd.Series | None = None) -> pd.Series:
    """ISO 8601 text (local time, no offset) → naive ``datetime64[s]``; blanks become NaT.

    A non-blank value that is not a timestamp raises :class:`InputError` naming up to
    five offending row ids, so nothing is dropped silently.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        out = pd.Series(values, copy=False)
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.astype("datetime64[s]")
    text = values.astype("object")
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    failed = np.flatnonzero(parsed.isna().to_numpy())
    if len(failed):
        bad = np.zeros(len(values), dtype=bool)
        bad[failed] = ~is_blank(text.iloc[failed])
        if bad.any():
            where = (ids if ids is not None else pd.Series(values.index, index=values.index))[bad]
            sample = ", ".join(map(str, where.head(5)))
            raise InputError(f"{what}: {int(bad.sum())} value(s) are not ISO timestamps (rows {sample})")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[s]")


def day_numbers(timestamps: pd.Series | np.ndarray) -> np.ndarray:
    """Datetime64 → integer day number since 1970-01-01 (local calendar day); NaT → INT64 min."""
    values = np.asarray(timestamps, dtype="datetime64[s]")
    return values.astype("datetime64[D]").astype(np.int64)


def to_day_number(day: date | str) -> int:
    return int(np.datetime64(str(day)[:10], "D").astype(np.int64))


def from_day_number(days: np.ndarray | int) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]")


def text_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """A text column, stripped, with blanks as ``None`` (object dtype); all-None when absent.

    Factorizes first, so a million repeated worker ids cost one strip per distinct id.
    """
    if column not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype="object")
    codes, uniques = pd.factorize(frame[column].astype("object"), use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    cleaned = pd.Series(uniques, dtype="object").astype(str).str.strip().to_numpy(dtype=object)
    cleaned[_blank_uniques(uniques)] = None
    out = np.empty(len(codes), dtype=object)
    found = codes >= 0
    out[found] = cleaned[codes[found]]
    return pd.Series(out, index=frame.index, dtype="object")
