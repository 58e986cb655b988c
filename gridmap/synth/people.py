"""Synthetic personal fields: names, phone numbers, resident ID numbers.

All values are invented: phones come from the unused-looking ``199-0xxx`` block and
ID numbers, though they carry a valid GB 11643 check digit, are random draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.synth.names import (
    HAN_GIVEN_CHARS,
    HAN_SURNAME_WEIGHTS,
    HAN_SURNAMES,
    MONGOL_GIVEN,
    MONGOL_SURNAMES,
)

#: GB 11643-1999 weights of the first 17 digits and the check characters (ISO 7064 MOD 11-2)
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.array(list("10X98765432"))

#: county codes used as the region prefix of synthetic ID numbers
TONGLIAO_COUNTY_CODES = ("150502", "150521", "150522", "150523", "150524", "150525", "150526", "150581")


def person_names(rng: np.random.Generator, n: int, mongol_share: float = 0.45) -> np.ndarray:
    """``n`` synthetic full names (Han and Mongolian), as an object array of str."""
    mongol = rng.random(n) < mongol_share
    han_sur = np.asarray(HAN_SURNAMES, dtype=object)[
        rng.choice(len(HAN_SURNAMES), n, p=HAN_SURNAME_WEIGHTS / HAN_SURNAME_WEIGHTS.sum())
    ]
    chars = np.asarray(HAN_GIVEN_CHARS, dtype=object)
    given1 = chars[rng.integers(0, len(chars), n)]
    given2 = np.where(rng.random(n) < 0.7, chars[rng.integers(0, len(chars), n)], "")
    han = han_sur + given1 + given2
    # many Mongols register without a surname; others take one of a few family surnames
    mon_sur = np.where(
        rng.random(n) < 0.55,
        np.asarray(MONGOL_SURNAMES, dtype=object)[rng.integers(0, len(MONGOL_SURNAMES), n)],
        "",
    )
    mon = mon_sur + np.asarray(MONGOL_GIVEN, dtype=object)[rng.integers(0, len(MONGOL_GIVEN), n)]
    return np.where(mongol, mon, han).astype(object)


def phone_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` obviously synthetic mobile numbers ``199-0xxx-xxxx`` (199-0 block), as str."""
    a = rng.integers(0, 1000, n)
    b = rng.integers(0, 10000, n)
    return np.array(
        [f"199-0{x:03d}-{y:04d}" for x, y in zip(a.tolist(), b.tolist(), strict=True)], dtype=object
    )


def id_numbers(rng: np.random.Generator, n: int, region_codes: np.ndarray | None = None) -> np.ndarray:
    """``n`` 18-digit resident ID numbers with a valid check digit.

    ``region_codes`` (n,) gives the 6-digit region prefix of each (default: a random
    Tongliao county code); birth dates fall in 1945–2006.
    """
    if region_codes is None:
        region_codes = np.asarray(TONGLIAO_COUNTY_CODES)[rng.integers(0, len(TONGLIAO_COUNTY_CODES), n)]
    region = np.asarray(region_codes).astype(str)
    start = np.datetime64("1945-01-01")
    days = rng.integers(0, (np.datetime64("2006-12-31") - start).astype(int), n)
    birth = np.char.replace(np.datetime_as_string(start + days, unit="D"), "-", "")
    seq = np.char.zfill(rng.integers(1, 1000, n).astype(str), 3)
    body = np.char.add(np.char.add(region, birth), seq)
    digits = np.frombuffer("".join(body.tolist()).encode("ascii"), dtype=np.uint8).reshape(n, 17) - 48
    check = ID_CHECK[(digits.astype(np.int64) @ ID_WEIGHTS) % 11]
    return np.char.add(body, check).astype(object)


def id_number_valid(ids: np.ndarray) -> np.ndarray:
    """Whether each ID number is 17 digits plus a correct GB 11643 check character."""
    ids = pd.Series(np.asarray(ids, dtype=object)).fillna("").astype(str)
    out = ids.str.fullmatch(r"\d{17}[\dX]").to_numpy(dtype=bool, copy=True)
    if out.any():
        good = ids[out]
        digits = np.frombuffer("".join(good.str[:17]).encode("ascii"), dtype=np.uint8).reshape(-1, 17) - 48
        out[out] = ID_CHECK[(digits.astype(np.int64) @ ID_WEIGHTS) % 11] == good.str[17].to_numpy()
    return out
