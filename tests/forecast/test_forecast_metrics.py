"""PAI, PEI, top-10 % share and the Poisson log score on hand-made grids."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gridmap.forecast.metrics import pai_pei, poisson_log_score, score, top_share


def test_poisson_log_score_is_the_sum_of_log_pmfs():
    mu = np.array([0.5, 2.0, 3.0])
    y = np.array([0, 3, 1])
    assert poisson_log_score(mu, y) == pytest.approx(stats.poisson.logpmf(y, mu).sum())
    assert poisson_log_score(np.array([0.0]), np.array([1])) == -np.inf


def test_pai_and_pei_by_hand():
    # ten grids of 1 km² each; cases only in grids 0 and 1
    area = np.ones(10)
    observed = np.array([6, 4, 0, 0, 0, 0, 0, 0, 0, 0])
    perfect = observed + 0.1
    pai, pei, hit = pai_pei(perfect, observed, area, 0.10)
    assert hit == pytest.approx(0.6) and pai == pytest.approx(6.0) and pei == pytest.approx(1.0)
    # a forecast that ranks grid 1 first: 4 of 10 cases in 10 % of the area; the best was 6
    wrong = np.array([0.5, 0.9, 0.1, 0, 0, 0, 0, 0, 0, 0], float)
    pai, pei, hit = pai_pei(wrong, observed, area, 0.10)
    assert hit == pytest.approx(0.4) and pai == pytest.approx(4.0) and pei == pytest.approx(4 / 6)


def test_area_budget_counts_area_not_grids():
    area = np.array([1.0, 1, 1, 1, 1, 1, 1, 1, 1, 91])
    observed = np.array([3, 2, 1, 0, 0, 0, 0, 0, 0, 10])
    expected = np.array([9, 2, 1.5, 1, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    # 5 % of 100 km²: the five 1-km² grids ranked first
    pai, pei, hit = pai_pei(expected, observed, area, 0.05)
    assert (
        hit == pytest.approx(6 / 16) and pai == pytest.approx((6 / 16) / 0.05) and pei == pytest.approx(1.0)
    )
    # a huge grid ranked first is taken alone (at least one grid): the area actually used counts
    pai, _pei, hit = pai_pei(expected[::-1], observed, area, 0.05)
    assert hit == pytest.approx(10 / 16) and pai == pytest.approx((10 / 16) / 0.91)


def test_top_share_and_score_keys():
    observed = np.arange(20)[::-1].astype(float)
    expected = observed.copy()
    assert top_share(expected, observed, 0.10) == pytest.approx((19 + 18) / observed.sum())
    s = score(expected + 0.1, observed, np.ones(20))
    assert set(s) == {
        "log_score",
        "pai_1",
        "pai_5",
        "pai_10",
        "pei_1",
        "pei_5",
        "pei_10",
        "top10_share",
        "cases",
        "expected",
    }
    assert s["pei_10"] == pytest.approx(1.0)
