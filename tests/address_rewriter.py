"""An address rewriter independent of the synthesiser: texts typed in ways gridmap has not seen.

``gridmap.synth.text_variants`` makes the variants the geocoder was tuned on.  This module
writes its own, from its own tables (nothing imported from ``gridmap.synth`` or
``gridmap.geocode``), the way clerks and callers in 通辽 type an address:

* the county abbreviated (科左中, 后旗, 扎旗 …) or its 旗/县/市 dropped, or left out;
* the township's 镇/乡/苏木/街道 dropped, or the township left out;
* the village's 嘎查 and 村 swapped, its committee name (村委会), or the village left out;
* a road's 路/街/大街 dropped (通顺大街 → 通顺), a hamlet group in Chinese numerals (三组);
* the house number full-width (１７号), in Chinese numerals (十七号), with 號 or #;
* the building as 号楼/幢/座/Chinese numeral, left out (小区 without 号楼), or followed by a
  unit and room (2单元301室, 2门301);
* spaces (ASCII or ideographic) between the parts; 附近/旁边/对面/门口 at the end;
  a 内蒙古(自治区)通辽市 prefix.

:func:`rewrite` returns the texts and, per row, which parts are still given, so that a test
can tell whether the text still names one grid (:func:`unambiguous`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: county name → spellings people use for it (not the synthesiser's table)
COUNTY_SHORT = {
    "科尔沁区": ["科区", "科尔沁"],
    "科尔沁左翼中旗": ["科左中", "科左中旗", "左中旗"],
    "科尔沁左翼后旗": ["科左后", "科左后旗", "左后旗"],
    "开鲁县": ["开鲁"],
    "库伦旗": ["库伦", "库旗"],
    "奈曼旗": ["奈曼"],
    "扎鲁特旗": ["扎鲁特", "扎旗"],
    "霍林郭勒市": ["霍林郭勒", "霍市"],
}
TOWNSHIP_SUFFIXES = ("街道办事处", "街道", "苏木", "镇", "乡")
ROAD_SUFFIXES = ("大街", "大路", "路", "街", "道")
TAILS = ("附近", "旁边", "对面", "门口", "")
PREFIXES = ("内蒙古通辽市", "内蒙古自治区通辽市", "通辽市", "通辽")
ZH_DIGITS = "零一二三四五六七八九"
FULLWIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")

#: probability of each rewrite (independently drawn per address)
RULES = {
    "county_short": 0.35,
    "county_missing": 0.15,
    "township_short": 0.25,
    "township_missing": 0.2,
    "village_swap": 0.15,
    "village_committee": 0.1,
    "village_missing": 0.1,
    "road_suffix_dropped": 0.3,
    "group_zh": 0.3,
    "number_fullwidth": 0.15,
    "number_zh": 0.2,
    "number_trad": 0.15,
    "number_hash": 0.05,
    "building_variant": 0.4,
    "building_missing": 0.25,
    "unit_room": 0.2,
    "spaces": 0.35,
    "tail": 0.2,
    "prefix": 0.2,
}


def zh_number(n: int) -> str:
    """17 → 十七, 103 → 一百零三, 20 → 二十, 1200 → 一千二百 (how a number is spoken)."""
    if n == 0:
        return ZH_DIGITS[0]
    out = []
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, n = divmod(n, value)
        if digit:
            if not (value == 10 and digit == 1 and not out):
                out.append(ZH_DIGITS[digit])
            out.append(unit)
        elif out and n and out[-1] != "零":
            out.append("零")
    return "".join(out).rstrip("零")


def _strip(text: str, suffixes) -> str:
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) - len(suffix) >= 2:
            return text[: -len(suffix)]
    return text


def address_parts(addresses: pd.DataFrame, admin_units: pd.DataFrame) -> pd.DataFrame:
    """county, township and village names as written in ``full_address``, road, number, building."""
    names = dict(zip(admin_units["code"].astype(str), admin_units["name"].astype(str), strict=True))
    a = pd.DataFrame(addresses).drop(columns="geometry", errors="ignore").reset_index(drop=True)
    county = a["county_code"].astype(str).map(names).fillna("")
    township = a["township_code"].astype(str).map(names).fillna("")
    road = a["road"].fillna("").astype(str)
    house = a["house_number"].fillna("").astype(str)
    building = a["building"].fillna("").astype(str)
    full = a["full_address"].astype(str)
    village = [
        f[len(c) + len(t) : len(f) - len(r) - len(h) - len(b)] if f.startswith(c + t) else ""
        for f, c, t, r, h, b in zip(full, county, township, road, house, building, strict=True)
    ]
    return pd.DataFrame(
        {
            "address_id": a["address_id"].astype(str),
            "county_code": a["county_code"].astype(str),
            "township_code": a["township_code"].astype(str),
            "village_code": a["village_code"].astype(str),
            "county": county,
            "township": township,
            "village": village,
            "road": road,
            "number": house.str.extract(r"(\d+)", expand=False).fillna("0").astype(int),
            "building_no": building.str.extract(r"(\d+)", expand=False).fillna("0").astype(int),
        }
    )


def rewrite(parts: pd.DataFrame, seed: int = 2026, book: pd.DataFrame | None = None) -> pd.DataFrame:
    """One rewritten text per row of :func:`address_parts`, with the rules applied and the parts kept.

    ``book`` (default ``parts``) is the whole address book: a 嘎查/村 swap that would name
    another village of the county is not made.  Returns columns ``text``, ``rules`` (comma-separated), and the keys still given:
    ``county_kept``, ``township_kept``, ``village_kept``, ``road_key`` (the road, or its
    stem when the suffix was dropped), ``road_dropped``, ``building_kept``.
    """
    rng = np.random.default_rng(seed)
    taken = (
        set(zip(parts["county_code"], parts["village"], strict=True))
        if book is None
        else set(zip(book["county_code"], book["village"], strict=True))
    )
    rows = []
    for p in parts.itertuples(index=False):
        on = {rule: rng.random() < share for rule, share in RULES.items()}
        used = []
        county = p.county
        if on["county_missing"]:
            county, county_kept = "", False
            used.append("county_missing")
        else:
            county_kept = True
            if on["county_short"] and county in COUNTY_SHORT:
                options = COUNTY_SHORT[county]
                county = options[int(rng.integers(0, len(options)))]
                used.append("county_short")
        township, township_kept = p.township, True
        if on["township_missing"] and county_kept:
            township, township_kept = "", False
            used.append("township_missing")
        elif on["township_short"]:
            short = _strip(township, TOWNSHIP_SUFFIXES)
            if short != township:
                township = short
                used.append("township_short")
        village, village_kept = p.village, True
        if on["village_missing"] and township_kept and p.building_no:  # a street address without its 社区
            village, village_kept = "", False
            used.append("village_missing")
        elif on["village_swap"] and (village.endswith("嘎查") or village.endswith("村")):
            swapped = village[:-2] + "村" if village.endswith("嘎查") else village[:-1] + "嘎查"
            if (p.county_code, swapped) not in taken:  # not the name of another village of the county
                village = swapped
                used.append("village_swap")
        elif on["village_committee"] and village.endswith("村") and len(village) >= 3:
            village = village + "委会"
            used.append("village_committee")
        road, road_key, road_dropped = p.road, p.road, False
        if road.endswith("组") and road[:-1].isdigit():
            if on["group_zh"]:
                road = zh_number(int(road[:-1])) + "组"
                used.append("group_zh")
        elif on["road_suffix_dropped"]:
            short = _strip(road, ROAD_SUFFIXES)
            if short != road:
                road, road_key, road_dropped = short, short, True
                used.append("road_suffix_dropped")
        number = str(p.number)
        mark = "号"
        if on["number_zh"]:
            number = zh_number(p.number)
            used.append("number_zh")
        elif on["number_fullwidth"]:
            number = number.translate(FULLWIDTH)
            used.append("number_fullwidth")
        if on["number_trad"]:
            mark = "號"
            used.append("number_trad")
        elif on["number_hash"] and not p.building_no:
            mark = "#"
            used.append("number_hash")
        building, building_kept = "", bool(p.building_no)
        if p.building_no:
            if on["building_missing"]:
                building_kept = False
                used.append("building_missing")
            else:
                b = p.building_no
                if on["building_variant"]:
                    forms = [f"{b}号楼", f"{b}幢", f"{b}座", f"{zh_number(b)}号楼", f"{zh_number(b)}栋"]
                    building = forms[int(rng.integers(0, len(forms)))]
                    used.append("building_variant")
                else:
                    building = f"{b}栋"
                if on["unit_room"]:
                    unit = int(rng.integers(1, 7))
                    room = int(rng.integers(1, 7)) * 100 + int(rng.integers(1, 5))
                    building += (f"{unit}单元{room}室", f"{unit}单元{room}", f"{unit}门{room}")[
                        int(rng.integers(0, 3))
                    ]
                    used.append("unit_room")
        pieces = [county, township, village, road, number + mark + building]
        if on["prefix"]:
            pieces.insert(0, PREFIXES[int(rng.integers(0, len(PREFIXES)))])
            used.append("prefix")
        pieces = [x for x in pieces if x]
        if on["spaces"]:
            seps = [(" ", "  ", "\u3000")[int(rng.integers(0, 3))] for _ in pieces[1:]]
            text = pieces[0] + "".join(s + x for s, x in zip(seps, pieces[1:], strict=True))
            used.append("spaces")
        else:
            text = "".join(pieces)
        if on["tail"]:
            tail = TAILS[int(rng.integers(0, len(TAILS) - 1))]
            text += tail
            used.append("tail")
        rows.append(
            (
                text,
                ",".join(used),
                county_kept,
                township_kept,
                village_kept,
                road_key,
                road_dropped,
                building_kept,
            )
        )
    return pd.DataFrame(
        rows,
        columns=[
            "text",
            "rules",
            "county_kept",
            "township_kept",
            "village_kept",
            "road_key",
            "road_dropped",
            "building_kept",
        ],
    )


def unambiguous(
    parts: pd.DataFrame,
    rewritten: pd.DataFrame,
    address_grid: np.ndarray,
    population: pd.DataFrame | None = None,
    population_grid: np.ndarray | None = None,
) -> np.ndarray:
    """True where every standard address fitting the parts a text still gives lies in one grid.

    ``parts``/``rewritten`` are the sampled rows, ``address_grid`` their true grids;
    ``population`` (default ``parts``) is the whole address book with ``population_grid``.
    A dropped road suffix keeps only the stem: any road with that stem fits.
    """
    book = (parts if population is None else population).copy()
    book["grid"] = address_grid if population_grid is None else population_grid
    book["village_short"] = book["village"].map(_village_stem)
    book["road_stem"] = book["road"].map(lambda r: _strip(r, ROAD_SUFFIXES))
    sample = parts.reset_index(drop=True)
    sample["village_short"] = sample["village"].map(_village_stem)
    sample["road_stem"] = rewritten["road_key"].to_numpy()
    sample["road"] = rewritten["road_key"].to_numpy()
    out = np.zeros(len(parts), dtype=bool)
    flags = rewritten.reset_index(drop=True)[
        ["county_kept", "township_kept", "village_kept", "road_dropped", "building_kept"]
    ]
    for combo, index in flags.groupby(list(flags.columns)).groups.items():
        county, township, village, dropped, building = combo
        keys = (
            (["county_code"] if county else [])
            + (["township_code"] if township else [])
            + (["village_short"] if village else [])
            + (["road_stem" if dropped else "road", "number"])
            + (["building_no"] if building else [])
        )
        grids = book.groupby(keys)["grid"].nunique(dropna=False)
        position = np.asarray(index, dtype=np.int64)  # rewritten has a RangeIndex
        key_rows = sample.iloc[position][keys]
        looked_up = grids.reindex(pd.MultiIndex.from_frame(key_rows)).to_numpy()
        out[position] = looked_up == 1
    return out


def _village_stem(name: str) -> str:
    for suffix in ("社区", "嘎查", "村"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name
