"""Worker ↔ grid assignments (many-to-many, with role and validity dates).

An assignments frame has the store's columns ``assignment_id, worker_id, plan_id,
grid_code, role, valid_from, valid_to``.  ``valid_from``/``valid_to`` are ISO dates
(``YYYY-MM-DD``, local calendar days) and both are *inclusive*; an empty ``valid_to``
(NULL, NaN or ``""``) means the assignment is still open.  Roles are ``full_time``
(专职网格员), ``part_time`` (兼职网格员), ``cadre`` (村/社区干部) and ``police`` (社区民警).

History is never rewritten: when grids change, :func:`inherit_assignments` closes the
old rows (``valid_to`` = the day before the change) and opens new ones.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.coverage._frames import (
    AGENT_ROLE,
    WORKER_ROLES,
    is_blank,
    require_columns,
    text_column,
    to_day_number,
)
from gridmap.coverage.periods import Period
from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.domain import assignment_active
from gridmap.errors import InputError
from gridmap.geocode.assign import locate_points

log = logging.getLogger(__name__)

ASSIGNMENT_COLUMNS = ["assignment_id", "worker_id", "plan_id", "grid_code", "role", "valid_from", "valid_to"]
SECONDARY_ROLES = ("part_time", "cadre", "police")

#: the last representable day, standing in for an open ``valid_to``
OPEN_END_DAY = np.iinfo(np.int64).max // 2


def assignment_ids(
    worker_id: pd.Series, grid_code: pd.Series, role: pd.Series, valid_from: pd.Series
) -> list[str]:
    """Deterministic ids: the same worker, grid, role and start date always get the same id."""
    keys = (
        worker_id.astype(str)
        + "|"
        + grid_code.astype(str)
        + "|"
        + role.astype(str)
        + "|"
        + valid_from.astype(str)
    )
    return ["A" + hashlib.sha1(k.encode("utf-8")).hexdigest()[:15] for k in keys]


def _grid_frame(grids: pd.DataFrame) -> pd.DataFrame:
    code_col = "code" if "code" in grids.columns else "grid_code"
    require_columns(grids, [code_col], "grids")
    codes = text_column(grids, code_col)
    if codes.isna().any():
        raise InputError("grids: some rows have no code")
    village = text_column(grids, "village_code")
    village = village.where(village.notna(), codes.str[:12])
    plan = text_column(grids, "plan_id")
    return pd.DataFrame(
        {"grid_code": codes.to_numpy(), "village_code": village.to_numpy(), "plan_id": plan.to_numpy()}
    )


def assign_workers(
    workers: pd.DataFrame,
    grids: pd.DataFrame,
    seed: int = 0,
    valid_from: str | date | None = None,
    plan_id: str | None = None,
) -> pd.DataFrame:
    """The first assignment of a plan's grids to the workers of each village.

    Within each village, full-time workers (shuffled with ``seed``) take one grid each
    from the village's grids (also shuffled); when a village has more full-time workers
    than grids they double up round-robin, and when it has fewer, the remaining grids
    get no full-time worker (an understaffed village — the audit reports those grids).
    Part-time workers, cadres and police are secondary roles: the village's grids, in
    code order, are cut into one contiguous block per worker of that role, so each
    covers several grids (a single cadre covers the whole village).

    Parameters
    ----------
    workers : DataFrame
        ``worker_id``, ``role``, ``village_code``; optional ``active`` (0 = left, skipped)
        and ``hired_at`` (ISO timestamp).
    grids : DataFrame or GeoDataFrame
        ``code`` (or ``grid_code``), optional ``village_code`` (default: first 12 digits
        of the code) and ``plan_id``.  Geometry is not used.
    seed : int
        Seed of the shuffles; the same inputs and seed give the same assignments.
    valid_from : ISO date, optional
        Start of every assignment; default: each worker's ``hired_at`` day (today when
        missing).
    plan_id : str, optional
        Plan id written on every row; default: the grids' ``plan_id`` column.

    Returns
    -------
    DataFrame with :data:`ASSIGNMENT_COLUMNS`, ``valid_to`` empty (open); workers of a
    village without grids get no row.
    """
    require_columns(workers, ["worker_id", "role", "village_code"], "workers")
    grid_frame = _grid_frame(grids).drop_duplicates("grid_code")
    if plan_id is not None:
        grid_frame["plan_id"] = plan_id
    # petition agents patrol their village/township, not grids: they get no grid assignment
    workers = workers[text_column(workers, "role").to_numpy() != AGENT_ROLE]
    roles = text_column(workers, "role")
    unknown = sorted(set(roles.dropna()) - set(WORKER_ROLES))
    if unknown:
        raise InputError(
            f"workers: unknown role(s) {unknown}; expected one of {list(WORKER_ROLES)} or {AGENT_ROLE!r}"
        )
    people = pd.DataFrame(
        {
            "worker_id": text_column(workers, "worker_id").to_numpy(),
            "role": roles.to_numpy(),
            "village_code": text_column(workers, "village_code").to_numpy(),
            "hired_at": text_column(workers, "hired_at").to_numpy(),
        }
    )
    if "active" in workers.columns:
        active = pd.to_numeric(workers["active"], errors="coerce").fillna(1).to_numpy() != 0
        people = people[active]
    people = people.dropna(subset=["worker_id", "role", "village_code"])
    rng = np.random.default_rng(seed)

    # grids: a shuffled rank (for full-time workers) and a code-order rank (for secondary roles)
    grid_frame = grid_frame.sort_values("grid_code", ignore_index=True)
    grid_frame["code_rank"] = grid_frame.groupby("village_code").cumcount()
    grid_frame["shuffle_key"] = rng.random(len(grid_frame))
    grid_frame["shuffle_rank"] = grid_frame.sort_values("shuffle_key").groupby("village_code").cumcount()
    n_grids = grid_frame.groupby("village_code").size().rename("n_grids")

    people = people.sort_values("worker_id", ignore_index=True)
    people["shuffle_key"] = rng.random(len(people))
    people["rank"] = people.sort_values("shuffle_key").groupby(["village_code", "role"]).cumcount()
    people = people.join(n_grids, on="village_code")
    homeless = people["n_grids"].isna()
    if homeless.any():
        log.info("%d worker(s) belong to villages without grids; not assigned", int(homeless.sum()))
    people = people[~homeless].astype({"n_grids": np.int64})

    full = people[people["role"] == "full_time"].copy()
    full["shuffle_rank"] = full["rank"] % full["n_grids"]
    full_rows = full.merge(
        grid_frame[["village_code", "shuffle_rank", "grid_code", "plan_id"]],
        on=["village_code", "shuffle_rank"],
    )

    # secondary roles: blocks over L = max(workers, grids) slots so every worker and grid appears
    second = people[people["role"].isin(SECONDARY_ROLES)]
    groups = second.groupby(["village_code", "role"]).agg(m=("worker_id", "size"), n=("n_grids", "first"))
    groups = groups.reset_index()
    groups["slots"] = np.maximum(groups["m"], groups["n"])
    slots = groups.loc[groups.index.repeat(groups["slots"])].reset_index(drop=True)
    j = slots.groupby(["village_code", "role"]).cumcount().to_numpy()
    slots["rank"] = j * slots["m"].to_numpy() // slots["slots"].to_numpy()
    slots["code_rank"] = j * slots["n"].to_numpy() // slots["slots"].to_numpy()
    slots = slots.merge(
        second[["village_code", "role", "rank", "worker_id", "hired_at"]], on=["village_code", "role", "rank"]
    )
    slots = slots.merge(
        grid_frame[["village_code", "code_rank", "grid_code", "plan_id"]], on=["village_code", "code_rank"]
    )

    out = pd.concat(
        [
            full_rows[["worker_id", "plan_id", "grid_code", "role", "hired_at"]],
            slots[["worker_id", "plan_id", "grid_code", "role", "hired_at"]],
        ],
        ignore_index=True,
    )
    out = out.drop_duplicates(["worker_id", "grid_code", "role"])
    if valid_from is not None:
        out["valid_from"] = str(valid_from)[:10]
    else:
        hired = out["hired_at"].astype("object")
        out["valid_from"] = hired.where(hired.notna(), date.today().isoformat()).astype(str).str[:10]
    out["valid_to"] = None
    out["assignment_id"] = assignment_ids(out["worker_id"], out["grid_code"], out["role"], out["valid_from"])
    return out[ASSIGNMENT_COLUMNS].sort_values(["grid_code", "role", "worker_id"], ignore_index=True)


def validity_days(assignments: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``valid_from``/``valid_to`` as inclusive integer day numbers (open end → far future).

    Raises :class:`InputError` for a missing or unreadable ``valid_from`` or a
    ``valid_to`` before ``valid_from``.
    """
    require_columns(assignments, ["worker_id", "grid_code", "role", "valid_from", "valid_to"], "assignments")
    start = _iso_days(assignments["valid_from"], "assignments.valid_from", allow_blank=False)
    end = _iso_days(assignments["valid_to"], "assignments.valid_to", allow_blank=True)
    end = np.where(end == np.iinfo(np.int64).min, OPEN_END_DAY, end)
    backwards = end < start
    if backwards.any():
        ids = assignments.get("assignment_id", pd.Series(assignments.index, index=assignments.index))[
            backwards
        ]
        raise InputError(f"assignments: valid_to before valid_from for {', '.join(map(str, ids.head(5)))}")
    return start, end


def _iso_days(values: pd.Series, what: str, allow_blank: bool) -> np.ndarray:
    blank = is_blank(values)
    if blank.any() and not allow_blank:
        raise InputError(f"{what}: {int(blank.sum())} row(s) are empty")
    text = values.astype("object").where(~blank, None)
    parsed = pd.to_datetime(text.astype(str).str[:10].where(~blank, None), format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna().to_numpy() & ~blank
    if bad.any():
        raise InputError(f"{what}: {int(bad.sum())} value(s) are not ISO dates, e.g. {text[bad].iloc[0]!r}")
    days = parsed.to_numpy(dtype="datetime64[D]").astype(np.int64)
    return days


def active_assignments(assignments: pd.DataFrame, on_date: str | date) -> pd.DataFrame:
    """The rows in force on ``on_date`` (:func:`gridmap.domain.assignment_active`: ``valid_from ≤ day ≤
    valid_to``, both inclusive, open end allowed)."""
    validity_days(assignments)  # refuses missing, unreadable or backwards dates first
    in_force = assignment_active(assignments["valid_from"], assignments["valid_to"], str(on_date)[:10])
    return assignments[in_force].reset_index(drop=True)


def assignments_in_period(assignments: pd.DataFrame, period: Period) -> pd.DataFrame:
    """The rows in force on at least one day of ``period``."""
    start, end = validity_days(assignments)
    return assignments[
        (start <= to_day_number(period.end)) & (end >= to_day_number(period.start))
    ].reset_index(drop=True)


def overlap_mapping(
    old_grids: gpd.GeoDataFrame,
    new_grids: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """How old grids map onto new ones: overlap area and households per (old, new) pair.

    Parameters
    ----------
    old_grids, new_grids : GeoDataFrame
        Polygons with ``code`` (or ``grid_code``), EPSG:4326 (any CRS is converted).
    addresses : GeoDataFrame, optional
        Points with ``households`` (EPSG:4326); each is located in one old and one new
        grid (lowest code on shared borders).

    Returns
    -------
    DataFrame ``old_code, new_code, area_m2, households`` (area in LOCAL_CRS square
    metres; households 0 without addresses), only pairs that overlap.
    """
    old = _polygons(old_grids, "old grids").to_crs(LOCAL_CRS)
    new = _polygons(new_grids, "new grids").to_crs(LOCAL_CRS)
    tree = shapely.STRtree(new.geometry.values)
    i_old, i_new = tree.query(old.geometry.values, predicate="intersects")
    area = shapely.area(shapely.intersection(old.geometry.values[i_old], new.geometry.values[i_new]))
    pairs = pd.DataFrame(
        {
            "old_code": old["grid_code"].to_numpy()[i_old],
            "new_code": new["grid_code"].to_numpy()[i_new],
            "area_m2": area,
        }
    )
    pairs = pairs[pairs["area_m2"] > 0]
    if addresses is not None and len(addresses):
        points = addresses.to_crs(WGS84) if addresses.crs is not None else addresses
        lon, lat = shapely.get_x(points.geometry.values), shapely.get_y(points.geometry.values)
        old_idx = locate_points(lon, lat, old_grids.to_crs(WGS84).geometry.values[old["_order"].to_numpy()])
        new_idx = locate_points(lon, lat, new_grids.to_crs(WGS84).geometry.values[new["_order"].to_numpy()])
        hh = pd.to_numeric(points.get("households", 1), errors="coerce")
        keep = (old_idx >= 0) & (new_idx >= 0)
        counted = (
            pd.DataFrame(
                {
                    "old_code": old["grid_code"].to_numpy()[old_idx[keep]],
                    "new_code": new["grid_code"].to_numpy()[new_idx[keep]],
                    "households": np.asarray(hh, dtype=float)[keep] if np.ndim(hh) else float(hh),
                }
            )
            .groupby(["old_code", "new_code"], as_index=False)["households"]
            .sum()
        )
        pairs = pairs.merge(counted, on=["old_code", "new_code"], how="outer")
    else:
        pairs["households"] = 0.0
    pairs["area_m2"] = pairs["area_m2"].fillna(0.0)
    pairs["households"] = pairs["households"].fillna(0.0)
    return pairs.sort_values(["old_code", "new_code"], ignore_index=True)


def _polygons(grids: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    if not isinstance(grids, gpd.GeoDataFrame):
        raise InputError(f"{what}: need a GeoDataFrame with grid polygons")
    code_col = "code" if "code" in grids.columns else "grid_code"
    require_columns(grids, [code_col], what)
    frame = gpd.GeoDataFrame(
        {"grid_code": text_column(grids, code_col).to_numpy(), "_order": np.arange(len(grids))},
        geometry=grids.geometry.values,
        crs=grids.crs or WGS84,
    )
    order = np.argsort(frame["grid_code"].to_numpy(), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def inherit_assignments(
    assignments: pd.DataFrame,
    mapping: pd.DataFrame,
    effective_date: str | date,
    new_plan_id: str | None = None,
) -> pd.DataFrame:
    """Carry assignments over a grid split/merge, keeping history.

    For every assignment in force on ``effective_date`` whose grid appears in
    ``mapping.old_code``, the worker inherits, per old grid, the new grid that holds
    most of that old grid's households (area when the old grid has no households;
    ties → the lower new code).  So a worker whose grid was split keeps the larger
    part; the workers of merged grids all move to the merged grid.  The old row is
    closed (``valid_to`` = the day before ``effective_date``) and a new row opened from
    ``effective_date`` with the same role, keeping any planned end date.

    Parameters
    ----------
    assignments : DataFrame
        :data:`ASSIGNMENT_COLUMNS`.
    mapping : DataFrame
        A plan diff or atom mapping: ``old_code``, ``new_code`` and any of the weights
        ``households``, ``area_m2``, ``weight`` (rows are summed per pair, so an atom
        table with one row per atom works as is).  :func:`overlap_mapping` builds one
        from two plans' polygons.
    effective_date : ISO date
        First day of the new grids.
    new_plan_id : str, optional
        ``plan_id`` of the new rows (default: unchanged).

    Returns
    -------
    DataFrame with :data:`ASSIGNMENT_COLUMNS`: the input rows (the affected ones now
    closed) followed by the new rows.
    """
    require_columns(mapping, ["old_code", "new_code"], "grid mapping")
    effective = date.fromisoformat(str(effective_date)[:10])
    closing_day = (effective - timedelta(days=1)).isoformat()
    history = assignments[ASSIGNMENT_COLUMNS].copy().reset_index(drop=True)
    start, end = validity_days(history)
    day = to_day_number(effective)
    affected = (
        (start < day) & (day <= end) & history["grid_code"].astype(str).isin(mapping["old_code"].astype(str))
    )
    # rows that start on the change day itself are re-pointed rather than closed (no zero-length rows)
    starts_today = (
        (start == day) & (day <= end) & history["grid_code"].astype(str).isin(mapping["old_code"].astype(str))
    )

    successor = dominant_successor(mapping)
    moving = history[affected | starts_today].copy()
    moving["new_code"] = moving["grid_code"].astype(str).map(successor)
    lost = moving["new_code"].isna()
    if lost.any():
        log.info(
            "%d assignment(s) point to grids with no successor; closed without a new grid", int(lost.sum())
        )
    new_rows = moving[~lost].copy()
    new_rows["grid_code"] = new_rows["new_code"]
    new_rows["valid_from"] = effective.isoformat()
    if new_plan_id is not None:
        new_rows["plan_id"] = new_plan_id
    new_rows = new_rows.drop(columns="new_code").drop_duplicates(["worker_id", "grid_code", "role"])
    new_rows["assignment_id"] = assignment_ids(
        new_rows["worker_id"], new_rows["grid_code"], new_rows["role"], new_rows["valid_from"]
    )

    history.loc[affected, "valid_to"] = closing_day
    history = history[~starts_today]
    out = pd.concat([history, new_rows[ASSIGNMENT_COLUMNS]], ignore_index=True)
    return out


def dominant_successor(mapping: pd.DataFrame) -> pd.Series:
    """Per old grid code, the new grid holding most of its households (area as fallback).

    Returns a Series old_code → new_code.  Ties go to the lower new code.
    """
    pairs = pd.DataFrame(
        {"old_code": mapping["old_code"].astype(str), "new_code": mapping["new_code"].astype(str)}
    )
    for column in ("households", "area_m2", "weight"):
        pairs[column] = (
            pd.to_numeric(mapping[column], errors="coerce").fillna(0.0) if column in mapping else 0.0
        )
    pairs = pairs.groupby(["old_code", "new_code"], as_index=False).sum()
    share = pd.Series(np.nan, index=pairs.index)
    for column in ("households", "area_m2", "weight"):
        total = pairs.groupby("old_code")[column].transform("sum")
        share = share.fillna((pairs[column] / total).where(total > 0))
    # an old grid with no weight at all: every successor counts equally
    pairs["share"] = share.fillna(1.0)
    ranked = pairs.sort_values(["old_code", "share", "new_code"], ascending=[True, False, True])
    best = ranked.drop_duplicates("old_code")
    return best.set_index("old_code")["new_code"]
