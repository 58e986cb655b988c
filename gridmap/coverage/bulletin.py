"""The monthly 通报 (bulletin) an office circulates: the city and each county, XLSX and HTML.

One bulletin per unit and month holds

* the month's figures with 同比: disputes found/resolved, petitions in cases and persons, agent
  items taken/done, follow-up rate and satisfaction (:func:`gridmap.coverage.kpi.governance_kpis`);
* the trend: the twelve months up to the month (disputes found/resolved, petitions);
* the top grids by cases reported in the month;
* the petition agents behind on duty in the month: patrol gaps over the limit, follow-up visits
  missing, items open past deadline (:mod:`gridmap.coverage.duty`, the audit's thresholds).

The HTML is self-contained (inline SVG charts and styles, no script, no URL) so it opens
offline and prints; the XLSX has the same tables, one sheet each, with native Excel charts.
Only aggregates and worker ids appear — no names, phones or case parties.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.coverage.audit import AuditThresholds, duty_tables
from gridmap.coverage.duty import agents_of
from gridmap.coverage.kpi import governance_kpis, headline, monthly_trend, unit_codes
from gridmap.coverage.periods import Period, parse_period
from gridmap.coverage.report import _CSS, table_html, trend_svg
from gridmap.domain import AREA_CODE
from gridmap.errors import InputError

TOP_GRIDS = 10
TREND_MONTHS = 12
SUMMARY_LABELS = {
    "found": "矛盾纠纷排查 disputes found",
    "resolved": "化解 resolved",
    "resolution_rate": "化解率 resolution rate",
    "petitions_cases": "信访件次 petitions (cases)",
    "petitions_persons": "信访人次 petitions (persons)",
    "items_taken": "代办件数 agent items",
    "items_done": "办结 done",
    "done_rate": "办结率 done rate",
    "followup_rate": "回访率 follow-up rate",
    "mean_visit_satisfaction": "满意度 satisfaction (1–5)",
}
AGENT_LABELS = {
    "worker_id": "代办员 agent",
    "post": "驻点 post",
    "longest_gap_days": "最长未巡查天数 longest gap (days)",
    "days_patrolled": "巡查天数 days patrolled",
    "followups_missing": "未按期回访 follow-ups missing",
    "items_overdue": "超期事项 items overdue",
}


@dataclass(frozen=True)
class Bulletin:
    """One unit's monthly bulletin (frames are ready to print or export)."""

    unit_code: str
    unit_name: str
    level: str  # city | county
    month: Period
    summary: pd.DataFrame  # measure, label, value, previous, yoy_ratio
    headline: tuple[str, ...]
    trend: pd.DataFrame  # month, found, resolved, petitions
    top_grids: pd.DataFrame  # grid_code, cases
    agents_behind: pd.DataFrame  # AGENT_LABELS columns
    thresholds: AuditThresholds

    @property
    def stem(self) -> str:
        return f"通报_{self.unit_code}_{self.month.start:%Y-%m}"


def _month(month: str | Period) -> Period:
    period = parse_period(month)
    if (
        period.start.day != 1
        or (period.end - period.start).days > 31
        or period.start.month != period.end.month
    ):
        raise InputError(f"bulletin month {month!r}: give one calendar month, e.g. 2024-12")
    return period


def build_bulletin(
    cases: pd.DataFrame,
    items: pd.DataFrame | None,
    visits: pd.DataFrame | None,
    workers: pd.DataFrame | None,
    patrols: pd.DataFrame | None,
    month: str | Period,
    unit_code: str = AREA_CODE,
    level: str = "city",
    admin_units: pd.DataFrame | None = None,
    thresholds: AuditThresholds | None = None,
    kpis: pd.DataFrame | None = None,
) -> Bulletin:
    """The bulletin of ``unit_code`` (``level`` city or county) for one calendar ``month``.

    ``cases``: the cases table (personal columns ignored), at least the trend's twelve months and
    the same months a year earlier; ``items``/``visits``: the petition-agency tables; ``workers``:
    with the agents (role ``agent``); ``patrols``: the agents' check-ins of the month; ``kpis``:
    the month's :func:`governance_kpis` table of ``level`` when already computed (one per level
    serves every county).
    """
    if level not in ("city", "county"):
        raise InputError(f"bulletin level {level!r}: city or county")
    period = _month(month)
    thresholds = thresholds or AuditThresholds.from_settings()
    if kpis is None:
        kpis = governance_kpis(cases, items, visits, level, period, admin_units=admin_units)
    row = kpis[kpis["unit_code"] == unit_code]
    if row.empty:
        raise InputError(f"unit {unit_code!r} is not a {level} of the records")
    row = row.iloc[0]
    summary = pd.DataFrame(
        {
            "measure": list(SUMMARY_LABELS),
            "label": list(SUMMARY_LABELS.values()),
            "value": [row.get(m, np.nan) for m in SUMMARY_LABELS],
            "previous": [row.get(f"{m}_prev", np.nan) for m in SUMMARY_LABELS],
            "yoy_ratio": [row.get(f"{m}_yoy_ratio", np.nan) for m in SUMMARY_LABELS],
        }
    )
    mine = unit_codes(cases, level, admin_units).to_numpy() == unit_code
    unit_cases = cases[mine]
    first = (period.start_ts - pd.DateOffset(months=TREND_MONTHS - 1)).date()
    window = parse_period(None, start=first, end=period.end)
    disputes = monthly_trend(unit_cases, window, ("dispute",))
    petitions = monthly_trend(unit_cases, window, ("petition",))
    trend = disputes.assign(petitions=petitions["found"].to_numpy())
    in_month = unit_cases[unit_cases["reported_at"].astype(str).str[:7] == f"{period.start:%Y-%m}"]
    top = in_month["grid_code"].dropna().astype(str).value_counts().head(TOP_GRIDS)
    top_grids = pd.DataFrame({"grid_code": top.index.to_numpy(dtype=object), "cases": top.to_numpy(np.int64)})

    agents = agents_of(workers)
    if len(agents):
        post_units = unit_codes(agents.rename(columns={"worker_id": "id"}), level, admin_units).to_numpy()
        agents = agents[post_units == unit_code]
    duty = duty_tables(
        agents,
        patrols if patrols is not None else pd.DataFrame(columns=["worker_id", "ts"]),
        items,
        visits,
        period,
        thresholds,
    ).agents
    behind = duty[
        (duty["longest_gap_days"] > thresholds.agent_max_days_without_patrol)
        | (duty["followups_missing"] > 0)
        | (duty["items_overdue"] > 0)
    ]
    behind = behind.assign(post=behind["village_code"].fillna(behind["township_code"]))
    behind = behind.sort_values(
        ["longest_gap_days", "items_overdue", "followups_missing", "worker_id"],
        ascending=[False, False, False, True],
        ignore_index=True,
    )[list(AGENT_LABELS)]
    name = str(row.get("unit_name") or unit_code)
    return Bulletin(
        unit_code, name, level, period, summary, tuple(headline(row)), trend, top_grids, behind, thresholds
    )


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def bars_svg(labels, values, title: str, width: int = 760, colour: str = "#d7301f") -> str:
    """Inline SVG horizontal bar chart (one bar per label, value written at its end)."""
    labels, values = list(map(str, labels)), np.asarray(values, dtype=float)
    if not len(labels):
        return "<p>(无 none)</p>"
    bar, gap, left, right = 18, 6, 150, 60
    height = len(labels) * (bar + gap) + 10
    top_value = max(float(values.max()), 1.0)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}">'
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 5 + i * (bar + gap)
        w = (width - left - right) * value / top_value
        parts.append(f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">{_e(label)}</text>')
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}">'
            f"<title>{_e(label)}: {value:g}</title></rect>"
        )
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 13}" font-size="11">{value:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _value(value, measure: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    if measure.endswith("rate"):
        return f"{value:.1%}"
    if measure == "mean_visit_satisfaction":
        return f"{value:.2f}"
    return f"{int(value):,}"


def render_bulletin(b: Bulletin) -> str:
    """The bulletin as one self-contained HTML page (inline SVG charts, no script, no URL)."""
    generated = datetime.now().strftime("%Y-%m-%d %H:%M")
    rows = "".join(
        f'<tr><td class="t">{_e(r.label)}</td><td>{_value(r.value, r.measure)}</td>'
        f"<td>{_value(r.previous, r.measure)}</td>"
        f"<td>{'–' if pd.isna(r.yoy_ratio) else f'{r.yoy_ratio:+.1%}'}</td></tr>"
        for r in b.summary.itertuples()
    )
    t = b.thresholds
    trend = b.trend.rename(columns={"found": "found", "resolved": "resolved"})
    body = [
        f"<h1>{_e(b.unit_name)} {b.month.start:%Y年%m月} 矛盾纠纷排查化解与信访代办工作通报</h1>",
        f'<p class="meta">Monthly bulletin · unit {_e(b.unit_code)} · generated {generated} · synthetic demo data '
        "where the records say so</p>",
        "<h2>一、本月概况 Figures of the month (同比 year on year)</h2>",
        '<table><thead><tr><th class="t">指标 measure</th><th>本月 month</th><th>去年同月 a year earlier</th>'
        f"<th>同比 YoY</th></tr></thead><tbody>{rows}</tbody></table>",
        "<h2>二、近12个月趋势 Trend, last 12 months</h2>",
        '<div class="chart" id="trend">' + trend_svg(trend) + "</div>",
        '<p class="meta">信访件次 petitions per month</p><div class="chart" id="petition-trend">'
        + bars_svg(b.trend["month"], b.trend["petitions"], "petitions per month", colour="#756bb1")
        + "</div>",
        "<h2>三、案件最多的网格 Top grids by cases this month</h2>",
        '<div class="chart" id="top-grids">'
        + bars_svg(b.top_grids["grid_code"], b.top_grids["cases"], "top grids")
        + "</div>",
        "<h2>四、履职滞后的信访代办员 Agents behind on duty</h2>",
        f'<p class="meta">连续未日巡查超过 {t.agent_max_days_without_patrol} 天 · 办结后 {t.followup_within_days} 天内'
        f"未回访 · 事项超期未办结 — {len(b.agents_behind)} agents</p>",
        '<div class="chart" id="agents-behind">'
        + bars_svg(
            b.agents_behind["worker_id"].head(20),
            b.agents_behind["longest_gap_days"].head(20),
            "agents' longest patrol gap (days)",
            colour="#fc8d59",
        )
        + "</div>",
        table_html(b.agents_behind, AGENT_LABELS),
    ]
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{_e(b.stem)}</title><style>{_CSS}</style></head><body>" + "".join(body) + "</body></html>"
    )


def write_bulletin(b: Bulletin, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.xlsx`` (sheets 概况, 趋势, 网格, 代办员 with charts) into ``out_dir``."""
    from openpyxl import load_workbook
    from openpyxl.chart import BarChart, LineChart, Reference

    from gridmap.coverage.export import write_xlsx

    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(f"{out}: no such directory")
    page = out / f"{b.stem}.html"
    page.write_text(render_bulletin(b), encoding="utf-8")
    book_path = out / f"{b.stem}.xlsx"
    write_xlsx(
        {"概况": b.summary, "趋势": b.trend, "网格": b.top_grids, "代办员": b.agents_behind}, book_path
    )
    book = load_workbook(book_path)
    sheet = book["趋势"]
    n = len(b.trend)
    if n:
        line = LineChart()
        line.title, line.y_axis.title = "近12个月趋势 trend", "件 cases"
        line.add_data(Reference(sheet, min_col=2, max_col=4, min_row=1, max_row=n + 1), titles_from_data=True)
        line.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=n + 1))
        sheet.add_chart(line, "F2")
    if len(b.top_grids):
        grids = book["网格"]
        chart = BarChart()
        chart.type, chart.title = "bar", "案件最多的网格 top grids"
        chart.add_data(
            Reference(grids, min_col=2, min_row=1, max_row=len(b.top_grids) + 1), titles_from_data=True
        )
        chart.set_categories(Reference(grids, min_col=1, min_row=2, max_row=len(b.top_grids) + 1))
        grids.add_chart(chart, "D2")
    book.save(book_path)
    return page, book_path
