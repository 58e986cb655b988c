"""Assemble the grid layer of a plan: dissolved atoms, codes, compactness (store columns)."""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84
from gridmap.partition._frames import to_metric
from gridmap.partition.codes import assign_codes
from gridmap.partition.tiling import dissolve_grids, polsby_popper

GRID_COLUMNS = [
    "code",
    "village_code",
    "township_code",
    "county_code",
    "households",
    "population",
    "locked",
    "exclusive",
    "polsby_popper",
    "geometry",
]


def to_multipolygon(geoms) -> np.ndarray:
    """Polygons → MultiPolygons (the store's column type); others unchanged."""
    geoms = np.asarray(geoms, dtype=object).copy()
    single = np.flatnonzero(shapely.get_type_id(geoms) == 3)
    geoms[single] = shapely.multipolygons(geoms[single], indices=np.arange(len(single)))
    return geoms


def grids_from_assignment(
    atoms: gpd.GeoDataFrame,
    assignment: pd.DataFrame,
    villages: gpd.GeoDataFrame | None = None,
    reserved: Iterable[str] = (),
    locked: Iterable[str] = (),
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Grid layer (store ``grids`` columns, EPSG:4326, MultiPolygon) and the assignment
    with final codes (column ``grid_code``).

    Provisional grid keys become codes by :func:`gridmap.partition.codes.assign_codes`;
    keys that already are 15-digit codes of their village are kept.
    """
    grids = dissolve_grids(atoms, assignment, villages)
    metric = to_metric(grids.geometry.values)
    grids["code"] = np.where(grids["grid"].str.contains("#"), "", grids["grid"])
    grids["code"] = assign_codes(grids, reserved=reserved, metric=metric)
    key_to_code = dict(zip(grids["grid"], grids["code"], strict=True))
    assignment = assignment.assign(grid_code=assignment["grid"].map(key_to_code))
    grids["township_code"] = grids["village_code"].str[:9]
    grids["county_code"] = grids["village_code"].str[:6]
    grids["locked"] = grids["code"].isin(set(locked)).astype(np.int64)
    grids["exclusive"] = grids["exclusive"].astype(bool).astype(np.int64)
    grids["polsby_popper"] = polsby_popper(metric)
    for c in ("households", "population"):
        if c not in grids.columns:
            grids[c] = 0
        grids[c] = grids[c].astype(np.int64)
    grids = grids.set_geometry(to_multipolygon(grids.geometry.values)).set_crs(WGS84, allow_override=True)
    grids = grids.sort_values("code", ignore_index=True)
    return gpd.GeoDataFrame(grids[GRID_COLUMNS], geometry="geometry", crs=WGS84), assignment


def grids_from_atoms(
    atoms: gpd.GeoDataFrame, result, villages: gpd.GeoDataFrame | None = None, locked=()
) -> gpd.GeoDataFrame:
    """The coded grid layer of a :class:`~gridmap.partition.balance.PartitionResult`
    (store ``grids`` columns, EPSG:4326).  Also sets ``result.assignment['grid_code']`` and
    ``result.atoms`` (the atoms with their ``grid_code``)."""
    grids, assignment = grids_from_assignment(atoms, result.assignment, villages, locked=locked)
    result.assignment = assignment
    result.atoms = atoms.merge(assignment[["atom_id", "grid_code"]], on="atom_id", how="left")
    return grids
