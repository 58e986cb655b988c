"""Kind ``petition_visits``: follow-up visits of petition items (回访) → ``petition_visits``.

Fields: visit number (回访编号, the key, matched by it only; a file without one keys each
visit by its item and date, in a namespace of its own), item number (事项编号: an item in the
store), date (回访日期), by whom (回访人, a worker id), how (回访方式: 电话 / 上门 / 微信 or
phone / in_person / wechat) and satisfaction (满意度, 1–5).

Every check is :func:`gridmap.coverage.petitions.check_visits`'s; a visit whose item is
neither stored nor in the same upload is rejected with the reason.  A visitor not on the
roster sends the row to review.  An existing visit changes only in the columns the file carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.domain import VISIT_METHODS
from gridmap.errors import InputError
from gridmap.imports.common import drop_repeats, map_columns
from gridmap.imports.framework import (
    REJECTED,
    REVIEW,
    BatchReport,
    Prepared,
    Progress,
    import_tabular,
    stable_key,
)
from gridmap.imports.petition_items import apply_check, iso_or_raw, stored_frame

KIND = "petition_visits"
TABLE = "petition_visits"
#: prefix of visit ids derived from item and date (a file without visit numbers)
DERIVED_PREFIX = "PV-"
ALIASES: dict[str, tuple[str, ...]] = {
    "visit_id": ("visit_id", "id", "编号", "回访编号", "回访记录编号"),
    "item_id": ("item_id", "item", "事项编号", "代办编号", "代办事项编号", "代办件编号"),
    "visited_at": ("visited_at", "回访日期", "回访时间"),
    "visitor_id": ("visitor_id", "visitor", "回访人", "回访人编号", "回访人工号"),
    "method": ("method", "回访方式", "方式"),
    "satisfaction": ("satisfaction", "满意度", "满意程度", "评分"),
}
METHOD_VALUES = {
    **{zh: key for key, (zh, _) in VISIT_METHODS.items()},
    **{en.lower(): key for key, (_, en) in VISIT_METHODS.items()},
    "电话": "phone",
    "上门": "in_person",
    "走访": "in_person",
    "当面": "in_person",
    "微信": "wechat",
}


def prepare(
    store, table, mapping: Mapping[str, str] | None = None, new_items: set[str] | None = None
) -> Prepared:
    from gridmap.coverage.duty import VISIT_COLUMNS
    from gridmap.coverage.petitions import check_visits

    fields, column_map, rows = map_columns(table, ALIASES, mapping, (), KIND)
    n = len(fields)
    derived = "visit_id" not in fields
    if derived:
        if "visited_at" not in fields or "item_id" not in fields:
            raise InputError(
                f"{table.name}: no visit number column (回访编号) and not both item (事项编号) and "
                f"date (回访日期) to key a visit by; the file has {', '.join(table.frame.columns)}; "
                "use --map field=column"
            )
        day = pd.Series(iso_or_raw(fields["visited_at"]), dtype=object).fillna("").astype(str).str[:10]
        ids = pd.Series(stable_key(DERIVED_PREFIX, (fields["item_id"] + "|" + day).to_numpy()), dtype=object)
        ids[fields["item_id"].eq("").to_numpy() | day.eq("").to_numpy()] = ""
        rows.mark(ids.eq("").to_numpy(), REJECTED, "no visit number, and no item or date to key the visit by")
    else:
        ids = fields["visit_id"]
        rows.mark(ids.eq("").to_numpy(), REJECTED, "no visit number (回访编号)")
    drop_repeats(ids.to_numpy(dtype=object), rows, "visit")
    old = stored_frame(store, TABLE, "visit_id", ids)
    is_existing = ids.isin(set(old.index.astype(str))).to_numpy()
    given = set(fields.columns)

    frame = pd.DataFrame({"visit_id": ids.to_numpy(dtype=object)})
    for column in VISIT_COLUMNS[1:]:
        if column in fields:
            values = fields[column]
            if column == "visited_at":
                values = pd.Series(iso_or_raw(values), dtype=object)
            frame[column] = values.replace("", None).to_numpy(dtype=object)
        elif len(old) and column in old.columns:
            frame[column] = old[column].reindex(ids).astype(object).to_numpy(dtype=object)
        else:
            frame[column] = None
    if "method" in fields:
        frame["method"] = [
            METHOD_VALUES.get(v.lower() if v.isascii() else v, v) if v else None for v in fields["method"]
        ]
    if "satisfaction" in fields:
        frame["satisfaction"] = (
            fields["satisfaction"].str.replace(r"\s*分$", "", regex=True).replace("", None)
        )

    columns = list(VISIT_COLUMNS)
    records = apply_check(
        rows, frame, lambda f: check_visits(f, store, new_items), "visit_id", columns, column_map
    )
    unknown = np.array([str(r).startswith("item_id is not a petition item") for r in rows.reason], dtype=bool)
    rows.reason[unknown] = [
        f"{r}: no item {i!r} in the store or in this upload (import petition_items first)"
        for r, i in zip(rows.reason[unknown], frame["item_id"][unknown], strict=True)
    ]
    if "visitor_id" in fields:
        visitors = fields["visitor_id"]
        wanted = sorted(set(visitors[visitors.ne("")]))
        roster = (
            set(
                store.read("workers", where={"worker_id": wanted}, columns=["worker_id"])["worker_id"].astype(
                    str
                )
            )
            if wanted
            else set()
        )
        rows.mark(
            visitors.ne("").to_numpy() & ~visitors.isin(roster).to_numpy(),
            REVIEW,
            "visitor (回访人) not on the roster (import workers first)",
        )
    records["source"] = f"import {table.name}"
    keep = {c: is_existing for c in columns[1:] if c not in given}
    keep["source"] = np.ones(n, dtype=bool)
    notes = ["no visit number column: each visit is keyed by its item and date"] if derived else []
    return Prepared(
        records=records,
        status=rows.status,
        reason=rows.reason,
        carried=[*columns[1:], "source"],
        keep=keep,
        external_id=(None if derived else ids.to_numpy(dtype=object)),
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
    """Import follow-up visits (CSV/XLSX/JSON); returns the batch report."""
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
