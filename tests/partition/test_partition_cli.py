"""CLI: ``gridmap partition`` on files and on the store, ``gridmap plan …``."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from gridmap.cli import main
from gridmap.partition.sample import sample_area
from gridmap.partition.tiling import validate_tiling


@pytest.fixture(scope="module")
def area():
    return sample_area(seed=21, n_villages=3, size_km=2.5, households=3500)


def test_partition_files(tmp_path, area, capsys):
    units = area.villages.rename(columns={"code": "vcode"})[["vcode", "name", "geometry"]].to_crs(3857)
    units.to_file(tmp_path / "units.shp")  # any format pyogrio reads, any CRS
    pts = area.addresses
    pd.DataFrame({"lon": pts.geometry.x, "lat": pts.geometry.y, "households": pts["households"]}).to_csv(
        tmp_path / "hh.csv", index=False
    )
    out = tmp_path / "grids.gpkg"
    rc = main(
        [
            "partition",
            "--units",
            str(tmp_path / "units.shp"),
            "--unit-code-field",
            "vcode",
            "--households",
            str(tmp_path / "hh.csv"),
            "--target",
            "400",
            "--tolerance",
            "0.10",
            "--out",
            str(out),
            "--n-jobs",
            "1",
        ]
    )
    assert rc == 0
    grids = gpd.read_file(out, layer="grids")
    assert {"code", "unit_code", "households"} <= set(grids.columns)
    assert grids.crs.to_epsg() == 4326
    assert int(grids["households"].sum()) == int(pts["households"].sum())
    assert validate_tiling(grids.rename(columns={"unit_code": "village_code"}), area.villages).ok
    printed = capsys.readouterr().out
    assert "households per grid" in printed and "Polsby-Popper" in printed


def test_partition_files_bad_csv_is_a_clear_error(tmp_path, area, capsys):
    area.villages.to_file(tmp_path / "units.gpkg")
    pd.DataFrame({"x": [1], "y": [2]}).to_csv(tmp_path / "hh.csv", index=False)
    rc = main(
        [
            "partition",
            "--units",
            str(tmp_path / "units.gpkg"),
            "--households",
            str(tmp_path / "hh.csv"),
            "--out",
            str(tmp_path / "o.gpkg"),
        ]
    )
    assert rc == 1
    assert "lon, lat, households" in capsys.readouterr().err


def test_partition_store_and_plan_commands(tmp_path, area, capsys):
    from gridmap.store import open_store

    path = tmp_path / "s.gpkg"
    store = open_store(path)
    store.write("admin_units", area.villages.assign(source="sample"))
    store.write("addresses", area.addresses)
    rc = main(["partition", "--plan", "v1", "--store", str(path), "--n-jobs", "1"])
    assert rc == 0
    out = capsys.readouterr().out
    pid = out.strip().splitlines()[-1].split()[2]
    assert main(["plan", "--store", str(path), "list"]) == 0
    assert pid in capsys.readouterr().out
    assert main(["partition", "--plan", "v2", "--store", str(path), "--from-plan", pid, "--n-jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "atoms moved 0" in out
    pid2 = out.strip().splitlines()[-1].split()[2]
    assert main(["plan", "--store", str(path), "diff", pid, pid2]) == 0
    assert '"households_moved": 0' in capsys.readouterr().out
    assert main(["plan", "--store", str(path), "quality", pid2]) == 0
    assert "nesting/tiling: ok" in capsys.readouterr().out
    code = open_store(path).read("grids", where={"plan_id": pid2})["code"].iloc[0]
    assert main(["plan", "--store", str(path), "split", pid2, code, "2", "--actor", "ann"]) == 1
    assert "rejected" in capsys.readouterr().err
    assert main(["plan", "--store", str(path), "activate", pid2]) == 0
