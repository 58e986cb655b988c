"""Kind ``grids``: the grid layer in use today → a plan, validated, ready to diff.

Fields: grid code (网格编码, 15 digits = the 12-digit village code + a 3-digit sequence),
village code (else the code's first 12 digits), name.  The plan is named ``--plan`` (else
after the file); its id comes from the file's checksum, so re-importing the same layer
finds the same plan.  It is ``active`` when the store has no active plan, else a
``draft`` (``gridmap plan diff`` compares it with any other plan, ``gridmap plan activate``
switches).

Checks: codes (15 digits whose first 12 are the village's; unknown village → review;
repeated code → rejected), nesting (more than :data:`NEST_TOLERANCE_M2` outside its village
→ review), tiling (overlaps between grids over :data:`OVERLAP_TOLERANCE_M2` → review and a
finding; the part of each village no grid covers → a finding).  Households and population
per grid are summed from the store's standard addresses.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84
from gridmap.imports.common import Rows, drop_repeats
from gridmap.imports.framework import (
    REJECTED,
    REVIEW,
    BatchReport,
    Prepared,
    Progress,
    commit,
    new_batch_id,
    now_iso,
    resolve_columns,
)
from gridmap.imports.units import _local
from gridmap.imports.vectors import read_vector_input

KIND = "grids"
TABLE = "grids"
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "grid_code", "网格编码", "网格代码", "网格编号", "wgbm"),
    "village_code": ("village_code", "村社区代码", "所属村社区代码", "社区代码", "村代码"),
    "name": ("name", "网格名称", "名称"),
}
NEST_TOLERANCE_M2 = 100.0
OVERLAP_TOLERANCE_M2 = 10.0


def prepare(store, data, mapping: Mapping[str, str] | None = None, plan: str | None = None) -> Prepared:
    from gridmap.errors import InputError
    from gridmap.geocode.assign import GridIndex

    frame = data.frame
    columns = [c for c in frame.columns if c != frame.geometry.name]
    column_map = resolve_columns(columns, ALIASES, mapping)
    if "code" not in column_map.values():
        raise InputError(
            f"{data.name}: no grid code column (网格编码/code); the file has {', '.join(columns)}; "
            "use --map code=COLUMN"
        )
    fields = pd.DataFrame({f: frame[c].astype(str).str.strip().to_numpy() for c, f in column_map.items()})
    n = len(fields)
    rows = Rows.start(n)
    for i, why in data.dropped.items():
        rows.status[i], rows.reason[i] = REJECTED, f"dropped on reading: {why}"
    code = fields["code"]
    village = fields["village_code"] if "village_code" in fields else code.str[:12]
    village = village.where(village.ne(""), code.str[:12])
    rows.mark(~code.str.fullmatch(r"\d{15}").to_numpy(), REJECTED, "grid code is not 15 digits")
    rows.mark(
        code.str[:12].ne(village).to_numpy(), REJECTED, "grid code does not start with its village code"
    )
    drop_repeats(code.to_numpy(dtype=object), rows, "grid code")
    units = store.read("admin_units", where={"level": "village"})
    known = village.isin(set(units["code"])).to_numpy()
    rows.mark(~known, REVIEW, "village code not in the store's units")
    parents = pd.DataFrame(units[["code", "parent_code"]]).set_index("code")["parent_code"]
    township = village.map(parents)
    counties = pd.DataFrame(
        store.read("admin_units", where={"level": "township"}, columns=["code", "parent_code"])
    )
    county = (
        township.map(counties.set_index("code")["parent_code"]) if len(counties) else pd.Series([None] * n)
    )

    geoms = np.asarray(frame.geometry.values, dtype=object)
    rows.mark(~np.isin(shapely.get_type_id(geoms), [3, 6]), REJECTED, "not a polygon")
    local = _local(geoms)
    findings: list[str] = []
    with_polygon = units[units.geometry.notna()]
    village_local = dict(
        zip(with_polygon["code"], _local(np.asarray(with_polygon.geometry.values, dtype=object)), strict=True)
    )
    for i in np.flatnonzero(rows.live):
        outer = village_local.get(village.iat[i])
        if outer is None:
            continue
        outside = float(shapely.area(shapely.difference(local[i], outer)))
        if outside > NEST_TOLERANCE_M2:
            rows.mark(np.arange(n) == i, REVIEW, f"{outside:,.0f} m² lie outside village {village.iat[i]}")
    live = np.flatnonzero(rows.live)
    tree = shapely.STRtree(local[live])
    left, right = tree.query(local[live], predicate="intersects")
    for a, b in zip(live[left], live[right], strict=True):
        if a >= b:
            continue
        area = float(shapely.area(shapely.intersection(local[a], local[b])))
        if area > OVERLAP_TOLERANCE_M2:
            findings.append(f"grids {code.iat[a]} and {code.iat[b]} overlap by {area:,.0f} m²")
            rows.mark(np.isin(np.arange(n), [a, b]), REVIEW, f"overlaps another grid by {area:,.0f} m²")
    for village_code, members in pd.Series(np.arange(n)).groupby(village.to_numpy()).groups.items():
        outer = village_local.get(village_code)
        if outer is None:
            continue
        gap = float(shapely.area(shapely.difference(outer, shapely.union_all(local[list(members)]))))
        if gap > NEST_TOLERANCE_M2:
            findings.append(f"village {village_code}: {gap:,.0f} m² in no grid")

    addresses = store.read("addresses", columns=["households", "population", "geometry"])
    households = np.zeros(n, dtype=np.int64)
    population = np.zeros(n, dtype=np.int64)
    if len(addresses):
        grid_frame = gpd.GeoDataFrame(
            {"code": code.to_numpy(dtype=object)}, geometry=gpd.GeoSeries(geoms, crs=WGS84).values, crs=WGS84
        )
        index = GridIndex(grid_frame[rows.live], code_col="code")
        at = index.assign(addresses.geometry.x.to_numpy(), addresses.geometry.y.to_numpy())
        sums = (
            pd.DataFrame(
                {
                    "code": at,
                    "households": pd.to_numeric(addresses["households"]).fillna(0),
                    "population": pd.to_numeric(addresses["population"]).fillna(0),
                }
            )
            .groupby("code")
            .sum()
        )
        households = code.map(sums["households"]).fillna(0).astype(np.int64).to_numpy()
        population = code.map(sums["population"]).fillna(0).astype(np.int64).to_numpy()
        outside = int(pd.isna(at).sum())
        if outside:
            findings.append(f"{outside:,} standard addresses lie in no grid of this layer")
    plan_name = plan or f"imported {data.name}"
    existing = pd.DataFrame(store.read("plans", where={"name": plan_name}, columns=["plan_id"]))
    # the same layer again (a re-export has other bytes): the plan of that name
    plan_id = str(existing["plan_id"].iloc[-1]) if len(existing) else f"plan-import-{data.sha256[:12]}"
    polsby = 4 * np.pi * shapely.area(local) / np.maximum(shapely.length(local) ** 2, 1e-9)
    records = gpd.GeoDataFrame(
        {
            "plan_id": plan_id,
            "code": code.to_numpy(dtype=object),
            "village_code": village.to_numpy(dtype=object),
            "township_code": township.to_numpy(dtype=object),
            "county_code": county.to_numpy(dtype=object),
            "households": households,
            "population": population,
            "locked": 0,
            "exclusive": 0,
            "polsby_popper": np.round(polsby, 4),
        },
        geometry=gpd.GeoSeries(shapely.force_2d(geoms), crs=WGS84).values,
        crs=WGS84,
    )
    extra = []
    if not store.count("plans", {"plan_id": plan_id}):
        status = "draft" if store.active_plan_id() else "active"
        extra.append(
            (
                "plans",
                pd.DataFrame(
                    [
                        {
                            "plan_id": plan_id,
                            "name": plan_name,
                            "status": status,
                            "parent_id": None,
                            "created_at": now_iso(),
                            "params": json.dumps({"imported_from": data.name}, ensure_ascii=False),
                            "note": "grid layer imported with gridmap import grids",
                        }
                    ]
                ),
            )
        )
    return Prepared(
        records=records,
        status=rows.status,
        reason=rows.reason,
        carried=[
            "village_code",
            "township_code",
            "county_code",
            "households",
            "population",
            "geometry",
            "polsby_popper",
        ],
        external_id=code.to_numpy(dtype=object),
        mapping=column_map,
        ignored_columns=[c for c in columns if c not in column_map],
        findings=findings,
        notes=list(data.notes) + [f"plan {plan_id}"],
        extra_writes=extra,
    )


def import_file(
    store,
    source: str | Path,
    filename: str | None = None,
    mapping: Mapping[str, str] | None = None,
    *,
    actor: str = "system",
    crs: str | None = None,
    layer: str | None = None,
    plan: str | None = None,
    progress: Progress | None = None,
    **_: object,
) -> BatchReport:
    """Import a grid layer as a plan; returns the batch report (findings listed)."""
    from gridmap.geocode.batch import city_outline

    t0 = time.perf_counter()
    area = city_outline(store.read("admin_units", where={"level": ["city", "county"]}))
    data = read_vector_input(source, filename, crs=crs, layer=layer, area=area)
    prepared = prepare(store, data, mapping, plan)
    return commit(
        store,
        KIND,
        TABLE,
        prepared,
        filename=data.name,
        sha256=data.sha256,
        actor=actor,
        progress=progress,
        started=t0,
        batch_id=new_batch_id(data.sha256),
    )
