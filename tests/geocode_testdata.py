"""A tiny hand-made city for the geocode tests: admin units, standard addresses, grids.

Real names and codes (科尔沁区 …), made-up polygons: each village is a 0.02° square.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely.geometry import MultiPolygon, Point, box

from gridmap.crs import WGS84

ADMIN = [
    # code, name, level, parent, (x0, y0, x1, y1) or None
    ("150500", "通辽市", "city", "", (122.0, 43.0, 122.3, 43.2)),
    ("150502", "科尔沁区", "county", "150500", (122.0, 43.0, 122.2, 43.2)),
    ("150521", "科尔沁左翼中旗", "county", "150500", (122.2, 43.0, 122.3, 43.2)),
    ("150502001", "科尔沁街道", "township", "150502", (122.0, 43.0, 122.1, 43.1)),
    ("150502002", "西门街道", "township", "150502", (122.1, 43.0, 122.2, 43.1)),
    ("150521100", "保康镇", "township", "150521", (122.2, 43.0, 122.3, 43.1)),
    ("150502001001", "民航社区居委会", "village", "150502001", (122.00, 43.00, 122.02, 43.02)),
    ("150502001002", "铁区社区居委会", "village", "150502001", (122.02, 43.00, 122.04, 43.02)),
    ("150502002001", "建国社区居委会", "village", "150502002", (122.10, 43.00, 122.12, 43.02)),
    ("150502002202", "新村村民委员会", "village", "150502002", (122.12, 43.00, 122.14, 43.02)),
    ("150521100201", "巴彦嘎查", "village", "150521100", (122.20, 43.00, 122.22, 43.02)),
    ("150521100202", "新村村民委员会", "village", "150521100", (122.22, 43.00, 122.24, 43.02)),
]

# village, road, number, building, dx, dy (offsets inside the village square, degrees)
ADDRESSES = [
    ("150502001001", "建国路", 18, 1, 0.002, 0.002),
    ("150502001001", "建国路", 18, 2, 0.003, 0.002),
    ("150502001001", "建国路", 123, 1, 0.006, 0.004),
    ("150502001001", "建国路", 40, 1, 0.004, 0.012),  # 40号: two buildings in the west grid
    ("150502001001", "建国路", 40, 2, 0.005, 0.013),
    ("150502001001", "建国路", 60, 1, 0.004, 0.016),  # 60号: one building in each grid of 民航社区
    ("150502001001", "建国路", 60, 2, 0.014, 0.016),
    ("150502001001", "和平大街", 20, 1, 0.010, 0.010),
    ("150502001002", "和平大街", 5, 1, 0.004, 0.004),
    ("150502002001", "建国路", 132, 1, 0.005, 0.005),
    ("150502002001", "建国路", 7, 1, 0.008, 0.006),
    ("150502002202", "1组", 1, 0, 0.005, 0.005),
    ("150521100201", "1组", 3, 0, 0.004, 0.004),
    ("150521100201", "1组", 12, 0, 0.006, 0.004),
    ("150521100201", "2组", 12, 0, 0.012, 0.012),
    ("150521100202", "1组", 1, 0, 0.005, 0.005),
]

SHORT_TOWNSHIP = {"150502001": "科尔沁街道", "150502002": "西门街道", "150521100": "保康镇"}
SHORT_VILLAGE = {
    "150502001001": "民航社区",
    "150502001002": "铁区社区",
    "150502002001": "建国社区",
    "150502002202": "新村",
    "150521100201": "巴彦嘎查",
    "150521100202": "新村",
}
COUNTY_NAME = {"150502": "科尔沁区", "150521": "科尔沁左翼中旗"}


def admin_units() -> gpd.GeoDataFrame:
    rows = [
        {
            "code": c,
            "name": n,
            "level": lvl,
            "parent_code": p,
            "source": "test",
            "geometry": MultiPolygon([box(*b)]) if b else None,
        }
        for c, n, lvl, p, b in ADMIN
    ]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)


def addresses() -> gpd.GeoDataFrame:
    boxes = {c: b for c, _, _, _, b in ADMIN}
    rows = []
    seq: dict[str, int] = {}
    for village, road, number, building, dx, dy in ADDRESSES:
        seq[village] = seq.get(village, 0) + 1
        township = village[:9]
        county = village[:6]
        x0, y0 = boxes[village][:2]
        bld = f"{building}栋" if building else ""
        rows.append(
            {
                "address_id": f"{village}{seq[village]:05d}",
                "full_address": f"{COUNTY_NAME[county]}{SHORT_TOWNSHIP[township]}{SHORT_VILLAGE[village]}{road}{number}号{bld}",
                "county_code": county,
                "township_code": township,
                "village_code": village,
                "road": road,
                "house_number": f"{number}号",
                "building": bld,
                "households": 40 if building else 1,
                "population": 100 if building else 3,
                "urban": 1 if building else 0,
                "source": "test",
                "geometry": Point(x0 + dx, y0 + dy),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)


def address_id(full_address: str) -> str:
    a = addresses()
    return str(a.loc[a["full_address"] == full_address, "address_id"].iloc[0])


def village_grids() -> gpd.GeoDataFrame:
    """One grid per village square split in two halves (west 001, east 002)."""
    rows = []
    for code, _, level, _, b in ADMIN:
        if level != "village":
            continue
        x0, y0, x1, y1 = b
        xm = (x0 + x1) / 2
        rows.append({"code": f"{code}001", "village_code": code, "geometry": box(x0, y0, xm, y1)})
        rows.append({"code": f"{code}002", "village_code": code, "geometry": box(xm, y0, x1, y1)})
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=WGS84)


def fill_store(store, mode: str = "replace") -> None:
    """Write the tiny city into ``store``: admin units, addresses, and its village grids as the
    active plan ``P1`` (the set-up every geocoding, intake and import test starts from)."""
    store.write("admin_units", admin_units(), mode=mode)
    store.write("addresses", addresses(), mode=mode)
    store.write(
        "plans",
        pd.DataFrame(
            [{"plan_id": "P1", "name": "test", "status": "active", "created_at": "2024-01-01T00:00:00"}]
        ),
        mode=mode,
    )
    grids = village_grids().assign(
        plan_id="P1",
        township_code=lambda g: g["village_code"].str[:9],
        county_code=lambda g: g["village_code"].str[:6],
    )
    store.write("grids", grids, mode=mode)
