"""Split a normalized address into admin units, road, house number, building and unit.

The :class:`Gazetteer` knows every county, township and village name (official names
plus suffix-less aliases: ``民航社区`` and ``民航`` for ``民航社区居委会``, ``西门`` for
``西门街道``, ``科左中旗`` for ``科尔沁左翼中旗``) and the road names of the
standard-address table per village.  :func:`parse_address` walks the normalized text
left to right, at each position taking the *longest* gazetteer name that is consistent
with what was already recognised (a township must lie in the recognised county, …).
A level may be skipped (``民航社区建国路18号`` has no county or township): the missing
levels are filled in from the recognised unit when they are unambiguous.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from gridmap.geocode.normalize import (
    COUNTY_ABBREVIATIONS,
    expand_leading_abbreviation,
    normalize_address,
    normalize_name,
)

LEVEL_DEPTH = {"county": 1, "township": 2, "village": 3}

#: the 通辽经济技术开发区 has no outline of its own; its townships lie in 科尔沁区
DEV_ZONE_NAME = "通辽经济技术开发区"
DEV_ZONE_HOST_COUNTY = "150502"

_TOWNSHIP_SUFFIXES = ("街道办事处", "办事处", "街道", "苏木", "镇", "乡")
_VILLAGE_SUFFIXES = (
    ("社区居民委员会", ("社区",)),
    ("社区居委会", ("社区",)),
    ("居民委员会", ("社区",)),
    ("居委会", ("社区",)),
    ("嘎查村民委员会", ("嘎查",)),
    ("嘎查村委会", ("嘎查",)),
    ("村民委员会", ("村",)),
    ("村委会", ("村",)),
    ("委员会", ()),
    ("社区", ()),
    ("嘎查", ()),
    ("生活区", ()),
    ("村", ()),
)
_NAME_PREFIXES = ("通辽市", "国有")
#: a village suffix typed after a recognised village name is part of the name, whichever suffix the
#: official name has (嘎查 and 村 are the same level: 同德店村 is typed 同德店嘎查); longest first
_TRAILING_VILLAGE_SUFFIXES = (
    "社区居民委员会",
    "社区居委会",
    "嘎查村民委员会",
    "嘎查村委会",
    "村民委员会",
    "村委会",
    "居委会",
    "委员会",
    "委会",
    "社区",
    "嘎查",
    "村",
)
_TRAILING_TOWNSHIP_SUFFIXES = ("街道办事处", "办事处", "街道", "苏木", "镇", "乡")

_HOUSE = re.compile(r"(\d+(?:-\d+)?)号")
_HOUSE_AT = re.compile(r"(\d+(?:-\d+)?)号(?![路街巷道])")
_BUILDING_AT = re.compile(r"(\d+|[A-Z])栋")
_UNIT_AT = re.compile(r"(\d+)单元")
_DIGITS = re.compile(r"\d+(?:-\d+)?|[A-Z]")


def _strip_suffix(name: str, suffixes: Iterable[str]) -> str | None:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def admin_aliases(name: str, level: str) -> set[str]:
    """Official name plus the shorter spellings people use, all in :func:`normalize_name` form."""
    base = normalize_name(name)
    names = {base}
    for prefix in _NAME_PREFIXES:
        if base.startswith(prefix) and len(base) - len(prefix) >= 2:
            names.add(base[len(prefix) :])
    if level == "county":
        names.update(normalize_name(a) for a, full in COUNTY_ABBREVIATIONS.items() if full == name)
        stem = _strip_suffix(base, ("旗", "县", "区", "市"))
        if stem and len(stem) >= 2 and stem not in ("科尔沁",):
            names.add(stem)
    elif level == "township":
        for n in list(names):
            stem = _strip_suffix(n, _TOWNSHIP_SUFFIXES)
            if stem:
                names.add(stem)
            if n.endswith("街道办事处"):
                names.add(n[: -len("办事处")])
    elif level == "village":
        for n in list(names):
            for suffix, replacements in _VILLAGE_SUFFIXES:
                if n.endswith(suffix) and len(n) > len(suffix):
                    stem = n[: -len(suffix)]
                    if len(stem) >= 2:  # a one-character stem (四村委会 → 四) names nothing
                        names.add(stem)
                    names.update(stem + r for r in replacements)
                    break
            if n.endswith("委员会") and len(n) > 5:
                names.add(n[: -len("委员会")])  # 中信社区居民委员会 → 中信社区居民, as some forms cut it
    # The same name at the start of a text has its leading abbreviation expanded (normalize_address).
    names.update({expand_leading_abbreviation(n) for n in names})
    return {n for n in names if n}


def house_number_key(value: str | None) -> str:
    """Canonical house number: ``'18号'``, ``'十八號'``, ``'18'`` → ``'18'``; ``'18之3号'`` → ``'18-3'``; '' if none."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = normalize_name(str(value))
    match = _DIGITS.search(text)
    return match.group(0) if match else ""


def building_key(value: str | None) -> str:
    """Canonical building: ``'3栋'``, ``'3号楼'``, ``'三幢'`` → ``'3'``; ``'A座'`` → ``'A'``; '' if none."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = normalize_name(str(value))
    match = _DIGITS.search(text)
    return match.group(0) if match else ""


@dataclass(frozen=True)
class AdminUnit:
    code: str
    name: str
    level: str
    county: str | None
    township: str | None


@dataclass(frozen=True)
class ParsedAddress:
    """The parts of one address (admin parts are official codes, the rest normalized text).

    ``county``/``township``/``village`` are set when the unit is known unambiguously;
    ``areas`` holds the codes of the deepest recognised level (several when a name is
    shared, e.g. ``新村`` in two townships). ``road`` is the road as written (after
    normalization); ``road_known`` says whether it is a road of the standard-address
    table in the recognised area.  ``house_number`` and ``building`` are canonical keys
    (``'18'``, ``'18-3'``, ``'3'``); ``rest`` is whatever follows.
    """

    county: str | None = None
    township: str | None = None
    village: str | None = None
    road: str = ""
    house_number: str = ""
    building: str = ""
    unit: str = ""
    rest: str = ""
    areas: tuple[str, ...] = ()
    area_level: str | None = None
    road_known: bool = False
    skipped: str = ""
    skipped_prefix: str = ""
    normalized: str = ""

    @property
    def has_admin(self) -> bool:
        return self.area_level is not None


@dataclass
class Gazetteer:
    """Names of admin units and roads, indexed for longest-prefix lookups."""

    units: dict[str, AdminUnit]
    names: dict[str, list[str]]  # normalized name/alias → unit codes
    roads: dict[str, set[str]]  # normalized road → village codes having it
    roads_in: dict[str, set[str]] = field(default_factory=dict)  # area code ("" = city) → roads
    _name_lengths: list[int] = field(default_factory=list)
    _road_lengths: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._name_lengths = sorted({len(k) for k in self.names}, reverse=True)
        self._road_lengths = sorted({len(k) for k in self.roads}, reverse=True)
        if not self.roads_in:
            roads_in: dict[str, set[str]] = defaultdict(set)
            for road, villages in self.roads.items():
                roads_in[""].add(road)
                for v in villages:
                    unit = self.units.get(v)
                    roads_in[v].add(road)
                    if unit is not None:
                        if unit.township:
                            roads_in[unit.township].add(road)
                        if unit.county:
                            roads_in[unit.county].add(road)
            self.roads_in = dict(roads_in)

    @classmethod
    def build(cls, admin_units: pd.DataFrame, roads: pd.DataFrame | None = None) -> Gazetteer:
        """From admin units (columns code, name, level, parent_code) and a road table.

        ``roads`` has columns ``road`` and ``village_code`` (e.g. the standard-address
        table); it may be None for a gazetteer of admin names only.
        """
        frame = pd.DataFrame(admin_units)[["code", "name", "level", "parent_code"]].copy()
        frame = frame[frame["level"].isin(list(LEVEL_DEPTH))]
        frame["code"] = frame["code"].astype(str)
        frame["parent_code"] = frame["parent_code"].fillna("").astype(str)
        parent = dict(zip(frame["code"], frame["parent_code"], strict=True))
        level = dict(zip(frame["code"], frame["level"], strict=True))
        units: dict[str, AdminUnit] = {}
        names: dict[str, list[str]] = defaultdict(list)
        for code, name, lvl in zip(frame["code"], frame["name"].astype(str), frame["level"], strict=True):
            county = township = None
            if lvl == "county":
                county = code
            elif lvl == "township":
                township = code
                county = parent.get(code) or None
            else:
                township = parent.get(code) or None
                county = parent.get(township) if township else None
                if county is not None and level.get(county) != "county":
                    county = None
            units[code] = AdminUnit(code, name, lvl, county, township)
            for alias in admin_aliases(name, lvl):
                names[alias].append(code)
        if DEV_ZONE_HOST_COUNTY in units:
            for alias in {DEV_ZONE_NAME, *(k for k, v in COUNTY_ABBREVIATIONS.items() if v == DEV_ZONE_NAME)}:
                names[normalize_name(alias)].append(DEV_ZONE_HOST_COUNTY)
        # A name shared by several units keeps them all: the road and house number decide later.
        cleaned = {key: list(dict.fromkeys(codes)) for key, codes in names.items()}
        road_index: dict[str, set[str]] = defaultdict(set)
        if roads is not None and len(roads):
            r = pd.DataFrame(roads)[["road", "village_code"]].dropna()
            r = r.drop_duplicates()
            for road, village in zip(r["road"].astype(str), r["village_code"].astype(str), strict=True):
                key = normalize_name(road)
                if key:
                    road_index[key].add(village)
        return cls(units=units, names=cleaned, roads=dict(road_index))

    @classmethod
    def from_boundaries(cls, roads: pd.DataFrame | None = None) -> Gazetteer:
        """From the official names shipped in ``data/boundaries`` (:mod:`gridmap.boundaries`)."""
        from gridmap import boundaries

        frames = [boundaries.counties(), boundaries.townships(), boundaries.villages()]
        units = pd.concat(
            [pd.DataFrame(f)[["code", "name", "level", "parent_code"]] for f in frames], ignore_index=True
        )
        return cls.build(units, roads)

    # --- lookups ----------------------------------------------------------------
    def ancestors(self, code: str) -> dict[str, str | None]:
        """County, township and village codes of unit ``code`` (None below its own level)."""
        unit = self.units[code]
        if unit.level == "county":
            return {"county": code, "township": None, "village": None}
        if unit.level == "township":
            return {"county": unit.county, "township": code, "village": None}
        return {"county": unit.county, "township": unit.township, "village": code}

    def consistent(self, code: str, found: dict[str, set[str]]) -> bool:
        """Whether unit ``code`` can follow the units already recognised (deeper, and inside them)."""
        unit = self.units[code]
        depth = LEVEL_DEPTH[unit.level]
        for lvl, codes in found.items():
            if not codes:
                continue
            if LEVEL_DEPTH[lvl] >= depth:
                return False
            anc = unit.county if lvl == "county" else unit.township
            if anc not in codes:
                return False
        return True

    def longest_unit_at(self, text: str, pos: int, found: dict[str, set[str]]) -> tuple[int, list[str]]:
        """Longest name at ``text[pos:]`` naming units consistent with ``found``: (length, codes)."""
        remaining = len(text) - pos
        for length in self._name_lengths:
            if length > remaining:
                continue
            key = text[pos : pos + length]
            codes = self.names.get(key)
            if codes:
                fitting = [c for c in codes if self.consistent(c, found)]
                if fitting:
                    return length, fitting
        return 0, []

    def roads_in_areas(self, areas: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for a in areas:
            out |= self.roads_in.get(a, set())
        return out

    def longest_road_at(self, text: str, pos: int, allowed: set[str]) -> str:
        remaining = len(text) - pos
        for length in self._road_lengths:
            if length > remaining:
                continue
            key = text[pos : pos + length]
            if key in allowed:
                return key
        return ""

    def road_suffix_of(self, text: str, allowed: set[str]) -> str:
        """The longest allowed road name that ends ``text`` (the text before it was not recognised)."""
        for length in self._road_lengths:
            if length >= len(text):
                continue
            key = text[len(text) - length :]
            if key in allowed:
                return key
        return ""


def _resolve(
    gazetteer: Gazetteer, found: dict[str, set[str]]
) -> tuple[dict[str, str | None], tuple[str, ...], str | None]:
    """Unique codes per level (from the deepest recognised units upward) and the deepest level."""
    deepest = None
    for lvl in ("village", "township", "county"):
        if found.get(lvl):
            deepest = lvl
            break
    if deepest is None:
        return {"county": None, "township": None, "village": None}, (), None
    areas = tuple(sorted(found[deepest]))
    resolved: dict[str, str | None] = {}
    for lvl in ("county", "township", "village"):
        if LEVEL_DEPTH[lvl] > LEVEL_DEPTH[deepest]:
            resolved[lvl] = None
            continue
        values = {gazetteer.ancestors(code)[lvl] for code in areas}
        resolved[lvl] = values.pop() if len(values) == 1 else None
    return resolved, areas, deepest


#: how an unrecognised leading county/township name ends (左中旗, 后旗, 某某镇)
_UNIT_ENDINGS = ("苏木", "旗", "县", "区", "市", "镇", "乡")
_MAX_UNKNOWN_PREFIX = 6


def _unknown_unit_prefix(s: str, gazetteer: Gazetteer) -> int:
    """Length of a leading county/township name the gazetteer does not know, when known units follow.

    ``左中旗宝龙山镇…`` (an abbreviation nobody listed) would otherwise stop the parser at the
    first character and lose every level; only a prefix of at most six characters ending
    like a unit name (旗, 县, 区, 市, 镇, 乡, 苏木) is skipped, only when no known unit or city
    road starts the text, and only when a known unit follows it directly.
    """
    if gazetteer.longest_unit_at(s, 0, {})[0] or gazetteer.longest_road_at(
        s, 0, gazetteer.roads_in.get("", set())
    ):
        return 0
    for end in range(2, min(_MAX_UNKNOWN_PREFIX, len(s) - 1) + 1):
        if s[:end].endswith(_UNIT_ENDINGS) and gazetteer.longest_unit_at(s, end, {})[0]:
            return end
    return 0


def _trailing_suffix(s: str, pos: int, level: str, gazetteer: Gazetteer, found: dict[str, set[str]]) -> int:
    """Length of a unit suffix at ``s[pos:]`` that belongs to the unit just recognised (0 if none).

    Not when a road of the recognised area starts there (村东路 is a road), nor when a
    longer unit name does.
    """
    suffixes = {"village": _TRAILING_VILLAGE_SUFFIXES, "township": _TRAILING_TOWNSHIP_SUFFIXES}.get(level, ())
    for suffix in suffixes:
        if s.startswith(suffix, pos):
            _, areas, _ = _resolve(gazetteer, found)
            if gazetteer.longest_road_at(s, pos, gazetteer.roads_in_areas(areas)):
                return 0
            if gazetteer.longest_unit_at(s, pos, found)[0] > len(suffix):
                return 0
            return len(suffix)
    return 0


def parse_address(text: str | None, gazetteer: Gazetteer) -> ParsedAddress:
    """Parse one address (any spelling; it is normalized first) with ``gazetteer``."""
    s = normalize_address(text)
    if not s:
        return ParsedAddress(normalized="")
    pos = _unknown_unit_prefix(s, gazetteer)
    skipped_prefix = s[:pos]
    found: dict[str, set[str]] = {}
    while pos < len(s):
        length, codes = gazetteer.longest_unit_at(s, pos, found)
        if not length:
            break
        # A road of the area that is longer than the unit name wins (建国路 is not the village 建国).
        _, current_areas, _ = _resolve(gazetteer, found)
        road_here = gazetteer.longest_road_at(
            s,
            pos,
            gazetteer.roads_in_areas(current_areas) if current_areas else gazetteer.roads_in.get("", set()),
        )
        if len(road_here) > length:
            break
        by_level: dict[str, set[str]] = defaultdict(set)
        for code in codes:
            by_level[gazetteer.units[code].level].add(code)
        # A name that fits several levels (常胜: 常胜镇 and its 常胜村) counts at the level its typed
        # suffix names (常胜嘎查 → the village), else at the shallowest one.
        lvl = min(by_level, key=LEVEL_DEPTH.__getitem__)
        if len(by_level) > 1:
            after = s[pos + length :]
            if "village" in by_level and after.startswith(_TRAILING_VILLAGE_SUFFIXES):
                lvl = "village"
            elif "township" in by_level and after.startswith(_TRAILING_TOWNSHIP_SUFFIXES):
                lvl = "township"
        found[lvl] = by_level[lvl]
        pos += length
        pos += _trailing_suffix(s, pos, lvl, gazetteer, found)

    resolved, areas, deepest = _resolve(gazetteer, found)
    allowed = gazetteer.roads_in_areas(areas) if areas else gazetteer.roads_in.get("", set())

    skipped = ""
    road = gazetteer.longest_road_at(s, pos, allowed)
    road_known = bool(road)
    if road_known:
        pos += len(road)
    else:
        # The road runs up to the house number; text we could not read may stand before it.
        match = _HOUSE_AT.search(s, pos)
        end = match.start() if match else len(s)
        if match is None:
            building = _BUILDING_AT.search(s, pos)
            end = building.start() if building else end
        segment = s[pos:end]
        suffix = gazetteer.road_suffix_of(segment, allowed) if segment else ""
        if suffix:
            skipped = segment[: len(segment) - len(suffix)]
            road, road_known = suffix, True
        else:
            road = segment
        pos = end

    house = building = unit = ""
    match = _HOUSE_AT.match(s, pos)
    if match:
        house = match.group(1)
        pos = match.end()
    match = _BUILDING_AT.match(s, pos)
    if match:
        building = match.group(1)
        pos = match.end()
    match = _UNIT_AT.match(s, pos)
    if match:
        unit = match.group(1)
        pos = match.end()
    return ParsedAddress(
        county=resolved["county"],
        township=resolved["township"],
        village=resolved["village"],
        road=road,
        house_number=house,
        building=building,
        unit=unit,
        rest=s[pos:],
        areas=areas,
        area_level=deepest,
        road_known=road_known,
        skipped=skipped,
        skipped_prefix=skipped_prefix,
        normalized=s,
    )
