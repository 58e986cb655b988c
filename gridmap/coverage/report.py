"""A printable, self-contained HTML audit report (网格巡查覆盖审计报告).

One file, no network: the coverage-gap map and the trend chart are inline SVG drawn
here from the grid polygons and monthly counts; styles are inline; there is no
script and no URL.  Only aggregated figures and worker ids appear — never names,
phones or case parties.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.coverage.audit import FINDING_KINDS, AuditResult
from gridmap.crs import LOCAL_CRS, WGS84

#: map colours per grid status (ColorBrewer RdYlGn, print-friendly)
STATUS_COLOURS = {
    "no_active_worker": "#d73027",
    "not_visited_n_days": "#fc8d59",
    "patrol_does_not_reach": "#fee08b",
    "ok": "#91cf60",
}
STATUS_LABELS = {
    "no_active_worker": "无在岗网格员 no active worker",
    "not_visited_n_days": "长期未巡查 not visited",
    "patrol_does_not_reach": "巡查未覆盖 patrol does not reach",
    "ok": "正常 ok",
}
KIND_LABELS = {
    "no_active_worker": "无在岗网格员 / no active worker",
    "not_visited_n_days": "连续未巡查 / not visited for N days",
    "worker_over_grid_limit": "网格数超限 / too many grids",
    "worker_over_household_limit": "户数超限 / too many households",
    "worker_over_open_case_limit": "未办结案件超限 / too many open cases",
    "patrol_does_not_reach": "巡查未覆盖 / patrol does not reach",
    "patrols_outside_own_grid": "网格外打卡 / check-ins outside own grid",
    "agent_no_patrol_n_days": "代办员连续未日巡查 / agent without daily patrol",
    "followup_not_within_n_days": "办结未按期回访 / no follow-up visit in time",
    "item_open_past_deadline": "代办事项超期未办结 / item open past deadline",
}
KPI_COLUMNS = {
    "unit_code": "单位代码 unit",
    "unit_name": "名称 name",
    "found": "排查 found",
    "resolved": "化解 resolved",
    "resolution_rate": "化解率 rate",
    "median_hours_to_accept": "受理中位(小时) accept h",
    "median_hours_to_resolve": "化解中位(小时) resolve h",
    "overdue_open": "超期未结 overdue",
    "followups_done": "回访 follow-ups",
    "mean_satisfaction": "满意度 satisfaction",
    "petitions_cases": "信访件次 petitions",
    "petitions_persons": "信访人次 persons",
    "found_yoy_ratio": "排查同比 found YoY",
    "resolution_rate_yoy_abs": "化解率同比(百分点) rate YoY",
    "petitions_cases_yoy_ratio": "信访同比 petitions YoY",
}
_PERCENT = {"resolution_rate", "found_yoy_ratio", "petitions_cases_yoy_ratio"}

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #999}
.meta{color:#555;font-size:12px}table{border-collapse:collapse;font-size:12px;margin:6px 0}
th,td{border:1px solid #bbb;padding:3px 6px;text-align:right;overflow-wrap:anywhere}th{background:#eee}
td.t,th.t{text-align:left}.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;
vertical-align:middle;border:1px solid #666}svg{max-width:100%;height:auto}
@media print{body{margin:8mm}h2{page-break-after:avoid}table,svg{page-break-inside:avoid}}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def coverage_map_svg(
    grids: gpd.GeoDataFrame, status: pd.Series, width: int = 760, max_height: int = 900
) -> str:
    """Inline SVG of the grids coloured by audit status (``status``: grid_code → kind or ``ok``).

    Drawn in LOCAL_CRS (equal-area metres), north up; each grid carries a ``<title>``
    with its code and status.
    """
    if grids is None or len(grids) == 0:
        return "<p>(no grids)</p>"
    code_col = "code" if "code" in grids.columns else "grid_code"
    local = grids.set_crs(WGS84, allow_override=False) if grids.crs is None else grids
    local = local.to_crs(LOCAL_CRS)
    minx, miny, maxx, maxy = local.total_bounds
    span_x, span_y = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    scale = min((width - 20) / span_x, (max_height - 20) / span_y)
    width = int(span_x * scale) + 20
    height = int(span_y * scale) + 20
    geoms = shapely.simplify(local.geometry.values, tolerance=0.5 / scale)
    codes = local[code_col].astype(str).to_numpy()
    kinds = status.reindex(codes).fillna("ok").to_numpy()
    paths = []
    for code, kind, geom in zip(codes, kinds, geoms, strict=True):
        if geom is None or geom.is_empty:
            continue
        rings = []
        for polygon in getattr(geom, "geoms", [geom]):
            for ring in [polygon.exterior, *polygon.interiors]:
                xy = np.asarray(ring.coords)
                px = np.round(10 + (xy[:, 0] - minx) * scale, 1)
                py = np.round(10 + (maxy - xy[:, 1]) * scale, 1)
                rings.append("M" + " L".join(f"{a:g},{b:g}" for a, b in zip(px, py, strict=True)) + "Z")
        colour = STATUS_COLOURS.get(kind, STATUS_COLOURS["ok"])
        label = STATUS_LABELS.get(kind, kind)
        paths.append(
            f'<path d="{" ".join(rings)}" fill="{colour}" fill-rule="evenodd" stroke="#555" stroke-width="0.3">'
            f"<title>{_e(code)} {_e(label)}</title></path>"
        )
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="coverage map">{"".join(paths)}</svg>'
    )


def trend_svg(trend: pd.DataFrame, width: int = 760, height: int = 260) -> str:
    """Inline SVG line chart of monthly ``found`` vs ``resolved`` (columns ``month, found, resolved``)."""
    if trend is None or len(trend) == 0:
        return "<p>(no cases in the period)</p>"
    left, right, top, bottom = 48, 16, 16, 40
    inner_w, inner_h = width - left - right, height - top - bottom
    top_value = max(int(trend[["found", "resolved"]].to_numpy().max()), 1)
    step = _nice_step(top_value)
    y_max = step * int(np.ceil(top_value / step))
    n = len(trend)
    xs = left + (np.arange(n) + 0.5) * inner_w / n

    def y(values) -> np.ndarray:
        return top + inner_h * (1 - np.asarray(values, dtype=float) / y_max)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="monthly trend">'
    ]
    for tick in np.arange(0, y_max + step / 2, step):
        ty = y([tick])[0]
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#ddd"/>')
        parts.append(
            f'<text x="{left - 6}" y="{ty + 4:.1f}" font-size="11" text-anchor="end">{int(tick)}</text>'
        )
    for x, month in zip(xs, trend["month"], strict=True):
        parts.append(
            f'<text x="{x:.1f}" y="{height - bottom + 16}" font-size="11" text-anchor="middle">'
            f"{_e(str(month)[-5:])}</text>"
        )
    for column, colour, label in (
        ("found", "#2c7bb6", "排查 found"),
        ("resolved", "#1a9641", "化解 resolved"),
    ):
        ys = y(trend[column])
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys, strict=True))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2">'
            f"<title>{_e(label)}</title></polyline>"
        )
        parts += [
            f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="{colour}"/>'
            for a, b in zip(xs, ys, strict=True)
        ]
    parts.append(
        f'<text x="{left + 8}" y="{height - 6}" font-size="12" fill="#2c7bb6">■ 排查 found</text>'
        f'<text x="{left + 120}" y="{height - 6}" font-size="12" fill="#1a9641">■ 化解 resolved</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _nice_step(top: int) -> int:
    raw = top / 5
    magnitude = 10 ** int(np.floor(np.log10(max(raw, 1))))
    for m in (1, 2, 5, 10):
        if raw <= m * magnitude:
            return int(m * magnitude)
    return int(10 * magnitude)


def _format(value, column: str) -> str:
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return "–"
    if column in _PERCENT:
        return f"{value:+.1%}" if column.endswith("yoy_ratio") else f"{value:.1%}"
    if column == "resolution_rate_yoy_abs":
        return f"{value * 100:+.1f}"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.1f}"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    return str(value)


def table_html(frame: pd.DataFrame, columns: dict[str, str], css_class: str = "") -> str:
    """An escaped HTML table of ``frame[columns]`` with the given header labels (missing columns skipped)."""
    present = [c for c in columns if c in frame.columns]
    text_cols = {c for c in present if not pd.api.types.is_numeric_dtype(frame[c])}
    head = "".join(f'<th class="{"t" if c in text_cols else ""}">{_e(columns[c])}</th>' for c in present)
    rows = []
    for record in frame[present].itertuples(index=False, name=None):
        cells = "".join(
            f'<td class="{"t" if c in text_cols else ""}">{_e(_format(v, c))}</td>'
            for c, v in zip(present, record, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="{_e(css_class)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def render_report(
    audit: AuditResult | None = None,
    grids: gpd.GeoDataFrame | None = None,
    kpis: pd.DataFrame | None = None,
    trend: pd.DataFrame | None = None,
    title: str = "网格巡查覆盖审计报告 Grid patrol coverage audit",
    max_findings: int = 500,
    generated_at: datetime | None = None,
) -> str:
    """The whole report as one HTML string (UTF-8, no external resources).

    Sections: summary of findings per kind, coverage-gap map (needs ``audit`` and
    ``grids``), findings table (first ``max_findings`` rows), KPI table, monthly trend.
    """
    generated = (generated_at or datetime.now()).strftime("%Y-%m-%d %H:%M")
    body = [f"<h1>{_e(title)}</h1>"]
    meta = [f"生成时间 generated {generated}"]
    if audit is not None:
        meta.insert(0, f"审计期间 period {_e(audit.period)}")
    body.append(f'<p class="meta">{" · ".join(meta)}</p>')

    if audit is not None:
        counts = audit.counts()
        summary = pd.DataFrame({"kind": [KIND_LABELS[k] for k in FINDING_KINDS], "count": counts.to_numpy()})
        body.append("<h2>审计发现汇总 Findings</h2>")
        body.append(table_html(summary, {"kind": "类型 kind", "count": "数量 count"}))
        t = audit.thresholds
        body.append(
            f'<p class="meta">阈值 thresholds: 连续未巡查 ≤ {t.max_days_unvisited} 天 · 每人网格 ≤ '
            f"{t.max_grids_per_worker} · 每人户数 ≤ {t.max_households_per_worker} · 未办结 ≤ "
            f"{t.max_open_cases_per_worker} · 覆盖半径 {t.reach_distance_m:g} m, 覆盖率 ≥ "
            f"{t.min_reach_share:.0%} · 网格外打卡 ≤ {t.max_outside_share:.0%}</p>"
        )
        if grids is not None:
            status = audit.grids.set_index("grid_code")["status"]
            legend = "".join(
                f'<span style="background:{colour}"></span>{_e(STATUS_LABELS[kind])} '
                f"({int((status == kind).sum())})"
                for kind, colour in STATUS_COLOURS.items()
            )
            body.append("<h2>覆盖缺口地图 Coverage gaps</h2>")
            body.append(f'<p class="legend">{legend}</p>')
            body.append(coverage_map_svg(grids, status))
        findings = audit.findings.copy()
        is_share = (findings["unit"] == "share").to_numpy()
        for column in ("figure", "threshold"):
            values = findings[column].astype(float)
            findings[column] = np.where(is_share, values.map("{:.0%}".format), values.map("{:,.0f}".format))
        body.append(f"<h2>审计发现 Findings ({len(findings)})</h2>")
        if len(findings) > max_findings:
            body.append(
                f'<p class="meta">前 {max_findings} 条 first {max_findings} shown; export CSV/XLSX for all</p>'
            )
        body.append(
            table_html(
                findings.head(max_findings),
                {
                    "kind": "类型 kind",
                    "grid_code": "网格 grid",
                    "worker_id": "网格员 worker",
                    "figure": "数值 figure",
                    "threshold": "阈值 threshold",
                    "message_zh": "说明",
                    "message_en": "message",
                },
            )
        )

    if kpis is not None:
        level = str(kpis["level"].iloc[0]) if len(kpis) and "level" in kpis.columns else ""
        period = str(kpis["period"].iloc[0]) if len(kpis) and "period" in kpis.columns else ""
        body.append(f"<h2>矛盾纠纷与信访指标 KPIs {_e(level)} {_e(period)}</h2>")
        body.append(table_html(kpis, KPI_COLUMNS, css_class="kpi"))
    if trend is not None:
        body.append("<h2>月度排查与化解 Monthly cases found vs resolved</h2>")
        body.append(trend_svg(trend))
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def write_report(path: str | Path, **kwargs) -> Path:
    """:func:`render_report` written to ``path`` (UTF-8); returns the path."""
    path = Path(path)
    path.write_text(render_report(**kwargs), encoding="utf-8")
    return path
