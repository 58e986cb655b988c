/* Base map under the overlays: an intranet 天地图 (Tianditu) WMTS, a plain tile URL, or none.
 *
 * Tianditu serves two tile matrix sets:
 *  - "c": EPSG:4490 (CGCS2000 longitude/latitude). Leaflet draws it with L.CRS.EPSG4326, whose
 *    zoom 0 is 2 × 1 tiles of 180° — Tianditu's level 1 — so tile URLs carry zoom + 1 (zoomOffset 1);
 *  - "w": Web Mercator, the levels are Leaflet's zooms.
 * CGCS2000 and WGS-84 differ by centimetres, so the overlays (WGS-84) need no shift.
 * With no base map configured, the names of counties, townships and villages are written on the
 * map at the zooms where they fit (GET api/v1/admin-units/labels, only the units in view).
 */
"use strict";

const GridmapBasemap = (() => {
  // Leaflet (Web Mercator) zooms at which each level's names are written: [from, to)
  const LABEL_ZOOMS = { county: [6, 10.5], township: [10, 12.5], village: [12.5, 99] };
  const SUBDOMAINS = "01234567";

  function tiandituUrl(cfg, layer) {
    const set = cfg.matrix_set;
    return `${cfg.url}/${layer}_${set}/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=${layer}` +
      `&STYLE=default&TILEMATRIXSET=${set}&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}` +
      `&tk=${encodeURIComponent(cfg.key || "")}`;
  }

  function addTianditu(map, cfg) {
    const geographic = cfg.matrix_set === "c";
    if (geographic) {
      // before any view is set: the map's CRS decides how every later view is projected
      map.options.crs = L.CRS.EPSG4326;
      map.setMinZoom(3);
      map.setMaxZoom(17);  // Tianditu levels 1–18
    }
    const layers = cfg.layers.map((layer, i) => L.tileLayer(tiandituUrl(cfg, layer), {
      subdomains: SUBDOMAINS,
      zoomOffset: geographic ? 1 : 0,
      maxZoom: geographic ? 17 : 18,
      attribution: i === 0 ? cfg.attribution : "",
      className: `tianditu-${layer}`,
    }).addTo(map));
    document.body.dataset.basemap = `tianditu-${cfg.matrix_set}`;
    return layers;
  }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  function addLabels(map, helpers) {
    const pane = map.createPane("labels");
    pane.style.zIndex = 450;
    pane.style.pointerEvents = "none";
    const group = L.layerGroup().addTo(map);
    const cache = new Map();  // level|bbox → FeatureCollection
    let generation = 0;

    async function fetchLevel(level) {
      const b = map.getBounds().pad(0.2);
      // counties: all of them once; the finer levels: what is in view (rounded, so panning reuses)
      const bbox = level === "county" ? null
        : [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(2)).join(",");
      const key = `${level}|${bbox}`;
      if (!cache.has(key)) {
        const params = { level, crs: helpers.crs() };
        if (bbox) params.bbox = bbox;
        cache.set(key, helpers.api(`${helpers.API}/admin-units/labels${helpers.qs(params)}`));
      }
      return cache.get(key);
    }

    async function redraw() {
      const mine = ++generation;
      const zoom = map.getZoom();
      const levels = Object.keys(LABEL_ZOOMS).filter((l) => zoom >= LABEL_ZOOMS[l][0] && zoom < LABEL_ZOOMS[l][1]);
      const collections = await Promise.all(levels.map(async (l) => [l, await fetchLevel(l)]));
      if (mine !== generation) return;  // a newer move superseded this one
      group.clearLayers();
      for (const [level, fc] of collections) {
        for (const f of fc.features) {
          const [lon, lat] = f.geometry.coordinates;
          group.addLayer(L.marker([lat, lon], {
            pane: "labels", interactive: false, keyboard: false,
            icon: L.divIcon({ className: `admin-label admin-label-${level}`, html: `<span>${esc(f.properties.name)}</span>`,
              iconSize: null }),
          }));
        }
      }
      document.body.dataset.labels = levels.join(",");
    }

    map.on("zoomend moveend", () => { redraw().catch(() => {}); });
    return { redraw };
  }

  /** Set up the base map from the page config; returns the tile layers or the label layer. */
  function setup(map, config, helpers) {
    if (config.tianditu) return { tiles: addTianditu(map, config.tianditu) };
    if (config.basemap_url) {
      document.body.dataset.basemap = "tiles";
      return { tiles: [L.tileLayer(config.basemap_url, { attribution: config.basemap_attribution || "" }).addTo(map)] };
    }
    document.body.dataset.basemap = "none";
    return { labels: addLabels(map, helpers) };
  }

  return { setup, tiandituUrl, LABEL_ZOOMS };
})();
