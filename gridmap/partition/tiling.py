"""Grid polygons from atoms, and checks that the grids of every village tile it exactly."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.partition._frames import polygonal, village_frame

#: gaps, overlaps and spill-over below this area (m²) are floating-point noise
TOLERANCE_M2 = 1.0
GRID_M = 1e-5


def dissolve_grids(atoms: gpd.GeoDataFrame, assignment: pd.DataFrame,
                   villages: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """One polygon per grid: the coverage union of its atoms (LOCAL_CRS, then EPSG:4326).

    ``assignment`` has ``atom_id`` and ``grid`` (and optionally ``exclusive``).  Atoms
    tile their village exactly, so the coverage union is exact and fast; with ``villages``
    any grid part outside its village (there should be none) is clipped off.

    Returns ``grid, village_code, households, population, workload, atoms, exclusive``,
    geometry (Polygon/MultiPolygon) in EPSG:4326.
    """
    cols = ["atom_id", "grid"] + (["exclusive"] if "exclusive" in assignment.columns else [])
    frame = atoms.merge(assignment[cols], on="atom_id", how="inner", validate="one_to_one")
    frame = frame.to_crs(LOCAL_CRS)
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
        merged[n] = geoms[s] if e - s == 1 else shapely.coverage_union_all(geoms[s:e])
    bad = ~shapely.is_valid(merged)
    if bad.any():  # atoms that were not an exact coverage: fall back to a robust union
        for n in np.flatnonzero(bad):
            merged[n] = shapely.union_all(geoms[starts[n]:ends[n]], grid_size=GRID_M)
    if villages is not None:
        v = village_frame(villages).to_crs(LOCAL_CRS).set_index("village_code").geometry
        vg = np.asarray(v.reindex(table["village_code"].to_numpy()).values, dtype=object)
        has = ~pd.isna(vg)
        shapely.prepare(vg[has])
        inside = np.ones(len(merged), bool)
        inside[has] = shapely.covers(vg[has], merged[has])
        clip = np.flatnonzero(has & ~inside)
        if len(clip):
            spill = shapely.area(shapely.difference(merged[clip], vg[clip], grid_size=GRID_M))
            clip = clip[spill > 1e-3]  # below that it is coordinate round-off, not land
            merged[clip] = polygonal(shapely.intersection(merged[clip], vg[clip], grid_size=GRID_M))
    out = gpd.GeoDataFrame(table.reset_index(), geometry=merged, crs=LOCAL_CRS).to_crs(WGS84)
    if "exclusive" not in out.columns:
        out["exclusive"] = False
    return out


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
        return {"ok": self.ok, "villages": self.villages_checked, "grids": self.grids_checked,
                **self.findings["kind"].value_counts().to_dict()}


def validate_tiling(grids: gpd.GeoDataFrame, villages: gpd.GeoDataFrame,
                    tolerance_m2: float = TOLERANCE_M2, code_field: str | None = None) -> TilingFindings:
    """Check that the grids of every village tile it exactly.

    ``grids``: ``village_code`` and polygons (any CRS); ``code``/``grid`` names a grid.
    Findings (areas in m², LOCAL_CRS):

    * ``unknown_village`` — the grid's village is not in ``villages``;
    * ``crosses_village`` — grid area outside its own village > tolerance;
    * ``gap`` — village area not covered by its grids > tolerance;
    * ``overlap`` — area covered by two grids of the village > tolerance;
    * ``noncontiguous`` — grid made of more than one polygon;
    * ``invalid`` — invalid grid geometry.
    """
    code_field = code_field or ("code" if "code" in grids.columns else "grid")
    v = village_frame(villages).to_crs(LOCAL_CRS)
    g = grids.to_crs(LOCAL_CRS).reset_index(drop=True)
    gcode = g[code_field].astype(str).to_numpy() if code_field in g.columns else np.arange(len(g)).astype(str)
    gvill = g["village_code"].astype(str).to_numpy()
    geoms = np.asarray(g.geometry.values, dtype=object)
    rows = []

    def add(kind, village, code, value, message):
        rows.append({"kind": kind, "village_code": village, "code": code, "value": float(value), "message": message})

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
        add("unknown_village", gvill[k], gcode[k], 0, f"grid {gcode[k]} names village {gvill[k]}, not in the layer")
    kk = np.flatnonzero(known)
    own = np.asarray(vgeom.reindex(gvill[kk]).values, dtype=object)
    outside = shapely.area(shapely.difference(geoms[kk], own, grid_size=GRID_M))
    for k, a in zip(kk[outside > tolerance_m2], outside[outside > tolerance_m2], strict=True):
        add("crosses_village", gvill[k], gcode[k], a, f"grid {gcode[k]} has {a:.1f} m² outside village {gvill[k]}")
    frame = pd.DataFrame({"v": gvill[kk], "area": shapely.area(geoms[kk])})
    frame["geom"] = geoms[kk]
    for code, part in frame.groupby("v", sort=True):
        vg = vgeom[code]
        gg = part["geom"].to_numpy()
        union = shapely.union_all(gg, grid_size=GRID_M)
        overlap = float(part["area"].sum() - shapely.area(union))
        if overlap > tolerance_m2:
            add("overlap", code, "", overlap, f"grids of village {code} overlap by {overlap:.1f} m²")
        gap = float(shapely.area(shapely.difference(vg, union, grid_size=GRID_M)))
        if gap > tolerance_m2:
            add("gap", code, "", gap, f"{gap:.1f} m² of village {code} is in no grid")
    missing = sorted(set(vgeom.index) - set(gvill))
    for code in missing:
        add("gap", code, "", shapely.area(vgeom[code]), f"village {code} has no grid")
    findings = pd.DataFrame(rows, columns=["kind", "village_code", "code", "value", "message"])
    return TilingFindings(findings=findings, villages_checked=len(vgeom), grids_checked=len(g))


def grids_from_atoms(atoms: gpd.GeoDataFrame, result, villages: gpd.GeoDataFrame | None = None,
                     locked=()) -> gpd.GeoDataFrame:
    """The coded grid layer of a :class:`~gridmap.partition.balance.PartitionResult`
    (store ``grids`` columns, EPSG:4326).  Also sets ``result.assignment['grid_code']`` and
    ``result.atoms`` (the atoms with their ``grid_code``)."""
    from gridmap.partition.grids import grids_from_assignment

    grids, assignment = grids_from_assignment(atoms, result.assignment, villages, locked=locked)
    result.assignment = assignment
    result.atoms = atoms.merge(assignment[["atom_id", "grid_code"]], on="atom_id", how="left")
    return grids
