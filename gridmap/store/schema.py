"""The store's tables: one declaration, used by every backend.

Column types are portable: ``TEXT``, ``INTEGER``, ``REAL``.  Timestamps are TEXT in
ISO 8601 local time (Asia/Shanghai, no offset: ``2024-03-05T14:30:00``) so that both
backends sort and filter them identically; JSON documents are TEXT.
A table with ``geometry_type`` set is a spatial layer (WGS-84, EPSG:4326): a real
GeoPackage feature table on the embedded backend, ``geometry(<type>, 4326)`` on PostGIS.

Every table is declared here, grouped by the package that writes it, so every backend
and every process sees the same schema without importing the packages.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, str]
    primary_key: tuple[str, ...] = ()
    geometry_type: str | None = None  # POINT | MULTIPOLYGON | GEOMETRY | None
    indexes: tuple[tuple[str, ...], ...] = ()
    description: str = ""
    #: PostGIS only: the table is declared ``PARTITION BY LIST (<this column>)``, one partition per
    #: county (created by ``Store.ensure_partitions``) and a default one; the GeoPackage ignores it
    partition_key: str | None = None

    @property
    def is_spatial(self) -> bool:
        return self.geometry_type is not None


_REGISTRY: dict[str, Table] = {}


def register(table: Table) -> Table:
    """Declare a table (idempotent for an identical declaration)."""
    existing = _REGISTRY.get(table.name)
    if existing is not None and existing != table:
        raise ValueError(f"table {table.name!r} declared twice with different columns")
    _REGISTRY[table.name] = table
    return table


def all_tables() -> dict[str, Table]:
    return dict(_REGISTRY)


def get_table(name: str) -> Table:
    tables = all_tables()
    if name not in tables:
        raise KeyError(f"unknown table {name!r}; known: {sorted(tables)}")
    return tables[name]


T, I, R = "TEXT", "INTEGER", "REAL"  # noqa: E741 (short column-type names keep the declarations readable)

register(
    Table(
        "meta",
        {"key": T, "value": T},
        primary_key=("key",),
        description="store metadata: schema_version, demo seed/scale, build time",
    )
)

register(
    Table(
        "admin_units",
        {"code": T, "name": T, "level": T, "parent_code": T, "source": T},
        primary_key=("code",),
        geometry_type="MULTIPOLYGON",
        indexes=(("level",), ("parent_code",)),
        description="city, counties (real), townships and villages (synthetic polygons, official codes)",
    )
)

register(
    Table(
        "addresses",
        {
            "address_id": T,
            "full_address": T,
            "county_code": T,
            "township_code": T,
            "village_code": T,
            "road": T,
            "house_number": T,
            "building": T,
            "households": I,
            "population": I,
            "urban": I,
            "source": T,
        },
        primary_key=("address_id",),
        geometry_type="POINT",
        indexes=(("village_code",), ("road",)),
        partition_key="county_code",
        description="standard addresses (标准地址) with households",
    )
)

register(
    Table(
        "plans",
        {
            "plan_id": T,
            "name": T,
            "status": T,
            "parent_id": T,
            "created_at": T,
            "params": T,
            "note": T,
        },
        primary_key=("plan_id",),
        indexes=(("status",),),
        description="grid plans: draft → active → archived, with parent",
    )
)

register(
    Table(
        "grids",
        {
            "plan_id": T,
            "code": T,
            "village_code": T,
            "township_code": T,
            "county_code": T,
            "households": I,
            "population": I,
            "locked": I,
            "exclusive": I,
            "polsby_popper": R,
        },
        primary_key=("plan_id", "code"),
        geometry_type="MULTIPOLYGON",
        indexes=(("plan_id",), ("village_code",)),
        partition_key="county_code",
        description="grids of every plan (15-digit code = 12-digit village code + 3-digit sequence)",
    )
)

register(
    Table(
        "cases",
        {
            "case_id": T,
            "external_id": T,
            "kind": T,
            "category": T,
            "status": T,
            "reported_at": T,
            "accepted_at": T,
            "resolved_at": T,
            "closed_at": T,
            "due_at": T,
            "address_text": T,
            "raw_lon": R,
            "raw_lat": R,
            "raw_crs": T,
            "lon": R,
            "lat": R,
            "precision": T,
            "score": R,
            "geocode_status": T,
            "reason": T,
            "grid_code": T,
            "village_code": T,
            "township_code": T,
            "county_code": T,
            "persons": I,
            "party_name": T,
            "party_phone": T,
            "party_id_number": T,
            "followup_done": I,
            "satisfaction": I,
            "source": T,
        },
        primary_key=("case_id",),
        geometry_type="POINT",
        indexes=(("external_id",), ("grid_code",), ("reported_at",), ("kind", "category")),
        partition_key="county_code",
        description="disputes (矛盾纠纷) and petitions (信访); party_* are personal data",
    )
)

register(
    Table(
        "workers",
        {
            "worker_id": T,
            "name": T,
            "phone": T,
            "role": T,
            "village_code": T,
            "active": I,
            "hired_at": T,
            "source": T,
            "id_number": T,
            "township_code": T,
        },
        primary_key=("worker_id",),
        description="grid workers (网格员) and petition agents (信访代办员, role 'agent', posted to a village or, "
        "with village_code empty, a township); name, phone and id_number are personal data",
    )
)

register(
    Table(
        "assignments",
        {
            "assignment_id": T,
            "worker_id": T,
            "plan_id": T,
            "grid_code": T,
            "role": T,
            "valid_from": T,
            "valid_to": T,
        },
        primary_key=("assignment_id",),
        indexes=(("worker_id",), ("plan_id", "grid_code")),
        description="worker ↔ grid, many-to-many, with role and validity dates",
    )
)

register(
    Table(
        "patrols",
        {
            "patrol_id": T,
            "worker_id": T,
            "ts": T,
            "raw_lon": R,
            "raw_lat": R,
            "raw_crs": T,
            "source": T,
            "county_code": T,
        },
        primary_key=("patrol_id",),
        geometry_type="POINT",
        indexes=(("worker_id",), ("ts",)),
        partition_key="county_code",
        description="patrol check-ins (巡查打卡), geometry in WGS-84; county_code: the worker's county (may be empty)",
    )
)

register(
    Table(
        "hotspot_runs",
        {
            "run_id": T,
            "method": T,
            "created_at": T,
            "plan_id": T,
            "unit_kind": T,
            "params": T,
            "filters": T,
            "summary": T,
        },
        primary_key=("run_id",),
        description="every hotspot computation with its parameters and filters",
    )
)

register(
    Table(
        "hotspot_results",
        {
            "run_id": T,
            "unit_id": T,
            "count": R,
            "value": R,
            "z": R,
            "p": R,
            "p_fdr": R,
            "bin": I,
            "label": T,
            "extra": T,
            "county_code": T,
        },
        primary_key=("run_id", "unit_id"),
        geometry_type="MULTIPOLYGON",
        indexes=(("run_id",),),
        partition_key="county_code",
        description="per-unit hotspot results (grid, H3 cell or admin unit); aggregated, no personal data",
    )
)


# --- imports (gridmap.imports): one row per batch, one per file row with its change; see
# gridmap/imports/framework.py.  ``before`` holds the values a row overwrote (needed to undo) and
# may include personal fields; neither table is ever logged.
TEXT, INTEGER = "TEXT", "INTEGER"

register(
    Table(
        "import_batches",
        {
            "batch_id": TEXT,
            "filename": TEXT,
            "sha256": TEXT,
            "created_at": TEXT,
            "actor": TEXT,
            "rows": INTEGER,
            "accepted": INTEGER,
            "review": INTEGER,
            "rejected": INTEGER,
            "report": TEXT,
            "kind": TEXT,
            "undone_at": TEXT,
        },
        primary_key=("batch_id",),
        indexes=(("sha256",), ("created_at",)),
        description="imports: kind, file, checksum, counts per outcome, the full report (JSON), when undone",
    )
)

register(
    Table(
        "import_rows",
        {
            "batch_id": TEXT,
            "row_number": INTEGER,
            "external_id": TEXT,
            "case_id": TEXT,
            "status": TEXT,
            "reason": TEXT,
            "candidates": TEXT,
            "record_key": TEXT,
            "action": TEXT,
            "changed": TEXT,
            "before": TEXT,
        },
        primary_key=("batch_id", "row_number"),
        indexes=(("case_id",), ("status",)),
        description="every imported row: outcome (accepted / review with candidates / rejected with reason) "
        "and its change to the store (action, changed columns, values before)",
    )
)

register(
    Table(
        "admin_unit_versions",
        {
            "code": TEXT,
            "replaced_at": TEXT,
            "batch_id": TEXT,
            "name": TEXT,
            "level": TEXT,
            "parent_code": TEXT,
            "source": TEXT,
        },
        primary_key=("code", "replaced_at"),
        geometry_type="MULTIPOLYGON",
        indexes=(("code",),),
        description="earlier boundaries of units a units import changed: older plans stay valid against them",
    )
)


# --- planning (gridmap.partition): plan atoms and the edit log ---------------------------------
INT = "INTEGER"

register(
    Table(
        "plan_atoms",
        {
            "plan_id": T,
            "atom_id": T,
            "village_code": T,
            "grid_code": T,
            "households": INT,
            "population": INT,
            "workload": INT,
            "h3_cell": T,
            "resolution": INT,
            "site_id": T,
        },
        primary_key=("plan_id", "atom_id"),
        geometry_type="MULTIPOLYGON",
        indexes=(("plan_id",), ("plan_id", "grid_code")),
        description="the atoms of every plan and the grid each belongs to (planner edits move atoms)",
    )
)

register(
    Table(
        "plan_edits",
        {
            "edit_id": T,
            "plan_id": T,
            "kind": T,
            "params": T,
            "actor": T,
            "created_at": T,
            "override": INT,
            "reason": T,
        },
        primary_key=("edit_id",),
        indexes=(("plan_id",),),
        description="planner edits of draft plans (split/merge/move); override=1 when a rule was overridden",
    )
)


# --- hot spots (gridmap.hotspots): areas and density surfaces ----------------------------------

register(
    Table(
        "hotspot_areas",
        {
            "run_id": T,
            "sign": I,
            "rank": I,
            "cases": R,
            "units": I,
            "max_z": R,
            "top_categories": T,
            "trend": T,
            "unit_ids": T,
            "area_km2": R,
            "centre_lon": R,
            "centre_lat": R,
        },
        primary_key=("run_id", "sign", "rank"),
        geometry_type="MULTIPOLYGON",
        indexes=(("run_id",),),
        description="contiguous significant hot (sign 1) / cold (-1) units of a run merged into ranked areas; "
        "top_categories and unit_ids are JSON lists",
    )
)

register(
    Table(
        "hotspot_surfaces",
        {
            "run_id": T,
            "west": R,
            "south": R,
            "east": R,
            "north": R,
            "width": I,
            "height": I,
            "bandwidth_m": R,
            "cell_size_m": R,
            "total": R,
            "max_density": R,
            "png_base64": T,
        },
        primary_key=("run_id",),
        description="kernel density surface of a kde run: RGBA PNG (base64) for a Leaflet ImageOverlay with "
        "bounds [[south, west], [north, east]] (rows evenly spaced in Web-Mercator y); density in "
        "cases per km²",
    )
)


# --- early warning (gridmap.forecast): forecast runs, per-grid results, backtests --------------

register(
    Table(
        "forecast_runs",
        {
            "run_id": T,
            "kind": T,
            "categories": T,
            "method": T,
            "asof": T,
            "horizon_months": I,
            "target_start": T,
            "target_end": T,
            "plan_id": T,
            "created_at": T,
            "params": T,
            "summary": T,
        },
        primary_key=("run_id",),
        indexes=(("kind",),),
        description="a forecast of the cases per grid in [target_start, target_end) made from the cases reported "
        "before asof; params and summary are JSON; categories a JSON list (empty = all)",
    )
)

register(
    Table(
        "forecast_results",
        {
            "run_id": T,
            "grid_code": T,
            "township_code": T,
            "village_code": T,
            "expected": R,
            "lower": I,
            "upper": I,
            "rank": I,
            "households": I,
            "recent_cases": I,
            "recent_nearby": I,
            "trend": R,
            "season": R,
            "why": T,
        },
        primary_key=("run_id", "grid_code"),
        geometry_type="MULTIPOLYGON",
        indexes=(("run_id",),),
        description="per grid of the plan: expected cases in the horizon, 80 % interval [lower, upper] (Poisson "
        "10 %/90 % quantiles), rank (1 = most expected), and why: cases in the last 30 days in the grid "
        "and within 1 km, trend (last 3 months / the 12-month mean), season (the target month's "
        "city-wide factor), households",
    )
)

register(
    Table(
        "forecast_backtests",
        {
            "backtest_id": T,
            "kind": T,
            "categories": T,
            "origin_from": T,
            "origin_to": T,
            "created_at": T,
            "best_method": T,
            "table": T,
            "summary": T,
            "seconds": R,
            "png_base64": T,
        },
        primary_key=("backtest_id",),
        indexes=(("kind",),),
        description="rolling-origin backtest: table = JSON rows (method, origin, log score, PAI/PEI at 1/5/10 % of "
        "area, top-10 % share); summary = means per method; best_method = highest mean log score "
        "(the default for the kind); png_base64 the plot",
    )
)


# --- access (gridmap.users, the web API): local users, bearer tokens, the audit log, background jobs ---

register(
    Table(
        "users",
        {
            "username": T,
            "password_hash": T,
            "role": T,
            "worker_id": T,
            "grid_scope": T,
            "active": I,
            "created_at": T,
        },
        primary_key=("username",),
        description="local sign-in accounts; password_hash is scrypt with a per-user salt; "
        "grid_scope is a JSON list of grid codes added to the worker's assignments",
    )
)

register(
    Table(
        "tokens",
        {"token_hash": T, "username": T, "created_at": T, "expires_at": T},
        primary_key=("token_hash",),
        indexes=(("username",),),
        description="bearer tokens, stored as HMAC-SHA256 of the token (the token itself is never stored)",
    )
)

register(
    Table(
        "audit_log",
        {
            "audit_id": T,
            "ts": T,
            "actor": T,
            "role": T,
            "action": T,
            "object_type": T,
            "object_id": T,
            "detail": T,
        },
        primary_key=("audit_id",),
        indexes=(("ts",), ("actor",)),
        description="who read personal data or changed a plan, and when; never the personal values themselves",
    )
)

register(
    Table(
        "jobs",
        {
            "job_id": T,
            "kind": T,
            "state": T,
            "progress": R,
            "message": T,
            "actor": T,
            "created_at": T,
            "started_at": T,
            "finished_at": T,
            "params": T,
            "result": T,
            "error": T,
        },
        primary_key=("job_id",),
        indexes=(("state",),),
        description="background jobs (partition, big imports, permutation hotspot runs) and their progress",
    )
)

# --- petition agency (gridmap.coverage.petitions): items agents take on and their follow-up visits;
# ids, dates and scores only (agent_id / visitor_id are workers.worker_id), no personal data ---
register(
    Table(
        "petition_items",
        {
            "item_id": T,
            "case_id": T,
            "agent_id": T,
            "status": T,
            "taken_at": T,
            "deadline_at": T,
            "done_at": T,
            "village_code": T,
            "township_code": T,
            "county_code": T,
            "source": T,
        },
        primary_key=("item_id",),
        indexes=(("agent_id",), ("taken_at",), ("case_id",)),
        description="petition items taken on by an agent (信访代办): when taken, deadline, when done (status open/done); "
        "codes are the petitioner's village/township/county, else the agent's post",
    )
)

register(
    Table(
        "petition_visits",
        {
            "visit_id": T,
            "item_id": T,
            "visited_at": T,
            "visitor_id": T,
            "method": T,
            "satisfaction": I,
            "source": T,
        },
        primary_key=("visit_id",),
        indexes=(("item_id",), ("visited_at",)),
        description="follow-up visits (回访) of petition items: date, by whom (worker id), how, satisfaction 1–5",
    )
)
