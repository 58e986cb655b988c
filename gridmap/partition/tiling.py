"""Grid polygons from atoms, and checks that the grids of every village tile it exactly."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.partition._frames import village_frame

#: gaps, overlaps and spill-over below this area (m²) are floating-point noise
TOLERANCE_M2 = 1.0
GRID_M = 1e-5
#: parts of a grid below this area (m²) are floating-point crumbs, not land
CRUMB_M2 = 1e-3
#: atoms whose outlines differ by less than this (degrees, ~1 mm; cf. adjacency.SNAP_M) are
#: snapped together when their plain union falls apart
SNAP_DEG = 1e-8


def dissolve_grids(
    atoms: gpd.GeoDataFrame, assignment: pd.DataFrame, villages: gpd.GeoDataFrame | None = None
) -> gpd.GeoDataFrame:
    """One polygon per grid: the coverage union of its atoms, in the atoms' own CRS (EPSG:4326).

    ``assignment`` has ``atom_id`` and ``grid`` (and optionally ``exclusive``).  The atoms
    of :func:`~gridmap.partition.atoms.build_atoms` are an edge-matched coverage, so the
    coverage union is exact and fast, and it keeps every vertex of the grid outlines: the
    grids are an edge-matched coverage too (no re-projection, no re-noding of single grids).
    Groups that are not edge-matched fall back to a snap-rounded union.  ``villages`` is
    accepted for compatibility and not needed: atoms nest in their village by construction,
    and :func:`validate_tiling` reports any grid that does not.

    Returns ``grid, village_code, households, population, workload, atoms, exclusive``,
    geometry (Polygon/MultiPolygon) in EPSG:4326.
    """
    cols = ["atom_id", "grid"] + (["exclusive"] if "exclusive" in assignment.columns else [])
    frame = atoms.merge(assignment[cols], on="atom_id", how="inner", validate="one_to_one")
    if frame.crs is not None and not frame.crs.equals(WGS84):
        frame = frame.to_crs(WGS84)
    weights = [c for c in ("households", "population", "workload") if c in frame.columns]
    agg = {c: (c, "sum") for c in weights}
    agg["village_code"] = ("village_code", "first")
    agg["atoms"] = ("atom_id", "size")
    if "exclusive" in frame.columns:
        agg["exclusive"] = ("exclusive", "max")
    table = frame.groupby("grid", sort=True).agg(**agg)
    order = np.argsort(frame["grid"].to_numpy(), kind="stable")
    geoms = np.asarray(frame.geometry.values, dtype=object)[order]
    keys = frame["grid"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    merged = np.empty(len(starts), dtype=object)
    for n, (s, e) in enumerate(zip(starts, ends, strict=True)):
        merged[n] = geoms[s] if e - s == 1 else _coverage_union(geoms[s:e])
    out = gpd.GeoDataFrame(table.reset_index(), geometry=merged, crs=WGS84)
    if "exclusive" not in out.columns:
        out["exclusive"] = False
    return out


def _coverage_union(geoms: np.ndarray):
    """Union of polygons that tile without overlap: coverage union when they are edge-matched,
    else a snap-rounded union (in metres, back to lon/lat).  When that falls apart into several
    pieces although the atoms are rook neighbours (outlines differing by µm of floating-point
    noise touch at a point or not at all), the atoms are snapped together within
    :data:`SNAP_DEG` and merged again."""
    merged = _union(geoms)
    if shapely.get_type_id(merged) == 6:
        snapped = _union(_snap_together(geoms))
        if shapely.get_num_geometries(snapped) < shapely.get_num_geometries(merged):
            merged = snapped
    return merged


def _snap_together(geoms: np.ndarray) -> np.ndarray:
    """Each polygon snapped to the vertices of the ones before it (so near-coincident outlines
    become identical; the first keeps its shape)."""
    out = np.asarray(geoms, dtype=object).copy()
    for n in range(1, len(out)):
        reference = shapely.multipoints(shapely.get_coordinates(out[:n]))
        snapped = shapely.snap(out[n], reference, SNAP_DEG)
        out[n] = snapped if shapely.is_valid(snapped) else shapely.make_valid(snapped)
    return out


def _union(geoms: np.ndarray):
    try:
        merged = shapely.coverage_union_all(geoms)
        if not shapely.is_valid(merged):
            merged = None
    except shapely.errors.GEOSException:  # not edge-matched
        merged = None
    if merged is None:
        metric = gpd.GeoSeries(geoms, crs=WGS84).to_crs(LOCAL_CRS).values
        union = shapely.union_all(np.asarray(metric, dtype=object), grid_size=GRID_M)
        merged = gpd.GeoSeries([union], crs=LOCAL_CRS).to_crs(WGS84).values[0]
    if shapely.get_type_id(merged) == 6:
        # sub-mm² crumbs where neighbouring atoms' outlines differ in the last bits are not land
        parts = shapely.get_parts(merged)
        area = shapely.area(gpd.GeoSeries(parts, crs=WGS84).to_crs(LOCAL_CRS).values)
        real = parts[area > CRUMB_M2] if (area > CRUMB_M2).any() else parts[[np.argmax(area)]]
        merged = real[0] if len(real) == 1 else shapely.multipolygons(real)
    return merged


def polsby_popper(geoms_metric: np.ndarray) -> np.ndarray:
    """4πA/P² per polygon (1 for a disc; LOCAL_CRS metres in)."""
    area = shapely.area(geoms_metric)
    perimeter = shapely.length(geoms_metric)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perimeter > 0, 4 * np.pi * area / perimeter**2, 0.0)


@dataclass
class TilingFindings:
    """Result of :func:`validate_tiling`: ``findings`` has one row per problem
    (kind, village_code, code, value, message); ``ok`` when there is none."""

    findings: pd.DataFrame
    villages_checked: int
    grids_checked: int

    @property
    def ok(self) -> bool:
        return self.findings.empty

    def summary(self) -> dict:
        return {
            "ok": self.ok,
            "villages": self.villages_checked,
            "grids": self.grids_checked,
            **self.findings["kind"].value_counts().to_dict(),
        }


def validate_tiling(
    grids: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    tolerance_m2: float = TOLERANCE_M2,
    code_field: str | None = None,
    grids_metric: np.ndarray | None = None,
) -> TilingFindings:
    """Check that the grids of every village tile it exactly.

    ``grids``: ``village_code`` and polygons (any CRS); ``code``/``grid`` names a grid;
    ``grids_metric`` may pass the same geometries already in LOCAL_CRS.
    Findings (areas in m², LOCAL_CRS):

    * ``unknown_village`` — the grid's village is not in ``villages``;
    * ``crosses_village`` — grid area outside its own village > tolerance;
    * ``gap`` — village area not covered by its grids > tolerance;
    * ``overlap`` — area covered by two grids of the village > tolerance;
    * ``noncontiguous`` — grid made of more than one polygon;
    * ``invalid`` — invalid grid geometry.

    Per village the grids are merged once (a coverage union when they are edge-matched, which
    also proves they do not overlap, else a snap-rounded union) and compared with the village
    by two overlays: the village minus the union is the gap, the union minus the village the
    spill-over; only a village with spill-over has its grids measured one by one.
    """
    code_field = code_field or ("code" if "code" in grids.columns else "grid")
    v = village_frame(villages).to_crs(LOCAL_CRS)
    g = grids.reset_index(drop=True)
    geoms = (
        np.asarray(grids_metric, dtype=object).copy()
        if grids_metric is not None
        else np.asarray(g.geometry.to_crs(LOCAL_CRS).values, dtype=object).copy()
    )
    gcode = g[code_field].astype(str).to_numpy() if code_field in g.columns else np.arange(len(g)).astype(str)
    gvill = g["village_code"].astype(str).to_numpy()
    rows = []

    def add(kind, village, code, value, message):
        rows.append(
            {"kind": kind, "village_code": village, "code": code, "value": float(value), "message": message}
        )

    invalid = ~shapely.is_valid(geoms)
    for k in np.flatnonzero(invalid):
        add("invalid", gvill[k], gcode[k], 0, shapely.is_valid_reason(geoms[k]))
        geoms[k] = shapely.make_valid(geoms[k])
    parts = shapely.get_num_geometries(geoms)
    for k in np.flatnonzero(parts > 1):
        add("noncontiguous", gvill[k], gcode[k], parts[k], f"grid {gcode[k]} is {parts[k]} separate polygons")
    vgeom = v.set_index("village_code").geometry
    known = np.isin(gvill, vgeom.index.to_numpy())
    for k in np.flatnonzero(~known):
        add(
            "unknown_village",
            gvill[k],
            gcode[k],
            0,
            f"grid {gcode[k]} names village {gvill[k]}, not in the layer",
        )
    kk = np.flatnonzero(known)
    order = kk[np.argsort(gvill[kk], kind="stable")]
    keys = gvill[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(order) else np.empty(0, dtype=np.int64)
    ends = np.r_[starts[1:], len(order)]
    codes = keys[starts]
    unions = np.empty(len(starts), dtype=object)
    overlap = np.zeros(len(starts))
    for n, (s, e) in enumerate(zip(starts, ends, strict=True)):
        members = geoms[order[s:e]]
        union = None
        if e - s == 1:
            union = members[0]
        elif not invalid[order[s:e]].any():
            try:
                union = shapely.coverage_union_all(members)
                if not shapely.is_valid(union):
                    union = None
            except shapely.errors.GEOSException:  # not edge-matched: measure the hard way
                union = None
        if union is None:
            union = shapely.union_all(members, grid_size=GRID_M)
            overlap[n] = float(shapely.area(members).sum() - shapely.area(union))
        unions[n] = union
    own = np.asarray(vgeom.reindex(codes).values, dtype=object)
    gap = _overlay_area(shapely.difference, own, unions)
    spill = _overlay_area(shapely.difference, unions, own)
    for n in np.flatnonzero(overlap > tolerance_m2):
        add(
            "overlap", codes[n], "", overlap[n], f"grids of village {codes[n]} overlap by {overlap[n]:.1f} m²"
        )
    for n in np.flatnonzero(gap > tolerance_m2):
        add("gap", codes[n], "", gap[n], f"{gap[n]:.1f} m² of village {codes[n]} is in no grid")
    for n in np.flatnonzero(spill > tolerance_m2):
        members = order[starts[n] : ends[n]]
        outside = _overlay_area(
            shapely.difference, geoms[members], np.full(len(members), own[n], dtype=object)
        )
        for k, a in zip(members[outside > tolerance_m2], outside[outside > tolerance_m2], strict=True):
            add(
                "crosses_village",
                gvill[k],
                gcode[k],
                a,
                f"grid {gcode[k]} has {a:.1f} m² outside village {gvill[k]}",
            )
    missing = sorted(set(vgeom.index) - set(gvill))
    for code in missing:
        add("gap", code, "", shapely.area(vgeom[code]), f"village {code} has no grid")
    rows.sort(key=lambda r: (r["kind"], r["village_code"], r["code"]))
    findings = pd.DataFrame(rows, columns=["kind", "village_code", "code", "value", "message"])
    return TilingFindings(findings=findings, villages_checked=len(vgeom), grids_checked=len(g))


#: overlays measured per batch by :func:`_overlay_area`
_OVERLAYS_PER_BATCH = 128


def _overlay_area(op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Area (units of the CRS, m² in LOCAL_CRS) of ``op(a, b)`` element-wise, a batch at a time.

    The pieces of a difference between a village and its grids' union are thousands of slivers
    along detailed boundaries: a whole city's at once held about 230 MiB (scale-0.1 demo), so
    only a batch of them lives at a time.
    """
    out = np.empty(len(a))
    for start in range(0, len(a), _OVERLAYS_PER_BATCH):
        stop = start + _OVERLAYS_PER_BATCH
        out[start:stop] = shapely.area(_overlay(op, a[start:stop], b[start:stop]))
    return out


def _overlay(op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``op(a, b)`` element-wise in floating point (fast; the pieces measured are µm slivers
    or real areas alike), snap-rounded where the floating-point overlay fails."""
    try:
        return op(a, b)
    except shapely.errors.GEOSException:
        return np.array([_overlay_one(op, x, y) for x, y in zip(a, b, strict=True)], dtype=object)


def _overlay_one(op, a, b):
    try:
        return op(a, b)
    except shapely.errors.GEOSException:
        return op(a, b, grid_size=GRID_M)
