"""Case intake: the case vocabulary of a file (columns, kinds, statuses, times) and the review queue.

The import itself is :mod:`gridmap.imports.cases` on the shared framework
(:mod:`gridmap.imports.framework`: one transaction, every row accepted / review / rejected
with a reason, only the columns a file carries change, undo).  This module maps a file's
columns to case fields (:func:`resolve_mapping`, :func:`map_fields`) and keeps the review:
:func:`review_queue` lists cases waiting for a person; :func:`resolve_review` picks a
candidate address, places the case on a point, or rejects it.  Personal fields (party name,
phone, ID number) are stored in ``cases`` only and never logged or copied into reports.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84
from gridmap.errors import InputError
from gridmap.geocode.checks import FLAG_OK, FLAG_REASONS, check_declared_points
from gridmap.imports.framework import BatchReport
from gridmap.imports.reading import read_input

log = logging.getLogger("gridmap.geocode.intake")

#: schema field → column names accepted for it (compared after lower-casing and removing spaces/_)
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "case_id": ("case_id", "caseid", "系统编号"),
    "external_id": (
        "external_id",
        "externalid",
        "id",
        "案件编号",
        "编号",
        "案件号",
        "案号",
        "case_no",
        "caseno",
        "事件编号",
        "工单号",
    ),
    "address_text": (
        "address_text",
        "address",
        "addr",
        "地址",
        "发生地址",
        "事发地址",
        "案发地址",
        "详细地址",
        "事件地址",
    ),
    "raw_lon": ("raw_lon", "lon", "lng", "long", "longitude", "x", "经度"),
    "raw_lat": ("raw_lat", "lat", "latitude", "y", "纬度"),
    "raw_crs": ("raw_crs", "crs", "坐标系", "坐标类型", "coordsys"),
    "kind": ("kind", "type", "类型", "案件类型", "事件类型"),
    "category": ("category", "类别", "纠纷类别", "案件类别", "事件类别", "分类"),
    "status": ("status", "状态", "办理状态", "案件状态"),
    "reported_at": ("reported_at", "reported", "登记时间", "上报时间", "发生时间", "受理日期", "登记日期"),
    "accepted_at": ("accepted_at", "受理时间"),
    "resolved_at": ("resolved_at", "化解时间", "办结时间"),
    "closed_at": ("closed_at", "结案时间", "归档时间"),
    "due_at": ("due_at", "期限", "办理期限", "截止时间"),
    "party_name": ("party_name", "当事人", "姓名", "当事人姓名"),
    "party_phone": ("party_phone", "phone", "电话", "联系电话", "手机号", "手机"),
    "party_id_number": ("party_id_number", "id_number", "身份证号", "身份证", "身份证号码"),
    "persons": ("persons", "人数", "涉及人数"),
    "followup_done": ("followup_done", "回访", "已回访"),
    "satisfaction": ("satisfaction", "满意度"),
    "source": ("source", "来源"),
}

KIND_VALUES = {
    "dispute": "dispute",
    "矛盾纠纷": "dispute",
    "纠纷": "dispute",
    "矛盾": "dispute",
    "petition": "petition",
    "信访": "petition",
    "上访": "petition",
}
CATEGORY_VALUES = {
    "dispute": {
        "婚姻家庭": "family_marriage",
        "家庭": "family_marriage",
        "婚姻": "family_marriage",
        "邻里": "neighbour",
        "邻里纠纷": "neighbour",
        "土地": "land",
        "土地纠纷": "land",
        "劳资": "wages",
        "欠薪": "wages",
        "工资": "wages",
        "借贷": "loans_finance",
        "债务": "loans_finance",
        "物业": "property_mgmt",
        "交通": "traffic",
        "交通事故": "traffic",
        "医疗": "medical",
        "医患": "medical",
        "其他": "other",
    },
    "petition": {
        "土地": "petition_land",
        "社保": "petition_social_security",
        "社会保障": "petition_social_security",
        "住房": "petition_housing",
        "房屋": "petition_housing",
        "执法": "petition_law_enforcement",
        "涉法涉诉": "petition_law_enforcement",
        "其他": "petition_other",
    },
}
STATUS_VALUES = {
    "reported": "reported",
    "上报": "reported",
    "已上报": "reported",
    "登记": "reported",
    "已登记": "reported",
    "accepted": "accepted",
    "受理": "accepted",
    "已受理": "accepted",
    "in_progress": "in_progress",
    "办理中": "in_progress",
    "处理中": "in_progress",
    "调解中": "in_progress",
    "resolved": "resolved",
    "已化解": "resolved",
    "化解": "resolved",
    "已解决": "resolved",
    "调解成功": "resolved",
    "closed": "closed",
    "已办结": "closed",
    "办结": "closed",
    "结案": "closed",
    "已结案": "closed",
    "unresolved": "unresolved",
    "未化解": "unresolved",
    "调解失败": "unresolved",
}
TIME_FIELDS = ("reported_at", "accepted_at", "resolved_at", "closed_at", "due_at")

# reason text → histogram key
_REASON_KINDS = [
    (re.compile(r"^house number .* not found on "), "house number not found on the road"),
    (re.compile(r"^no house number on "), "no house number"),
    (re.compile(r"standard addresses match equally$"), "several standard addresses match"),
    (re.compile(r"^building .* not found"), "building not found at that house number"),
    (re.compile(r"^match by .* scored"), "match score below the acceptance threshold"),
    (re.compile(r"^only the (\w+) was recognised"), None),
    (re.compile(r"^(\w+) name is ambiguous"), None),
    (re.compile(r"^coordinates lie in village"), "coordinates and address disagree"),
    (re.compile(r"^coordinates are .* km from the matched"), "coordinates far from the matched address"),
    (re.compile(r"^unknown coordinate system"), "unknown coordinate system"),
    (re.compile(r"^duplicate external id"), "duplicate external id in the file"),
    (re.compile(r"^unknown kind"), "unknown kind"),
    (re.compile(r"^unreadable (\w+)"), None),
]


def reason_kind(reason: str) -> str:
    """A reason without its particulars (road names, numbers), for the report histogram."""
    for pattern, label in _REASON_KINDS:
        m = pattern.search(reason)
        if m:
            if label is not None:
                return label
            if pattern.pattern.startswith("^only"):
                return f"only the {m.group(1)} recognised"
            if pattern.pattern.startswith("^unreadable"):
                return f"unreadable {m.group(1)}"
            return f"{m.group(1)} name ambiguous"
    return reason


#: the report of an import (kept under its old name)
ImportReport = BatchReport


# --- reading ---------------------------------------------------------------------------------


def read_upload(
    source: str | Path | bytes, filename: str | None = None, max_bytes: int | None = None
) -> tuple[pd.DataFrame, str]:
    """Read a CSV (UTF-8, UTF-8 with BOM, GBK/GB18030), XLSX or JSON table as text cells.

    Returns ``(frame, sha256)``; every cell is a str ('' for empty).  Raises
    :class:`~gridmap.errors.InputError` for an oversized, empty or unreadable file.
    (:func:`gridmap.imports.reading.read_input` also returns the formula cells.)
    """
    table = read_input(source, filename, max_bytes=max_bytes)
    if table.frame.empty:
        raise InputError(f"{table.name}: no data rows")
    return table.frame, table.sha256


# --- mapping -----------------------------------------------------------------------------------


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", str(name)).lower()


def resolve_mapping(columns: list[str], mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """File column → schema field.  ``mapping`` (file column → field, or field → file column)
    takes precedence; other columns are recognised by :data:`COLUMN_ALIASES`."""
    fields = set(COLUMN_ALIASES)
    out: dict[str, str] = {}
    for a, b in (mapping or {}).items():
        if a in columns and b in fields:
            out[a] = b
        elif b in columns and a in fields:
            out[b] = a
        else:
            raise InputError(
                f"mapping {a!r} → {b!r}: one side must be a file column ({', '.join(columns)}), "
                f"the other a case field ({', '.join(sorted(fields))})"
            )
    taken = set(out.values())
    lookup = {_key(alias): f for f, aliases in COLUMN_ALIASES.items() for alias in aliases}
    for column in columns:
        if column in out:
            continue
        field_name = lookup.get(_key(column))
        if field_name and field_name not in taken:
            out[column] = field_name
            taken.add(field_name)
    if (
        "address_text" not in taken
        and not {"raw_lon", "raw_lat"} <= taken
        and not {"external_id", "case_id"} & taken
    ):
        raise InputError(
            "no address column (地址/address) and no coordinate columns (经度/lon, 纬度/lat) found; "
            f"the file has: {', '.join(columns)}; pass a mapping"
        )
    return out


def _parse_times(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """ISO text per cell (None for empty) and a mask of cells that could not be read."""
    text = values.astype(str).str.strip()
    empty = text.eq("")
    cleaned = (
        text.str.replace(r"[年月/.]", "-", regex=True)
        .str.replace("日", " ", regex=False)
        .str.replace("T", " ", regex=False)
        .str.strip()
    )
    parsed = pd.to_datetime(cleaned.where(~empty, None), errors="coerce", format="mixed")
    bad = ~empty & parsed.isna()
    iso = parsed.dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
    iso[pd.isna(parsed).to_numpy()] = None
    return iso, bad.to_numpy()


def _int_or_none(values: pd.Series) -> pd.Series:
    return pd.to_numeric(
        values.replace({"是": "1", "否": "0", "true": "1", "false": "0"}), errors="coerce"
    ).astype("Int64")


def map_fields(raw: pd.DataFrame, mapping: Mapping[str, str]) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """File rows → case fields, **only those the file carries**; returns (fields, per-row
    rejection reason or '', notes).

    ``kind`` becomes dispute/petition (None where empty), ``status`` the status vocabulary
    (None where empty or unknown: the importer decides what a missing one means), times ISO
    text; ``category`` stays text (its meaning depends on the kind).
    """
    n = len(raw)
    fields = pd.DataFrame(index=range(n))
    for column, field_name in mapping.items():
        fields[field_name] = raw[column].astype(str).str.strip().to_numpy()
    reject = np.full(n, "", dtype=object)
    notes: list[str] = []
    if "kind" in fields:
        kind_text = fields["kind"]
        kind = kind_text.map(lambda v: KIND_VALUES.get(v.lower() if v.isascii() else v))
        bad = (kind.isna() & kind_text.ne("")).to_numpy()
        reject[bad] = [f"unknown kind {v!r} (use dispute/矛盾纠纷 or petition/信访)" for v in kind_text[bad]]
        if kind_text.eq("").any():
            notes.append(
                f"{int(kind_text.eq('').sum())} rows without kind: new cases among them are disputes"
            )
        fields["kind"] = kind.to_numpy(dtype=object)
    if "status" in fields:
        text = fields["status"]
        status = text.map(lambda v: STATUS_VALUES.get(v.lower() if v.isascii() else v))
        unknown = status.isna() & text.ne("")
        if unknown.any():
            notes.append(
                f"{int(unknown.sum())} rows with an unknown status: new cases taken as reported, "
                "existing ones keep theirs"
            )
        fields["status"] = status.to_numpy(dtype=object)
    for name in TIME_FIELDS:
        if name in fields:
            iso, bad = _parse_times(fields[name])
            fields[name] = iso
            hit = bad & (reject == "")
            reject[hit] = f"unreadable {name}"
    for name in ("persons", "followup_done", "satisfaction"):
        if name in fields:
            fields[name] = _int_or_none(fields[name])
    return fields, reject, notes


# --- import -----------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _same_number(a, b) -> bool:
    try:
        fa = float(a) if a not in (None, "") else None
        fb = float(b) if b not in (None, "") else None
    except (TypeError, ValueError):
        return str(a) == str(b)
    if fa is None or fb is None or np.isnan(fa) or np.isnan(fb):
        return (fa is None or np.isnan(fa)) and (fb is None or np.isnan(fb))
    return abs(fa - fb) < 1e-9


def _case_frame(
    fields: pd.DataFrame, result: pd.DataFrame, case_ids: np.ndarray, write: np.ndarray, batch_id: str
) -> gpd.GeoDataFrame:
    from gridmap.store.schema import get_table

    columns = list(get_table("cases").columns)
    frame = pd.DataFrame(index=range(len(fields)))
    for name in columns:
        if name in fields:
            frame[name] = fields[name].to_numpy()
    frame["case_id"] = case_ids
    for name in ("raw_lon", "raw_lat"):
        if name in frame:
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
    for name in (
        "lon",
        "lat",
        "precision",
        "score",
        "geocode_status",
        "reason",
        "grid_code",
        "village_code",
        "township_code",
        "county_code",
    ):
        frame[name] = result[name].to_numpy()
    frame["reason"] = frame["reason"].replace("", None)
    if "source" not in fields:
        frame["source"] = f"import {batch_id}"
    for name in ("external_id", "address_text", "raw_crs", "party_name", "party_phone", "party_id_number"):
        if name in frame:
            frame[name] = frame[name].replace("", None)
    frame = frame.loc[write].reset_index(drop=True)
    accepted = frame["geocode_status"].eq("accepted").to_numpy() & frame["lon"].notna().to_numpy()
    geometry = np.full(len(frame), None, dtype=object)
    geometry[accepted] = shapely.points(
        frame["lon"].to_numpy(float)[accepted], frame["lat"].to_numpy(float)[accepted]
    )
    keep = [c for c in columns if c in frame]
    return gpd.GeoDataFrame(frame[keep], geometry=gpd.GeoSeries(geometry, crs=WGS84).values, crs=WGS84)


# --- review -----------------------------------------------------------------------------------

REVIEW_COLUMNS = [
    "case_id",
    "external_id",
    "kind",
    "category",
    "reported_at",
    "address_text",
    "raw_lon",
    "raw_lat",
    "raw_crs",
    "reason",
]


def review_queue(store, limit: int = 50, offset: int = 0) -> pd.DataFrame:
    """Cases waiting for a person (geocode_status ``review``), oldest report first, with candidates.

    No personal fields: the queue shows what is needed to place a case.
    """
    page = store.read(
        "cases",
        where={"geocode_status": "review"},
        columns=REVIEW_COLUMNS,
        order_by=["reported_at", "case_id"],
        limit=int(limit),
        offset=int(offset),
    )
    page = pd.DataFrame(page).drop(columns=["geometry"], errors="ignore").reset_index(drop=True)
    candidates = [[] for _ in range(len(page))]
    if len(page):
        rows = store.read(
            "import_rows",
            where={"case_id": page["case_id"].tolist()},
            columns=["batch_id", "case_id", "candidates"],
        )
        rows = rows.sort_values("batch_id").drop_duplicates("case_id", keep="last").set_index("case_id")
        for i, case_id in enumerate(page["case_id"]):
            if case_id in rows.index and rows.at[case_id, "candidates"]:
                candidates[i] = json.loads(rows.at[case_id, "candidates"])
    page["candidates"] = candidates
    return page


def resolve_review(
    store,
    case_id: str,
    action: str,
    address_id: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    reason: str | None = None,
    actor: str = "system",
) -> dict:
    """Settle one case: ``pick`` a standard address, ``place`` it on a WGS-84 point, or ``reject`` it.

    Picked and placed cases get ``geocode_status='manual'`` and the grid of the active plan;
    the reason records who decided and when.  Returns the new geocode fields.
    """
    found = store.read("cases", where={"case_id": case_id}, columns=["case_id", "geocode_status"])
    if not len(found):
        raise InputError(f"no case {case_id!r}")
    stamp = f"{actor} {_now()}"
    if action == "reject":
        values = {
            "geocode_status": "rejected",
            "reason": f"{reason or 'rejected in review'} ({stamp})",
            "lon": None,
            "lat": None,
            "grid_code": None,
            "precision": "none",
            "score": 0.0,
            "geometry": None,
        }
        store.update("cases", values, where={"case_id": case_id})
        return {k: v for k, v in values.items() if k != "geometry"}
    if action == "pick":
        if not address_id:
            raise InputError("pick needs an address_id (one of the candidates)")
        address = store.read("addresses", where={"address_id": address_id})
        if not len(address):
            raise InputError(f"no standard address {address_id!r}")
        point = address.geometry.iloc[0]
        lon_, lat_ = float(point.x), float(point.y)
        precision, note = "address", f"picked {address_id} ({stamp})"
        codes = {c: address[c].iloc[0] for c in ("village_code", "township_code", "county_code")}
    elif action == "place":
        try:
            lon_, lat_ = float(lon), float(lat)
        except (TypeError, ValueError):
            raise InputError(
                f"place needs numeric lon and lat (WGS-84 degrees), got {lon!r}, {lat!r}"
            ) from None
        admin = store.read("admin_units", where={"level": ["city", "county"]})
        from gridmap.geocode.batch import city_outline

        check = check_declared_points([lon_], [lat_], "wgs84", city_outline(admin), _margin_km())
        if check.flag[0] != FLAG_OK:
            raise InputError(
                f"cannot place case {case_id} at ({lon_}, {lat_}): {FLAG_REASONS[check.flag[0]]}"
            )
        precision, note = "manual", f"placed by hand ({stamp})"
        codes = _admin_codes_at(store, lon_, lat_)
    else:
        raise InputError(f"unknown review action {action!r}: use pick, place or reject")
    grid = _grid_at(store, lon_, lat_)
    if grid is not None:
        codes = {c: grid[c] for c in ("village_code", "township_code", "county_code") if grid.get(c)} or codes
    values = {
        "lon": lon_,
        "lat": lat_,
        "precision": precision,
        "score": 100.0,
        "geocode_status": "manual",
        "reason": note,
        "grid_code": grid["code"] if grid is not None else None,
        **codes,
        "geometry": shapely.Point(lon_, lat_),
    }
    store.update("cases", values, where={"case_id": case_id})
    return {k: v for k, v in values.items() if k != "geometry"}


def _margin_km() -> float:
    from gridmap.config import get_settings

    return float(get_settings().city_margin_km)


def _grid_at(store, lon: float, lat: float) -> dict | None:
    from gridmap.geocode.assign import assign_points

    plan_id = store.active_plan_id()
    if plan_id is None:
        return None
    eps = 1e-9
    near = store.read("grids", where={"plan_id": plan_id}, bbox=(lon - eps, lat - eps, lon + eps, lat + eps))
    if not len(near):
        return None
    code = assign_points([lon], [lat], near)[0]
    if code is None:
        return None
    row = near[near["code"] == code].iloc[0]
    return {k: row[k] for k in ("code", "village_code", "township_code", "county_code") if k in row}


def _admin_codes_at(store, lon: float, lat: float) -> dict:
    from gridmap.geocode.assign import assign_points

    eps = 1e-9
    near = store.read(
        "admin_units", where={"level": "village"}, bbox=(lon - eps, lat - eps, lon + eps, lat + eps)
    )
    if not len(near):
        return {}
    code = assign_points([lon], [lat], near)[0]
    if code is None:
        return {}
    row = near[near["code"] == code].iloc[0]
    township = row["parent_code"]
    county = store.read("admin_units", where={"code": township}, columns=["parent_code"])
    return {
        "village_code": code,
        "township_code": township,
        "county_code": county["parent_code"].iloc[0] if len(county) else None,
    }
