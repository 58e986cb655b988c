"""Kind ``workers``: the grid-worker roster (网格员花名册) → ``workers``.

Fields: worker id (工号, the external id: a worker is matched by it only), name, phone,
ID number (personal fields: stored, masked by role in the API, never logged or reported),
role (专职 → ``full_time``, 兼职 → ``part_time``, 干部, 民警), village code, hire date and
whether active (在岗).  An unknown role or village code sends the row to review.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.imports.common import ROLE_VALUES, drop_repeats, map_columns, parse_times
from gridmap.imports.framework import (
    REJECTED,
    REVIEW,
    BatchReport,
    Prepared,
    Progress,
    import_tabular,
)

KIND = "workers"
TABLE = "workers"
ALIASES: dict[str, tuple[str, ...]] = {
    "worker_id": ("worker_id", "id", "工号", "编号", "网格员编号", "人员编号", "账号"),
    "name": ("name", "姓名", "网格员", "网格员姓名"),
    "phone": ("phone", "mobile", "电话", "手机", "手机号", "联系电话"),
    "id_number": ("id_number", "身份证", "身份证号", "身份证号码"),
    "role": ("role", "类型", "岗位", "网格员类型", "专兼职", "性质"),
    "village_code": ("village_code", "村社区代码", "所属村社区代码", "村代码", "社区代码", "区划代码"),
    "township_code": ("township_code", "乡镇代码", "苏木乡镇代码", "所属乡镇代码", "街道代码"),
    "hired_at": ("hired_at", "入职时间", "入职日期", "聘用日期"),
    "active": ("active", "在岗", "状态", "在职"),
}
_ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")
_ACTIVE = {
    "是": 1,
    "在岗": 1,
    "在职": 1,
    "1": 1,
    "true": 1,
    "yes": 1,
    "否": 0,
    "离岗": 0,
    "离职": 0,
    "0": 0,
    "false": 0,
    "no": 0,
}


def prepare(store, table, mapping: Mapping[str, str] | None = None) -> Prepared:
    fields, column_map, rows = map_columns(table, ALIASES, mapping, ("worker_id",), KIND)
    n = len(fields)
    rows.mark(fields["worker_id"].eq("").to_numpy(), REJECTED, "no worker id")
    drop_repeats(fields["worker_id"].to_numpy(dtype=object), rows, "worker id")
    records = pd.DataFrame({"worker_id": fields["worker_id"].to_numpy(dtype=object)})
    carried = []
    for name in ("name", "phone", "id_number"):
        if name in fields:
            records[name] = fields[name].replace("", None).to_numpy(dtype=object)
            carried.append(name)
    if "id_number" in fields:
        bad = fields["id_number"].ne("").to_numpy() & ~fields["id_number"].str.match(_ID_NUMBER).to_numpy()
        rows.mark(bad, REVIEW, "ID number is not 18 characters (17 digits and a digit or X)")
    if "role" in fields:
        role = fields["role"].map(lambda v: ROLE_VALUES.get(v.strip().lower() if v.isascii() else v.strip()))
        rows.mark(
            (role.isna() & fields["role"].ne("")).to_numpy(),
            REVIEW,
            "unknown role (use 专职, 兼职, 干部, 民警 or 信访代办员)",
        )
        records["role"] = role.to_numpy(dtype=object)
        carried.append("role")
    if "village_code" in fields:
        known = set(
            store.read("admin_units", where={"level": "village"}, columns=["code"])["code"].astype(str)
        )
        code = fields["village_code"]
        rows.mark(
            code.ne("").to_numpy() & ~code.isin(known).to_numpy(),
            REVIEW,
            "village code not in the store's units",
        )
        records["village_code"] = code.replace("", None).to_numpy(dtype=object)
        carried.append("village_code")
    if "township_code" in fields:
        # a township's agent has a post but no village (信访代办员 at 苏木乡镇 level)
        known = set(
            store.read("admin_units", where={"level": "township"}, columns=["code"])["code"].astype(str)
        )
        code = fields["township_code"]
        rows.mark(
            code.ne("").to_numpy() & ~code.isin(known).to_numpy(),
            REVIEW,
            "township code not in the store's units",
        )
        records["township_code"] = code.replace("", None).to_numpy(dtype=object)
        carried.append("township_code")
    if "hired_at" in fields:
        iso, bad = parse_times(fields["hired_at"])
        rows.mark(bad, REVIEW, "unreadable hire date")
        records["hired_at"] = [v[:10] if isinstance(v, str) else None for v in iso]
        carried.append("hired_at")
    if "active" in fields:
        active = fields["active"].str.lower().map(_ACTIVE)
        rows.mark((active.isna() & fields["active"].ne("")).to_numpy(), REVIEW, "unreadable 在岗 value")
        records["active"] = active.astype("Int64")
        carried.append("active")
    records["source"] = f"import {table.name}"
    carried.append("source")
    defaults = {"active": 1, "role": "full_time"}
    return Prepared(
        records=records,
        status=rows.status,
        reason=rows.reason,
        carried=carried,
        keep={"source": np.ones(n, dtype=bool)},
        defaults=defaults,
        external_id=fields["worker_id"].to_numpy(dtype=object),
        mapping=column_map,
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
    """Import a roster (CSV/XLSX/JSON); returns the batch report."""
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
