"""The synthetic city's true expected cases per address in a month: the oracle of the forecast skill test.

It recomputes what :func:`gridmap.synth.cases._sample_events` draws from, given the
parameters in ``truth.json`` and the cases of the year so far:

* immigrants: the year's immigrant count of each category (its cases minus the
  triggered share ``eta``) × the month's share of the joint (day, component) weights —
  background ∝ households × urban/rural factor, planted hotspots × (multiplier − 1),
  drifting zones × their bump in that month — exactly as sampled;
* triggered cases: every earlier case of the same kind, category and year has on average
  ``eta`` children (parents are drawn uniformly among earlier-generated cases) whose
  delays are exponential with mean ``tau_days`` truncated at the year end; the expected
  children falling in the month are placed at the parent's address (near-repeats land
  within ~200 m, in the parent's grid or a neighbour).  Children of the month's own cases
  are added to first order (η × the share of a truncated delay that stays in the month).

This is the truth of the generator up to those two approximations (uniform parent choice
gives early cases slightly more children than late ones; near-repeats are put at the
parent's address).  Inputs: ``points`` with LOCAL_CRS ``x``/``y`` (metres),
``households`` and ``urban``; ``cases`` with ``kind``, ``category``, ``day``
(datetime64[D]) and ``address`` (row position in ``points``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.crs import to_local
from gridmap.synth import seasonality
from gridmap.synth.cases import CATEGORY_SHARE, KIND_CATEGORIES, URBAN_RURAL_FACTOR


def city_frames(city) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``points`` and ``cases`` frames :func:`expected_by_address` takes, from a synthesised city.

    ``points``: one row per address (address_id, x and y in :data:`gridmap.crs.LOCAL_CRS` metres,
    households, urban); ``cases``: kind, category, day (datetime64[D], local date) and the position of
    the case's address in ``points`` (from the generator's ``case_truth``).
    """
    addresses = city.addresses.reset_index(drop=True)
    x, y = to_local(addresses.geometry.x.to_numpy(), addresses.geometry.y.to_numpy())
    points = pd.DataFrame(
        {
            "address_id": addresses["address_id"].to_numpy(),
            "x": x,
            "y": y,
            "households": addresses["households"].to_numpy(),
            "urban": addresses["urban"].to_numpy(),
        }
    )
    position = pd.Series(np.arange(len(points)), index=points["address_id"])
    truth = city.case_truth.set_index("case_id")
    cases = pd.DataFrame(
        {
            "kind": city.cases["kind"].to_numpy(),
            "category": city.cases["category"].to_numpy(),
            "day": pd.to_datetime(city.cases["reported_at"].str[:10]).to_numpy().astype("datetime64[D]"),
            "address": position.reindex(truth.loc[city.cases["case_id"], "address_id"]).to_numpy(),
        }
    )
    return points, cases


def expected_by_address(
    points: pd.DataFrame, truth: dict, cases: pd.DataFrame, kind: str, month: np.datetime64
) -> np.ndarray:
    """Expected cases of ``kind`` at each address in ``month`` given the cases before it.

    ``cases`` are all the city's cases: the yearly count per category is an input of the
    generator (fixed totals), and only the cases before ``month`` trigger children.  For
    many months of one city use :class:`AddressIntensity` (the same numbers, the per-address
    pieces of each year computed once).
    """
    return AddressIntensity(points, truth, cases, kind)(month)


class AddressIntensity:
    """:func:`expected_by_address` of one city and kind for any month: ``intensity(month)``.

    What does not depend on the month — the address index of the hotspots, the drift zones'
    bumps, each category's address weights and yearly normaliser — is computed once per year
    and reused, with the same arithmetic, so every month's numbers equal the function's.
    """

    def __init__(self, points: pd.DataFrame, truth: dict, cases: pd.DataFrame, kind: str) -> None:
        self.kind = kind
        self.n = len(points)
        self.hh = points["households"].to_numpy(dtype=float)
        self.urban = points["urban"].to_numpy() == 1
        self.xy = points[["x", "y"]].to_numpy(dtype=float)
        trig = truth["self_excitation"]["triggering"][kind]
        self.eta, self.tau = float(trig["eta"]), float(trig["tau_days"])
        index_of = (
            {a: i for i, a in enumerate(points["address_id"].tolist())} if "address_id" in points else None
        )
        self.hotspots = [h for h in truth["hotspots"] if kind in h["kinds"]]
        self.members = (
            {
                h["id"]: np.array([index_of[a] for a in h["address_ids"] if a in index_of], dtype=np.int64)
                for h in self.hotspots
            }
            if index_of is not None
            else {}
        )
        self.zones = [z for z in truth["self_excitation"]["drift_zones"] if kind in z["kinds"]]
        self.zone_bump = {}
        for z in self.zones:
            cx, cy = to_local(np.asarray(z["centre_lon"]), np.asarray(z["centre_lat"]))
            self.zone_bump[z["zone_id"]] = (cx, cy, float(z["sigma_m"]), float(z["amplitude"]))
        self.case_day = np.asarray(cases["day"].to_numpy()).astype("datetime64[D]")
        self.case_kind = cases["kind"].to_numpy()
        self.case_category = cases["category"].to_numpy()
        self.case_address = np.asarray(cases["address"].to_numpy())
        self._years: dict[int, dict] = {}

    def _bump(self, zid: str, m: int) -> np.ndarray:
        cx, cy, sigma, amp = self.zone_bump[zid]
        xy = self.xy
        return amp * np.exp(-0.5 * ((xy[:, 0] - cx[m]) ** 2 + (xy[:, 1] - cy[m]) ** 2) / sigma**2)

    def _year(self, year: int) -> dict:
        """The month-independent pieces of ``year`` (computed on first use)."""
        if year in self._years:
            return self._years[year]
        kind, eta = self.kind, self.eta
        in_year = np.flatnonzero(seasonality.year_of(seasonality.DAYS) == year)
        m_all = seasonality.month_number(seasonality.DAYS[in_year])
        months_in_year = np.unique(m_all)
        bumps = {
            z["zone_id"]: {int(m): self._bump(z["zone_id"], int(m)) for m in months_in_year}
            for z in self.zones
        }
        of_year_mask = (self.case_kind == kind) & (
            self.case_day.astype("datetime64[Y]").astype(int) + 1970 == year
        )
        year_day = self.case_day[of_year_mask]
        year_category = self.case_category[of_year_mask]
        year_address = self.case_address[of_year_mask]
        categories = []
        for c in KIND_CATEGORIES[kind]:
            if c not in CATEGORY_SHARE:
                continue
            mine = year_category == c
            n_all = int(mine.sum())
            if n_all == 0:
                continue
            n_imm = n_all - int(round(n_all * eta))
            f_u, f_r = URBAN_RURAL_FACTOR.get(c, (1.0, 1.0))
            addr_w = self.hh * np.where(self.urban, f_u, f_r)
            day_w = seasonality.daily_weights(c)[in_year]
            # joint total over the year: background + hotspots + zones
            total = day_w.sum() * addr_w.sum()
            for h in self.hotspots:
                if c not in h["categories"]:
                    continue
                idx = self.members[h["id"]]
                mult = np.asarray(h["multiplier"], float)
                ex = np.maximum(mult[m_all] - 1.0, 0.0)
                total += (day_w * ex).sum() * addr_w[idx].sum()
            for z in self.zones:
                per_month = {m: (addr_w * b).sum() for m, b in bumps[z["zone_id"]].items()}
                total += sum(day_w[m_all == m].sum() * per_month[m] for m in per_month)
            categories.append((c, mine, n_imm, addr_w, day_w, total))
        self._years[year] = {
            "m_all": m_all,
            "bumps": bumps,
            "year_day": year_day,
            "year_address": year_address,
            "categories": categories,
        }
        return self._years[year]

    def __call__(self, month: np.datetime64) -> np.ndarray:
        """Expected cases at each address in ``month`` given the cases before it."""
        month = np.datetime64(month, "M")
        year = int(str(month)[:4])
        eta, tau = self.eta, self.tau
        pieces = self._year(year)
        m_all, bumps = pieces["m_all"], pieces["bumps"]
        year_day, year_address = pieces["year_day"], pieces["year_address"]
        target_m = int(seasonality.month_number(np.array([month.astype("datetime64[D]")]))[0])
        in_target = m_all == target_m
        out = np.zeros(self.n)
        month_start = month.astype("datetime64[D]")
        month_end = (month + 1).astype("datetime64[D]")
        year_end = np.datetime64(f"{year + 1}-01-01")
        for c, mine, n_imm, addr_w, day_w, total in pieces["categories"]:
            excess_target = np.zeros(self.n)
            for h in self.hotspots:
                if c not in h["categories"]:
                    continue
                mult = np.asarray(h["multiplier"], float)
                excess_target[self.members[h["id"]]] += max(mult[target_m] - 1.0, 0.0)
            zone_target = np.zeros(self.n)
            for z in self.zones:
                zone_target += bumps[z["zone_id"]][target_m]
            immigrants = n_imm / total * day_w[in_target].sum() * addr_w * (1.0 + excess_target + zone_target)
            # children of earlier cases of the year, and (first order) of the month's own immigrants
            before = mine & (year_day < month_start)
            d = year_day[before]
            remaining = (year_end - d).astype(float)
            lo = (month_start - d).astype(float)
            hi = (month_end - d).astype(float)
            share = (np.exp(-lo / tau) - np.exp(-hi / tau)) / -np.expm1(-remaining / tau)
            children = np.bincount(
                year_address[before].astype(np.int64), weights=eta * share, minlength=self.n
            )
            length = float((month_end - month_start).astype(int))
            inside = 1.0 - tau / length * -np.expm1(-length / tau)
            out += immigrants * (1.0 + eta * inside) + children
        return out
