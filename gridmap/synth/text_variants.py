"""Free-text addresses the way people type them into case forms.

About 60% are clean-ish (the standard address, sometimes with a harmless 通辽市
prefix); the rest carry one to three of the variants seen in real intake data:
county abbreviations (科左中旗, 霍市, 扎旗 …), a missing township or village, a long
redundant prefix (内蒙古自治区通辽市, 内蒙通辽), the official village name (…村委会),
full-width digits, Chinese numerals in the house number (十八号), 號 for 号, a
one-character slip in the road name (never in a number), 号楼/幢 for 栋, stray spaces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.synth.names import ROAD_TYPOS

COUNTY_ABBREVIATIONS = {
    "科尔沁区": "科区",
    "科尔沁左翼中旗": "科左中旗",
    "科尔沁左翼后旗": "科左后旗",
    "开鲁县": "开鲁",
    "库伦旗": "库伦",
    "奈曼旗": "奈曼",
    "扎鲁特旗": "扎旗",
    "霍林郭勒市": "霍市",
}
LONG_PREFIXES = ("内蒙古自治区通辽市", "内蒙古通辽市", "内蒙通辽", "内蒙古自治区通辽市 ")
CLEAN_SHARE = 0.6
#: messy variants and their relative frequency
MESSY = {
    "county_abbreviation": 3.0,
    "no_township": 2.0,
    "no_village": 1.5,
    "long_prefix": 2.0,
    "official_village_name": 1.0,
    "fullwidth_digits": 1.5,
    "chinese_numerals": 1.5,
    "traditional_hao": 0.8,
    "road_typo": 1.2,
    "building_variant": 1.0,
    "extra_spaces": 1.5,
}
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
DIGITS_ZH = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """An integer 0–9999 in Chinese numerals as written in addresses: 18 → 十八, 105 → 一百零五."""
    if n == 0:
        return DIGITS_ZH[0]
    units = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
    out, zero_pending, started = [], False, False
    for value, name in units:
        d = (n // value) % 10
        if d == 0:
            zero_pending = started
            continue
        if zero_pending:
            out.append(DIGITS_ZH[0])
            zero_pending = False
        if not (d == 1 and value == 10 and not started):  # 十八, not 一十八
            out.append(DIGITS_ZH[d])
        out.append(name)
        started = True
    return "".join(out)


def address_texts(parts: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Typed address text for each row of ``parts``.

    ``parts`` columns: ``county`` (official county name), ``township`` (address form),
    ``village`` (address form), ``village_official``, ``road``, ``number`` (int),
    ``building_no`` (int, 0 for none), ``urban`` (0/1).
    Returns ``(texts, variants)``: the text and a comma-separated list of the variants
    applied ("" for a clean text).
    """
    n = len(parts)
    clean = rng.random(n) < CLEAN_SHARE
    names = list(MESSY)
    p = np.array([MESSY[k] for k in names])
    p = p / p.sum()
    n_messy = rng.choice([1, 2, 3], n, p=[0.6, 0.3, 0.1])
    flags = {k: np.zeros(n, dtype=bool) for k in names}
    for r in range(3):
        pick = rng.choice(len(names), n, p=p)
        active = ~clean & (n_messy > r)
        for j, k in enumerate(names):
            flags[k] |= active & (pick == j)
    urban = parts["urban"].to_numpy() == 1
    flags["road_typo"] &= urban  # a rural "3组" has no name to misspell
    flags["building_variant"] &= urban
    # rural lanes ("3组") repeat in every village: people name their village, or no one
    # could place the address; streets are distinctive enough to drop it
    flags["no_village"] &= urban
    flags["no_village"] &= ~flags["no_township"] | (rng.random(n) < 0.2)
    flags["official_village_name"] &= ~flags["no_village"]
    short_prefix = clean & (rng.random(n) < 0.2)

    county = parts["county"].to_numpy(dtype=object)
    county = np.where(
        flags["county_abbreviation"],
        # a county without a known abbreviation (outside Tongliao) keeps its full name
        pd.Series(county).map(COUNTY_ABBREVIATIONS).fillna(pd.Series(county)).to_numpy(),
        county,
    )
    township = np.where(flags["no_township"], "", parts["township"].to_numpy(dtype=object))
    village = np.where(
        flags["official_village_name"],
        parts["village_official"].to_numpy(dtype=object),
        parts["village"].to_numpy(dtype=object),
    )
    village = np.where(flags["no_village"], "", village)

    road = parts["road"].to_numpy(dtype=object).copy()
    for i in np.flatnonzero(flags["road_typo"]):
        name = road[i]
        body = [j for j, ch in enumerate(name[:-1]) if ch in ROAD_TYPOS]  # keep the 路/街 suffix
        if not body:
            flags["road_typo"][i] = False
            continue
        j = body[int(rng.integers(0, len(body)))]
        road[i] = name[:j] + ROAD_TYPOS[name[j]] + name[j + 1 :]

    number = parts["number"].to_numpy()
    number_text = pd.Series(number).astype(str).to_numpy(dtype=object)
    zh = flags["chinese_numerals"]
    if zh.any():
        uniq = np.unique(number[zh])
        lookup = {int(u): chinese_numeral(int(u)) for u in uniq}
        number_text[zh] = [lookup[int(u)] for u in number[zh]]
    hao = np.where(flags["traditional_hao"], "號", "号")
    building_no = parts["building_no"].to_numpy()
    style = rng.integers(0, 3, n)
    building = np.where(building_no > 0, pd.Series(building_no).astype(str).to_numpy(dtype=object) + "栋", "")
    alt = np.where(
        style == 0,
        pd.Series(building_no).astype(str).to_numpy(dtype=object) + "号楼",
        np.where(style == 1, pd.Series(building_no).astype(str).to_numpy(dtype=object) + "幢", ""),
    )
    building = np.where(flags["building_variant"] & (building_no > 0), alt, building)
    # rural hamlets: Chinese numerals apply to the group number too (三组十二号)
    group_zh = zh & ~urban
    if group_zh.any():
        road[group_zh] = [chinese_numeral(int(r[:-1])) + "组" for r in road[group_zh]]

    prefix = np.where(
        flags["long_prefix"],
        np.asarray(LONG_PREFIXES, dtype=object)[rng.integers(0, len(LONG_PREFIXES), n)],
        "",
    )
    prefix = np.where(short_prefix, "通辽市", prefix)
    pieces = [prefix, county, township, village, road, number_text + hao, building]
    sep = np.where(
        flags["extra_spaces"][:, None], np.where(rng.random((n, len(pieces) - 1)) < 0.4, " ", ""), ""
    )
    text = pieces[0].astype(object)
    for k in range(1, len(pieces)):
        text = text + sep[:, k - 1] + pieces[k]
    spaced = flags["extra_spaces"]
    # at least one stray space where the variant applies (leading, trailing or doubled)
    text = np.where(spaced & ~pd.Series(text).str.contains(" ").to_numpy(), " " + text + "  ", text)
    digits = flags["fullwidth_digits"]
    if digits.any():
        text[digits] = pd.Series(text[digits]).str.translate(FULLWIDTH).to_numpy(dtype=object)

    return text.astype(object), _join_flags(flags, n)


def _join_flags(flags: dict[str, np.ndarray], n: int) -> np.ndarray:
    out = np.full(n, "", dtype=object)
    for k, v in flags.items():
        out = np.where(v, np.where(out == "", k, out + "," + k), out)
    return out
