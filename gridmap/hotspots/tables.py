"""Extra store tables of the hotspot package (``hotspot_runs``/``hotspot_results`` are core tables)."""

from __future__ import annotations

from gridmap.store.schema import Table, register

T, I, R = "TEXT", "INTEGER", "REAL"  # noqa: E741 - as in gridmap.store.schema

HOTSPOT_AREAS = register(Table(
    "hotspot_areas",
    {
        "run_id": T, "sign": I, "rank": I, "cases": R, "units": I, "max_z": R, "top_categories": T,
        "trend": T, "unit_ids": T, "area_km2": R, "centre_lon": R, "centre_lat": R,
    },
    primary_key=("run_id", "sign", "rank"),
    geometry_type="MULTIPOLYGON",
    indexes=(("run_id",),),
    description="contiguous significant hot (sign 1) / cold (-1) units of a run merged into ranked areas; "
                "top_categories and unit_ids are JSON lists",
))

HOTSPOT_SURFACES = register(Table(
    "hotspot_surfaces",
    {
        "run_id": T, "west": R, "south": R, "east": R, "north": R, "width": I, "height": I,
        "bandwidth_m": R, "cell_size_m": R, "total": R, "max_density": R, "png_base64": T,
    },
    primary_key=("run_id",),
    description="kernel density surface of a kde run: RGBA PNG (base64) for a Leaflet ImageOverlay with "
                "bounds [[south, west], [north, east]] (rows evenly spaced in Web-Mercator y); density in "
                "cases per km²",
))
