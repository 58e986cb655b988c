"""A self-contained static HTML map of current hotspots and grids (folium), for offline sharing.

The file references no external URL: folium's CDN links are replaced, on each Map
instance, by the vendored Leaflet JS/CSS of ``web/vendor`` inlined as ``data:`` URIs
(the CSS's own images too), and no tile layer is added.  Only aggregates are drawn and,
as for the public, counts below ``settings.suppress_counts_below`` are left out — the file
may travel further than the server.

Layers: counties, grids of the active plan (households), Gi* classes and hot-spot areas of
the latest ``gi`` run, classes of the latest ``emerging`` run; a legend and layer control.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement, Template

from gridmap.config import Settings, get_settings
from gridmap.disclosure import DisclosureRule, disclose, label_keys, run_cell_labels
from gridmap.errors import InputError
from gridmap.store.base import Store

GI_COLOURS = {
    3: "#b2182b",
    2: "#ef8a62",
    1: "#fddbc7",
    0: "#f7f7f7",
    -1: "#d1e5f0",
    -2: "#67a9cf",
    -3: "#2166ac",
}
GI_LABELS = {
    3: "热点 99%",
    2: "热点 95%",
    1: "热点 90%",
    0: "不显著",
    -1: "冷点 90%",
    -2: "冷点 95%",
    -3: "冷点 99%",
}
HOT_LABEL_COLOURS = {"hot": "#cb181d", "cold": "#2171b5", "none": "#f0f0f0"}
#: geometry simplification for the file (degrees; ≈ 10 m): a city of grids stays a few MB
SIMPLIFY_DEG = 0.0001


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def vendored_leaflet(web_dir: Path) -> tuple[str, str]:
    """(JS data URI, CSS data URI) of the vendored Leaflet, the CSS's images inlined."""
    vendor = web_dir / "vendor" / "leaflet"
    js_path, css_path = vendor / "leaflet.js", vendor / "leaflet.css"
    if not js_path.exists() or not css_path.exists():
        raise InputError(f"vendored Leaflet missing in {vendor}: run scripts/vendor_web.sh")
    css = css_path.read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        image = vendor / match.group(1)
        return f"url({_data_uri(image.read_bytes(), 'image/png')})" if image.exists() else "none"

    css = re.sub(r"url\((images/[^)]+\.png)\)", inline, css)
    return _data_uri(js_path.read_bytes(), "text/javascript"), _data_uri(css.encode("utf-8"), "text/css")


def _latest_run(store: Store, method: str) -> str | None:
    runs = store.read(
        "hotspot_runs",
        where={"method": method},
        columns=["run_id", "created_at"],
        order_by=["created_at", "run_id"],
    )
    return None if runs.empty else str(runs["run_id"].iloc[-1])


def _simplified(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = frame[frame.geometry.notna()].copy()
    out["geometry"] = shapely.simplify(out.geometry.to_numpy(), SIMPLIFY_DEG, preserve_topology=True)
    return out


def _suppress(store: Store, run_id: str, results: gpd.GeoDataFrame, rule: DisclosureRule) -> gpd.GeoDataFrame:
    """Counts as the public may see them (:mod:`gridmap.disclosure`: the same numbers as the API)."""
    out = results.copy()
    runs = store.read("hotspot_runs", where={"run_id": run_id})
    labels = run_cell_labels(runs.iloc[0].to_dict() if len(runs) else {}, out["unit_id"]).set_axis(out.index)
    counts = pd.to_numeric(out["count"], errors="coerce").to_numpy(dtype=float)
    shown = disclose(counts, label_keys(labels + "|count", rule), rule)
    out["count"] = [None if np.isnan(c) else int(c) for c in shown.values]
    out["suppressed"] = shown.suppressed
    return out.drop(columns=["value", "extra"], errors="ignore")


class _Legend(MacroElement):
    def __init__(self, body: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.body = body
        self._template = Template("""
            {% macro html(this, kwargs) %}
            <div style="position: fixed; bottom: 24px; left: 12px; z-index: 9999; background: white;
                        padding: 8px 10px; border: 1px solid #999; font: 12px sans-serif; max-width: 260px;">
              {{ this.body }}
            </div>
            {% endmacro %}
        """)


def _legend_html(title: str, sections: list[tuple[str, list[tuple[str, str]]]]) -> str:
    parts = [f"<b>{html.escape(title)}</b>"]
    for heading, items in sections:
        parts.append(f"<div style='margin-top:4px'><i>{html.escape(heading)}</i></div>")
        for colour, label in items:
            parts.append(
                f"<div><span style='display:inline-block;width:14px;height:10px;background:{colour};"
                f"border:1px solid #666;margin-right:4px'></span>{html.escape(label)}</div>"
            )
    return "".join(parts)


def build_report(store: Store, settings: Settings | None = None) -> str:
    """The report as one HTML document (text)."""
    settings = settings or get_settings()
    js_uri, css_uri = vendored_leaflet(Path(settings.web_dir))
    rule = DisclosureRule.from_settings(settings)

    counties = store.read("admin_units", where={"level": "county"})
    plan_id = store.active_plan_id()
    grids = store.read("grids", where={"plan_id": plan_id}) if plan_id else gpd.GeoDataFrame()
    extent = counties if len(counties) else grids
    if extent.empty:
        raise InputError("the store has no admin units and no grids: build the demo or import data first")
    minx, miny, maxx, maxy = extent.total_bounds

    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=8,
        tiles=None,
        attributionControl=False,
        prefer_canvas=True,
    )
    # instance attributes, never folium's class-level lists: only the vendored, inlined Leaflet
    fmap.default_js = [("leaflet", js_uri)]
    fmap.default_css = [("leaflet_css", css_uri)]
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    title = "通辽市 网格与热点（静态报告）"
    fmap.get_root().header.add_child(Element(f"<title>{html.escape(title)}</title>"))

    if len(counties):
        folium.GeoJson(
            _simplified(counties[["code", "name", "geometry"]]).to_json(),
            name="旗县区 counties",
            style_function=lambda _f: {"color": "#1f3a5f", "weight": 2, "fill": False},
            tooltip=folium.GeoJsonTooltip(["name", "code"], aliases=["旗县区", "代码"]),
        ).add_to(fmap)
    if len(grids):
        folium.GeoJson(
            _simplified(grids[["code", "households", "geometry"]]).to_json(),
            name=f"网格 grids ({plan_id})",
            style_function=lambda _f: {"color": "#555", "weight": 0.5, "fillOpacity": 0.0},
            tooltip=folium.GeoJsonTooltip(["code", "households"], aliases=["网格", "户数"]),
            show=False,
        ).add_to(fmap)

    sections = []
    gi_run = _latest_run(store, "gi")
    if gi_run:
        gi = _suppress(store, gi_run, store.read("hotspot_results", where={"run_id": gi_run}), rule)
        gi["bin"] = gi["bin"].fillna(0).astype(int)
        gi["class"] = gi["bin"].map(GI_LABELS)
        folium.GeoJson(
            _simplified(gi[["unit_id", "bin", "class", "count", "suppressed", "geometry"]]).to_json(),
            name="Gi* 冷热点",
            style_function=lambda f: {
                "color": "#999",
                "weight": 0.3,
                "fillColor": GI_COLOURS.get(f["properties"]["bin"], "#f7f7f7"),
                "fillOpacity": 0.65 if f["properties"]["bin"] else 0.05,
            },
            tooltip=folium.GeoJsonTooltip(["unit_id", "class", "count"], aliases=["单元", "类别", "案件数"]),
        ).add_to(fmap)
        hot = gi[gi["bin"] >= 2]
        if len(hot):
            area = shapely.union_all(hot.geometry.to_numpy())
            folium.GeoJson(
                json.dumps(
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": shapely.geometry.mapping(shapely.simplify(area, SIMPLIFY_DEG)),
                    }
                ),
                name="热点区域 hot-spot areas",
                style_function=lambda _f: {"color": "#c00", "weight": 3, "dashArray": "6 4", "fill": False},
            ).add_to(fmap)
        sections.append(
            (
                "Gi* 冷热点（最新一次分析；置信度按 FDR 校正，热点 = FDR ≤ 0.05）",
                [(GI_COLOURS[b], GI_LABELS[b]) for b in (3, 2, 1, 0, -1, -2, -3)],
            )
        )
    emerging_run = _latest_run(store, "emerging")
    if emerging_run:
        em = _suppress(
            store, emerging_run, store.read("hotspot_results", where={"run_id": emerging_run}), rule
        )
        em["label"] = em["label"].fillna("no_pattern_detected").astype(str)
        em["kind"] = np.where(
            em["label"].str.endswith("hot_spot"),
            "hot",
            np.where(em["label"].str.endswith("cold_spot"), "cold", "none"),
        )
        folium.GeoJson(
            _simplified(em[["unit_id", "label", "kind", "count", "geometry"]]).to_json(),
            name="时空热点 emerging",
            style_function=lambda f: {
                "color": "#999",
                "weight": 0.3,
                "fillColor": HOT_LABEL_COLOURS[f["properties"]["kind"]],
                "fillOpacity": 0.6 if f["properties"]["kind"] != "none" else 0.05,
            },
            tooltip=folium.GeoJsonTooltip(["unit_id", "label"], aliases=["单元", "类型"]),
            show=False,
        ).add_to(fmap)
        sections.append(
            (
                "时空热点",
                [
                    (HOT_LABEL_COLOURS["hot"], "热点类（新增/连续/加剧/持续…）"),
                    (HOT_LABEL_COLOURS["cold"], "冷点类"),
                ],
            )
        )
    note = f"数量少于 {rule.threshold} 的单元不显示案件数；其余数量经随机扰动（同一组案件总是同一数值）。"
    fmap.get_root().add_child(
        _Legend(_legend_html(title, sections) + f"<div style='margin-top:4px'>{note}</div>")
    )
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap.get_root().render()


def write_report(store: Store, out: str | Path, settings: Settings | None = None) -> Path:
    """Write :func:`build_report` to ``out`` (UTF-8) and return the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_report(store, settings), encoding="utf-8")
    return out
