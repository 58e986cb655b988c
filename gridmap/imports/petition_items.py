"""Kind ``petition_items``: petition items agents take on (信访代办事项) → ``petition_items``.

Fields: item number (编号, the key: an item is matched by it only, like a worker by 工号),
agent (代办员, a worker with role ``agent``), date taken on (受理日期), date done (办结日期),
deadline (期限: a date, or a number of days after the date taken on), status (状态: 在办 /
办结 …), the case (系统编号 names an internal case id; 案件编号 / 信访件编号 a case's external
id, matched only against ``cases.external_id``) and village/township/county codes.

Every check is :func:`gridmap.coverage.petitions.check_items`'s (required agent and date,
agent is an agent, done not before taken, status, case is a petition, default deadline and
codes).  A row for an existing item is checked with the stored values of the columns the
file lacks, and only the columns the file carries change (a done date changes the status).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.imports.common import Rows, drop_repeats, map_columns, parse_times
from gridmap.imports.framework import REJECTED, BatchReport, Prepared, Progress, import_tabular

KIND = "petition_items"
TABLE = "petition_items"
ALIASES: dict[str, tuple[str, ...]] = {
    "item_id": ("item_id", "id", "编号", "事项编号", "代办编号", "代办事项编号", "代办件编号"),
    "agent_id": ("agent_id", "agent", "代办员", "代办员编号", "代办员工号", "代办人"),
    "taken_at": ("taken_at", "taken", "受理日期", "代办日期", "受理时间", "接办日期"),
    "done_at": ("done_at", "done", "办结日期", "办结时间", "完成日期"),
    "deadline_at": ("deadline_at", "deadline", "期限", "办理期限", "截止日期"),
    "status": ("status", "状态", "办理状态"),
    "case_id": ("case_id", "系统编号", "案件系统编号"),
    "case_external_id": ("case_external_id", "case_no", "案件编号", "信访件编号", "信访编号"),
    "village_code": ("village_code", "村社区代码", "村代码", "社区代码"),
    "township_code": ("township_code", "乡镇代码", "街道代码", "乡镇街道代码"),
    "county_code": ("county_code", "旗县区代码", "县区代码", "区县代码"),
}
STATUS_VALUES = {
    "open": "open",
    "在办": "open",
    "办理中": "open",
    "代办中": "open",
    "未办结": "open",
    "受理": "open",
    "已受理": "open",
    "done": "done",
    "办结": "done",
    "已办结": "done",
    "完成": "done",
    "已完成": "done",
}
_DAYS = re.compile(r"^(\d{1,3})\s*(天|日|days?)?$", re.IGNORECASE)
DATE_COLUMNS = ("taken_at", "deadline_at", "done_at")


def iso_or_raw(values: pd.Series) -> np.ndarray:
    """Readable dates (2022/3/5, 2022年3月5日, Excel dates) as ISO text; unreadable cells as
    they are (the coverage check rejects them with its reason); blanks None."""
    iso, bad = parse_times(values)
    raw = values.to_numpy(dtype=object)
    return np.where(bad, raw, iso).astype(object)


def with_columns(reasons: np.ndarray, column_map: Mapping[str, str]) -> np.ndarray:
    """``taken_at is not …`` → ``taken_at is not … (column 受理日期)``: the file's own name."""
    by_field = {f: c for c, f in column_map.items()}
    out = reasons.copy()
    for i, r in enumerate(reasons):
        name = str(r).split(" ", 1)[0]
        if name in by_field and by_field[name] != name:
            out[i] = f"{r} (column {by_field[name]})"
    return out


def apply_check(
    rows: Rows, frame: pd.DataFrame, check, id_column: str, columns: list[str], column_map: Mapping[str, str]
) -> pd.DataFrame:
    """Run a coverage check on the live rows; its rejections onto ``rows``; the checked record per file row."""
    live = np.flatnonzero(rows.live)
    outcome = check(frame.iloc[live].reset_index(drop=True))
    bad = np.zeros(len(frame), dtype=bool)
    reasons = np.full(len(frame), "", dtype=object)
    if len(outcome.rejected):
        positions = live[outcome.rejected["row"].to_numpy(dtype=int)]
        bad[positions] = True
        reasons[positions] = with_columns(
            outcome.rejected["reason"].astype(str).to_numpy(dtype=object), column_map
        )
    rows.mark(bad, REJECTED, reasons)
    good = np.setdiff1d(live, np.flatnonzero(bad))
    records = pd.DataFrame({c: pd.Series([None] * len(frame), dtype=object) for c in columns})
    records[id_column] = frame[id_column].to_numpy(dtype=object)
    for c in columns:
        if c in outcome.accepted.columns:
            if str(outcome.accepted[c].dtype) == "Int64":
                records[c] = pd.array([pd.NA] * len(frame), dtype="Int64")
            records.loc[good, c] = outcome.accepted[c].to_numpy()
    return records


def stored_frame(store, table: str, key: str, ids: pd.Series) -> pd.DataFrame:
    wanted = sorted(set(ids[ids.ne("")]))
    existing = store.read(table, where={key: wanted}) if wanted else pd.DataFrame(columns=[key])
    return pd.DataFrame(existing).drop_duplicates(key).set_index(key)


def prepare(store, table, mapping: Mapping[str, str] | None = None) -> Prepared:
    from gridmap.coverage.duty import ITEM_COLUMNS
    from gridmap.coverage.petitions import check_items

    fields, column_map, rows = map_columns(table, ALIASES, mapping, ("item_id",), KIND)
    n = len(fields)
    ids = fields["item_id"]
    rows.mark(ids.eq("").to_numpy(), REJECTED, "no item number (编号)")
    drop_repeats(ids.to_numpy(dtype=object), rows, "item number")
    old = stored_frame(store, TABLE, "item_id", ids)
    is_existing = ids.isin(set(old.index.astype(str))).to_numpy()

    given = set(fields.columns)
    if "case_external_id" in given:
        given.add("case_id")
    if "done_at" in given:
        given.add("status")  # the status follows the done date
    if "village_code" in given:
        given |= {"township_code", "county_code"}  # derived from the village where the file lacks them

    frame = pd.DataFrame({"item_id": ids.to_numpy(dtype=object)})
    for column in ITEM_COLUMNS[1:]:
        if column in fields:
            values = fields[column]
            if column in DATE_COLUMNS:
                values = pd.Series(iso_or_raw(values), dtype=object)
            frame[column] = values.replace("", None).to_numpy(dtype=object)
        elif column not in given and len(old) and column in old.columns:
            frame[column] = old[column].reindex(ids).to_numpy(dtype=object)
        else:
            frame[column] = None
    if "status" in fields:
        text = fields["status"]
        frame["status"] = [STATUS_VALUES.get(v.lower() if v.isascii() else v, v) if v else None for v in text]
    if "deadline_at" in fields:
        days = fields["deadline_at"].str.extract(_DAYS)[0]
        taken = pd.to_datetime(pd.Series(frame["taken_at"], dtype=object), errors="coerce", format="ISO8601")
        from_days = (taken + pd.to_timedelta(pd.to_numeric(days, errors="coerce"), unit="D")).dt.strftime(
            "%Y-%m-%dT%H:%M:%S"
        )
        frame["deadline_at"] = np.where(
            days.notna().to_numpy(),
            from_days.to_numpy(dtype=object),
            frame["deadline_at"].to_numpy(dtype=object),
        )
    if "case_external_id" in fields:
        numbers = fields["case_external_id"]
        wanted = sorted(set(numbers[numbers.ne("")]))
        cases = (
            pd.DataFrame(
                store.read("cases", where={"external_id": wanted}, columns=["case_id", "external_id"])
            )
            if wanted
            else pd.DataFrame(columns=["case_id", "external_id"])
        )
        by_number = dict(zip(cases["external_id"].astype(str), cases["case_id"].astype(str), strict=True))
        found = numbers.map(by_number)
        explicit = frame["case_id"].notna().to_numpy() if "case_id" in fields else np.zeros(n, dtype=bool)
        rows.mark(
            numbers.ne("").to_numpy() & found.isna().to_numpy() & ~explicit,
            REJECTED,
            "case number not among the cases' external ids (import the cases first)",
        )
        frame["case_id"] = np.where(
            explicit, frame["case_id"].to_numpy(dtype=object), found.to_numpy(dtype=object)
        )

    columns = list(ITEM_COLUMNS)
    records = apply_check(rows, frame, lambda f: check_items(f, store), "item_id", columns, column_map)
    records["source"] = f"import {table.name}"
    keep = {c: is_existing for c in columns[1:] if c not in given}
    keep["source"] = np.ones(n, dtype=bool)
    notes = []
    if is_existing.any():
        notes.append(f"{int(is_existing.sum()):,} items already stored: only the columns of the file change")
    return Prepared(
        records=records,
        status=rows.status,
        reason=rows.reason,
        carried=[*columns[1:], "source"],
        keep=keep,
        external_id=ids.to_numpy(dtype=object),
        mapping=column_map,
        notes=notes,
        ignored_columns=[c for c in table.frame.columns if c not in column_map],
    )


def import_file(
    store,
    source: str | Path | bytes,
    filename: str | None = None,
    mapping: Mapping[str, str] | None = None,
    *,
    actor: str = "system",
    sheet: str | None = None,
    encoding: str | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
    **_: object,
) -> BatchReport:
    """Import petition items (CSV/XLSX/JSON); returns the batch report."""
    return import_tabular(
        store,
        KIND,
        TABLE,
        lambda table: prepare(store, table, mapping),
        source,
        filename,
        actor=actor,
        sheet=sheet,
        encoding=encoding,
        progress=progress,
        max_bytes=max_bytes,
    )
