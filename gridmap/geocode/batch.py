"""Geocode many cases at once: declared coordinates and address text → point, grid, status.

The decision per row (the same for ``gridmap geocode``, case imports and the demo build):

* **coordinates given** (lon and lat both present) — converted from the declared CRS
  to WGS-84 and checked (:func:`gridmap.geocode.checks.check_declared_points`):

  - a failed check (swapped, outside the city, zero, unreadable, unknown CRS) → ``review``
    with the reason; the address candidates and, for a swap, the swapped point are offered;
  - a passing point within :data:`SNAP_M` of a standard-address candidate of the row's
    address is snapped to that address (precision ``address``): the coordinate confirms the
    address, and the surveyed address point is more exact than phone GPS; this also
    settles an address that matched several addresses equally;
  - otherwise a passing point is used (precision ``coordinates``) if it agrees with the
    address: it lies in (or within :data:`VILLAGE_TOLERANCE_M` of) the village the address
    names or one of its candidates' villages — the township or county when that is all the
    address gave — and not more than :data:`DISAGREE_M` from an automatically matched
    address; disagreement → ``review`` with both offered;

* **address only** — the :class:`~gridmap.geocode.match.AddressMatcher` result:
  ``accepted`` (address precision, score ≥ threshold), ``review`` or ``rejected``.

An accepted point gets the grid of the active plan (:class:`~gridmap.geocode.assign.GridIndex`);
an accepted point outside every grid goes to ``review``.  Review and rejected rows keep no
point and no grid: a person decides (:mod:`gridmap.geocode.intake` review actions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.crs import WGS84, to_local
from gridmap.errors import InputError
from gridmap.geocode.assign import GridIndex
from gridmap.geocode.checks import FLAG_OK, FLAG_REASONS, FLAG_SWAPPED, check_declared_points
from gridmap.geocode.match import AddressMatcher
from gridmap.geocode.parse import parse_address
from gridmap.geocode.transform import canonical_crs

#: a declared point this far (metres) outside the village its address names still agrees with it
VILLAGE_TOLERANCE_M = 150.0
#: a declared point this close (metres) to a matched standard address is snapped to it: phone GPS
#: is off by 5–20 m, the standard address point is surveyed
SNAP_M = 60.0
#: a declared point farther than this (metres) from an automatically matched address disagrees with it
DISAGREE_M = 1000.0

PRECISION_COORDINATES = "coordinates"

RESULT_COLUMNS = [
    "lon",
    "lat",
    "precision",
    "score",
    "geocode_status",
    "reason",
    "grid_code",
    "village_code",
    "township_code",
    "county_code",
    "address_id",
    "candidates",
    "coord_flag",
]


def city_outline(admin_units: gpd.GeoDataFrame | None) -> BaseGeometry:
    """The city polygon: the ``city`` row of ``admin_units``, else the union of its counties,
    else the shipped outline (:func:`gridmap.boundaries.city`)."""
    if admin_units is not None and len(admin_units) and "level" in admin_units:
        for level in ("city", "county"):
            rows = admin_units[(admin_units["level"] == level) & admin_units.geometry.notna()]
            if len(rows):
                geoms = rows.to_crs(WGS84).geometry if rows.crs is not None else rows.geometry
                return shapely.union_all(geoms.values)
    from gridmap import boundaries

    return boundaries.city().geometry.iloc[0]


@dataclass
class GeocodeContext:
    """Everything the per-row decision needs, built once per batch.

    ``grids`` is a plan's grids (columns ``code``, ``village_code``, ``township_code``,
    ``county_code``; WGS-84) or None when no plan exists (points then get no grid).
    """

    matcher: AddressMatcher
    grids: gpd.GeoDataFrame | None
    grid_index: GridIndex | None
    village_index: GridIndex | None
    village_polygons: dict[str, BaseGeometry]
    city_polygon: BaseGeometry
    margin_km: float = 20.0

    @classmethod
    def build(
        cls,
        addresses: gpd.GeoDataFrame,
        admin_units: gpd.GeoDataFrame,
        grids: gpd.GeoDataFrame | None = None,
        matcher: AddressMatcher | None = None,
        margin_km: float | None = None,
    ) -> GeocodeContext:
        if margin_km is None:
            from gridmap.config import get_settings

            margin_km = get_settings().city_margin_km
        matcher = matcher or AddressMatcher(addresses, admin_units)
        grid_index = None
        if grids is not None and len(grids):
            grids = grids.to_crs(WGS84) if grids.crs is not None and not grids.crs.equals(WGS84) else grids
            grid_index = GridIndex(grids, code_col="code")
            # the grid of every standard address lets a text that fits several addresses of one
            # grid be accepted at grid precision (gridmap.geocode.match module doc)
            matcher = matcher.on_grids(grid_index.assign(matcher._lon, matcher._lat))
        villages = admin_units[(admin_units["level"] == "village") & admin_units.geometry.notna()]
        villages = villages[~villages.geometry.is_empty]
        village_index = GridIndex(villages, code_col="code") if len(villages) else None
        polygons = dict(zip(villages["code"].astype(str), villages.geometry.values, strict=True))
        return cls(matcher, grids, grid_index, village_index, polygons, city_outline(admin_units), margin_km)

    @classmethod
    def from_store(cls, store, plan_id: str | None = None, margin_km: float | None = None) -> GeocodeContext:
        """From the store's addresses, admin units and the grids of ``plan_id`` (default: the active plan)."""
        addresses = store.read("addresses")
        admin_units = store.read("admin_units")
        if not len(addresses):
            raise InputError("the store has no standard addresses: build the demo or load addresses first")
        plan_id = plan_id or store.active_plan_id()
        grids = store.read("grids", where={"plan_id": plan_id}) if plan_id else None
        return cls.build(addresses, admin_units, grids, margin_km=margin_km)

    def grid_codes(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        if self.grid_index is None:
            return np.full(len(lon), None, dtype=object)
        return self.grid_index.assign(lon, lat)


def _present(values) -> np.ndarray:
    """True where a cell holds something (not None/NaN/empty text)."""
    series = pd.Series(values, dtype=object)
    return (series.notna() & (series.astype(str).str.strip() != "")).to_numpy()


def _numbers(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)


def _crs_names(values) -> tuple[np.ndarray, np.ndarray]:
    """Canonical CRS per row (wgs84 for empty) and a mask of unknown declarations."""
    raw = pd.Series(values, dtype=object).where(_present(values), "")
    names = np.full(len(raw), "wgs84", dtype=object)
    unknown = np.zeros(len(raw), dtype=bool)
    for value in pd.unique(raw.astype(str)):
        sel = (raw.astype(str) == value).to_numpy()
        try:
            names[sel] = canonical_crs(value)
        except InputError:
            unknown[sel] = True
    return names, unknown


def geocode_rows(
    ctx: GeocodeContext,
    address_text,
    raw_lon=None,
    raw_lat=None,
    raw_crs=None,
    gcj02_file: bool | None = None,
    evidence: dict | None = None,
) -> pd.DataFrame:
    """Decide point, grid and status for each row (see the module doc); one output row per input.

    Inputs are equal-length sequences: address text, declared lon/lat (numbers or text;
    degrees in ``raw_crs``) and CRS names.  Returns :data:`RESULT_COLUMNS`; ``lon``/``lat``
    are WGS-84 degrees, ``candidates`` a list of dicts per row.

    Every row is decided on its own except one file-wide judgement (:func:`gcj02_suspects`: is
    this file's "WGS-84" really GCJ-02?).  A file geocoded in chunks (:mod:`gridmap.geocode.distributed`)
    passes the whole file's verdict as ``gcj02_file`` and collects each chunk's evidence in
    ``evidence`` (keys ``suspect``, ``confirmed``: rows that look GCJ-02 / WGS-84 as declared).
    """
    texts = pd.Series(address_text, dtype=object).reset_index(drop=True)
    n = len(texts)
    raw_lon = [None] * n if raw_lon is None else list(raw_lon)
    raw_lat = [None] * n if raw_lat is None else list(raw_lat)
    raw_crs = [None] * n if raw_crs is None else list(raw_crs)

    match = ctx.matcher.match(texts.where(texts.map(lambda v: isinstance(v, str)), None))
    out = pd.DataFrame(
        {
            "lon": match["lon"].to_numpy(dtype=float).copy(),
            "lat": match["lat"].to_numpy(dtype=float).copy(),
            "precision": match["precision"].to_numpy(dtype=object),
            "score": match["score"].to_numpy(dtype=float),
            "geocode_status": match["status"].to_numpy(dtype=object),
            "reason": match["reason"].to_numpy(dtype=object),
            "grid_code": np.full(n, None, dtype=object),
            "village_code": match["village_code"].to_numpy(dtype=object),
            "township_code": match["township_code"].to_numpy(dtype=object),
            "county_code": match["county_code"].to_numpy(dtype=object),
            "address_id": match["address_id"].to_numpy(dtype=object),
            "candidates": match["candidates"].to_numpy(dtype=object),
            "coord_flag": np.full(n, None, dtype=object),
        }
    )

    has_xy = _present(raw_lon) | _present(raw_lat)
    if has_xy.any():
        out["_text"] = texts.where(texts.map(lambda v: isinstance(v, str)), "").to_numpy(dtype=object)
        _apply_coordinates(ctx, out, np.flatnonzero(has_xy), raw_lon, raw_lat, raw_crs, gcj02_file, evidence)

    # Only accepted rows keep a point; they get their grid (and admin codes from it).
    accepted = (out["geocode_status"] == "accepted").to_numpy()
    out.loc[~accepted, ["lon", "lat"]] = np.nan
    idx = np.flatnonzero(accepted)
    if idx.size and ctx.grid_index is not None:
        codes = ctx.grid_codes(out["lon"].to_numpy()[idx], out["lat"].to_numpy()[idx])
        out.loc[idx, "grid_code"] = codes
        missing = idx[pd.isna(codes)]
        out.loc[missing, "geocode_status"] = "review"
        out.loc[missing, "reason"] = "the point lies outside every grid of the plan"
        out.loc[missing, ["lon", "lat"]] = np.nan
        out.loc[missing, "grid_code"] = None
        found = idx[pd.notna(codes)]
        if found.size:
            g = ctx.grids.drop_duplicates("code").set_index("code")
            for col in ("village_code", "township_code", "county_code"):
                if col in g:
                    values = g[col].reindex(out.loc[found, "grid_code"]).to_numpy(dtype=object)
                    keep = pd.notna(values)
                    out.loc[found[keep], col] = values[keep]
    return out[RESULT_COLUMNS]


def _apply_coordinates(
    ctx: GeocodeContext,
    out: pd.DataFrame,
    idx: np.ndarray,
    raw_lon,
    raw_lat,
    raw_crs,
    gcj02_file: bool | None = None,
    evidence: dict | None = None,
) -> None:
    # Work on column arrays and write them back once: per-cell DataFrame access is slow.
    names = (
        "lon",
        "lat",
        "precision",
        "score",
        "geocode_status",
        "reason",
        "village_code",
        "township_code",
        "county_code",
        "address_id",
        "candidates",
        "coord_flag",
        "_text",
    )
    col = {
        name: out[name].to_numpy(dtype=object if name not in ("lon", "lat", "score") else float).copy()
        for name in names
    }
    lon = _numbers(np.asarray(raw_lon, dtype=object)[idx])
    lat = _numbers(np.asarray(raw_lat, dtype=object)[idx])
    crs, unknown_crs = _crs_names(np.asarray(raw_crs, dtype=object)[idx])
    check = check_declared_points(
        np.where(unknown_crs, np.nan, lon), lat, crs, ctx.city_polygon, ctx.margin_km
    )
    flags = check.flag.copy()
    flags[unknown_crs] = "unknown_crs"
    col["coord_flag"][idx] = flags
    ok = flags == FLAG_OK

    units = ctx.matcher.gazetteer.units
    point_village = (
        ctx.village_index.assign(check.lon, check.lat)
        if ctx.village_index is not None
        else np.full(len(idx), None, dtype=object)
    )
    px, py = (
        np.asarray(v, dtype=float) for v in to_local(np.nan_to_num(check.lon), np.nan_to_num(check.lat))
    )

    # The nearest address candidate of each row (metres) and the candidate villages.
    nearest_d = np.full(len(idx), np.inf)
    nearest = np.full(len(idx), None, dtype=object)
    candidate_villages: list[set] = [set() for _ in idx]
    rows_k, cand = [], []
    for k, row in enumerate(idx):
        for c in col["candidates"][row]:
            if c.get("address_id"):
                rows_k.append(k)
                cand.append(c)
                candidate_villages[k].add(c.get("village_code"))
    if cand:
        rows_k = np.asarray(rows_k)
        cx, cy = to_local(np.array([c["lon"] for c in cand]), np.array([c["lat"] for c in cand]))
        dist = np.hypot(np.asarray(cx) - px[rows_k], np.asarray(cy) - py[rows_k])
        order = np.lexsort((dist, rows_k))
        first = order[np.r_[True, rows_k[order][1:] != rows_k[order][:-1]]]
        nearest_d[rows_k[first]] = dist[first]
        nearest[rows_k[first]] = [cand[j] for j in first]

    # A standard address right at the point, with the road and number the text gives, is the
    # address meant even when the text alone fitted several (the village left out).
    point_k, address_i, distance = ctx.matcher.addresses_within(
        np.where(ok, check.lon, np.nan), check.lat, SNAP_M
    )
    parsed_cache: dict[int, object] = {}
    for k, i, d in zip(point_k, address_i, distance, strict=True):
        if d >= nearest_d[k]:
            continue
        if k not in parsed_cache:
            parsed_cache[k] = parse_address(col["_text"][idx[k]], ctx.matcher.gazetteer)
        parsed = parsed_cache[k]
        road, house, building = ctx.matcher.address_keys(int(i))
        if (
            parsed.house_number
            and parsed.house_number == house
            and parsed.road == road
            and parsed.building in ("", building)
            and ctx.matcher.address_in_area(int(i), parsed.area_level, parsed.areas)
        ):
            nearest[k] = ctx.matcher.address_record(int(i))
            nearest_d[k] = d

    accepted_address = (col["geocode_status"][idx] == "accepted") & np.isin(
        col["precision"][idx], ("address", "grid")
    )
    named_village = col["village_code"][idx]
    named_township = col["township_code"][idx]
    named_county = col["county_code"][idx]
    agree = np.ones(len(idx), dtype=bool)
    for k in np.flatnonzero(ok):
        pv = point_village[k]
        unit = units.get(str(pv)) if pv is not None else None
        if pd.notna(named_village[k]):
            agree[k] = (
                pv == named_village[k]
                or pv in candidate_villages[k]
                or _near_polygon(ctx, named_village[k], px[k], py[k])
            )
        elif pd.notna(named_township[k]):
            agree[k] = unit is not None and unit.township == named_township[k]
        elif pd.notna(named_county[k]):
            agree[k] = unit is not None and unit.county == named_county[k]
    far_from_match = accepted_address & (nearest_d > DISAGREE_M)
    snap = ok & (nearest_d <= SNAP_M)
    use_point = ok & ~snap & agree & ~far_from_match

    # GCJ-02 labelled WGS-84: a point that agrees with its address only once the GCJ-02 shift
    # (about 500 m here) is removed goes to review; when most such evidence in the file says
    # so, every other WGS-84 point of the file does too (it cannot be checked on its own).
    gcj_row, gcj_file = gcj02_suspects(
        ctx,
        check.lon,
        check.lat,
        ok & (crs == "wgs84"),
        rows_k,
        cand,
        nearest_d,
        agree,
        point_village,
        named_village,
        gcj02_file,
        evidence,
    )
    suspect = gcj_row | gcj_file
    snap &= ~suspect
    use_point &= ~suspect

    for k in np.flatnonzero(snap):  # GPS confirms a standard address: the surveyed point is better
        c, row = nearest[k], idx[k]
        col["lon"][row], col["lat"][row] = c["lon"], c["lat"]
        col["precision"][row], col["score"][row] = "address", 100.0
        col["geocode_status"][row], col["reason"][row] = "accepted", ""
        col["address_id"][row] = c["address_id"]
        _set_village(col, row, c.get("village_code"), units)
    rows = idx[use_point]
    col["lon"][rows] = check.lon[use_point]
    col["lat"][rows] = check.lat[use_point]
    col["precision"][rows] = PRECISION_COORDINATES
    col["score"][rows] = 100.0
    col["geocode_status"][rows] = "accepted"
    col["reason"][rows] = ""
    for k in np.flatnonzero(use_point):
        _set_village(col, idx[k], point_village[k], units)

    for k in np.flatnonzero(~snap & ~use_point):  # the few rows a person must look at
        row = idx[k]
        flag = flags[k]
        candidates = list(col["candidates"][row])
        if flag == FLAG_OK and gcj_row[k]:
            reason = GCJ_ROW_REASON
            candidates = [_point_candidate("declared coordinates", check.lon[k], check.lat[k])] + candidates
        elif flag == FLAG_OK and gcj_file[k]:
            reason = GCJ_FILE_REASON
            candidates = [_point_candidate("declared coordinates", check.lon[k], check.lat[k])] + candidates
        elif flag == FLAG_OK:
            if far_from_match[k]:
                reason = f"coordinates are {nearest_d[k] / 1000:.1f} km from the matched standard address"
            else:
                reason = (
                    f"coordinates lie in village {point_village[k] or 'none'}, the address names "
                    f"{named_village[k] if pd.notna(named_village[k]) else named_township[k] if pd.notna(named_township[k]) else named_county[k]}"
                )
            candidates = [_point_candidate("declared coordinates", check.lon[k], check.lat[k])] + candidates
        elif flag == "unknown_crs":
            reason = f"unknown coordinate system {np.asarray(raw_crs, dtype=object)[row]!r}"
        else:
            reason = FLAG_REASONS[flag]
            if flag == FLAG_SWAPPED:
                candidates = [
                    _point_candidate("swapped coordinates", check.suggested_lon[k], check.suggested_lat[k])
                ] + candidates
        col["geocode_status"][row] = "review"
        col["reason"][row] = reason
        col["candidates"][row] = candidates[:6]
    for name in names:
        out[name] = col[name]


GCJ_ROW_REASON = (
    "declared WGS-84, but the point agrees with its address only after removing the GCJ-02 "
    "shift: probably GCJ-02 (declare 坐标系 gcj02 or --crs gcj02)"
)
GCJ_FILE_REASON = (
    "declared WGS-84, but the file's points agree with their addresses only after removing the "
    "GCJ-02 shift: probably GCJ-02 (declare 坐标系 gcj02 or --crs gcj02)"
)
#: the file-wide rule needs at least this many rows whose address decides between the two readings
GCJ_MIN_EVIDENCE = 3


def gcj02_suspects(
    ctx: GeocodeContext,
    lon: np.ndarray,
    lat: np.ndarray,
    declared_wgs84: np.ndarray,
    rows_k,
    cand: list,
    nearest_d: np.ndarray,
    agree: np.ndarray,
    point_village: np.ndarray,
    named_village: np.ndarray,
    file_verdict: bool | None = None,
    evidence: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which declared WGS-84 points (degrees) look like GCJ-02: per row, and file-wide.

    A row is suspect when, read as GCJ-02, its point lies within :data:`SNAP_M` of one of
    its address candidates (or in the village its address names) while, read as WGS-84, it
    does not.  A row *agrees* as declared when it snaps or lies in its named village.  The
    file is suspect when at least :data:`GCJ_MIN_EVIDENCE` rows decide and most of them say
    GCJ-02; then every declared WGS-84 point not confirmed as declared is suspect too.
    ``file_verdict`` overrides that file-wide judgement (the whole file's, for a chunk of it, see
    :func:`gcj02_file_verdict`); ``evidence`` accumulates the counts it rests on.
    """
    n = len(lon)
    row = np.zeros(n, dtype=bool)
    if not declared_wgs84.any():
        if file_verdict:
            return row, declared_wgs84.copy()
        return row, row.copy()
    from gridmap.geocode.transform import gcj02_to_wgs84

    glon, glat = (np.asarray(v, dtype=float) for v in gcj02_to_wgs84(np.nan_to_num(lon), np.nan_to_num(lat)))
    gx, gy = (np.asarray(v, dtype=float) for v in to_local(glon, glat))
    alt_d = np.full(n, np.inf)
    if len(cand):
        rk = np.asarray(rows_k)
        cx, cy = to_local(np.array([c["lon"] for c in cand]), np.array([c["lat"] for c in cand]))
        dist = np.hypot(np.asarray(cx) - gx[rk], np.asarray(cy) - gy[rk])
        np.minimum.at(alt_d, rk, dist)
    alt_village = (
        ctx.village_index.assign(glon, glat)
        if ctx.village_index is not None
        else np.full(n, None, dtype=object)
    )
    named = pd.notna(named_village)
    in_named = named & (point_village == named_village)
    alt_in_named = named & (alt_village == named_village)
    as_declared = (nearest_d <= SNAP_M) | (in_named & ~(alt_d <= SNAP_M))
    as_gcj = (alt_d <= SNAP_M) | (alt_in_named & ~in_named)
    row = declared_wgs84 & as_gcj & ~as_declared
    confirmed = declared_wgs84 & as_declared & ~as_gcj
    if evidence is not None:
        evidence["suspect"] = evidence.get("suspect", 0) + int(row.sum())
        evidence["confirmed"] = evidence.get("confirmed", 0) + int(confirmed.sum())
    file_wide = np.zeros(n, dtype=bool)
    verdict = (
        gcj02_file_verdict(int(row.sum()), int(confirmed.sum())) if file_verdict is None else file_verdict
    )
    if verdict:
        file_wide = declared_wgs84 & ~row & ~confirmed
    return row, file_wide


def gcj02_file_verdict(suspect: int, confirmed: int) -> bool:
    """Whether a file's declared WGS-84 points are GCJ-02 after all: at least
    :data:`GCJ_MIN_EVIDENCE` rows look GCJ-02 and they outnumber those confirmed as declared."""
    return suspect >= GCJ_MIN_EVIDENCE and suspect > confirmed


def _near_polygon(ctx: GeocodeContext, village: str, x: float, y: float) -> bool:
    """Whether LOCAL_CRS point (x, y) lies within VILLAGE_TOLERANCE_M of the village polygon."""
    polygon = ctx.village_polygons.get(str(village))
    if polygon is None:
        return False
    local = shapely.transform(polygon, lambda lon, lat: to_local(lon, lat), interleaved=False)
    return bool(shapely.distance(local, shapely.Point(x, y)) <= VILLAGE_TOLERANCE_M)


def _set_village(col: dict[str, np.ndarray], row: int, village, units) -> None:
    if village is None or pd.isna(village):
        return
    unit = units.get(str(village))
    col["village_code"][row] = village
    col["township_code"][row] = unit.township if unit else None
    col["county_code"][row] = unit.county if unit else None


def _point_candidate(label: str, lon: float, lat: float) -> dict:
    return {"address_id": None, "full_address": label, "score": None, "lon": float(lon), "lat": float(lat)}


def candidates_json(candidates) -> str:
    """Candidates as stored in TEXT columns (JSON, Chinese kept readable)."""
    return json.dumps(list(candidates or []), ensure_ascii=False)


def geocode_cases(
    cases: pd.DataFrame,
    addresses: gpd.GeoDataFrame,
    admin_units: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame | None = None,
    context: GeocodeContext | None = None,
) -> gpd.GeoDataFrame:
    """Fill the geocode fields of a ``cases`` frame (store schema) and return it as a GeoDataFrame.

    Uses ``address_text``, ``raw_lon``, ``raw_lat``, ``raw_crs``; sets ``lon``, ``lat``,
    ``precision``, ``score``, ``geocode_status``, ``reason``, ``grid_code``, ``village_code``,
    ``township_code``, ``county_code`` and the point geometry (WGS-84; None unless accepted).
    """
    ctx = context or GeocodeContext.build(addresses, admin_units, grids)
    frame = pd.DataFrame(cases).drop(columns=["geometry"], errors="ignore").reset_index(drop=True)

    result = geocode_rows(
        ctx, frame["address_text"], frame.get("raw_lon"), frame.get("raw_lat"), frame.get("raw_crs")
    )
    for name in (
        "lon",
        "lat",
        "precision",
        "score",
        "geocode_status",
        "reason",
        "grid_code",
        "village_code",
        "township_code",
        "county_code",
    ):
        frame[name] = result[name].to_numpy()
    accepted = frame["geocode_status"].eq("accepted").to_numpy()
    geometry = np.full(len(frame), None, dtype=object)
    geometry[accepted] = shapely.points(frame["lon"].to_numpy()[accepted], frame["lat"].to_numpy()[accepted])
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=WGS84).values, crs=WGS84)
