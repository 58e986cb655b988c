"""Where vector tiles come from: store rows → MVT bytes (PostGIS ``ST_AsMVT`` or :mod:`api.mvt`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from api import mvt
from gridmap.disclosure import EXACT_STATISTICS, DisclosureRule, disclose, label_keys, run_cell_labels
from gridmap.store.base import Store
from gridmap.store.schema import all_tables

LAYERS = ("grids", "hotspots", "coverage")

GRID_PROPERTIES = ["code", "village_code", "households", "population"]
HOTSPOT_PROPERTIES = ["unit_id", "count", "value", "z", "p_fdr", "bin", "label"]
#: no case counts in coverage tiles (nothing to disclose): the page fetches a grid's counts by its code
COVERAGE_PROPERTIES = ["code", "workers", "days_since_visit", "status"]
#: coordinates tiles can be cut in: WGS-84, or GCJ-02 to lie on a GCJ-02 base map (Chinese map services)
TILE_CRS = ("wgs84", "gcj02")


@dataclass(frozen=True)
class TileRequest:
    """Everything a tile's bytes depend on (also its cache key, with the source revision)."""

    layer: str
    source_id: str  # plan id (grids) or run id (hotspots)
    z: int
    x: int
    y: int
    full_counts: bool  # False → counts disclosed by ``rule`` (gridmap.disclosure)
    rule: DisclosureRule
    crs: str = "wgs84"  # "gcj02": geometries shifted to GCJ-02 before projecting to Web Mercator


def plan_revision(store: Store, plan_id: str) -> int:
    """Number of edits recorded for a plan (0 when the partition tables are not there)."""
    if "plan_edits" not in all_tables():
        return 0
    return store.count("plan_edits", {"plan_id": plan_id})


def _run_area(summary: object) -> str | None:
    """The area (city or county code) a run was restricted to (``summary.area``), None for the whole store."""
    import json

    try:
        area = json.loads(summary).get("area") if isinstance(summary, str) and summary else None
    except (ValueError, AttributeError):
        return None
    return str(area) if area else None


def _json_key(text: object) -> str:
    import json

    try:
        return json.dumps(json.loads(text), sort_keys=True) if isinstance(text, str) and text else ""
    except ValueError:
        return str(text)


def latest_hotspot_runs(store: Store, method: str) -> list[str]:
    """Ids of the runs the page shows for ``method``: the newest run of each area, newest first.

    A build of several cities (``build-demo --area 150000``) stores one run per city and method
    (``summary.area``, :mod:`gridmap.hotspots.batch`); a province-wide layer is every city's newest
    run together.  Starting from the newest run of ``method``, each older run with the same plan,
    unit and case filters joins when its area neither contains nor lies inside an area already
    taken; a run over the whole store (no area) ends the list (it covers everything older).  A
    single-city store therefore gives the newest run alone, as before.
    """
    from gridmap.domain import area_prefix

    runs = store.read(
        "hotspot_runs",
        where={"method": method},
        columns=["run_id", "created_at", "plan_id", "unit_kind", "filters", "summary"],
        order_by=["-created_at", "-run_id"],
    )
    if runs.empty:
        return []
    newest = runs.iloc[0]
    same = (
        (runs["plan_id"].astype(str) == str(newest["plan_id"]))
        & (runs["unit_kind"].astype(str) == str(newest["unit_kind"]))
        & (runs["filters"].map(_json_key) == _json_key(newest["filters"]))
    )
    chosen: list[str] = []
    prefixes: list[str] = []
    for run_id, summary in runs.loc[same, ["run_id", "summary"]].itertuples(index=False):
        area = _run_area(summary)
        if area is None:
            if not chosen:
                chosen.append(str(run_id))
            break
        prefix = area_prefix(area)
        if any(p.startswith(prefix) or prefix.startswith(p) for p in prefixes):
            continue  # a newer run of this area (or of one around or inside it) is shown
        chosen.append(str(run_id))
        prefixes.append(prefix)
    return chosen


def hotspot_run_for(store: Store, method: str) -> str | None:
    """Tile source id of the latest hot-spot layer of ``method``: the run ids of
    :func:`latest_hotspot_runs` joined by commas (one id for a single-city store), None without runs."""
    runs = latest_hotspot_runs(store, method)
    return ",".join(sorted(runs)) if runs else None


def source_runs(source_id: str) -> list[str]:
    """The run ids of a hot-spot tile source id (see :func:`hotspot_run_for`)."""
    return [run for run in source_id.split(",") if run]


def _numeric_id(values: pd.Series) -> list[int | None]:
    """Feature ids: numeric codes as integers (grid and admin codes fit in 64 bits), else none."""
    out: list[int | None] = []
    for v in values.astype(str):
        out.append(int(v) if v.isdigit() and len(v) < 19 else None)
    return out


def _properties(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    cols = [c for c in columns if c in frame.columns]
    data = {c: frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in cols}
    return (
        [dict(zip(cols, row, strict=True)) for row in zip(*(data[c] for c in cols), strict=True)]
        if cols
        else [{} for _ in range(len(frame))]
    )


def _hotspot_frame(frame: pd.DataFrame, request: TileRequest, run: dict) -> pd.DataFrame:
    if request.full_counts or frame.empty:
        return frame.assign(suppressed=False)
    labels = run_cell_labels(run, frame["unit_id"]).set_axis(frame.index)
    counts = pd.to_numeric(frame["count"], errors="coerce").to_numpy(dtype=float)
    shown = disclose(counts, label_keys(labels + "|count", request.rule), request.rule)
    out = frame.assign(count=shown.values, suppressed=shown.suppressed)
    # z, p and value are computed from exact counts and would give them back (gridmap.disclosure)
    for column in EXACT_STATISTICS:
        if column in out.columns:
            out[column] = np.nan
    return out


#: per indexed feature besides its coordinates: GEOS geometry, tree node, id and property dict
BYTES_PER_FEATURE_INDEXED = 1024


@dataclass
class SourceIndex:
    """All features of one tile source (a plan's grids, a run's results) ready for tiling:
    geometries already in Web Mercator (EPSG:3857, metres), ids, properties and an STRtree.

    Built once per (source, revision, count visibility) and kept in memory, so a tile is an
    index query plus the encoder — no store access, no data-frame construction per tile.
    """

    geometries: np.ndarray
    ids: list[int | None]
    properties: list[dict]
    tree: shapely.STRtree

    @property
    def nbytes(self) -> int:
        """Approximate memory held (bytes): GEOS coordinates and geometry headers, the tree,
        the property dicts (measured: a plan of 2,574 grids with 2.0 M vertices holds ~40 MiB)."""
        coordinates = int(shapely.get_num_coordinates(self.geometries).sum()) if len(self.geometries) else 0
        return coordinates * 16 + len(self.geometries) * (BYTES_PER_FEATURE_INDEXED)

    @classmethod
    def load(
        cls, store: Store, request: TileRequest, frame_loader: Callable[[], pd.DataFrame] | None = None
    ) -> SourceIndex:
        """The source of ``request`` from the store; coverage tiles take their grid table (a
        GeoDataFrame, lon/lat degrees) from ``frame_loader``, which knows the period and thresholds."""
        if request.layer == "coverage":
            if frame_loader is None:
                raise ValueError("coverage tiles need a frame_loader")
            frame = frame_loader()
            id_column, columns = "code", COVERAGE_PROPERTIES
        elif request.layer == "grids":
            frame = store.read(
                "grids", where={"plan_id": request.source_id}, columns=[*GRID_PROPERTIES, "geometry"]
            )
            id_column, columns = "code", GRID_PROPERTIES
        else:
            # one run, or every city's newest run of a method (disclosed run by run: a run's
            # labels key its counts, gridmap.disclosure)
            parts = []
            for run_id in source_runs(request.source_id):
                part = store.read(
                    "hotspot_results", where={"run_id": run_id}, columns=[*HOTSPOT_PROPERTIES, "geometry"]
                )
                runs = store.read("hotspot_runs", where={"run_id": run_id})
                parts.append(_hotspot_frame(part, request, runs.iloc[0].to_dict() if len(runs) else {}))
            frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            id_column, columns = "unit_id", [*HOTSPOT_PROPERTIES, "suppressed"]
        if len(frame):
            frame = frame[frame.geometry.notna()]
        lonlat = frame.geometry.to_numpy() if len(frame) else np.array([], dtype=object)
        if request.crs == "gcj02" and len(lonlat):
            lonlat = shapely.transform(lonlat, _to_gcj02)
        geoms = mvt.to_mercator(lonlat) if len(frame) else np.array([], dtype=object)
        ids = _numeric_id(frame[id_column]) if len(frame) else []
        return cls(geoms, ids, _properties(frame, columns) if len(frame) else [], shapely.STRtree(geoms))

    def tile(self, request: TileRequest) -> bytes:
        z, x, y = request.z, request.x, request.y
        minx, miny, maxx, maxy = mvt.tile_bounds_3857(z, x, y)
        pad = (maxx - minx) * mvt.BUFFER / mvt.EXTENT
        hits = np.sort(self.tree.query(shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)))
        if len(hits) == 0:
            return b""
        layer = mvt.TileLayer(
            request.layer,
            self.geometries[hits],
            [self.properties[i] for i in hits],
            [self.ids[i] for i in hits],
            crs="EPSG:3857",
        )
        return mvt.encode_tile([layer], z, x, y)


def _to_gcj02(coords: np.ndarray) -> np.ndarray:
    """WGS-84 lon/lat degrees → GCJ-02 lon/lat degrees (gridmap.geocode.transform)."""
    from gridmap.geocode.transform import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    return np.column_stack((lon, lat))


class SourceIndexCache:
    """The most recently used :class:`SourceIndex` objects (thread-safe), at most ``max_items``
    and ``max_bytes`` of them (the newest is kept even when larger on its own)."""

    def __init__(self, max_items: int = 8, max_bytes: int = 192 * 2**20) -> None:
        import threading
        from collections import OrderedDict

        self.max_items = max_items
        self.max_bytes = max_bytes
        self._sizes: dict = {}
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict = {}

    @staticmethod
    def _key(store: Store, request: TileRequest, revision: int) -> tuple:
        return (
            store.url,
            request.layer,
            request.source_id,
            revision,
            request.full_counts,
            request.rule,
            request.crs,
        )

    def has(self, store: Store, request: TileRequest, revision: int) -> bool:
        """Whether the source of ``request`` is loaded already."""
        with self._lock:
            return self._key(store, request, revision) in self._items

    def get(
        self,
        store: Store,
        request: TileRequest,
        revision: int,
        frame_loader: Callable[[], pd.DataFrame] | None = None,
    ) -> SourceIndex:
        import threading

        key = self._key(store, request, revision)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            loading = self._loading.setdefault(key, threading.Lock())
        # one thread loads a source; the others wanting it wait for that load instead of repeating it
        with loading:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            index = SourceIndex.load(store, request, frame_loader)
            size = index.nbytes
            with self._lock:
                self._items[key] = index
                self._sizes[key] = size
                self._loading.pop(key, None)
                while len(self._items) > 1 and (
                    len(self._items) > self.max_items or sum(self._sizes.values()) > self.max_bytes
                ):
                    old, _ = self._items.popitem(last=False)
                    self._sizes.pop(old, None)
        return index

    def clear(self) -> None:
        """Forget every loaded index (loads under way still finish and are kept)."""
        with self._lock:
            self._items.clear()
            self._sizes.clear()

    def __len__(self) -> int:
        return len(self._items)


_DEFAULT_INDEXES = SourceIndexCache()


def build_tile(
    store: Store,
    request: TileRequest,
    revision: int = 0,
    indexes: SourceIndexCache | None = None,
    frame_loader: Callable[[], pd.DataFrame] | None = None,
) -> bytes:
    """The encoded tile (empty bytes when nothing is in it).

    PostGIS: ``ST_AsMVT`` in the database.  GeoPackage: :class:`SourceIndex` + :mod:`api.mvt`;
    ``revision`` (the plan's edit count) keys the in-memory index so edits are never missed.
    """
    # counts for roles without all-case access are disclosed in Python (gridmap.disclosure, the
    # one place of the rule), so PostGIS encodes only what needs no disclosure
    # GCJ-02 tiles and coverage (computed per period in Python) are cut by the own encoder
    if (
        store.backend == "postgis"
        and request.crs == "wgs84"
        and (request.layer == "grids" or (request.layer == "hotspots" and request.full_counts))
    ):
        return _postgis_tile(store, request)
    return (
        (_DEFAULT_INDEXES if indexes is None else indexes)
        .get(store, request, revision, frame_loader)
        .tile(request)
    )


def _postgis_tile(store: Store, request: TileRequest) -> bytes:
    """``ST_AsMVT`` in the store (:meth:`gridmap.store.base.Store.mvt_tile`): same layers, properties,
    extent and buffer as :mod:`api.mvt`.  Hotspot tiles come here only for roles with all-case access
    (exact counts, ``k`` = 0); the others' go through :mod:`gridmap.disclosure` in Python."""
    if request.layer == "grids":
        return store.mvt_tile(
            "grids",
            request.z,
            request.x,
            request.y,
            layer=request.layer,
            columns=GRID_PROPERTIES,
            filter_column="plan_id",
            filter_value=request.source_id,
            id_column="code",
            extent=mvt.EXTENT,
            buffer=mvt.BUFFER,
        )
    k = 0
    return store.mvt_tile(
        "hotspot_results",
        request.z,
        request.x,
        request.y,
        layer=request.layer,
        columns=HOTSPOT_PROPERTIES,
        filter_column="run_id",
        filter_value=source_runs(request.source_id),
        id_column="unit_id",
        extent=mvt.EXTENT,
        buffer=mvt.BUFFER,
        small_counts=("count", k, ("count", "value")),
    )


def coverage_source(store: Store, period: str | None) -> tuple[str | None, int]:
    """Coverage tiles' source: ``"<active plan>|<period>"`` (the period defaults to the month of
    the latest check-in), and a revision that changes with the audit's inputs (check-ins,
    assignments, the plan's edits), so a new patrol never leaves a stale tile."""
    from gridmap.coverage.periods import latest_patrol_month, parse_period

    plan_id = store.active_plan_id()
    if plan_id is None:
        return None, 0
    spec = parse_period(period or latest_patrol_month(store))
    inputs = (store.count("patrols"), store.count("assignments", {"plan_id": plan_id}))
    revision = hash((*inputs, plan_revision(store, plan_id))) & 0x7FFFFFFF
    return f"{plan_id}|{spec}", revision


class SourceMemo:
    """Which plan/run (and plan revision) a tile URL means, remembered for ``ttl_s`` seconds.

    A cached tile is then served without touching the store at all; an edit made outside
    this server (CLI, another process) shows after at most ``ttl_s``; edits through the API
    call :meth:`clear`.
    """

    def __init__(self, ttl_s: float = 2.0) -> None:
        import threading

        self.ttl_s = ttl_s
        self._items: dict[tuple, tuple[float, tuple[str | None, int]]] = {}
        self._lock = threading.Lock()

    def peek(
        self,
        store: Store,
        layer: str,
        plan: str | None,
        method: str,
        run: str | None,
        period: str | None = None,
    ) -> tuple | None:
        """The remembered answer if still fresh, else None (never touches the store)."""
        import time

        with self._lock:
            hit = self._items.get((store.url, layer, plan, method, run, period))
        return hit[1] if hit and time.monotonic() - hit[0] < self.ttl_s else None

    def resolve(
        self,
        store: Store,
        layer: str,
        plan: str | None,
        method: str,
        run: str | None,
        period: str | None = None,
    ) -> tuple[str | None, int]:
        import time

        key = (store.url, layer, plan, method, run, period)
        now = time.monotonic()
        # an unknown plan or run resolves to None: the route answers 404, not an empty tile
        if layer == "coverage":
            value = coverage_source(store, period)
        elif layer == "grids":
            source = plan or store.active_plan_id()
            if plan and not store.count("grids", {"plan_id": plan}):
                source = None
            value = (source, plan_revision(store, source) if source else 0)
        else:
            source = run or hotspot_run_for(store, method)
            if run and not store.count("hotspot_runs", {"run_id": run}):
                source = None
            value = (source, 0)
        with self._lock:
            self._items[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
