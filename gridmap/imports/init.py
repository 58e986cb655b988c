"""``gridmap init``: a store for a real administration, with no synthetic row.

The store gets the shipped real outlines of the area (city and counties) and its official
code lists (townships and villages, without polygons: those come from ``gridmap import
units``), unless ``empty``.  Imports refuse a store that holds the synthetic demo, and the
demo build is never run on an initialised one: real and synthetic rows never mix.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from gridmap.domain import AREA_CODE
from gridmap.errors import InputError

#: meta key marking a store made by ``gridmap init`` (value: the area code, or "" for --empty)
META_AREA = "real_area"
DEFAULT_AREA = AREA_CODE


def area_units(area: str = DEFAULT_AREA) -> gpd.GeoDataFrame:
    """The shipped units of ``area``: the area and counties with outlines, townships and villages
    as official codes (no geometry).  Columns as the ``admin_units`` table; EPSG:4326."""
    from gridmap import boundaries

    loader = getattr(boundaries, "area_units", None)
    if loader is not None:  # boundaries that know more areas than Tongliao
        return loader(area)
    if area != AREA_CODE:
        raise InputError(
            f"area {area}: no shipped boundaries for it (this version ships {AREA_CODE} "
            "通辽市); use --empty and import your units"
        )
    frames = [boundaries.city(), boundaries.counties(), boundaries.townships(), boundaries.villages()]
    columns = ["code", "name", "level", "parent_code", "source", "geometry"]
    units = pd.concat([f[columns] for f in frames], ignore_index=True)
    return gpd.GeoDataFrame(units, geometry="geometry", crs=frames[0].crs)


def partition_groups(area: str = DEFAULT_AREA) -> dict[str, list[str]]:
    """County code → the county-code values its store partition holds, for every county-level
    unit of ``area`` (any shipped 内蒙古 code): the county itself and the statistical zones
    (e.g. 150571 in 150502) whose units lie in it (:data:`gridmap.boundaries.DEV_ZONE_HOSTS`)."""
    from gridmap import boundaries

    counties = boundaries.area_counties(str(area))["code"].tolist()
    groups = {code: [code] for code in counties}
    for zone, host in boundaries.DEV_ZONE_HOSTS.items():
        if host in groups:
            groups[host].append(zone)
    return groups


def synthetic_rows(store) -> str | None:
    """Why ``store`` counts as synthetic (the demo build or synthetic rows), else None."""
    if store.get_meta("demo_seed") is not None:
        return "it holds the synthetic demo (gridmap build-demo)"
    for table in ("addresses", "cases", "workers", "patrols"):
        if store.count(table, {"source": "synthetic"}):
            return f"its {table} table holds synthetic rows"
    return None


def refuse_synthetic(store) -> None:
    """One-line refusal to import real data into a store with synthetic rows."""
    why = synthetic_rows(store)
    if why:
        raise InputError(
            f"this store is not for real data: {why}; create one with `gridmap init --store PATH` "
            "(real and synthetic rows never share a store)"
        )


def init_store(store, area: str = DEFAULT_AREA, empty: bool = False) -> dict[str, int]:
    """Prepare ``store`` (already opened) for real data; returns rows per level written.

    Refuses a store with synthetic rows, or one that already holds imported units of
    another area.  Idempotent: a second run leaves an initialised store as it is.
    """
    refuse_synthetic(store)
    current = store.get_meta(META_AREA)
    wanted = "" if empty else str(area)
    if current is not None and current != wanted:
        raise InputError(
            f"the store was initialised for area {current or '(empty)'}; use another store for {wanted}"
        )
    counts: dict[str, int] = {}
    if not empty and current is None:
        units = area_units(area)
        with store.transaction():
            store.write("admin_units", units)
            store.set_meta(META_AREA, wanted)
        counts = units["level"].value_counts().to_dict()
    elif current is None:
        store.set_meta(META_AREA, wanted)
    if not empty:  # PostGIS: one partition per county of the big tables (idempotent; GeoPackage: none)
        store.ensure_partitions(partition_groups(area))
    return {str(k): int(v) for k, v in counts.items()}
