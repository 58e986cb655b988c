"""How well the geocoder does on the synthetic city, where the truth is known.

:func:`evaluate` geocodes a :class:`gridmap.synth.city.SynthCity`'s cases and compares
with ``case_truth``: grid of the chosen point vs grid of the true point.  Without a grid
plan, H3 resolution-9 cells (≈ 0.1 km², finer than real grids) stand in for the grids.

A typed address can be **inherently ambiguous**: ``科尔沁区大林镇1组3号`` (the village
left out) names the 1组3号 of every village of 大林镇.  Such cases cannot be placed by
any matcher and are reported separately: a case is ambiguous when more than one standard
address agrees with every part its text still has (county, township, village name,
road, house number, building).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.crs import WGS84
from gridmap.geocode.assign import GridIndex
from gridmap.geocode.batch import GeocodeContext, geocode_rows
from gridmap.geocode.match import calibrate_threshold
from gridmap.geocode.normalize import normalize_address


@dataclass
class Evaluation:
    """Figures for address-only cases (no declared coordinates) and for all cases."""

    address_only: int = 0
    auto_correct: int = 0
    auto_wrong: int = 0
    review: int = 0
    rejected: int = 0
    review_top3: int = 0
    ambiguous: int = 0
    unambiguous_auto_correct: int = 0
    unambiguous_review: int = 0
    unambiguous_review_top3: int = 0
    all_cases: int = 0
    all_status: dict[str, int] = field(default_factory=dict)
    all_wrong_grid_accepted: int = 0
    calibrated_threshold: float | None = None
    seconds: float = 0.0
    frame: pd.DataFrame | None = None

    @property
    def auto_share(self) -> float:
        return self.auto_correct / max(self.address_only, 1)

    @property
    def unambiguous(self) -> int:
        return self.address_only - self.ambiguous

    @property
    def unambiguous_auto_share(self) -> float:
        return self.unambiguous_auto_correct / max(self.unambiguous, 1)

    @property
    def review_top3_share(self) -> float:
        return self.review_top3 / max(self.review, 1)

    @property
    def unambiguous_review_top3_share(self) -> float:
        return self.unambiguous_review_top3 / max(self.unambiguous_review, 1)

    def summary(self) -> str:
        return "\n".join(
            [
                f"address-only cases: {self.address_only:,}",
                f"  automatically on the right grid: {self.auto_correct:,} ({self.auto_share:.2%}); "
                f"wrong grid among acceptances: {self.auto_wrong}",
                f"  review {self.review:,}, rejected {self.rejected:,}; right candidate in the first three for "
                f"{self.review_top3:,} of {self.review:,} review cases ({self.review_top3_share:.1%})",
                f"  inherently ambiguous texts: {self.ambiguous:,}; of the {self.unambiguous:,} others "
                f"{self.unambiguous_auto_share:.2%} automatic and right, right candidate in the first three for "
                f"{self.unambiguous_review_top3_share:.1%} of their {self.unambiguous_review:,} review cases",
                f"all cases: {self.all_cases:,} {self.all_status}; accepted on a wrong grid: {self.all_wrong_grid_accepted}",
                f"calibrated threshold on these cases: {self.calibrated_threshold}",
                f"geocoding took {self.seconds:.1f} s",
            ]
        )


def h3_proxy_grids(lon: np.ndarray, lat: np.ndarray, resolution: int = 9) -> gpd.GeoDataFrame:
    """The H3 cells (WGS-84 polygons, ``code`` = cell id) containing the given points, and their neighbours."""
    import h3
    from shapely.geometry import Polygon

    seeds = {h3.latlng_to_cell(float(y), float(x), resolution) for x, y in zip(lon, lat, strict=True)}
    # with the neighbours, so that a point a few metres off (GPS noise) still has a cell
    cells = sorted({n for c in seeds for n in h3.grid_disk(c, 1)})
    polygons = [Polygon([(x, y) for y, x in h3.cell_to_boundary(c)]) for c in cells]
    return gpd.GeoDataFrame({"code": cells}, geometry=polygons, crs=WGS84)


_BUILDING = re.compile(r"\d+栋")


def ambiguous_mask(city, cases: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """True where more than one standard address fits every part left in the case's text."""
    from gridmap.synth.admin import short_village_name

    a = pd.DataFrame(city.addresses).drop(columns="geometry")
    units = city.admin_units.set_index("code")
    a["village_short"] = short_village_name(
        units.loc[a["village_code"], "name"].reset_index(drop=True)
    ).to_numpy()
    t = truth.set_index("address_id")
    info = a.set_index("address_id").loc[truth["address_id"]].reset_index()
    variants = truth["text_variants"].fillna("").to_numpy()
    no_village = np.array(["no_village" in v for v in variants])
    no_township = np.array(["no_township" in v for v in variants])
    normalized = [normalize_address(x) for x in cases["address_text"]]
    no_building = (
        np.array([not _BUILDING.search(x) for x in normalized])
        & (info["building"].fillna("") != "").to_numpy()
    )
    del t
    keys = ["county_code", "township_code", "village_short", "road", "house_number", "building"]
    out = np.zeros(len(truth), dtype=bool)
    for nv in (False, True):
        for nt in (False, True):
            for nb in (False, True):
                sel = (no_village == nv) & (no_township == nt) & (no_building == nb)
                if not sel.any():
                    continue
                used = [
                    k
                    for k in keys
                    if not (
                        (k == "village_short" and nv)
                        or (k == "township_code" and nt)
                        or (k == "building" and nb)
                    )
                ]
                counts = a.groupby(used, dropna=False).size()
                key_rows = info.loc[sel, used]
                idx = pd.MultiIndex.from_frame(key_rows) if len(used) > 1 else key_rows[used[0]]
                out[sel] = counts.reindex(idx).fillna(0).to_numpy() > 1
    return out


def evaluate(
    city,
    grids: gpd.GeoDataFrame | None = None,
    context: GeocodeContext | None = None,
    calibration_share: float = 0.0,
) -> Evaluation:
    """Geocode ``city.cases`` and score them against ``city.case_truth`` (see the module doc).

    ``calibration_share`` > 0 reports :func:`~gridmap.geocode.match.calibrate_threshold` on
    that share of the address-only cases (chosen by case id), for re-deriving ACCEPT_SCORE.
    """
    truth = city.case_truth.set_index("case_id").loc[city.cases["case_id"]].reset_index()
    if grids is None:
        a = city.addresses
        grids = h3_proxy_grids(
            np.concatenate([a.geometry.x.to_numpy(), truth["lon"].to_numpy()]),
            np.concatenate([a.geometry.y.to_numpy(), truth["lat"].to_numpy()]),
        )
    ctx = context or GeocodeContext.build(city.addresses, city.admin_units, grids)
    cases = pd.DataFrame(city.cases).reset_index(drop=True)
    t0 = time.perf_counter()
    result = geocode_rows(ctx, cases["address_text"], cases["raw_lon"], cases["raw_lat"], cases["raw_crs"])
    seconds = time.perf_counter() - t0
    # the true point is the true standard address's own point (case_truth rounds it to 1e-7°)
    true_lon, true_lat = _address_points(ctx, truth["address_id"])
    true_grid = GridIndex(grids).assign(true_lon, true_lat)

    accepted = result["geocode_status"].eq("accepted").to_numpy()
    right = accepted & (result["grid_code"].to_numpy(dtype=object) == true_grid)
    address_only = ~(cases["raw_lon"].notna() | cases["raw_lat"].notna()).to_numpy()
    review = result["geocode_status"].eq("review").to_numpy()
    top3 = np.array(
        [
            t in [c.get("address_id") for c in cands[:3]]
            for t, cands in zip(truth["address_id"], result["candidates"], strict=True)
        ]
    )
    ambiguous = ambiguous_mask(city, cases, truth) & address_only

    ev = Evaluation(
        address_only=int(address_only.sum()),
        auto_correct=int((right & address_only).sum()),
        auto_wrong=int((accepted & ~right & address_only).sum()),
        review=int((review & address_only).sum()),
        rejected=int((result["geocode_status"].eq("rejected").to_numpy() & address_only).sum()),
        review_top3=int((review & address_only & top3).sum()),
        ambiguous=int(ambiguous.sum()),
        unambiguous_auto_correct=int((right & address_only & ~ambiguous).sum()),
        unambiguous_review=int((review & address_only & ~ambiguous).sum()),
        unambiguous_review_top3=int((review & address_only & ~ambiguous & top3).sum()),
        all_cases=len(cases),
        all_status=result["geocode_status"].value_counts().to_dict(),
        all_wrong_grid_accepted=int((accepted & ~right).sum()),
        seconds=seconds,
    )
    frame = pd.DataFrame(
        {
            "case_id": cases["case_id"],
            "address_text": cases["address_text"],
            "variants": truth["text_variants"],
            "address_only": address_only,
            "ambiguous": ambiguous,
            "status": result["geocode_status"],
            "precision": result["precision"],
            "score": result["score"],
            "reason": result["reason"],
            "address_id": result["address_id"],
            "true_address_id": truth["address_id"],
            "grid_code": result["grid_code"],
            "true_grid": true_grid,
            "right": right,
            "top3": top3,
        }
    )
    # whether the best-matching standard address (accepted or not) lies on the right grid
    point_grid = GridIndex(grids).assign(*_address_points(ctx, result["address_id"]))
    frame["match_grid_right"] = point_grid == true_grid
    ev.frame = frame
    if calibration_share > 0:
        chosen = (
            pd.util.hash_pandas_object(cases["case_id"], index=False).to_numpy() % 1000
        ) < calibration_share * 1000
        addr = address_only & chosen & result["precision"].eq("address").to_numpy()
        ev.calibrated_threshold = calibrate_threshold(
            result["score"].to_numpy()[addr], frame["match_grid_right"].to_numpy()[addr]
        )
    return ev


def _address_points(ctx: GeocodeContext, address_ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    m = ctx.matcher
    index = pd.Index(m._ids)
    pos = index.get_indexer(address_ids.fillna("").to_numpy())
    lon = np.where(pos >= 0, m._lon[np.maximum(pos, 0)], np.nan)
    lat = np.where(pos >= 0, m._lat[np.maximum(pos, 0)], np.nan)
    return lon, lat
