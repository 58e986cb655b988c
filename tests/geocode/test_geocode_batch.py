"""The per-row decision: coordinates and address together → point, grid, status."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridmap.geocode.batch import GeocodeContext, geocode_cases, geocode_rows
from gridmap.geocode.transform import from_wgs84
from tests import geocode_testdata as td


@pytest.fixture(scope="module")
def ctx() -> GeocodeContext:
    grids = td.village_grids().assign(
        township_code=lambda g: g["village_code"].str[:9], county_code=lambda g: g["village_code"].str[:6]
    )
    return GeocodeContext.build(td.addresses(), td.admin_units(), grids, margin_km=20)


def decide(ctx, text, lon=None, lat=None, crs=None):
    return geocode_rows(ctx, [text], [lon], [lat], [crs]).iloc[0]


def test_address_only_accepted_gets_its_grid(ctx):
    r = decide(ctx, "科尔沁区科尔沁街道民航社区建国路123号1栋")
    assert (r.geocode_status, r.precision, r.grid_code) == ("accepted", "address", "150502001001001")
    assert (r.village_code, r.township_code, r.county_code) == ("150502001001", "150502001", "150502")


def test_gps_next_to_the_address_snaps_to_it(ctx):
    lon, lat = from_wgs84(122.0062, 43.0041, "gcj02")  # ≈ 18 m from 建国路123号1栋 (122.006, 43.004)
    r = decide(ctx, "民航社区建国路123号1栋", float(lon), float(lat), "gcj02")
    assert (r.precision, r.lon, r.lat) == ("address", 122.006, 43.004)


def test_coordinates_resolve_an_ambiguous_address(ctx):
    # 18号 has buildings 1栋 (122.002) and 2栋 (122.003): the text alone names the grid (both lie in
    # its west grid: grid precision), and the coordinates settle the address itself
    assert decide(ctx, "民航社区建国路18号").precision == "grid"
    r = decide(ctx, "民航社区建国路18号", 122.0031, 43.0021, "wgs84")
    assert (r.geocode_status, r.precision, r.address_id) == ("accepted", "address", "15050200100100002")


def test_several_addresses_in_one_grid_are_accepted_at_grid_precision(ctx):
    # 40号 has 1栋 and 2栋, both in the west grid of 民航社区: the grid is certain, the address is not
    r = decide(ctx, "民航社区建国路40号")
    assert (r.geocode_status, r.precision, r.grid_code) == ("accepted", "grid", "150502001001001")
    assert r.address_id == td.address_id("科尔沁区科尔沁街道民航社区建国路40号1栋")
    # 60号 has a building in each grid: a person decides
    r = decide(ctx, "民航社区建国路60号")
    assert (r.geocode_status, r.grid_code) == ("review", None)
    assert r.reason == "2 standard addresses match equally"
    # without grids (no plan) nothing is known about grids: the tie stays a tie
    bare = GeocodeContext.build(td.addresses(), td.admin_units(), None, margin_km=20)
    assert decide(bare, "民航社区建国路40号").geocode_status == "review"


def test_coordinates_used_when_they_agree_with_the_village(ctx):
    r = decide(ctx, "民航社区建国路18号1栋", 122.004, 43.008)
    assert (r.geocode_status, r.precision, r.lon, r.lat) == ("accepted", "coordinates", 122.004, 43.008)
    assert r.grid_code == "150502001001001"
    r = decide(ctx, "", 122.125, 43.005)  # no address: the point alone
    assert (r.geocode_status, r.precision, r.village_code, r.grid_code) == (
        "accepted",
        "coordinates",
        "150502002202",
        "150502002202001",
    )


def test_disagreement_and_bad_coordinates_go_to_review(ctx):
    r = decide(ctx, "民航社区建国路18号1栋", 122.215, 43.005)  # in 巴彦嘎查, 17 km east
    assert (
        r.geocode_status == "review"
        and r.reason == "coordinates are 17.3 km from the matched standard address"
    )
    assert r.candidates[0]["full_address"] == "declared coordinates"
    assert np.isnan(r.lon) and r.grid_code is None
    r = decide(ctx, "科尔沁区科尔沁街道民航社区", 122.215, 43.005)  # the address names only the village
    assert r.geocode_status == "review"
    assert r.reason == "coordinates lie in village 150521100201, the address names 150502001001"
    r = decide(ctx, "科尔沁区科尔沁街道民航社区", 122.015, 43.015)  # inside it: the point is used
    assert (r.geocode_status, r.precision) == ("accepted", "coordinates")
    r = decide(ctx, "民航社区建国路18号1栋", 122.0, 43.0, "mercator")
    assert r.geocode_status == "review" and r.reason == "unknown coordinate system 'mercator'"
    r = decide(ctx, "民航社区建国路18号1栋", 0, 0)
    assert r.geocode_status == "review" and "zero" in r.reason
    assert r.candidates[0]["address_id"] == "15050200100100001"  # the address is still offered


def test_point_outside_every_grid_goes_to_review(ctx):
    r = decide(ctx, "", 122.05, 43.05)  # in the city, but no grid there
    assert r.geocode_status == "review" and r.reason == "the point lies outside every grid of the plan"


def test_geocode_cases_fills_the_schema_columns(ctx):
    cases = pd.DataFrame(
        {
            "case_id": ["c1", "c2", "c3"],
            "address_text": ["民航社区建国路18号1栋", "新村1组1号", None],
            "raw_lon": [np.nan, np.nan, 122.125],
            "raw_lat": [np.nan, np.nan, 43.005],
            "raw_crs": [None, None, "wgs84"],
        }
    )
    out = geocode_cases(cases, td.addresses(), td.admin_units(), context=ctx)
    assert list(out["geocode_status"]) == ["accepted", "review", "accepted"]
    assert out.crs == "EPSG:4326"
    assert out.geometry.iloc[0].x == 122.002 and out.geometry.iloc[1] is None
    assert list(out["grid_code"].fillna("")) == ["150502001001001", "", "150502002202001"]
