"""The domain vocabulary, written once: case kinds, categories, statuses, what "open" and
"resolved" mean, the area code, the local time zone, assignment validity and case filters.

Every other module (library, API, page via ``GET /api/v1/config``) imports these names
instead of repeating them, so a rule changes in one place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from gridmap.errors import InputError
from gridmap.store.base import Between, Store

# --- where and when --------------------------------------------------------------------------
#: the demo city, 通辽市 (NBS 统计用区划代码); every admin code of the area starts with the prefix
AREA_CODE = "150500"
AREA_CODE_PREFIX = AREA_CODE[:4]
AREA_NAME = {"zh": "通辽市", "en": "Tongliao"}

#: stored timestamps are naive ISO text in this zone (``2024-03-05T14:30:00``)
LOCAL_TZ_NAME = "Asia/Shanghai"
LOCAL_TZ = ZoneInfo(LOCAL_TZ_NAME)

#: admin code length → the case column holding codes of that level
CODE_COLUMNS = {6: "county_code", 9: "township_code", 12: "village_code", 15: "grid_code"}


def now_local() -> str:
    """Current local time (:data:`LOCAL_TZ`) as the store's ISO text, seconds precision."""
    return dt.datetime.now(LOCAL_TZ).replace(tzinfo=None).isoformat(timespec="seconds")


def today_local() -> str:
    """Today's local calendar date, ``YYYY-MM-DD``."""
    return now_local()[:10]


# --- cases -----------------------------------------------------------------------------------
#: case kind → (zh, en) label
CASE_KINDS: dict[str, tuple[str, str]] = {"dispute": ("矛盾纠纷", "disputes"), "petition": ("信访", "petitions")}

#: kind → category → (zh, en) label; the keys are what the store holds
CATEGORIES: dict[str, dict[str, tuple[str, str]]] = {
    "dispute": {
        "family_marriage": ("婚姻家庭", "family & marriage"),
        "neighbour": ("邻里纠纷", "neighbours"),
        "land": ("土地纠纷", "land"),
        "wages": ("劳资纠纷", "wages"),
        "loans_finance": ("借贷金融", "loans & finance"),
        "property_mgmt": ("物业纠纷", "property management"),
        "traffic": ("交通事故", "traffic"),
        "medical": ("医疗纠纷", "medical"),
        "other": ("其他纠纷", "other disputes"),
    },
    "petition": {
        "petition_land": ("土地信访", "petition: land"),
        "petition_social_security": ("社保信访", "petition: social security"),
        "petition_housing": ("住房信访", "petition: housing"),
        "petition_law_enforcement": ("执法信访", "petition: law enforcement"),
        "petition_other": ("其他信访", "petition: other"),
    },
}
DISPUTE_CATEGORIES: tuple[str, ...] = tuple(CATEGORIES["dispute"])
PETITION_CATEGORIES: tuple[str, ...] = tuple(CATEGORIES["petition"])
ALL_CATEGORIES: tuple[str, ...] = DISPUTE_CATEGORIES + PETITION_CATEGORIES

#: status → (zh, en) label, in workflow order: reported → accepted → in_progress →
#: resolved → closed, or unresolved (mediation failed; the case stays on the books)
CASE_STATUSES: dict[str, tuple[str, str]] = {
    "reported": ("已上报", "reported"),
    "accepted": ("已受理", "accepted"),
    "in_progress": ("办理中", "in progress"),
    "resolved": ("已化解", "resolved"),
    "closed": ("已办结", "closed"),
    "unresolved": ("未化解", "unresolved"),
}
#: a case is resolved when its status is one of these ...
RESOLVED_STATUSES: tuple[str, ...] = ("resolved", "closed")
#: ... and open otherwise (``unresolved`` counts as open: nobody has settled it)
OPEN_STATUSES: tuple[str, ...] = tuple(s for s in CASE_STATUSES if s not in RESOLVED_STATUSES)
#: filter words that stand for several statuses
STATUS_GROUPS: dict[str, tuple[str, ...]] = {"open": OPEN_STATUSES, "resolved": RESOLVED_STATUSES}


def is_resolved(status: pd.Series) -> np.ndarray:
    """True where ``status`` (case-insensitive) is resolved or closed."""
    return status.astype("string").str.lower().isin(RESOLVED_STATUSES).to_numpy(dtype=bool, na_value=False)


def is_open(status: pd.Series) -> np.ndarray:
    """True where ``status`` is one of :data:`OPEN_STATUSES` (an unknown or empty status is neither)."""
    return status.astype("string").str.lower().isin(OPEN_STATUSES).to_numpy(dtype=bool, na_value=False)


def expand_statuses(statuses: Iterable[str]) -> tuple[str, ...]:
    """Statuses with the group words of :data:`STATUS_GROUPS` replaced by their members."""
    out: list[str] = []
    for s in statuses:
        out += STATUS_GROUPS.get(s, (s,))
    return tuple(dict.fromkeys(out))


# --- assignments -----------------------------------------------------------------------------
def assignment_active(valid_from: Any, valid_to: Any, on_date: str | dt.date) -> np.ndarray:
    """Whether assignments are in force on ``on_date``: ``valid_from ≤ day ≤ valid_to``.

    Both bounds are local calendar days and **inclusive**: on the day named by ``valid_to``
    the worker still holds the grid.  An empty ``valid_from`` means "since ever", an empty
    ``valid_to`` "open-ended".  Accepts scalars or array-likes of ISO text (only the first
    ten characters, ``YYYY-MM-DD``, are compared) and returns a boolean array.
    """
    day = on_date.isoformat()[:10] if isinstance(on_date, dt.date) else str(on_date)[:10]
    start = pd.Series(np.atleast_1d(np.asarray(valid_from, dtype=object)), dtype="object")
    end = pd.Series(np.atleast_1d(np.asarray(valid_to, dtype=object)), dtype="object")
    start_text = start.astype("string").str.strip().str[:10]
    end_text = end.astype("string").str.strip().str[:10]
    started = start_text.isna() | (start_text == "") | (start_text <= day)
    not_ended = end_text.isna() | (end_text == "") | (end_text >= day)
    return (started & not_ended).to_numpy(dtype=bool, na_value=True)


# --- case filters ----------------------------------------------------------------------------
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
        if code and not (code.isdigit() and code.startswith(AREA_CODE_PREFIX) and len(code) in CODE_COLUMNS):
            raise InputError(f"admin {code!r}: give a county (6 digits), township (9), village (12) "
                             f"or grid (15) code of {AREA_NAME['en']} ({AREA_CODE_PREFIX}…)")

    def as_dict(self) -> dict:
        """The set fields (tuples as lists), as a run records them."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if v is not None}

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
        if self.admin and self.admin != AREA_CODE:
            where[CODE_COLUMNS[len(self.admin)]] = self.admin
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
        for column, value in ((CODE_COLUMNS.get(len(self.admin or "")), self.admin), ("grid_code", self.grid)):
            if value and value != AREA_CODE and column:
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
    return store.read("cases", where=where or None, columns=columns, bbox=bbox,
                      order_by=["reported_at", "case_id"], limit=limit, offset=offset)


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


def vocabulary() -> dict[str, Any]:
    """The vocabulary as JSON for the web page (``GET /api/v1/config``)."""
    return {
        "area": {"code": AREA_CODE, "name": AREA_NAME},
        "time_zone": LOCAL_TZ_NAME,
        "kinds": [{"key": k, "zh": zh, "en": en} for k, (zh, en) in CASE_KINDS.items()],
        "categories": {kind: [{"key": k, "zh": zh, "en": en} for k, (zh, en) in cats.items()]
                       for kind, cats in CATEGORIES.items()},
        "statuses": [{"key": k, "zh": zh, "en": en} for k, (zh, en) in CASE_STATUSES.items()],
        "open_statuses": list(OPEN_STATUSES),
        "resolved_statuses": list(RESOLVED_STATUSES),
    }
