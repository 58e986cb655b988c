"""``gridmap geocode``, ``gridmap import cases`` and ``gridmap review`` end to end on a GeoPackage."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gridmap.cli import main
from tests import geocode_testdata as td


@pytest.fixture
def gpkg(tmp_path):
    from gridmap.store import open_store

    path = tmp_path / "cli.gpkg"
    store = open_store(path)
    td.fill_store(store, mode="append")
    store.close()
    return str(path)


def test_geocode_command(gpkg, tmp_path, capsys):
    src = tmp_path / "in.csv"
    pd.DataFrame(
        {
            "id": ["1", "2", "3"],
            "address": ["科尔沁区科尔沁街道民航社区建国路18号1栋", "", "民航社区"],
            "lon": ["", "122.011", ""],
            "lat": ["", "43.005", ""],
            "crs": ["", "wgs84", ""],
        }
    ).to_csv(src, index=False, encoding="gbk")
    out = tmp_path / "out.csv"
    assert main(["geocode", str(src), "--out", str(out), "--store", gpkg]) == 0
    result = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    assert list(result.columns) == [
        "id",
        "address",
        "lon",
        "lat",
        "crs",
        "lon_wgs84",
        "lat_wgs84",
        "precision",
        "score",
        "grid_code",
        "status",
        "reason",
    ]
    assert list(result["status"]) == ["accepted", "accepted", "review"]
    assert list(result["grid_code"].fillna("")) == ["150502001001001", "150502001001002", ""]
    assert result.loc[2, "precision"] == "village"
    assert "accepted 2" in capsys.readouterr().err


def test_import_and_review_commands(gpkg, tmp_path, capsys):
    src = tmp_path / "cases.csv"
    pd.DataFrame({"编码": ["Z-1", "Z-2"], "地址": ["民航社区建国路18号1栋", "民航社区建国路60号"]}).to_csv(
        src, index=False
    )
    assert (
        main(["import", "cases", str(src), "--mapping", json.dumps({"编码": "external_id"}), "--store", gpkg])
        == 0
    )
    assert "accepted 1, review 1, rejected 0" in capsys.readouterr().out
    assert main(["review", "list", "--json", "--store", gpkg]) == 0
    queue = json.loads(capsys.readouterr().out)
    assert [q["external_id"] for q in queue] == ["Z-2"] and len(queue[0]["candidates"]) == 2
    pick = queue[0]["candidates"][1]["address_id"]
    assert main(["review", "pick", queue[0]["case_id"], pick, "--actor", "bo", "--store", gpkg]) == 0
    assert json.loads(capsys.readouterr().out)["geocode_status"] == "manual"
    assert main(["review", "list", "--store", gpkg]) == 0
    assert "no cases waiting" in capsys.readouterr().out


def test_errors_are_messages_not_tracebacks(gpkg, tmp_path, capsys):
    assert (
        main(["geocode", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o.csv"), "--store", gpkg])
        == 1
    )
    assert "no such file" in capsys.readouterr().err
    assert main(["review", "place", "nope", "122", "43", "--store", gpkg]) == 1
    assert "no case 'nope'" in capsys.readouterr().err
