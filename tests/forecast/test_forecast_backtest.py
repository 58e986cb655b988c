"""The skill targets of issue #14 on simulated county processes nobody tuned on.

Each process is drawn with parameters from a generator seeded here — a different seed,
branching ratio, time scale, season, drift and size from anything the methods were
developed on:

* ``dispute`` / ``petition``: :func:`gridmap.forecast.simulate.simulate_county` (lattice,
  cosine season, one drifting zone, triggering within the grid) at dispute-like and at
  petition-like levels (fewer cases, slower and rarer repeats);
* ``poisson``: :func:`gridmap.forecast.simulate.simulate_square_county` without triggering —
  an inhomogeneous Poisson process with a festival-and-summer season, hot zones that drift,
  appear and fade, grids of two sizes, and low counts;
* ``hawkes``: the same builder with triggering whose children cross grid borders.

Over 12 monthly origins the default (chosen by the backtest) must capture at least half of
the log-score improvement over the 12-month climatology that the true intensity achieves,
and reach the naive baselines' PAI at 5 % of the area and share of cases in the top 10 % of
grids.
"""

from __future__ import annotations

import numpy as np
import pytest

from gridmap.errors import InputError
from gridmap.forecast.backtest import backtest
from gridmap.forecast.metrics import top_share
from gridmap.forecast.simulate import simulate_county, simulate_square_county

NAIVE = ("last_period", "rolling_3", "rolling_12")


def _unseen_county(kind: str = "dispute"):
    rng = np.random.default_rng(90514 if kind == "dispute" else 14)
    dispute = kind == "dispute"
    return simulate_county(
        seed=int(rng.integers(1_000_000)),
        side=int(rng.integers(18, 24)),
        cell_m=float(rng.uniform(600, 1000)),
        cases_per_year=float(rng.uniform(1800, 3200) if dispute else rng.uniform(500, 900)),
        theta=float(rng.uniform(0.2, 0.5) if dispute else rng.uniform(0.2, 0.35)),
        omega=1.0 / float(rng.uniform(7, 25) if dispute else rng.uniform(15, 30)),
        season_amplitude=float(rng.uniform(0.1, 0.35)),
        zone_amplitude=float(rng.uniform(1.5, 4.0)),
        zone_speed_m_per_month=float(rng.uniform(100, 400)),
        towns=int(rng.integers(2, 6)),
    )


def _square_county(triggering: bool):
    rng = np.random.default_rng(2014 if triggering else 1402)
    return simulate_square_county(
        seed=int(rng.integers(1_000_000)),
        side=int(rng.integers(12, 16)),
        cases_per_year=float(rng.uniform(600, 1200) if triggering else rng.uniform(250, 500)),
        theta=float(rng.uniform(0.2, 0.45)) if triggering else 0.0,
        omega=1.0 / float(rng.uniform(7, 25)),
        sigma_m=float(rng.uniform(150, 400)) if triggering else 0.0,
        festival=float(rng.uniform(0.5, 1.5)),
        summer=float(rng.uniform(0.1, 0.4)),
        zones=int(rng.integers(2, 4)),
    )


PROCESSES = {
    "dispute": lambda: _unseen_county("dispute"),
    "petition": lambda: _unseen_county("petition"),
    "poisson": lambda: _square_county(False),
    "hawkes": lambda: _square_county(True),
}
_RESULTS: dict = {}


def _backtest(name: str):
    if name not in _RESULTS:
        county = PROCESSES[name]()
        _RESULTS[name] = (
            county,
            backtest(county.grids, county.history, "2024-01", "2024-12", oracle=county.true_expected),
        )
    return _RESULTS[name]


@pytest.fixture(scope="module")
def county_backtest():
    return _backtest("dispute")


#: where the default falls short of a target (measured, seeded: strict, so a fix shows up).
#: None since hgb is held by monotonic constraints and small, shrunk trees (gridmap/forecast/hgb.py):
#: before, at low counts it fell short on the petition-level county (PAI at 5 % 4.77 below rolling
#: 3's 5.14) and the Poisson county (PAI at 5 % 4.43, top-10 % share 0.245 below the climatology's
#: 4.83 and 0.248).  A year of sparse months is a noisy judge of ranking, so a future shortfall
#: goes here with its figures rather than loosening the targets.
SHORT: set[tuple[str, str]] = set()


@pytest.mark.parametrize("name", list(PROCESSES))
def test_default_meets_the_skill_targets_on_unseen_processes(name, request):
    _county, result = _backtest(name)
    s = result.summary
    best = result.best_method
    assert best != "oracle" and best in s.index
    assert len(result.origins) == 12
    assert s.loc["oracle", "log_score"] > s.loc["rolling_12", "log_score"], "the truth must beat climatology"
    assert s.loc[best, "skill"] >= 0.5, result.format()
    met = {m: s.loc[best, m] >= s.loc[list(NAIVE), m].max() for m in ("pai_5", "top10_share")}
    expected_short = {m for m in met if (name, m) in SHORT}
    assert all(met[m] for m in met if m not in expected_short), result.format()
    if expected_short:
        request.applymarker(
            pytest.mark.xfail(strict=True, reason=f"{name}: {sorted(expected_short)} below naive")
        )
        assert all(met[m] for m in expected_short), result.format()


@pytest.mark.parametrize("name", list(PROCESSES))
def test_default_ranks_the_true_intensity_at_least_as_well_as_the_naive_baselines(name):
    """The ranking criterion without the observed month's Poisson noise: each forecast's top
    5 % of area and top 10 % of grids are scored against the true expected counts."""
    _county, result = _backtest(name)
    s = result.summary
    best = result.best_method
    for metric in ("pai_5_true", "top10_share_true"):
        assert s.loc[best, metric] >= s.loc[list(NAIVE), metric].max(), result.format()


def test_backtest_table_plot_and_honest_origins(county_backtest):
    county, result = county_backtest
    assert set(result.table["method"]) == {
        "last_period",
        "rolling_3",
        "rolling_12",
        "kde",
        "sepp",
        "hgb",
        "oracle",
    }
    # observed cases per origin are the month's cases, the same for every method
    per_origin = result.table.pivot(index="origin", columns="method", values="cases")
    assert (per_origin.nunique(axis=1) == 1).all()
    jan = county.history.in_month(np.datetime64("2024-01")).sum()
    assert per_origin.loc["2024-01"].iloc[0] == jan
    png = result.to_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert f"naive baselines'): {result.best_method}" in result.format()


def test_a_method_never_sees_the_month_it_forecasts(monkeypatch):
    """Every method gets the history cut at the origin: a case in the target month cannot leak."""
    import gridmap.forecast.backtest as bt

    seen = []

    def spy(name, grids, history, origin, horizon_months=1, near=None):
        seen.append(history.t.max() < (origin.astype("datetime64[D]").astype(np.int64)))
        return real(name, grids, history, origin, horizon_months, near=near)

    real = bt.run_method
    monkeypatch.setattr(bt, "run_method", spy)
    county = simulate_county(seed=5, side=8, years=2, cases_per_year=600)
    bt.backtest(county.grids, county.history, "2023-06", "2023-08", methods=("rolling_3", "sepp"))
    assert seen and all(seen)


def test_bad_origins_are_refused():
    county = simulate_county(seed=5, side=6, years=1, cases_per_year=300)
    with pytest.raises(InputError, match="before the start"):
        backtest(county.grids, county.history, "2022-09", "2022-06")
    with pytest.raises(InputError, match="two months"):
        backtest(county.grids, county.history, "2022-01", "2022-03")
    with pytest.raises(InputError, match="unknown forecast methods"):
        backtest(county.grids, county.history, "2022-06", "2022-07", methods=("magic",))


def test_hgb_chooses_its_window_on_forecasts_of_months_before_the_origin():
    """hgb's training window is scored on the months before the origin, each forecast from the
    cases before its own month (what a forecast made then would have seen), and its cached fits
    give what fresh fits give."""
    from gridmap.forecast import hgb

    county = simulate_county(seed=5, side=10, years=3, cases_per_year=900)
    origin = np.datetime64("2024-09")
    known = county.history.before(origin)
    hgb.clear_fits()
    chosen = hgb.forecast_hgb(county.grids, known, origin)
    window = chosen.params["train_months"]
    assert window in hgb.WINDOWS and tuple(sorted(hgb.WINDOWS)) == hgb.WINDOWS
    hgb.clear_fits()
    scores = {}
    for w in hgb.WINDOWS:
        shares = []
        for back in range(hgb.VALIDATION_MONTHS, 0, -1):
            month = origin - back
            fresh = hgb.forecast_hgb(county.grids, county.history.before(month), month, train_months=w)
            shares.append(top_share(fresh.expected, county.history.counts_in(len(county.grids), month), 0.10))
        scores[w] = np.mean(shares)
        assert chosen.params[f"validation_top10_{w}"] == round(scores[w], 4)
    # the best mean share wins; a tie keeps the shorter window
    assert window == min(w for w in hgb.WINDOWS if scores[w] == max(scores.values()))
    hgb.clear_fits()
    fresh = hgb.forecast_hgb(county.grids, known, origin, train_months=window)
    np.testing.assert_array_equal(fresh.expected, chosen.expected)
