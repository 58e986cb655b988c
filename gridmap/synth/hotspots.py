"""Planted hotspots: the ground truth the hotspot analytics must find.

A hotspot is a disc (centre at an address cluster, radius 300–1500 m) in which the
case rate of some kinds/categories is multiplied by ``multiplier(t)`` per month
(2022-01 … 2024-12; 2021, the base year of the 2022 同比, has no hotspot).  Trends:

* ``steady``: the full multiplier all 36 months;
* ``growing``: its excess (multiplier − 1) rising linearly from :data:`RAMP_FLOOR` of the
  peak's in 2022-01 to the peak in 2024-12;
* ``growing`` with ``new=True``: absent for 24 months, at the peak in the last 12;
* ``fading``: its excess falling linearly from the peak's in 2022-01 to :data:`RAMP_FLOOR`
  of it in 2024-12.

A ramp never starts or ends at 1: a hotspot must be significant in (nearly) every month
for emerging hot-spot analysis to call it intensifying or diminishing (ArcGIS: hot in at
least 90 % of the time steps, including the last, with a significant Mann–Kendall trend);
one that starts from nothing or dies out is "sporadic" by those rules.

Town hotspots cover at least ~1,500 households (several ~400-household grids); rural
ones sit in a populous township-seat village (镇区, ~1,000 households or more).  With
peak multipliers of 8–22× they stand out to Getis–Ord Gi* at FDR 0.05 at scale 1 in
the months they are active, and growing, new and fading ones are classed as such by
emerging hot-spot analysis (monthly steps, three-month neighbourhoods): see
``tests/test_hotspots_truth.py``.  Below scale 1 fewer households share the same grids
and villages, so hotspots are weaker and the classes less reliable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridmap.domain import DISPUTE_CATEGORIES
from gridmap.synth.streams import stream

#: the monthly profile spans the synthetic calendar (2021-01 … 2024-12); hotspots are planted
#: from :data:`PLANTED_FROM` on, 2021 is the quiet base year of the 2022 同比
N_MONTHS = 48
FIRST_MONTH = np.datetime64("2021-01")
PLANTED_FROM = 12  # 2022-01
PLANTED_MONTHS = N_MONTHS - PLANTED_FROM

#: (setting, kinds, categories, trend, new, peak multiplier range); the first four cover
#: every trend and both kinds.  A trend must show month by month, in grids a town hotspot
#: only partly fills, so trending hotspots get the strongest peaks (a ramp averages 70 %
#: of its peak excess; a new hotspot lives 12 months only).
TEMPLATES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str, bool, tuple[float, float]], ...] = (
    ("city", ("dispute",), ("property_mgmt", "neighbour"), "steady", False, (8.0, 12.0)),
    (
        "rural",
        ("dispute",),
        ("land", "neighbour", "family_marriage", "wages", "loans_finance", "other"),
        "growing",
        False,
        (16.0, 20.0),
    ),
    ("city", ("dispute",), ("wages", "loans_finance", "neighbour", "other"), "growing", True, (16.0, 20.0)),
    (
        "city",
        ("dispute", "petition"),
        ("family_marriage", "neighbour", "other", "petition_housing"),
        "fading",
        False,
        (18.0, 22.0),
    ),
    ("rural", ("dispute",), DISPUTE_CATEGORIES, "steady", False, (8.0, 12.0)),
    ("city", ("dispute",), DISPUTE_CATEGORIES, "growing", False, (18.0, 22.0)),
    (
        "rural",
        ("petition", "dispute"),
        ("petition_land", "land", "neighbour", "family_marriage"),
        "steady",
        False,
        (9.0, 13.0),
    ),
    (
        "county_seat",
        ("dispute",),
        ("neighbour", "family_marriage", "property_mgmt"),
        "fading",
        False,
        (18.0, 22.0),
    ),
    (
        "county_seat",
        ("dispute",),
        ("loans_finance", "wages", "family_marriage", "neighbour"),
        "growing",
        True,
        (16.0, 20.0),
    ),
    ("rural", ("dispute",), DISPUTE_CATEGORIES, "fading", False, (14.0, 18.0)),
)
RADIUS_M = {"city": (300.0, 800.0), "county_seat": (300.0, 800.0), "rural": (1200.0, 1500.0)}
#: a town hotspot spans several ~400-household grids: its radius grows (within RADIUS_M)
#: until it covers this many households (scale-1 equivalent)
TOWN_HOTSPOT_HOUSEHOLDS = 1800.0
#: a rural hotspot sits in a village of this many households (scale-1 equivalent): big
#: enough to span a few grids, not so big that it drowns the other hotspots
RURAL_HOTSPOT_VILLAGE_HOUSEHOLDS = (1000.0, 2500.0)
MIN_SEPARATION_M = 5000.0
#: share of the peak excess where a growing hotspot starts and a fading one ends
RAMP_FLOOR = 0.4


@dataclass
class Hotspot:
    """One planted hotspot; ``address_index`` are row positions in the address points."""

    hotspot_id: str
    setting: str
    centre_x: float
    centre_y: float
    centre_lon: float
    centre_lat: float
    radius_m: float
    kinds: tuple[str, ...]
    categories: tuple[str, ...]
    trend: str
    new: bool
    peak_multiplier: float
    multiplier: np.ndarray  # (N_MONTHS,) monthly case-rate multiplier from FIRST_MONTH
    address_index: np.ndarray = field(repr=False)

    def window(self) -> tuple[str, str]:
        active = np.flatnonzero(self.multiplier > 1.0 + 1e-9)
        return str(FIRST_MONTH + int(active[0])), str(FIRST_MONTH + int(active[-1]))


def hotspot_count(scale: float) -> int:
    """~10 hotspots at scale 1, at least 4 at small scales."""
    return int(np.clip(round(10 * scale**0.25), 4, len(TEMPLATES)))


def monthly_multiplier(trend: str, new: bool, peak: float) -> np.ndarray:
    """The (48,) multiplier profile of a trend (see module docstring): 1 in 2021, the trend from 2022-01."""
    t = np.arange(PLANTED_MONTHS)
    ramp = t / (PLANTED_MONTHS - 1)
    if trend == "steady":
        planted = np.full(PLANTED_MONTHS, peak)
    elif trend == "growing" and new:
        planted = np.where(t >= 24, peak, 1.0)
    elif trend == "growing":
        planted = 1.0 + (peak - 1.0) * (RAMP_FLOOR + (1.0 - RAMP_FLOOR) * ramp)
    elif trend == "fading":
        planted = 1.0 + (peak - 1.0) * (1.0 - (1.0 - RAMP_FLOOR) * ramp)
    else:
        raise ValueError(f"unknown trend {trend!r}")
    return np.r_[np.ones(PLANTED_FROM), planted]


def plant_hotspots(
    points: pd.DataFrame, towns_kind: np.ndarray, seat_village: np.ndarray, seed: int, scale: float
) -> list[Hotspot]:
    """Choose hotspot centres among the addresses and the addresses each one covers.

    ``points`` are the address points (LOCAL_CRS ``x``/``y``, ``households``, ``urban``,
    ``lon``/``lat``, ``village_index``); ``towns_kind`` gives each point's town kind
    (city/county_seat/township_seat, or "" for rural addresses); ``seat_village`` flags
    the villages (by ``village_index``) at township seats, where rural hotspots go.
    """
    rng = stream(seed, "hotspots")
    xy = points[["x", "y"]].to_numpy()
    hh = points["households"].to_numpy(dtype=float)
    setting = np.where(points["urban"].to_numpy() == 1, towns_kind, "rural")
    chosen: list[Hotspot] = []
    for i, (where, kinds, categories, trend, new, peak_range) in enumerate(TEMPLATES[: hotspot_count(scale)]):
        pool = np.flatnonzero(setting == where)
        if not len(pool):  # an area without that kind of town (no 区, say): any urban address, else any
            pool = np.flatnonzero(points["urban"].to_numpy() == 1)
            pool = pool if len(pool) else np.arange(len(points))
        if chosen:
            centres = np.array([[h.centre_x, h.centre_y] for h in chosen])
            d = np.min(np.hypot(xy[pool, 0, None] - centres[:, 0], xy[pool, 1, None] - centres[:, 1]), axis=1)
            far = pool[d > MIN_SEPARATION_M]
            pool = far if len(far) else pool
        lo, hi = RADIUS_M[where]
        if where == "rural":
            a = _rural_centre(pool, xy, hh / scale, points["village_index"].to_numpy(), seat_village, rng)
            d_all = np.hypot(xy[:, 0] - xy[a, 0], xy[:, 1] - xy[a, 1])
            radius = float(rng.uniform(lo, hi))
        else:
            a = int(pool[rng.choice(len(pool), p=hh[pool] / hh[pool].sum())])
            d_all = np.hypot(xy[:, 0] - xy[a, 0], xy[:, 1] - xy[a, 1])
            by_dist = np.argsort(d_all, kind="stable")
            reach = np.searchsorted(np.cumsum(hh[by_dist]) / scale, TOWN_HOTSPOT_HOUSEHOLDS)
            needed = d_all[by_dist[min(reach, len(by_dist) - 1)]]
            radius = float(np.clip(needed * rng.uniform(1.0, 1.15), lo, hi))
        peak = float(rng.uniform(*peak_range))
        chosen.append(
            Hotspot(
                hotspot_id=f"H{i + 1:02d}",
                setting=where,
                centre_x=float(xy[a, 0]),
                centre_y=float(xy[a, 1]),
                centre_lon=float(points["lon"].iat[a]),
                centre_lat=float(points["lat"].iat[a]),
                radius_m=round(radius, 1),
                kinds=kinds,
                categories=categories,
                trend=trend,
                new=new,
                peak_multiplier=round(peak, 2),
                multiplier=monthly_multiplier(trend, new, round(peak, 2)),
                address_index=np.flatnonzero(d_all <= radius),
            )
        )
    return chosen


def _rural_centre(
    pool: np.ndarray,
    xy: np.ndarray,
    hh: np.ndarray,
    village: np.ndarray,
    seat_village: np.ndarray,
    rng: np.random.Generator,
) -> int:
    """A populous township-seat village (drawn by households among those in the
    :data:`RURAL_HOTSPOT_VILLAGE_HOUSEHOLDS` range), centred where most of its households are:
    the address with the most of the village's households within 1 km.  ``hh`` is in
    scale-1 households."""
    v_hh = np.bincount(village[pool], weights=hh[pool])
    if len(v_hh) < len(seat_village):
        v_hh = np.r_[v_hh, np.zeros(len(seat_village) - len(v_hh))]
    lo, hi = RURAL_HOTSPOT_VILLAGE_HOUSEHOLDS
    candidates = np.flatnonzero((v_hh >= lo) & (v_hh <= hi) & seat_village[: len(v_hh)])
    if len(candidates) == 0:
        candidates = np.argsort(v_hh)[-10:]
    w = v_hh[candidates]
    v = candidates[rng.choice(len(candidates), p=w / w.sum())]
    mine = pool[village[pool] == v]
    d = np.hypot(xy[mine, 0, None] - xy[None, mine, 0], xy[mine, 1, None] - xy[None, mine, 1])
    return int(mine[np.argmax((d <= 1000.0) @ hh[mine])])
