"""Kind ``patrols``: patrol check-ins (巡查打卡) → ``patrols``, duplicates dropped.

A check-in is identified by worker, time and place: its ``patrol_id`` is derived from them,
so a check-in exported twice (in one file or in two) is stored once — the repeat in the
file is rejected as a duplicate, the one already stored is ``unchanged``.  Every step is
vectorised: a million rows import in well under a minute (``bench/intake.py``).

Checks: the time must be readable (else rejected); the worker should be on the roster
(else review: the check-in is kept, the audit lists it); the point must lie in the area
(else review, with the swapped position suggested).  Coordinates: the 坐标系 column or
``--crs`` (GCJ-02 from a phone app is normal); without either the file is refused with
the candidate systems.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84
from gridmap.imports.common import COORDINATE_ALIASES, declared_points, drop_repeats, map_columns, parse_times
from gridmap.imports.framework import (
    REJECTED,
    REVIEW,
    BatchReport,
    Prepared,
    Progress,
    import_tabular,
    stable_key,
)

KIND = "patrols"
TABLE = "patrols"
ALIASES: dict[str, tuple[str, ...]] = {
    "worker_id": ("worker_id", "worker", "工号", "网格员编号", "人员编号", "网格员工号", "账号"),
    "ts": ("ts", "time", "timestamp", "打卡时间", "巡查时间", "时间", "签到时间"),
    **COORDINATE_ALIASES,
}


def prepare(store, table, mapping: Mapping[str, str] | None = None, crs: str | None = None) -> Prepared:
    fields, column_map, rows = map_columns(
        table, ALIASES, mapping, ("worker_id", "ts", "raw_lon", "raw_lat"), KIND
    )
    n = len(fields)
    rows.mark(fields["worker_id"].eq("").to_numpy(), REJECTED, "no worker id")
    ts, bad_ts = parse_times(fields["ts"])
    rows.mark(bad_ts | pd.isna(ts), REJECTED, "unreadable or missing check-in time")
    lon, lat, x, y = declared_points(store, fields, crs, table.name, rows)
    rows.mark(~(np.isfinite(x) & np.isfinite(y)), REJECTED, "no coordinates")
    key_text = (
        fields["worker_id"]
        + "|"
        + pd.Series(ts, dtype=object).fillna("").astype(str)
        + "|"
        + pd.Series(np.round(x, 7)).astype(str)
        + "|"
        + pd.Series(np.round(y, 7)).astype(str)
    )
    ids = stable_key("PT-", key_text.to_numpy())
    drop_repeats(ids, rows, "check-in (same worker, time and point)")
    roster = set(store.read("workers", columns=["worker_id"])["worker_id"].astype(str))
    unknown = ~fields["worker_id"].isin(roster).to_numpy()
    rows.mark(unknown & rows.live, REVIEW, "worker not on the roster (import workers first)")
    crs_cells = fields["raw_crs"] if "raw_crs" in fields else pd.Series([""] * n)
    raw_crs = crs_cells.where(crs_cells.ne(""), crs or "").to_numpy(dtype=object)
    geometry = np.full(n, None, dtype=object)
    ok = np.isfinite(lon)
    geometry[ok] = shapely.points(lon[ok], lat[ok])
    records = gpd.GeoDataFrame(
        {
            "patrol_id": ids,
            "worker_id": fields["worker_id"].to_numpy(dtype=object),
            "ts": ts,
            "raw_lon": x,
            "raw_lat": y,
            "raw_crs": raw_crs,
            "source": f"import {table.name}",
        },
        geometry=gpd.GeoSeries(geometry, crs=WGS84).values,
        crs=WGS84,
    )
    keep_source = np.ones(n, dtype=bool)  # an existing check-in keeps the file it first came from
    return Prepared(
        records=records,
        status=rows.status,
        reason=rows.reason,
        carried=["worker_id", "ts", "raw_lon", "raw_lat", "raw_crs", "geometry", "source"],
        keep={"source": keep_source},
        mapping=column_map,
        tag_column="source",
        ignored_columns=[c for c in table.frame.columns if c not in column_map],
    )


def import_file(
    store,
    source: str | Path | bytes,
    filename: str | None = None,
    mapping: Mapping[str, str] | None = None,
    *,
    actor: str = "system",
    crs: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
    **_: object,
) -> BatchReport:
    """Import a check-in file (CSV/XLSX/JSON); returns the batch report."""
    return import_tabular(
        store,
        KIND,
        TABLE,
        lambda table: prepare(store, table, mapping, crs),
        source,
        filename,
        actor=actor,
        sheet=sheet,
        encoding=encoding,
        progress=progress,
        max_bytes=max_bytes,
    )
