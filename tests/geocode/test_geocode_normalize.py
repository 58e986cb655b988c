"""Address normalization: each kind of variant maps to the canonical spelling."""

from __future__ import annotations

import pytest

from gridmap.geocode.normalize import (
    chinese_numeral_to_int,
    expand_leading_abbreviation,
    normalize_address,
    normalize_name,
    to_simplified,
)

CANONICAL = "科尔沁区西门街道民航社区建国路18号3栋"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("十八", 18),
        ("十", 10),
        ("二十", 20),
        ("一百零三", 103),
        ("二〇三", 203),
        ("两千零五", 2005),
        ("一百一十", 110),
        ("九十九", 99),
        ("三", 3),
        ("一二", 12),
        ("一千二百三十四", 1234),
    ],
)
def test_chinese_numerals(text, expected):
    assert chinese_numeral_to_int(text) == expected


def test_chinese_numeral_rejects_other_text():
    with pytest.raises(ValueError):
        chinese_numeral_to_int("十八号")


@pytest.mark.parametrize(
    "variant",
    [
        "科尔沁区西门街道民航社区建国路18号3栋",  # already canonical
        "科尔沁区西门街道民航社区建国路１８号３栋",  # full-width digits
        "科尔沁区　西门街道 民航社区，建国路18号 3栋",  # ideographic/ASCII spaces, comma
        "科爾沁區西門街道民航社區建國路18號3棟",  # traditional characters
        "科尔沁区西门街道民航社区建国路十八号三栋",  # Chinese numerals
        "科尔沁区西门街道民航社区建国路18#3栋",  # '#' for 号
        "科尔沁区西门街道民航社区建国路18号3号楼",  # 3号楼 for 3栋
        "科尔沁区西门街道民航社区建国路18号3幢",  # 幢 for 栋
        "内蒙古自治区通辽市科尔沁区西门街道民航社区建国路18号3栋",  # province + city prefix
        "内蒙古通辽科尔沁区西门街道民航社区建国路18号3栋",
        "内蒙通辽市科尔沁区西门街道民航社区建国路18号3栋",
        "通辽市科区西门街道民航社区建国路18号3栋",  # county abbreviation
        "科尔沁区西门街道民航社区建国路门牌18号3栋",  # 门牌
        "科尔沁区西门街道民航社区建国路第十八号3栋",  # 第
    ],
)
def test_variants_normalize_to_the_canonical_form(variant):
    assert normalize_address(variant) == CANONICAL


@pytest.mark.parametrize(
    "text, expected",
    [
        ("建国路一百零三号", "建国路103号"),
        ("建国路二〇三号", "建国路203号"),
        ("建国路18之3号", "建国路18-3号"),
        ("建国路18号之三", "建国路18-3号"),
        ("建国路18—3号", "建国路18-3号"),
        ("建国路18－3", "建国路18-3号"),
        ("建国路18弄", "建国路18号"),
        ("某某嘎查三组十二号", "某某嘎查3组12号"),
        ("某某嘎查第三组12号", "某某嘎查3组12号"),
        ("A座", "A栋"),
        ("a座", "A栋"),
        ("建国路（东）18号", "建国路东18号"),
    ],
)
def test_house_number_and_building_variants(text, expected):
    assert normalize_name(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("科左中旗保康镇", "科尔沁左翼中旗保康镇"),
        ("科左后旗甘旗卡镇", "科尔沁左翼后旗甘旗卡镇"),
        ("霍市珠斯花街道", "霍林郭勒市珠斯花街道"),
        ("霍林郭勒珠斯花街道", "霍林郭勒市珠斯花街道"),
        ("扎旗鲁北镇", "扎鲁特旗鲁北镇"),
        ("奈曼大沁他拉镇", "奈曼旗大沁他拉镇"),
        ("开鲁东风镇", "开鲁县东风镇"),
        ("库伦扣河子镇", "库伦旗扣河子镇"),
        ("科区永清街道", "科尔沁区永清街道"),
        ("开发区辽河镇", "通辽经济技术开发区辽河镇"),
        # names that only look like an abbreviation are left alone
        ("开鲁镇", "开鲁镇"),
        ("库伦镇东嘎查", "库伦镇东嘎查"),
        ("库伦街道办事处", "库伦街道办事处"),
        ("科尔沁街道", "科尔沁街道"),
        ("霍林郭勒市莫斯台街道", "霍林郭勒市莫斯台街道"),
        ("奈曼旗", "奈曼旗"),
    ],
)
def test_leading_abbreviations(text, expected):
    assert expand_leading_abbreviation(text) == expected


def test_abbreviation_only_at_the_start():
    # in the middle of a text the same letters belong to a village name
    assert normalize_address("奈曼旗东奈曼营子村") == "奈曼旗东奈曼营子村"


def test_city_prefix_kept_inside_official_names():
    assert normalize_address("通辽经济技术开发区辽河镇") == "通辽经济技术开发区辽河镇"


def test_simplified_text_skips_opencc_and_traditional_is_converted():
    assert to_simplified("建国路") == "建国路"
    assert to_simplified("遼河鎮") == "辽河镇"


def test_empty_and_none():
    assert normalize_address(None) == ""
    assert normalize_address("   ") == ""
    assert normalize_name(None) == ""
