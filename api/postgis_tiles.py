"""Vector tiles built by PostGIS itself (``ST_AsMVT`` / ``ST_AsMVTGeom``, PostGIS ≥ 3.0) on the
store's own connection: same layers, properties, extent (4096) and buffer (64) as :mod:`api.mvt`.
"""

from __future__ import annotations

from typing import Any

from api import mvt
from api.tilesource import GRID_PROPERTIES, HOTSPOT_PROPERTIES, TileRequest
from gridmap.store.sql import quote

#: feature ids are numeric codes (grid, admin); anything else gets no id, as in api.mvt
_NUMERIC_ID = "CASE WHEN t.{col} ~ '^[0-9]{{1,18}}$' THEN t.{col}::bigint END"


def _select(request: TileRequest) -> tuple[str, str, str]:
    """(table, id column, property select list) for the request's layer."""
    if request.layer == "grids":
        props = ", ".join(f"t.{quote(c)}" for c in GRID_PROPERTIES)
        return "grids", "code", props
    small = "(t.count > 0 AND t.count < %(k)s AND NOT %(full)s)"
    props = ", ".join(
        f"CASE WHEN {small} THEN NULL ELSE t.{quote(c)} END AS {quote(c)}" if c in ("count", "value")
        else f"t.{quote(c)}" for c in HOTSPOT_PROPERTIES
    )
    return "hotspot_results", "unit_id", f"{props}, COALESCE({small}, false) AS suppressed"


def postgis_tile(store: Any, request: TileRequest) -> bytes:
    """The tile as PostGIS encodes it (empty bytes when nothing is in it)."""
    from gridmap.store.postgis import GEOMETRY_COLUMN

    table, id_column, props = _select(request)
    geom = quote(GEOMETRY_COLUMN)
    columns = [*GRID_PROPERTIES] if request.layer == "grids" else [*HOTSPOT_PROPERTIES, "suppressed"]
    outer = ", ".join(quote(c) for c in columns)
    sql = f"""
        WITH bounds AS (
            SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env
        ), features AS (
            SELECT ST_AsMVTGeom(ST_Transform(t.{geom}, 3857), bounds.env, %(extent)s, %(buffer)s, true) AS mvtgeom,
                   {_NUMERIC_ID.format(col=quote(id_column))} AS fid, {props}
            FROM {store._table_sql(table)} t, bounds
            WHERE t.{quote("plan_id" if table == "grids" else "run_id")} = %(source)s
              AND t.{geom} && ST_Transform(
                    ST_Expand(bounds.env, (ST_XMax(bounds.env) - ST_XMin(bounds.env)) * %(buffer)s / %(extent)s),
                    4326)
        )
        SELECT ST_AsMVT(f, %(layer)s, %(extent)s, 'mvtgeom', 'fid')
        FROM (SELECT mvtgeom, fid, {outer} FROM features WHERE mvtgeom IS NOT NULL) f
    """
    params = {"z": request.z, "x": request.x, "y": request.y, "extent": mvt.EXTENT, "buffer": mvt.BUFFER,
              "source": request.source_id, "layer": request.layer, "k": request.rule.threshold,
              "full": request.full_counts}
    with store._cursor(f"tile {request.layer} {request.z}/{request.x}/{request.y}") as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    data = row[0] if row else None
    return bytes(data) if data else b""
