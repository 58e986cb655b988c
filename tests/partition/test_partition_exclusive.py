"""Exclusive grids: sites carved out before partitioning, numbered from 901, tiling kept."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from gridmap.crs import LOCAL_CRS
from gridmap.partition._frames import village_frame
from gridmap.partition.atoms import build_atoms
from gridmap.partition.balance import partition_plan
from gridmap.partition.exclusive import carve_exclusive
from gridmap.partition.grids import grids_from_atoms
from gridmap.partition.sample import sample_area
from gridmap.partition.tiling import validate_tiling


def test_sites_become_exclusive_grids_numbered_from_901():
    area = sample_area(seed=8, n_villages=3, size_km=3.0, households=4500)
    atoms = build_atoms(area.villages, area.addresses)
    v = village_frame(area.villages).to_crs(LOCAL_CRS)
    inner = v.geometry.iloc[0].representative_point()
    # a school inside village 1, and a market straddling the line between two villages
    line_point = shapely.intersection(
        v.geometry.iloc[0].boundary, v.geometry.iloc[1].boundary
    ).representative_point()
    sites = gpd.GeoDataFrame(
        {"name": ["school", "market"]}, geometry=[inner.buffer(120), line_point.buffer(150)], crs=LOCAL_CRS
    )
    carved = carve_exclusive(atoms, sites, area.addresses, site_id_field="name")
    assert int(carved["households"].sum()) == int(atoms["households"].sum())
    assert set(carved.loc[carved["site_id"] != "", "site_id"]) == {"school", "market"}
    result = partition_plan(carved, n_jobs=1)
    grids = grids_from_atoms(carved, result, area.villages)
    assert validate_tiling(grids, area.villages).ok
    excl = grids[grids["exclusive"] == 1]
    # the school gives one grid, the market one per village it touches
    assert len(excl) == 3
    assert (excl["code"].str[12:].astype(int) >= 901).all()
    assert (grids.loc[grids["exclusive"] == 0, "code"].str[12:].astype(int) < 901).all()
    school = excl[excl["village_code"] == v["village_code"].iloc[0]]
    site_area = shapely.area(np.asarray(school.to_crs(LOCAL_CRS).geometry.values, dtype=object)).sum()
    assert site_area > 0.9 * np.pi * 120**2  # the school's whole site (plus part of the market)
    # regular grids of the village are balanced without the sites
    assert result.villages["within_tolerance"].all()
