"""Rolling-origin backtest: each month forecast from what was known the day before.

For every origin month from ``origin_from`` to ``origin_to`` (inclusive) each method
sees only the cases reported before the origin's first day
(:meth:`gridmap.forecast.data.CaseHistory.before`) and forecasts that month; the
month's observed counts score it (:mod:`gridmap.forecast.metrics`).  An ``oracle`` (the
true intensity, known for simulated processes) may be scored beside the methods: the
**skill** of a method is then the share of the oracle's log-score improvement over the
12-month climatology (``rolling_12``) that the method achieves.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from gridmap.errors import InputError
from gridmap.forecast import metrics
from gridmap.forecast.data import CaseHistory, GridLayer, MethodForecast, parse_month
from gridmap.forecast.methods import METHODS, REFERENCE, run_method

Oracle = Callable[[np.datetime64], np.ndarray]


@dataclass(frozen=True)
class BacktestResult:
    """Per (method, origin) scores in ``table``; means per method in ``summary``.

    ``best_method`` is the default for the kind (:func:`choose_default`);
    ``skill`` (in ``summary``, only with an oracle) = (LS − LS_climatology) /
    (LS_oracle − LS_climatology), averaged over origins by summing first; with an oracle,
    ``pai_5_true`` and ``top10_share_true`` score each ranking against the true intensity
    instead of the observed draw (:func:`_ranking_against_truth`).
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    best_method: str
    origins: tuple[str, ...]
    seconds: float
    fitted: dict[str, dict]

    def format(self) -> str:
        cols = ["log_score", "pai_1", "pai_5", "pai_10", "pei_1", "pei_5", "pei_10", "top10_share"]
        cols += [c for c in ("pai_5_true", "top10_share_true", "skill") if c in self.summary]
        frame = self.summary[cols].copy()
        lines = [
            f"backtest over {len(self.origins)} origins {self.origins[0]} … {self.origins[-1]} "
            f"({self.seconds:.1f} s); log score = mean per month, higher is better"
        ]
        lines.append(frame.to_string(float_format=lambda v: f"{v:,.3f}"))
        lines.append(
            f"default (best mean log score with hit concentration ≥ the naive baselines'): {self.best_method}"
        )
        return "\n".join(lines)

    def to_png(self) -> bytes:
        """Two panels: log score over the climatology per origin, and PAI at 5 % / top-10 % share."""
        return self._png

    @cached_property
    def _png(self) -> bytes:
        # drawn once: the CLI stores it and writes it (matplotlib costs ~1 s to import and draw)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
        pivot = self.table.pivot(index="origin", columns="method", values="log_score")
        ref = pivot.get(REFERENCE, 0.0)
        positions = np.arange(len(pivot))
        for method in pivot.columns:
            ax1.plot(
                positions,
                pivot[method] - ref,
                marker="o",
                ms=3,
                label=method,
                lw=2.4 if method == self.best_method else 1.2,
                ls="--" if method == "oracle" else "-",
            )
        ax1.axhline(0, color="grey", lw=0.8)
        ax1.set_title("Poisson log score minus 12-month climatology")
        ax1.set_xticks(positions, list(pivot.index), rotation=60, fontsize=7)
        ax1.legend(fontsize=7)
        s = self.summary
        xs = np.arange(len(s))
        ax2.bar(xs - 0.2, s["pai_5"], 0.4, label="PAI at 5 % of area")
        ax2b = ax2.twinx()
        ax2b.bar(xs + 0.2, s["top10_share"], 0.4, color="tab:orange", label="share in top 10 % grids")
        ax2.set_xticks(xs, s.index, rotation=45, fontsize=8)
        ax2.set_ylabel("PAI 5 %")
        ax2b.set_ylabel("top-10 % share")
        ax2.set_title("hit concentration (mean over origins)")
        fig.legend(loc="lower right", fontsize=7)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return buf.getvalue()


#: the naive baselines a default must not fall behind on hit concentration
NAIVE = ("last_period", "rolling_3", "rolling_12")


def choose_default(summary: pd.DataFrame) -> str:
    """The method with the best mean log score among those whose PAI at 5 % of the area and
    top-10 % share are at least every naive baseline's (a commander reads the top of the list,
    so a better-calibrated forecast that ranks worse is not the default); else the best log score.

    Only methods whose log score beats the 12-month climatology's are candidates (the
    climatology itself only when nothing does): a naive forecast that happens to rank best
    over a year of sparse months must not become the default with no skill.
    """
    candidates = summary.drop(index=[m for m in ("oracle",) if m in summary.index])
    if REFERENCE in candidates.index:
        better = candidates[candidates["log_score"] > candidates.loc[REFERENCE, "log_score"]]
        candidates = better if len(better) else candidates
    naive = summary.loc[[m for m in NAIVE if m in summary.index]]
    if len(naive):
        ok = (candidates["pai_5"] >= naive["pai_5"].max() - 1e-12) & (
            candidates["top10_share"] >= naive["top10_share"].max() - 1e-12
        )
        if ok.any():
            candidates = candidates[ok]
    return str(candidates["log_score"].idxmax())


def _ranking_against_truth(expected: np.ndarray, truth: np.ndarray, area: np.ndarray) -> dict[str, float]:
    """PAI at 5 % and top-10 % share with the true intensity in place of the month's draw.

    The observed month of a sparse process is one Poisson draw: at ~50 cases a month the
    naive baselines beat the true intensity itself in some months.  Scored against the
    expected counts, the ranking's skill is seen without that draw's noise.
    """
    pai, _, _ = metrics.pai_pei(expected, truth, area, 0.05)
    return {"pai_5_true": pai, "top10_share_true": metrics.top_share(expected, truth, 0.10)}


def month_range(origin_from: str | np.datetime64, origin_to: str | np.datetime64) -> list[np.datetime64]:
    lo, hi = parse_month(origin_from), parse_month(origin_to)
    if hi < lo:
        raise InputError(f"backtest origins run from {lo} to {hi}: the end is before the start")
    return [lo + i for i in range(int((hi - lo).astype(int)) + 1)]


def backtest(
    grids: GridLayer,
    history: CaseHistory,
    origin_from: str | np.datetime64,
    origin_to: str | np.datetime64,
    methods: tuple[str, ...] | None = None,
    oracle: Oracle | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> BacktestResult:
    """Score ``methods`` (default: all) at every monthly origin; see the module docstring."""
    started = time.perf_counter()
    methods = tuple(methods or METHODS)
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise InputError(f"unknown forecast methods {sorted(unknown)}; known: {list(METHODS)}")
    origins = month_range(origin_from, origin_to)
    if origins[0] - 2 < history.first_month:
        raise InputError(
            f"the first origin {origins[0]} needs at least two months of cases before it "
            f"(cases start {history.first_month})"
        )
    rows = []
    fitted: dict[str, dict] = {}
    near = grids.neighbourhood(1000.0)
    for k, origin in enumerate(origins):
        known = history.before(origin)
        observed = history.counts_in(len(grids), origin)
        forecasts: list[MethodForecast] = [run_method(m, grids, known, origin, near=near) for m in methods]
        truth = None
        if oracle is not None:
            truth = np.asarray(oracle(origin), float)
            forecasts.append(MethodForecast("oracle", origin, 1, truth))
        for f in forecasts:
            row = {
                "method": f.method,
                "origin": str(origin),
                **metrics.score(f.expected, observed, grids.area_km2),
            }
            if truth is not None:
                row.update(_ranking_against_truth(f.expected, truth, grids.area_km2))
            rows.append(row)
            if f.params:
                fitted.setdefault(f.method, {})[str(origin)] = f.params
        if progress:
            progress((k + 1) / len(origins), f"origin {origin} scored")
    table = pd.DataFrame(rows)
    summary = table.drop(columns="origin").groupby("method", sort=False).mean()
    if oracle is not None and REFERENCE in summary.index:
        gain = summary.loc["oracle", "log_score"] - summary.loc[REFERENCE, "log_score"]
        summary["skill"] = (
            (summary["log_score"] - summary.loc[REFERENCE, "log_score"]) / gain if gain > 0 else np.nan
        )
    best = choose_default(summary)
    return BacktestResult(
        table, summary, best, tuple(str(o) for o in origins), time.perf_counter() - started, fitted
    )
