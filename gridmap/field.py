"""Field intake: a patrol check-in or a new case sent from the grid worker's phone.

The phone sends a point (GCJ-02 by default, as Chinese phone map SDKs give it; WGS-84 and
BD-09 with ``crs``), a time and a **client id** it chose for this record.  The rules, the
same for the API (``POST /api/v1/patrols``, ``POST /api/v1/cases``) and any other caller:

* **own grids only** — the point must lie in a grid of the active plan that the worker
  holds an assignment for on the record's day (``valid_from ≤ day ≤ valid_to``, both
  inclusive, open end allowed: :func:`gridmap.domain.assignment_active`);
  otherwise :class:`NotOwnGridError` and nothing is written;
* **idempotent** — the row id is derived from (worker, kind, client id), so the same
  client id sent twice (a retry after a lost answer) writes one row and returns the same
  answer, with ``created`` False the second time; the same client id with different
  content is refused (:class:`ClientIdReusedError`) rather than silently ignored;
* stored geometry is WGS-84 (EPSG:4326); the declared coordinates and CRS are kept in
  ``raw_lon``/``raw_lat``/``raw_crs``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84
from gridmap.domain import CATEGORIES, LOCAL_TZ, assignment_active, post_counties
from gridmap.errors import InputError
from gridmap.geocode.transform import canonical_crs, to_wgs84

#: a phone clock this far ahead of the server is still believed (minutes)
CLOCK_SKEW_MINUTES = 10
MAX_CLIENT_ID = 64
FIELD_SOURCE = "field"


class FieldError(InputError):
    """A field record that cannot be taken; the message says why in one line."""


class NotOwnGridError(FieldError):
    """The point lies outside the worker's own grids (the API answers 403)."""


class ClientIdReusedError(FieldError):
    """The client id was used before for a different record (the API answers 409)."""


@dataclass(frozen=True)
class FieldResult:
    """What was stored: the row id, the WGS-84 point (degrees), its grid and whether it is new."""

    id: str
    created: bool
    grid_code: str
    lon: float
    lat: float
    ts: str


def _now_local() -> datetime:
    return datetime.now(LOCAL_TZ).replace(tzinfo=None)


def local_time(value: str | None) -> str:
    """An ISO time as the store's local text (Asia/Shanghai, seconds); now when empty.

    Times with an offset are converted; naive times are taken as local.  A time more than
    :data:`CLOCK_SKEW_MINUTES` in the future is refused.
    """
    now = _now_local()
    if value is None or str(value).strip() == "":
        stamp = now
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise FieldError(
                f"time {value!r} is not an ISO date-time (e.g. 2024-05-01T09:30:00+08:00)"
            ) from None
        stamp = parsed.astimezone(LOCAL_TZ).replace(tzinfo=None) if parsed.tzinfo else parsed
        if stamp > now + timedelta(minutes=CLOCK_SKEW_MINUTES):
            raise FieldError(f"time {value} lies in the future; check the phone's clock")
    return stamp.isoformat(timespec="seconds")


def record_id(prefix: str, worker_id: str, client_id: str) -> str:
    """The row id of a field record: the same worker and client id always give the same id."""
    client = str(client_id or "").strip()
    if not client or len(client) > MAX_CLIENT_ID:
        raise FieldError(f"client_id must be 1–{MAX_CLIENT_ID} characters")
    digest = hashlib.sha1(f"{prefix}|{worker_id}|{client}".encode()).hexdigest()[:20]
    return f"{prefix}{digest}"


def to_storage_point(lon: float, lat: float, crs: str | None) -> tuple[float, float, str]:
    """Declared (lon, lat) in ``crs`` (default GCJ-02) → WGS-84 degrees and the canonical CRS name."""
    name = canonical_crs(crs or "gcj02")
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise FieldError("lon and lat must be numbers (degrees)") from None
    if not (np.isfinite(x) and np.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        raise FieldError(f"({lon}, {lat}) are not longitude/latitude degrees")
    wx, wy = to_wgs84(np.array([x]), np.array([y]), name)
    return float(wx[0]), float(wy[0]), name


def worker_grids(store, worker_id: str, day: str, plan_id: str | None = None) -> gpd.GeoDataFrame:
    """The grids of ``plan_id`` (default: the active plan) the worker is assigned to on ``day``."""
    plan_id = plan_id or store.active_plan_id()
    if plan_id is None:
        raise FieldError("no active grid plan: field records need one")
    rows = store.read("assignments", where={"worker_id": worker_id, "plan_id": plan_id})
    active = assignment_active(rows["valid_from"], rows["valid_to"], day[:10]) if len(rows) else []
    codes = sorted(set(rows.loc[active, "grid_code"].dropna().astype(str))) if len(rows) else []
    if not codes:
        raise NotOwnGridError(f"worker {worker_id} has no grid assigned on {day[:10]}")
    return store.read("grids", where={"plan_id": plan_id, "code": codes})


def own_grid_at(store, worker_id: str, lon: float, lat: float, day: str) -> pd.Series:
    """The worker's own grid containing the WGS-84 point; :class:`NotOwnGridError` if there is none."""
    from gridmap.geocode.assign import assign_points

    grids = worker_grids(store, worker_id, day)
    code = assign_points([lon], [lat], grids)[0] if len(grids) else None
    if code is None:
        raise NotOwnGridError(
            f"the point ({lon:.6f}, {lat:.6f}) lies outside worker {worker_id}'s grids on {day[:10]}"
        )
    return grids[grids["code"] == code].iloc[0]


def _same(stored: pd.Series, expected: dict) -> bool:
    for key, value in expected.items():
        old = stored.get(key)
        if isinstance(value, float):
            if old is None or pd.isna(old) or abs(float(old) - value) > 1e-9:
                return False
        elif (None if old is None or (isinstance(old, float) and np.isnan(old)) else str(old)) != value:
            return False
    return True


def _existing(store, table: str, key: str, row_id: str, expected: dict) -> FieldResult | None:
    found = store.read(table, where={key: row_id})
    if not len(found):
        return None
    row = found.iloc[0]
    if not _same(row, expected):
        raise ClientIdReusedError(
            "this client_id was already used for a different record; send a new client_id"
        )
    geom = row.geometry
    ts = row["ts"] if table == "patrols" else row["reported_at"]
    return FieldResult(row_id, False, str(row.get("grid_code") or ""), float(geom.x), float(geom.y), str(ts))


def record_patrol(
    store,
    worker_id: str,
    client_id: str,
    lon: float,
    lat: float,
    crs: str | None = "gcj02",
    ts: str | None = None,
) -> FieldResult:
    """Store one patrol check-in of ``worker_id`` (see the module doc for the rules)."""
    patrol_id = record_id("FP", worker_id, client_id)
    wlon, wlat, name = to_storage_point(lon, lat, crs)
    when = local_time(ts)
    expected = {"worker_id": worker_id, "raw_lon": float(lon), "raw_lat": float(lat), "raw_crs": name}
    with store.transaction():
        grid = own_grid_at(store, worker_id, wlon, wlat, when)
        old = _existing(store, "patrols", "patrol_id", patrol_id, expected)
        if old is not None:
            return FieldResult(old.id, False, str(grid["code"]), old.lon, old.lat, old.ts)
        frame = gpd.GeoDataFrame(
            {
                "patrol_id": [patrol_id],
                "worker_id": [worker_id],
                "ts": [when],
                "raw_lon": [float(lon)],
                "raw_lat": [float(lat)],
                "raw_crs": [name],
                "source": [FIELD_SOURCE],
                "county_code": [_post_county(store, worker_id)],
            },
            geometry=[shapely.Point(wlon, wlat)],
            crs=WGS84,
        )
        store.write("patrols", frame)
    return FieldResult(patrol_id, True, str(grid["code"]), wlon, wlat, when)


def _post_county(store, worker_id: str) -> str | None:
    """The county a worker's check-ins are filed under (:func:`gridmap.domain.post_counties`)."""
    worker = store.read(
        "workers", where={"worker_id": worker_id}, columns=["worker_id", "village_code", "township_code"]
    )
    return post_counties(worker).get(worker_id) if len(worker) else None


def record_case(
    store,
    worker_id: str,
    client_id: str,
    lon: float,
    lat: float,
    crs: str | None = "gcj02",
    kind: str = "dispute",
    category: str | None = None,
    reported_at: str | None = None,
    address_text: str | None = None,
    persons: int | None = None,
    party_name: str | None = None,
    party_phone: str | None = None,
) -> FieldResult:
    """Store one case reported by ``worker_id`` in their own grid, status ``reported``.

    ``kind`` and ``category`` accept what case imports accept (``dispute``/矛盾纠纷,
    ``neighbour``/邻里 …: :data:`gridmap.domain.CATEGORIES`, with the Chinese spellings of
    :data:`gridmap.geocode.intake.KIND_VALUES` and ``CATEGORY_VALUES``).  The point is the case's location (precision ``coordinates``).
    """
    from gridmap.geocode.intake import CATEGORY_VALUES, KIND_VALUES

    case_kind = KIND_VALUES.get(str(kind).strip().lower() if str(kind).isascii() else str(kind).strip())
    if case_kind is None:
        raise FieldError(f"unknown kind {kind!r} (use dispute/矛盾纠纷 or petition/信访)")
    case_category = None
    if category not in (None, ""):
        case_category = CATEGORY_VALUES[case_kind].get(str(category).strip(), str(category).strip())
        if case_category not in CATEGORIES[case_kind]:
            raise FieldError(
                f"unknown {case_kind} category {category!r}; one of {sorted(CATEGORIES[case_kind])}"
            )
    if persons is not None and (int(persons) < 0 or int(persons) > 100_000):
        raise FieldError("persons must be between 0 and 100000")
    case_id = record_id("FC", worker_id, client_id)
    wlon, wlat, name = to_storage_point(lon, lat, crs)
    when = local_time(reported_at)
    expected = {
        "kind": case_kind,
        "category": case_category,
        "raw_lon": float(lon),
        "raw_lat": float(lat),
        "raw_crs": name,
        "address_text": address_text or None,
    }
    with store.transaction():
        grid = own_grid_at(store, worker_id, wlon, wlat, when)
        old = _existing(store, "cases", "case_id", case_id, expected)
        if old is not None:
            return old
        row = {
            "case_id": case_id,
            "external_id": None,
            "kind": case_kind,
            "category": case_category,
            "status": "reported",
            "reported_at": when,
            "address_text": address_text or None,
            "raw_lon": float(lon),
            "raw_lat": float(lat),
            "raw_crs": name,
            "lon": wlon,
            "lat": wlat,
            "precision": "coordinates",
            "score": 100.0,
            "geocode_status": "accepted",
            "reason": None,
            "grid_code": str(grid["code"]),
            "village_code": grid.get("village_code"),
            "township_code": grid.get("township_code"),
            "county_code": grid.get("county_code"),
            "persons": persons,
            "party_name": party_name or None,
            "party_phone": party_phone or None,
            "source": f"{FIELD_SOURCE} {worker_id}",
        }
        store.write(
            "cases", gpd.GeoDataFrame(pd.DataFrame([row]), geometry=[shapely.Point(wlon, wlat)], crs=WGS84)
        )
    return FieldResult(case_id, True, str(grid["code"]), wlon, wlat, when)
