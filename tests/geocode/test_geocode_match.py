"""Parsing and the matching cascade on a tiny hand-made city."""

from __future__ import annotations

import numpy as np
import pytest

from gridmap.geocode.match import MATCH_COLUMNS, AddressMatcher, calibrate_threshold
from gridmap.geocode.parse import Gazetteer, admin_aliases, building_key, house_number_key, parse_address
from tests import geocode_testdata as td


@pytest.fixture(scope="module")
def matcher() -> AddressMatcher:
    return AddressMatcher(td.addresses(), td.admin_units())


def one(matcher, text):
    return matcher.match([text]).iloc[0]


# --- parse -----------------------------------------------------------------------------------


def test_aliases():
    assert {"民航社区居委会", "民航社区", "民航"} <= admin_aliases("民航社区居委会", "village")
    assert {"四村委会", "四村"} <= admin_aliases("四村委会", "village")
    assert "四" not in admin_aliases("四村委会", "village")
    assert {"新村村民委员会", "新村"} <= admin_aliases("新村村民委员会", "village")
    assert {"西门街道", "西门"} <= admin_aliases("西门街道", "township")
    assert {"保康街道办事处", "保康街道", "保康"} <= admin_aliases("保康街道办事处", "township")
    assert {"科尔沁左翼中旗", "科左中旗"} <= admin_aliases("科尔沁左翼中旗", "county")
    assert {"霍林郭勒市", "霍市", "霍林郭勒"} <= admin_aliases("霍林郭勒市", "county")


def test_keys():
    assert house_number_key("18号") == "18" == house_number_key("十八號") == house_number_key(18)
    assert house_number_key("18之3号") == "18-3"
    assert house_number_key(None) == ""
    assert building_key("3栋") == "3" == building_key("三号楼") == building_key("3幢")
    assert building_key("A座") == "A"
    assert building_key("") == ""


def test_parse_full_standard_address(matcher):
    p = parse_address("科尔沁区科尔沁街道民航社区建国路18号1栋", matcher.gazetteer)
    assert (p.county, p.township, p.village) == ("150502", "150502001", "150502001001")
    assert (p.road, p.house_number, p.building, p.rest) == ("建国路", "18", "1", "")
    assert p.road_known and p.area_level == "village"


def test_parse_fills_skipped_levels_and_keeps_ambiguity(matcher):
    p = parse_address("民航社区建国路18号2单元301室", matcher.gazetteer)
    assert (p.county, p.township, p.village) == ("150502", "150502001", "150502001001")
    assert (p.house_number, p.building, p.unit, p.rest) == ("18", "", "2", "301室")
    p = parse_address("新村1组1号", matcher.gazetteer)
    assert p.village is None and p.county is None
    assert set(p.areas) == {"150502002202", "150521100202"}


def test_parse_prefers_a_longer_road_over_a_village_alias(matcher):
    # 建国 is an alias of 建国社区居委会, but here 建国路 is the road
    p = parse_address("科尔沁区西门街道建国路7号", matcher.gazetteer)
    assert p.village is None and p.road == "建国路" and p.house_number == "7"


def test_parse_abbreviated_county_and_chinese_numerals(matcher):
    p = parse_address("内蒙古通辽市科左中旗保康镇巴彦嘎查一组十二号", matcher.gazetteer)
    assert (p.county, p.township, p.village, p.road, p.house_number) == (
        "150521",
        "150521100",
        "150521100201",
        "1组",
        "12",
    )


def test_parse_unknown_text(matcher):
    p = parse_address("北京市海淀区中关村", matcher.gazetteer)
    assert not p.has_admin and not p.road_known


def test_gazetteer_from_the_official_names():
    g = Gazetteer.from_boundaries()
    p = parse_address("内蒙古通辽市科左中旗保康镇", g)
    assert (p.county, p.township) == ("150521", "150521100")
    p = parse_address("科尔沁区科尔沁街道民航社区", g)  # 民航社区居委会, written without its suffix
    assert p.village == "150502001001"
    p = parse_address("开发区辽河镇", g)  # the development zone's towns lie in 科尔沁区
    assert (p.county, p.township) == ("150502", "150571100")


def test_gazetteer_without_roads():
    g = Gazetteer.build(td.admin_units())
    p = parse_address("科尔沁区西门街道", g)
    assert p.township == "150502002" and p.road == ""


# --- cascade -----------------------------------------------------------------------------------


def test_exact_and_normalized_exact(matcher):
    target = td.address_id("科尔沁区科尔沁街道民航社区建国路18号1栋")
    for text in (
        "科尔沁区科尔沁街道民航社区建国路18号1栋",
        "內蒙古通遼市科爾沁區科爾沁街道民航社區建國路十八號一棟",
    ):
        r = one(matcher, text)
        assert (r.precision, r.status, r.score, r.address_id) == ("address", "accepted", 100.0, target)
        assert r.candidates[0]["address_id"] == target


def test_road_and_house_number_within_the_parsed_area(matcher):
    r = one(matcher, "科尔沁区民航社区和平大街20号1栋")  # no township: filled in from the village
    assert r.address_id == td.address_id("科尔沁区科尔沁街道民航社区和平大街20号1栋")
    assert r.precision == "address" and r.status == "accepted"
    # the same road and number elsewhere in the city is not this village's
    r = one(matcher, "科尔沁区铁区社区和平大街20号1栋")
    assert (
        r.address_id != td.address_id("科尔沁区科尔沁街道民航社区和平大街20号1栋") or r.status != "accepted"
    )


def test_fuzzy_road_with_exact_house_number(matcher):
    r = one(matcher, "科尔沁区科尔沁街道民航社区健国路123号1栋")
    assert r.precision == "address" and r.status == "accepted"
    assert r.address_id == td.address_id("科尔沁区科尔沁街道民航社区建国路123号1栋")
    assert r.score < 100


@pytest.mark.parametrize(
    "text",
    [
        "科尔沁区西门街道建国社区建国路123号1栋",  # 123号 exists only in another township; 132号 is here
        "科尔沁区西门街道建国社区健国路123号1栋",  # same with a typo in the road
        "科尔沁区西门街道建国社区建国路312号1栋",
    ],
)
def test_house_numbers_are_never_fuzzy(matcher, text):
    wrong = td.address_id("科尔沁区西门街道建国社区建国路132号1栋")
    r = one(matcher, text)
    assert r.address_id != wrong
    assert r.precision != "address" and r.status == "review"
    assert all(c["score"] < matcher.accept_score for c in r.candidates)


def test_road_level_result_lists_numerically_nearest_numbers(matcher):
    r = one(matcher, "科尔沁区西门街道建国社区建国路9号")
    assert r.precision == "road" and r.status == "review" and r.reason == "house number 9 not found on 建国路"
    assert [c["address_id"] for c in r.candidates][:1] == [
        td.address_id("科尔沁区西门街道建国社区建国路7号1栋")
    ]


def test_building_decides_and_missing_building_is_ambiguous(matcher):
    b2 = td.address_id("科尔沁区科尔沁街道民航社区建国路18号2栋")
    b1 = td.address_id("科尔沁区科尔沁街道民航社区建国路18号1栋")
    r = one(matcher, "科尔沁区科尔沁街道民航社区建国路18号2号楼")
    assert r.address_id == b2 and r.status == "accepted"
    r = one(matcher, "民航社区建国路18号")
    assert r.status == "review" and "match equally" in r.reason
    assert {c["address_id"] for c in r.candidates} == {b1, b2}
    r = one(matcher, "民航社区建国路18号9栋")
    assert r.status == "review" and "building 9" in r.reason


def test_village_and_township_level(matcher):
    r = one(matcher, "科尔沁区科尔沁街道民航社区")
    assert (r.precision, r.status) == ("village", "review")
    assert (r.lon, r.lat) == pytest.approx((122.01, 43.01))  # inside the village square
    r = one(matcher, "科尔沁区西门街道某某路")
    assert (r.precision, r.status, r.township_code) == ("township", "review", "150502002")
    assert "某某路" in r.reason


def test_ambiguous_village_name_goes_to_review_with_both_candidates(matcher):
    r = one(matcher, "新村1组1号")
    assert r.status == "review"
    assert {c["address_id"] for c in r.candidates} == {"15050200220200001", "15052110020200001"}


def test_rejections(matcher):
    frame = matcher.match(["", None, "   ", "北京市海淀区中关村"])
    assert list(frame["status"]) == ["rejected"] * 4
    assert list(frame["reason"]) == ["empty address"] * 3 + ["no admin area recognised"]
    assert frame["lon"].isna().all()


def test_output_shape_order_and_duplicates(matcher):
    texts = ["民航社区建国路18号1栋", "", "民航社区建国路18号1栋", "新村1组1号"]
    frame = matcher.match(texts)
    assert list(frame.columns) == MATCH_COLUMNS
    assert len(frame) == 4 and list(frame.index) == [0, 1, 2, 3]
    assert frame.loc[0, "address_id"] == frame.loc[2, "address_id"]
    assert list(matcher.match([]).columns) == MATCH_COLUMNS


def test_accept_threshold_is_respected():
    strict = AddressMatcher(td.addresses(), td.admin_units(), accept_score=99.0)
    r = strict.match(["科尔沁区民航社区和平大街20号1栋"]).iloc[0]
    assert r.precision == "address" and r.status == "review" and r.score < 99


def test_calibrate_threshold():
    scores = np.array([100, 98, 95, 68, 68, 91, 60])
    correct = np.array([True, True, True, False, True, True, False])
    assert calibrate_threshold(scores, correct) == 91
    assert calibrate_threshold(scores, np.ones(7, bool)) == 60
    assert calibrate_threshold(scores, np.ones(7, bool), floor=80) == 80
    assert calibrate_threshold([], []) == 0.0
