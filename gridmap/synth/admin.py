"""Synthetic township and village polygons that tile the real county outlines.

Counties (and the city) are real.  Each county is split into one polygon per
official NBS township, and each township into one polygon per official village,
with :func:`gridmap.synth.geometry.partition_polygon`.  Urban units (街道 townships,
社区/居委会 villages) are small and packed around their town centre: the Tongliao city
centre for 科尔沁区 and the 通辽经济技术开发区 streets, the county seats elsewhere, a
township's own seat for the communities of a rural township.

Everything metric happens in :data:`gridmap.crs.LOCAL_CRS`.  The county outlines are
densified in degrees before they are projected for splitting, so a county edge is the
same line in both CRSs (to < 1 mm).  Each county and township is split on its own, so
where two parents meet their children form T-junctions (a vertex on one side only);
:func:`gridmap.synth.geometry.insert_touching_vertices` copies each such vertex into the
other side, the villages are projected to EPSG:4326 and rounded to a
:data:`GRID_DEGREES` grid (equal vertices stay equal), and townships are the coverage
unions of their villages.  Villages and townships are then each a valid polygon
coverage city-wide (shared edges have identical vertices, in EPSG:4326 and after
projection), and the townships of a county keep every real county vertex.
:func:`build_admin` returns the output frame in EPSG:4326 plus LOCAL_CRS working
frames holding the same polygons for the later components (addresses, hotspots,
workers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap import boundaries
from gridmap.crs import LOCAL_CRS, WGS84, to_local, to_wgs84
from gridmap.geometry import segmentize_shared
from gridmap.synth.geometry import insert_touching_vertices, partition_polygon, snap_coverage
from gridmap.synth.streams import stream

SOURCE = "synthetic"

#: county seat: GeoNames place name (alternate name) or a fixed WGS-84 point, and the
#: township that hosts the seat town when the county has no 街道 of its own there
COUNTY_SEATS: dict[str, dict] = {
    "150502": {"place": "通辽", "seat_township": None},
    "150521": {"place": "保康", "seat_township": "150521100"},
    "150522": {"lonlat": (122.36, 42.96), "seat_township": "150522100"},  # 甘旗卡
    "150523": {"place": "开鲁", "seat_township": "150523100"},
    "150524": {"place": "库伦", "seat_township": "150524100"},
    "150525": {"place": "大沁他拉", "seat_township": "150525100"},
    "150526": {"place": "鲁北", "seat_township": "150526100"},
    "150581": {"place": "莫斯台", "seat_township": None},
}
#: the development-zone town (辽河镇) sits just west of the Tongliao city streets
DEV_ZONE_TOWN = "150571100"

#: target areas (km²) that set the relative size of units
COMMUNITY_KM2 = {"city": 0.55, "county_seat": 0.45, "township_seat": 0.3}
PERI_URBAN_VILLAGE_KM2 = 3.0

#: precision grid of the synthetic polygons in EPSG:4326 (≈1 cm); the real county
#: vertices (1e-6°) lie on it, so rounding keeps them
GRID_DEGREES = 1e-7
#: longest county edge (degrees, ≈200 m) before the outlines are projected for splitting:
#: a straight edge in degrees and in metres then differ by < 1 mm, well under the grid
COUNTY_SEGMENT_DEGREES = 0.002
#: a vertex this close (metres) to a neighbour's edge lies on it (a T-junction)
TOUCH_TOLERANCE_M = 1e-6

#: mesh density: fine Voronoi cells per child unit
COUNTY_MESH_PER_CHILD = 40
TOWNSHIP_MESH_PER_CHILD = 9


@dataclass
class AdminResult:
    """Admin layer (EPSG:4326, schema columns) and LOCAL_CRS working frames.

    ``counties`` is the real outline densified (LOCAL_CRS); ``townships``/``villages``
    (LOCAL_CRS, the output polygons projected) carry extra columns: ``county_code``,
    ``urban`` (bool), ``town_id``; townships ``seat_x``/``seat_y`` (metres);
    villages also ``township_code``, ``short_name``, ``seat_village`` (the rural village
    at the township seat);
    ``towns`` lists town centres (x, y metres) with ``kind`` city/county_seat/township_seat.
    """

    admin_units: gpd.GeoDataFrame
    counties: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    towns: pd.DataFrame


def short_village_name(names: pd.Series) -> pd.Series:
    """Village names as written in addresses: 民航社区居委会 → 民航社区, 护桥村委会 → 护桥村."""
    out = names.str.replace(r"社区居委会$|居委会$", "社区", regex=True)
    out = out.str.replace(r"嘎查(村)?委员会$|嘎查村委会$", "嘎查", regex=True)
    out = out.str.replace(r"村(村民委员会|村委会|委员会)$", "村", regex=True)
    out = out.str.replace(r"(村民委员会|村委会)$", "村", regex=True)
    out = out.str.replace(r"委员会$", "", regex=True)
    return out.str.replace("社区社区", "社区", regex=False)


def short_township_name(names: pd.Series) -> pd.Series:
    """Township names as written in addresses: 保康街道办事处 → 保康街道."""
    return names.str.replace(r"办事处$", "", regex=True)


def _county_centre(code: str, county_geom: BaseGeometry, places: gpd.GeoDataFrame) -> np.ndarray:
    spec = COUNTY_SEATS.get(code)
    if spec is None:  # outside Tongliao: the centroid (metres), or a point surely inside
        centroid = county_geom.centroid
        inside = centroid if county_geom.contains(centroid) else county_geom.representative_point()
        return np.array(shapely.get_coordinates(inside)[0])
    if "lonlat" in spec:
        lon, lat = spec["lonlat"]
    else:
        alt = places["zh_alternatenames"].fillna("").str.split("|")
        hit = places[alt.apply(lambda names: spec["place"] in names)]
        lon, lat = float(hit["lon_wgs84"].iloc[0]), float(hit["lat_wgs84"].iloc[0])
    xy = np.array(to_local(lon, lat))
    if not county_geom.contains(shapely.Point(xy)):
        xy = np.array(shapely.get_coordinates(county_geom.representative_point())[0])
    return xy


def _place_seeds(
    places: gpd.GeoDataFrame, townships: pd.DataFrame, county_geom: BaseGeometry
) -> dict[str, np.ndarray]:
    """Seeds for rural townships at their real GeoNames town point, where one matches."""
    small = places[places["feature_code"] == "PPLA4"]
    out: dict[str, np.ndarray] = {}
    for _, place in small.iterrows():
        alt = [a for a in str(place["zh_alternatenames"]).split("|") if a]
        xy = np.array(to_local(place["lon_wgs84"], place["lat_wgs84"]))
        if not county_geom.contains(shapely.Point(xy)):
            continue
        stem = townships["name"].str.replace(r"(镇|苏木|乡|牧场|农场)$", "", regex=True)
        for code, s in zip(townships["code"], stem, strict=True):
            if s and any(a.startswith(s) for a in alt) and code not in out:
                out[code] = xy
                break
    return out


def _seat_villages(villages: gpd.GeoDataFrame, townships: gpd.GeoDataFrame) -> np.ndarray:
    """The rural village nearest each non-street township's seat (its 镇区 village)."""
    tw = townships.set_index("code")
    rural = ~villages["urban"].to_numpy() & ~tw.loc[villages["township_code"], "is_street"].to_numpy()
    seat = shapely.points(
        tw.loc[villages["township_code"], "seat_x"].to_numpy(),
        tw.loc[villages["township_code"], "seat_y"].to_numpy(),
    )
    dist = np.where(rural, shapely.distance(villages.geometry.values, seat), np.inf)
    frame = pd.DataFrame({"township": villages["township_code"].to_numpy(), "dist": dist})
    nearest = frame[rural].sort_values(["township", "dist"], kind="stable").groupby("township").head(1).index
    out = np.zeros(len(villages), dtype=bool)
    out[nearest] = True
    return out


def _to_wgs84_geoms(geoms: np.ndarray) -> np.ndarray:
    def project(xy: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms, dtype=object), project)


def _to_local_geoms(geoms: np.ndarray) -> np.ndarray:
    def project(lonlat: np.ndarray) -> np.ndarray:
        x, y = to_local(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), project)


def _is_valid_coverage(geoms: np.ndarray) -> bool:
    return bool(shapely.is_valid(geoms).all() and shapely.coverage_is_valid(geoms))


def _edge_matched(
    villages: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, counties: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """(village, township) polygons in EPSG:4326 forming valid coverages city-wide.

    ``villages``/``townships`` are the LOCAL_CRS partitions (rows in the order of the
    output arrays), ``counties`` the real outlines in EPSG:4326.  T-junctions along
    township and county lines get their vertex on both sides, so every shared edge has
    the same vertices on both sides; the vertices are reprojected and rounded to
    :data:`GRID_DEGREES`, which keeps equal vertices equal.  Should rounding ever break
    the coverage (two vertices of a ring in one grid cell), the whole layer is
    snap-rounded instead.  A township is the coverage union of its villages, so both
    layers share every vertex.
    """
    local = insert_touching_vertices(villages.geometry.values, TOUCH_TOLERANCE_M)
    village_geoms = shapely.remove_repeated_points(
        shapely.set_precision(_to_wgs84_geoms(local), GRID_DEGREES, mode="pointwise")
    )
    if not _is_valid_coverage(village_geoms):
        region_of = pd.Index(counties["code"]).get_indexer(villages["county_code"])
        village_geoms = snap_coverage(
            village_geoms, region_of, np.asarray(counties.geometry.values), GRID_DEGREES
        )
    township_of = pd.Index(townships["code"]).get_indexer(villages["township_code"])
    order = np.argsort(township_of, kind="stable")
    bounds = np.searchsorted(township_of[order], np.arange(len(townships) + 1))
    township_geoms = np.array(
        [
            shapely.coverage_union_all(village_geoms[order[bounds[t] : bounds[t + 1]]])
            for t in range(len(townships))
        ],
        dtype=object,
    )
    return village_geoms, township_geoms


def _as_multipolygon(geoms: np.ndarray) -> np.ndarray:
    geoms = np.asarray(geoms, dtype=object)
    single = shapely.get_type_id(geoms) == 3
    out = geoms.copy()
    if single.any():
        out[single] = np.array([shapely.MultiPolygon([g]) for g in geoms[single]], dtype=object)
    return out


def county_kind(code: str, name: str) -> str:
    """The town kind of a county's seat: ``city`` for a city district (区; in Tongliao 科尔沁区, which
    hosts the development zone), else ``county_seat``."""
    if code in COUNTY_SEATS:
        return "city" if code == boundaries.DEV_ZONE_HOST_COUNTY else "county_seat"
    return "city" if str(name).endswith("区") else "county_seat"


def _generic_seat_township(townships: pd.DataFrame) -> str | None:
    """Outside Tongliao (no curated seats): the lowest-coded 镇, else the lowest-coded rural township,
    hosts the county seat when the county has no 街道; None when it has streets."""
    if townships["is_street"].any():
        return None
    towns = townships.sort_values("code")
    zhen = towns[towns["name"].str.endswith("镇")]
    return str((zhen if len(zhen) else towns)["code"].iloc[0]) if len(towns) else None


def _area_frames(
    area: str | None, data_dir: Path | None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame, gpd.GeoDataFrame]:
    """(counties, townships, villages, real outlines) of Tongliao (``area`` None) or of a shipped area."""
    if area is None:
        return (
            boundaries.counties(data_dir),
            boundaries.townships(data_dir),
            boundaries.villages(data_dir),
            boundaries.real_admin_units(data_dir),
        )
    counties = boundaries.area_counties(area, data_dir)
    outlines = (
        [counties] if boundaries.area_level(area, data_dir) == "county" else [boundaries.area(area), counties]
    )
    real = pd.concat(outlines, ignore_index=True)
    return counties, boundaries.area_townships(area, data_dir), boundaries.area_villages(area, data_dir), real


def build_admin(
    seed: int,
    data_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    area: str | None = None,
) -> AdminResult:
    """Township and village polygons for ``seed`` (see module docstring).

    ``area``: None for Tongliao as curated here (county seats from GeoNames), or a shipped 内蒙古 city
    or county code (:func:`gridmap.boundaries.area_counties`): seats at each county's centroid
    (representative point when the centroid falls outside), districts (区) as city centres.
    """
    say = progress or (lambda _msg: None)
    counties, towns_df, villages_df, real = _area_frames(area, data_dir)
    # a township without any village code has nothing to split into
    towns_df = towns_df[towns_df["code"].isin(villages_df["parent_code"])]
    places = boundaries.places(data_dir)
    # split a densified outline: its edges project to (almost) the same lines in metres
    counties_local = gpd.GeoDataFrame(
        counties.drop(columns="geometry"),
        geometry=_to_local_geoms(segmentize_shared(counties.geometry.values, COUNTY_SEGMENT_DEGREES)),
        crs=LOCAL_CRS,
    )

    village_is_comm = villages_df.groupby("parent_code")["is_community"].agg(["sum", "count"])
    towns_df = towns_df.join(village_is_comm, on="code")
    towns_df["n_comm"] = towns_df["sum"].fillna(0).astype(int)
    towns_df["n_vill"] = towns_df["count"].fillna(0).astype(int) - towns_df["n_comm"]
    towns_df["is_street"] = towns_df["name"].str.contains("街道")

    township_rows: list[dict] = []
    town_rows: list[dict] = []
    for _, county in counties_local.iterrows():
        code = county["code"]
        ts = towns_df[towns_df["parent_code"] == code].sort_values("code")
        if ts.empty:
            continue
        geom = shapely.make_valid(county.geometry)
        rng = stream(seed, "admin", int(code))
        centre = _county_centre(code, geom, places)
        kind = county_kind(code, county["name"])
        town_id = f"T{code}"
        town_rows.append(
            {"town_id": town_id, "kind": kind, "x": centre[0], "y": centre[1], "county_code": code}
        )
        # pure-community streets sit nearest the centre, the dev-zone streets to the west
        urban = ts[ts["is_street"]].assign(
            _peri=lambda d: d["n_vill"] / (d["n_vill"] + d["n_comm"]).clip(lower=1)
        )
        rural = ts[~ts["is_street"]]
        a_comm = COMMUNITY_KM2[kind] * 1e6
        urban_targets = (urban["n_comm"] * a_comm + urban["n_vill"] * PERI_URBAN_VILLAGE_KM2 * 1e6).to_numpy(
            float
        )
        rural_targets = (
            (rural["n_vill"] + rural["n_comm"] + 3) * rng.lognormal(0, 0.25, len(rural))
        ).to_numpy(float)
        n_u = len(urban)
        fixed: dict[int, np.ndarray] = {}
        named = _place_seeds(places, rural, geom)
        for i, c in enumerate(rural["code"]):
            if c in named:
                fixed[n_u + i] = named[c]
        seat_code = (
            COUNTY_SEATS[code]["seat_township"] if code in COUNTY_SEATS else _generic_seat_township(ts)
        )
        core_radius = np.sqrt(urban_targets.sum() / np.pi) if n_u else 0.0
        if seat_code is not None:
            i = n_u + int(np.flatnonzero(rural["code"].to_numpy() == seat_code)[0])
            if n_u:
                angle = rng.uniform(0, 2 * np.pi)
                fixed[i] = centre + (core_radius * 1.5 + 2500) * np.array([np.cos(angle), np.sin(angle)])
            else:
                fixed[i] = centre
        dz = np.flatnonzero(rural["code"].to_numpy() == DEV_ZONE_TOWN)
        if len(dz):
            fixed[n_u + int(dz[0])] = centre + np.array([-(core_radius * 1.5 + 5000), -2000.0])
        fixed = {i: xy for i, xy in fixed.items() if geom.contains(shapely.Point(xy))}
        is_core = np.r_[np.ones(n_u, bool), np.zeros(len(rural), bool)]
        children, seeds = partition_polygon(
            geom,
            np.r_[urban_targets, rural_targets],
            rng,
            core=is_core,
            core_centre=centre,
            core_rank=np.r_[urban["_peri"].to_numpy(float), np.zeros(len(rural))],
            # the streets of a statistical zone the county hosts (Tongliao: 150571) lie west of the core
            core_west=np.r_[(urban["stat_county_code"] != code).to_numpy(), np.zeros(len(rural), bool)],
            fixed_seeds=fixed,
            mesh_per_child=COUNTY_MESH_PER_CHILD,
        )
        ordered = pd.concat([urban, rural])
        for c, name, is_street, child, s in zip(
            ordered["code"], ordered["name"], ordered["is_street"], children, seeds, strict=True
        ):
            township_rows.append(
                {
                    "code": c,
                    "name": name,
                    "parent_code": code,
                    "county_code": code,
                    "is_street": bool(is_street),
                    "seat_x": s[0],
                    "seat_y": s[1],
                    "town_id": town_id if (is_street or c == seat_code) else f"T{c}",
                    "geometry": child,
                }
            )
        say(f"admin: county {code} split into {len(children)} townships")

    townships = gpd.GeoDataFrame(township_rows, geometry="geometry", crs=LOCAL_CRS)
    townships = townships.sort_values("code", ignore_index=True)
    town_xy = {r["town_id"]: np.array([r["x"], r["y"]]) for r in town_rows}
    town_kinds = {r["town_id"]: r["kind"] for r in town_rows}

    village_rows: list[dict] = []
    villages_by_township = dict(tuple(villages_df.sort_values("code").groupby("parent_code", sort=True)))
    for tw in townships.to_dict("records"):
        rng = stream(seed, "admin", int(tw["code"]))
        vs = villages_by_township[tw["code"]]
        parent = tw["geometry"]
        # communities gather on the side nearest the town centre, or around the township's own seat
        if tw["town_id"] in town_xy:
            kind = town_kinds[tw["town_id"]]
            core = town_xy[tw["town_id"]]
        else:
            kind = "township_seat"
            core = np.array([tw["seat_x"], tw["seat_y"]])
            town_rows.append(
                {
                    "town_id": tw["town_id"],
                    "kind": kind,
                    "x": core[0],
                    "y": core[1],
                    "county_code": tw["county_code"],
                }
            )
        a_comm = COMMUNITY_KM2[kind] * 1e6
        targets = np.where(
            vs["is_community"].to_numpy(),
            a_comm * rng.lognormal(0, 0.2, len(vs)),
            (PERI_URBAN_VILLAGE_KM2 * 1e6 if tw["is_street"] else 1.0) * rng.lognormal(0, 0.35, len(vs)),
        )
        children, _ = partition_polygon(
            parent,
            targets,
            rng,
            core=vs["is_community"].to_numpy(),
            core_centre=core,
            mesh_per_child=TOWNSHIP_MESH_PER_CHILD,
        )
        for v_code, v_name, v_comm, child in zip(
            vs["code"], vs["name"], vs["is_community"], children, strict=True
        ):
            village_rows.append(
                {
                    "code": v_code,
                    "name": v_name,
                    "parent_code": tw["code"],
                    "township_code": tw["code"],
                    "county_code": tw["county_code"],
                    "urban": bool(v_comm),
                    "town_id": tw["town_id"],
                    "geometry": child,
                }
            )
    say(f"admin: {len(townships)} townships split into {len(village_rows)} villages")

    villages = gpd.GeoDataFrame(village_rows, geometry="geometry", crs=LOCAL_CRS)
    villages = villages.sort_values("code", ignore_index=True)
    village_wgs84, township_wgs84 = _edge_matched(villages, townships, counties)
    # the working frames carry the final polygons, so addresses fall inside the output villages
    villages["geometry"] = _to_local_geoms(village_wgs84)
    townships["geometry"] = _to_local_geoms(township_wgs84)
    say("admin: villages and townships snapped into edge-matched coverages")
    villages["seat_village"] = _seat_villages(villages, townships)
    villages["short_name"] = short_village_name(villages["name"])
    townships["short_name"] = short_township_name(townships["name"])
    towns = pd.DataFrame(town_rows).drop_duplicates("town_id").sort_values("town_id", ignore_index=True)

    synthetic = pd.concat(
        [townships.assign(level="township"), villages.assign(level="village")], ignore_index=True
    )
    synth_out = gpd.GeoDataFrame(
        {
            "code": synthetic["code"],
            "name": synthetic["name"],
            "level": synthetic["level"],
            "parent_code": synthetic["parent_code"],
            "source": SOURCE,
        },
        geometry=np.concatenate([township_wgs84, village_wgs84]),
        crs=WGS84,
    )
    admin_units = pd.concat([real, synth_out], ignore_index=True)
    admin_units = gpd.GeoDataFrame(admin_units, geometry="geometry", crs=WGS84)
    admin_units["geometry"] = _as_multipolygon(admin_units.geometry.values)
    level_rank = admin_units["level"].map({lvl: i for i, lvl in enumerate(boundaries.LEVELS)})
    admin_units = admin_units.assign(_rank=level_rank).sort_values(["_rank", "code"], ignore_index=True)
    admin_units = admin_units.drop(columns="_rank")
    return AdminResult(admin_units, counties_local, townships, villages, towns)
