"""Which cases to read: one filter (:class:`CaseFilter`) for the store and for frames in memory,
and the one way to read cases with it (:func:`read_cases`, :func:`count_cases`).

The vocabulary it validates against (kinds, statuses, status groups, area code) is
:mod:`gridmap.domain`'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridmap.domain import (
    AREA_CODE,
    AREA_NAME,
    CASE_KINDS,
    CASE_STATUSES,
    CODE_COLUMNS,
    PROVINCE_CODE,
    PROVINCE_NAME,
    STATUS_GROUPS,
    area_prefix,
    expand_statuses,
)
from gridmap.errors import InputError
from gridmap.store.base import Between, Store


def normalise_timestamp(text: str, name: str = "date") -> str:
    """``YYYY-MM``, ``YYYY-MM-DD`` or an ISO date-time (no offset) → ``YYYY-MM-DDTHH:MM:SS``, or InputError."""
    text = str(text).strip()
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m"):
        try:
            return dt.datetime.strptime(text, fmt).strftime("%Y-%m-%dT%H:%M:%S")
        except ValueError:
            continue
    raise InputError(f"{name} {text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS")


def _as_choice(value: Any) -> str | tuple[str, ...] | None:
    """None/"" → None; "a,b" → ("a", "b"); "a" → "a"; a list → tuple of strings."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        parts = [v.strip() for v in value.split(",") if v.strip()]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else tuple(parts)
    if isinstance(value, Iterable):
        return tuple(str(v) for v in value)
    raise InputError(f"filter value {value!r} must be a string or a list of strings")


def _choices(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    return () if value is None else ((value,) if isinstance(value, str) else value)


FILTER_KEYS = ("kind", "category", "status", "start", "end", "admin", "grid")


def admin_condition(code: str) -> tuple[str, Any]:
    """The case column and store condition of an admin filter code.

    A province or city (6 digits ending in ``00``: ``150000``, ``150500``) selects the county
    codes that start with its prefix (a range of text: ``1505 <= county_code < 1506``); a
    county, township, village or grid code (6, 9, 12, 15 digits) the rows with that code in
    its column.  Codes of the province outside the store's area are valid and match nothing.
    """
    if len(code) == 6 and code.endswith("00"):
        prefix = area_prefix(code)
        return "county_code", Between(prefix, str(int(prefix) + 1).zfill(len(prefix)))
    return CODE_COLUMNS[len(code)], code


@dataclass(frozen=True)
class CaseFilter:
    """Which cases to read or count.  Every field is optional; several values mean "any of".

    ``start``/``end`` bound ``reported_at`` as ``start <= reported_at < end`` (local time,
    normalised to ``YYYY-MM-DDTHH:MM:SS``).  ``status`` accepts the group words ``open``
    and ``resolved`` (:data:`STATUS_GROUPS`).  ``admin`` is a county (6 digits), township
    (9), village (12) or grid (15) code of the area, or :data:`AREA_CODE`; ``grid`` a grid code.
    Build it with :meth:`from_dict` (the keys ``from``/``to`` are accepted for start/end).
    """

    kind: str | tuple[str, ...] | None = None
    category: str | tuple[str, ...] | None = None
    status: str | tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None
    admin: str | None = None
    grid: str | None = None

    @classmethod
    def from_dict(cls, filters: dict | None) -> CaseFilter:
        """Validated filter from a dict (query parameters, a stored run's filters); InputError otherwise."""
        filters = {k: v for k, v in dict(filters or {}).items() if v is not None and v != ""}
        unknown = set(filters) - {*FILTER_KEYS, "from", "to"}
        if unknown:
            raise InputError(f"unknown case filters {sorted(unknown)}; use {', '.join(FILTER_KEYS)}")
        start = filters.get("start", filters.get("from"))
        end = filters.get("end", filters.get("to"))
        out = cls(
            kind=_as_choice(filters.get("kind")),
            category=_as_choice(filters.get("category")),
            status=_as_choice(filters.get("status")),
            start=normalise_timestamp(start, "from") if start else None,
            end=normalise_timestamp(end, "to") if end else None,
            admin=str(filters["admin"]).strip() if filters.get("admin") else None,
            grid=str(filters["grid"]).strip() if filters.get("grid") else None,
        )
        out._validate()
        return out

    def _validate(self) -> None:
        for name, allowed in (("kind", tuple(CASE_KINDS)), ("status", (*CASE_STATUSES, *STATUS_GROUPS))):
            bad = [v for v in _choices(getattr(self, name)) if v not in allowed]
            if bad:
                raise InputError(f"{name} {','.join(bad)!r} unknown; use {', '.join(allowed)}")
        code = self.admin
        province = area_prefix(PROVINCE_CODE)
        if code and not (code.isdigit() and code.startswith(province) and len(code) in CODE_COLUMNS):
            raise InputError(
                f"admin {code!r}: give a city (6 digits ending in 00, e.g. {AREA_CODE} {AREA_NAME['en']}), "
                f"county (6), township (9), village (12) or grid (15) code of {PROVINCE_NAME['en']} "
                f"({province}…)"
            )

    def as_dict(self) -> dict:
        """The set fields (tuples as lists), as a run records them."""
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if v is not None
        }

    def where(self, scope: list[str] | None = None) -> dict[str, Any] | None:
        """The store ``where`` dict; ``None`` when ``scope`` (grid codes a user may read; None = all)
        allows nothing."""
        where: dict[str, Any] = {}
        for column in ("kind", "category", "status"):
            values = _choices(getattr(self, column))
            if values:
                where[column] = list(expand_statuses(values) if column == "status" else values)
        if self.start or self.end:
            where["reported_at"] = Between(self.start, self.end)
        if self.admin:
            column, condition = admin_condition(self.admin)
            where[column] = condition
        if self.grid:
            if where.get("grid_code", self.grid) != self.grid:
                return None
            where["grid_code"] = self.grid
        if scope is not None:
            allowed_grids = set(scope)
            if "grid_code" in where:
                if where["grid_code"] not in allowed_grids:
                    return None
            else:
                where["grid_code"] = sorted(allowed_grids)
        return where

    def mask(self, cases: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``cases`` that pass (in memory; same rules as :meth:`where`)."""
        keep = np.ones(len(cases), dtype=bool)
        for name in ("kind", "category", "status"):
            values = _choices(getattr(self, name))
            if not values:
                continue
            if name not in cases.columns:
                raise InputError(f"cases have no {name!r} column to filter on")
            if name == "status":
                values = expand_statuses(values)
            keep &= cases[name].astype("string").isin(values).to_numpy(dtype=bool, na_value=False)
        if self.start or self.end:
            if "reported_at" not in cases.columns:
                raise InputError("cases have no 'reported_at' column to filter on")
            # ISO text sorts like time; normalise the 'YYYY-MM-DD HH:MM:SS' spelling first
            reported = cases["reported_at"].astype("string").str.replace(" ", "T", n=1)
            if self.start:
                keep &= (reported >= self.start).to_numpy(dtype=bool, na_value=False)
            if self.end:
                keep &= (reported < self.end).to_numpy(dtype=bool, na_value=False)
        if self.admin:
            column, condition = admin_condition(self.admin)
            if column not in cases.columns:
                raise InputError(f"cases have no {column!r} column to filter on")
            codes = cases[column].astype("string")
            if isinstance(condition, Between):
                inside = (codes >= condition.lo) & (codes < condition.hi)
            else:
                inside = codes == condition
            keep &= inside.to_numpy(dtype=bool, na_value=False)
        for column, value in (("grid_code", self.grid),):
            if value and column:
                if column not in cases.columns:
                    raise InputError(f"cases have no {column!r} column to filter on")
                keep &= (cases[column].astype("string") == value).to_numpy(dtype=bool, na_value=False)
        return keep


def filter_cases(cases: pd.DataFrame, filters: CaseFilter | dict | None = None) -> pd.DataFrame:
    """Rows of ``cases`` that pass ``filters`` (see :class:`CaseFilter`); the input is not modified."""
    f = filters if isinstance(filters, CaseFilter) else CaseFilter.from_dict(filters)
    return cases.loc[f.mask(cases)]


def read_cases(
    store: Store,
    case_filter: CaseFilter,
    columns: list[str],
    scope: list[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
    bbox: tuple[float, float, float, float] | None = None,
) -> pd.DataFrame:
    """The cases matching ``case_filter`` within ``scope`` (grid codes; None = all), ordered by
    ``reported_at, case_id``; ``bbox`` is (min lon, min lat, max lon, max lat) in EPSG:4326."""
    where = case_filter.where(scope)
    if where is None or where.get("grid_code") == []:
        return pd.DataFrame(columns=columns)
    return store.read(
        "cases",
        where=where or None,
        columns=columns,
        bbox=bbox,
        order_by=["reported_at", "case_id"],
        limit=limit,
        offset=offset,
    )


def count_cases(
    store: Store,
    case_filter: CaseFilter,
    scope: list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> int:
    """How many cases :func:`read_cases` would return without a limit."""
    where = case_filter.where(scope)
    if where is None or where.get("grid_code") == []:
        return 0
    if bbox is None:
        return store.count("cases", where or None)
    return len(store.read("cases", where=where or None, columns=["case_id"], bbox=bbox))
