"""Kind ``units``: county, township and village/community polygons → ``admin_units``.

Fields: code (区划代码 / XZQDM), name (名称 / XZQMC), level (else from the code's length:
6 county, 9 township, 12 village), parent code (else the code's prefix).

Checks, in order:

* **codes** against the official list (the codes shipped with ``gridmap init`` and the
  store's units): an unknown code goes to review; a code filed under the wrong parent (its
  parent column, or its prefix, disagrees with the official parent) is rejected;
* **nesting**: a unit must lie in its parent (from the file or the store): more than
  :data:`NEST_TOLERANCE_M2` outside it sends the row to review with the area outside;
* **neighbours**: overlaps between units of the same parent up to :data:`SNAP_TOLERANCE_M2`
  are snapped (the overlap is cut from the unit that comes later in the file) and reported;
  larger overlaps are reported as findings and the rows go to review; gaps inside the parent
  up to that area are filled (given to the unit sharing the longest edge), larger ones are
  findings;
* **versions**: when an import changes a unit's boundary, the previous one is kept in
  ``admin_unit_versions`` (with the batch), so that older plans stay valid.

Areas are measured in :data:`gridmap.crs.LOCAL_CRS` (square metres).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84, to_local
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
)
from gridmap.imports.vectors import read_vector_input

KIND = "units"
TABLE = "admin_units"
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "区划代码", "行政区划代码", "代码", "编码", "xzqdm", "adcode", "统计用区划代码"),
    "name": ("name", "名称", "区划名称", "xzqmc", "单位名称"),
    "level": ("level", "级别", "层级"),
    "parent_code": ("parent_code", "parent", "上级代码", "上级区划代码", "sjdm"),
}
LEVEL_BY_LENGTH = {6: "county", 9: "township", 12: "village"}
LEVEL_VALUES = {
    "county": "county",
    "区县": "county",
    "县": "county",
    "旗": "county",
    "township": "township",
    "乡镇": "township",
    "镇": "township",
    "街道": "township",
    "苏木": "township",
    "village": "village",
    "村": "village",
    "社区": "village",
    "村社区": "village",
    "嘎查": "village",
    "city": "city",
}
#: overlaps between neighbours up to this area (m²) are digitising noise: snapped and reported
SNAP_TOLERANCE_M2 = 50.0
#: a unit may stick out of its parent by this much (m²) without review
NEST_TOLERANCE_M2 = 100.0


def _local(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.column_stack(to_local(xy[:, 0], xy[:, 1])))


def official_units(store) -> pd.DataFrame:
    """code → (level, parent_code) from the shipped code lists and the store's units."""
    from gridmap import boundaries

    frames = [pd.DataFrame(store.read("admin_units", columns=["code", "level", "parent_code"]))]
    try:
        for loader in (boundaries.counties, boundaries.townships, boundaries.villages):
            frames.append(pd.DataFrame(loader())[["code", "level", "parent_code"]])
    except (OSError, FileNotFoundError):  # pragma: no cover - a checkout without data/boundaries
        pass
    return pd.concat(frames, ignore_index=True).drop_duplicates("code").set_index("code")


def prepare(store, data, mapping: Mapping[str, str] | None = None, batch_id: str = "") -> Prepared:
    from gridmap.imports.framework import resolve_columns

    frame = data.frame
    columns = [c for c in frame.columns if c != frame.geometry.name]
    column_map = resolve_columns(columns, ALIASES, mapping)
    if "code" not in column_map.values():
        from gridmap.errors import InputError

        raise InputError(
            f"{data.name}: no code column (区划代码/XZQDM/code); the file has {', '.join(columns)}; "
            "use --map code=COLUMN"
        )
    fields = pd.DataFrame({f: frame[c].astype(str).str.strip().to_numpy() for c, f in column_map.items()})
    n = len(fields)
    rows = Rows.start(n)
    for i, why in data.dropped.items():
        rows.status[i], rows.reason[i] = REJECTED, f"dropped on reading: {why}"
    code = fields["code"].str.replace(r"\.0$", "", regex=True)
    code = code.where(code.str.len() != 15, code)  # 15-digit village codes from some exports: keep 12
    code = code.where(~((code.str.len() == 15) & code.str.endswith("000")), code.str[:12])
    rows.mark(
        ~code.str.fullmatch(r"\d{6}|\d{9}|\d{12}").to_numpy(),
        REJECTED,
        "code is not a 6-, 9- or 12-digit division code",
    )
    drop_repeats(code.to_numpy(dtype=object), rows, "unit code")
    level = (
        fields["level"].map(lambda v: LEVEL_VALUES.get(v.strip().lower() if v.isascii() else v.strip()))
        if "level" in fields
        else pd.Series([None] * n)
    )
    level = level.fillna(code.str.len().map(LEVEL_BY_LENGTH))
    official = official_units(store)
    known = code.isin(official.index).to_numpy()
    rows.mark(~known & rows.live, REVIEW, "code not in the official list (统计用区划代码): check it")
    official_parent = official["parent_code"].reindex(code).to_numpy(dtype=object)
    prefix = np.where(code.str.len() == 12, code.str[:9], np.where(code.str.len() == 9, code.str[:6], ""))
    if "parent_code" in fields:
        parent = fields["parent_code"].where(fields["parent_code"].ne(""), pd.Series(prefix))
        wrong_parent = known & pd.notna(official_parent) & (parent.to_numpy(dtype=object) != official_parent)
        reasons = np.array(
            [
                f"code filed under {p}, but its official parent is {o}"
                for p, o in zip(parent, official_parent, strict=True)
            ],
            dtype=object,
        )
        rows.mark(wrong_parent, REJECTED, reasons)
    else:  # the official parent where known (the development zone's townships lie in 科尔沁区), else the prefix
        parent = pd.Series(np.where(pd.notna(official_parent), official_parent, prefix), dtype=object)
    name = fields["name"] if "name" in fields else pd.Series([""] * n)
    if "name" not in fields:
        official_names = pd.DataFrame(store.read("admin_units", columns=["code", "name"])).set_index("code")[
            "name"
        ]
        name = code.map(official_names).fillna("")

    geoms = np.asarray(frame.geometry.values, dtype=object)
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    rows.mark(~polygonal, REJECTED, "not a polygon")
    local = _local(geoms)
    findings: list[str] = []

    # neighbours under the same parent: small overlaps snapped, large ones reported
    live = np.flatnonzero(rows.live & polygonal)
    tree = shapely.STRtree(local[live])
    left, right = tree.query(local[live], predicate="intersects")
    pairs = [
        (live[a], live[b])
        for a, b in zip(left, right, strict=True)
        if a < b and parent.iat[live[a]] == parent.iat[live[b]]
    ]
    snapped = 0
    for a, b in pairs:
        overlap = shapely.intersection(local[a], local[b])
        area = float(shapely.area(overlap))
        if area <= 0:
            continue
        if area <= SNAP_TOLERANCE_M2:
            local[b] = shapely.difference(local[b], local[a])
            geoms[b] = None  # recomputed below from local
            snapped += 1
        else:
            findings.append(f"units {code.iat[a]} and {code.iat[b]} overlap by {area:,.0f} m²")
            mask = np.zeros(n, dtype=bool)
            mask[[a, b]] = True
            rows.mark(mask, REVIEW, f"overlaps a neighbour by {area:,.0f} m² (over {SNAP_TOLERANCE_M2:g} m²)")
    if snapped:
        findings.append(f"{snapped} overlaps between neighbours under {SNAP_TOLERANCE_M2:g} m² snapped")

    # nesting: in the parent from this file, else the store's
    stored = store.read("admin_units", where={"code": sorted(set(parent) - {""})})
    parents = (
        dict(zip(stored["code"], _local(np.asarray(stored.geometry.values, dtype=object)), strict=True))
        if len(stored)
        else {}
    )
    parents.update({c: g for c, g, ok in zip(code, local, rows.live, strict=True) if ok})
    for i in np.flatnonzero(rows.live & polygonal):
        outer = parents.get(parent.iat[i])
        if outer is None or shapely.is_missing(outer) or shapely.is_empty(outer):
            continue
        outside = float(shapely.area(shapely.difference(local[i], outer)))
        if outside > NEST_TOLERANCE_M2:
            rows.mark(np.arange(n) == i, REVIEW, f"{outside:,.0f} m² lie outside its parent {parent.iat[i]}")
    # gaps: the part of each parent (in the store or the file) its children here leave uncovered;
    # slivers up to SNAP_TOLERANCE_M2 go to the child they share the longest edge with
    filled = 0
    for parent_code, members in pd.Series(np.arange(n)).groupby(parent.to_numpy()).groups.items():
        outer = parents.get(parent_code)
        members = [m for m in members if rows.live[m] and polygonal[m]]
        if outer is None or not parent_code or len(members) < 2:
            continue
        gaps = shapely.get_parts(shapely.difference(outer, shapely.union_all(local[members])))
        gaps = gaps[shapely.area(gaps) > 0]
        small = gaps[shapely.area(gaps) <= SNAP_TOLERANCE_M2]
        for piece in small:
            shared = shapely.length(
                shapely.intersection(shapely.buffer(piece, 0.01), shapely.boundary(local[members]))
            )
            if shared.max() <= 0:
                continue
            target = members[int(np.argmax(shared))]
            local[target] = shapely.union(local[target], piece)
            geoms[target] = None
            filled += 1
        large = float(shapely.area(gaps).sum() - shapely.area(small).sum())
        if large > NEST_TOLERANCE_M2:
            findings.append(
                f"{parent_code}: {large:,.0f} m² not covered by the {len(members)} units of this file"
            )
    if filled:
        findings.append(f"{filled} gaps between neighbours under {SNAP_TOLERANCE_M2:g} m² filled")
    redo = shapely.is_missing(geoms) & polygonal
    if redo.any():
        from gridmap.crs import to_wgs84 as from_local

        geoms[redo] = shapely.transform(
            local[redo], lambda xy: np.column_stack(from_local(xy[:, 0], xy[:, 1]))
        )

    records = gpd.GeoDataFrame(
        {
            "code": code.to_numpy(dtype=object),
            "name": name.to_numpy(dtype=object),
            "level": level.to_numpy(dtype=object),
            "parent_code": parent.to_numpy(dtype=object),
            "source": f"import {data.name}",
        },
        geometry=gpd.GeoSeries(geoms, crs=WGS84).values,
        crs=WGS84,
    )
    versions = _versions(store, records, rows.live, batch_id)
    return Prepared(
        records=records,
        status=rows.status,
        reason=rows.reason,
        carried=["name", "level", "parent_code", "geometry", "source"],
        keep={"source": np.ones(n, dtype=bool)},
        external_id=code.to_numpy(dtype=object),
        mapping=column_map,
        ignored_columns=[c for c in columns if c not in column_map],
        findings=findings,
        notes=list(data.notes),
        extra_writes=[("admin_unit_versions", versions)] if len(versions) else [],
    )


def _versions(store, records: gpd.GeoDataFrame, live: np.ndarray, batch_id: str) -> gpd.GeoDataFrame:
    """The stored boundaries this import replaces (with a different geometry)."""
    codes = records.loc[live, "code"].astype(str).tolist()
    stored = store.read("admin_units", where={"code": codes}) if codes else None
    if stored is None or not len(stored):
        return gpd.GeoDataFrame()
    stored = stored[stored.geometry.notna()]
    new = records.set_index("code").geometry.reindex(stored["code"]).values
    old = np.asarray(stored.geometry.values, dtype=object)
    changed = ~shapely.is_missing(np.asarray(new, dtype=object)) & ~shapely.equals_exact(
        np.asarray(new, dtype=object), old, tolerance=1e-9
    )
    out = stored.loc[changed, ["code", "name", "level", "parent_code", "source", "geometry"]].copy()
    out["replaced_at"] = now_iso()
    out["batch_id"] = batch_id
    return out


def import_file(
    store,
    source: str | Path,
    filename: str | None = None,
    mapping: Mapping[str, str] | None = None,
    *,
    actor: str = "system",
    crs: str | None = None,
    layer: str | None = None,
    progress: Progress | None = None,
    **_: object,
) -> BatchReport:
    """Import a polygon file of units; returns the batch report (findings listed)."""
    from gridmap.geocode.batch import city_outline

    t0 = time.perf_counter()
    area = city_outline(store.read("admin_units", where={"level": ["city", "county"]}))
    data = read_vector_input(source, filename, crs=crs, layer=layer, area=area)
    batch_id = new_batch_id(data.sha256)
    prepared = prepare(store, data, mapping, batch_id)
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
        batch_id=batch_id,
    )
