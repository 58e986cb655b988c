"""Case intake: a CSV/XLSX/JSON file of cases → the ``cases`` table, every row accounted for.

:func:`import_cases` reads the file (size-limited), maps its columns to the cases schema,
geocodes every row (:mod:`gridmap.geocode.batch`) and stores, in **one transaction**:

* the cases (upserted: the same external id — or the same file row when there is no
  id — updates the existing case instead of adding a duplicate);
* one ``import_batches`` row with the counts and the report (JSON);
* one ``import_rows`` row per file row: ``accepted``, ``review`` (with candidates) or
  ``rejected`` (with the reason).

A failure anywhere leaves the store as it was.  Personal fields (party name, phone, ID
number) are stored in ``cases`` only and never logged or copied into reports.

Review: :func:`review_queue` lists cases waiting for a person; :func:`resolve_review`
picks a candidate address, places the case on a point, or rejects it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84
from gridmap.domain import CATEGORIES
from gridmap.errors import InputError
from gridmap.geocode.batch import GeocodeContext, candidates_json, geocode_rows
from gridmap.geocode.checks import FLAG_OK, FLAG_REASONS, check_declared_points
from gridmap.geocode.match import AddressMatcher
from gridmap.loaders import read_table

log = logging.getLogger("gridmap.geocode.intake")

#: schema field → column names accepted for it (compared after lower-casing and removing spaces/_)
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "case_id": ("case_id", "caseid", "系统编号"),
    "external_id": ("external_id", "externalid", "id", "案件编号", "编号", "案件号", "案号", "case_no", "caseno",
                    "事件编号", "工单号"),
    "address_text": ("address_text", "address", "addr", "地址", "发生地址", "事发地址", "案发地址", "详细地址",
                     "事件地址"),
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
    "dispute": "dispute", "矛盾纠纷": "dispute", "纠纷": "dispute", "矛盾": "dispute",
    "petition": "petition", "信访": "petition", "上访": "petition",
}
CATEGORY_VALUES = {
    "dispute": {
        "婚姻家庭": "family_marriage", "家庭": "family_marriage", "婚姻": "family_marriage",
        "邻里": "neighbour", "邻里纠纷": "neighbour", "土地": "land", "土地纠纷": "land",
        "劳资": "wages", "欠薪": "wages", "工资": "wages", "借贷": "loans_finance", "债务": "loans_finance",
        "物业": "property_mgmt", "交通": "traffic", "交通事故": "traffic", "医疗": "medical", "医患": "medical",
        "其他": "other",
    },
    "petition": {
        "土地": "petition_land", "社保": "petition_social_security", "社会保障": "petition_social_security",
        "住房": "petition_housing", "房屋": "petition_housing", "执法": "petition_law_enforcement",
        "涉法涉诉": "petition_law_enforcement", "其他": "petition_other",
    },
}
STATUS_VALUES = {
    "reported": "reported", "上报": "reported", "已上报": "reported", "登记": "reported", "已登记": "reported",
    "accepted": "accepted", "受理": "accepted", "已受理": "accepted",
    "in_progress": "in_progress", "办理中": "in_progress", "处理中": "in_progress", "调解中": "in_progress",
    "resolved": "resolved", "已化解": "resolved", "化解": "resolved", "已解决": "resolved", "调解成功": "resolved",
    "closed": "closed", "已办结": "closed", "办结": "closed", "结案": "closed", "已结案": "closed",
    "unresolved": "unresolved", "未化解": "unresolved", "调解失败": "unresolved",
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


@dataclass
class ImportReport:
    """What an import did: counts per outcome, reasons, the column mapping used."""

    batch_id: str
    filename: str
    sha256: str
    rows: int = 0
    accepted: int = 0
    review: int = 0
    rejected: int = 0
    new_cases: int = 0
    updated_cases: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        lines = [
            f"batch {self.batch_id}: {self.filename} ({self.rows:,} rows, sha256 {self.sha256[:12]}…) "
            f"in {self.seconds:.1f} s",
            f"accepted {self.accepted:,}, review {self.review:,}, rejected {self.rejected:,}; "
            f"{self.new_cases:,} new cases, {self.updated_cases:,} updated",
        ]
        lines += [f"  {count:6,}  {reason}" for reason, count in sorted(self.reasons.items(), key=lambda kv: -kv[1])]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


# --- reading ---------------------------------------------------------------------------------


def _max_upload_bytes() -> int:
    from gridmap.config import get_settings

    return int(get_settings().max_upload_bytes)


def read_upload(source: str | Path | bytes, filename: str | None = None, max_bytes: int | None = None) -> tuple[pd.DataFrame, str]:
    """Read a CSV (UTF-8, UTF-8 with BOM, GBK/GB18030), XLSX or JSON table as text cells.

    The formats and encodings are :func:`gridmap.loaders.read_table`'s; this adds the size
    check before reading a file and the checksum that identifies a re-import.

    Returns ``(frame, sha256)``; every cell is a str ('' for empty).  Raises
    :class:`~gridmap.errors.InputError` for an oversized, empty or unreadable file.
    """
    max_bytes = _max_upload_bytes() if max_bytes is None else int(max_bytes)
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
        name = filename or "upload"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(_too_big(path.name, size, max_bytes))
        data = path.read_bytes()
        name = filename or path.name
    if len(data) > max_bytes:
        raise InputError(_too_big(name, len(data), max_bytes))
    if not data.strip():
        raise InputError(f"{name}: the file is empty")
    digest = hashlib.sha256(data).hexdigest()
    frame, _ = read_table(data, name, max_bytes=max_bytes)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise InputError(f"{name}: no data rows")
    return frame.fillna("").astype(str), digest


def _too_big(name: str, size: int, limit: int) -> str:
    return (f"{name} is {size / 1e6:.1f} MB, larger than the upload limit of {limit / 1e6:.1f} MB "
            "(setting GRIDMAP_MAX_UPLOAD_BYTES); split the file")


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
            raise InputError(f"mapping {a!r} → {b!r}: one side must be a file column ({', '.join(columns)}), "
                             f"the other a case field ({', '.join(sorted(fields))})")
    taken = set(out.values())
    lookup = {_key(alias): f for f, aliases in COLUMN_ALIASES.items() for alias in aliases}
    for column in columns:
        if column in out:
            continue
        field_name = lookup.get(_key(column))
        if field_name and field_name not in taken:
            out[column] = field_name
            taken.add(field_name)
    if "address_text" not in taken and not {"raw_lon", "raw_lat"} <= taken:
        raise InputError(
            "no address column (地址/address) and no coordinate columns (经度/lon, 纬度/lat) found; "
            f"the file has: {', '.join(columns)}; pass a mapping"
        )
    return out


def _parse_times(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """ISO text per cell (None for empty) and a mask of cells that could not be read."""
    text = values.astype(str).str.strip()
    empty = text.eq("")
    cleaned = (text.str.replace(r"[年月/.]", "-", regex=True).str.replace("日", " ", regex=False)
               .str.replace("T", " ", regex=False).str.strip())
    parsed = pd.to_datetime(cleaned.where(~empty, None), errors="coerce", format="mixed")
    bad = ~empty & parsed.isna()
    iso = parsed.dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
    iso[pd.isna(parsed).to_numpy()] = None
    return iso, bad.to_numpy()


def _int_or_none(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.replace({"是": "1", "否": "0", "true": "1", "false": "0"}), errors="coerce").astype("Int64")


def map_rows(raw: pd.DataFrame, mapping: Mapping[str, str]) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """File rows → case fields; returns (frame of fields, per-row rejection reason or '', notes)."""
    n = len(raw)
    fields = pd.DataFrame(index=range(n))
    for column, field_name in mapping.items():
        fields[field_name] = raw[column].astype(str).str.strip().to_numpy()
    reject = np.full(n, "", dtype=object)
    notes: list[str] = []

    def col(name: str) -> pd.Series:
        return fields[name] if name in fields else pd.Series([""] * n, dtype=object)

    kind_text = col("kind")
    kind = kind_text.map(lambda v: KIND_VALUES.get(v.lower() if v.isascii() else v))
    missing_kind = kind_text.eq("")
    kind = kind.where(~missing_kind, "dispute")
    bad_kind = kind.isna().to_numpy()
    reject[bad_kind] = [f"unknown kind {v!r} (use dispute/矛盾纠纷 or petition/信访)" for v in kind_text[bad_kind]]
    if missing_kind.any() and "kind" in fields:
        notes.append(f"{int(missing_kind.sum())} rows without kind were taken as disputes")
    elif "kind" not in fields:
        notes.append("no kind column: every row taken as a dispute")
    fields["kind"] = kind.fillna("dispute").to_numpy()

    category = col("category")
    mapped = np.empty(n, dtype=object)
    unknown_category = 0
    for i, (k, c) in enumerate(zip(fields["kind"], category, strict=True)):
        value = CATEGORY_VALUES[k].get(c, c)
        if value not in CATEGORIES[k]:
            unknown_category += bool(c)
            value = "other" if k == "dispute" else "petition_other"
        mapped[i] = value
    if unknown_category:
        notes.append(f"{unknown_category} rows with an unknown category were filed as other")
    fields["category"] = mapped

    status_text = col("status")
    status = status_text.map(lambda v: STATUS_VALUES.get(v.lower() if v.isascii() else v))
    unknown_status = status.isna() & status_text.ne("")
    if unknown_status.any():
        notes.append(f"{int(unknown_status.sum())} rows with an unknown status were taken as reported")
    fields["status"] = status.fillna("reported").to_numpy()

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


def _case_ids(store, fields: pd.DataFrame, sha256: str) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Case id per row (existing case with the same external id, else derived), whether it
    already exists, and the existing rows' geocode fields."""
    n = len(fields)
    existing = store.read(
        "cases",
        columns=["case_id", "external_id", "geocode_status", "address_text", "raw_lon", "raw_lat", "raw_crs",
                 "lon", "lat", "precision", "score", "reason", "grid_code", "village_code", "township_code",
                 "county_code"],
    )
    existing = pd.DataFrame(existing).drop(columns=["geometry"], errors="ignore")
    by_external = dict(zip(existing["external_id"].astype(str), existing["case_id"].astype(str), strict=True)) if len(existing) else {}
    external = fields["external_id"] if "external_id" in fields else pd.Series([""] * n)
    explicit = fields["case_id"] if "case_id" in fields else pd.Series([""] * n)
    ids = np.empty(n, dtype=object)
    for i, (cid, ext) in enumerate(zip(explicit, external, strict=True)):
        if cid:
            ids[i] = cid
        elif ext:
            ids[i] = by_external.get(ext, ext)
        else:
            ids[i] = f"IMP-{sha256[:12]}-{i + 1}"  # no id: the file and row identify the case
    known = set(existing["case_id"].astype(str)) if len(existing) else set()
    exists = np.array([i in known for i in ids], dtype=bool)
    return ids, exists, existing.set_index("case_id") if len(existing) else existing


def import_cases(
    store,
    source: str | Path | bytes,
    filename: str | None = None,
    mapping: Mapping[str, str] | None = None,
    matcher: AddressMatcher | None = None,
    grids: gpd.GeoDataFrame | None = None,
    actor: str = "system",
    context: GeocodeContext | None = None,
) -> ImportReport:
    """Import a case file into ``store`` (see the module doc); returns the :class:`ImportReport`.

    ``matcher``/``grids`` default to the store's addresses and the active plan's grids
    (``context`` may carry both, prebuilt, for repeated imports).
    """
    t0 = time.perf_counter()
    raw, sha256 = read_upload(source, filename)
    name = filename or (Path(source).name if not isinstance(source, bytes | bytearray) else "upload")
    column_map = resolve_mapping(list(raw.columns), mapping)
    fields, reject, notes = map_rows(raw, column_map)
    n = len(fields)

    if context is None:
        admin_units = store.read("admin_units")
        if grids is None:
            plan_id = store.active_plan_id()
            grids = store.read("grids", where={"plan_id": plan_id}) if plan_id else None
        if matcher is None:
            addresses = store.read("addresses")
            if not len(addresses):
                raise InputError("the store has no standard addresses to match against; build the demo first")
            matcher = AddressMatcher(addresses, admin_units)
        context = GeocodeContext.build(None, admin_units, grids, matcher=matcher)
    if context.grid_index is None:
        notes.append("no active grid plan: accepted cases get no grid")

    case_ids, exists, existing = _case_ids(store, fields, sha256)
    # The same case twice in one file: the last row wins, earlier ones are rejected.
    last = pd.Series(np.arange(n)).groupby(case_ids).transform("max").to_numpy()
    duplicate = (last != np.arange(n)) & (reject == "")
    reject[duplicate] = [f"duplicate external id: row {last[i] + 2} of the file has the same case" for i in np.flatnonzero(duplicate)]

    result = geocode_rows(context, fields["address_text"] if "address_text" in fields else [""] * n,
                          fields.get("raw_lon"), fields.get("raw_lat"), fields.get("raw_crs"))

    # A case a reviewer already placed keeps that decision if its location data did not change.
    kept = np.zeros(n, dtype=bool)
    if len(existing):
        manual = set(existing.index[existing["geocode_status"].eq("manual").to_numpy()])
        same_case = exists & (reject == "") & np.array([c in manual for c in case_ids], dtype=bool)
        for i in np.flatnonzero(same_case):
            old = existing.loc[case_ids[i]]
            unchanged = (_text(old["address_text"]) == (_text(fields.at[i, "address_text"]) if "address_text" in fields else "")
                         and _same_number(old["raw_lon"], fields.at[i, "raw_lon"] if "raw_lon" in fields else "")
                         and _same_number(old["raw_lat"], fields.at[i, "raw_lat"] if "raw_lat" in fields else ""))
            if unchanged:
                kept[i] = True
                for name in ("lon", "lat", "precision", "score", "geocode_status", "reason", "grid_code",
                             "village_code", "township_code", "county_code"):
                    result.at[i, name] = old[name]
                result.at[i, "candidates"] = []
        if kept.any():
            notes.append(f"{int(kept.sum())} cases placed by a reviewer kept their placement (location unchanged)")

    status = result["geocode_status"].to_numpy(dtype=object).copy()
    status[kept] = "accepted"
    reason = result["reason"].fillna("").to_numpy(dtype=object).copy()
    status[reject != ""] = "rejected"
    reason[reject != ""] = reject[reject != ""]

    batch_id = f"{datetime.now():%Y%m%d%H%M%S}-{sha256[:8]}-{secrets.token_hex(2)}"
    created = _now()
    write = reject == ""
    cases = _case_frame(fields, result, case_ids, write, batch_id)

    reasons = Counter(reason_kind(r) for r, s in zip(reason, status, strict=True) if s != "accepted" and r)
    report = ImportReport(
        batch_id=batch_id, filename=name, sha256=sha256, rows=n,
        accepted=int((status == "accepted").sum()), review=int((status == "review").sum()),
        rejected=int((status == "rejected").sum()),
        new_cases=int((write & ~exists).sum()), updated_cases=int((write & exists).sum()),
        reasons=dict(reasons.most_common()), mapping=column_map,
        ignored_columns=[c for c in raw.columns if c not in column_map], notes=notes,
    )
    external = fields["external_id"] if "external_id" in fields else pd.Series([None] * n)
    rows = pd.DataFrame({
        "batch_id": batch_id,
        "row_number": np.arange(n, dtype=np.int64) + 2,  # as a spreadsheet shows it: row 1 is the header
        "external_id": external.replace("", None).to_numpy(dtype=object),
        "case_id": np.where(write, case_ids, None),
        "status": status,
        "reason": reason,
        "candidates": [candidates_json(c) if s == "review" else None
                       for c, s in zip(result["candidates"], status, strict=True)],
    })
    report.seconds = time.perf_counter() - t0
    batch = pd.DataFrame([{
        "batch_id": batch_id, "filename": name, "sha256": sha256, "created_at": created, "actor": actor,
        "rows": n, "accepted": report.accepted, "review": report.review, "rejected": report.rejected,
        "report": json.dumps(report.to_dict(), ensure_ascii=False),
    }])
    with store.transaction():
        if len(cases):
            store.upsert("cases", cases)
        store.write("import_batches", batch)
        store.write("import_rows", rows)
    report.seconds = time.perf_counter() - t0
    log.info("import %s: %d rows, %d accepted, %d review, %d rejected in %.1f s",
             batch_id, n, report.accepted, report.review, report.rejected, report.seconds)
    return report


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


def _case_frame(fields: pd.DataFrame, result: pd.DataFrame, case_ids: np.ndarray, write: np.ndarray,
                batch_id: str) -> gpd.GeoDataFrame:
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
    for name in ("lon", "lat", "precision", "score", "geocode_status", "reason", "grid_code",
                 "village_code", "township_code", "county_code"):
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
    geometry[accepted] = shapely.points(frame["lon"].to_numpy(float)[accepted], frame["lat"].to_numpy(float)[accepted])
    keep = [c for c in columns if c in frame]
    return gpd.GeoDataFrame(frame[keep], geometry=gpd.GeoSeries(geometry, crs=WGS84).values, crs=WGS84)


# --- review -----------------------------------------------------------------------------------

REVIEW_COLUMNS = ["case_id", "external_id", "kind", "category", "reported_at", "address_text", "raw_lon",
                  "raw_lat", "raw_crs", "reason"]


def review_queue(store, limit: int = 50, offset: int = 0) -> pd.DataFrame:
    """Cases waiting for a person (geocode_status ``review``), oldest report first, with candidates.

    No personal fields: the queue shows what is needed to place a case.
    """
    page = store.read("cases", where={"geocode_status": "review"}, columns=REVIEW_COLUMNS,
                      order_by=["reported_at", "case_id"], limit=int(limit), offset=int(offset))
    page = pd.DataFrame(page).drop(columns=["geometry"], errors="ignore").reset_index(drop=True)
    candidates = [[] for _ in range(len(page))]
    if len(page):
        rows = store.read("import_rows", where={"case_id": page["case_id"].tolist()},
                          columns=["batch_id", "case_id", "candidates"])
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
        values = {"geocode_status": "rejected", "reason": f"{reason or 'rejected in review'} ({stamp})",
                  "lon": None, "lat": None, "grid_code": None, "precision": "none", "score": 0.0, "geometry": None}
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
            raise InputError(f"place needs numeric lon and lat (WGS-84 degrees), got {lon!r}, {lat!r}") from None
        admin = store.read("admin_units", where={"level": ["city", "county"]})
        from gridmap.geocode.batch import city_outline

        check = check_declared_points([lon_], [lat_], "wgs84", city_outline(admin), _margin_km())
        if check.flag[0] != FLAG_OK:
            raise InputError(f"cannot place case {case_id} at ({lon_}, {lat_}): {FLAG_REASONS[check.flag[0]]}")
        precision, note = "manual", f"placed by hand ({stamp})"
        codes = _admin_codes_at(store, lon_, lat_)
    else:
        raise InputError(f"unknown review action {action!r}: use pick, place or reject")
    grid = _grid_at(store, lon_, lat_)
    if grid is not None:
        codes = {c: grid[c] for c in ("village_code", "township_code", "county_code") if grid.get(c)} or codes
    values = {
        "lon": lon_, "lat": lat_, "precision": precision, "score": 100.0, "geocode_status": "manual",
        "reason": note, "grid_code": grid["code"] if grid is not None else None,
        **codes, "geometry": shapely.Point(lon_, lat_),
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
    near = store.read("admin_units", where={"level": "village"}, bbox=(lon - eps, lat - eps, lon + eps, lat + eps))
    if not len(near):
        return {}
    code = assign_points([lon], [lat], near)[0]
    if code is None:
        return {}
    row = near[near["code"] == code].iloc[0]
    township = row["parent_code"]
    county = store.read("admin_units", where={"code": township}, columns=["parent_code"])
    return {"village_code": code, "township_code": township,
            "county_code": county["parent_code"].iloc[0] if len(county) else None}
