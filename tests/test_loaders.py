"""Loaders: vector files land in EPSG:4326 repaired and accounted for; tables decode any common encoding."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.errors import InputError
from gridmap.loaders import LoadReport, RowIssue, read_table, read_vector

# points and shapes inside Tongliao (lon/lat degrees)
TONGLIAO_POINTS = [(122.26, 43.62), (121.5, 44.0), (120.9, 43.1)]
BOWTIE = shapely.Polygon([(122.0, 43.5), (122.2, 43.7), (122.2, 43.5), (122.0, 43.7)])


def write(frame: gpd.GeoDataFrame, path, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided")  # CRS-less files on purpose
        frame.to_file(path, engine="pyogrio", **kwargs)
    return path


# --- vector files -------------------------------------------------------------------------


def test_bowtie_polygon_is_repaired_and_every_row_accounted_for(tmp_path):
    square = shapely.box(121.0, 44.0, 121.1, 44.1)
    frame = gpd.GeoDataFrame(
        {"name": ["bowtie", "square", "empty", "none"]},
        geometry=[BOWTIE, square, shapely.Polygon(), None],
        crs="EPSG:4326",
    )
    gdf, report = read_vector(write(frame, tmp_path / "grids.gpkg"))
    assert report.rows_read == 4 and report.rows_kept == 2
    assert list(gdf.index) == [0, 1] and gdf["name"].tolist() == ["bowtie", "square"]
    assert gdf.crs.to_epsg() == 4326 and gdf.geometry.is_valid.all()
    assert len(report.repaired) == 1 and report.repaired[0].row == 0
    assert report.repaired[0].reason.startswith("Self-intersection")
    repaired = gdf.geometry.loc[0]
    assert (
        repaired.geom_type == "MultiPolygon" and len(repaired.geoms) == 2
    )  # the two triangles of the bow tie
    assert repaired.area == pytest.approx(shapely.make_valid(BOWTIE).area) and repaired.area > 0
    assert gdf.geometry.loc[1].equals(square)
    assert {(d.row, d.reason) for d in report.dropped} == {(2, "empty geometry"), (3, "no geometry")}
    text = report.summary()
    assert (
        "2 of 4 rows kept" in text
        and "1 repaired (row 0: Self-intersection" in text
        and "row 3: no geometry" in text
    )


def test_degenerate_polygon_with_no_area_is_dropped_with_reason(tmp_path):
    spike = shapely.Polygon(
        [(121.0, 44.0), (121.25, 44.25), (121.5, 44.5), (121.0, 44.0)]
    )  # collinear: zero area
    frame = gpd.GeoDataFrame({"n": [1, 2]}, geometry=[spike, shapely.box(121, 44, 121.1, 44.1)], crs=4326)
    gdf, report = read_vector(write(frame, tmp_path / "spike.gpkg"))
    assert list(gdf.index) == [1] and report.repaired == []
    assert report.dropped[0].row == 0 and "no area left" in report.dropped[0].reason


def test_web_mercator_file_is_reprojected(tmp_path):
    lonlat = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"]}, geometry=gpd.points_from_xy(*zip(*TONGLIAO_POINTS, strict=True)), crs=4326
    )
    gdf, report = read_vector(write(lonlat.to_crs(3857), tmp_path / "mercator.gpkg"))
    assert gdf.crs.to_epsg() == 4326 and report.crs == "EPSG:3857"
    assert np.allclose(shapely.get_coordinates(gdf.geometry.values), np.array(TONGLIAO_POINTS), atol=1e-9)
    assert any("reprojected from EPSG:3857" in note for note in report.notes)


def test_file_without_crs(tmp_path):
    points = gpd.GeoDataFrame(
        {"id": [1, 2, 3]}, geometry=gpd.points_from_xy(*zip(*TONGLIAO_POINTS, strict=True))
    )
    gdf, report = read_vector(write(points, tmp_path / "nocrs.shp"))
    assert report.crs is None and gdf.crs.to_epsg() == 4326
    assert any("assumed EPSG:4326" in note for note in report.notes)
    metres = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.Point(13_610_000, 5_400_000)])
    with pytest.raises(InputError, match="no CRS declared"):
        read_vector(write(metres, tmp_path / "metres.shp"))
    gdf, report = read_vector(tmp_path / "metres.shp", expected_crs="EPSG:3857")
    assert (
        gdf.geometry.iloc[0].x == pytest.approx(122.26, abs=0.01) and "expected EPSG:3857" in report.notes[0]
    )


def test_swapped_lat_lon_is_refused(tmp_path):
    swapped = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": k},
                "geometry": {"type": "Point", "coordinates": [lat, lon]},
            }
            for k, (lon, lat) in enumerate(TONGLIAO_POINTS)
        ],
    }
    path = tmp_path / "swapped.geojson"
    path.write_text(json.dumps(swapped))
    with pytest.raises(InputError, match="swapped"):
        read_vector(path)
    no_crs = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.Point(43.62, 122.26)])
    with pytest.raises(InputError, match="swapped"):
        read_vector(write(no_crs, tmp_path / "swapped.shp"))


def test_data_elsewhere_is_refused_and_strays_are_dropped(tmp_path):
    beijing = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.Point(116.4, 39.9)], crs=4326)
    with pytest.raises(InputError, match="not in the Tongliao region"):
        read_vector(write(beijing, tmp_path / "beijing.gpkg"))
    gdf, _ = read_vector(tmp_path / "beijing.gpkg", region=None)
    assert len(gdf) == 1
    mixed = gpd.GeoDataFrame(
        {"id": [1, 2]}, geometry=[shapely.Point(122.26, 43.62), shapely.Point(0, 0)], crs=4326
    )
    gdf, report = read_vector(write(mixed, tmp_path / "stray.gpkg"))
    assert list(gdf.index) == [0] and report.dropped == [RowIssue(1, "outside the region (±20 km)")]


def test_unreadable_vector_file(tmp_path):
    garbage = tmp_path / "broken.gpkg"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(InputError, match="cannot read as a vector file"):
        read_vector(garbage)
    with pytest.raises(InputError, match="not found"):
        read_vector(tmp_path / "missing.shp")


# --- tables -------------------------------------------------------------------------------

CSV_TEXT = "姓名,地址,电话\n张三,科尔沁区西门街道民航社区建国路18号3栋,13800138000\n李四,,0475-1234567\n"


def test_gbk_csv(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes(CSV_TEXT.encode("gbk"))
    frame, report = read_table(path)
    assert report.encoding == "gbk" and list(frame.columns) == ["姓名", "地址", "电话"]
    assert frame["地址"].tolist() == ["科尔沁区西门街道民航社区建国路18号3栋", ""]
    assert frame["电话"].tolist() == ["13800138000", "0475-1234567"]  # strings, leading zero kept
    assert all(dtype == "str" for dtype in frame.dtypes)


def test_gb18030_csv_with_characters_outside_gbk():
    text = CSV_TEXT + "𠮷野,开鲁县,\n"
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    frame, report = read_table(text.encode("gb18030"), filename="cases.csv")
    assert report.encoding == "gb18030" and frame["姓名"].tolist()[-1] == "𠮷野"


def test_utf8_bom_csv(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV_TEXT.encode("utf-8"))
    frame, report = read_table(path)
    assert list(frame.columns)[0] == "姓名" and report.encoding == "utf-8-sig"
    assert "byte-order mark stripped" in report.summary()
    plain, plain_report = read_table(CSV_TEXT.encode("utf-8"), filename="plain.csv")
    assert plain_report.encoding == "utf-8"
    pd.testing.assert_frame_equal(plain, frame)


def test_binary_garbage_is_refused():
    with pytest.raises(InputError, match=r"NUL byte at offset \d+"):
        read_table(bytes(range(256)) * 4, filename="garbage.csv")
    no_nul = bytes([0x41, 0x42, 0xFF, 0xFE, 0xFD, 0x80, 0x81]) * 3
    with pytest.raises(InputError, match=r"offset 2 is not UTF-8.*not GB18030"):
        read_table(no_nul, filename="garbage.csv")


def test_delimiters_quotes_and_malformed_rows():
    frame, report = read_table(b'a\tb\n1\t"x\ty"\n', filename="t.tsv")
    assert frame.to_dict("list") == {"a": ["1"], "b": ["x\ty"]} and "'\\t'" in report.summary()
    frame, _ = read_table(b"a;b;a\n1;2;3\n", filename="semi.csv")
    assert list(frame.columns) == ["a", "b", "a_2"]
    with pytest.raises(InputError, match="malformed CSV"):
        read_table(b"a,b\n1,2\n1,2,3,4\n", filename="ragged.csv")
    with pytest.raises(InputError, match="empty"):
        read_table(b"  \n", filename="empty.csv")
    with pytest.raises(InputError, match="limit"):
        read_table(b"a\n1\n", filename="big.csv", max_bytes=3)


def test_xlsx_cells_become_strings(tmp_path):
    import datetime as dt

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["编号", "电话", "上报时间", "人数", "分数"])
    sheet.append(["A-1", 13800138000, dt.datetime(2024, 3, 5, 14, 30), 3, 0.25])
    sheet.append(["A-2", None, dt.date(2024, 3, 6), None, None])
    path = tmp_path / "cases.xlsx"
    workbook.save(path)
    frame, report = read_table(path)
    assert report.encoding == "xlsx"
    assert frame.to_dict("records") == [
        {
            "编号": "A-1",
            "电话": "13800138000",
            "上报时间": "2024-03-05T14:30:00",
            "人数": "3",
            "分数": "0.25",
        },
        {"编号": "A-2", "电话": "", "上报时间": "2024-03-06", "人数": "", "分数": ""},
    ]
    with pytest.raises(InputError, match="zip"):
        read_table(b"not a workbook", filename="fake.xlsx")


def test_json_records_and_arrays():
    records = [{"编号": "A-1", "人数": 3, "地址": "开鲁县"}, {"编号": "A-2", "extra": {"k": 1}, "ok": True}]
    frame, _ = read_table(json.dumps(records, ensure_ascii=False).encode(), filename="cases.json")
    assert list(frame.columns) == ["编号", "人数", "地址", "extra", "ok"]
    assert frame.iloc[1].tolist() == ["A-2", "", "", '{"k": 1}', "true"]
    frame, report = read_table(json.dumps({"data": records}).encode())
    assert len(frame) == 2 and "key 'data'" in report.summary()
    frame, _ = read_table(b'[["a", "b"], [1, null], [2.5, "x"]]', filename="rows.json")
    assert frame.to_dict("list") == {"a": ["1", "2.5"], "b": ["", "x"]}
    with pytest.raises(InputError, match="invalid JSON at line 1"):
        read_table(b'[{"a": 1,}]', filename="bad.json")


def test_report_summary_lists_issues():
    report = LoadReport(
        source="f.gpkg",
        rows_read=3,
        rows_kept=2,
        repaired=[RowIssue(0, "Self-intersection[1 2]")],
        dropped=[RowIssue(2, "no geometry")],
        notes=["reprojected from EPSG:3857 to EPSG:4326"],
    )
    assert report.summary() == (
        "f.gpkg: 2 of 3 rows kept. 1 repaired (row 0: Self-intersection[1 2]). 1 dropped (row 2: no geometry). "
        "reprojected from EPSG:3857 to EPSG:4326."
    )
