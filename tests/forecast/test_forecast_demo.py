"""The skill targets of issue #14 on the demo city (the session's scale-1 demo build).

The oracle is the synthetic generator's own expected count per grid
(:func:`gridmap.synth.intensity.expected_by_address`, by :class:`~gridmap.synth.intensity.AddressIntensity`,
summed over each grid's addresses),
given the cases before each origin.  Over the 12 monthly origins of 2024 the default of
each kind (chosen by the backtest) must capture at least half of the oracle's log-score
improvement over the 12-month climatology, and reach the naive baselines' PAI at 5 % of the
area and share of cases in the top 10 % of grids.  Marked ``slow`` (it needs the scale-1 demo).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gridmap.forecast.backtest import NAIVE, backtest
from gridmap.forecast.runs import load_inputs
from gridmap.hotspots.aggregate import locate_in_polygons
from gridmap.synth.intensity import AddressIntensity, city_frames

KIND = "dispute"
#: measured shortfalls (seeded, so strict).  None since hgb chooses its training window by
#: validation on the months before each origin (gridmap/forecast/hgb.py): with a fixed 24 months
#: the petitions' top-10 % share was below last month's persistence forecast's (0.208 vs 0.224)
SHORT: set[tuple[str, str]] = set()
RANKING = ("pai_5", "top10_share", "pai_5_true", "top10_share_true")


#: the last city's (points, cases, grid of each address): the same for both kinds, built once
_FRAMES: dict = {}


def _city_frames(city, grid_geometry):
    key = (id(city), b"".join(grid_geometry.to_wkb()))
    if _FRAMES.get("key") == key:
        return _FRAMES["frames"]
    points, cases = city_frames(city)
    addresses = city.addresses.reset_index(drop=True)
    grid_of = locate_in_polygons(
        addresses.geometry.x.to_numpy(), addresses.geometry.y.to_numpy(), grid_geometry
    )
    _FRAMES.clear()
    _FRAMES.update(key=key, city=city, frames=(points, cases, grid_of))  # city: its id stays its own
    return points, cases, grid_of


def _oracle(store, city, grid_geometry, kind: str = KIND):
    points, cases, grid_of = _city_frames(city, grid_geometry)

    # the generator's yearly totals are its inputs; only earlier cases trigger
    intensity = AddressIntensity(points, city.truth, cases, kind)
    inside = grid_of >= 0

    def oracle(origin):
        per_address = intensity(origin)
        return np.bincount(grid_of[inside], weights=per_address[inside], minlength=len(grid_geometry))

    return oracle


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["dispute", "petition"])
def test_demo_city_forecast_meets_the_skill_targets(demo_store, demo_build, kind, request):
    inputs = load_inputs(demo_store, kind)
    oracle = _oracle(demo_store, demo_build.city, inputs.geometry, kind)
    result = backtest(inputs.grids, inputs.history, "2024-01", "2024-12", oracle=oracle)
    artifacts = Path(__file__).resolve().parents[1] / "artifacts"
    artifacts.mkdir(exist_ok=True)
    suffix = "" if kind == "dispute" else f"_{kind}"
    (artifacts / f"forecast_demo_backtest{suffix}.txt").write_text(result.format() + "\n", encoding="utf-8")
    (artifacts / f"forecast_demo_backtest{suffix}.png").write_bytes(result.to_png())
    s = result.summary
    best = result.best_method
    assert s.loc["oracle", "log_score"] > s.loc["rolling_12", "log_score"], result.format()
    assert s.loc[best, "skill"] >= 0.5, result.format()
    assert result.seconds < 60 * 3, result.format()  # the 60 s target is measured in bench/forecast.py
    # the *_true columns rank against the oracle's expected counts instead of the month's draw
    met = {m: s.loc[best, m] >= s.loc[list(NAIVE), m].max() for m in RANKING}
    short = {m for m in met if (kind, m) in SHORT}
    assert all(met[m] for m in met if m not in short), result.format()
    if short:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"{kind}: {sorted(short)} below naive"))
        assert all(met[m] for m in short), result.format()
