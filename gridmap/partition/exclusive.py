"""Exclusive grids (专属网格): schools, markets, hospitals, industrial parks get grids of their own.

:func:`carve_exclusive` cuts the site polygons out of the atoms *before* partitioning:
every atom overlapping a site is split into its part inside the site (an atom marked with
``site_id``) and its remainder.  :func:`gridmap.partition.balance.partition_plan` turns
each (village, site) into one exclusive grid, numbered from 901 by
:mod:`gridmap.partition.codes`, and balances the rest of the village without it.
A site straddling a village line gives one exclusive grid per village (grids never
cross village lines).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LOCAL_CRS, WGS84
from gridmap.errors import InputError
from gridmap.partition._frames import address_frame, polygonal
from gridmap.partition.atoms import GRID_M, NOISE_M2, WEIGHTS, _assign_points, _node_villages


def carve_exclusive(
    atoms: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame | None = None,
    site_id_field: str | None = None,
) -> gpd.GeoDataFrame:
    """Atoms with the site polygons carved out as exclusive atoms.

    Parameters
    ----------
    atoms : GeoDataFrame
        From :func:`~gridmap.partition.atoms.build_atoms` (EPSG:4326 or any CRS).
    sites : GeoDataFrame
        Site polygons (any CRS); ``site_id_field`` names them (default ``s1``, ``s2`` …).
        Where sites overlap the earlier row wins.
    addresses : GeoDataFrame | None
        When given, the weights of the atoms of touched villages are recounted from the
        addresses; otherwise a cut atom's weights are shared by area.

    Returns
    -------
    GeoDataFrame
        The atoms' columns plus ``site_id`` ('' for ordinary atoms), EPSG:4326; the atoms
        of every village still tile it exactly.
    """
    if not isinstance(sites, gpd.GeoDataFrame) or sites.crs is None:
        raise InputError("sites must be a GeoDataFrame of polygons with a CRS")
    if site_id_field and site_id_field not in sites.columns:
        raise InputError(f"sites have no column {site_id_field!r}")
    base = atoms.to_crs(LOCAL_CRS).reset_index(drop=True)
    if "site_id" not in base.columns:
        base["site_id"] = ""
    base["site_id"] = base["site_id"].fillna("").astype(str)
    site_geoms = polygonal(
        shapely.make_valid(np.asarray(sites.to_crs(LOCAL_CRS).geometry.values, dtype=object))
    )
    site_ids = (
        sites[site_id_field].astype(str).to_numpy()
        if site_id_field
        else np.array([f"s{k + 1}" for k in range(len(sites))], dtype=object)
    )
    taken = shapely.Polygon()
    own = np.empty(len(site_geoms), dtype=object)
    for k, g in enumerate(site_geoms):
        own[k] = shapely.difference(g, taken, grid_size=GRID_M)
        taken = shapely.union(taken, g, grid_size=GRID_M)
    geoms = np.asarray(base.geometry.values, dtype=object)
    ai, si = shapely.STRtree(own).query(geoms, predicate="intersects")
    inside = polygonal(shapely.intersection(geoms[ai], own[si], grid_size=GRID_M))
    real = shapely.area(inside) > NOISE_M2
    ai, si, inside = ai[real], si[real], inside[real]
    if len(ai) == 0:
        return base.to_crs(WGS84)
    touched = np.unique(ai)
    rest = polygonal(shapely.difference(geoms[touched], taken, grid_size=GRID_M))
    new_rows = []
    for n, a in enumerate(touched):  # the remainder of a cut atom, split into its polygons
        for p, part in enumerate(p for p in shapely.get_parts(rest[n]) if shapely.area(p) > NOISE_M2):
            row = base.iloc[a].copy()
            row["atom_id"] = f"{row['atom_id']}" if p == 0 else f"{row['atom_id']}:r{p}"
            row["geometry"] = part
            new_rows.append(row)
    for a, s, piece in zip(ai, si, inside, strict=True):
        for p, part in enumerate(p for p in shapely.get_parts(piece) if shapely.area(p) > NOISE_M2):
            row = base.iloc[a].copy()
            row["atom_id"] = f"{row['atom_id']}:x{site_ids[s]}" + (f":{p}" if p else "")
            row["site_id"] = str(site_ids[s])
            row["h3_cell"] = row.get("h3_cell", "")
            row["geometry"] = part
            new_rows.append(row)
    cut = gpd.GeoDataFrame(new_rows, geometry="geometry", crs=LOCAL_CRS)
    original_area = pd.Series(shapely.area(geoms[touched]), index=base["atom_id"].to_numpy()[touched])
    kept = base.drop(index=touched)
    out = gpd.GeoDataFrame(pd.concat([kept, cut], ignore_index=True), geometry="geometry", crs=LOCAL_CRS)
    villages = np.unique(cut["village_code"].astype(str))
    affected = np.flatnonzero(out["village_code"].astype(str).isin(villages).to_numpy())
    vcode, vidx = np.unique(out["village_code"].astype(str).to_numpy()[affected], return_inverse=True)
    ag = np.asarray(out.geometry.values, dtype=object)[affected]
    vgeoms = np.array(
        [shapely.union_all(ag[vidx == v], grid_size=GRID_M) for v in range(len(vcode))], dtype=object
    )
    geoms_out = np.asarray(out.geometry.values, dtype=object).copy()
    geoms_out[affected] = _node_villages(shapely.set_precision(ag, GRID_M), vidx, vgeoms)
    out = out.set_geometry(geoms_out)
    out = out[~shapely.is_empty(geoms_out)].reset_index(drop=True)
    for c in WEIGHTS:
        if c not in out.columns:
            out[c] = 0
    is_cut = out["atom_id"].isin(cut["atom_id"]).to_numpy()
    if addresses is not None:
        pts = address_frame(addresses).to_crs(LOCAL_CRS)
        sel = np.flatnonzero(out["village_code"].astype(str).isin(villages).to_numpy())
        where = _assign_points(
            np.asarray(pts.geometry.values, dtype=object),
            np.zeros(len(pts), np.int64),
            np.asarray(out.geometry.values, dtype=object)[sel],
            np.zeros(len(sel), np.int64),
        )
        ok = where >= 0
        sums = pts.loc[ok, WEIGHTS].groupby(sel[where[ok]]).sum()
        out.loc[sel, WEIGHTS] = 0
        out.loc[sums.index, WEIGHTS] = sums.to_numpy()
    else:  # share a cut atom's weights by area
        parent = out["atom_id"].str.replace(r":(x|r).*$", "", regex=True)
        share = (
            shapely.area(np.asarray(out.geometry.values, dtype=object))
            / original_area.reindex(parent).to_numpy()
        )
        for c in WEIGHTS:
            out.loc[is_cut, c] = np.rint(out.loc[is_cut, c].to_numpy() * share[is_cut]).astype(np.int64)
    for c in WEIGHTS:
        out[c] = out[c].astype(np.int64)
    return out.to_crs(WGS84).sort_values(["village_code", "atom_id"], ignore_index=True)
