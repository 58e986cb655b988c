"""A small county export generated the way offices hand them over (nothing shipped as binaries).

One real township of 科尔沁区 with four of its real village codes, laid out as a 2 × 2 block of
1.2 km squares inside the county's real outline:

* ``units.shp`` (+ .shx/.dbf, **no .prj, no .cpg**): the township and its villages in
  CGCS2000 3° Gauss–Krüger zone 41 *with* the zone prefix (EPSG:4529), names in GBK;
* ``addresses.xlsx``: the address book on its **second** sheet below a title row (the first
  sheet is a 说明 note), points as CGCS2000 lon/lat;
* ``roster.xlsx``: the workers, with a **merged two-row header** (联系方式 over 手机 / 身份证号);
* ``assignments.csv``: worker → village;
* ``patrols.csv``: **GCJ-02** check-ins (UTF-8 with BOM), one exported twice;
* ``cases.csv``: **GBK**, address text and **BD-09** points.

Everything is synthetic test data and says so in its ``source``-free columns only by being
generated here; the truth (WGS-84 outlines, households, grid expectations) comes back in
:class:`CountyExport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry import box

from gridmap.crs import WGS84, to_local, to_wgs84
from gridmap.geocode.transform import from_wgs84

GK_EPSG = 4529
SIDE_M = 1200.0
ROADS = ["建国路", "和平大街", "民主路", "新华街"]


@dataclass
class CountyExport:
    folder: Path
    units_wgs84: gpd.GeoDataFrame  # code, name, level, parent_code, geometry (the truth, EPSG:4326)
    addresses: pd.DataFrame  # the truth: code, village, full_address, households, lon, lat (WGS-84)
    workers: pd.DataFrame
    patrol_rows: int
    patrol_duplicates: int
    case_rows: int

    @property
    def households(self) -> int:
        return int(self.addresses["households"].sum())


def _pick_township():
    from gridmap import boundaries

    townships = boundaries.townships()
    villages = boundaries.villages()
    town = townships[townships["parent_code"] == "150502"].iloc[0]
    members = villages[villages["parent_code"] == town["code"]].head(4)
    county = boundaries.counties().set_index("code").loc["150502", "geometry"]
    return town, members, county


def make_county_export(folder: Path, seed: int = 3) -> CountyExport:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    town, members, county = _pick_township()
    centre = county.representative_point()
    cx, cy = (float(v) for v in to_local(centre.x, centre.y))
    squares = []
    for k in range(4):
        x0, y0 = cx + (k % 2 - 1) * SIDE_M, cy + (k // 2 - 1) * SIDE_M
        squares.append(box(x0, y0, x0 + SIDE_M, y0 + SIDE_M).segmentize(100.0))
    town_local = shapely.union_all(squares)
    local = [town_local, *squares]

    def wgs(geom):
        return shapely.transform(geom, lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1])))

    units = gpd.GeoDataFrame(
        {
            "code": [town["code"], *members["code"]],
            "name": [town["name"], *members["name"]],
            "level": ["township"] + ["village"] * len(members),
            "parent_code": ["150502"] + [town["code"]] * len(members),
        },
        geometry=[wgs(g) for g in local],
        crs=WGS84,
    )

    # the Shapefile: GK zone 41 with the zone prefix, no .prj, no .cpg, DBF in GBK
    gk = units.to_crs(GK_EPSG)
    shp = gk.rename(columns={"code": "XZQDM", "name": "XZQMC"})[["XZQDM", "XZQMC", "geometry"]]
    shp.to_file(folder / "units.shp", driver="ESRI Shapefile", encoding="gbk")
    for suffix in (".prj", ".cpg"):
        (folder / f"units{suffix}").unlink(missing_ok=True)

    # the address book: 12 addresses per village
    rows = []
    for (_, village), square in zip(members.iterrows(), squares, strict=True):
        x0, y0, x1, y1 = square.bounds
        for j in range(12):
            x = x0 + 100 + (j % 4) * 300 + rng.uniform(-20, 20)
            y = y0 + 150 + (j // 4) * 400 + rng.uniform(-20, 20)
            lon, lat = (float(v) for v in to_wgs84(x, y))
            road = ROADS[j % len(ROADS)]
            number, building = 10 + j, 1 + j % 3
            rows.append(
                {
                    "code": f"{village['code']}{j + 1:04d}",
                    "village": village["code"],
                    "full_address": f"科尔沁区{town['name']}{village['name']}{road}{number}号{building}栋",
                    "households": int(rng.integers(20, 60)),
                    "population": 0,
                    "lon": lon,
                    "lat": lat,
                }
            )
    addresses = pd.DataFrame(rows)
    addresses["population"] = (addresses["households"] * 2.6).round().astype(int)
    to_cgcs = pyproj.Transformer.from_crs(WGS84, "EPSG:4490", always_xy=True)
    clon, clat = to_cgcs.transform(addresses["lon"].to_numpy(), addresses["lat"].to_numpy())
    from openpyxl import Workbook

    book = Workbook()
    note = book.active
    note.title = "说明"
    note.append(["本表由某县综治中心导出，第二页为标准地址库（测试数据，合成）"])
    sheet = book.create_sheet("标准地址")
    sheet.append([f"{town['name']}标准地址库"])
    sheet.merge_cells("A1:H1")
    sheet.append(["地址编码", "标准地址", "户数", "人口", "经度", "纬度", "坐标系", "村社区代码"])
    for r, x, y in zip(addresses.itertuples(), clon, clat, strict=True):
        sheet.append(
            [
                r.code,
                r.full_address,
                r.households,
                r.population,
                round(float(x), 8),
                round(float(y), 8),
                "cgcs2000",
                r.village,
            ]
        )
    book.save(folder / "addresses.xlsx")

    # the roster: a two-row header with a merged group
    workers = pd.DataFrame(
        {
            "worker_id": [f"W{k + 1:03d}" for k in range(4)],
            "name": ["王芳", "李强", "张敏", "赵磊"],
            "role": ["专职", "专职", "兼职", "专职"],
            "phone": ["13900000001", "13900000002", "13900000003", "13900000004"],
            "id_number": [
                "150502199001011234",
                "15050219900202123X",
                "150502199003031234",
                "150502199004041234",
            ],
            "village": members["code"].tolist(),
        }
    )
    book = Workbook()
    sheet = book.active
    sheet.title = "网格员"
    sheet.append(["工号", "姓名", "专兼职", "联系方式", "", "所属村社区代码"])
    sheet.append(["", "", "", "手机", "身份证号", ""])
    for cell in ("A1:A2", "B1:B2", "C1:C2", "D1:E1", "F1:F2"):
        sheet.merge_cells(cell)
    for w in workers.itertuples():
        sheet.append([w.worker_id, w.name, w.role, w.phone, w.id_number, w.village])
    book.save(folder / "roster.xlsx")
    pd.DataFrame(
        {"工号": workers["worker_id"], "村社区代码": workers["village"], "开始日期": "2024-01-01"}
    ).to_csv(folder / "assignments.csv", index=False)

    # GCJ-02 check-ins: every worker, every day of December 2024, at an address of the village
    patrols = []
    for w in workers.itertuples():
        mine = addresses[addresses["village"] == w.village].reset_index(drop=True)
        for day in range(1, 32):
            a = mine.iloc[day % len(mine)]
            glon, glat = from_wgs84(a["lon"], a["lat"], "gcj02")
            patrols.append(
                [
                    w.worker_id,
                    f"2024-12-{day:02d} 09:{day:02d}:00",
                    f"{float(glon):.7f}",
                    f"{float(glat):.7f}",
                    "gcj02",
                ]
            )
    patrols.append(list(patrols[0]))  # exported twice
    pd.DataFrame(patrols, columns=["工号", "打卡时间", "经度", "纬度", "坐标系"]).to_csv(
        folder / "patrols.csv", index=False, encoding="utf-8-sig"
    )

    # GBK cases: half with BD-09 points, half address only
    cases = []
    for i, a in enumerate(addresses.sample(20, random_state=seed).itertuples()):
        blon, blat = from_wgs84(a.lon, a.lat, "bd09")
        point = i % 2 == 0
        cases.append(
            [
                f"C-{i + 1:03d}",
                a.full_address,
                f"{float(blon):.7f}" if point else "",
                f"{float(blat):.7f}" if point else "",
                "bd09" if point else "",
                "矛盾纠纷",
                "邻里",
                "已受理",
                f"2024-12-{i + 1:02d} 10:00",
            ]
        )
    pd.DataFrame(
        cases, columns=["案件编号", "地址", "经度", "纬度", "坐标系", "类型", "类别", "状态", "登记时间"]
    ).to_csv(folder / "cases.csv", index=False, encoding="gbk")
    return CountyExport(
        folder=folder,
        units_wgs84=units,
        addresses=addresses,
        workers=workers,
        patrol_rows=len(patrols),
        patrol_duplicates=1,
        case_rows=len(cases),
    )
