"""The seeded synthetic city (gridmap.synth): tiling, addresses, cases, workers, determinism.

One city at scale 0.02 is built per module (admin polygons are full size at every
scale); determinism builds it a second time and once with another seed.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap import boundaries
from gridmap.crs import LOCAL_CRS, WGS84, to_local
from gridmap.errors import InputError
from gridmap.geometry import segmentize_shared
from gridmap.store.schema import get_table
from gridmap.synth import coords, synthesize, write_city
from gridmap.synth.admin import GRID_DEGREES
from gridmap.synth.geometry import insert_touching_vertices, partition_polygon, snap_coverage
from gridmap.synth.people import id_number_valid, id_numbers
from gridmap.synth.text_variants import chinese_numeral

SCALE = 0.02
SEED = 7
MAX_SYMDIFF_M2 = 1e4  # 0.01 km²
MAX_OVERLAP_M2 = 1.0
#: edges are straight in lon/lat; this short they are straight in metres too (< 0.1 mm)
MEASURE_SEGMENT_DEG = 5e-4


@pytest.fixture(scope="module")
def city():
    return synthesize(SEED, SCALE)


@pytest.fixture(scope="module")
def written(city, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_a")
    write_city(city, out)
    return out


@pytest.fixture(scope="module")
def admin_local(city):
    return city.admin_units.to_crs(LOCAL_CRS)


def _area_m2(geoms_wgs84) -> np.ndarray:
    """Areas (m²) of EPSG:4326 geometries: densified in degrees, then measured in LOCAL_CRS.

    A long edge is straight in lon/lat but curves by metres in LOCAL_CRS (~2 m over
    10 km); projecting it undensified would count that bend as a tiling error.
    """
    dense = shapely.segmentize(np.atleast_1d(np.asarray(geoms_wgs84, dtype=object)), MEASURE_SEGMENT_DEG)
    return gpd.GeoSeries(dense, crs=WGS84).to_crs(LOCAL_CRS).area.to_numpy()


def _tiling_errors(children: gpd.GeoDataFrame, parents: gpd.GeoDataFrame) -> tuple[float, float]:
    """(largest symmetric difference between a parent and the union of its children,
    total area of pairwise child overlaps), m², for frames in EPSG:4326."""
    union = children.dissolve("parent_code")
    parent = parents.set_index("code").loc[union.index]
    symdiff = _area_m2(shapely.symmetric_difference(union.geometry.values, parent.geometry.values))
    left, right = shapely.STRtree(children.geometry.values).query(
        children.geometry.values, predicate="intersects"
    )
    pairs = left < right
    overlap = _area_m2(
        shapely.intersection(children.geometry.values[left[pairs]], children.geometry.values[right[pairs]])
    )
    return float(symdiff.max()), float(overlap.sum())


def _level(city, level: str) -> gpd.GeoDataFrame:
    return city.admin_units[city.admin_units["level"] == level]


def _vertex_set(geoms) -> set[tuple[float, float]]:
    return set(map(tuple, shapely.get_coordinates(np.asarray(geoms, dtype=object))))


# --- admin polygons ------------------------------------------------------------------------


def test_townships_tile_counties_exactly(city):
    townships, counties = _level(city, "township"), _level(city, "county")
    assert set(townships["parent_code"]) == set(counties["code"])
    symdiff, overlap = _tiling_errors(townships, counties)
    assert symdiff < MAX_SYMDIFF_M2
    assert overlap < MAX_OVERLAP_M2


def test_villages_tile_townships_exactly(city):
    symdiff, overlap = _tiling_errors(_level(city, "village"), _level(city, "township"))
    assert symdiff < MAX_SYMDIFF_M2
    assert overlap < MAX_OVERLAP_M2


def test_villages_and_townships_are_valid_coverages_city_wide(city):
    for level in ("village", "township"):
        geoms = np.asarray(_level(city, level).geometry.values)
        assert shapely.coverage_is_valid(geoms), level  # no overlaps, shared edges with identical vertices
        assert shapely.is_empty(shapely.coverage_invalid_edges(geoms)).all(), level
        # no gaps: the coverage union over every county line is one polygon without holes
        union = shapely.coverage_union_all(geoms)
        assert union.geom_type == "Polygon" and shapely.get_num_interior_rings(union) == 0, level
        assert _area_m2(shapely.symmetric_difference(union, _level(city, "city").geometry.values[0]))[0] < 1e4
        # every vertex on the precision grid, and still valid polygons once projected to metres
        xy = shapely.get_coordinates(geoms)
        per_degree = round(1 / GRID_DEGREES)
        assert (np.round(xy * per_degree) / per_degree == xy).all(), level
        assert shapely.is_valid(np.asarray(_level(city, level).to_crs(LOCAL_CRS).geometry.values)).all(), (
            level
        )


def test_townships_are_the_union_of_their_villages(city):
    townships = _level(city, "township").set_index("code")
    for code, villages in _level(city, "village").groupby("parent_code"):
        union = shapely.coverage_union_all(np.asarray(villages.geometry.values))
        township = townships.loc[code, "geometry"]
        assert shapely.equals(township, union), code
        # the township outline is made of its villages' own vertices
        assert _vertex_set([township]) <= _vertex_set(villages.geometry.values), code


def test_counties_kept_and_their_vertices_shared_by_the_townships(city):
    real = boundaries.counties().set_index("code")
    ours = _level(city, "county").set_index("code").loc[real.index]
    assert shapely.equals_exact(ours.geometry.values, real.geometry.values, tolerance=0).all()
    townships = _level(city, "township")
    for code, county in real.iterrows():
        mine = townships[townships["parent_code"] == code]
        assert _vertex_set([county.geometry]) <= _vertex_set(mine.geometry.values), code


def test_every_official_unit_once_with_its_name_and_parent(city):
    admin = city.admin_units
    assert admin["code"].is_unique
    for level, official in (("township", boundaries.townships()), ("village", boundaries.villages())):
        ours = admin[admin["level"] == level].set_index("code").sort_index()
        official = official.set_index("code").sort_index()
        assert list(ours.index) == list(official.index)
        assert (ours["name"] == official["name"]).all()
        assert (ours["parent_code"] == official["parent_code"]).all()
    assert len(admin[admin["level"] == "village"]) == 2568
    assert len(admin[admin["level"] == "township"]) == 143


def test_polygons_valid_single_part_multipolygons(city):
    geoms = city.admin_units.geometry.values
    assert shapely.is_valid(geoms).all()
    assert (city.admin_units.geom_type == "MultiPolygon").all()
    synthetic = city.admin_units["level"].isin(["township", "village"]).to_numpy()
    assert (shapely.get_num_geometries(geoms[synthetic]) == 1).all()
    assert (shapely.area(geoms) > 0).all()


def test_urban_units_small_and_packed_around_their_town(admin_local):
    villages = boundaries.villages().set_index("code")
    ours = admin_local[admin_local["level"] == "village"].set_index("code")
    community = villages.loc[ours.index, "is_community"].to_numpy()
    area_km2 = shapely.area(ours.geometry.values) / 1e6
    assert np.median(area_km2[community]) < 1.5
    assert np.median(area_km2[~community]) > 8 * np.median(area_km2[community])
    # the Tongliao city streets lie within ~12 km of the city centre
    centre = shapely.Point(to_local(122.265, 43.6125))
    townships = admin_local[admin_local["level"] == "township"]
    streets = townships[
        townships["name"].str.contains("街道") & townships["code"].str[:6].isin(["150502", "150571"])
    ]
    assert len(streets) == 15
    assert shapely.distance(shapely.point_on_surface(streets.geometry.values), centre).max() < 12_000


def test_admin_falls_back_on_snapping_when_rounding_breaks_the_coverage(monkeypatch):
    from gridmap.synth import admin

    snapped = []
    real_snap = admin.snap_coverage
    monkeypatch.setattr(admin, "_is_valid_coverage", lambda geoms: False)
    monkeypatch.setattr(admin, "snap_coverage", lambda *args: snapped.append(1) or real_snap(*args))
    result = admin.build_admin(SEED)
    assert snapped
    units = result.admin_units
    for level in ("village", "township"):
        geoms = np.asarray(units.loc[units["level"] == level, "geometry"].values)
        assert shapely.coverage_is_valid(geoms) and shapely.is_valid(geoms).all(), level
        assert (shapely.get_num_geometries(geoms) == 1).all(), level
    assert shapely.is_valid(result.villages.geometry.values).all()  # the LOCAL_CRS working frame too


def _two_parents_split_separately():
    """Two unit squares split on their own: the left one in two at y=0.5, which puts a
    vertex (1, 0.5) on the right square's edge that the right square lacks."""
    bottom = shapely.box(0, 0, 1, 0.5)
    top = shapely.box(0, 0.5, 1, 1)
    right = shapely.box(1, 0, 2, 1)
    return np.array([bottom, top, right], dtype=object)


def test_insert_touching_vertices_heals_a_t_junction():
    geoms = _two_parents_split_separately()
    assert not shapely.coverage_is_valid(geoms)
    healed = insert_touching_vertices(geoms, 1e-9)
    assert shapely.coverage_is_valid(healed)
    assert (1.0, 0.5) in _vertex_set([healed[2]])
    assert np.allclose(shapely.area(healed), shapely.area(geoms))
    assert all(shapely.equals(a, b) for a, b in zip(healed, geoms, strict=True))


def test_densify_shared_gives_both_sides_of_an_edge_the_same_new_vertices():
    left = shapely.Polygon([(0, 0), (1.0, 0.3), (0.2, 1.7)])
    right = shapely.Polygon([(1.0, 0.3), (1.9, 1.1), (0.2, 1.7)])  # shares the diagonal, run the other way
    dense = segmentize_shared(np.array([left, right], dtype=object), 0.013)
    assert shapely.coverage_is_valid(dense)
    assert len(_vertex_set([dense[0]]) & _vertex_set([dense[1]])) > 100
    assert _vertex_set([left]) <= _vertex_set([dense[0]])  # original vertices kept


def test_snap_coverage_closes_gaps_and_overlaps_inside_fixed_regions():
    regions = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], dtype=object)
    bottom, top, right = _two_parents_split_separately()
    top = shapely.box(0, 0.5003, 1, 1)  # a gap 0.0003 high under it
    right = shapely.Polygon(
        [(0.9996, 0), (2, 0), (2, 1), (1.0002, 1)]
    )  # overlaps region 0, a sliver short of it
    geoms = np.array([bottom, top, right], dtype=object)
    out = snap_coverage(geoms, np.array([0, 0, 1]), regions, 1e-4)
    assert shapely.coverage_is_valid(out)
    assert (shapely.get_num_geometries(out) == 1).all()
    xy = shapely.get_coordinates(out)
    assert np.allclose(xy, np.round(xy / 1e-4) * 1e-4, atol=1e-12, rtol=0)
    # each region filled exactly by its own polygons; the fixed region line holds
    assert shapely.equals(shapely.coverage_union_all(out[:2]), regions[0])
    assert shapely.equals(out[2], regions[1])
    assert abs(shapely.area(out[1]) - 0.5) < 1e-3  # the gap went to a neighbour
    assert abs(shapely.area(out[0]) + shapely.area(out[1]) - 1.0) < 1e-12


def test_partition_polygon_tiles_a_concave_parent():
    parent = shapely.Polygon(
        [
            (0, 0),
            (10_000, 0),
            (10_000, 10_000),
            (6_000, 10_000),
            (6_000, 3_000),
            (4_000, 3_000),
            (4_000, 10_000),
            (0, 10_000),
        ]
    )
    rng = np.random.default_rng(0)
    targets = np.array([1.0, 1.0, 2.0, 4.0, 0.3, 0.3])
    children, seeds = partition_polygon(
        parent,
        targets,
        rng,
        core=np.array([0, 0, 0, 0, 1, 1], bool),
        core_centre=np.array([2_000.0, 1_000.0]),
        mesh_per_child=30,
    )
    assert len(children) == len(targets)
    union = shapely.union_all(children)
    assert shapely.area(shapely.symmetric_difference(union, parent)) < 1.0
    areas = shapely.area(children)
    assert abs(areas.sum() - parent.area) < 1.0
    assert all(shapely.get_num_geometries(c) == 1 and c.is_valid for c in children)
    assert all(
        c.contains(shapely.Point(s)) or c.touches(shapely.Point(s))
        for c, s in zip(children, seeds, strict=True)
    )
    # the two core children are small and near the core centre
    assert areas[4:].max() < areas[:4].min()
    assert (
        max(
            shapely.distance(children[4], shapely.Point(2_000, 1_000)),
            shapely.distance(children[5], shapely.Point(2_000, 1_000)),
        )
        < 1_500
    )


# --- addresses -----------------------------------------------------------------------------


def test_frames_use_the_store_columns(city):
    for name in (
        "admin_units",
        "addresses",
        "cases",
        "workers",
        "patrols",
        "petition_items",
        "petition_visits",
    ):
        frame = getattr(city, name)
        expected = list(get_table(name).columns)
        if get_table(name).is_spatial:
            expected.append("geometry")
            assert frame.crs.to_epsg() == 4326
        assert list(frame.columns) == expected, name


def test_addresses_lie_inside_their_village(city):
    villages = city.admin_units[city.admin_units["level"] == "village"].set_index("code")
    ad = city.addresses
    polys = villages.loc[ad["village_code"], "geometry"].values
    shapely.prepare(polys)
    inside = shapely.contains_xy(polys, ad.geometry.x.to_numpy(), ad.geometry.y.to_numpy())
    assert inside.all()
    # same answer as a geopandas spatial join
    joined = gpd.sjoin(
        ad[["address_id", "village_code", "geometry"]],
        villages.reset_index()[["code", "geometry"]],
        predicate="within",
    )
    assert (joined["village_code"] == joined["code"]).all()
    assert joined["address_id"].is_unique and len(joined) == len(ad)


def test_addresses_households_and_text(city):
    ad = city.addresses
    assert ad["address_id"].is_unique
    assert (ad["households"] >= 1).all() and (ad["population"] >= ad["households"]).all()
    total = ad["households"].sum()
    assert 0.8 * 1_000_000 * SCALE < total < 1.5 * 1_000_000 * SCALE
    urban = ad[ad["urban"] == 1]
    assert urban["households"].between(12, 96).all()
    assert urban["building"].str.fullmatch(r"\d+栋").all()
    rural = ad[ad["urban"] == 0]
    assert rural["households"].between(1, 3).all()
    assert rural["road"].str.fullmatch(r"\d+组").all()
    tails = (ad["house_number"] + ad["building"]).tolist()
    assert all(full.endswith(tail) for full, tail in zip(ad["full_address"].tolist(), tails, strict=True))
    assert ad["house_number"].str.fullmatch(r"\d+号").all()
    assert ad["village_code"].nunique() == 2568  # every village has people


# --- cases ---------------------------------------------------------------------------------


def test_dispute_volume_and_resolution_2022(city):
    cases = city.cases
    disputes_2022 = cases[(cases["kind"] == "dispute") & cases["reported_at"].str.startswith("2022")]
    assert abs(len(disputes_2022) - 7444 * SCALE) <= 0.03 * 7444 * SCALE
    resolved = disputes_2022["status"].isin(["resolved", "closed"]).mean()
    assert abs(resolved - 0.93) <= 0.015
    petitions = cases[cases["kind"] == "petition"]
    since_2022 = petitions["reported_at"] >= "2022"
    assert 1500 * SCALE * 3 <= since_2022.sum() <= 2500 * SCALE * 3
    # the 2021 base year of the report's 2022 同比: −40 % petitions in cases, −27 % in persons
    by_year = petitions.groupby(petitions["reported_at"].str[:4])
    cases_yoy = by_year.size()["2022"] / by_year.size()["2021"] - 1
    persons_yoy = by_year["persons"].sum()["2022"] / by_year["persons"].sum()["2021"] - 1
    assert round(cases_yoy, 2) == -0.40 and round(persons_yoy, 2) == -0.27, (cases_yoy, persons_yoy)
    assert (petitions["persons"] >= 1).all() and (cases.loc[cases["kind"] == "dispute", "persons"] >= 2).all()


def test_case_categories_and_status_vocabulary(city):
    cases = city.cases
    assert set(cases.loc[cases["kind"] == "dispute", "category"]) <= {
        "family_marriage",
        "neighbour",
        "land",
        "wages",
        "loans_finance",
        "property_mgmt",
        "traffic",
        "medical",
        "other",
    }
    assert set(cases.loc[cases["kind"] == "petition", "category"]) <= {
        "petition_land",
        "petition_social_security",
        "petition_housing",
        "petition_law_enforcement",
        "petition_other",
    }
    assert set(cases["status"]) <= {"reported", "accepted", "in_progress", "resolved", "closed", "unresolved"}
    assert cases["case_id"].is_unique and cases["external_id"].is_unique
    # land disputes happen in villages, property-management disputes in towns
    truth = city.case_truth.set_index("case_id")
    urban = (
        city.addresses.set_index("address_id")
        .loc[truth.loc[cases["case_id"], "address_id"], "urban"]
        .to_numpy()
    )
    assert urban[cases["category"].to_numpy() == "land"].mean() < 0.2
    assert urban[cases["category"].to_numpy() == "property_mgmt"].mean() > 0.8


def test_case_timestamps_ordered_and_consistent_with_status(city):
    c = city.cases
    t = {
        k: pd.to_datetime(c[k], format="%Y-%m-%dT%H:%M:%S")
        for k in ("reported_at", "accepted_at", "resolved_at", "closed_at", "due_at")
    }
    assert t["reported_at"].between("2021-01-01", "2024-12-31 23:59:59").all()
    for a, b in (
        ("reported_at", "accepted_at"),
        ("accepted_at", "resolved_at"),
        ("resolved_at", "closed_at"),
    ):
        both = t[a].notna() & t[b].notna()
        assert (t[a][both] <= t[b][both]).all(), (a, b)
    due_days = (t["due_at"] - t["reported_at"]).dt.days
    assert (due_days[c["kind"] == "dispute"] == 30).all() and (due_days[c["kind"] == "petition"] == 60).all()
    status = c["status"]
    assert t["accepted_at"][status == "reported"].isna().all()
    assert t["resolved_at"][status.isin(["resolved", "closed"])].notna().all()
    assert t["resolved_at"][~status.isin(["resolved", "closed"])].isna().all()
    assert (
        t["closed_at"][status == "closed"].notna().all() and t["closed_at"][status != "closed"].isna().all()
    )
    closed = status == "closed"
    assert c.loc[closed, "satisfaction"].between(1, 5).all() and (c.loc[closed, "followup_done"] == 1).all()
    assert c.loc[~closed, "satisfaction"].isna().all()
    assert (c["reported_at"].to_numpy()[:-1] <= c["reported_at"].to_numpy()[1:]).all()


def test_id_numbers_pass_checksum(city):
    ids = city.cases["party_id_number"].to_numpy()
    assert id_number_valid(ids).all()
    assert pd.Series(ids).str.startswith("1505").all()
    assert id_number_valid(np.array(["11010519491231002X"]))[0]  # the GB 11643 specimen
    broken = np.array(
        [s[:-1] + str((int(s[-1]) + 1) % 10) if s[-1].isdigit() else s[:-1] + "0" for s in ids[:50]]
    )
    assert not id_number_valid(broken).any()
    assert id_number_valid(id_numbers(np.random.default_rng(1), 200)).all()


def test_personal_fields_look_synthetic(city):
    assert city.cases["party_phone"].str.fullmatch(r"199-0\d{3}-\d{4}").all()
    assert city.workers["phone"].str.fullmatch(r"199-0\d{3}-\d{4}").all()
    assert city.cases["party_name"].str.len().between(2, 6).all()


def test_a_third_carry_raw_coordinates_near_the_truth(city):
    from gridmap.geocode.transform import to_wgs84_mixed

    c = city.cases
    has = c["raw_lon"].notna().to_numpy()
    assert abs(has.mean() - 1 / 3) <= 0.05
    assert (c["raw_lat"].notna().to_numpy() == has).all()
    assert set(c.loc[has, "raw_crs"]) == {"wgs84", "gcj02", "bd09"}
    assert c.loc[~has, "raw_crs"].isna().all()
    truth = city.case_truth.set_index("case_id").loc[c["case_id"]]
    error = truth["coord_error"].to_numpy()
    assert set(error[~has]) == {""}
    assert 0 < (error != "").sum() <= 0.08 * has.sum() + 1
    ok = has & (error == "")
    lon, lat = to_wgs84_mixed(
        c.loc[ok, "raw_lon"].to_numpy(), c.loc[ok, "raw_lat"].to_numpy(), c.loc[ok, "raw_crs"].to_numpy()
    )
    x, y = to_local(lon, lat)
    tx, ty = to_local(truth["lon"].to_numpy()[ok], truth["lat"].to_numpy()[ok])
    dist = np.hypot(np.asarray(x) - tx, np.asarray(y) - ty)
    assert np.median(dist) < 15 and dist.max() < 60
    gcj = ok & (c["raw_crs"].to_numpy() == "gcj02")
    gx, gy = to_local(c.loc[gcj, "raw_lon"].to_numpy(), c.loc[gcj, "raw_lat"].to_numpy())
    tgx, tgy = to_local(truth["lon"].to_numpy()[gcj], truth["lat"].to_numpy()[gcj])
    assert np.median(np.hypot(np.asarray(gx) - tgx, np.asarray(gy) - tgy)) > 200  # the GCJ-02 shift is there
    swapped = has & (error == "swapped")
    assert (c.loc[swapped, "raw_lon"] < 60).all()
    assert ((c.loc[has & (error == "zero"), ["raw_lon", "raw_lat"]]) == 0).all().all()


def test_fallback_transform_matches_the_geocoder():
    from gridmap.geocode import transform

    lon = np.linspace(119.3, 123.6, 50)
    lat = np.linspace(42.3, 45.6, 50)
    for ours, theirs in (
        (coords._fallback_wgs84_to_gcj02, transform.wgs84_to_gcj02),
        (coords._fallback_gcj02_to_bd09, transform.gcj02_to_bd09),
    ):
        a, b = ours(lon, lat), theirs(lon, lat)
        assert np.allclose(a[0], b[0], atol=1e-12, rtol=0) and np.allclose(a[1], b[1], atol=1e-12, rtol=0)


def test_address_text_variants(city):
    truth = city.case_truth.set_index("case_id").loc[city.cases["case_id"]]
    std = city.addresses.set_index("address_id").loc[truth["address_id"], "full_address"].to_numpy()
    text = city.cases["address_text"].to_numpy()
    variants = truth["text_variants"].to_numpy()
    clean = variants == ""
    assert abs(clean.mean() - 0.6) < 0.08
    stripped = pd.Series(text[clean]).str.removeprefix("通辽市").to_numpy()
    assert (stripped == std[clean]).all()
    assert (text[~clean] != std[~clean]).mean() > 0.9
    typo = (
        pd.Series(variants).str.contains("road_typo").to_numpy()
        & ~pd.Series(variants).str.contains("chinese_numerals|fullwidth_digits|traditional_hao").to_numpy()
    )
    house = city.addresses.set_index("address_id").loc[truth["address_id"], "house_number"].to_numpy()
    assert all(h in t for h, t in zip(house[typo], text[typo], strict=True))
    assert (
        chinese_numeral(18) == "十八"
        and chinese_numeral(105) == "一百零五"
        and chinese_numeral(1010) == "一千零一十"
    )


def test_truth_hotspots(city, written):
    truth = json.loads((written / "truth.json").read_text(encoding="utf-8"))
    hotspots = truth["hotspots"]
    assert len(hotspots) >= 4
    required = {
        "id",
        "centre_lon",
        "centre_lat",
        "radius_m",
        "kinds",
        "categories",
        "trend",
        "window_start",
        "window_end",
        "address_ids",
        "village_codes",
        "expected_excess",
        "expected_background",
        "months",
    }
    assert all(required <= set(h) for h in hotspots)
    assert {h["trend"] for h in hotspots} >= {"steady", "growing", "fading"}
    addresses = set(city.addresses["address_id"])
    for h in hotspots:
        assert 300 <= h["radius_m"] <= 1500
        assert h["address_ids"] and set(h["address_ids"]) <= addresses
        assert len(h["expected_excess"]) == len(h["months"]) == 48 and h["months"][0] == "2021-01"
        assert (
            sum(h["expected_excess"][:12]) == 0 and h["window_start"] >= "2022-01"
        )  # 2021 is the quiet base year
    fading = [h for h in hotspots if h["trend"] == "fading"][0]
    assert 0 < sum(fading["expected_excess"][36:]) < sum(fading["expected_excess"][12:24])
    new = [h for h in hotspots if h.get("new")]
    assert all(sum(h["expected_excess"][:36]) == 0 for h in new)
    # planted cases concentrate: observed ≥ twice the background expectation, overall
    observed = sum(h["observed_cases"] for h in hotspots)
    assert observed >= 2 * sum(sum(h["expected_background"]) for h in hotspots)
    assert (city.case_truth["hotspot_id"] != "").sum() > 0


def test_every_synthetic_row_is_marked(city):
    admin = city.admin_units
    synthetic_levels = admin["level"].isin(["township", "village"])
    assert (admin.loc[synthetic_levels, "source"] == "synthetic").all()
    assert (admin.loc[~synthetic_levels, "source"] != "synthetic").all()
    for name in ("addresses", "cases", "workers", "patrols"):
        assert (getattr(city, name)["source"] == "synthetic").all(), name


# --- workers and patrols -------------------------------------------------------------------


def test_workers_staffing_and_planted_coverage(city):
    w = city.workers
    cov = city.truth["coverage"]
    assert w["worker_id"].is_unique
    assert set(w["role"]) == {"full_time", "part_time", "cadre", "police", "agent"}
    w = w[w["role"] != "agent"]  # petition agents: test_agents_patrol_daily_and_items_follow_the_plan
    staffed = set(w["village_code"])
    unstaffed = set(cov["villages_without_worker"])
    assert unstaffed and not (unstaffed & staffed)
    all_villages = set(city.admin_units.loc[city.admin_units["level"] == "village", "code"])
    assert all_villages - unstaffed == staffed
    assert len(cov["lazy_workers"]) >= 2 and {x["kind"] for x in cov["lazy_workers"]} == {"stuck", "gap"}


def test_patrols_follow_the_plan(city):
    w = city.workers.set_index("worker_id")
    p = city.patrols[
        city.patrols["worker_id"].map(w["role"]) != "agent"
    ]  # agents: test_agents_patrol_daily_and_items_follow_the_plan
    assert p["patrol_id"].is_unique and p["worker_id"].isin(w.index).all()
    ts = pd.to_datetime(p["ts"], format="%Y-%m-%dT%H:%M:%S")
    assert ts.between("2024-10-01", "2024-12-31 23:59:59").all()
    assert ts.dt.hour.between(8, 17).all()
    assert set(p["raw_crs"]) == {"wgs84", "gcj02"}
    assert not p["worker_id"].isin(city.truth["coverage"]["inactive_workers"]).any()
    # check-ins are in the worker's village: within a few hundred metres of its polygon
    villages = city.admin_units[city.admin_units["level"] == "village"].set_index("code").to_crs(LOCAL_CRS)
    sample = p.iloc[:: max(1, len(p) // 3000)].to_crs(LOCAL_CRS)
    polys = villages.loc[w.loc[sample["worker_id"], "village_code"], "geometry"].values
    assert np.quantile(shapely.distance(polys, sample.geometry.values), 0.99) < 50
    for lazy in city.truth["coverage"]["lazy_workers"]:
        mine = p[p["worker_id"] == lazy["worker_id"]]
        if lazy["kind"] == "gap":
            in_gap = mine["ts"].str[:10].between(lazy["gap_start"], lazy["gap_end"])
            assert not in_gap.any() and lazy["gap_days"] > 14
        else:
            spot = city.addresses.set_index("address_id").loc[lazy["spot_address_id"], "geometry"]
            x, y = to_local(mine.geometry.x.to_numpy(), mine.geometry.y.to_numpy())
            sx, sy = to_local(spot.x, spot.y)
            assert np.hypot(np.asarray(x) - sx, np.asarray(y) - sy).max() < 60


# --- determinism, output, CLI --------------------------------------------------------------


def test_same_seed_same_files_other_seed_other_data(city, written, tmp_path):
    again = synthesize(SEED, SCALE)
    write_city(again, tmp_path)
    first = json.loads((written / "manifest.json").read_text())
    second = json.loads((tmp_path / "manifest.json").read_text())
    assert first == second
    assert (written / "city.gpkg").read_bytes() == (tmp_path / "city.gpkg").read_bytes()
    assert first["counts"]["cases"] == len(city.cases) and first["seed"] == SEED
    other = synthesize(SEED + 1, SCALE)
    from gridmap.synth.output import frame_digest

    for name in (
        "admin_units",
        "addresses",
        "cases",
        "workers",
        "patrols",
        "petition_items",
        "petition_visits",
    ):
        assert frame_digest(getattr(other, name)) != first["data_sha256"][name], name


def test_written_layers_read_back(city, written):
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(written / "city.gpkg")}
    assert layers == {
        "admin_units",
        "addresses",
        "cases",
        "workers",
        "patrols",
        "petition_items",
        "petition_visits",
    }
    back = pyogrio.read_dataframe(written / "city.gpkg", layer="addresses")
    assert back.crs.to_epsg() == 4326 and len(back) == len(city.addresses)
    assert (back["address_id"] == city.addresses["address_id"]).all()
    truth = pd.read_csv(written / "case_truth.csv", dtype=str, keep_default_na=False)
    assert list(truth["case_id"]) == list(city.cases["case_id"])


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    from gridmap.cli import main

    with pytest.raises(InputError, match="scale"):
        synthesize(SEED, 0)
    with pytest.raises(InputError, match="seed"):
        synthesize(-1, SCALE)
    assert main(["synth", "--scale", "-1", "--out", str(tmp_path)]) == 1
    assert "scale" in capsys.readouterr().err


# --- petition agents (信访代办) ----------------------------------------------------------------


def test_agents_patrol_daily_and_items_follow_the_plan(city):
    from gridmap.synth import agents as planted

    w = city.workers
    agents = w[w["role"] == "agent"]
    assert len(agents) == max(1, round(planted.AGENTS_AT_SCALE_1 * SCALE))
    assert agents["township_code"].notna().all() and (agents["source"] == "synthetic").all()
    truth = city.truth["agents"]
    p = city.patrols[city.patrols["worker_id"].isin(agents["worker_id"])]
    day = p["ts"].str[:10]
    days = pd.date_range("2024-10-01", "2024-12-31").strftime("%Y-%m-%d")
    seen = pd.crosstab(p["worker_id"], day).reindex(index=agents["worker_id"], columns=days, fill_value=0) > 0
    missed = ~seen.to_numpy()
    # longest run of missed days per agent: 1 at most, except the planted gaps
    run = np.zeros(len(agents), dtype=int)
    longest = np.zeros(len(agents), dtype=int)
    for d in range(missed.shape[1]):
        run = np.where(missed[:, d], run + 1, 0)
        longest = np.maximum(longest, run)
    gaps = {g["worker_id"]: g["gap_days"] for g in truth["patrol_gaps"]}
    assert gaps and set(agents["worker_id"][longest > 1]) == set(gaps)
    for worker, length in gaps.items():
        assert length <= longest[agents["worker_id"].tolist().index(worker)] <= length + 2

    items, visits = city.petition_items, city.petition_visits
    assert items["item_id"].is_unique and visits["visit_id"].is_unique
    assert (
        items["agent_id"].isin(agents["worker_id"]).all() and visits["item_id"].isin(items["item_id"]).all()
    )
    petitions = city.cases.set_index("case_id")
    assert (petitions.loc[items["case_id"], "kind"] == "petition").all()
    assert (items["taken_at"].to_numpy() >= petitions.loc[items["case_id"], "reported_at"].to_numpy()).all()
    done = items["done_at"].notna()
    assert (items.loc[done, "done_at"] > items.loc[done, "taken_at"]).all()
    assert set(items["status"]) <= {"open", "done"} and (items["status"].eq("done") == done).all()
    y2022 = items[items["taken_at"].str.startswith("2022")]
    assert len(y2022) == round(505 * SCALE)
    assert (y2022["done_at"] < "2023").sum() == round(440 * SCALE)
    first = visits.groupby("item_id")["visited_at"].min()
    gap_ids = {g["item_id"] for g in truth["followup_gaps"]}
    on_time = items[done & ~items["item_id"].isin(gap_ids)]
    lag = pd.to_datetime(first.reindex(on_time["item_id"]).to_numpy()) - pd.to_datetime(
        on_time["done_at"].to_numpy()
    )
    assert (lag[lag.notna()] <= pd.Timedelta(days=planted.VISIT_DAYS)).all()
    assert (
        set(visits["method"]) <= {"phone", "in_person", "wechat"}
        and visits["satisfaction"].between(1, 5).all()
    )


def test_audit_finds_the_planted_agent_gaps_exactly(city):
    """A scale-0.02 synthetic city: every planted patrol gap, missing follow-up and overdue item, nothing else."""
    from shapely.geometry import box

    from gridmap.coverage import run_audit
    from gridmap.coverage.duty import agents_of
    from gridmap.coverage.periods import parse_period

    def grids():
        return gpd.GeoDataFrame(
            {"plan_id": "P1", "code": ["150502001001001"], "households": [400]},
            geometry=[box(122.20, 43.60, 122.21, 43.61)],
            crs="EPSG:4326",
        )

    truth = city.truth["agents"]
    period = parse_period("2024-10-01/2024-12-31")
    agents = agents_of(city.workers)
    patrols = city.patrols[city.patrols["worker_id"].isin(agents["worker_id"])]
    empty = pd.DataFrame(columns=["worker_id", "grid_code", "role", "valid_from", "valid_to"])
    result = run_audit(
        grids(),
        empty,
        patrols,
        city.workers,
        period_start=period,
        items=city.petition_items,
        visits=city.petition_visits,
    )
    f = result.findings
    assert set(f.loc[f["kind"] == "agent_no_patrol_n_days", "worker_id"]) == {
        g["worker_id"] for g in truth["patrol_gaps"]
    }
    # follow-ups due in the whole span of the records
    span = run_audit(
        grids(),
        empty,
        patrols.iloc[:0],
        city.workers,
        period_start="2021-01-01/2024-12-31",
        items=city.petition_items,
        visits=city.petition_visits,
    ).findings
    expected = {g["item_id"] for g in truth["followup_gaps"] if g["visit_due_by"] <= "2024-12-31T23:59:59"}
    assert expected and set(span.loc[span["kind"] == "followup_not_within_n_days", "item_id"]) == expected
    overdue = {g["item_id"] for g in truth["open_past_deadline"]}
    assert overdue and set(span.loc[span["kind"] == "item_open_past_deadline", "item_id"]) == overdue
    assert np.isfinite(f["figure"].to_numpy(dtype=float)).all()


def test_address_intensity_reuses_a_years_pieces_without_changing_a_month(city):
    """The oracle of the forecast tests: one AddressIntensity, asked for months in any order and
    across years, gives each month what a fresh one gives; a year's expected cases are its cases."""
    from gridmap.synth.intensity import AddressIntensity, city_frames, expected_by_address

    points, cases = city_frames(city)
    months = [np.datetime64(m) for m in ("2024-03", "2023-12", "2024-01", "2023-02", "2024-03")]
    for kind in ("dispute", "petition"):
        intensity = AddressIntensity(points, city.truth, cases, kind)
        for month in months:
            got = intensity(month)
            assert np.array_equal(got, expected_by_address(points, city.truth, cases, kind, month)), (
                kind,
                month,
            )
            assert got.shape == (len(points),) and np.all(got >= 0)
        year = sum(intensity(np.datetime64("2023-01") + i).sum() for i in range(12))
        cases_2023 = int(
            (
                (cases["kind"] == kind)
                & (cases["day"].to_numpy().astype("datetime64[Y]") == np.datetime64("2023"))
            ).sum()
        )
        assert year == pytest.approx(cases_2023, rel=0.15), kind
