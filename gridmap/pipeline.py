"""``gridmap build-demo``: the Tongliao demo end to end, into the configured store.

``--area CODE`` builds another shipped 内蒙古 area instead (a city such as 150100, or the province
150000): the same steps, synthesised and stored city by city (:func:`build_area`) so that memory
holds one city at a time; hot-spot runs are then made city by city, and users cover the whole area.

Steps (each logged with its duration):

1. real boundaries (city, 8 counties) + official township/village codes;
2. the seeded synthetic city below county level (``gridmap.synth``);
3. a first grid plan of H3 cells clipped to village polygons (stored compactly: the plan row with
   its recipe, not even its grid count, its grids recomputed on demand by
   :func:`gridmap.partition.h3plan.recompute_h3_plan`), then a balanced plan (``gridmap.partition``)
   that becomes the active plan;
4. cases geocoded: coordinates converted from GCJ-02/BD-09 to WGS-84 and checked,
   addresses matched against the standard-address table, points assigned to grids;
5. workers assigned to the grids of the active plan;
6. hotspot runs (Getis-Ord Gi* with FDR per grid, emerging hot spots, kernel heat);
7. demo users for the web front end.

Everything is written inside store transactions, so an interrupted build leaves
the previous contents of each table in place.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import geopandas as gpd
import pandas as pd

from gridmap.config import Settings, get_settings
from gridmap.crs import WGS84
from gridmap.domain import post_counties
from gridmap.errors import InputError
from gridmap.store import Store, open_store

log = logging.getLogger("gridmap.pipeline")

#: the area ``make demo`` builds (Tongliao; its figures are what the demo tests check)
DEMO_AREA = "150500"
#: tables a build fills, counted in its report
BUILD_TABLES = (
    "admin_units",
    "addresses",
    "grids",
    "cases",
    "workers",
    "assignments",
    "patrols",
    "petition_items",
    "petition_visits",
)


@dataclass
class BuildReport:
    """What a demo build produced: row counts per table and seconds per step."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: :func:`build_area`: one entry per city, in build order (seconds, CPU and peak memory)
    cities: list[CityOutcome] = field(default_factory=list)

    def summary(self) -> str:
        lines = ["step seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items())]
        lines.append("rows: " + ", ".join(f"{k} {v:,}" for k, v in self.counts.items()))
        lines.extend(self.notes)
        return "\n".join(lines)


@contextmanager
def _step(report: BuildReport, name: str, progress: Callable[[str], None]) -> Iterator[None]:
    progress(f"[{len(report.seconds) + 1}] {name} …")
    t0 = time.perf_counter()
    yield
    report.seconds[name] = time.perf_counter() - t0
    progress(f"    {name} done in {report.seconds[name]:.1f} s")


def _patrol_points_wgs84(patrols: pd.DataFrame, workers: pd.DataFrame) -> gpd.GeoDataFrame:
    """Patrol check-ins with their declared-CRS coordinates converted to WGS-84 points, and the
    county of the worker's post (the PostGIS partition)."""
    from gridmap.geocode.transform import to_wgs84_mixed

    lon, lat = to_wgs84_mixed(patrols["raw_lon"], patrols["raw_lat"], patrols["raw_crs"].to_numpy())
    frame = pd.DataFrame(patrols).drop(columns=["geometry"], errors="ignore")
    if "county_code" not in frame:
        frame["county_code"] = frame["worker_id"].astype(str).map(post_counties(workers)).to_numpy()
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)


def build_demo(
    seed: int | None = None,
    scale: float | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
    with_users: bool = True,
    area: str | None = None,
    isolate: bool | None = None,
) -> BuildReport:
    """Build the Tongliao demo into ``store`` (default: the configured store).

    ``scale`` multiplies households, cases and workers (1.0 ≈ 1 million households,
    ≈ 7,400 disputes a year); ``seed`` makes every synthetic row reproducible.
    ``area``: None or 150500 builds Tongliao as always; another shipped 内蒙古 code (a city, a county
    or 150000) goes to :func:`build_area` (``isolate``: see there).
    """
    settings = settings or get_settings()
    seed = settings.demo_seed if seed is None else seed
    scale = settings.demo_scale if scale is None else scale
    progress = progress or log.info
    store = store or open_store()
    if store.get_meta("real_area") is not None:  # gridmap.imports.init.META_AREA
        raise InputError(
            "this store was made with gridmap init for real data; the synthetic demo goes into "
            "another store (GRIDMAP_GPKG_PATH or --store)"
        )
    if area is not None and str(area).strip() != DEMO_AREA:
        return build_area(str(area).strip(), seed, scale, store, settings, progress, with_users, isolate)
    from gridmap.imports.init import partition_groups

    store.ensure_partitions(partition_groups(DEMO_AREA))  # PostGIS: one partition per county
    report = BuildReport()

    from gridmap import synth

    with _step(report, "synthesize", progress):
        city = synth.synthesize(seed=seed, scale=scale, progress=lambda m: progress("    " + m))

    with _step(report, "store boundaries, addresses, workers", progress), store.transaction():
        store.write("admin_units", city.admin_units, mode="replace")
        store.write("addresses", city.addresses, mode="replace")
        store.write("workers", city.workers, mode="replace")
        store.write("patrols", _patrol_points_wgs84(city.patrols, city.workers), mode="replace")
        store.write("petition_items", city.petition_items, mode="replace")
        store.write("petition_visits", city.petition_visits, mode="replace")

    villages = city.admin_units[city.admin_units["level"] == "village"].reset_index(drop=True)
    plan_id = _build_plans(store, villages, city.addresses, settings, report, progress)
    grids = store.read("grids", where={"plan_id": plan_id})

    with _step(report, "geocode cases", progress):
        cases = _geocode_cases(store, city, grids, report)
        with store.transaction():
            store.write("cases", cases, mode="replace")

    with _step(report, "assign workers", progress):
        from gridmap.coverage.assignments import assign_workers

        assignments = assign_workers(city.workers, grids, seed=seed)
        store.write("assignments", assignments, mode="replace")

    _hotspot_runs(store, plan_id, report, progress)

    return _finish(store, seed, scale, report, progress, with_users)


_LAST_YEAR = {"from": "2024-01-01", "to": "2025-01-01"}
# hotspots are planted from 2022 (2021 is the quiet 同比 base year): trends are read over 2022–2024
_BOTH = {"kind": ["dispute", "petition"], "from": "2022-01-01"}
#: the demo's five stored hot-spot runs: (method, case filters, params).  Rates with Empirical Bayes
#: smoothing keep grids of unequal households from reading as hot spots; the three-month time
#: window steadies the emerging-hot-spot trend classes
HOTSPOT_RUNS: tuple[tuple[str, dict, dict], ...] = (
    ("gi", {"kind": "dispute", **_LAST_YEAR}, {"value": "eb_rate"}),
    ("gi", {"kind": "petition", **_LAST_YEAR}, {"value": "eb_rate"}),
    ("gi", {**_BOTH, **_LAST_YEAR}, {"value": "eb_rate"}),
    ("emerging", _BOTH, {"time_lag": 3}),
    ("kde", {"kind": "dispute", **_LAST_YEAR}, {}),
)


def _hotspot_runs(store: Store, plan_id: str, report: BuildReport, progress: Callable[[str], None]) -> None:
    """The demo's five stored hot-spot runs over the active plan's grids."""
    with _step(report, "hotspots", progress):
        from gridmap.hotspots.runs import run_hotspots

        with store.transaction():
            store.delete("hotspot_results")
            store.delete("hotspot_runs")
        for method, filters, params in HOTSPOT_RUNS:
            try:
                run_id = run_hotspots(
                    store, method=method, unit="grid", plan_id=plan_id, filters=filters, params=params
                )
            except InputError as exc:
                if params.get("value") != "eb_rate":
                    raise
                # a small synthetic city can leave EB rates without variation; counts still work
                report.notes.append(f"hotspot run {method}: EB rates unusable ({exc}); counts used")
                params = {"value": "count"}
                run_id = run_hotspots(
                    store, method=method, unit="grid", plan_id=plan_id, filters=filters, params=params
                )
            report.notes.append(
                f"hotspot run {method} {json.dumps({**filters, **params}, ensure_ascii=False)} → {run_id}"
            )


def _finish(
    store: Store,
    seed: int,
    scale: float,
    report: BuildReport,
    progress: Callable[[str], None],
    with_users: bool,
    area: str = "",
) -> BuildReport:
    """Demo users, build metadata and row counts."""
    if with_users:
        with _step(report, "demo users", progress):
            from gridmap.users import ensure_demo_users

            for line in ensure_demo_users(store):
                report.notes.append(line)

    store.set_meta("demo_seed", str(seed))
    store.set_meta("demo_scale", str(scale))
    if area:
        store.set_meta("demo_area", area)
    store.set_meta("built_at", datetime.now().isoformat(timespec="seconds"))
    for table in BUILD_TABLES:
        report.counts[table] = store.count(table)
    return report


def _first_plan(store: Store, resolution: int, grids: int | None) -> str:
    """The first plan as a plan row only: H3 cells at ``resolution`` clipped to the villages, recomputed
    on demand (:func:`gridmap.partition.h3plan.recompute_h3_plan`) rather than stored as grids (150,520
    rows for Tongliao at scale 1, most of a 741 MB GeoPackage)."""
    from gridmap.partition import plans
    from gridmap.partition.h3plan import RECOMPUTED

    empty = gpd.GeoDataFrame({"code": [], "village_code": [], "households": []}, geometry=[], crs=WGS84)
    params = {"method": "h3", "resolution": resolution, "grids": grids, "stored": RECOMPUTED}
    return plans.create_plan(store, f"H3 r{resolution} 初始网格", empty, atoms=None, params=params)


def _build_plans(
    store: Store,
    villages: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame,
    settings: Settings,
    report: BuildReport,
    progress: Callable[[str], None],
) -> str:
    """First plan (H3 cells clipped to villages), then the balanced plan; returns the active plan id."""
    from gridmap.partition import plans
    from gridmap.store.schema import all_tables

    known = all_tables()
    with store.transaction():
        for table in ("plan_edits", "plan_atoms", "grids", "plans"):
            if table in known:
                store.delete(table)

    res = settings.demo_h3_resolution
    with _step(report, f"first plan: H3 r{res} recipe", progress):
        # only the recipe is stored; clipping every village to H3 cells just to count them cost
        # 76 s and a 1.8 GB peak for Tongliao (150,520 cells), so the count is left to whoever
        # recomputes the plan (gridmap plan list, load_plan)
        first_id = _first_plan(store, res, None)
        plans.activate_plan(store, first_id)

    with _step(report, "balanced plan (partition)", progress):
        from gridmap.partition.workflow import partition_store

        outcome = partition_store(
            store,
            "均衡网格 v1",
            target=settings.grid_target_households,
            band=(settings.grid_min_households, settings.grid_max_households),
            tolerance=settings.grid_tolerance,
            progress=lambda fraction, message: progress(f"    {fraction:4.0%} {message}"),
        )
        balanced_id = outcome.plan_id
        store.update("plans", {"parent_id": first_id}, where={"plan_id": balanced_id})
        plans.activate_plan(store, balanced_id)
        r = outcome.result.report
        report.notes.append(
            f"plans: first {first_id} (archived, H3 r{res}, recomputed on demand), balanced {balanced_id} (active, "
            f"{len(outcome.grids):,} grids; {len(r.get('villages_outside_tolerance') or [])} villages whose "
            "atoms cannot give every grid ±tolerance: see `gridmap plan quality`)"
        )
    return balanced_id


def _geocode_cases(store: Store, city, grids: gpd.GeoDataFrame, report: BuildReport) -> gpd.GeoDataFrame:
    """Geocode every synthetic case the way an import would (coordinates first, then address)."""
    from gridmap.geocode.batch import geocode_cases

    admin = city.admin_units
    result = geocode_cases(city.cases, addresses=city.addresses, admin_units=admin, grids=grids)
    counts = result["geocode_status"].value_counts().to_dict()
    report.notes.append("geocode: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    n_grid = int(result["grid_code"].notna().sum())
    report.notes.append(
        f"cases on a grid: {n_grid:,} of {len(result):,} ({n_grid / max(len(result), 1):.1%})"
    )
    return result


def _prefix_ids(city, prefix: str) -> None:
    """Make the per-city sequence ids (cases, patrols, petition items and visits) unique across the
    cities of one build: ``150100-SC2022000001``.  Worker ids already carry their village's code."""
    city.cases["case_id"] = prefix + city.cases["case_id"].astype(str)
    city.cases["external_id"] = prefix + city.cases["external_id"].astype(str)
    city.patrols["patrol_id"] = prefix + city.patrols["patrol_id"].astype(str)
    if len(city.petition_items):
        city.petition_items["item_id"] = prefix + city.petition_items["item_id"].astype(str)
        city.petition_items["case_id"] = prefix + city.petition_items["case_id"].astype(str)
    if len(city.petition_visits):
        city.petition_visits["visit_id"] = prefix + city.petition_visits["visit_id"].astype(str)
        city.petition_visits["item_id"] = prefix + city.petition_visits["item_id"].astype(str)


def _empty_grids() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [], "village_code": [], "households": []}, geometry=[], crs=WGS84)


#: the per-city phases of :func:`build_area`, summed over its cities in the report
CITY_PHASES = ("synthesize", "store", "partition", "geocode cases", "assign workers")


@dataclass
class CityOutcome:
    """One city of :func:`build_area`: seconds per phase, wall and CPU seconds, the peak resident
    memory of its process in MB (its own child process when the cities are isolated), the report
    notes and the progress lines it produced."""

    code: str
    seconds: dict[str, float]
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (MiB): Linux ``VmHWM`` from /proc/self/status, NaN
    elsewhere.  Not ``ru_maxrss``: Linux carries that over from the parent across fork + exec, so a
    spawned city child would report at least the parent's resident size at the spawn."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return float("nan")


def _reopen_url(store: Store) -> str | None:
    """The URL another process opens ``store`` with, or None when it cannot (a store kind or a
    keyword DSN it does not know): the cities are then built in this process."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    dsn = getattr(store, "dsn", None)
    if isinstance(dsn, str) and dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(dsn)
        query = [*parse_qsl(parts.query, keep_blank_values=True), ("schema", store.schema)]
        return urlunsplit(parts._replace(query=urlencode(query)))
    path = getattr(store, "path", None)
    return str(path) if path is not None else None


def _build_city(
    store: Store,
    code: str,
    city_seed: int,
    scale: float,
    balanced_id: str,
    settings: Settings,
    progress: Callable[[str], None],
) -> CityOutcome:
    """Synthesise, store, partition, geocode and assign one city of :func:`build_area`."""
    from gridmap import synth
    from gridmap.coverage.assignments import assign_workers
    from gridmap.partition import plans
    from gridmap.partition.atoms import build_atoms
    from gridmap.partition.balance import partition_plan
    from gridmap.partition.grids import grids_from_atoms

    target = settings.grid_target_households
    band = (settings.grid_min_households, settings.grid_max_households)
    seconds = dict.fromkeys(CITY_PHASES, 0.0)
    report = BuildReport()  # collects this city's geocoding notes
    wall0, cpu0 = time.perf_counter(), time.process_time()

    @contextmanager
    def phase(name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        seconds[name] += time.perf_counter() - t0

    with phase("synthesize"):
        city = synth.synthesize(
            seed=city_seed, scale=scale, area=code, progress=lambda m: progress("    " + m)
        )
        _prefix_ids(city, f"{code}-")
    with phase("store"), store.transaction():
        store.write("admin_units", city.admin_units)
        store.write("addresses", city.addresses)
        store.write("workers", city.workers)
        store.write("patrols", _patrol_points_wgs84(city.patrols, city.workers))
        store.write("petition_items", city.petition_items)
        store.write("petition_visits", city.petition_visits)
    villages = city.admin_units[city.admin_units["level"] == "village"].reset_index(drop=True)
    with phase("partition"):
        # households refine atoms down to H3 r13 where needed; empty land stays at the coarse base
        base = settings.demo_area_atom_resolution
        atoms = build_atoms(villages, city.addresses, target=target, base_resolution=base)
        # worker processes pay off from a few hundred villages (their start-up costs ~1 s)
        n_jobs = 2 if len(villages) > 200 else 1
        result = partition_plan(
            atoms, target=target, band=band, tolerance=settings.grid_tolerance, n_jobs=n_jobs
        )
        grids = grids_from_atoms(atoms, result, villages, locked=[])
        plans.add_plan_grids(store, balanced_id, grids, result.atoms)
    with phase("geocode cases"):
        counties = sorted(villages["code"].str[:6].unique())  # county codes as grids carry them
        grids = store.read("grids", where={"plan_id": balanced_id, "county_code": counties})
        cases = _geocode_cases(store, city, grids, report)
        store.write("cases", cases)
    with phase("assign workers"):
        store.write("assignments", assign_workers(city.workers, grids, seed=city_seed))
    return CityOutcome(
        code=code,
        seconds=seconds,
        wall_s=time.perf_counter() - wall0,
        cpu_s=time.process_time() - cpu0,
        peak_rss_mb=peak_rss_mb(),
        notes=report.notes,
    )


def _city_child(
    url: str, code: str, city_seed: int, scale: float, balanced_id: str, settings: Settings
) -> CityOutcome:
    """:func:`_build_city` in a child process: its own store connection; its progress lines are
    returned for the parent to replay in order.  CPU includes the city's own worker processes."""
    import resource

    from gridmap.store import open_store

    lines: list[str] = []
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    store = open_store(url)
    try:
        outcome = _build_city(store, code, city_seed, scale, balanced_id, settings, lines.append)
    finally:
        store.close()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    outcome.cpu_s += (children.ru_utime + children.ru_stime) - (children0.ru_utime + children0.ru_stime)
    outcome.lines = lines
    return outcome


def _run_city_in_child(
    url: str, code: str, city_seed: int, scale: float, balanced_id: str, settings: Settings
) -> CityOutcome:
    """Run one city in a fresh spawned process that ends with it (``max_tasks_per_child=1``): its
    memory returns to the system when the city is done, whatever the libraries keep."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1) as pool:
        return pool.submit(_city_child, url, code, city_seed, scale, balanced_id, settings).result()


def build_area(
    area: str,
    seed: int,
    scale: float,
    store: Store,
    settings: Settings,
    progress: Callable[[str], None],
    with_users: bool = True,
    isolate: bool | None = None,
) -> BuildReport:
    """Build a shipped 内蒙古 area (a city, a county, the province 150000, or a comma-separated list of
    cities and counties) city by city.

    Each city is synthesised (:func:`gridmap.synth.synthesize` with ``area``; volumes are Tongliao's
    per village), stored (PostGIS: into its counties' partitions, created first), partitioned into
    balanced grids, its cases geocoded and its workers assigned, then dropped from memory: peak
    memory is that of the largest city, not of the area.  With several cities each gets the seed
    ``seed + int(city code)`` and its sequence ids a ``<city code>-`` prefix.  The hot-spot runs are
    then made city by city (:func:`_hotspot_runs_per_city`).  Replaces what the store held.

    ``isolate``: build each city in its own spawned child process, which returns all its memory to
    the system when the city ends.  None (default): for the province or a list of cities, when the
    store can be reopened by URL; in-process otherwise (one city, a list of counties).  In-process,
    glibc keeps the freed heap of a big city (阿拉善盟, 呼伦贝尔市: hundreds of thousands of atoms), so
    the resident size of a long in-process loop follows its largest city plus fragmentation.
    """
    from gridmap import boundaries
    from gridmap.imports.init import partition_groups
    from gridmap.partition import plans

    codes = [c.strip() for c in str(area).split(",") if c.strip()]
    levels = [boundaries.area_level(c) for c in codes]
    if "province" in levels and len(codes) > 1:
        raise InputError(f"area {area}: the province {boundaries.PROVINCE_CODE} is built on its own")
    level = levels[0]
    cities = boundaries.area_cities(codes[0])["code"].tolist() if level == "province" else codes
    report = BuildReport()
    with _step(report, "partitions and empty tables", progress):
        groups = {county: values for c in codes for county, values in partition_groups(c).items()}
        created = store.ensure_partitions(groups)
        report.notes.append(f"partitions: {len(groups)} counties ({created} partitions created)")
        with store.transaction():
            for table in (
                *BUILD_TABLES,
                "plan_edits",
                "plan_atoms",
                "plans",
                "hotspot_areas",
                "hotspot_surfaces",
                "hotspot_results",
                "hotspot_runs",
            ):
                store.delete(table)
            if level == "province":
                store.write("admin_units", boundaries.area(area))

    target = settings.grid_target_households
    band = (settings.grid_min_households, settings.grid_max_households)
    res = settings.demo_h3_resolution
    balanced_id = plans.create_plan(
        store,
        "均衡网格 v1",
        _empty_grids(),
        params={
            "method": "balanced",
            "engine": "processes, city by city",
            "atom_resolution": settings.demo_area_atom_resolution,
            "target": target,
            "band": list(band),
        },
    )
    phases = dict.fromkeys(CITY_PHASES, 0.0)
    url = _reopen_url(store)
    # one child process per city (spawned, so it starts from a clean heap): memory held after a city
    # (allocator arenas, library caches) cannot pile up across the 12 cities of the province.  A
    # list of counties stays in-process (small, and what the tests build).
    if isolate is None:
        isolate = url is not None and len(cities) > 1 and bool(set(levels) & {"province", "city"})
    if isolate and url is None:
        raise InputError(f"store {store!r}: cannot be reopened in a child process; build with isolate=False")
    for number, code in enumerate(cities, 1):
        city_seed = seed if len(cities) == 1 else seed + int(code)
        progress(f"[city {number}/{len(cities)}] {code} …")
        if isolate:
            outcome = _run_city_in_child(url, code, city_seed, scale, balanced_id, settings)
            for line in outcome.lines:
                progress(line)
        else:
            outcome = _build_city(store, code, city_seed, scale, balanced_id, settings, progress)
        report.notes.extend(outcome.notes)
        for name, seconds in outcome.seconds.items():
            phases[name] += seconds
        report.cities.append(outcome)
        progress(
            f"    done in {outcome.wall_s:.1f} s (CPU {outcome.cpu_s:.1f} s"
            + (f", peak RSS {outcome.peak_rss_mb:,.0f} MB" if isolate else "")
            + "); so far "
            + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items())
        )
    for name, seconds in phases.items():
        report.seconds[f"{name} (all cities)"] = seconds

    # the first plan's grids are not even counted here: H3 r8 over the province is ~1.6 M cells
    first_id = _first_plan(store, res, None)
    plans.activate_plan(store, first_id)
    store.update("plans", {"parent_id": first_id}, where={"plan_id": balanced_id})
    plans.activate_plan(store, balanced_id)
    report.notes.append(
        f"plans: first {first_id} (archived, H3 r{res}, recomputed on demand), "
        f"balanced {balanced_id} (active, {store.count('grids', {'plan_id': balanced_id}):,} grids)"
    )
    # one set of runs per city (a county list: per city of its counties), written city by city, so
    # the build holds one city's hot-spot inputs at a time: the five runs over the whole province
    # at once took the build to 4.4 GB at scale 0.05
    hotspot_cities = list(dict.fromkeys(f"{code[:4]}00" for code in cities))
    _hotspot_runs_per_city(store, url, balanced_id, hotspot_cities, report, progress)
    return _finish(store, seed, scale, report, progress, with_users, area=area)


def _hotspot_runs_per_city(
    store: Store,
    url: str | None,
    plan_id: str,
    cities: list[str],
    report: BuildReport,
    progress: Callable[[str], None],
) -> None:
    """The demo's five hot-spot runs (:data:`HOTSPOT_RUNS`) for each city in ``cities`` over its grids
    and cases only (:func:`gridmap.hotspots.batch.run_per_city`: a Gi* z-score compares a grid with
    its own city), each stored before the next is computed.  ``url`` (None: the store cannot be
    reopened) is what each task opens to read.  A city whose cases cannot make a run (too few units
    or cases at a small scale) gets a note instead of that run."""
    from gridmap.hotspots.batch import CityRun, run_per_city
    from gridmap.hotspots.runs import run_hotspots

    def run(task: CityRun) -> str:
        if url is None:
            return run_hotspots(
                store, task.method, task.unit, task.plan_id, None, task.filters, task.params, area=task.area
            )
        return run_per_city(store, [task], url)[0]

    with _step(report, "hotspots", progress):
        with store.transaction():
            store.delete("hotspot_results")
            store.delete("hotspot_runs")
        for number, city in enumerate(cities, 1):
            t0 = time.perf_counter()
            done = 0
            for method, filters, params in HOTSPOT_RUNS:
                task = CityRun(city, method, "grid", plan_id, None, filters, params)
                try:
                    try:
                        run_id = run(task)
                    except InputError as exc:
                        if params.get("value") != "eb_rate":
                            raise
                        report.notes.append(
                            f"hotspot run {city} {method}: EB rates unusable ({exc}); counts used"
                        )
                        task = CityRun(city, method, "grid", plan_id, None, filters, {"value": "count"})
                        run_id = run(task)
                except InputError as exc:
                    report.notes.append(f"hotspot run {city} {method} {json.dumps(filters)}: none ({exc})")
                    continue
                done += 1
                report.notes.append(
                    f"hotspot run {city} {method} "
                    f"{json.dumps({**filters, **task.params}, ensure_ascii=False)} → {run_id}"
                )
            progress(
                f"    hot spots [city {number}/{len(cities)}] {city}: {done} runs in "
                f"{time.perf_counter() - t0:.1f} s (peak RSS of the build so far {peak_rss_mb():,.0f} MB)"
            )
