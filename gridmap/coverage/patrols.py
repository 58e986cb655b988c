"""Patrol check-ins (巡查打卡) located in grids, and per-grid / per-worker patrol figures.

Check-ins come from the ``patrols`` table: ``patrol_id, worker_id, ts`` (ISO local
time) and a point — the WGS-84 geometry when present, otherwise ``raw_lon, raw_lat,
raw_crs`` (wgs84, cgcs2000, gcj02 or bd09, converted with
:func:`gridmap.geocode.transform.to_wgs84_mixed`).  Grids are polygons in EPSG:4326.

A point on a border shared by several grids belongs, for counting visits, to the grid
with the lowest code (the deterministic tie rule); for "is this check-in inside the
worker's own grids" every grid it touches counts, so a worker standing on their own
border is never reported as outside.

Everything is vectorized: one point-in-grid index for all points (:mod:`gridmap.spatial`), numpy/pandas group-bys
for the figures; there is no loop over check-ins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from gridmap.coverage._frames import (
    day_numbers,
    from_day_number,
    parse_timestamps,
    require_columns,
    text_column,
    to_day_number,
)
from gridmap.coverage.assignments import validity_days
from gridmap.coverage.periods import Period
from gridmap.crs import WGS84
from gridmap.errors import InputError
from gridmap.geocode.assign import locate_points
from gridmap.geocode.transform import to_wgs84_mixed

log = logging.getLogger(__name__)


def checkin_coordinates(patrols: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon/lat (degrees) of every check-in; NaN where a row has no usable point.

    The stored geometry (EPSG:4326; other CRSs are converted) wins; rows without one
    fall back to ``raw_lon, raw_lat`` in ``raw_crs`` (empty → wgs84).
    """
    n = len(patrols)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    geometry = getattr(patrols, "geometry", None) if "geometry" in patrols.columns else None
    if geometry is not None:
        values = geometry
        if getattr(patrols, "crs", None) is not None and str(patrols.crs) != WGS84:
            values = geometry.to_crs(WGS84)
        arr = np.asarray(values.values if hasattr(values, "values") else values, dtype=object)
        has = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
        if has.any():
            if not (shapely.get_type_id(arr[has]) == 0).all():
                raise InputError("patrols: check-in geometries must be points")
            lon[has] = shapely.get_x(arr[has])
            lat[has] = shapely.get_y(arr[has])
    need = np.isnan(lon)
    if need.any() and {"raw_lon", "raw_lat"} <= set(patrols.columns):
        raw_lon = pd.to_numeric(patrols["raw_lon"], errors="coerce").to_numpy(dtype=float)[need]
        raw_lat = pd.to_numeric(patrols["raw_lat"], errors="coerce").to_numpy(dtype=float)[need]
        crs = text_column(patrols, "raw_crs").to_numpy()[need]
        lon[need], lat[need] = to_wgs84_mixed(raw_lon, raw_lat, crs)
    bad = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    lon[bad] = np.nan
    lat[bad] = np.nan
    return lon, lat


@dataclass
class LocatedCheckins:
    """Check-ins with their grid.

    ``frame`` columns: ``worker_id``, ``ts`` (datetime64, local), ``day`` (int day
    number since 1970-01-01), ``lon``, ``lat`` (WGS-84 degrees), ``grid_idx`` (index
    into ``grid_codes``, -1 outside every grid), ``grid_code`` (None outside),
    ``in_own_grid`` (the point touches a grid the worker was assigned to, any role, on
    that day), ``assigned_here`` (the worker was assigned to ``grid_code`` that day).
    ``grid_codes`` are the grid codes in ascending order; ``unlocated`` counts check-ins
    without a usable point or time (kept out of ``frame`` but reported).
    """

    frame: pd.DataFrame
    grid_codes: np.ndarray
    unlocated: int = 0


def _grid_arrays(grids: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    code_col = "code" if "code" in grids.columns else "grid_code"
    require_columns(grids, [code_col, "geometry"], "grids")
    gs = grids.geometry
    if getattr(grids, "crs", None) is not None and str(grids.crs) != WGS84:
        gs = gs.to_crs(WGS84)
    codes = text_column(grids, code_col).to_numpy().astype(str)
    if len(set(codes)) != len(codes):
        raise InputError("grids: duplicate grid codes (pass the grids of one plan)")
    order = np.argsort(codes, kind="stable")
    return codes[order], np.asarray(gs.values, dtype=object)[order]


def locate_checkins(
    patrols: pd.DataFrame,
    grids: pd.DataFrame,
    assignments: pd.DataFrame | None = None,
    period: Period | None = None,
) -> LocatedCheckins:
    """Put every check-in in its grid and mark whether it lies in the worker's own grids.

    Parameters
    ----------
    patrols : DataFrame or GeoDataFrame
        ``worker_id``, ``ts`` and a point (see the module doc).
    grids : GeoDataFrame
        One plan's grids: ``code`` (or ``grid_code``) and polygon geometry, EPSG:4326.
    assignments : DataFrame, optional
        Worker ↔ grid rows (:mod:`gridmap.coverage.assignments`); without them
        ``in_own_grid``/``assigned_here`` are all False.
    period : Period, optional
        Keep only check-ins whose ``ts`` falls in the period.
    """
    require_columns(patrols, ["worker_id", "ts"], "patrols")
    ids = patrols["patrol_id"] if "patrol_id" in patrols.columns else None
    ts = parse_timestamps(patrols["ts"], "patrols.ts", ids)
    worker = text_column(patrols, "worker_id")
    keep = ts.notna().to_numpy() & worker.notna().to_numpy()
    if period is not None:
        keep &= period.contains(ts)
        in_period = period.contains(ts) & ts.notna().to_numpy()
    else:
        in_period = np.ones(len(patrols), dtype=bool)
    lon, lat = checkin_coordinates(patrols)
    has_point = np.isfinite(lon)
    unlocated = int((in_period & ~(has_point & worker.notna().to_numpy())).sum())
    keep &= has_point
    codes, polygons = _grid_arrays(grids)
    frame = pd.DataFrame(
        {
            "worker_id": worker.to_numpy()[keep],
            "ts": ts.to_numpy()[keep],
            "lon": lon[keep],
            "lat": lat[keep],
        }
    )
    frame["day"] = day_numbers(frame["ts"].to_numpy())
    grid_idx = locate_points(frame["lon"].to_numpy(), frame["lat"].to_numpy(), polygons)
    frame["grid_idx"] = grid_idx
    frame["grid_code"] = pd.Series(
        np.where(grid_idx >= 0, codes[np.maximum(grid_idx, 0)], None), dtype="object"
    )
    frame["in_own_grid"] = False
    frame["assigned_here"] = False
    if assignments is not None and len(assignments) and len(frame):
        own, here = _own_grid_flags(frame, polygons, codes, assignments)
        frame["in_own_grid"] = own
        frame["assigned_here"] = here
    return LocatedCheckins(frame=frame, grid_codes=codes, unlocated=unlocated)


def _own_grid_flags(
    frame: pd.DataFrame,
    polygons: np.ndarray,
    codes: np.ndarray,
    assignments: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """(in_own_grid, assigned_here) per check-in, against the assignments in force that day.

    First the cheap case: the grid the point was located in is one of the worker's.
    Only the remaining points (outside their grid or on a border) are tested exactly
    against each of the worker's grids of that day.
    """
    start, end = validity_days(assignments)
    workers = pd.Index(pd.unique(frame["worker_id"]))
    spans = pd.DataFrame(
        {
            "w": workers.get_indexer(assignments["worker_id"].astype(str)),
            "g": pd.Index(codes).get_indexer(assignments["grid_code"].astype(str)),
            "start": start,
            "end": end,
        }
    )
    spans = spans[(spans["w"] >= 0) & (spans["g"] >= 0)]
    n_grids = np.int64(len(codes))
    spans["key"] = spans["w"].to_numpy(np.int64) * n_grids + spans["g"].to_numpy(np.int64)
    worker_pos = workers.get_indexer(frame["worker_id"].to_numpy()).astype(np.int64)
    day = frame["day"].to_numpy()
    grid_idx = frame["grid_idx"].to_numpy()

    located = np.flatnonzero(grid_idx >= 0)
    here_pairs = pd.DataFrame(
        {"i": located, "key": worker_pos[located] * n_grids + grid_idx[located], "day": day[located]}
    ).merge(spans[["key", "start", "end"]], on="key")
    here_pairs = here_pairs[
        (here_pairs["start"] <= here_pairs["day"]) & (here_pairs["day"] <= here_pairs["end"])
    ]
    here = np.zeros(len(frame), dtype=bool)
    here[here_pairs["i"].to_numpy()] = True

    own = here.copy()
    rest = np.flatnonzero(~here)
    if len(rest):
        cand = pd.DataFrame({"i": rest, "w": worker_pos[rest], "day": day[rest]}).merge(
            spans[["w", "g", "start", "end"]], on="w"
        )
        cand = cand[(cand["start"] <= cand["day"]) & (cand["day"] <= cand["end"])]
        if len(cand):
            i = cand["i"].to_numpy()
            hit = shapely.intersects_xy(
                polygons[cand["g"].to_numpy()], frame["lon"].to_numpy()[i], frame["lat"].to_numpy()[i]
            )
            own[i[hit]] = True
    return own, here


def _distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct int64 keys (sort + neighbour compare; faster than hashing at 1 M rows)."""
    keys = np.sort(keys, kind="stable")
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _longest_gaps(
    grid_idx: np.ndarray, days: np.ndarray, n_grids: int, first_day: int, last_day: int
) -> np.ndarray:
    """Per grid, the longest run of consecutive days in [first_day, last_day] without a visit."""
    # sentinels one day outside the period on both sides turn edge runs into ordinary gaps
    all_grids = np.arange(n_grids, dtype=np.int64)
    g = np.concatenate([grid_idx, all_grids, all_grids])
    d = np.concatenate([days, np.full(n_grids, first_day - 1), np.full(n_grids, last_day + 1)])
    order = np.lexsort((d, g))
    g, d = g[order], d[order]
    gaps = np.diff(d) - 1
    same = g[1:] == g[:-1]
    longest = np.zeros(n_grids, dtype=np.int64)
    np.maximum.at(longest, g[1:][same], np.maximum(gaps[same], 0))
    return longest


def grid_visits(
    located: LocatedCheckins,
    period: Period,
    required_every_days: int = 1,
    freq: str | None = None,
) -> pd.DataFrame:
    """Per grid (and per sub-period when ``freq`` is given): how often it was patrolled.

    Parameters
    ----------
    located : LocatedCheckins
        From :func:`locate_checkins`.
    period : Period
        Days counted; check-ins outside it are ignored.
    required_every_days : int
        The patrol rule: at least one visit every N days (1 = daily).  The period is cut
        into windows of N days from its first day; ``visit_share`` is the share of
        windows with at least one check-in.
    freq : {"M", "W", "Q"}, optional
        Also split the period into calendar months / weeks / quarters (one row per grid
        and sub-period, column ``period``).

    Returns
    -------
    DataFrame, one row per grid (all grids, visited or not): ``grid_code``, ``visits``
    (check-ins located in the grid, any worker), ``own_visits`` (by a worker assigned to
    the grid that day), ``foreign_visits`` (by anyone else), ``days_visited``,
    ``required_visits`` (windows in the period), ``visit_share`` (0–1), ``last_visit``
    (ISO local time, None if never), ``longest_gap_days`` (longest run of days in the
    period without a check-in).
    """
    if required_every_days < 1:
        raise InputError("required_every_days must be at least 1")
    if freq is not None:
        return _grid_visits_by(located, period, required_every_days, freq)
    codes = located.grid_codes
    n = len(codes)
    first, last = to_day_number(period.start), to_day_number(period.end)
    f = located.frame
    inside = (f["grid_idx"].to_numpy() >= 0) & (f["day"].to_numpy() >= first) & (f["day"].to_numpy() <= last)
    g = f["grid_idx"].to_numpy()[inside]
    d = f["day"].to_numpy()[inside]
    visits = np.bincount(g, minlength=n)
    own = np.bincount(g, weights=f["assigned_here"].to_numpy()[inside], minlength=n).astype(np.int64)
    span = np.int64(period.days + 2)
    day_keys = _distinct(g * span + (d - first))
    days_visited = np.bincount(day_keys // span, minlength=n)
    windows = _distinct(g * span + (d - first) // required_every_days)
    windows_visited = np.bincount(windows // span, minlength=n)
    required = -(-period.days // required_every_days)
    last_ts = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    if inside.any():
        ts = f["ts"].to_numpy(dtype="datetime64[s]")[inside]
        latest = pd.Series(ts).groupby(g).max()
        last_ts[latest.index.to_numpy()] = latest.to_numpy(dtype="datetime64[s]")
    last_text = pd.Series(last_ts).dt.strftime("%Y-%m-%dT%H:%M:%S").astype("object")
    return pd.DataFrame(
        {
            "grid_code": codes,
            "visits": visits.astype(np.int64),
            "own_visits": own,
            "foreign_visits": (visits - own).astype(np.int64),
            "days_visited": days_visited.astype(np.int64),
            "required_visits": np.int64(required),
            "visit_share": windows_visited / required,
            "last_visit": last_text.where(~np.isnat(last_ts), None).to_numpy(),
            "longest_gap_days": _longest_gaps(g, d, n, first, last),
        }
    )


def _grid_visits_by(located: LocatedCheckins, period: Period, every: int, freq: str) -> pd.DataFrame:
    aliases = {"M": "M", "MONTH": "M", "W": "W", "WEEK": "W", "Q": "Q", "QUARTER": "Q", "D": "D", "DAY": "D"}
    key = aliases.get(str(freq).upper())
    if key is None:
        raise InputError(f"freq {freq!r}: use M (month), W (week), Q (quarter) or D (day)")
    parts = pd.period_range(period.start, period.end, freq=key)
    frames = []
    for part in parts:  # a handful of calendar sub-periods, not a loop over check-ins
        sub = Period(
            max(part.start_time.date(), period.start), min(part.end_time.date(), period.end), str(part)
        )
        frame = grid_visits(located, sub, every)
        frame.insert(1, "period", str(part))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def worker_checkins(located: LocatedCheckins, period: Period | None = None) -> pd.DataFrame:
    """Per worker: ``checkins``, ``outside_own_grids`` (check-ins touching none of the
    worker's grids of that day), ``outside_share`` (0–1), ``days_checked_in``."""
    f = located.frame
    if period is not None:
        first, last = to_day_number(period.start), to_day_number(period.end)
        f = f[(f["day"] >= first) & (f["day"] <= last)]
    grouped = f.assign(outside=~f["in_own_grid"].to_numpy()).groupby("worker_id", sort=True)
    out = pd.DataFrame(
        {
            "checkins": grouped.size(),
            "outside_own_grids": grouped["outside"].sum().astype(np.int64),
            "days_checked_in": grouped["day"].nunique(),
        }
    )
    out["outside_share"] = out["outside_own_grids"] / out["checkins"]
    return out.reset_index()


def patrol_summary(
    patrols: pd.DataFrame,
    grids: pd.DataFrame,
    assignments: pd.DataFrame | None,
    period: str | Period,
    required_every_days: int = 1,
    freq: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Locate the check-ins and return ``(grid_visits, worker_checkins)`` for ``period``.

    ``period`` is a :class:`Period` or a spec such as ``"2024-12"``; see
    :func:`grid_visits` and :func:`worker_checkins` for the columns.
    """
    from gridmap.coverage.periods import parse_period

    period = parse_period(period)
    located = locate_checkins(patrols, grids, assignments, period)
    return grid_visits(located, period, required_every_days, freq), worker_checkins(located, period)


def days_to_iso(days: np.ndarray) -> np.ndarray:
    """Integer day numbers → ISO date strings."""
    return np.datetime_as_string(from_day_number(days), unit="D")
