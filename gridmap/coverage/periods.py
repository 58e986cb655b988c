"""Reporting periods: ``"2024"``, ``"2024-12"``, ``"2024-Q4"`` or explicit dates.

A :class:`Period` is a closed range of calendar days in local time (Asia/Shanghai,
the store's timestamps carry no offset).  Comparisons against ISO timestamps use the
half-open range ``[start 00:00, end + 1 day 00:00)`` so a case reported at
``2024-12-31T23:59:59`` belongs to December.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from gridmap.domain import now_local
from gridmap.errors import InputError

_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:/|\.\.|~|,| to )\s*(\d{4}-\d{2}-\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Period:
    """Calendar days ``start``..``end`` inclusive, with a display ``label``."""

    start: date
    end: date
    label: str = ""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InputError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        """Number of calendar days in the period (both ends included)."""
        return (self.end - self.start).days + 1

    @property
    def start_ts(self) -> pd.Timestamp:
        """First instant of the period (local time, naive)."""
        return pd.Timestamp(self.start)

    @property
    def end_ts(self) -> pd.Timestamp:
        """First instant *after* the period (exclusive bound)."""
        return pd.Timestamp(self.end + timedelta(days=1))

    @property
    def start_iso(self) -> str:
        return self.start_ts.strftime("%Y-%m-%dT%H:%M:%S")

    @property
    def end_iso(self) -> str:
        """Exclusive upper bound as ISO text, for ``Between(start_iso, end_iso)`` store filters."""
        return self.end_ts.strftime("%Y-%m-%dT%H:%M:%S")

    def previous_year(self) -> Period:
        """The same calendar days one year earlier (同比); 29 Feb maps to 28 Feb."""
        label = f"{self.label} (-1y)" if self.label else ""
        return Period(_minus_year(self.start), _minus_year(self.end), label)

    def contains(self, timestamps: pd.Series) -> np.ndarray:
        """Boolean mask: which ``timestamps`` (datetime64, NaT allowed) fall in the period."""
        values = pd.to_datetime(timestamps)
        return ((values >= self.start_ts) & (values < self.end_ts)).to_numpy(dtype=bool)

    def __str__(self) -> str:
        return self.label or f"{self.start.isoformat()}/{self.end.isoformat()}"


def _minus_year(day: date) -> date:
    if day.month == 2 and day.day == 29:
        return date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"not a valid date: {text!r} (expected YYYY-MM-DD)") from exc


def parse_period(
    period: str | Period | date | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
) -> Period:
    """Turn a period spec into a :class:`Period`.

    Accepts ``"2024"`` (the year), ``"2024-12"`` (a month), ``"2024-Q4"`` (a quarter),
    ``"2024-01-01/2024-03-31"`` (explicit days, also with ``..``), a single day
    ``"2024-12-05"``, an existing :class:`Period`, or explicit ``start``/``end`` dates
    (ISO text or :class:`datetime.date`; both ends included).
    """
    if isinstance(period, Period):
        return period
    if period is None:
        if start is None or end is None:
            raise InputError("give a period (e.g. 2024, 2024-12, 2024-Q4) or both start and end dates")
        s = start if isinstance(start, date) else _parse_day(str(start).strip()[:10])
        e = end if isinstance(end, date) else _parse_day(str(end).strip()[:10])
        return Period(s, e, f"{s.isoformat()}/{e.isoformat()}")
    if isinstance(period, date):
        return Period(period, period, period.isoformat())
    text = str(period).strip()
    if m := _YEAR.match(text):
        year = int(m.group(1))
        return Period(date(year, 1, 1), date(year, 12, 31), text)
    if m := _MONTH.match(text):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise InputError(f"period {text!r}: month must be 01–12")
        last = calendar.monthrange(year, month)[1]
        return Period(date(year, month, 1), date(year, month, last), f"{year:04d}-{month:02d}")
    if m := _QUARTER.match(text):
        year, quarter = int(m.group(1)), int(m.group(2))
        first_month = 3 * (quarter - 1) + 1
        last = calendar.monthrange(year, first_month + 2)[1]
        return Period(date(year, first_month, 1), date(year, first_month + 2, last), f"{year:04d}-Q{quarter}")
    if m := _RANGE.match(text):
        s, e = _parse_day(m.group(1)), _parse_day(m.group(2))
        return Period(s, e, f"{s.isoformat()}/{e.isoformat()}")
    if _DAY.match(text):
        day = _parse_day(text)
        return Period(day, day, text)
    raise InputError(
        f"cannot read period {text!r}: use YYYY, YYYY-MM, YYYY-Qn, YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD"
    )


def latest_patrol_month(store) -> str:
    """The calendar month (``YYYY-MM``, local time) of the store's latest patrol check-in, else
    the current month: the period coverage views show when none is asked for."""
    latest = store.read("patrols", columns=["ts"], order_by=["-ts"], limit=1)
    if latest.empty or pd.isna(latest["ts"].iloc[0]):
        return now_local()[:7]
    return str(latest["ts"].iloc[0])[:7]
