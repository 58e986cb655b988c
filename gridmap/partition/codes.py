"""Grid codes: 12-digit village code + 3-digit sequence (15 digits).

Numbering rule ("west→east, then north→south"), applied per village:

* every grid is represented by its ``point_on_surface`` in LOCAL_CRS metres;
* the village is cut into horizontal rows of height ``sqrt(village grid area / number of
  grids)`` (about one grid tall), counted from the northern edge of the village's grids;
* grids are numbered row by row from north to south, and within a row from west to east
  (ties: further north first) — reading order, as on a printed map.

Regular grids take 001…900, exclusive grids (专属网格) 901…999.  Codes are stable on
edits: grids that keep their code are never renumbered; new grids take the next free
sequence numbers after the highest one in use (or reserved, e.g. retired by the edit),
numbered among themselves by the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LOCAL_CRS
from gridmap.errors import ValidationError

EXCLUSIVE_START = 901
REGULAR_MAX = 900


def reading_order(grids: gpd.GeoDataFrame, metric: np.ndarray | None = None) -> np.ndarray:
    """Rank (0-based) of every grid within its village by the numbering rule above.

    ``grids`` needs ``village_code`` and polygon geometry (any CRS with a definition);
    ``metric`` may pass the same geometries already in LOCAL_CRS.
    """
    metric = grids.geometry.to_crs(LOCAL_CRS).values if metric is None else np.asarray(metric, dtype=object)
    rep = shapely.point_on_surface(metric)
    frame = pd.DataFrame(
        {
            "village_code": grids["village_code"].astype(str).to_numpy(),
            "x": shapely.get_x(rep),
            "y": shapely.get_y(rep),
            "area": shapely.area(metric),
            "top": shapely.bounds(metric)[:, 3],
        }
    )
    by_village = frame.groupby("village_code")
    row_height = np.sqrt(by_village["area"].transform("sum") / by_village["area"].transform("size"))
    top = by_village["top"].transform("max")
    frame["row"] = np.floor((top - frame["y"]) / np.maximum(row_height, 1e-9)).astype(np.int64)
    frame["neg_y"] = -frame["y"]
    order = frame.sort_values(["village_code", "row", "x", "neg_y"], kind="stable")
    rank = order.groupby("village_code").cumcount()
    return rank.reindex(frame.index).to_numpy()


def _sequence(code: str) -> int:
    return int(code[12:15])


def assign_codes(
    grids: gpd.GeoDataFrame, reserved: Iterable[str] = (), metric: np.ndarray | None = None
) -> np.ndarray:
    """15-digit codes for ``grids`` (``village_code``, geometry; optional ``exclusive`` flag
    and ``code``).

    Rows whose ``code`` is already a valid code of their village keep it; every other row
    gets the next free sequence number of its village (regular from 001, exclusive from
    901), in reading order.  ``reserved`` codes (e.g. grids retired by an edit) are never
    reused.  Raises :class:`ValidationError` when a village runs out of numbers.  ``metric``
    may pass the geometries already in LOCAL_CRS.
    """
    village = grids["village_code"].astype(str).to_numpy()
    exclusive = (
        grids["exclusive"].fillna(0).astype(bool).to_numpy()
        if "exclusive" in grids.columns
        else np.zeros(len(grids), bool)
    )
    current = (
        grids["code"].fillna("").astype(str).to_numpy()
        if "code" in grids.columns
        else np.full(len(grids), "", dtype=object)
    )
    valid = np.array(
        [len(c) == 15 and c.isdigit() and c[:12] == v for c, v in zip(current, village, strict=True)],
        dtype=bool,
    )
    # a code used twice keeps only its first holder
    seen: set[str] = set()
    for k in np.flatnonzero(valid):
        if current[k] in seen:
            valid[k] = False
        seen.add(current[k])
    codes = np.where(valid, current, "").astype(object)
    if valid.all():
        return codes
    taken: dict[tuple[str, bool], int] = {}
    for c in [*current[valid], *reserved]:
        c = str(c)
        if len(c) != 15 or not c.isdigit():
            continue
        seq = _sequence(c)
        key = (c[:12], seq >= EXCLUSIVE_START)
        taken[key] = max(taken.get(key, 0), seq)
    rank = reading_order(grids, metric)
    todo = np.flatnonzero(~valid)
    todo = todo[np.lexsort((rank[todo], exclusive[todo], village[todo]))]
    for k in todo:
        key = (village[k], bool(exclusive[k]))
        seq = max(taken.get(key, 0), EXCLUSIVE_START - 1 if exclusive[k] else 0) + 1
        limit = 999 if exclusive[k] else REGULAR_MAX
        if seq > limit:
            kind = "exclusive" if exclusive[k] else "regular"
            raise ValidationError(
                f"village {village[k]} has no free {kind} grid sequence numbers left (>{limit})"
            )
        taken[key] = seq
        codes[k] = f"{village[k]}{seq:03d}"
    return codes
