"""Grid codes: reading order (rows north→south, west→east), exclusive from 901, stability."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.crs import LOCAL_CRS, WGS84, to_local
from gridmap.errors import ValidationError
from gridmap.partition.codes import assign_codes, reading_order

V = "150502001001"


def blocks(rows: int, cols: int, size: float = 500.0) -> gpd.GeoDataFrame:
    """rows × cols square grids; returned shuffled so order cannot come from the input."""
    x0, y0 = to_local(122.25, 43.62)
    geoms, names = [], []
    for r in range(rows):  # r = 0 is the northern row
        for c in range(cols):  # c = 0 is the western column
            geoms.append(shapely.box(x0 + c * size, y0 - (r + 1) * size, x0 + (c + 1) * size, y0 - r * size))
            names.append((r, c))
    perm = np.random.default_rng(1).permutation(len(geoms))
    frame = gpd.GeoDataFrame(
        {"village_code": V, "rc": [names[p] for p in perm]}, geometry=[geoms[p] for p in perm], crs=LOCAL_CRS
    )
    return frame.to_crs(WGS84)


def test_numbered_west_to_east_then_north_to_south():
    g = blocks(2, 3)
    g["code"] = assign_codes(g)
    by_rc = dict(zip(g["rc"], g["code"], strict=True))
    assert [by_rc[(0, c)] for c in range(3)] == [f"{V}001", f"{V}002", f"{V}003"]
    assert [by_rc[(1, c)] for c in range(3)] == [f"{V}004", f"{V}005", f"{V}006"]


def test_rows_tolerate_small_vertical_offsets():
    g = blocks(1, 3).to_crs(LOCAL_CRS)
    # the middle grid sits 100 m lower: still the same row, so still numbered by x
    g.loc[g["rc"] == (0, 1), "geometry"] = g.loc[g["rc"] == (0, 1), "geometry"].translate(0, -100)
    order = dict(zip(g["rc"], reading_order(g), strict=True))
    assert [order[(0, c)] for c in range(3)] == [0, 1, 2]


def test_exclusive_grids_from_901():
    g = blocks(1, 4)
    g["exclusive"] = [rc[1] >= 2 for rc in g["rc"]]
    g["code"] = assign_codes(g)
    codes = dict(zip(g["rc"], g["code"], strict=True))
    assert codes[(0, 0)].endswith("001") and codes[(0, 1)].endswith("002")
    assert codes[(0, 2)].endswith("901") and codes[(0, 3)].endswith("902")


def test_existing_codes_kept_new_ones_take_next_free():
    g = blocks(2, 2)
    g["code"] = assign_codes(g)
    before = dict(zip(g["rc"], g["code"], strict=True))
    # a split: grid (0,0) is replaced by two new ones; its code is retired
    retired = before[(0, 0)]
    old = g.loc[g["rc"] == (0, 0), "geometry"].iloc[0]
    x0, y0, x1, y1 = old.bounds
    xm = (x0 + x1) / 2
    g = g[g["rc"] != (0, 0)].copy()
    new = gpd.GeoDataFrame(
        {"village_code": V, "rc": ["a", "b"], "code": ""},
        geometry=[shapely.box(x0, y0, xm, y1), shapely.box(xm, y0, x1, y1)],
        crs=WGS84,
    )
    g = gpd.GeoDataFrame(pd.concat([g, new], ignore_index=True), crs=WGS84)
    g["code"] = assign_codes(g, reserved=[retired])
    after = dict(zip(g["rc"], g["code"], strict=True))
    for rc in [(0, 1), (1, 0), (1, 1)]:
        assert after[rc] == before[rc]
    assert sorted([after["a"], after["b"]]) == [f"{V}005", f"{V}006"]
    assert retired not in set(g["code"])


def test_running_out_of_sequence_numbers_is_an_error():
    g = blocks(1, 2)
    g["code"] = ["", f"{V}900"]
    with pytest.raises(ValidationError, match="no free"):
        assign_codes(g)
