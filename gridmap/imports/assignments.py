"""Kind ``assignments``: worker → grid (or → village: every grid of it) with dates.

Fields: worker id, grid code (15 digits) or village code (12 digits), role, valid from,
valid to.  The grid must be in the plan (``--plan`` name or id, default the active plan);
a village assignment becomes one row per grid of that village in the plan.  The
``assignment_id`` comes from :func:`gridmap.coverage.assignments.assignment_ids`
(worker, grid, role, start), so a re-import finds the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.errors import InputError
from gridmap.imports.common import ROLE_VALUES, Rows, drop_repeats, map_columns, parse_times
from gridmap.imports.framework import (
    REJECTED,
    REVIEW,
    BatchReport,
    Prepared,
    Progress,
    import_tabular,
)

KIND = "assignments"
TABLE = "assignments"
ALIASES: dict[str, tuple[str, ...]] = {
    "worker_id": ("worker_id", "worker", "工号", "网格员编号", "人员编号"),
    "grid_code": ("grid_code", "grid", "网格编码", "网格代码", "网格编号"),
    "village_code": ("village_code", "村社区代码", "村代码", "社区代码"),
    "role": ("role", "岗位", "类型", "专兼职"),
    "valid_from": ("valid_from", "from", "开始日期", "起始日期", "任职日期", "生效日期"),
    "valid_to": ("valid_to", "to", "结束日期", "截止日期", "离任日期", "失效日期"),
}


def plan_id_for(store, plan: str | None) -> str:
    """The plan ``plan`` names (id or name), else the active plan; one-line error otherwise."""
    if plan:
        plans = store.read("plans", columns=["plan_id", "name"])
        hit = plans[(plans["plan_id"] == plan) | (plans["name"] == plan)]
        if not len(hit):
            raise InputError(f"no plan {plan!r} (gridmap plan list)")
        return str(hit["plan_id"].iloc[-1])
    active = store.active_plan_id()
    if active is None:
        raise InputError("no active plan: import grids first (gridmap import grids FILE) or pass --plan")
    return active


def prepare(store, table, mapping: Mapping[str, str] | None = None, plan: str | None = None) -> Prepared:
    from gridmap.coverage.assignments import assignment_ids

    fields, column_map, rows = map_columns(table, ALIASES, mapping, ("worker_id",), KIND)
    if "grid_code" not in fields and "village_code" not in fields:
        raise InputError(f"{table.name}: no grid column (网格编码) and no village column (村社区代码)")
    plan_id = plan_id_for(store, plan)
    grids = pd.DataFrame(store.read("grids", where={"plan_id": plan_id}, columns=["code", "village_code"]))
    n = len(fields)
    rows.mark(fields["worker_id"].eq("").to_numpy(), REJECTED, "no worker id")
    roster = set(store.read("workers", columns=["worker_id"])["worker_id"].astype(str))
    rows.mark(
        ~fields["worker_id"].isin(roster).to_numpy(),
        REVIEW,
        "worker not on the roster (import workers first)",
    )
    grid = fields["grid_code"] if "grid_code" in fields else pd.Series([""] * n)
    village = fields["village_code"] if "village_code" in fields else pd.Series([""] * n)
    rows.mark((grid.eq("") & village.eq("")).to_numpy(), REJECTED, "neither a grid nor a village")
    rows.mark(
        grid.ne("").to_numpy() & ~grid.isin(set(grids["code"])).to_numpy(),
        REJECTED,
        f"grid code not in plan {plan_id}",
    )
    rows.mark(
        grid.eq("").to_numpy()
        & village.ne("").to_numpy()
        & ~village.isin(set(grids["village_code"])).to_numpy(),
        REJECTED,
        f"village has no grid in plan {plan_id}",
    )
    role_text = fields["role"] if "role" in fields else pd.Series(["专职"] * n)
    role = role_text.map(
        lambda v: ROLE_VALUES.get(v.strip().lower() if v.isascii() else v.strip(), None) if v else "full_time"
    )
    rows.mark(role.isna().to_numpy(), REVIEW, "unknown role (专职, 兼职, 干部, 民警); taken as 专职")
    role = role.fillna("full_time")
    dates = {}
    for name in ("valid_from", "valid_to"):
        if name in fields:
            iso, bad = parse_times(fields[name])
            rows.mark(bad, REJECTED, f"unreadable {name}")
            dates[name] = pd.Series([v[:10] if isinstance(v, str) else "" for v in iso])
        else:
            dates[name] = pd.Series([""] * n)
    late = (
        dates["valid_to"].ne("") & dates["valid_from"].ne("") & (dates["valid_to"] < dates["valid_from"])
    ).to_numpy()
    rows.mark(late, REJECTED, "ends before it starts")

    # one output row per grid: a village row fans out to the village's grids
    by_village = grids.groupby("village_code")["code"].apply(list).to_dict()
    targets = [[g] if g else by_village.get(v, [None]) for g, v in zip(grid, village, strict=True)]
    owner = np.repeat(np.arange(n), [len(t) for t in targets])
    grid_codes = pd.Series([c for t in targets for c in t], dtype=object)
    frame = pd.DataFrame(
        {
            "worker_id": fields["worker_id"].to_numpy(dtype=object)[owner],
            "plan_id": plan_id,
            "grid_code": grid_codes.to_numpy(),
            "role": role.to_numpy(dtype=object)[owner],
            "valid_from": dates["valid_from"].to_numpy(dtype=object)[owner],
            "valid_to": dates["valid_to"].replace("", None).to_numpy(dtype=object)[owner],
        }
    )
    frame["assignment_id"] = assignment_ids(
        frame["worker_id"], frame["grid_code"].fillna(""), frame["role"], frame["valid_from"]
    )
    frame["valid_from"] = frame["valid_from"].replace("", None)
    expanded = Rows(rows.status[owner].copy(), rows.reason[owner].copy())
    drop_repeats(frame["assignment_id"].to_numpy(dtype=object), expanded, "assignment")
    notes = []
    if len(frame) > n:
        notes.append(
            f"{n:,} rows gave {len(frame):,} assignments (village rows cover each of the village's grids)"
        )
    return Prepared(
        records=frame,
        status=expanded.status,
        reason=expanded.reason,
        carried=["worker_id", "plan_id", "grid_code", "role", "valid_from", "valid_to"],
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
    plan: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
    **_: object,
) -> BatchReport:
    """Import worker → grid/village assignments; returns the batch report."""
    return import_tabular(
        store,
        KIND,
        TABLE,
        lambda table: prepare(store, table, mapping, plan),
        source,
        filename,
        actor=actor,
        sheet=sheet,
        encoding=encoding,
        progress=progress,
        max_bytes=max_bytes,
    )
