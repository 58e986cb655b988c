"""Kind ``addresses``: the standard address book (标准地址库) with households and population.

Fields: address code (标准地址编码: the record's id; without it the full address text
identifies the record), full address, road (街路巷), house number (门牌号), building (楼栋),
households (户数), population (人口), the village code (else found from the point in the
imported village polygons), point (lon/lat + 坐标系 or ``--crs``).

Checks: no point → rejected (an address the map cannot place plans nothing); point outside
the area or outside the village its code names (beyond 150 m) → review; no village at all →
review; households missing or not a whole number → review with 0 households.  Road and
house number missing → taken from the full text (…路18号2栋).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84
from gridmap.errors import InputError
from gridmap.imports.common import COORDINATE_ALIASES, declared_points, drop_repeats, map_columns
from gridmap.imports.framework import (
    REJECTED,
    REVIEW,
    BatchReport,
    Prepared,
    Progress,
    import_tabular,
    stable_key,
)

KIND = "addresses"
TABLE = "addresses"
ALIASES: dict[str, tuple[str, ...]] = {
    "address_id": ("address_id", "地址编码", "标准地址编码", "地址代码", "编码", "code"),
    "full_address": ("full_address", "address", "标准地址", "地址", "详细地址", "地址名称"),
    "road": ("road", "街路巷", "街路巷名称", "道路", "路名"),
    "house_number": ("house_number", "门牌号", "门牌", "门址"),
    "building": ("building", "楼栋", "楼号", "栋"),
    "households": ("households", "户数", "住户数", "实有户数"),
    "population": ("population", "人口", "人数", "实有人口"),
    "village_code": ("village_code", "村社区代码", "所属村社区代码", "社区代码", "村代码", "区划代码"),
    **COORDINATE_ALIASES,
}
#: a point this far (metres) outside the village its code names still belongs to it
VILLAGE_TOLERANCE_M = 150.0
_PARTS = r"(?P<road>[^\d号]*?(?:大街|路|街|巷|道|胡同|组|里))?(?P<number>\d+)号(?:(?P<building>\d+)(?:栋|号楼|幢))?"


def prepare(store, table, mapping: Mapping[str, str] | None = None, crs: str | None = None) -> Prepared:
    from gridmap.crs import to_local
    from gridmap.geocode.assign import GridIndex

    fields, column_map, rows = map_columns(table, ALIASES, mapping, ("raw_lon", "raw_lat"), KIND)
    if "full_address" not in fields and "road" not in fields:
        raise InputError(f"{table.name}: no address column (标准地址/地址) and no road column (街路巷)")
    n = len(fields)
    lon, lat, x, y = declared_points(store, fields, crs, table.name, rows)
    rows.mark(~(np.isfinite(x) & np.isfinite(y)), REJECTED, "no coordinates")
    text = fields["full_address"] if "full_address" in fields else pd.Series([""] * n)
    ids = (
        fields["address_id"].to_numpy(dtype=object)
        if "address_id" in fields
        else np.full(n, "", dtype=object)
    )
    derived = stable_key("ADR-", text.to_numpy(dtype=object))
    ids = np.where(ids == "", derived, ids).astype(object)
    drop_repeats(ids, rows, "address")

    parts = text.str.extract(_PARTS)
    road = fields["road"] if "road" in fields else parts["road"].fillna("")
    number = (
        fields["house_number"]
        if "house_number" in fields
        else parts["number"].fillna("").map(lambda v: f"{v}号" if v else "")
    )
    building = (
        fields["building"]
        if "building" in fields
        else parts["building"].fillna("").map(lambda v: f"{v}栋" if v else "")
    )
    households = pd.to_numeric(fields.get("households", pd.Series([""] * n)), errors="coerce")
    bad_households = households.isna() | (households < 0) | (households % 1 != 0)
    rows.mark(bad_households.to_numpy(), REVIEW, "households missing or not a whole number (taken as 0)")
    population = pd.to_numeric(fields.get("population", pd.Series([""] * n)), errors="coerce")

    villages = store.read("admin_units", where={"level": "village"})
    villages = villages[villages.geometry.notna() & ~villages.geometry.is_empty]
    units = pd.DataFrame(store.read("admin_units", columns=["code", "level", "parent_code"])).set_index(
        "code"
    )
    in_village = (
        GridIndex(villages, code_col="code").assign(np.nan_to_num(lon), np.nan_to_num(lat))
        if len(villages)
        else np.full(n, None, dtype=object)
    )
    in_village = np.where(np.isfinite(lon), in_village, None)
    named = (
        fields["village_code"].replace("", None).to_numpy(dtype=object)
        if "village_code" in fields
        else np.full(n, None, dtype=object)
    )
    village = np.where(pd.isna(named), in_village, named).astype(object)
    rows.mark(
        pd.isna(village) & rows.live,
        REVIEW,
        "in no village: import the village polygons first or give 村社区代码",
    )
    unknown = (
        pd.notna(village) & ~pd.Series(village.astype(str)).isin(set(units.index.astype(str))).to_numpy()
    )
    rows.mark(unknown, REVIEW, "village code not in the store's units")
    disagree = pd.notna(named) & pd.notna(in_village) & (named != in_village)
    if disagree.any():
        polygons = dict(zip(villages["code"], villages.geometry.values, strict=True))
        far = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(disagree):
            polygon = polygons.get(named[i])
            if polygon is None:
                continue
            local = shapely.transform(polygon, lambda a, b: to_local(a, b), interleaved=False)
            px, py = to_local(lon[i], lat[i])
            far[i] = shapely.distance(local, shapely.Point(float(px), float(py))) > VILLAGE_TOLERANCE_M
        rows.mark(far, REVIEW, "the point lies outside the village its code names")
    township = np.array(
        [units["parent_code"].get(v) if isinstance(v, str) else None for v in village], dtype=object
    )
    county = np.array(
        [units["parent_code"].get(t) if isinstance(t, str) else None for t in township], dtype=object
    )
    geometry = np.full(n, None, dtype=object)
    ok = np.isfinite(lon)
    geometry[ok] = shapely.points(lon[ok], lat[ok])
    records = gpd.GeoDataFrame(
        {
            "address_id": ids,
            "full_address": text.replace("", None).to_numpy(dtype=object),
            "county_code": county,
            "township_code": township,
            "village_code": village,
            "road": road.replace("", None).to_numpy(dtype=object),
            "house_number": number.replace("", None).to_numpy(dtype=object),
            "building": building.replace("", None).to_numpy(dtype=object),
            "households": households.where(~bad_households, 0).astype("Int64"),
            "population": population.astype("Int64"),
            "urban": building.ne("").astype(int).to_numpy(),
            "source": f"import {table.name}",
        },
        geometry=gpd.GeoSeries(geometry, crs=WGS84).values,
        crs=WGS84,
    )
    carried = [
        "full_address",
        "county_code",
        "township_code",
        "village_code",
        "road",
        "house_number",
        "building",
        "households",
        "urban",
        "geometry",
        "source",
    ] + (["population"] if "population" in fields else [])
    return Prepared(
        records=records,
        status=rows.status,
        reason=rows.reason,
        carried=carried,
        keep={"source": np.ones(n, dtype=bool)},
        external_id=fields["address_id"].to_numpy(dtype=object) if "address_id" in fields else None,
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
    crs: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
    **_: object,
) -> BatchReport:
    """Import a standard address book (CSV/XLSX/JSON); returns the batch report."""
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
