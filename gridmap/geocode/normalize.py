"""Address text normalization: one canonical spelling for the many ways people type an address.

:func:`normalize_address` applies, in order:

1. Unicode NFKC: full-width letters, digits and punctuation → half-width (``１８号`` → ``18号``);
   Latin letters upper-cased (``a座`` → ``A座``).
2. Traditional → simplified Chinese (OpenCC ``t2s``): ``建國路十八號`` → ``建国路十八号``.
3. Whitespace and separators (spaces, commas, brackets, quotes) removed; dash variants → ``-``.
4. Chinese numerals before a house/building/unit marker → Arabic: ``十八号`` → ``18号``,
   ``一百零三号`` → ``103号``, ``二〇三号`` → ``203号``, ``三组`` → ``3组``.
5. House-number variants: ``18號``/``18#``/``18弄`` → ``18号``; ``18之3号``/``18号之3`` → ``18-3号``;
   building ``3号楼``/``3幢``/``3座`` → ``3栋``; ``门牌``/``门牌号`` dropped.
6. Redundant leading province/city (``内蒙古自治区``, ``内蒙古``, ``内蒙``, ``通辽市``, ``通辽``) removed.
7. A leading county abbreviation expanded (``科左中旗`` → ``科尔沁左翼中旗`` …, see
   :data:`COUNTY_ABBREVIATIONS`).  Only at the start, where a county name stands: in the
   middle of a text the same letters are usually part of a village name
   (``东奈曼营子村委会``), and the parser's gazetteer knows the abbreviations as aliases anyway.

:func:`normalize_name` applies steps 1–5 only: it is the spelling used for gazetteer
names (county, township, village, road), so that a name compares equal wherever it
stands in a text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

#: leading abbreviations → official county-level names (longest first when matching)
COUNTY_ABBREVIATIONS: dict[str, str] = {
    "科左中旗": "科尔沁左翼中旗",
    "科左中": "科尔沁左翼中旗",
    "科左后旗": "科尔沁左翼后旗",
    "科左后": "科尔沁左翼后旗",
    "科尔沁左中旗": "科尔沁左翼中旗",
    "科尔沁左后旗": "科尔沁左翼后旗",
    "霍林郭勒": "霍林郭勒市",
    "霍市": "霍林郭勒市",
    "扎鲁特": "扎鲁特旗",
    "扎旗": "扎鲁特旗",
    "奈曼": "奈曼旗",
    "开鲁": "开鲁县",
    "库伦": "库伦旗",
    "库旗": "库伦旗",
    "科区": "科尔沁区",
    "科尔沁": "科尔沁区",
    "经济技术开发区": "通辽经济技术开发区",
    "经开区": "通辽经济技术开发区",
    "开发区": "通辽经济技术开发区",
}

#: what may follow each abbreviation for it *not* to be expanded (it is then the start of another name)
_ABBREVIATION_BLOCKERS: dict[str, str] = {
    "霍林郭勒": "市",
    "扎鲁特": "旗",
    "奈曼": "旗",
    "开鲁": "县镇",
    "库伦": "旗镇街",
    "科尔沁": "区左街",
}

_LEADING_PREFIX = re.compile(
    r"^(?:中国|中华人民共和国)?(?:内蒙古自治区|内蒙古|内蒙)?(?:通辽市|通辽(?!经济技术开发区))?"
)

_SEPARATORS = re.compile(r"[\s,;:，；：、。.·'\"“”‘’()\[\]{}<>（）【】《》「」『』/\\|]+")
_DASHES = re.compile(r"[‐‑‒–—―−~～_]+")

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMERAL_CHARS = "".join(_CN_DIGITS) + "".join(_CN_UNITS)
#: markers after which a number is a house/building/unit/group number
_NUMBER_MARKERS = "号|栋|幢|座|单元|组|楼|层|室|弄|巷|排|队|户|#|之|-"
_CN_NUMBER_BEFORE_MARKER = re.compile(
    rf"(?<![{_CN_NUMERAL_CHARS}])([{_CN_NUMERAL_CHARS}]+)(?=(?:{_NUMBER_MARKERS}))"
)
# ``之`` and ``-`` take a number on their right too (18之三号).
_CN_NUMBER_AFTER_JOIN = re.compile(rf"(?<=[0-9之-])([{_CN_NUMERAL_CHARS}]+)(?=号|$)")

_HOUSE_VARIANTS = [
    (re.compile(r"门牌号?(?:码)?(?=\d)"), ""),
    (re.compile(r"(\d+)\s*(?:#|弄)"), r"\1号"),
    (re.compile(r"(\d+)号之(\d+)"), r"\1-\2号"),
    (re.compile(r"(\d+)之(\d+)号?"), r"\1-\2号"),
    (re.compile(r"(\d+)-(\d+)号?(?=\d+栋|$)"), r"\1-\2号"),
    (re.compile(r"(\d+|[A-Z])(?:号楼|幢|座|栋楼)"), r"\1栋"),
    (re.compile(r"第(?=\d+(?:号|栋|单元|组|层|室))"), ""),
]


def chinese_numeral_to_int(text: str) -> int:
    """Value of a Chinese numeral: ``十八`` → 18, ``一百零三`` → 103, ``二〇三`` → 203, ``两千`` → 2000.

    A numeral without any 十/百/千 is read digit by digit (``二〇三`` → 203, ``一二`` → 12).
    Raises ValueError for text that is not a numeral.
    """
    if not text or any(ch not in _CN_DIGITS and ch not in _CN_UNITS for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    if not any(ch in _CN_UNITS for ch in text):
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total = 0
    digit = None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            unit = _CN_UNITS[ch]
            total += (1 if digit is None else digit) * unit  # 十八: an omitted leading 一
            digit = None
    if digit is not None:
        total += digit
    return total


def _replace_numerals(match: re.Match[str]) -> str:
    try:
        return str(chinese_numeral_to_int(match.group(1)))
    except ValueError:
        return match.group(1)


@lru_cache(maxsize=1)
def _opencc():
    from opencc import OpenCC

    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _traditional_chars() -> frozenset[str]:
    """Characters that can start a t2s conversion: a text without any of them is left as is."""
    import opencc

    folder = Path(opencc.__file__).parent / "dictionary"
    chars: set[str] = set()
    for line in (folder / "TSCharacters.txt").read_text(encoding="utf-8").splitlines():
        key, _, values = line.partition("\t")
        if key and values.split(" ")[0] != key:
            chars.add(key)
    for line in (folder / "TSPhrases.txt").read_text(encoding="utf-8").splitlines():
        key, _, values = line.partition("\t")
        target = values.split(" ")[0]
        if key and not any(ch in chars for ch in key):
            # a phrase that converts without any traditional character: its changed characters count
            changed = (
                [a for a, b in zip(key, target, strict=False) if a != b]
                if len(key) == len(target)
                else list(key)
            )
            chars.update(changed)
    return frozenset(chars)


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC t2s); texts with no traditional character skip OpenCC."""
    traditional = _traditional_chars()
    if any(ch in traditional for ch in text):
        return _opencc().convert(text)
    return text


def normalize_name(text: str | None) -> str:
    """Steps 1–5 of the module doc: the canonical spelling of a name or address fragment."""
    if text is None:
        return ""
    text = str(text)
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).upper()
    text = to_simplified(text)
    text = _DASHES.sub("-", text)
    text = _SEPARATORS.sub("", text)
    if any(ch in _CN_NUMERAL_CHARS for ch in text):
        text = _CN_NUMBER_BEFORE_MARKER.sub(_replace_numerals, text)
        text = _CN_NUMBER_AFTER_JOIN.sub(_replace_numerals, text)
    for pattern, repl in _HOUSE_VARIANTS:
        text = pattern.sub(repl, text)
    return text


def strip_leading_prefix(text: str) -> str:
    """Drop a leading 内蒙古(自治区)/通辽(市): every address in the store is in that city."""
    return _LEADING_PREFIX.sub("", text, count=1)


_ABBREVIATIONS_LONGEST_FIRST = sorted(COUNTY_ABBREVIATIONS, key=len, reverse=True)


def expand_leading_abbreviation(text: str) -> str:
    """Expand a county abbreviation at the start of ``text`` (``科左中旗保康镇`` → ``科尔沁左翼中旗保康镇``)."""
    for abbreviation in _ABBREVIATIONS_LONGEST_FIRST:
        if text.startswith(abbreviation):
            full = COUNTY_ABBREVIATIONS[abbreviation]
            rest = text[len(abbreviation) :]
            if text.startswith(full):
                return text
            blockers = _ABBREVIATION_BLOCKERS.get(abbreviation, "")
            if rest and rest[0] in blockers:
                continue
            return full + rest
    return text


@lru_cache(maxsize=262_144)
def normalize_address(text: str | None) -> str:
    """The canonical spelling of a whole address (all steps of the module doc); ``''`` for empty input."""
    text = normalize_name(text)
    if not text:
        return ""
    stripped = strip_leading_prefix(text)
    return expand_leading_abbreviation(stripped)
