"""The domain vocabulary, written once: case kinds, categories, statuses, what "open" and
"resolved" mean, the area code, the local time zone and assignment validity
(case filters built on them: :mod:`gridmap.cases`).

Every other module (library, API, page via ``GET /api/v1/config``) imports these names
instead of repeating them, so a rule changes in one place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

# --- where and when --------------------------------------------------------------------------
#: the demo city, 通辽市 (NBS 统计用区划代码); its admin codes start with ``area_prefix(AREA_CODE)``
AREA_CODE = "150500"
AREA_NAME = {"zh": "通辽市", "en": "Tongliao"}
#: the province whose boundaries the project ships (data/boundaries/): every area gridmap can be
#: initialised or built for lies in it
PROVINCE_CODE = "150000"
PROVINCE_NAME = {"zh": "内蒙古自治区", "en": "Inner Mongolia"}

#: stored timestamps are naive ISO text in this zone (``2024-03-05T14:30:00``)
LOCAL_TZ_NAME = "Asia/Shanghai"
LOCAL_TZ = ZoneInfo(LOCAL_TZ_NAME)

#: admin code length → the case column holding codes of that level
CODE_COLUMNS = {6: "county_code", 9: "township_code", 12: "village_code", 15: "grid_code"}


def area_prefix(area: str) -> str:
    """The code prefix every unit inside an admin area shares: ``150500`` (a city) → ``1505``,
    ``150000`` (a province) → ``15``, ``150502`` (a county) → ``150502`` (GB/T 2260: grid, village
    and township codes start with their county's code, whose first four digits are the city's)."""
    prefix = str(area).strip()
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    return prefix


def area_counties(store: Any, area: str | None) -> list[str] | None:
    """The county codes (the ``county_code`` partition keys) of the rows inside ``area`` (a
    :class:`gridmap.store.Store`), so that a city's batch task (hot spots, audit) reads its own
    partitions only; None (read everything) without an area, or when the
    store has no county or township units to tell them.  A county or smaller area is its county;
    a city or province: its county units and the statistical counties its townships carry
    (通辽经济技术开发区 150571 in 1505).  Rows are still checked against the area's code prefix."""
    if area is None:
        return None
    prefix = area_prefix(area)
    if len(prefix) >= 6:
        return [prefix[:6]]
    units = store.read("admin_units", where={"level": ["county", "township"]}, columns=["code"])
    codes = sorted({c[:6] for c in units["code"].astype(str) if c.startswith(prefix)})
    return codes or None


def post_counties(workers: pd.DataFrame) -> pd.Series:
    """worker_id → the county code of each worker's post (its village, else its township: an
    agent posted to a township has no village), the county a check-in is filed under (the
    PostGIS partition of ``patrols``).  Needs ``worker_id``, ``village_code``, ``township_code``."""
    village = workers["village_code"].astype(object)
    post = village.where(village.fillna("").astype(str) != "", workers["township_code"].astype(object))
    county = post.map(lambda code: str(code)[:6] if isinstance(code, str) and code else None)
    return pd.Series(county.to_numpy(dtype=object), index=workers["worker_id"].astype(str).to_numpy())


def now_local() -> str:
    """Current local time (:data:`LOCAL_TZ`) as the store's ISO text, seconds precision."""
    return dt.datetime.now(LOCAL_TZ).replace(tzinfo=None).isoformat(timespec="seconds")


def today_local() -> str:
    """Today's local calendar date, ``YYYY-MM-DD``."""
    return now_local()[:10]


# --- cases -----------------------------------------------------------------------------------
#: case kind → (zh, en) label
CASE_KINDS: dict[str, tuple[str, str]] = {
    "dispute": ("矛盾纠纷", "disputes"),
    "petition": ("信访", "petitions"),
}

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


# --- petition agency (信访代办) ------------------------------------------------------------------
#: petition agents (信访代办员) are workers with this role, posted to a village or a township
AGENT_ROLE = "agent"
#: an item an agent takes on is open (代办中) until done (办结)
ITEM_STATUSES: dict[str, tuple[str, str]] = {"open": ("代办中", "open"), "done": ("已办结", "done")}
#: how a follow-up visit (回访) was made
VISIT_METHODS: dict[str, tuple[str, str]] = {
    "phone": ("电话回访", "phone"),
    "in_person": ("上门回访", "in person"),
    "wechat": ("微信回访", "WeChat"),
}


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


def vocabulary() -> dict[str, Any]:
    """The vocabulary as JSON for the web page (``GET /api/v1/config``)."""
    return {
        "area": {"code": AREA_CODE, "name": AREA_NAME},
        "time_zone": LOCAL_TZ_NAME,
        "kinds": [{"key": k, "zh": zh, "en": en} for k, (zh, en) in CASE_KINDS.items()],
        "categories": {
            kind: [{"key": k, "zh": zh, "en": en} for k, (zh, en) in cats.items()]
            for kind, cats in CATEGORIES.items()
        },
        "statuses": [{"key": k, "zh": zh, "en": en} for k, (zh, en) in CASE_STATUSES.items()],
        "open_statuses": list(OPEN_STATUSES),
        "resolved_statuses": list(RESOLVED_STATUSES),
        "item_statuses": [{"key": k, "zh": zh, "en": en} for k, (zh, en) in ITEM_STATUSES.items()],
        "visit_methods": [{"key": k, "zh": zh, "en": en} for k, (zh, en) in VISIT_METHODS.items()],
    }
