"""The store's tables: one declaration, used by every backend.

Column types are portable: ``TEXT``, ``INTEGER``, ``REAL``.  Timestamps are TEXT in
ISO 8601 local time (Asia/Shanghai, no offset: ``2024-03-05T14:30:00``) so that both
backends sort and filter them identically; JSON documents are TEXT.
A table with ``geometry_type`` set is a spatial layer (WGS-84, EPSG:4326): a real
GeoPackage feature table on the embedded backend, ``geometry(<type>, 4326)`` on PostGIS.

Sub-packages declare their own tables with :func:`register` in a ``tables.py`` of
their own; :func:`all_tables` imports those modules so every backend sees them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

SCHEMA_VERSION = 1

#: sub-package modules that declare extra tables (imported lazily, missing ones skipped)
TABLE_MODULES = (
    "gridmap.geocode.tables",
    "gridmap.partition.tables",
    "gridmap.hotspots.tables",
    "gridmap.forecast.tables",
    "gridmap.coverage.tables",
    "api.tables",
)


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, str]
    primary_key: tuple[str, ...] = ()
    geometry_type: str | None = None  # POINT | MULTIPOLYGON | GEOMETRY | None
    indexes: tuple[tuple[str, ...], ...] = ()
    description: str = ""

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
    for module in TABLE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise
    return dict(_REGISTRY)


def get_table(name: str) -> Table:
    tables = all_tables()
    if name not in tables:
        raise KeyError(f"unknown table {name!r}; known: {sorted(tables)}")
    return tables[name]


T, I, R = "TEXT", "INTEGER", "REAL"  # noqa: E741 (short column-type names keep the declarations readable)

register(Table(
    "meta",
    {"key": T, "value": T},
    primary_key=("key",),
    description="store metadata: schema_version, demo seed/scale, build time",
))

register(Table(
    "admin_units",
    {"code": T, "name": T, "level": T, "parent_code": T, "source": T},
    primary_key=("code",),
    geometry_type="MULTIPOLYGON",
    indexes=(("level",), ("parent_code",)),
    description="city, counties (real), townships and villages (synthetic polygons, official codes)",
))

register(Table(
    "addresses",
    {
        "address_id": T, "full_address": T, "county_code": T, "township_code": T,
        "village_code": T, "road": T, "house_number": T, "building": T, "households": I,
        "population": I, "urban": I, "source": T,
    },
    primary_key=("address_id",),
    geometry_type="POINT",
    indexes=(("village_code",), ("road",)),
    description="standard addresses (标准地址) with households",
))

register(Table(
    "plans",
    {
        "plan_id": T, "name": T, "status": T, "parent_id": T, "created_at": T,
        "params": T, "note": T,
    },
    primary_key=("plan_id",),
    indexes=(("status",),),
    description="grid plans: draft → active → archived, with parent",
))

register(Table(
    "grids",
    {
        "plan_id": T, "code": T, "village_code": T, "township_code": T, "county_code": T,
        "households": I, "population": I, "locked": I, "exclusive": I, "polsby_popper": R,
    },
    primary_key=("plan_id", "code"),
    geometry_type="MULTIPOLYGON",
    indexes=(("plan_id",), ("village_code",)),
    description="grids of every plan (15-digit code = 12-digit village code + 3-digit sequence)",
))

register(Table(
    "cases",
    {
        "case_id": T, "external_id": T, "kind": T, "category": T, "status": T,
        "reported_at": T, "accepted_at": T, "resolved_at": T, "closed_at": T, "due_at": T,
        "address_text": T, "raw_lon": R, "raw_lat": R, "raw_crs": T,
        "lon": R, "lat": R, "precision": T, "score": R, "geocode_status": T, "reason": T,
        "grid_code": T, "village_code": T, "township_code": T, "county_code": T,
        "persons": I, "party_name": T, "party_phone": T, "party_id_number": T,
        "followup_done": I, "satisfaction": I, "source": T,
    },
    primary_key=("case_id",),
    geometry_type="POINT",
    indexes=(("external_id",), ("grid_code",), ("reported_at",), ("kind", "category")),
    description="disputes (矛盾纠纷) and petitions (信访); party_* are personal data",
))

register(Table(
    "workers",
    {
        "worker_id": T, "name": T, "phone": T, "role": T, "village_code": T,
        "active": I, "hired_at": T, "source": T,
    },
    primary_key=("worker_id",),
    description="grid workers (网格员); name and phone are personal data",
))

register(Table(
    "assignments",
    {
        "assignment_id": T, "worker_id": T, "plan_id": T, "grid_code": T, "role": T,
        "valid_from": T, "valid_to": T,
    },
    primary_key=("assignment_id",),
    indexes=(("worker_id",), ("plan_id", "grid_code")),
    description="worker ↔ grid, many-to-many, with role and validity dates",
))

register(Table(
    "patrols",
    {"patrol_id": T, "worker_id": T, "ts": T, "raw_lon": R, "raw_lat": R, "raw_crs": T, "source": T},
    primary_key=("patrol_id",),
    geometry_type="POINT",
    indexes=(("worker_id",), ("ts",)),
    description="patrol check-ins (巡查打卡), geometry in WGS-84",
))

register(Table(
    "hotspot_runs",
    {
        "run_id": T, "method": T, "created_at": T, "plan_id": T, "unit_kind": T,
        "params": T, "filters": T, "summary": T,
    },
    primary_key=("run_id",),
    description="every hotspot computation with its parameters and filters",
))

register(Table(
    "hotspot_results",
    {
        "run_id": T, "unit_id": T, "count": R, "value": R, "z": R, "p": R, "p_fdr": R,
        "bin": I, "label": T, "extra": T,
    },
    primary_key=("run_id", "unit_id"),
    geometry_type="MULTIPOLYGON",
    indexes=(("run_id",),),
    description="per-unit hotspot results (grid, H3 cell or admin unit); aggregated, no personal data",
))
