"""Units and grids imports: official codes, parents, nesting, overlaps, versions; a grid layer as a plan."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from gridmap import boundaries
from gridmap.crs import WGS84, to_local, to_wgs84
from gridmap.imports.framework import undo_batch
from gridmap.imports.init import init_store
from gridmap.imports.kinds import run_import


def _local_box(x0, y0, x1, y1):
    return shapely.transform(
        box(x0, y0, x1, y1).segmentize(50.0), lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1]))
    )


@pytest.fixture
def layout():
    """A real township of 科尔沁区 and two of its villages as 1 km squares inside the county."""
    town = boundaries.townships().query("parent_code == '150502'").iloc[0]
    villages = boundaries.villages().query("parent_code == @town.code").head(2)
    p = boundaries.counties().set_index("code").loc["150502", "geometry"].representative_point()
    cx, cy = (float(v) for v in to_local(p.x, p.y))
    return town, villages, cx, cy


def _write(path, frame):
    frame.to_file(path, driver="GPKG")
    return path


def test_units_codes_parents_nesting_overlaps_and_versions(store, layout, tmp_path):
    town, villages, cx, cy = layout
    init_store(store)
    v1, v2 = villages["code"].tolist()
    frame = gpd.GeoDataFrame(
        {
            "区划代码": [town["code"], v1, v2, "150502999999", v2[:9] + "998"],
            "名称": [town["name"], "甲村", "乙村", "不存在", "错挂"],
            "上级代码": ["150502", town["code"], town["code"], town["code"], "150521"],
        },
        geometry=[
            _local_box(cx - 1000, cy - 500, cx + 1000, cy + 500),
            _local_box(cx - 1000, cy - 500, cx + 3, cy + 500),  # overlaps v2 by 3 m × 1 km: reported
            _local_box(cx, cy - 500, cx + 1000, cy + 500),
            _local_box(cx - 100, cy - 100, cx + 100, cy + 100),
            _local_box(cx - 100, cy - 100, cx + 100, cy + 100),
        ],
        crs=WGS84,
    )
    report = run_import(store, "units", _write(tmp_path / "u.gpkg", frame))
    rows = store.read("import_rows", where={"batch_id": report.batch_id}, order_by=["row_number"])
    status = dict(zip(frame["区划代码"], rows["status"], strict=True))
    reasons = dict(zip(frame["区划代码"], rows["reason"], strict=True))
    assert status[town["code"]] == "accepted"
    assert status["150502999999"] == "review" and "official list" in reasons["150502999999"]
    assert "overlaps a neighbour" in reasons[v1] and status[v2] == "review"
    assert any("overlap by" in f for f in report.findings)

    # a small overlap is snapped; a changed boundary keeps the old one as a version
    frame2 = frame.iloc[:3].copy()
    frame2.loc[1, "geometry"] = _local_box(cx - 1000, cy - 500, cx + 0.01, cy + 500)
    again = run_import(store, "units", _write(tmp_path / "u2.gpkg", frame2))
    assert any("snapped" in f for f in again.findings)
    assert again.updated >= 1
    versions = store.read("admin_unit_versions", where={"code": v1})
    assert len(versions) == 1 and versions["batch_id"].iloc[0] == again.batch_id
    stored = store.read("admin_units", where={"code": [v1, v2]}).set_index("code")
    overlap = shapely.intersection(stored.at[v1, "geometry"], stored.at[v2, "geometry"])
    assert shapely.area(overlap) < 1e-12

    # undo restores the boundary and takes back the version it kept
    before = store.read("admin_units").set_index("code").geometry
    kept = store.count("admin_unit_versions", where={"batch_id": again.batch_id})
    undone = undo_batch(store, again.batch_id)
    assert kept >= 1 and undone.extra_deleted == kept and store.count("admin_unit_versions") == 0
    assert shapely.equals_exact(
        store.read("admin_units", where={"code": v1}).geometry.iloc[0], versions.geometry.iloc[0], 1e-9
    )
    again = run_import(store, "units", _write(tmp_path / "u2.gpkg", frame2))
    assert store.count("admin_unit_versions") == kept
    assert shapely.equals_exact(
        store.read("admin_units", where={"code": v1}).geometry.iloc[0], before[v1], 1e-9
    )

    # a 2 cm sliver between the villages (20 m²) is filled; the township stays covered
    frame3 = frame.iloc[:3].copy()
    frame3.loc[1, "geometry"] = _local_box(cx - 1000, cy - 500, cx - 0.02, cy + 500)
    third = run_import(store, "units", _write(tmp_path / "u3.gpkg", frame3))
    assert any("gaps between neighbours" in f and "filled" in f for f in third.findings), third.findings
    stored = store.read("admin_units", where={"code": [town["code"], v1, v2]}).set_index("code")
    local = {
        c: shapely.transform(g, lambda xy: np.column_stack(to_local(xy[:, 0], xy[:, 1])))
        for c, g in stored.geometry.items()
    }
    uncovered = shapely.difference(local[town["code"]], shapely.union(local[v1], local[v2]))
    assert shapely.area(uncovered) < 0.5


def test_wrong_parent_is_rejected(store, layout, tmp_path):
    town, villages, cx, cy = layout
    init_store(store)
    frame = gpd.GeoDataFrame(
        {
            "code": [villages["code"].iloc[0], villages["code"].iloc[1]],
            "parent_code": ["150521100", town["code"]],
        },
        geometry=[_local_box(cx, cy, cx + 500, cy + 500), None],
        crs=WGS84,
    )
    report = run_import(store, "units", _write(tmp_path / "w.gpkg", frame))
    assert report.rejected == 2 and report.rows == 2
    rows = store.read("import_rows", where={"batch_id": report.batch_id}, order_by=["row_number"])
    assert "official parent is" in rows["reason"].iloc[0]
    assert rows["reason"].iloc[1] == "dropped on reading: no geometry"


def test_grid_layer_becomes_a_plan(store, layout, tmp_path):
    town, villages, cx, cy = layout
    init_store(store)
    v1 = villages["code"].iloc[0]
    units = gpd.GeoDataFrame({"code": [v1]}, geometry=[_local_box(cx, cy, cx + 1000, cy + 1000)], crs=WGS84)
    run_import(store, "units", _write(tmp_path / "v.gpkg", units))
    store.write(
        "addresses",
        gpd.GeoDataFrame(
            {"address_id": ["a1", "a2"], "households": [30, 50], "population": [70, 120], "village_code": v1},
            geometry=gpd.points_from_xy(
                *to_wgs84(np.array([cx + 200, cx + 800]), np.array([cy + 500, cy + 500]))
            ),
            crs=WGS84,
        ),
    )
    grids = gpd.GeoDataFrame(
        {"网格编码": [v1 + "001", v1 + "002", "123"]},
        geometry=[
            _local_box(cx, cy, cx + 500, cy + 1000),
            _local_box(cx + 500, cy, cx + 1000, cy + 1000),
            _local_box(cx, cy, cx + 10, cy + 10),
        ],
        crs=WGS84,
    )
    report = run_import(store, "grids", _write(tmp_path / "g.gpkg", grids), plan="today")
    assert (report.accepted, report.rejected) == (2, 1)
    plan = pd.DataFrame(store.read("plans")).iloc[0]
    assert plan["name"] == "today" and plan["status"] == "active"
    stored = store.read("grids", where={"plan_id": plan["plan_id"]}).set_index("code")
    assert stored.at[v1 + "001", "households"] == 30 and stored.at[v1 + "002", "households"] == 50
    assert run_import(store, "grids", _write(tmp_path / "g.gpkg", grids), plan="today").unchanged == 2
