"""Scores of a grid forecast against what happened.

* **Poisson log score**: Σ_grids log P(observed | Poisson(expected)) — higher is
  better; it rewards calibrated levels as well as the right ranking.  Treating each
  grid's count as Poisson around the forecast is an assumption (clustered cases are
  overdispersed), the same for every method so the comparison stays fair.
* **PAI** (prediction accuracy index, Chainey et al. 2008): grids are taken in
  forecast order until their area reaches a share ``a`` of the total; PAI = (share of
  cases in them) / (their share of area).
* **PEI** (prediction efficiency index, NIJ 2017): cases in those grids / the most
  cases any set of grids of no more area could hold (the observed counts ranked by
  cases per km², greedily — the knapsack bound is within one grid of it).
* **top share**: share of the cases in the top 10 % of grids by forecast (by count of
  grids, not area).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

AREA_SHARES = (0.01, 0.05, 0.10)


def poisson_log_score(expected: np.ndarray, observed: np.ndarray) -> float:
    """Σ log Poisson pmf of ``observed`` at mean ``expected`` (−inf if a 0 mean meets a case)."""
    mu = np.asarray(expected, float)
    y = np.asarray(observed, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y > 0, y * np.log(mu), 0.0) - mu - gammaln(y + 1)
    return float(terms.sum())


def _ranked_until(order: np.ndarray, area: np.ndarray, budget: float) -> np.ndarray:
    """Grids of ``order`` taken while their cumulative area stays within ``budget`` (at least one)."""
    cum = np.cumsum(area[order])
    k = max(int(np.searchsorted(cum, budget, side="right")), 1)
    return order[:k]


def pai_pei(
    expected: np.ndarray, observed: np.ndarray, area: np.ndarray, share: float
) -> tuple[float, float, float]:
    """(PAI, PEI, hit rate) at ``share`` of the total area."""
    expected, observed, area = (np.asarray(v, float) for v in (expected, observed, area))
    total_cases, total_area = observed.sum(), area.sum()
    if total_cases == 0:
        return float("nan"), float("nan"), float("nan")
    # ties in the forecast are broken by the smaller grid first (more cases per area)
    order = np.lexsort((area, -expected))
    chosen = _ranked_until(order, area, share * total_area)
    hits = observed[chosen].sum()
    chosen_area = area[chosen].sum()
    hit_rate = hits / total_cases
    pai = hit_rate / (chosen_area / total_area)
    best = np.lexsort((area, -observed / np.maximum(area, 1e-12)))
    cum = np.cumsum(area[best])
    k = max(int(np.searchsorted(cum, chosen_area * (1 + 1e-9), side="right")), 1)
    best_hits = observed[best[:k]].sum()
    pei = hits / best_hits if best_hits > 0 else float("nan")
    return float(pai), float(pei), float(hit_rate)


def top_count(share: float, n_grids: int) -> int:
    """How many grids "the top ``share`` of grids" is (at least one): the one cut-off of the
    top-10 % share, the watch list and the rank bands."""
    return max(int(round(share * n_grids)), 1)


def top_share(expected: np.ndarray, observed: np.ndarray, share: float = 0.10) -> float:
    """Share of the cases in the top ``share`` of grids by forecast."""
    observed = np.asarray(observed, float)
    if observed.sum() == 0:
        return float("nan")
    k = top_count(share, len(observed))
    order = np.argsort(-np.asarray(expected, float), kind="stable")
    return float(observed[order[:k]].sum() / observed.sum())


def score(expected: np.ndarray, observed: np.ndarray, area: np.ndarray) -> dict[str, float]:
    """Every metric of one forecast: log_score, pai_1/5/10, pei_1/5/10, top10_share, cases, expected."""
    out = {"log_score": poisson_log_score(expected, observed)}
    for share in AREA_SHARES:
        pai, pei, _ = pai_pei(expected, observed, area, share)
        tag = f"{round(share * 100)}"
        out[f"pai_{tag}"] = pai
        out[f"pei_{tag}"] = pei
    out["top10_share"] = top_share(expected, observed, 0.10)
    out["cases"] = float(np.asarray(observed).sum())
    out["expected"] = float(np.asarray(expected).sum())
    return out
