"""The seeded synthetic city: :func:`synthesize` runs every component in order."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.domain import post_counties
from gridmap.errors import InputError
from gridmap.store.schema import get_table
from gridmap.synth import seasonality, selfexcite
from gridmap.synth.addresses import build_addresses
from gridmap.synth.admin import build_admin
from gridmap.synth.agents import build_agents
from gridmap.synth.cases import SNAPSHOT, build_cases
from gridmap.synth.hotspots import FIRST_MONTH, N_MONTHS, plant_hotspots
from gridmap.synth.workers import build_workers

MAX_SCALE = 5.0


@dataclass
class SynthCity:
    """A synthetic Tongliao below county level, deterministic per ``seed``.

    Frames use exactly the store's column layouts (``gridmap.store.schema``):
    ``admin_units``, ``addresses``, ``cases``, ``patrols`` are GeoDataFrames in
    EPSG:4326 (case geometry empty until geocoded), ``workers`` a DataFrame.
    ``case_truth`` gives each case's true address, point (lon/lat, WGS-84), village,
    hotspot and planted coordinate error; ``truth`` the planted hotspots and
    coverage problems (the content of ``truth.json``).
    """

    seed: int
    scale: float
    admin_units: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame
    cases: gpd.GeoDataFrame
    workers: pd.DataFrame
    patrols: gpd.GeoDataFrame
    case_truth: pd.DataFrame
    truth: dict = field(default_factory=dict)
    #: petition items taken on by agents (信访代办) and their follow-up visits (回访)
    petition_items: pd.DataFrame = field(default_factory=pd.DataFrame)
    petition_visits: pd.DataFrame = field(default_factory=pd.DataFrame)


def _check_args(seed: int, scale: float) -> tuple[int, float]:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise InputError(f"scale must be a number, got {scale!r}") from None
    if not (0.0 < scale <= MAX_SCALE):
        raise InputError(
            f"scale must be > 0 and at most {MAX_SCALE} (1.0 ≈ 1,000,000 households), got {scale}"
        )
    return int(seed), scale


#: Tongliao's village count: another area's synthetic volumes are Tongliao's times its share of this
TONGLIAO_VILLAGES = 2568


def area_size(area: str | None) -> float:
    """How many Tongliaos ``area`` is, by village count (None or 150500 → 1.0).  A stated choice:
    no population below the city is shipped, and volumes per village are Tongliao's."""
    if area is None or str(area) == "150500":
        return 1.0
    from gridmap import boundaries

    return len(boundaries.area_villages(str(area))) / TONGLIAO_VILLAGES


def synthesize(
    seed: int = 7,
    scale: float = 1.0,
    progress: Callable[[str], None] | None = None,
    area: str | None = None,
) -> SynthCity:
    """Build the synthetic city for ``seed`` at ``scale`` (1.0 ≈ 1,000,000 households,
    ~29,000 cases, ~3,600 workers; the admin polygons do not depend on ``scale``).

    ``area``: None (Tongliao, as curated) or a shipped 内蒙古 city or county code; its households,
    cases and workers are Tongliao's at ``scale`` times :func:`area_size` (its villages / Tongliao's).
    ``progress`` receives one line per step (no personal data).
    """
    seed, scale = _check_args(seed, scale)
    if area is not None and str(area) != "150500":
        scale = scale * area_size(area)
    else:
        area = None
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if progress is not None:
            progress(f"[{time.perf_counter() - t0:6.1f}s] {msg}")

    admin = build_admin(seed, progress=say, area=area)
    addr = build_addresses(admin, seed, scale)
    points = addr.points
    say(f"addresses: {len(points):,} addresses, {int(points['households'].sum()):,} households")

    towns = admin.towns.set_index("town_id")
    village_town = admin.villages["town_id"].map(towns["kind"]).to_numpy()
    town_kind = np.where(
        points["urban"].to_numpy() == 1, village_town[points["village_index"].to_numpy()], ""
    )
    hotspots = plant_hotspots(points, town_kind, admin.villages["seat_village"].to_numpy(), seed, scale)
    say(f"hotspots: {len(hotspots)} planted")

    v = admin.villages
    tw = admin.townships.set_index("code")
    county_names = admin.counties.set_index("code")["name"]
    vi = points["village_index"].to_numpy()
    text_parts = pd.DataFrame(
        {
            "county": county_names.loc[points["county_code"]].to_numpy(),
            "township": tw.loc[points["township_code"], "short_name"].to_numpy(),
            "village": v["short_name"].to_numpy()[vi],
            "village_official": v["name"].to_numpy()[vi],
            "road": points["road"].to_numpy(),
            "number": points["number"].to_numpy(),
            "building_no": points["building_no"].to_numpy(),
            "urban": points["urban"].to_numpy(),
        }
    )
    case_res = build_cases(points, text_parts, hotspots, seed, scale)
    say(f"cases: {len(case_res.cases):,}")

    work = build_workers(v, points, seed)
    say(f"workers: {len(work.workers):,} workers, {len(work.patrols):,} patrol check-ins")

    agents = build_agents(v, points, case_res.cases, case_res.case_truth, seed, scale)
    say(
        f"petition agents: {len(agents.agents):,} agents, {len(agents.patrols):,} patrol check-ins, "
        f"{len(agents.items):,} items, {len(agents.visits):,} follow-up visits"
    )
    # the store's column layout (columns the generator does not fill, e.g. id_number, stay empty)
    workers = (
        pd.concat([work.workers, agents.agents], ignore_index=True)
        .reindex(columns=list(get_table("workers").columns))
        .astype({"id_number": object})
    )
    patrols = pd.concat([work.patrols, agents.patrols], ignore_index=True)
    # the county of each worker's post: the PostGIS partition of a check-in
    patrols.insert(
        patrols.columns.get_loc("geometry"),
        "county_code",
        patrols["worker_id"].astype(str).map(post_counties(workers)).to_numpy(),
    )

    truth = _truth(seed, scale, hotspots, case_res, points, work.truth)
    truth["agents"] = agents.truth
    return SynthCity(
        seed=seed,
        scale=scale,
        admin_units=admin.admin_units,
        addresses=addr.addresses,
        cases=case_res.cases,
        workers=workers,
        patrols=patrols,
        case_truth=case_res.case_truth,
        truth=truth,
        petition_items=agents.items,
        petition_visits=agents.visits,
    )


def _truth(seed, scale, hotspots, case_res, points, coverage) -> dict:
    months = [str(FIRST_MONTH + i) for i in range(N_MONTHS)]
    truth_frame = case_res.case_truth
    cases = case_res.cases
    out = []
    for h in hotspots:
        start, end = h.window()
        exp = case_res.expected[h.hotspot_id]
        covered = points.iloc[h.address_index]
        in_disc = truth_frame["address_id"].isin(set(covered["address_id"]))
        relevant = (
            in_disc & cases["category"].isin(h.categories).to_numpy() & cases["kind"].isin(h.kinds).to_numpy()
        )
        out.append(
            {
                "id": h.hotspot_id,
                "setting": h.setting,
                "centre_lon": round(h.centre_lon, 7),
                "centre_lat": round(h.centre_lat, 7),
                "radius_m": h.radius_m,
                "kinds": list(h.kinds),
                "categories": list(h.categories),
                "trend": h.trend,
                "new": h.new,
                "peak_multiplier": h.peak_multiplier,
                "window_start": start,
                "window_end": end,
                "months": months,
                "multiplier": [round(float(m), 4) for m in h.multiplier],
                "expected_excess": [round(float(x), 3) for x in exp["excess"]],
                "expected_background": [round(float(x), 3) for x in exp["background"]],
                "observed_cases": int(relevant.sum()),
                "households": int(covered["households"].sum()),
                "address_ids": sorted(covered["address_id"].tolist()),
                "village_codes": sorted(set(covered["village_code"].tolist())),
            }
        )
    return {
        "seed": seed,
        "scale": scale,
        "cases_period": [str(seasonality.START), str(seasonality.END - 1)],
        "snapshot": str(SNAPSHOT),
        "hotspots": out,
        "self_excitation": selfexcite.truth_section(case_res.zones),
        "coverage": coverage,
        "notes": (
            "Synthetic data. Hotspot multipliers apply to the listed kinds/categories inside radius_m of "
            "the centre; expected_* are monthly expected case counts of those categories inside the disc."
        ),
    }
