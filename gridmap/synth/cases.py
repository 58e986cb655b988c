"""Disputes (矛盾纠纷) and petitions (信访), 2021-01-01 … 2024-12-31.

Volumes follow Tongliao's published 2022 figures (7,444 disputes found, 6,925
resolved) with modest growth; petitions ~2,000 a year from 2022, after 3,600 in 2021
(the report's −40 % in cases and −27 % in persons are planted exactly, see
:func:`plant_petition_persons`).  Each case happens at a
standard address drawn in proportion to households × the category's urban/rural
rate × the planted hotspot intensity of that month.  Report times follow
:mod:`gridmap.synth.seasonality`; the life cycle is reported → accepted →
in_progress → resolved → closed (or unresolved), seen as of 2025-01-01 00:00 so
recent cases are still open.  Geocode fields stay empty: the truth is in
``case_truth``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from gridmap.crs import WGS84, to_wgs84
from gridmap.domain import DISPUTE_CATEGORIES, PETITION_CATEGORIES
from gridmap.store.schema import get_table
from gridmap.synth import coords, people, seasonality, selfexcite
from gridmap.synth.admin import SOURCE
from gridmap.synth.hotspots import Hotspot
from gridmap.synth.streams import stream
from gridmap.synth.text_variants import address_texts

#: cases reported per year at scale 1
#: 2021 is the base year of the report's 2022 同比: petitions fell 40 % in cases (3,600 → 2,160)
YEAR_TOTALS = {
    "dispute": {2021: 7290, 2022: 7444, 2023: 7610, 2024: 7790},
    "petition": {2021: 3600, 2022: 2160, 2023: 2010, 2024: 1880},
}
#: petitioners (信访人次) in a year relative to the year before, planted exactly (2022: −27 %)
PETITION_PERSONS_YOY = {2022: 0.73}
#: share of each year's cases that end resolved (2022 disputes: 6,925 / 7,444)
RESOLVED_SHARE = {
    "dispute": {2021: 0.925, 2022: 6925 / 7444, 2023: 0.935, 2024: 0.94},
    "petition": {2021: 0.87, 2022: 0.88, 2023: 0.89, 2024: 0.90},
}
CATEGORY_SHARE = {
    "family_marriage": 0.22,
    "neighbour": 0.20,
    "land": 0.14,
    "wages": 0.10,
    "loans_finance": 0.08,
    "property_mgmt": 0.08,
    "traffic": 0.06,
    "medical": 0.04,
    "other": 0.08,
    "petition_land": 0.25,
    "petition_social_security": 0.25,
    "petition_housing": 0.18,
    "petition_law_enforcement": 0.17,
    "petition_other": 0.15,
}
#: per-household rate factor (urban, rural): land is rural, property management urban
URBAN_RURAL_FACTOR = {
    "land": (0.08, 1.8),
    "property_mgmt": (2.2, 0.05),
    "wages": (1.3, 0.8),
    "loans_finance": (1.2, 0.9),
    "traffic": (1.1, 0.95),
    "medical": (1.3, 0.8),
    "family_marriage": (0.95, 1.05),
    "neighbour": (1.05, 1.0),
    "petition_land": (0.1, 1.8),
    "petition_housing": (2.0, 0.3),
    "petition_social_security": (1.1, 0.95),
}
KIND_CATEGORIES = {"dispute": DISPUTE_CATEGORIES, "petition": PETITION_CATEGORIES}
DUE_DAYS = {"dispute": 30, "petition": 60}
#: resolution time (days): lognormal median and sigma, clipped
RESOLVE_DAYS = {"dispute": (9.0, 0.7, 0.1, 90.0), "petition": (22.0, 0.6, 1.0, 150.0)}
CLOSED_SHARE = 0.88  # resolved cases whose follow-up visit is done (→ closed)
SATISFACTION_P = np.array([0.03, 0.05, 0.12, 0.35, 0.45])  # scores 1…5
SNAPSHOT = np.datetime64("2025-01-01T00:00:00")
COORD_SHARE = 1 / 3
COORD_CRS = (("wgs84", 0.45), ("gcj02", 0.35), ("bd09", 0.20))
COORD_ERROR_SHARE = 0.03
GPS_SIGMA_M = 6.0


@dataclass
class CaseResult:
    cases: gpd.GeoDataFrame
    case_truth: pd.DataFrame
    expected: dict[str, dict[str, np.ndarray]]  # hotspot id → {"excess": (months,), "background": (months,)}
    zones: list[selfexcite.DriftZone] = field(default_factory=list)


def _iso(ts: np.ndarray) -> np.ndarray:
    """datetime64 (NaT allowed) → ISO text ``YYYY-MM-DDTHH:MM:SS`` (None for NaT)."""
    text = np.datetime_as_string(ts.astype("datetime64[s]"), unit="s").astype(object)
    text[np.isnat(ts)] = None
    return text


def _sample_events(
    points: pd.DataFrame,
    hotspots: list[Hotspot],
    seed: int,
    scale: float,
    zones: list[selfexcite.DriftZone] | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """Kind, category, report day, address, hotspot and parent of every case (one row each).

    Per kind, year and category a share ``eta`` (:mod:`gridmap.synth.selfexcite`) of the
    cases is triggered by an earlier case (repeats and near-repeats); the others
    ("immigrants") are drawn jointly over (day, component): the background by households,
    each planted hotspot by its multiplier and each drifting zone by its moving bump.
    """
    hh = points["households"].to_numpy(dtype=float)
    urban = points["urban"].to_numpy() == 1
    xy = points[["x", "y"]].to_numpy(dtype=float)
    tree = cKDTree(xy)
    zones = zones or []
    month = seasonality.month_number(seasonality.DAYS)
    year = seasonality.year_of(seasonality.DAYS)
    n_months = int(month[-1]) + 1
    cum_hh = {u: np.cumsum(np.where(urban == u, hh, 0.0)) for u in (True, False)}
    expected = {
        h.hotspot_id: {"excess": np.zeros(n_months), "background": np.zeros(n_months)} for h in hotspots
    }
    component_label = np.asarray(
        [""] + [h.hotspot_id for h in hotspots] + [z.zone_id for z in zones], dtype=object
    )
    # per zone and month: the addresses under the bump, their bump factor, and the bump's
    # households split urban/rural (a category's weight is f_u × urban + f_r × rural)
    zone_cells: list[list[tuple[np.ndarray, np.ndarray]]] = []
    zone_mass = np.zeros((len(zones), n_months, 2))
    for zi, z in enumerate(zones):
        cells = []
        for m in range(n_months):
            idx = np.asarray(tree.query_ball_point(z.centre(m), 4.0 * z.sigma_m), dtype=np.int64)
            idx.sort()
            b = z.bump(xy[idx], m) if len(idx) else np.empty(0)
            cells.append((idx, b))
            zone_mass[zi, m, 0] = (hh[idx] * b)[urban[idx]].sum()
            zone_mass[zi, m, 1] = (hh[idx] * b)[~urban[idx]].sum()
        zone_cells.append(cells)
    frames = []
    offset = 0
    for kind in ("dispute", "petition"):
        cats = KIND_CATEGORIES[kind]
        share = np.array([CATEGORY_SHARE[c] for c in cats])
        rng = stream(seed, "cases", 0 if kind == "dispute" else 1)
        trig = selfexcite.triggering(kind)
        trng = stream(seed, "selfexcite", 0 if kind == "dispute" else 1)
        for yr in seasonality.YEARS:
            n_year = int(round(YEAR_TOTALS[kind][yr] * scale))
            per_cat = rng.multinomial(n_year, share / share.sum())
            in_year = np.flatnonzero(year == yr)
            for c, n_all in zip(cats, per_cat, strict=True):
                n_offspring = int(round(n_all * trig.eta))
                n = n_all - n_offspring
                f_u, f_r = URBAN_RURAL_FACTOR.get(c, (1.0, 1.0))
                addr_w = hh * np.where(urban, f_u, f_r)
                background = addr_w.sum()
                day_w = seasonality.daily_weights(c)[in_year]
                m = month[in_year]
                # joint weights over (day, component): component 0 is the background
                comp = [day_w * background]
                for h in hotspots:
                    active = c in h.categories and kind in h.kinds
                    excess = (
                        addr_w[h.address_index].sum() * np.maximum(h.multiplier[m] - 1.0, 0.0)
                        if active
                        else 0.0
                    )
                    comp.append(day_w * excess)
                for zi, z in enumerate(zones):
                    active = kind in z.kinds
                    mass = zone_mass[zi, :, 0] * f_u + zone_mass[zi, :, 1] * f_r
                    comp.append(day_w * mass[m] if active else 0.0 * day_w)
                joint = np.column_stack(comp)
                prob = joint / joint.sum()
                # expected counts of the hotspot's own kinds/categories inside its disc
                # (triggered cases repeat the immigrants' spatial mix, so n_all counts)
                for j, h in enumerate(hotspots, start=1):
                    if c not in h.categories or kind not in h.kinds:
                        continue
                    expected[h.hotspot_id]["excess"] += n_all * np.bincount(
                        m, weights=prob[:, j], minlength=n_months
                    )
                    inside = addr_w[h.address_index].sum() / background
                    expected[h.hotspot_id]["background"] += (
                        n_all * inside * np.bincount(m, weights=prob[:, 0], minlength=n_months)
                    )
                if n_all == 0:
                    continue
                flat = rng.choice(prob.size, n, p=prob.ravel())
                day_i, comp_i = np.divmod(flat, joint.shape[1])
                address = np.empty(n, dtype=np.int64)
                bg = comp_i == 0
                # background: urban or rural first, then an address by households
                p_urban = f_u * cum_hh[True][-1] / (f_u * cum_hh[True][-1] + f_r * cum_hh[False][-1])
                is_u = rng.random(bg.sum()) < p_urban
                u = rng.random(bg.sum())
                address[np.flatnonzero(bg)[is_u]] = np.searchsorted(
                    cum_hh[True], u[is_u] * cum_hh[True][-1], side="right"
                )
                address[np.flatnonzero(bg)[~is_u]] = np.searchsorted(
                    cum_hh[False], u[~is_u] * cum_hh[False][-1], side="right"
                )
                for j, h in enumerate(hotspots, start=1):
                    sel = comp_i == j
                    if sel.any():
                        w = addr_w[h.address_index]
                        address[sel] = h.address_index[rng.choice(len(w), sel.sum(), p=w / w.sum())]
                for zi in range(len(zones)):
                    sel = np.flatnonzero(comp_i == len(hotspots) + 1 + zi)
                    for mm in np.unique(m[day_i[sel]]):
                        here = sel[m[day_i[sel]] == mm]
                        idx, b = zone_cells[zi][mm]
                        w = addr_w[idx] * b
                        address[here] = idx[trng.choice(len(idx), len(here), p=w / w.sum())]
                days, address, labels, parent, trigger = selfexcite.add_offspring(
                    day_i, address, component_label[comp_i], n_offspring, len(in_year), trig, xy, tree, trng
                )
                frames.append(
                    pd.DataFrame(
                        {
                            "kind": kind,
                            "category": c,
                            "day": seasonality.DAYS[in_year][days],
                            "address": address,
                            "hotspot": labels,
                            "year": yr,
                            "parent": np.where(parent >= 0, parent + offset, -1),
                            "trigger": trigger,
                        }
                    )
                )
                offset += len(days)
    events = pd.concat(frames, ignore_index=True)
    return events, expected


def _life_cycle(events: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Timestamps and status of every case as of :data:`SNAPSHOT`."""
    n = len(events)
    reported = seasonality.sample_times(events["day"].to_numpy(), rng)
    day = np.timedelta64(1, "D")
    accept_h = np.clip(rng.lognormal(np.log(3.0), 1.1, n), 5 / 60, 7 * 24)
    accepted = reported + (accept_h * 3600).astype("timedelta64[s]")
    kind = events["kind"].to_numpy()
    resolve_d = np.empty(n)
    due = np.empty(n, dtype="datetime64[s]")
    resolved_ok = np.ones(n, dtype=bool)
    for k in ("dispute", "petition"):
        sel = kind == k
        med, sigma, lo, hi = RESOLVE_DAYS[k]
        resolve_d[sel] = np.clip(rng.lognormal(np.log(med), sigma, sel.sum()), lo, hi)
        due[sel] = reported[sel] + DUE_DAYS[k] * day
        for yr in seasonality.YEARS:
            idx = np.flatnonzero(sel & (events["year"].to_numpy() == yr))
            n_bad = len(idx) - int(round(len(idx) * RESOLVED_SHARE[k][yr]))
            resolved_ok[rng.choice(idx, n_bad, replace=False)] = False
    resolved = accepted + (resolve_d * 86400).astype("timedelta64[s]")
    follow_up = rng.random(n) < CLOSED_SHARE
    closed = resolved + (rng.uniform(1, 14, n) * 86400).astype("timedelta64[s]")

    nat = np.datetime64("NaT", "s")
    status = np.full(n, "in_progress", dtype=object)
    is_accepted = accepted <= SNAPSHOT
    is_resolved = resolved_ok & (resolved <= SNAPSHOT)
    is_closed = is_resolved & follow_up & (closed <= SNAPSHOT)
    is_unresolved = ~resolved_ok & (due <= SNAPSHOT)
    working = is_accepted & ~is_resolved & ~is_unresolved
    status[working & (SNAPSHOT - accepted < day)] = "accepted"
    status[~is_accepted] = "reported"
    status[is_unresolved] = "unresolved"
    status[is_resolved] = "resolved"
    status[is_closed] = "closed"
    satisfaction = np.where(is_closed, rng.choice(5, n, p=SATISFACTION_P) + 1, -1)
    return {
        "reported_at": reported,
        "accepted_at": np.where(is_accepted, accepted, nat),
        "resolved_at": np.where(is_resolved, resolved, nat),
        "closed_at": np.where(is_closed, closed, nat),
        "due_at": due,
        "status": status,
        "followup_done": np.where(is_closed, 1, np.where(is_resolved, 0, -1)),
        "satisfaction": satisfaction,
    }


def plant_petition_persons(persons: np.ndarray, kind: np.ndarray, year: np.ndarray) -> np.ndarray:
    """Petitioners per case rescaled so a year's total is :data:`PETITION_PERSONS_YOY` × the year before's.

    The drawn counts are multiplied by one factor per year and rounded by largest remainder
    (deterministic, no random draw), each petition keeping at least one person.
    """
    persons = persons.astype(np.int64).copy()
    for yr, ratio in sorted(PETITION_PERSONS_YOY.items()):
        before = (kind == "petition") & (year == yr - 1)
        now = np.flatnonzero((kind == "petition") & (year == yr))
        if not before.any() or not len(now):
            continue
        target = int(round(ratio * persons[before].sum()))
        exact = persons[now] * (target / persons[now].sum())
        scaled = np.maximum(np.floor(exact).astype(np.int64), 1)
        short = target - int(scaled.sum())
        if short > 0:  # the largest fractional parts get one more (stable order breaks ties)
            scaled[np.argsort(-(exact - np.floor(exact)), kind="stable")[:short]] += 1
        elif short < 0:  # floors clipped up to 1 overshoot: take back from the biggest
            scaled[np.argsort(-scaled, kind="stable")[:-short]] -= 1
        persons[now] = scaled
    return persons


def build_cases(
    points: pd.DataFrame, text_parts: pd.DataFrame, hotspots: list[Hotspot], seed: int, scale: float
) -> CaseResult:
    """Cases and their truth for the synthetic city.

    ``points``: address points (LOCAL_CRS x/y, lon/lat, households, urban, codes);
    ``text_parts``: per address the pieces of its typed text (see
    :func:`gridmap.synth.text_variants.address_texts`), aligned with ``points``.
    """
    xy = points[["x", "y"]].to_numpy(dtype=float)
    hotspot_xy = np.array([[h.centre_x, h.centre_y] for h in hotspots]).reshape(-1, 2)
    zones = selfexcite.plant_drift_zones(
        xy,
        points["households"].to_numpy(dtype=float),
        points["urban"].to_numpy() == 1,
        hotspot_xy,
        stream(seed, "drift"),
        scale,
    )
    for z in zones:
        cx, cy = np.array([z.centre(m) for m in range(selfexcite.n_months())]).T
        lon, lat = to_wgs84(cx, cy)
        z.centre_lon, z.centre_lat = np.round(lon, 6).tolist(), np.round(lat, 6).tolist()
    events, expected = _sample_events(points, hotspots, seed, scale, zones)
    life = _life_cycle(events, stream(seed, "cases", 2))
    # deterministic order: by report time, then generation order
    order = np.argsort(life["reported_at"], kind="stable")
    events = events.iloc[order].reset_index(drop=True)
    life = {k: v[order] for k, v in life.items()}
    n = len(events)
    kind = events["kind"].to_numpy()
    addr = events["address"].to_numpy()

    year = events["year"].to_numpy()
    # generation order → report order, for the parent of each triggered case
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    parent_gen = events["parent"].to_numpy()
    seq_in_year = events.groupby(["year"]).cumcount().to_numpy() + 1
    case_id = (
        pd.Series(year)
        .astype(str)
        .radd("SC")
        .str.cat(pd.Series(seq_in_year).astype(str).str.zfill(6))
        .to_numpy()
    )
    seq_kind = events.groupby(["kind", "year"]).cumcount().to_numpy() + 1
    prefix = np.where(kind == "dispute", "MDJF-", "XF-")
    external_id = pd.Series(
        prefix + pd.Series(year).astype(str) + "-" + pd.Series(seq_kind).astype(str).str.zfill(6)
    ).to_numpy()

    prng = stream(seed, "people")
    persons = np.where(
        kind == "dispute",
        prng.choice([2, 3, 4, 5, 6], n, p=[0.7, 0.15, 0.08, 0.04, 0.03]),
        np.where(
            prng.random(n) < 0.08,
            prng.integers(5, 31, n),
            prng.choice([1, 2, 3, 4], n, p=[0.85, 0.08, 0.05, 0.02]),
        ),
    )
    persons = plant_petition_persons(persons, kind, year)
    county = points["county_code"].to_numpy()[addr]
    region = np.where(
        prng.random(n) < 0.7, county, np.asarray(people.TONGLIAO_COUNTY_CODES)[prng.integers(0, 8, n)]
    )
    party_name = people.person_names(prng, n)
    party_phone = people.phone_numbers(prng, n)
    party_id = people.id_numbers(prng, n, region)

    texts, variants = address_texts(text_parts.iloc[addr].reset_index(drop=True), stream(seed, "text"))

    crng = stream(seed, "coords")
    has_xy = np.zeros(n, dtype=bool)
    has_xy[crng.choice(n, int(round(n * COORD_SHARE)), replace=False)] = True
    idx = np.flatnonzero(has_xy)
    names = np.asarray([c for c, _ in COORD_CRS], dtype=object)
    crs = names[crng.choice(len(names), len(idx), p=[p for _, p in COORD_CRS])]
    lon, lat = coords.gps_reading(
        points["x"].to_numpy()[addr[idx]], points["y"].to_numpy()[addr[idx]], GPS_SIGMA_M, crng
    )
    lon, lat = coords.from_wgs84(lon, lat, crs)
    lon, lat, error = coords.plant_errors(lon, lat, COORD_ERROR_SHARE, crng)
    raw_lon = np.full(n, np.nan)
    raw_lat = np.full(n, np.nan)
    raw_crs = np.full(n, None, dtype=object)
    coord_error = np.full(n, "", dtype=object)
    raw_lon[idx], raw_lat[idx], raw_crs[idx], coord_error[idx] = (
        np.round(lon, 7),
        np.round(lat, 7),
        crs,
        error,
    )

    columns = list(get_table("cases").columns)
    empty_text = np.full(n, None, dtype=object)
    empty_real = np.full(n, np.nan)
    data = {
        "case_id": case_id,
        "external_id": external_id,
        "kind": kind,
        "category": events["category"].to_numpy(),
        "status": life["status"],
        "reported_at": _iso(life["reported_at"]),
        "accepted_at": _iso(life["accepted_at"]),
        "resolved_at": _iso(life["resolved_at"]),
        "closed_at": _iso(life["closed_at"]),
        "due_at": _iso(life["due_at"]),
        "address_text": texts,
        "raw_lon": raw_lon,
        "raw_lat": raw_lat,
        "raw_crs": raw_crs,
        "lon": empty_real,
        "lat": empty_real,
        "precision": empty_text,
        "score": empty_real,
        "geocode_status": empty_text,
        "reason": empty_text,
        "grid_code": empty_text,
        "village_code": empty_text,
        "township_code": empty_text,
        "county_code": empty_text,
        "persons": persons.astype(np.int64),
        "party_name": party_name,
        "party_phone": party_phone,
        "party_id_number": party_id,
        "followup_done": pd.array(
            np.where(life["followup_done"] >= 0, life["followup_done"], 0), dtype="Int64"
        ),
        "satisfaction": pd.array(np.where(life["satisfaction"] > 0, life["satisfaction"], 0), dtype="Int64"),
        "source": SOURCE,
    }
    data["followup_done"][life["followup_done"] < 0] = pd.NA
    data["satisfaction"][life["satisfaction"] <= 0] = pd.NA
    cases = gpd.GeoDataFrame(
        {c: data[c] for c in columns}, geometry=gpd.GeoSeries([None] * n, crs=WGS84).values, crs=WGS84
    )

    truth = pd.DataFrame(
        {
            "case_id": case_id,
            "address_id": points["address_id"].to_numpy()[addr],
            "lon": np.round(points["lon"].to_numpy()[addr], 7),
            "lat": np.round(points["lat"].to_numpy()[addr], 7),
            "village_code": points["village_code"].to_numpy()[addr],
            "township_code": points["township_code"].to_numpy()[addr],
            "county_code": county,
            "hotspot_id": events["hotspot"].to_numpy(),
            "trigger": events["trigger"].to_numpy(),
            "parent_case_id": np.where(parent_gen >= 0, case_id[position[np.maximum(parent_gen, 0)]], ""),
            "coord_error": coord_error,
            "text_variants": variants,
        }
    )
    return CaseResult(cases, truth, expected, zones)
