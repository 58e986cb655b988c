// gridmap front end: plain JavaScript, no build step, every request to this server.
// Views: Command (hotspots, cases, drill-down, KPIs), Planning (edit grids of a draft plan),
// Coverage (patrols of grid workers).  Personal data never goes into a URL.
"use strict";

const API = "api/v1";
const CHILD_LEVEL = { city: "county", county: "township", township: "village", village: "grid" };
const GI_COLOURS = { 3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", 0: "#f7f7f7", "-1": "#d1e5f0", "-2": "#67a9cf", "-3": "#2166ac" };
const EMERGING_COLOURS = {
  new_hot_spot: "#67000d", consecutive_hot_spot: "#a50f15", intensifying_hot_spot: "#cb181d",
  persistent_hot_spot: "#ef3b2c", diminishing_hot_spot: "#fb6a4a", sporadic_hot_spot: "#fc9272",
  oscillating_hot_spot: "#fcbba1", historical_hot_spot: "#fee0d2",
  new_cold_spot: "#08306b", consecutive_cold_spot: "#08519c", intensifying_cold_spot: "#2171b5",
  persistent_cold_spot: "#4292c6", diminishing_cold_spot: "#6baed6", sporadic_cold_spot: "#9ecae1",
  oscillating_cold_spot: "#c6dbef", historical_cold_spot: "#deebf7", no_pattern_detected: "#f0f0f0",
};
const DAYS_CLASSES = [
  { key: "days_0", max: 1, colour: "#1a9850" }, { key: "days_2", max: 3, colour: "#d9ef8b" },
  { key: "days_4", max: 7, colour: "#fdae61" }, { key: "days_8", max: Infinity, colour: "#d73027" },
];
const state = {
  token: sessionStorage.getItem("gridmap.token"),
  user: { username: null, role: "anonymous", rights: [] },
  config: null,
  view: "command",
  activePlan: null,
  drill: [],
  months: [],
  planning: { plan: null, selected: [], atoms: new Set() },
};

// --- helpers ---------------------------------------------------------------------------------
function can(right) { return state.user.rights.includes(right); }

function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? "?" + s : "";
}

function crs() { return state.config && state.config.basemap_crs === "gcj02" ? "gcj02" : "wgs84"; }

// half a screen pixel in metres at the current zoom: polygons are simplified that much by the server
function simplifyM() {
  const lat = map.getCenter().lat * Math.PI / 180;
  return Math.round(0.5 * 156543.03 * Math.cos(lat) / 2 ** map.getZoom() * 10) / 10;
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const response = await fetch(path.startsWith("/") ? path.slice(1) : path, Object.assign({}, options, { headers }));
  if (response.status === 401 && state.token && !path.includes("auth/token")) {
    signOut(false);
  }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail; } catch (_) { /* not JSON */ }
    const error = new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
    error.status = response.status;
    throw error;
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

function status(message) { document.getElementById("status").textContent = message || ""; }

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function fmt(value, digits = 0) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return value.toLocaleString(LANG === "zh" ? "zh-CN" : "en", { maximumFractionDigits: digits });
  return String(value);
}

function countText(value, suppressed) {
  return suppressed ? el("span", { class: "suppressed", title: t("suppressed") }, "<" + state.config.suppress_counts_below)
    : document.createTextNode(fmt(value));
}

function legendItem(colour, label, extra = "") {
  return el("div", { class: "legend-item" }, el("span", { class: "swatch " + extra, style: colour ? `background:${colour}` : "" }), label);
}

// --- map -----------------------------------------------------------------------------------------
// SVG (the default renderer): every feature is a DOM path with its layer's class name
const map = L.map("map", { zoomSnap: 0.25, minZoom: 5, maxZoom: 18, attributionControl: true });
map.attributionControl.setPrefix(false);  // Leaflet's default prefix links to leafletjs.com
// custom panes let clicks through except on interactive paths (Leaflet's documented recipe),
// so an empty SVG of an upper pane never swallows the clicks meant for the admin units below
for (const [name, z] of [["admin", 410], ["grids", 420], ["hot", 430], ["atoms", 440]]) {
  const pane = map.createPane(name);
  pane.style.zIndex = z;
  pane.style.pointerEvents = "none";
}
const PLAN_MIN_ZOOM = 10;
// grids, hot-spot units and coverage come as vector tiles (/tiles/…pbf, Leaflet.VectorGrid) from this
// zoom; below it the page shows counties and townships with their case counts (/unit-counts), so what
// the page draws never grows with the number of grids in the store
const TILE_MIN_ZOOM = 10;
const COUNT_RAMP = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"];
const HEAT_OPTIONS = { radius: 18, blur: 16, maxZoom: 14, minOpacity: 0.25, pane: "overlayPane" };
// hotspot layers do not take clicks: clicks go through to the admin units / grids below (drill-down)
const layers = {
  admin: L.geoJSON(null, { pane: "admin", className: "admin-unit" }).addTo(map),
  grids: null,  // vector tiles of the active plan (one village's grids), made by drillTo
  gi: null,  // vector tiles of the latest runs, made by loadHotspots
  emerging: null,
  areas: L.geoJSON(null, { pane: "hot", interactive: false, className: "hotspot-area" }),
  heat: null,
  kde: null,
  clusters: L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false }),
  planGrids: L.geoJSON(null, { pane: "grids", className: "plan-grid" }),
  atoms: L.geoJSON(null, { pane: "atoms", className: "plan-atom" }),
  other: L.geoJSON(null, { pane: "hot", interactive: false, className: "other-plan-grid" }),
  coverage: null,  // vector tiles, made by loadCoverage
  checkins: L.layerGroup(),
};

function showLayer(layer, on) {
  if (!layer) return;
  if (on && !map.hasLayer(layer)) layer.addTo(map);
  if (!on && map.hasLayer(layer)) map.removeLayer(layer);
  if (on && layer.eachLayer) tagPaths(layer);
}

// a tooltip for the feature under the mouse in a vector-tile layer (tile features are no Leaflet layers)
const hoverTip = L.tooltip({ sticky: true });

// a vector-tile layer of /tiles/{layer}: style(properties) gives a feature's path options (with its
// className), or [] to leave it out; interactive layers fire click/mouseover with e.layer.properties
function vectorTiles(layer, params, style, options = {}) {
  const url = `tiles/${layer}/{z}/{x}/{y}.pbf${qs({ ...params, crs: crs() })}`;
  const grid = L.vectorGrid.protobuf(url, {
    pane: options.pane || "overlayPane",
    minZoom: options.minZoom ?? TILE_MIN_ZOOM,
    interactive: !!options.interactive,
    vectorTileLayerStyles: { [layer]: (p) => style(p) },
    getFeatureId: (f) => f.properties.code ?? f.properties.unit_id,
    fetchOptions: { headers: state.token ? { Authorization: "Bearer " + state.token } : {} },
  });
  grid.on("tileload", (e) => tagTile(grid, e.coords));
  // once every tile in view has arrived, tag them all again: a tile whose "tileload" came while
  // it was not yet registered (tiles replaced during a zoom animation) would otherwise stay untagged
  grid.on("load", () => { for (const tile of Object.values(grid._vectorTiles || {})) tagFeatures(tile); });
  if (options.tooltip) {
    grid.on("mouseover", (e) => map.openTooltip(hoverTip.setContent(options.tooltip(e.layer.properties)), e.latlng));
    grid.on("mouseout", () => map.closeTooltip(hoverTip));
  }
  return grid;
}

// each tile's SVG paths carry their feature's code (data-code), like the GeoJSON layers' paths
function tagTile(grid, coords) {
  const tile = grid._vectorTiles && grid._vectorTiles[grid._tileCoordsToKey(coords)];
  if (tile) tagFeatures(tile);
}

function tagFeatures(tile) {
  for (const [id, f] of Object.entries(tile._features || {})) if (f.feature._path) f.feature._path.dataset.code = id;
}

// resolves when the visible tiles of the vector-tile layers on the map have arrived (at most 15 s)
function tilesDrawn() {
  const loading = Object.values(layers).filter((l) => l instanceof L.VectorGrid && map.hasLayer(l) && l.isLoading());
  return Promise.race([Promise.all(loading.map((l) => new Promise((done) => l.once("load", done)))),
    new Promise((done) => setTimeout(done, 15000))]);
}

// each drawn feature's SVG path carries its id (data-code): handy for people and tests alike
function tagPaths(group) {
  group.eachLayer((l) => {
    const path = l.getElement && l.getElement();
    if (path && l.feature && l.feature.id !== undefined) path.dataset.code = l.feature.id;
  });
}

// --- sign-in -----------------------------------------------------------------------------------
async function loadUser() {
  state.config = await api(`${API}/config`);
  state.user = state.config.user;
  const who = document.getElementById("who");
  const signedIn = !!state.user.username;
  who.textContent = signedIn ? `${t("signed_in_as")}: ${state.user.username}（${t("role_" + state.user.role)}）`
    : t("anonymous");
  document.getElementById("login-form").hidden = signedIn;
  document.body.dataset.user = state.user.username || "";
  document.getElementById("logout").hidden = !signedIn;
}

async function signIn(event) {
  event.preventDefault();
  const body = new URLSearchParams({
    username: document.getElementById("login-user").value,
    password: document.getElementById("login-pass").value,
  });
  try {
    const token = await api(`${API}/auth/token`, { method: "POST", body });
    state.token = token.access_token;
    sessionStorage.setItem("gridmap.token", state.token);
    document.getElementById("login-pass").value = "";
    status("");
    await start();
  } catch (error) {
    console.error(error);
    status(error.status === 401 ? t("wrong_password") : `${t("error")}: ${error.message}`);
  }
}

async function signOut(tellServer = true) {
  if (tellServer && state.token) {
    try { await api(`${API}/auth/logout`, { method: "POST" }); } catch (_) { /* already gone */ }
  }
  state.token = null;
  sessionStorage.removeItem("gridmap.token");
  if (tellServer) await start();
}

// --- filters and time slider -------------------------------------------------------------------------
function monthList(first, last) {
  const out = [];
  let [y, m] = first.split("-").map(Number);
  const [ly, lm] = last.split("-").map(Number);
  while (y < ly || (y === ly && m <= lm)) {
    out.push(`${y}-${String(m).padStart(2, "0")}`);
    m += 1; if (m > 12) { m = 1; y += 1; }
  }
  return out;
}

function nextMonth(month) {
  let [y, m] = month.split("-").map(Number);
  m += 1; if (m > 12) { m = 1; y += 1; }
  return `${y}-${String(m).padStart(2, "0")}`;
}

async function setupSlider() {
  const range = await api(`${API}/cases/range`);
  state.months = range.first && range.last ? monthList(range.first.slice(0, 7), range.last.slice(0, 7)) : [];
  if (!state.months.length) state.months = [new Date().toISOString().slice(0, 7)];
  const from = document.getElementById("f-from");
  const to = document.getElementById("f-to");
  from.max = to.max = state.months.length - 1;
  // default window: the last twelve months of data
  to.value = state.months.length - 1;
  from.value = Math.max(0, state.months.length - 12);
  updateSliderLabels();
}

function updateSliderLabels() {
  const from = document.getElementById("f-from");
  const to = document.getElementById("f-to");
  if (Number(from.value) > Number(to.value)) from.value = to.value;
  document.getElementById("f-from-label").textContent = state.months[from.value];
  document.getElementById("f-to-label").textContent = state.months[to.value];
}

function fillCategories() {
  const kind = document.getElementById("f-kind").value;
  const select = document.getElementById("f-category");
  const current = select.value;
  select.replaceChildren(el("option", { value: "" }, t("all")));
  const categories = state.config.vocabulary.categories;
  const keys = (kind ? categories[kind] : Object.values(categories).flat()).map((c) => c.key);
  for (const key of keys) select.append(el("option", { value: key }, categoryName(key)));
  if (keys.includes(current)) select.value = current;
}

function caseFilters() {
  const from = state.months[document.getElementById("f-from").value];
  const to = state.months[document.getElementById("f-to").value];
  const unit = currentUnit();
  return {
    kind: document.getElementById("f-kind").value,
    category: document.getElementById("f-category").value,
    from: from + "-01",
    to: nextMonth(to) + "-01",
    admin: unit.code === areaUnit().code ? "" : unit.code,
  };
}

function periodSpec() {
  const f = caseFilters();
  const last = new Date(new Date(f.to + "T00:00:00Z") - 86400000).toISOString().slice(0, 10);
  return `${f.from}/${last}`;
}

// --- command view --------------------------------------------------------------------------------------
// the whole area (the city), from the server's vocabulary (gridmap.domain)
function areaUnit() { return { code: state.config.vocabulary.area.code, level: "city" }; }

function currentUnit() { return state.drill[state.drill.length - 1] || areaUnit(); }

function drawBreadcrumb() {
  const nav = document.getElementById("breadcrumb");
  nav.replaceChildren();
  state.drill.forEach((unit, i) => {
    if (i > 0) nav.append(el("span", { class: "sep" }, "›"));
    const label = unit.level === "city" ? t("breadcrumb_city") : unit.name || unit.code;
    nav.append(i === state.drill.length - 1 ? el("b", {}, label)
      : el("a", { onclick: () => { state.drill = state.drill.slice(0, i + 1); drillTo(); } }, label));
  });
}

function adminStyle() { return { color: "#1f3a5f", weight: 1.5, fillColor: "#9fb7d3", fillOpacity: 0.08 }; }

// fitBounds, resolving once the map has stopped moving (an animated zoom ends with "moveend"; at most 2 s)
function fitAndSettle(bounds, options) {
  return new Promise((done) => {
    const finish = () => { clearTimeout(timer); map.off("moveend", finish); done(); };
    const timer = setTimeout(finish, 2000);
    map.on("moveend", finish);
    map.fitBounds(bounds, options);
  });
}

// while a drill-down fetches, fits the view and refreshes the panels the page says so (body[data-busy]):
// a click meant for a unit drawn before the view moved would land where the unit no longer is
async function drillTo(fit = true) {
  state.drilling = (state.drilling || 0) + 1;
  document.body.dataset.busy = "1";
  try {
    await drawDrill(fit);
  } finally {
    state.drilling -= 1;
    if (!state.drilling) delete document.body.dataset.busy;
  }
}

async function drawDrill(fit) {
  const unit = currentUnit();
  drawBreadcrumb();
  const childLevel = CHILD_LEVEL[unit.level];
  layers.admin.clearLayers();
  showLayer(layers.grids, false);
  layers.grids = null;
  document.getElementById("grid-info").replaceChildren();
  if (childLevel === "grid") {
    // the village's grids, from the active plan's tiles (the others in the tiles are left out)
    layers.grids = vectorTiles("grids", { plan: state.activePlan }, (p) => (p.village_code === unit.code
      ? { className: "command-grid", color: "#444", weight: 1.2, fill: true, fillColor: "#ffffff", fillOpacity: 0.15 }
      : []), { pane: "grids", interactive: true, tooltip: (p) => p.code });
    layers.grids.on("click", (e) => showGridInfo(e.layer.properties.code));
    layers.grids.addTo(map);
    if (fit) {
      const village = await api(`${API}/admin-units/${unit.code}${qs({ crs: crs() })}`);
      if (village.geometry) await fitAndSettle(L.geoJSON(village).getBounds(), { padding: [20, 20] });
    }
  } else {
    const fc = await api(`${API}/admin-units${qs({ parent: unit.code, crs: crs(), simplify: simplifyM() / 2 })}`);
    layers.admin.addData(fc);
    layers.admin.setStyle(adminStyle());
    layers.admin.eachLayer((layer) => {
      const p = layer.feature.properties;
      layer.bindTooltip(() => unitTooltip(p), { sticky: true });
      layer.on("click", () => {
        if (state.view !== "command") return;
        state.drill.push({ code: p.code, level: p.level, name: p.name });
        drillTo();
      });
    });
    tagPaths(layers.admin);
    if (fit && fc.features.length) await fitAndSettle(layers.admin.getBounds(), { padding: [10, 10] });
  }
  await refreshCommandData();
}

async function showGridInfo(code) {
  const box = document.getElementById("grid-info");
  box.replaceChildren(t("loading"));
  const feature = await api(`${API}/plans/${state.activePlan}/grids/${code}${qs({ crs: crs() })}`);
  const p = feature.properties;
  const dl = el("dl", {},
    el("dt", {}, t("grid_code")), el("dd", { class: "grid-code" }, p.code),
    el("dt", {}, t("households")), el("dd", {}, fmt(p.households)),
    el("dt", {}, t("population")), el("dd", {}, fmt(p.population)),
    el("dt", {}, t("cases_total")), el("dd", { class: "grid-cases" }, countText(p.cases, p.suppressed)),
    el("dt", {}, t("cases_open")), el("dd", {}, countText(p.open_cases, p.suppressed)),
    el("dt", {}, t("workers")), el("dd", {}, p.workers.map((w) => w.name || w.worker_id).join("、") || "–"));
  const [gi, emerging] = await Promise.all([hotspotOf("gi", code), hotspotOf("emerging", code)]);
  if (gi) dl.append(el("dt", {}, t("layer_gi")), el("dd", {}, t("gi_" + (gi.bin ?? 0))));
  if (emerging && emerging.label) dl.append(el("dt", {}, t("layer_emerging")), el("dd", {}, t("emerging_" + emerging.label)));
  box.replaceChildren(el("h2", {}, t("grid_info")), dl);
}

// the runs a method's layer shows (newest first, each with its area), or [] without a run
async function latestSet(run) {
  if (!run) return [];
  try { return await api(`${API}/hotspots/latest/${run.method}/runs`); } catch (_) { return [run]; }
}

// the code prefix every unit inside an area shares (gridmap.domain.area_prefix): 150500 → 1505
function areaPrefix(area) {
  let prefix = String(area);
  while (prefix.length > 2 && prefix.endsWith("00")) prefix = prefix.slice(0, -2);
  return prefix;
}

// one unit's result of the latest run of a method, by its id (tiles hold only what they draw);
// with a run per city, the run of the unit's city
async function hotspotOf(method, code) {
  const set = (state.hotspotSets || {})[method] || [];
  const run = set.find((r) => !r.area || String(code).startsWith(areaPrefix(r.area)))
    || (method === "gi" ? state.giRun : (state.hotspotRuns || {})[method]);
  if (!run) return null;
  try {
    const fc = await api(`${API}/hotspots/runs/${run.run_id}/results/${encodeURIComponent(code)}`);
    return fc.features.length ? fc.features[0].properties : null;
  } catch (_) { return null; }  // not a unit of that run
}

// county / township counts for the filters (gridmap.disclosure for roles without all-case access)
async function loadUnitCounts() {
  const unit = currentUnit();
  const level = CHILD_LEVEL[unit.level];
  state.unitCounts = {};
  if (level !== "county" && level !== "township") { layers.admin.setStyle(adminStyle()); return; }
  const f = caseFilters();
  const data = await api(`${API}/unit-counts${qs({ level, parent: unit.code, kind: f.kind, category: f.category,
    from: f.from, to: f.to })}`);
  for (const u of data.units) state.unitCounts[u.code] = u;
  const max = Math.max(1, ...data.units.map((u) => u.count || 0));
  layers.admin.setStyle((feature) => {
    const u = state.unitCounts[feature.properties.code];
    const share = u && u.count ? u.count / max : 0;
    return Object.assign(adminStyle(), u && !u.suppressed && u.count
      ? { fillColor: COUNT_RAMP[Math.min(4, Math.floor(share * 5))], fillOpacity: 0.45 } : {});
  });
  state.unitCountsMax = max;
}

function unitTooltip(p) {
  const u = (state.unitCounts || {})[p.code];
  if (!u) return p.name;
  const count = u.suppressed ? "<" + state.config.suppress_counts_below : fmt(u.count);
  return `${p.name} · ${t("cases_total")}: ${count}`;
}

async function loadHotspots() {
  const runs = await api(`${API}/hotspots/runs`);
  const latest = {};
  for (const run of runs) if (!latest[run.method]) latest[run.method] = run;
  for (const name of ["gi", "emerging"]) { showLayer(layers[name], false); layers[name] = null; }
  state.hotspotRuns = latest;
  // the Gi* layer shows the newest Gi* run, plain or optimized (runs come newest first)
  const giRun = runs.find((run) => run.method === "gi" || run.method === "optimized");
  state.giRun = giRun || null;
  // a store of several cities has a run per city: the layer of a method is every city's newest run
  // (one run for a single city); tiles by method draw them together
  const [giSet, emergingSet] = await Promise.all([latestSet(giRun), latestSet(latest.emerging)]);
  state.hotspotSets = { gi: giSet, emerging: emergingSet };
  // hot-spot units as vector tiles (non-interactive: clicks go through to the units and grids below)
  if (giRun) {
    layers.gi = vectorTiles("hotspots", giSet.length > 1 ? { method: giRun.method } : { run: giRun.run_id }, (p) => ({ className: "gi-unit", color: "#999",
      weight: 0.3, fill: true, fillColor: GI_COLOURS[p.bin ?? 0], fillOpacity: p.bin ? 0.6 : 0.05 }), { pane: "hot" });
  }
  if (latest.emerging) {
    layers.emerging = vectorTiles("hotspots",
      emergingSet.length > 1 ? { method: "emerging" } : { run: latest.emerging.run_id }, (p) => ({ className: "emerging-unit",
      color: "#999", weight: 0.3, fill: true, fillColor: EMERGING_COLOURS[p.label] || "#f0f0f0",
      fillOpacity: p.label && p.label !== "no_pattern_detected" ? 0.65 : 0.05 }), { pane: "hot" });
  }
  await loadHotspotAreas();
  if (layers.kde) { map.removeLayer(layers.kde); layers.kde = null; }
  if (latest.kde && can("cases.read")) {
    try {
      const info = await api(`${API}/hotspots/runs/${latest.kde.run_id}/kde${qs({ crs: crs() })}`);
      const [w, s, e, n] = info.bounds;
      state.kdeInfo = info;
      // fetched with the bearer token (an <img> could not send it), shown from a local blob: URL
      const png = await fetch(info.href, { headers: { Authorization: "Bearer " + state.token } });
      if (!png.ok) throw new Error(png.statusText);
      const url = URL.createObjectURL(await png.blob());
      layers.kde = L.imageOverlay(url, [[s, w], [n, e]], { opacity: 0.7, className: "kde-image" });
    } catch (_) { layers.kde = null; }
  }
  applyCommandLayers();
}

// hot-spot areas: contiguous significant hot units merged by the run (gridmap.hotspots.areas), a few
// polygons at every zoom, simplified for the zoom they were loaded at
async function loadHotspotAreas() {
  layers.areas.clearLayers();
  state.hotspotZoom = map.getZoom();
  const gi = state.giRun;
  if (!gi) return;
  const set = ((state.hotspotSets || {}).gi || []).length ? state.hotspotSets.gi : [gi];
  // every city's newest Gi* run: each run's areas (a store without areas answers nothing)
  const answers = await Promise.all(set.map((run) => api(`${API}/hotspots/runs/${run.run_id}/areas${qs({ sign: 1,
    crs: crs(), simplify: simplifyM() })}`).catch(() => null)));
  for (const fc of answers) if (fc) layers.areas.addData(fc);
  layers.areas.setStyle({ color: "#c00", weight: 3, dashArray: "6 4", fill: false });
  showLayer(layers.areas, state.view === "command" && document.getElementById("l-areas").checked);
}

async function refreshCommandData() {
  const filters = caseFilters();
  const count = document.getElementById("cases-count");
  layers.clusters.clearLayers();
  // a fresh heat layer each time: leaflet.heat cannot redraw while it is off the map
  showLayer(layers.heat, false);
  layers.heat = L.heatLayer([], HEAT_OPTIONS);
  if (can("cases.read")) {
    const fc = await api(`${API}/cases/points${qs({ ...filters, crs: crs() })}`);
    const latlngs = fc.features.map((f) => [f.geometry.coordinates[1], f.geometry.coordinates[0]]);
    layers.heat = L.heatLayer(latlngs, HEAT_OPTIONS);
    layers.clusters.addLayers(fc.features.map((f) => L.circleMarker(
      [f.geometry.coordinates[1], f.geometry.coordinates[0]],
      { radius: 5, color: f.properties.kind === "petition" ? "#6a3d9a" : "#e31a1c", weight: 1, fillOpacity: 0.8,
        className: "case-point" },
    ).bindTooltip(`${categoryName(f.properties.category)} ${f.properties.reported_at.slice(0, 10)}`)));
    count.textContent = `${t("cases_in_view")}: ${fmt(fc.numberReturned)}`;
  } else {
    count.textContent = t("not_signed_in");
  }
  await Promise.all([loadKpis(), loadTopGrids(), loadUnitCounts()]);
  applyCommandLayers();
}

async function loadKpis() {
  const box = document.getElementById("kpis");
  if (!can("kpi.read")) { box.replaceChildren(el("p", { class: "hint" }, t("not_signed_in"))); return; }
  const unit = currentUnit();
  const level = CHILD_LEVEL[unit.level];
  const kind = document.getElementById("f-kind").value || "dispute";
  const data = await api(`${API}/kpis${qs({ level, period: periodSpec(), parent: unit.code, kind })}`);
  const table = el("table", { class: "kpi" }, el("tr", {},
    el("th", {}, ""), el("th", {}, t("kpi_found")), el("th", {}, t("kpi_resolved")),
    el("th", {}, t("kpi_rate")), el("th", {}, t("kpi_yoy"))));
  for (const u of data.units.slice(0, 40)) {
    const yoy = u.found_yoy_ratio === null || u.found_yoy_ratio === undefined ? "–"
      : `${u.found_yoy_ratio > 0 ? "+" : ""}${fmt(u.found_yoy_ratio * 100, 0)}%`;
    table.append(el("tr", {}, el("td", {}, u.unit_name || u.unit_code),
      el("td", {}, countText(u.found, u.suppressed)), el("td", {}, countText(u.resolved, u.suppressed)),
      el("td", {}, u.resolution_rate === null ? "–" : fmt(u.resolution_rate * 100, 0) + "%"), el("td", {}, yoy)));
  }
  box.replaceChildren(table);
}

async function loadTopGrids() {
  const list = document.getElementById("top-grids");
  const data = await api(`${API}/grid-counts${qs({ ...caseFilters(), limit: 10 })}`);
  list.replaceChildren(...data.grids.map((g) => el("li", {
    onclick: () => zoomToGrid(g.grid_code),
  }, `${g.grid_code} `, countText(g.count, g.suppressed))));
  if (!data.grids.length) list.replaceChildren(el("li", { class: "hint" }, t("no_data")));
}

async function zoomToGrid(code) {
  const village = code.slice(0, 12);
  const units = await api(`${API}/admin-units/${village}`);
  const chain = [];
  let p = units.properties;
  while (p && p.level !== "city") {
    chain.unshift({ code: p.code, level: p.level, name: p.name });
    if (!p.parent_code) break;
    p = (await api(`${API}/admin-units/${p.parent_code}`)).properties;
  }
  state.drill = [state.drill[0], ...chain];
  await drillTo();
  showGridInfo(code);
}

function applyCommandLayers() {
  const on = state.view === "command";
  const signedIn = can("cases.read");
  showLayer(layers.heat, on && signedIn && document.getElementById("l-heat").checked);
  showLayer(layers.kde, on && document.getElementById("l-kde").checked);
  showLayer(layers.gi, on && document.getElementById("l-gi").checked);
  showLayer(layers.emerging, on && document.getElementById("l-emerging").checked);
  showLayer(layers.areas, on && document.getElementById("l-areas").checked);
  showLayer(layers.clusters, on && signedIn && document.getElementById("l-clusters").checked);
  showLayer(layers.grids, on && CHILD_LEVEL[currentUnit().level] === "grid");
  drawCommandLegend();
}

function drawCommandLegend() {
  const box = document.getElementById("legend-command");
  box.replaceChildren();
  const cases = can("cases.read");  // heat, density and case points need case access
  if (cases && document.getElementById("l-heat").checked) {
    box.append(el("div", { class: "legend-title" }, t("layer_heat")), legendItem(null, t("heat_legend"), "ramp"));
  }
  if (cases && document.getElementById("l-kde").checked && state.kdeInfo) {
    box.append(el("div", { class: "legend-title" }, t("layer_kde")),
      legendItem(null, `0 – ${state.kdeInfo.max_density_per_km2.toPrecision(2)} ${t("per_km2")}`, "ramp-kde"));
  }
  const has = (layer) => layer && (layer instanceof L.VectorGrid || layer.getLayers().length > 0);
  if (state.unitCounts && Object.keys(state.unitCounts).length) {
    const max = state.unitCountsMax || 1;
    box.append(el("div", { class: "legend-title" }, t("cases_total")),
      ...COUNT_RAMP.map((c, i) => legendItem(c, `${fmt(Math.ceil(max * i / 5))} – ${fmt(Math.ceil(max * (i + 1) / 5))}`)));
  }
  if (map.getZoom() < TILE_MIN_ZOOM && (has(layers.gi) || has(layers.emerging))) {
    box.append(el("p", { class: "hint zoom-hint" }, t("zoom_in_tiles")));
  }
  if (document.getElementById("l-gi").checked && has(layers.gi)) {
    box.append(el("div", { class: "legend-title" }, t("layer_gi")));
    for (const bin of [3, 2, 1, 0, -1, -2, -3]) box.append(legendItem(GI_COLOURS[bin], t("gi_" + bin)));
    const summary = (state.giRun && state.giRun.summary) || {};
    box.append(el("p", { class: "hint gi-confidence" }, t("gi_confidence_legend", { alpha: summary.alpha ?? 0.05 })));
    if (summary.decisions && summary.decisions.length) box.append(giDecisions(summary.decisions));
  }
  if (document.getElementById("l-emerging").checked && has(layers.emerging)) {
    box.append(el("div", { class: "legend-title" }, t("layer_emerging")));
    const counts = ((state.hotspotRuns.emerging || {}).summary || {}).labels;
    const present = new Set(counts && typeof counts === "object" ? Object.keys(counts) : Object.keys(EMERGING_COLOURS));
    for (const label of Object.keys(EMERGING_COLOURS)) {
      if (present.has(label)) box.append(legendItem(EMERGING_COLOURS[label], t("emerging_" + label)));
    }
  }
  if (document.getElementById("l-areas").checked && has(layers.areas)) {
    box.append(el("div", { class: "legend-title" }, t("layer_areas")), legendItem(null, t("areas_legend"), "line"));
  }
  if (cases && document.getElementById("l-clusters").checked) {
    box.append(el("div", { class: "legend-title" }, t("layer_clusters")),
      legendItem("#e31a1c", t("dispute")), legendItem("#6a3d9a", t("petition")), el("p", { class: "hint" }, t("clusters_legend")));
  }
  box.append(el("div", { class: "legend-title" }, t("layer_admin")), legendItem("#9fb7d3", t("layer_admin")));
}

// an optimized run's choices (aggregation, scale, inference, multiple testing), each with its reason
function giDecisions(decisions) {
  const list = el("ul", { class: "gi-decisions hint" });
  for (const d of decisions) {
    list.append(el("li", { "data-decision": d.decision },
      el("b", {}, t("decision_" + d.decision.replace(/ /g, "_")) + ": "), `${d.value} — ${d.why}`));
  }
  return el("div", {}, el("div", { class: "legend-title" }, t("optimized_decisions")), list);
}

// --- planning view -------------------------------------------------------------------------------------
function householdClass(h) {
  const c = state.config;
  const lo = Math.round(c.grid_target_households * (1 - c.grid_tolerance));
  const hi = Math.round(c.grid_target_households * (1 + c.grid_tolerance));
  if (h < c.grid_min_households) return { colour: "#2c7bb6", key: "hh_below" };
  if (h < lo) return { colour: "#abd9e9", key: "hh_low" };
  if (h <= hi) return { colour: "#1a9641", key: "hh_target" };
  if (h <= c.grid_max_households) return { colour: "#fdae61", key: "hh_high" };
  return { colour: "#d7191c", key: "hh_above" };
}

function drawPlanningLegend() {
  const c = state.config;
  const vars = { target: c.grid_target_households, min: c.grid_min_households, max: c.grid_max_households,
    lo: Math.round(c.grid_target_households * (1 - c.grid_tolerance)),
    hi: Math.round(c.grid_target_households * (1 + c.grid_tolerance)) };
  const box = document.getElementById("legend-planning");
  box.replaceChildren(el("div", { class: "legend-title" }, t("colour_by_households", vars)));
  for (const [h, key] of [[0, "hh_below"], [vars.min, "hh_low"], [c.grid_target_households, "hh_target"],
    [vars.max, "hh_high"], [vars.max + 1, "hh_above"]]) {
    box.append(legendItem(householdClass(h).colour, t(key, vars)));
  }
  box.append(legendItem("transparent", t("selected"), "selected-swatch"));
}

async function loadPlans() {
  const plans = await api(`${API}/plans`);
  const select = document.getElementById("p-plan");
  const other = document.getElementById("p-other");
  const options = plans.map((p) => [p.plan_id, `${p.name}（${t("plan_status_" + p.status)}，${p.grids}）`]);
  select.replaceChildren(...options.map(([v, label]) => el("option", { value: v }, label)));
  other.replaceChildren(...options.map(([v, label]) => el("option", { value: v }, label)));
  const draft = plans.find((p) => p.status === "draft");
  select.value = state.planning.plan && plans.some((p) => p.plan_id === state.planning.plan)
    ? state.planning.plan : (draft || plans[0] || {}).plan_id;
  other.value = state.activePlan || "";
  state.planning.plan = select.value;
  state.planning.plans = plans;
}

function planBbox() {
  const b = map.getBounds().pad(0.1);
  return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
}

async function loadPlanGrids() {
  const plan = state.planning.plan;
  if (!plan) return;
  if (map.getZoom() < PLAN_MIN_ZOOM) {  // a whole city of grids is too much to edit at once
    layers.planGrids.clearLayers();
    planMessage(t("zoom_in"), false);
    return;
  }
  const fc = await api(`${API}/plans/${plan}/grids${qs({ bbox: planBbox(), crs: crs(), simplify: simplifyM() })}`);
  layers.planGrids.clearLayers();
  layers.planGrids.addData(fc);
  stylePlanGrids();
  layers.planGrids.eachLayer((layer) => {
    const p = layer.feature.properties;
    layer.bindTooltip(`${p.code} · ${fmt(p.households)} ${t("households")}`, { sticky: true });
    layer.on("click", (e) => selectGrid(p.code, e.originalEvent.shiftKey));
  });
  showLayer(layers.planGrids, state.view === "planning");
  fillMoveTargets();
}

function stylePlanGrids() {
  const selected = new Set(state.planning.selected);
  layers.planGrids.setStyle((f) => ({
    color: selected.has(f.properties.code) ? "#000" : "#555",
    weight: selected.has(f.properties.code) ? 3 : 0.8,
    fillColor: householdClass(f.properties.households || 0).colour, fillOpacity: 0.55,
  }));
}

function selectGrid(code, add) {
  const sel = state.planning.selected;
  if (add) {
    const i = sel.indexOf(code);
    if (i >= 0) sel.splice(i, 1); else sel.push(code);
  } else {
    state.planning.selected = [code];
  }
  drawSelection();
}

function drawSelection() {
  stylePlanGrids();
  const list = document.getElementById("p-selected");
  const byCode = {};
  layers.planGrids.eachLayer((l) => { byCode[l.feature.properties.code] = l.feature.properties; });
  list.replaceChildren(...state.planning.selected.map((code) => el("li", { class: "selected-grid" },
    `${code} · ${fmt((byCode[code] || {}).households)} ${t("households")}`)));
}

function fillMoveTargets() {
  const select = document.getElementById("p-move-to");
  const codes = [];
  layers.planGrids.eachLayer((l) => codes.push(l.feature.properties.code));
  codes.sort();
  select.replaceChildren(...codes.map((c) => el("option", { value: c }, c)));
}

function planMessage(text, ok) {
  const box = document.getElementById("p-message");
  box.className = ok ? "ok" : "error";
  box.textContent = text;
}

async function planEdit(kind, body) {
  const plan = state.planning.plan;
  try {
    const result = await api(`${API}/plans/${plan}/edits/${kind}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    planMessage(`${t("edit_ok")}: ${result.grids.join(", ")}`, true);
    state.planning.selected = result.grids.slice();
    state.planning.atoms.clear();
    layers.atoms.clearLayers();
    await loadPlans();
    await loadPlanGrids();
    drawSelection();
    loadQuality();
  } catch (error) {
    planMessage(`${t("edit_rejected")}: ${error.message}`, false);
  }
}

async function loadAtoms() {
  layers.atoms.clearLayers();
  state.planning.atoms.clear();
  for (const code of state.planning.selected) {
    try {
      const fc = await api(`${API}/plans/${state.planning.plan}/atoms${qs({ grid: code, crs: crs() })}`);
      layers.atoms.addData(fc);
    } catch (error) { planMessage(error.message, false); return; }
  }
  layers.atoms.setStyle({ color: "#333", weight: 0.6, dashArray: "2 2", fillOpacity: 0 });
  layers.atoms.eachLayer((layer) => {
    layer.on("click", () => {
      const id = layer.feature.id;
      if (state.planning.atoms.has(id)) state.planning.atoms.delete(id); else state.planning.atoms.add(id);
      layer.setStyle(state.planning.atoms.has(id) ? { fillColor: "#ff0", fillOpacity: 0.6 } : { fillOpacity: 0 });
    });
  });
  showLayer(layers.atoms, state.view === "planning");
}

async function compare() {
  const plan = state.planning.plan;
  const other = document.getElementById("p-other").value;
  const box = document.getElementById("p-diff");
  try {
    const d = await api(`${API}/plans/${plan}/diff${qs({ other })}`);
    const s = d.summary;
    box.replaceChildren(el("dl", {},
      el("dt", {}, t("diff_added")), el("dd", {}, fmt(s.added)),
      el("dt", {}, t("diff_removed")), el("dd", {}, fmt(s.removed)),
      el("dt", {}, t("diff_changed")), el("dd", {}, fmt(s.changed)),
      el("dt", {}, t("diff_moved_hh")), el("dd", {}, fmt(s.households_moved))));
    const fc = await api(`${API}/plans/${other}/grids${qs({ bbox: planBbox(), crs: crs() })}`);
    layers.other.clearLayers();
    layers.other.addData(fc);
    layers.other.setStyle((f) => ({ color: d.removed.includes(f.id) ? "#d00" : "#222", weight: 2,
      dashArray: "5 5", fill: false }));
    showLayer(layers.other, state.view === "planning");
  } catch (error) { box.textContent = error.message; }
}

async function loadQuality() {
  const box = document.getElementById("p-quality");
  try {
    const q = await api(`${API}/plans/${state.planning.plan}/quality`);
    const s = q.summary;
    box.replaceChildren(el("dl", {},
      el("dt", {}, t("layer_grids")), el("dd", {}, fmt(s.grids)),
      el("dt", {}, t("quality_in_band")), el("dd", {}, fmt(s.share_in_band * 100, 1) + "%"),
      el("dt", {}, t("quality_pp")), el("dd", {}, fmt(s.pp_mean, 2))));
  } catch (error) { box.textContent = error.message; }
}

// --- coverage view -------------------------------------------------------------------------------------
function daysClass(p) {
  if (p.days_since_visit === null || p.days_since_visit === undefined) return { colour: "#bdbdbd", key: "days_never" };
  return DAYS_CLASSES.find((c) => p.days_since_visit <= c.max);
}

function drawCoverageLegend() {
  const box = document.getElementById("legend-coverage");
  box.replaceChildren(el("div", { class: "legend-title" }, t("days_since_visit")),
    ...DAYS_CLASSES.map((c) => legendItem(c.colour, t(c.key))), legendItem("#bdbdbd", t("days_never")),
    legendItem("transparent", t("no_worker"), "no-worker"));
}

async function loadCoverage() {
  const box = document.getElementById("c-findings");
  if (!can("coverage.read")) {
    layers.coverage.clearLayers();
    box.replaceChildren(el("li", { class: "hint" }, state.user.username ? t("no_access") : t("not_signed_in")));
    return;
  }
  const month = document.getElementById("c-period").value;
  status(t("loading"));
  const audit = await api(`${API}/coverage/audit${qs({ period: month })}`);
  const period = audit.period.slice(0, 7);
  if (!month) document.getElementById("c-period").value = period;
  showLayer(layers.coverage, false);
  layers.coverage = vectorTiles("coverage", { period }, (p) => ({
    className: "coverage-grid", color: p.workers === 0 ? "#7b3294" : "#666", weight: p.workers === 0 ? 3 : 0.6,
    dashArray: p.workers === 0 ? "4 3" : null, fill: true, fillColor: daysClass(p).colour, fillOpacity: 0.6,
  }), { pane: "grids", interactive: true,
    tooltip: (p) => `${p.code} · ${t("days_since_visit")}: ${p.days_since_visit ?? "–"} · ${t("workers")}: ${p.workers}` });
  showLayer(layers.coverage, state.view === "coverage");
  box.replaceChildren(...audit.findings.slice(0, 200).map((f) => el("li", {
    onclick: async () => {  // the grid's outline by its code: the tiles hold only what is in view
      const code = (f.grid_code || "").split(",")[0];
      if (!code || !state.activePlan) return;
      const grid = await api(`${API}/plans/${state.activePlan}/grids/${code}${qs({ crs: crs() })}`);
      map.fitBounds(L.geoJSON(grid).getBounds(), { maxZoom: 14 });
    },
  }, LANG === "zh" ? f.message_zh : f.message_en)));
  status(map.getZoom() < TILE_MIN_ZOOM ? t("zoom_in_tiles") : "");
  const workers = await api(`${API}/coverage/workers${qs({ period: month || period })}`);
  const select = document.getElementById("c-worker");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, t("choose_worker")),
    ...workers.map((w) => el("option", { value: w.worker_id }, `${w.worker_id} ${w.name || ""} (${fmt(w.checkins)})`)));
  if (workers.some((w) => w.worker_id === chosen)) select.value = chosen;  // the drawn track stays
}

async function loadCheckins() {
  layers.checkins.clearLayers();
  const worker = document.getElementById("c-worker").value;
  const info = document.getElementById("c-worker-info");
  info.textContent = "";
  if (!worker) return;
  const month = document.getElementById("c-period").value;
  const params = month ? { from: month + "-01", to: nextMonth(month) + "-01", crs: crs() } : { crs: crs() };
  try {
    const fc = await api(`${API}/coverage/workers/${encodeURIComponent(worker)}/checkins${qs(params)}`);
    const pts = fc.features.map((f) => [f.geometry.coordinates[1], f.geometry.coordinates[0]]);
    L.polyline(pts, { color: "#08519c", weight: 1.5, opacity: 0.7, className: "checkin-track" }).addTo(layers.checkins);
    fc.features.forEach((f, i) => L.circleMarker(pts[i], { radius: 3, color: "#08519c", fillOpacity: 0.9, className: "checkin" })
      .bindTooltip(f.properties.ts).addTo(layers.checkins));
    info.textContent = `${t("checkins")}: ${fc.features.length}`;
    showLayer(layers.checkins, state.view === "coverage");
    const track = L.latLngBounds(pts);
    if (pts.length && !map.getBounds().contains(track)) map.fitBounds(track.pad(0.3));
  } catch (error) { info.textContent = error.message; }
}

// --- views -----------------------------------------------------------------------------------------------
async function setView(view) {
  state.view = view;
  document.querySelectorAll("#views button").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  document.querySelectorAll(".view").forEach((s) => { s.hidden = s.id !== "view-" + view; });
  for (const name of ["planGrids", "atoms", "other"]) showLayer(layers[name], view === "planning");
  for (const name of ["coverage", "checkins"]) showLayer(layers[name], view === "coverage");
  showLayer(layers.admin, view !== "coverage");
  applyCommandLayers();
  try {
    if (view === "planning") {
      drawPlanningLegend();
      await loadPlans();
      await loadPlanGrids();
      loadQuality();
    } else if (view === "coverage") {
      drawCoverageLegend();
      await loadCoverage();
    }
  } catch (error) { status(`${t("error")}: ${error.message}`); }
  document.body.dataset.view = view;
}

async function start() {
  document.body.dataset.ready = "";
  applyI18n();
  const [, health] = await Promise.all([loadUser(), api("api/health")]);  // independent: side by side
  state.activePlan = health.active_plan;
  // web/basemap.js: Tianditu WMTS (c or w), a plain tile URL, or names of the units when there is none
  if (!state.basemap) state.basemap = GridmapBasemap.setup(map, state.config, { api, API, qs, crs });
  // only its bounds are needed here: a coarse outline (200 m) is a fraction of the exact one
  const city = await api(`${API}/admin-units${qs({ level: "city", crs: crs(), simplify: 200 })}`);
  const cityFeature = city.features[0];
  state.drill = [{ code: cityFeature ? cityFeature.properties.code : areaUnit().code, level: "city",
    name: cityFeature ? cityFeature.properties.name : "" }];
  if (cityFeature) map.fitBounds(L.geoJSON(cityFeature).getBounds());
  else map.setView([43.65, 122.25], 8);
  fillCategories();
  await Promise.all([setupSlider(), loadHotspots()]);  // independent: fetched side by side
  await drillTo(false);
  await setView(state.view);
  await tilesDrawn();
  // navigation start → units, counts and tiles drawn (bench/web_first_paint.py reads it)
  if (!document.body.dataset.firstPaintMs) document.body.dataset.firstPaintMs = String(Math.round(performance.now()));
  document.body.dataset.ready = "1";
}

// --- wiring ---------------------------------------------------------------------------------------------
document.getElementById("login-form").addEventListener("submit", signIn);
document.getElementById("logout").addEventListener("click", () => signOut(true));
document.getElementById("lang").addEventListener("click", async () => {
  setLang(LANG === "zh" ? "en" : "zh");
  fillCategories();
  await loadUser();
  await setView(state.view);
  drawBreadcrumb();
  if (state.view === "coverage") loadCheckins();
  refreshCommandData();
});
document.querySelectorAll("#views button").forEach((b) => b.addEventListener("click", () => setView(b.dataset.view)));
for (const id of ["f-kind", "f-category", "f-from", "f-to"]) {
  document.getElementById(id).addEventListener("change", () => {
    if (id === "f-kind") fillCategories();
    updateSliderLabels();
    refreshCommandData().catch((e) => status(e.message));
  });
}
for (const id of ["f-from", "f-to"]) document.getElementById(id).addEventListener("input", updateSliderLabels);
for (const id of ["l-heat", "l-kde", "l-gi", "l-emerging", "l-areas", "l-clusters"]) {
  document.getElementById(id).addEventListener("change", applyCommandLayers);
}
document.getElementById("p-plan").addEventListener("change", async (e) => {
  state.planning.plan = e.target.value;
  state.planning.selected = [];
  drawSelection();
  await loadPlanGrids();
  loadQuality();
});
document.getElementById("p-split").addEventListener("click", () => {
  if (state.planning.selected.length !== 1) { planMessage(t("select_hint"), false); return; }
  planEdit("split", { grid: state.planning.selected[0], parts: Number(document.getElementById("p-parts").value) });
});
document.getElementById("p-merge").addEventListener("click", () => {
  if (state.planning.selected.length < 2) { planMessage(t("select_hint"), false); return; }
  planEdit("merge", { grids: state.planning.selected.slice() });
});
document.getElementById("p-atoms").addEventListener("click", loadAtoms);
document.getElementById("p-move").addEventListener("click", () => {
  if (!state.planning.atoms.size) { planMessage(t("move_hint"), false); return; }
  planEdit("move", { atoms: [...state.planning.atoms], to_grid: document.getElementById("p-move-to").value });
});
document.getElementById("p-compare").addEventListener("click", compare);
document.getElementById("c-period").addEventListener("change", () => {
  loadCoverage().then(loadCheckins).catch((e) => status(e.message));
});
document.getElementById("c-worker").addEventListener("change", loadCheckins);
map.on("moveend", () => {
  if (state.view === "planning" && state.planning.plan) loadPlanGrids().catch((e) => status(e.message));
});
// polygons were simplified for the zoom they were loaded at: zoomed in a lot, load them again
map.on("zoomend", () => {
  const z = map.getZoom();
  if (state.view === "command" && state.hotspotZoom !== undefined && z - state.hotspotZoom >= 2) {
    loadHotspotAreas().catch((e) => status(e.message));
  }
  if (state.view === "command") drawCommandLegend();  // the zoom-in hint comes and goes
  if (state.view === "coverage") status(z < TILE_MIN_ZOOM ? t("zoom_in_tiles") : "");
});

start().catch((error) => { status(`${t("error")}: ${error.message}`); document.body.dataset.ready = "error"; });
