// gridmap front end: the 预警 (early-warning) layer and list of next month's grids to watch.
// Reads the newest stored forecast run of the selected kind (GET /api/v1/forecast/runs),
// draws the top 10 % of grids coloured by rank and lists the top 15 with their expected
// cases, 80 % interval and why.  Uses map, api, API, el and zoomToGrid from app.js.
"use strict";

const FORECAST_COLOURS = [[0.01, "#7f0000"], [0.05, "#d7301f"], [0.10, "#fc8d59"]];
const forecastState = { run: null, layer: null, kind: null };

function forecastColour(rank, total) {
  for (const [share, colour] of FORECAST_COLOURS) if (rank <= Math.max(1, Math.round(share * total))) return colour;
  return null;
}

// roles without all-case access get the rank band only (the expected count nearly reveals past counts)
function forecastFigure(p) {
  return p.expected === null || p.expected === undefined
    ? `前${p.band}% top ${p.band} %`
    : `${Number(p.expected).toFixed(2)} [${p.lower}–${p.upper}]`;
}

function forecastKind() {
  const select = document.getElementById("f-kind");
  return select && select.value === "petition" ? "petition" : "dispute";
}

async function loadForecast() {
  const kind = forecastKind();
  const meta = document.getElementById("forecast-meta");
  const list = document.getElementById("forecast-list");
  let runs = [];
  try { runs = await api(`${API}/forecast/runs?kind=${kind}`); } catch (e) { runs = []; }
  forecastState.kind = kind;
  forecastState.run = runs.length ? runs[0] : null;
  if (!forecastState.run) {
    meta.textContent = "暂无预警（gridmap forecast --asof …） No forecast stored yet";
    list.replaceChildren();
    drawForecastLayer();
    return;
  }
  const run = forecastState.run;
  const total = run.summary.expected_total === null ? "少量 few" : run.summary.expected_total;
  meta.textContent = `${run.target_start} … ${run.target_end}：${run.method}，` +
    `预计 ${total} 件 / ${run.summary.grids} 网格 (${run.summary.chosen_by})`;
  const data = await api(`${API}/forecast/runs/${run.run_id}/list?limit=15`);
  list.replaceChildren(...data.grids.map((g) => el("li", {
    title: g.why || "", onclick: () => zoomToGrid(g.grid_code),
  }, el("b", {}, g.grid_code), ` ${forecastFigure(g)}`,
  g.why ? el("div", { class: "hint" }, g.why) : "")));
  drawForecastLayer();
}

async function drawForecastLayer() {
  if (forecastState.layer) { map.removeLayer(forecastState.layer); forecastState.layer = null; }
  const box = document.getElementById("l-forecast");
  const run = forecastState.run;
  if (!box || !box.checked || !run) return;
  const total = run.summary.grids;
  const limit = Math.max(1, Math.round(0.10 * total));
  const geo = await api(`${API}/forecast/runs/${run.run_id}/results?limit=${limit}&simplify=5`);
  forecastState.layer = L.geoJSON(geo, {
    style: (f) => ({ color: "#4a0000", weight: 1, fillColor: forecastColour(f.properties.rank, total),
      fillOpacity: 0.65 }),
    onEachFeature: (f, layer) => {
      const p = f.properties;
      layer.bindTooltip(`预警 #${p.rank} ${p.grid_code}<br>预计 ${forecastFigure(p)}` +
        `${p.why ? "<br>" + p.why : ""}`);
    },
  }).addTo(map);
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("l-forecast");
  if (box) box.addEventListener("change", () => drawForecastLayer().catch((e) => status(e.message)));
  const kind = document.getElementById("f-kind");
  if (kind) kind.addEventListener("change", () => loadForecast().catch((e) => status(e.message)));
  loadForecast().catch((e) => status(e.message));
  // signing in or out changes what the list may show (the why text needs case access)
  new MutationObserver(() => loadForecast().catch((e) => status(e.message)))
    .observe(document.body, { attributes: true, attributeFilter: ["data-user"] });
});
