"""Standard addresses (标准地址): buildings in towns, courtyards in villages.

At scale 1 about 1,000,000 households live at about 400,000 addresses:

* urban communities (社区/居委会): residential buildings of 12–96 households on a
  synthetic street grid around their town centre; an address is one building,
  ``{road}{n}号{k}栋`` (建国路18号3栋), buildings of one compound share road and number;
* rural villages (村/嘎查): courtyards of 1–3 households in rows along village lanes,
  grouped into 组 (hamlets), ``{g}组{n}号``.

Households per county follow the 2020 census populations (rounded) at ~2.8 persons per
household.  Every address lies inside its village polygon.  Coordinates are computed in
LOCAL_CRS; the output frame is EPSG:4326 with the store's ``addresses`` columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84, to_wgs84
from gridmap.synth import names
from gridmap.synth.admin import SOURCE, AdminResult
from gridmap.synth.geometry import sample_points_in_many
from gridmap.synth.streams import stream

#: households at scale 1
TOTAL_HOUSEHOLDS = 1_000_000
#: 2020 census residents by county (rounded); sets each county's share of households
COUNTY_POPULATION = {
    "150502": 921_800,
    "150521": 388_000,
    "150522": 313_000,
    "150523": 327_000,
    "150524": 148_000,
    "150525": 376_000,
    "150526": 262_000,
    "150581": 137_000,
}
#: share of each county's households living in communities (urban)
URBAN_SHARE = {"150502": 0.72, "150581": 0.9}
URBAN_SHARE_DEFAULT = 0.38
#: outside Tongliao: a city district's (区) urban share (科尔沁区's)
DISTRICT_URBAN_SHARE = URBAN_SHARE["150502"]
PERSONS_PER_HOUSEHOLD = 2.8

#: households per residential building (floors × units), and their frequencies
BUILDING_SIZES = np.array([12, 18, 24, 30, 36, 42, 48, 54, 60, 66, 72, 84, 96])
BUILDING_SIZE_P = np.array([8, 10, 12, 12, 12, 8, 8, 6, 6, 5, 5, 4, 4], dtype=float)
#: households per rural courtyard
COURTYARD_SIZES = np.array([1, 2, 3])
COURTYARD_SIZE_P = np.array([0.75, 0.2, 0.05])

#: street grid: block size (m) by town kind, house-number step along a street (m)
BLOCK_SPACING = {"city": 320.0, "county_seat": 260.0, "township_seat": 200.0}
NUMBER_STEP = 24.0
#: urban communities larger than this (m²) build only near their town-side point
URBAN_SETTLEMENT_MAX = 2.5e6

#: village lanes: house spacing along a lane and lane spacing (m)
HOUSE_SPACING = 22.0
LANE_SPACING = 65.0
#: a township-seat village is this many times bigger than an ordinary one, and compact
SEAT_VILLAGE_WEIGHT = 4.0
SEAT_SETTLEMENT_RADIUS = 1000.0
HOUSES_PER_GROUP = 110
MAX_GROUPS = 6
#: rural hamlets lie within this distance (m) of the village's central point
RURAL_SETTLEMENT_RADIUS = 1800.0


@dataclass
class AddressResult:
    """``addresses`` (EPSG:4326, schema columns) and ``points``: the same rows with
    LOCAL_CRS ``x``/``y`` metres and ``village_index`` for the later components."""

    addresses: gpd.GeoDataFrame
    points: pd.DataFrame


def _village_households(admin: AdminResult, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Households per village (aligned with ``admin.villages``), at least 1 each."""
    v = admin.villages
    towns = admin.towns.set_index("town_id")
    kind = v["town_id"].map(towns["kind"]).to_numpy()
    hh = np.zeros(len(v), dtype=np.int64)
    population = COUNTY_POPULATION
    if not set(v["county_code"]) <= set(COUNTY_POPULATION):
        # outside Tongliao no population is shipped: a county's share follows its village count
        population = v["county_code"].value_counts().to_dict()
    districts = set(admin.counties.loc[admin.counties["name"].str.endswith("区"), "code"])
    total_pop = sum(population.values())
    for county, pop in sorted(population.items()):
        in_county = (v["county_code"] == county).to_numpy()
        county_hh = TOTAL_HOUSEHOLDS * scale * pop / total_pop
        default_share = DISTRICT_URBAN_SHARE if county in districts else URBAN_SHARE_DEFAULT
        urban_share = URBAN_SHARE.get(county, default_share)
        for is_urban, share in ((True, urban_share), (False, 1.0 - urban_share)):
            sel = np.flatnonzero(in_county & (v["urban"].to_numpy() == is_urban))
            if not len(sel):
                continue
            if is_urban:
                # town-centre communities are big; a rural township's communities small
                w = np.where(kind[sel] == "township_seat", 0.25, 1.0) * rng.lognormal(0, 0.35, len(sel))
            else:
                # peri-urban villages and the village at each township seat (镇区) are big
                peri = admin.townships.set_index("code").loc[v["township_code"].to_numpy()[sel], "is_street"]
                seat = v["seat_village"].to_numpy()[sel]
                w = np.where(peri.to_numpy(), 1.5, np.where(seat, SEAT_VILLAGE_WEIGHT, 1.0))
                w = w * rng.lognormal(0, 0.45, len(sel))
            hh[sel] = rng.multinomial(int(round(county_hh * share)), w / w.sum())
    return np.maximum(hh, 1)


def _settlement_areas(admin: AdminResult) -> np.ndarray:
    """Where each village builds.

    Rural hamlets (屯) cluster within :data:`RURAL_SETTLEMENT_RADIUS` of the village's
    central point (the rest is farmland and grassland); urban communities that are huge
    (company 居委会 in rural townships) only build within ~900 m of their point nearest
    the town centre.
    """
    v = admin.villages
    geoms = v.geometry.values.copy()
    rural = ~v["urban"].to_numpy()
    core = shapely.intersection(
        geoms[rural], shapely.buffer(shapely.point_on_surface(geoms[rural]), RURAL_SETTLEMENT_RADIUS)
    )
    usable = shapely.area(core) > 0.25 * np.pi * RURAL_SETTLEMENT_RADIUS**2
    geoms[np.flatnonzero(rural)[usable]] = _largest_part(core[usable])
    # a seat village builds compactly on the side of its township seat
    seat = np.flatnonzero(v["seat_village"].to_numpy())
    tw = admin.townships.set_index("code").loc[v["township_code"].to_numpy()[seat]]
    seat_pt = shapely.points(tw["seat_x"].to_numpy(), tw["seat_y"].to_numpy())
    poly = v.geometry.values[seat]
    near = shapely.intersection(
        poly, shapely.buffer(seat_pt, shapely.distance(poly, seat_pt) + SEAT_SETTLEMENT_RADIUS)
    )
    anchor = shapely.point_on_surface(near)
    compact = shapely.intersection(poly, shapely.buffer(anchor, SEAT_SETTLEMENT_RADIUS))
    usable = shapely.area(compact) > 0.25 * np.pi * SEAT_SETTLEMENT_RADIUS**2
    geoms[seat[usable]] = _largest_part(compact[usable])
    big = v["urban"].to_numpy() & (shapely.area(geoms) > URBAN_SETTLEMENT_MAX)
    if big.any():
        towns = admin.towns.set_index("town_id")
        tx = v.loc[big, "town_id"].map(towns["x"]).to_numpy()
        ty = v.loc[big, "town_id"].map(towns["y"]).to_numpy()
        anchor = shapely.points(tx, ty)
        near = shapely.shortest_line(geoms[big], anchor)
        start = shapely.get_point(near, 0)
        # step a little inside so the disc is not cut to a sliver by the boundary
        disc = shapely.buffer(
            shapely.point_on_surface(shapely.intersection(geoms[big], shapely.buffer(start, 900.0))), 900.0
        )
        clipped = shapely.intersection(geoms[big], disc)
        ok = shapely.area(clipped) > 1e4
        geoms[np.flatnonzero(big)[ok]] = clipped[ok]
    return geoms


def _largest_part(geoms: np.ndarray) -> np.ndarray:
    """The largest polygon of each (multi)polygon."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    if not len(parts):  # an area without such units (a small county)
        return parts
    area = shapely.area(parts)
    order = np.lexsort((-area, owner))
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
    return parts[first]


def _urban_addresses(
    admin: AdminResult, hh: np.ndarray, settle: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    v = admin.villages
    urban = np.flatnonzero(v["urban"].to_numpy())
    p = BUILDING_SIZE_P / BUILDING_SIZE_P.sum()
    mean_size = float(BUILDING_SIZES @ p)
    n_build = np.maximum(1, np.round(hh[urban] / mean_size)).astype(np.int64)
    xy, owner = sample_points_in_many(settle[urban], n_build, rng)
    vidx = urban[owner]
    size = BUILDING_SIZES[rng.choice(len(BUILDING_SIZES), len(vidx), p=p)]

    # street grid of the village's town: rotated frame (u east-ish, v north-ish)
    towns = admin.towns.reset_index(drop=True)
    t_index = pd.Index(towns["town_id"]).get_indexer(v["town_id"].to_numpy()[vidx])
    n_towns = len(towns)
    angle = rng.normal(0.0, 0.12, n_towns)
    ew_off = rng.integers(0, 1000, n_towns)
    ns_off = rng.integers(0, 1000, n_towns)
    kind = towns["kind"].to_numpy()
    spacing = np.array([BLOCK_SPACING[k] for k in kind])
    is_city = kind == "city"
    dx = xy[:, 0] - towns["x"].to_numpy()[t_index]
    dy = xy[:, 1] - towns["y"].to_numpy()[t_index]
    c, s = np.cos(angle[t_index]), np.sin(angle[t_index])
    u = dx * c + dy * s
    w = -dx * s + dy * c
    S = spacing[t_index]
    j_ew = np.round(w / S).astype(np.int64)
    i_ns = np.round(u / S).astype(np.int64)
    on_ew = np.abs(w - j_ew * S) <= np.abs(u - i_ns * S)

    city_pt = is_city[t_index]
    ew_list = np.where(city_pt, 0, 1)
    ew_names = (
        np.asarray(names.CITY_EAST_WEST, dtype=object),
        np.asarray(names.TOWN_EAST_WEST, dtype=object),
    )
    ns_names = (
        np.asarray(names.CITY_NORTH_SOUTH, dtype=object),
        np.asarray(names.TOWN_NORTH_SOUTH, dtype=object),
    )
    road = np.empty(len(vidx), dtype=object)
    for lst in (0, 1):
        sel_ew = on_ew & (ew_list == lst)
        sel_ns = ~on_ew & (ew_list == lst)
        road[sel_ew] = ew_names[lst][(j_ew[sel_ew] + ew_off[t_index[sel_ew]]) % len(ew_names[lst])]
        road[sel_ns] = ns_names[lst][(i_ns[sel_ns] + ns_off[t_index[sel_ns]]) % len(ns_names[lst])]
    # numbers start at each street's west (south) end; odd on the north (east) side
    along = np.where(on_ew, u, w)
    street_key = pd.Series(t_index * 1000 + np.where(on_ew, 0, 500)).astype(str) + road.astype(str)
    start = pd.Series(along).groupby(street_key.to_numpy()).transform("min").to_numpy()
    side_pos = np.where(on_ew, w - j_ew * S, u - i_ns * S) > 0
    number = 2 * np.floor((along - start) / NUMBER_STEP).astype(np.int64) + np.where(side_pos, 1, 2)
    frame = pd.DataFrame(
        {
            "village_index": vidx,
            "x": xy[:, 0],
            "y": xy[:, 1],
            "road": road,
            "number": number,
            "households": size,
            "urban": 1,
            "group": 0,
            "across": np.abs(np.where(on_ew, w - j_ew * S, u - i_ns * S)),
        }
    )
    # buildings of one compound share road and number: 1栋, 2栋, … nearest the street first
    frame = frame.sort_values(
        ["village_index", "road", "number", "across", "x"], kind="stable", ignore_index=True
    )
    frame["building_no"] = frame.groupby(["village_index", "road", "number"]).cumcount() + 1
    return frame.drop(columns="across")


def _rural_addresses(
    admin: AdminResult, hh: np.ndarray, settle: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    v = admin.villages
    rural = np.flatnonzero(~v["urban"].to_numpy())
    p = COURTYARD_SIZE_P / COURTYARD_SIZE_P.sum()
    n_addr = np.maximum(1, np.round(hh[rural] / float(COURTYARD_SIZES @ p))).astype(np.int64)
    n_groups = np.clip(np.round(n_addr / HOUSES_PER_GROUP), 1, MAX_GROUPS).astype(np.int64)
    # hamlet (组) centres inside the village, then houses in rows along lanes around them
    centre_xy, centre_owner = sample_points_in_many(settle[rural], n_groups, rng)
    group_no = np.arange(len(centre_owner)) - np.searchsorted(centre_owner, centre_owner)
    per_group = np.repeat(n_addr // n_groups, n_groups) + (group_no < np.repeat(n_addr % n_groups, n_groups))
    g = np.repeat(np.arange(len(per_group)), per_group)
    k = np.arange(len(g)) - np.repeat(np.cumsum(per_group) - per_group, per_group)
    size = per_group[g]
    per_lane = np.clip(np.ceil(np.sqrt(size * 2.5)), 4, 30).astype(np.int64)
    n_lanes = np.ceil(size / per_lane)
    lane, pos = k // per_lane, k % per_lane
    theta = rng.normal(0.0, 0.2, len(per_group))[g]  # lanes run roughly east–west
    along = (pos - (per_lane - 1) / 2) * HOUSE_SPACING + rng.normal(0, 2.5, len(g))
    across = (lane - (n_lanes - 1) / 2) * LANE_SPACING + rng.normal(0, 4.0, len(g))
    off_x = along * np.cos(theta) - across * np.sin(theta)
    off_y = along * np.sin(theta) + across * np.cos(theta)
    vidx = rural[centre_owner[g]]
    polys = settle[vidx]
    cx, cy = centre_xy[g, 0], centre_xy[g, 1]
    x, y = cx + off_x, cy + off_y
    # pull houses that fall outside the village towards their hamlet centre (which is inside)
    outside = ~shapely.contains_xy(polys, x, y)
    shrink = 1.0
    for _ in range(8):
        if not outside.any():
            break
        shrink *= 0.55
        x[outside] = cx[outside] + off_x[outside] * shrink
        y[outside] = cy[outside] + off_y[outside] * shrink
        outside[outside] = ~shapely.contains_xy(polys[outside], x[outside], y[outside])
    x[outside], y[outside] = cx[outside], cy[outside]
    size_hh = COURTYARD_SIZES[rng.choice(len(COURTYARD_SIZES), len(g), p=p)]
    return pd.DataFrame(
        {
            "village_index": vidx,
            "x": x,
            "y": y,
            "road": None,
            "number": k + 1,
            "households": size_hh,
            "urban": 0,
            "group": group_no[g] + 1,
            "building_no": 0,
        }
    )


def build_addresses(admin: AdminResult, seed: int, scale: float) -> AddressResult:
    """Standard addresses for the synthetic city at ``scale`` (1.0 ≈ 1,000,000 households)."""
    hh = _village_households(admin, scale, stream(seed, "addresses", 0))
    settle = _settlement_areas(admin)
    shapely.prepare(settle)
    urban = _urban_addresses(admin, hh, settle, stream(seed, "addresses", 1))
    rural = _rural_addresses(admin, hh, settle, stream(seed, "addresses", 2))
    rural["road"] = rural["group"].astype(str) + "组"
    pts = pd.concat([urban, rural], ignore_index=True)
    pts = pts.sort_values(
        ["village_index", "group", "road", "number", "building_no"], kind="stable", ignore_index=True
    )

    v = admin.villages
    tw = admin.townships.set_index("code")
    counties = admin.counties.set_index("code")
    vi = pts["village_index"].to_numpy()
    village_code = v["code"].to_numpy()[vi]
    township_code = v["township_code"].to_numpy()[vi]
    county_code = v["county_code"].to_numpy()[vi]
    seq = pts.groupby("village_index").cumcount().to_numpy() + 1
    address_id = pd.Series(village_code).str.cat(pd.Series(seq).astype(str).str.zfill(5))
    house_number = pts["number"].astype(str) + "号"
    building = np.where(pts["urban"].to_numpy() == 1, pts["building_no"].astype(str) + "栋", "")
    full = (
        pd.Series(counties.loc[county_code, "name"].to_numpy())
        + tw.loc[township_code, "short_name"].to_numpy()
        + v["short_name"].to_numpy()[vi]
        + pts["road"].to_numpy()
        + house_number.to_numpy()
        + building
    )
    prng = stream(seed, "addresses", 3)
    households = pts["households"].to_numpy()
    population = households * 2 + prng.binomial(households, PERSONS_PER_HOUSEHOLD - 2)
    lon, lat = to_wgs84(pts["x"].to_numpy(), pts["y"].to_numpy())
    addresses = gpd.GeoDataFrame(
        {
            "address_id": address_id.to_numpy(),
            "full_address": full.to_numpy(),
            "county_code": county_code,
            "township_code": township_code,
            "village_code": village_code,
            "road": pts["road"].to_numpy(),
            "house_number": house_number.to_numpy(),
            "building": building,
            "households": households.astype(np.int64),
            "population": population.astype(np.int64),
            "urban": pts["urban"].to_numpy().astype(np.int64),
            "source": SOURCE,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=WGS84,
    )
    points = pd.DataFrame(
        {
            "address_id": addresses["address_id"],
            "x": pts["x"].to_numpy(),
            "y": pts["y"].to_numpy(),
            "lon": lon,
            "lat": lat,
            "village_index": vi,
            "village_code": village_code,
            "township_code": township_code,
            "county_code": county_code,
            "households": households,
            "urban": pts["urban"].to_numpy(),
            "road": pts["road"].to_numpy(),
            "house_number": house_number.to_numpy(),
            "building": building,
            "number": pts["number"].to_numpy(),
            "building_no": pts["building_no"].to_numpy(),
        }
    )
    return AddressResult(addresses, points)
