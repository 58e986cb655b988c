"""Files as offices export them (XLSX sheets, title rows, merged headers, encodings, Shapefile
DBF encodings, zipped or not, GeoJSON, KML) and the coordinate-system detection."""

from __future__ import annotations

import io
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from shapely.geometry import box

from gridmap import boundaries, crsdetect
from gridmap.crs import WGS84
from gridmap.errors import InputError
from gridmap.imports.reading import read_input
from gridmap.imports.vectors import dbf_encoding, read_vector_input


def _book(sheets: dict[str, list[list]], merges: dict[str, list[str]] | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        for cells in (merges or {}).get(title, []):
            sheet.merge_cells(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_second_sheet_below_a_title_with_a_merged_header():
    data = _book(
        {
            "说明": [["导出说明"]],
            "数据": [
                ["某县网格员花名册（2024年）"],
                ["工号", "姓名", "联系方式", ""],
                ["", "", "手机", "身份证号"],
                ["W1", "王芳", "13900000001", "150502199001011234"],
                ["W2", "李强", "13900000002", ""],
            ],
        },
        {"数据": ["A1:D1", "A2:A3", "B2:B3", "C2:D2"]},
    )
    table = read_input(data, "roster.xlsx")
    assert list(table.frame.columns) == ["工号", "姓名", "联系方式 手机", "联系方式 身份证号"]
    assert table.frame["工号"].tolist() == ["W1", "W2"]
    assert any("read '数据'" in n for n in table.notes) and any("title row" in n for n in table.notes)
    assert read_input(data, "roster.xlsx", sheet="说明").frame.shape[0] == 0
    with pytest.raises(InputError, match="no sheet"):
        read_input(data, "roster.xlsx", sheet="名单")


def test_xlsx_formula_cells_are_marked():
    data = _book({"s": [["地址", "备注"], ['=HYPERLINK("x","y")', "a"], ["建国路1号", "=1+1"]]})
    table = read_input(data, "f.xlsx")
    assert table.formula_cells == {0: ["地址"], 1: ["备注"]}
    assert table.frame.iloc[0, 0] == ""  # never the formula text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(encoding):
    text = "工号,姓名\nW1,王芳\nW2,䶮\n" if encoding == "gb18030" else "工号,姓名\nW1,王芳\n"
    table = read_input(text.encode(encoding), "r.csv")
    assert table.frame["姓名"].iloc[0] == "王芳"
    forced = read_input(text.encode(encoding), "r.csv", encoding=encoding.replace("-sig", ""))
    assert forced.frame.columns[0] == "工号"


def _units_frame() -> gpd.GeoDataFrame:
    county = boundaries.counties().set_index("code").loc["150502", "geometry"].representative_point()
    return gpd.GeoDataFrame(
        {"code": ["150502001"], "name": ["科尔沁街道"]},
        geometry=[box(county.x, county.y, county.x + 0.01, county.y + 0.01)],
        crs=WGS84,
    )


@pytest.mark.parametrize(
    "encoding,cpg",
    [
        ("gbk", None),
        ("utf-8", None),
        ("gb18030", None),
        ("gbk", "936"),
        ("gb18030", "GB18030"),
        ("gbk", "GBK"),
    ],
)
def test_shapefile_dbf_encoding_with_or_without_cpg_zipped(tmp_path, encoding, cpg):
    frame = _units_frame()
    name = "科尔沁街道䶮" if encoding == "gb18030" else "科尔沁街道"  # 䶮 is outside GBK
    frame["name"] = name
    frame.to_file(tmp_path / "u.shp", encoding=encoding)
    (tmp_path / "u.cpg").unlink(missing_ok=True)
    if cpg:
        (tmp_path / "u.cpg").write_text(cpg)
    else:
        assert dbf_encoding(tmp_path / "u.shp") == ("gb18030" if encoding != "utf-8" else "utf-8")
    assert read_vector_input(tmp_path / "u.shp").frame["name"].iloc[0] == name
    archive = tmp_path / "u.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in tmp_path.glob("u.*"):
            if p.suffix != ".zip":
                z.write(p, p.name)
    data = read_vector_input(archive)
    assert data.frame["name"].iloc[0] == name


@pytest.mark.parametrize(
    "suffix,driver", [(".geojson", "GeoJSON"), (".kml", "KML"), (".gpkg", "GPKG"), (".gdb", "OpenFileGDB")]
)
def test_other_vector_formats(tmp_path, suffix, driver):
    path = tmp_path / f"u{suffix}"
    _units_frame().to_file(path, driver=driver)
    data = read_vector_input(path)
    assert len(data.frame) == 1 and data.frame.crs.to_epsg() == 4326


def _points_in(code: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.uniform(121.9, 122.4, 300), rng.uniform(43.5, 43.8, 300)


@pytest.mark.parametrize("epsg,family", [(4529, {2365, 2417}), (4499, {2335, 21421}), (4550, {4510})])
def test_gauss_kruger_candidates(epsg, family):
    area = boundaries.city().geometry.iloc[0]
    lon, lat = _points_in("150502")
    x, y = pyproj.Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    codes = {int(c.code.split(":")[1]) for c in crsdetect.fitting(x, y, area)}
    assert epsg in codes and family <= codes
    # with the zone prefix the other zone never fits; without it only one central meridian does
    assert not {4528, 4549} & codes
    with pytest.raises(InputError) as refused:
        crsdetect.require_crs(x, y, area, "u.shp")
    message = str(refused.value)
    # the datum cannot be told from the numbers: the CGCS2000 code leads, the others are named with why
    assert f"fit EPSG:{epsg} (CGCS2000" in message and f"confirm with --crs EPSG:{epsg}" in message
    assert "most likely" in message and "\n" not in message
    older = {int(c.code.split(":")[1]) for c in crsdetect.fitting(x, y, area) if "CGCS2000" not in c.label}
    assert older and all(f"EPSG:{code} (" in message for code in older)
    assert message.count(" m apart") == len(older) and "cannot tell apart" in message


def test_degrees_list_every_geographic_candidate_and_nothing_fits_far_away():
    area = boundaries.city().geometry.iloc[0]
    lon, lat = _points_in("150502")
    assert [c.code for c in crsdetect.fitting(lon, lat, area)] == ["EPSG:4326", "EPSG:4490", "gcj02", "bd09"]
    with pytest.raises(InputError, match="fit none"):
        crsdetect.require_crs(lon + 10, lat, area, "far.csv")


def test_exactly_one_fit_names_it(monkeypatch):
    area = boundaries.city().geometry.iloc[0]
    only = crsdetect.Candidate("EPSG:4529", "CGCS2000 / 3-degree Gauss-Kruger zone 41")
    monkeypatch.setattr(crsdetect, "fitting", lambda *a, **k: [only])
    with pytest.raises(InputError) as refused:
        crsdetect.require_crs([1.0], [1.0], area, "u.shp")
    message = str(refused.value)
    assert "fit only EPSG:4529" in message and "confirm with --crs EPSG:4529" in message


def test_vector_file_without_crs_is_refused_and_read_with_the_flag(tmp_path):
    frame = _units_frame().to_crs(4529)
    frame.to_file(tmp_path / "u.shp", encoding="gbk")
    (tmp_path / "u.prj").unlink()
    with pytest.raises(InputError, match="EPSG:4529"):
        read_vector_input(tmp_path / "u.shp")
    data = read_vector_input(tmp_path / "u.shp", crs="EPSG:4529")
    assert abs(data.frame.geometry.iloc[0].bounds[0] - _units_frame().geometry.iloc[0].bounds[0]) < 1e-7
    pd.testing.assert_series_equal(
        data.frame["code"], pd.Series(["150502001"], name="code"), check_index=False
    )
