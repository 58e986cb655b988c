"""Address matching: free-text case addresses → standard addresses (标准地址), with a score.

The cascade, per distinct normalized text (the first level that finds something wins):

1. **exact** — the normalized text equals a normalized standard address (score 100);
2. **road + house number** — the parsed road is a road of the parsed village (else
   township, county, city) and the house number exists on it exactly (plus the building);
3. **fuzzy road + house number** — the road is compared with the roads of the parsed
   admin area (rapidfuzz ratio ≥ :data:`FUZZY_ROAD_CUTOFF`); the house number must
   still match exactly.  House numbers are *never* fuzzy: ``123号`` never matches ``132号``;
4. **road** — road known but house number missing: the point is the middle of the road's
   addresses in the area; candidates are the numerically nearest house numbers;
5. **village / township / county** — the representative point of the deepest unit recognised.

Only address-level matches scoring at least :data:`ACCEPT_SCORE` are ``accepted``;
every other result is ``review`` (with up to five candidates) or ``rejected`` (empty
address, no admin area recognised).

**Grid precision.** With the grid of every standard address known
(:meth:`AddressMatcher.on_grids`, set by :class:`gridmap.geocode.batch.GeocodeContext`),
a text that fits several standard addresses equally well (``通顺大街1号`` without the
building: every 栋 of that number) is still accepted when *all* of them lie in one grid:
the grid, which is what cases are counted by, is certain even though the address is not.
Such a result has precision ``grid`` and the point of the most-populated candidate.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from gridmap.crs import WGS84
from gridmap.geocode.normalize import normalize_address, normalize_name
from gridmap.geocode.parse import Gazetteer, ParsedAddress, building_key, house_number_key, parse_address

#: Acceptance threshold (0–100) for address-precision matches.  Derived with
#: :func:`calibrate_threshold` (the lowest score above every match that put a case on a
#: wrong grid) on the address-only cases of the synthetic city, calibration half of each
#: run (``gridmap.geocode.evaluate.evaluate(..., calibration_share=0.5)``): seed 1 and
#: seed 2 at scale 0.05 gave 91.0 and 93.0, seed 7 at scale 1 gave 90.33.  Matches that
#: landed on a wrong grid scored at most 68 (several addresses fit equally); the lowest
#: right ones are a similar road name at county level (≈ 90.3).  90 lies below every
#: calibrated value and 22 points above the worst wrong match.  Re-derive with
#: ``bench/geocode.py --calibrate``.
ACCEPT_SCORE = 90.0

#: rapidfuzz ``fuzz.ratio`` a road name must reach to be considered the same road (0–100)
FUZZY_ROAD_CUTOFF = 60.0

#: ``grid``: several standard addresses fit equally, all in one grid (see the module doc)
PRECISION_GRID = "grid"
PRECISIONS = ("address", PRECISION_GRID, "road", "village", "township", "county", "none")
STATUSES = ("accepted", "review", "rejected")
MAX_CANDIDATES = 5

# Score of a road+house match by the admin level the road was looked up in.
_LEVEL_SCORE = {"village": 98.0, "township": 95.0, "county": 91.0, "": 82.0}
_SKIPPED_TEXT_PENALTY = 6.0  # unreadable text between the admin part and the road
# Unread text that names a unit (…村, …嘎查, …社区) or stands before a hamlet group (3组, found
# in every village) means the village meant was not the one recognised: never automatic.
_SKIPPED_UNIT_PENALTY = 30.0
_SKIPPED_UNIT = re.compile(r"(?:村|嘎查|社区|委会|镇|乡|苏木|街道|旗|县|区)$")
_GROUP_ROAD = re.compile(r"^\d+组$")
_FUZZY_ROAD_WEIGHT = 0.05  # points lost per point of road dissimilarity
_FUZZY_ROAD_PENALTY = 3.0
_FUZZY_ROAD_MARGIN = 10.0  # a runner-up road this close (ratio points) makes the choice ambiguous
_AMBIGUOUS_PENALTY = 30.0  # several addresses fit equally well
_BUILDING_MISSING_PENALTY = 25.0  # the building given does not exist at that house number
_ROAD_SCORE = 50.0
_AREA_SCORE = {"village": 40.0, "township": 30.0, "county": 20.0}

MATCH_COLUMNS = [
    "normalized",
    "precision",
    "score",
    "status",
    "reason",
    "address_id",
    "lon",
    "lat",
    "county_code",
    "township_code",
    "village_code",
    "candidates",
]


@dataclass
class _Outcome:
    precision: str
    score: float
    status: str
    reason: str
    address_index: int  # -1 if none
    lon: float
    lat: float
    county: str | None
    township: str | None
    village: str | None
    candidates: list[dict]


def calibrate_threshold(scores: Sequence[float], correct: Sequence[bool], floor: float = 0.0) -> float:
    """Lowest acceptance threshold with no incorrect result at or above it.

    ``scores`` are the scores of address-precision matches, ``correct`` whether each
    landed on the right address (or grid).  Returns ``max(floor, next score above the
    best-scoring wrong match)``; with no wrong match, ``max(floor, lowest score)``.
    """
    scores = np.asarray(scores, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    if scores.size == 0:
        return float(floor)
    if correct.all():
        return float(max(floor, scores.min()))
    worst_wrong = scores[~correct].max()
    above = scores[scores > worst_wrong]
    threshold = above.min() if above.size else worst_wrong + 1e-6
    return float(max(floor, threshold))


def _first_int(key: str) -> int:
    digits = key.split("-")[0]
    return int(digits) if digits.isdigit() else -1


class AddressMatcher:
    """Match address texts against a standard-address table.

    Parameters
    ----------
    addresses : GeoDataFrame
        Standard addresses with columns ``address_id``, ``full_address``, ``county_code``,
        ``township_code``, ``village_code``, ``road``, ``house_number``, ``building`` and
        point geometry (converted to WGS-84 if in another CRS).
    admin_units : GeoDataFrame
        Admin units (``code``, ``name``, ``level``, ``parent_code``, geometry; village and
        township polygons give the representative points of village/township-level results).
    accept_score : float
        Threshold for ``accepted`` (default :data:`ACCEPT_SCORE`).
    """

    def __init__(
        self,
        addresses: gpd.GeoDataFrame,
        admin_units: gpd.GeoDataFrame,
        accept_score: float = ACCEPT_SCORE,
        fuzzy_road_cutoff: float = FUZZY_ROAD_CUTOFF,
    ) -> None:
        self.accept_score = float(accept_score)
        self.fuzzy_road_cutoff = float(fuzzy_road_cutoff)
        a = addresses
        if isinstance(a, gpd.GeoDataFrame) and a.crs is not None and not a.crs.equals(WGS84):
            a = a.to_crs(WGS84)
        a = a.reset_index(drop=True)
        n = len(a)
        self._ids = a["address_id"].astype(str).to_numpy(dtype=object)
        self._full = a["full_address"].astype(str).to_numpy(dtype=object)
        geom = a.geometry if isinstance(a, gpd.GeoDataFrame) else gpd.GeoSeries([None] * n)
        self._lon = np.asarray(geom.x, dtype=float) if n else np.zeros(0)
        self._lat = np.asarray(geom.y, dtype=float) if n else np.zeros(0)

        def codes(col: str) -> np.ndarray:
            if col not in a:
                return np.full(n, "", dtype=object)
            return a[col].fillna("").astype(str).to_numpy(dtype=object)

        self._households = (
            pd.to_numeric(a["households"], errors="coerce").fillna(0).to_numpy(dtype=float)
            if "households" in a
            else np.zeros(n)
        )
        self._village = codes("village_code")
        self._township = codes("township_code")
        self._county = codes("county_code")
        road = _mapped(a["road"] if "road" in a else pd.Series([""] * n), normalize_name)
        house = _mapped(a["house_number"] if "house_number" in a else pd.Series([""] * n), house_number_key)
        building = _mapped(a["building"] if "building" in a else pd.Series([""] * n), building_key)
        self._road = road
        self._house = house
        self._building = building
        self._house_int = np.array([_first_int(h) for h in pd.unique(house)], dtype=np.int64)
        house_int_map = dict(zip(pd.unique(house), self._house_int, strict=True))
        self._house_int = (
            np.array([house_int_map[h] for h in house], dtype=np.int64) if n else np.zeros(0, int)
        )

        # (area, road, house) → rows and (area, road) → rows, per admin level; built on first use
        # because most texts stop at the village level.
        self._by_area: dict[str, dict] = {}
        self._road_by_area: dict[str, dict] = {}
        normalized_full = _normalized_addresses(pd.Series(self._full))
        self._exact: dict[str, list[int]] = {}
        for i, key in enumerate(normalized_full):
            self._exact.setdefault(key, []).append(i)

        units = pd.DataFrame(admin_units).copy()
        units["code"] = units["code"].astype(str)
        self.gazetteer = Gazetteer.build(
            units, pd.DataFrame({"road": self._road, "village_code": self._village})
        )
        self._unit_points = self._representative_points(admin_units)
        self._tree = None  # STRtree of address points in LOCAL_CRS metres, built on first use
        self._grid: np.ndarray | None = None  # grid code of every address (on_grids); None: unknown

    def on_grids(self, address_grids: np.ndarray) -> AddressMatcher:
        """This matcher, knowing the grid code of every standard address (None/NaN: in no grid).

        Returns a shallow copy (the indexes are shared), so one matcher serves several plans.
        ``address_grids`` is aligned with the address rows the matcher was built from.
        """
        grids = np.asarray(address_grids, dtype=object)
        if grids.shape != self._ids.shape:
            raise ValueError(f"{grids.size} grid codes for {self._ids.size} standard addresses")
        other = copy.copy(self)
        other._grid = grids
        return other

    def one_grid(self, rows) -> str | None:
        """The grid code shared by every address row in ``rows``, else None (also when grids are unknown)."""
        if self._grid is None or len(rows) == 0:
            return None
        codes = pd.unique(pd.Series(self._grid[np.asarray(rows, dtype=np.int64)], dtype=object))
        if len(codes) != 1 or pd.isna(codes[0]):
            return None
        return str(codes[0])

    # --- construction helpers ------------------------------------------------------
    def _representative_points(self, admin_units: gpd.GeoDataFrame) -> dict[str, tuple[float, float]]:
        """code → (lon, lat): a point inside the unit's polygon, else the mean of its addresses."""
        points: dict[str, tuple[float, float]] = {}
        if isinstance(admin_units, gpd.GeoDataFrame) and len(admin_units):
            units = (
                admin_units
                if admin_units.crs is None or admin_units.crs.equals(WGS84)
                else admin_units.to_crs(WGS84)
            )
            geom = units.geometry
            has = geom.notna() & ~geom.is_empty
            if has.any():
                rep = geom[has].representative_point()
                for code, x, y in zip(units.loc[has, "code"].astype(str), rep.x, rep.y, strict=True):
                    points[code] = (float(x), float(y))
        frame = pd.DataFrame(
            {
                "v": self._village,
                "t": self._township,
                "c": self._county,
                "x": self._lon,
                "y": self._lat,
            }
        )
        for col in ("v", "t", "c"):
            means = frame.groupby(col)[["x", "y"]].mean()
            for code, x, y in zip(means.index, means["x"], means["y"], strict=True):
                if code and code not in points:
                    points[str(code)] = (float(x), float(y))
        return points

    # --- lookups -------------------------------------------------------------------
    def addresses_within(
        self, lon: np.ndarray, lat: np.ndarray, max_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Standard addresses within ``max_m`` metres of WGS-84 points: (point index, address row, metres)."""
        import shapely

        from gridmap.crs import to_local

        if self._tree is None:
            x, y = to_local(self._lon, self._lat)
            self._local = shapely.points(np.asarray(x), np.asarray(y))
            self._tree = shapely.STRtree(self._local)
        finite = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        empty = np.zeros(0, dtype=np.int64)
        if not finite.size or not len(self._ids):
            return empty, empty, np.zeros(0)
        x, y = to_local(np.asarray(lon)[finite], np.asarray(lat)[finite])
        points = shapely.points(np.asarray(x), np.asarray(y))
        point_i, address_i = self._tree.query(points, predicate="dwithin", distance=max_m)
        distance = shapely.distance(points[point_i], self._local[address_i])
        return finite[point_i], address_i, distance

    def address_keys(self, i: int) -> tuple[str, str, str]:
        """(road, house number, building) keys of address row ``i``, as :func:`parse_address` spells them."""
        return self._road[i], self._house[i], self._building[i]

    def address_in_area(self, i: int, level: str | None, areas) -> bool:
        """Whether address row ``i`` lies in one of ``areas`` (codes at admin ``level``; no level: anywhere)."""
        column = self._area_column(level) if level else None
        return column is None or column[i] in areas

    def address_record(self, i: int) -> dict:
        return self._candidate(i, 100.0)

    def _area_column(self, level: str) -> np.ndarray | None:
        return {"village": self._village, "township": self._township, "county": self._county}.get(level)

    def _index(self, level: str, with_house: bool) -> dict:
        cache = self._by_area if with_house else self._road_by_area
        index = cache.get(level)
        if index is None:
            area = self._area_column(level)
            parts = (
                ([area] if area is not None else []) + [self._road] + ([self._house] if with_house else [])
            )
            keys = zip(*parts, strict=True) if len(parts) > 1 else iter(parts[0])
            index = {}
            for i, key in enumerate(keys):
                index.setdefault(key, []).append(i)
            cache[level] = index
        return index

    def _lookup(self, level: str, areas: Sequence[str], road: str, house: str) -> np.ndarray:
        index = self._index(level, with_house=True)
        if level == "":
            hit = index.get((road, house))
            return np.asarray(hit if hit is not None else [], dtype=np.int64)
        parts = [index.get((a, road, house)) for a in areas]
        parts = [p for p in parts if p is not None]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(parts)).astype(np.int64)

    def _road_rows(self, level: str, areas: Sequence[str], road: str) -> np.ndarray:
        index = self._index(level, with_house=False)
        if level == "":
            hit = index.get(road)
            return np.asarray(hit if hit is not None else [], dtype=np.int64)
        parts = [index.get((a, road)) for a in areas]
        parts = [p for p in parts if p is not None]
        return np.unique(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def _candidate(self, i: int, score: float) -> dict:
        return {
            "address_id": self._ids[i],
            "full_address": self._full[i],
            "score": round(float(score), 1),
            "lon": float(self._lon[i]),
            "lat": float(self._lat[i]),
            "village_code": self._village[i] or None,
        }

    # --- the cascade ---------------------------------------------------------------
    def _address_candidates(self, p: ParsedAddress) -> tuple[list[tuple[int, float]], str, str, bool]:
        """Rows matching road (exact, then fuzzy) and house number exactly.

        Returns (rows with scores, how, problem, same_grid): ``same_grid`` is True when the
        best rows tie and all lie in one grid (precision ``grid``).
        """
        level = p.area_level or ""
        areas = p.areas
        base = _LEVEL_SCORE[level]
        if p.skipped:
            base -= _SKIPPED_TEXT_PENALTY
            if _SKIPPED_UNIT.search(p.skipped) or _GROUP_ROAD.match(p.road):
                base -= _SKIPPED_UNIT_PENALTY
        scored: dict[int, float] = {}
        how = ""
        if p.road_known:
            for i in self._lookup(level, areas, p.road, p.house_number):
                scored[int(i)] = base
            how = "road and house number"
        if not scored and p.road and level:
            scored, how = self._fuzzy_road_rows(p, level, base), "similar road name and house number"
        if not scored:
            return [], how, "", False
        # Equal scores: the address with more households first (cases happen where people live).
        rows = sorted(scored.items(), key=lambda kv: (-kv[1], -self._households[kv[0]], self._ids[kv[0]]))
        problem = ""
        # The building decides between several addresses at one house number.
        if p.building:
            same = [(i, s) for i, s in rows if self._building[i] == p.building]
            if same:
                rows = same + [
                    (i, s - _AMBIGUOUS_PENALTY) for i, s in rows if self._building[i] != p.building
                ]
            else:
                rows = [(i, s - _BUILDING_MISSING_PENALTY) for i, s in rows]
                problem = f"building {p.building} not found at that house number"
        else:
            plain = [(i, s) for i, s in rows if self._building[i] == ""]
            if plain:
                rows = plain + [(i, s - _AMBIGUOUS_PENALTY) for i, s in rows if self._building[i] != ""]
        same_grid = False
        if len(rows) > 1 and rows[0][1] == rows[1][1]:
            tied = [i for i, s in rows if s == rows[0][1]]
            if self.one_grid(tied) is not None:
                same_grid = True
            else:
                rows = [(i, s - _AMBIGUOUS_PENALTY) for i, s in rows]
                problem = problem or f"{len(tied)} standard addresses match equally"
        return rows, how, problem, same_grid

    def _fuzzy_road_rows(self, p: ParsedAddress, level: str, base: float) -> dict[int, float]:
        """Rows on roads of the area whose name is close to the parsed road, with this exact house number.

        A road closer than the runner-up by a clear margin keeps most of the score (one typed
        character off a three-character name is the common slip); near-ties are penalised
        like any other ambiguity.
        """
        choices = self.gazetteer.roads_in_areas(p.areas)
        choices.discard(p.road)
        if not choices:
            return {}
        found: list[tuple[float, np.ndarray]] = []
        for road, similarity, _ in process.extract(
            p.road, choices, scorer=fuzz.ratio, limit=None, score_cutoff=self.fuzzy_road_cutoff
        ):
            rows = self._lookup(level, p.areas, road, p.house_number)
            if rows.size:
                found.append((float(similarity), rows))
        if not found:
            return {}
        found.sort(key=lambda item: -item[0])
        best = found[0][0]
        scored: dict[int, float] = {}
        for similarity, rows in found:
            score = base - _FUZZY_ROAD_PENALTY - (100.0 - similarity) * _FUZZY_ROAD_WEIGHT
            if similarity < best or (len(found) > 1 and found[1][0] > best - _FUZZY_ROAD_MARGIN):
                score -= (
                    _AMBIGUOUS_PENALTY if similarity > best - _FUZZY_ROAD_MARGIN else _AMBIGUOUS_PENALTY + 5
                )
            for i in rows:
                scored[int(i)] = max(scored.get(int(i), 0.0), score)
        return scored

    def _outcome_for_rows(
        self, p: ParsedAddress, rows: list[tuple[int, float]], how: str, problem: str, same_grid: bool = False
    ) -> _Outcome:
        best, score = rows[0]
        candidates = [self._candidate(i, s) for i, s in rows[:MAX_CANDIDATES]]
        accepted = score >= self.accept_score
        reason = (
            "" if accepted else (problem or f"match by {how} scored {score:.0f} < {self.accept_score:.0f}")
        )
        if accepted:
            codes = (self._county[best] or None, self._township[best] or None, self._village[best] or None)
        else:  # only what the text itself said: the best candidate is a guess
            codes = (p.county, p.township, p.village)
        return _Outcome(
            PRECISION_GRID if same_grid else "address",
            score,
            "accepted" if accepted else "review",
            reason,
            best,
            float(self._lon[best]),
            float(self._lat[best]),
            *codes,
            candidates,
        )

    def _road_outcome(self, p: ParsedAddress) -> _Outcome | None:
        level = p.area_level or ""
        road = p.road
        rows = self._road_rows(level, p.areas, road) if p.road_known else np.zeros(0, dtype=np.int64)
        if rows.size == 0:
            return None
        lon = float(np.median(self._lon[rows]))
        lat = float(np.median(self._lat[rows]))
        target = _first_int(p.house_number) if p.house_number else -1
        if target >= 0:
            order = np.lexsort((self._ids[rows].astype(str), np.abs(self._house_int[rows] - target)))
        else:
            order = np.argsort(self._ids[rows].astype(str), kind="stable")
        rows = rows[order][:MAX_CANDIDATES]
        candidates = [self._candidate(int(i), _ROAD_SCORE - k) for k, i in enumerate(rows)]
        villages = set(self._village[rows])
        reason = (
            f"house number {p.house_number} not found on {road}"
            if p.house_number
            else f"no house number on {road}"
        )
        return _Outcome(
            "road",
            _ROAD_SCORE,
            "review",
            reason,
            -1,
            lon,
            lat,
            p.county,
            p.township,
            villages.pop() if len(villages) == 1 else p.village,
            candidates,
        )

    def _area_outcome(self, p: ParsedAddress) -> _Outcome:
        level = p.area_level
        if level is None:
            return _Outcome(
                "none", 0.0, "rejected", "no admin area recognised", -1, np.nan, np.nan, None, None, None, []
            )
        if len(p.areas) > 1:
            reason = f"{level} name is ambiguous ({len(p.areas)} units)"
            lon = lat = np.nan
        else:
            reason = f"only the {level} was recognised" + (f"; road {p.road!r} unknown" if p.road else "")
            lon, lat = self._unit_points.get(p.areas[0], (np.nan, np.nan))
        return _Outcome(
            level, _AREA_SCORE[level], "review", reason, -1, lon, lat, p.county, p.township, p.village, []
        )

    def match_one(self, text: str | None) -> _Outcome:
        s = normalize_address(text) if isinstance(text, str) else ""
        if not s:
            return _Outcome(
                "none", 0.0, "rejected", "empty address", -1, np.nan, np.nan, None, None, None, []
            )
        exact = self._exact.get(s)
        if exact is not None and len(exact) == 1:
            i = int(exact[0])
            return _Outcome(
                "address",
                100.0,
                "accepted" if self.accept_score <= 100.0 else "review",
                "",
                i,
                float(self._lon[i]),
                float(self._lat[i]),
                self._county[i] or None,
                self._township[i] or None,
                self._village[i] or None,
                [self._candidate(i, 100.0)],
            )
        p = parse_address(s, self.gazetteer)
        if p.house_number and p.road:
            rows, how, problem, same_grid = self._address_candidates(p)
            if rows:
                return self._outcome_for_rows(p, rows, how, problem, same_grid)
        road = self._road_outcome(p)
        if road is not None:
            return road
        return self._area_outcome(p)

    def match(self, texts: Iterable[str | None]) -> pd.DataFrame:
        """Match every text; one output row per input, in input order (index 0..n-1).

        Columns: ``normalized``, ``precision`` (address | road | village | township | county | none),
        ``score`` (0–100), ``status`` (accepted | review | rejected), ``reason``, ``address_id``,
        ``lon``/``lat`` (WGS-84 degrees; NaN when nothing was placed), ``county_code``,
        ``township_code``, ``village_code``, ``candidates`` (list of up to 5 dicts with
        address_id, full_address, score, lon, lat, village_code).
        """
        series = pd.Series(list(texts), dtype=object)
        series = series.where(series.map(lambda v: isinstance(v, str)), "")
        codes, uniques = pd.factorize(series, sort=False)
        outcomes = [self.match_one(t) for t in uniques]
        normalized = [normalize_address(t) for t in uniques]
        table = pd.DataFrame(
            {
                "normalized": normalized,
                "precision": [o.precision for o in outcomes],
                "score": np.array([o.score for o in outcomes], dtype=float),
                "status": [o.status for o in outcomes],
                "reason": [o.reason for o in outcomes],
                "address_id": [
                    self._ids[o.address_index] if o.address_index >= 0 else None for o in outcomes
                ],
                "lon": np.array([o.lon for o in outcomes], dtype=float),
                "lat": np.array([o.lat for o in outcomes], dtype=float),
                "county_code": [o.county for o in outcomes],
                "township_code": [o.township for o in outcomes],
                "village_code": [o.village for o in outcomes],
                "candidates": [o.candidates for o in outcomes],
            }
        )
        if len(series) == 0:
            return pd.DataFrame({c: pd.Series(dtype=table[c].dtype) for c in MATCH_COLUMNS})
        return table.iloc[codes].reset_index(drop=True)[MATCH_COLUMNS]


def _mapped(values: pd.Series, func) -> np.ndarray:
    """``func`` applied once per distinct value (addresses repeat roads and house numbers a lot)."""
    values = pd.Series(values, dtype=object).fillna("").astype(str)
    codes, uniques = pd.factorize(values, sort=False)
    mapped = np.array([func(u) for u in uniques], dtype=object)
    return mapped[codes] if len(values) else np.zeros(0, dtype=object)


#: text that normalization leaves unchanged: simplified CJK, digits, upper-case Latin, '-', with
#: no Chinese numeral and no leading province/city prefix (standard addresses almost always are)
_CANONICAL_CANDIDATE = r"^(?!内蒙|通辽)[\u4e00-\u9fff0-9A-Z\-]+$"
_NUMERAL_CHARS = r"[零〇○一二两三四五六七八九十百千]"


def _normalized_addresses(full: pd.Series) -> np.ndarray:
    """:func:`normalize_address` of every standard address, skipping the (many) that are canonical already.

    The check is a vectorized regex; a text that passes it is one normalization would not
    change, so only the rest (traditional characters, numerals, spaces …) pay for the full pass.
    """
    text = full.fillna("").astype(str)
    maybe = text.str.fullmatch(_CANONICAL_CANDIDATE) & ~text.str.contains(_NUMERAL_CHARS, regex=True)
    out = text.to_numpy(dtype=object).copy()
    todo = ~maybe.to_numpy(dtype=bool)
    if todo.any():
        out[todo] = _mapped(text[todo], normalize_address)
    if maybe.any():
        # simplified-only check on the candidates: a traditional character means it is not canonical
        from gridmap.geocode.normalize import _traditional_chars

        traditional = _traditional_chars()
        cand = np.flatnonzero(~todo)
        joined = "".join(out[cand])
        if any(ch in traditional for ch in set(joined)):
            flagged = [i for i in cand if any(ch in traditional for ch in out[i])]
            out[flagged] = [normalize_address(out[i]) for i in flagged]
    return out
