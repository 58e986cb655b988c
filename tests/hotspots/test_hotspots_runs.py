"""run_hotspots and ``gridmap hotspots`` against a small store: grids, H3, admin units, all methods."""

from __future__ import annotations

import base64
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.errors import InputError
from gridmap.hotspots.png import decode_rgba
from gridmap.hotspots.runs import read_run, run_hotspots

pytestmark = pytest.mark.filterwarnings("ignore::gridmap.hotspots.inference.FDRResolutionWarning")

SIZE = 0.005
WEST, SOUTH = 122.22, 43.60
VILLAGES = ["150502001001", "150502001002", "150502001003", "150502001004"]
HOT = [(r, c) for r in (1, 2, 3) for c in (6, 7, 8)]  # hot all half-year
EMERGING = [(r, c) for r in (6, 7, 8) for c in (1, 2, 3)]  # hot in May and June only


def grid_box(r: int, c: int) -> shapely.Polygon:
    xe = WEST + np.arange(11) * SIZE
    ye = SOUTH + np.arange(11) * SIZE
    return shapely.box(xe[c], ye[r], xe[c + 1], ye[r + 1])


def village_of(r: int, c: int) -> str:
    return VILLAGES[(r // 5) * 2 + c // 5]


def fill_store(store) -> dict:
    rng = np.random.default_rng(0)
    cells = [(r, c) for r in range(10) for c in range(10)]
    codes = {rc: f"{village_of(*rc)}{i + 1:03d}" for i, rc in enumerate(cells)}
    store.write(
        "plans",
        pd.DataFrame(
            [{"plan_id": "p1", "name": "demo", "status": "active", "created_at": "2024-01-01T00:00:00"}]
        ),
    )
    grids = gpd.GeoDataFrame(
        {
            "plan_id": "p1",
            "code": [codes[rc] for rc in cells],
            "village_code": [village_of(*rc) for rc in cells],
            "township_code": "150502001",
            "county_code": "150502",
            "households": rng.integers(80, 160, 100),
        },
        geometry=[grid_box(*rc) for rc in cells],
        crs=4326,
    )
    store.write("grids", grids)
    villages = [shapely.union_all([grid_box(*rc) for rc in cells if village_of(*rc) == v]) for v in VILLAGES]
    admin = gpd.GeoDataFrame(
        {
            "code": VILLAGES + ["150502001", "150502"],
            "name": ["甲村", "乙村", "丙社区", "丁嘎查", "某街道", "科尔沁区"],
            "level": ["village"] * 4 + ["township", "county"],
            "parent_code": ["150502001"] * 4 + ["150502", "150500"],
            "source": "test",
        },
        geometry=villages + [shapely.union_all(villages)] * 2,
        crs=4326,
    )
    store.write("admin_units", admin)
    centres = [grid_box(*rc).centroid for rc in cells]
    addresses = gpd.GeoDataFrame(
        {
            "address_id": [f"a{i}" for i in range(100)],
            "county_code": "150502",
            "township_code": "150502001",
            "village_code": [village_of(*rc) for rc in cells],
            "households": grids["households"].to_numpy(),
        },
        geometry=centres,
        crs=4326,
    )
    store.write("addresses", addresses)

    rows = []

    def add(rc, n, months):
        box = grid_box(*rc)
        for _ in range(n):
            x = rng.uniform(box.bounds[0] + 1e-4, box.bounds[2] - 1e-4)
            y = rng.uniform(box.bounds[1] + 1e-4, box.bounds[3] - 1e-4)
            month = int(rng.choice(months))
            rows.append(
                {
                    "case_id": f"c{len(rows):05d}",
                    "kind": "dispute" if rng.random() < 0.8 else "petition",
                    "category": str(rng.choice(["land", "wages", "neighbour"])),
                    "status": str(rng.choice(["reported", "resolved", "closed"])),
                    "reported_at": f"2024-{month:02d}-{int(rng.integers(1, 28)):02d}T10:00:00",
                    "lon": x,
                    "lat": y,
                    "party_name": "不应被读取",
                }
            )

    for rc in cells:
        add(rc, int(rng.poisson(3)), range(1, 7))
    for rc in HOT:
        add(rc, 14, range(1, 7))
    for rc in EMERGING:
        add(rc, 12, [5, 6])
    cases = pd.DataFrame(rows)
    geometry = [shapely.Point(x, y) for x, y in zip(cases.lon, cases.lat, strict=True)]
    cases = gpd.GeoDataFrame(cases, geometry=geometry, crs=4326)
    # one ungeocoded case: counted as matching but not located
    cases.loc[len(cases)] = {
        "case_id": "c-nogeo",
        "kind": "dispute",
        "category": "land",
        "status": "reported",
        "reported_at": "2024-03-03T09:00:00",
        "lon": np.nan,
        "lat": np.nan,
        "geometry": None,
    }
    store.write("cases", cases)
    return {"codes": codes, "cases": cases}


@pytest.fixture
def filled(store):
    return store, fill_store(store)


def test_gi_default_inference_is_the_log_count_test_and_says_so(filled):
    store, data = filled
    run, results = read_run(store, run_hotspots(store, "gi", unit="grid", filters={}, params={}))
    assert run["summary"]["inference"] == "log_counts" and "0.05" in run["summary"]["confidence"]
    by_code = results.set_index("unit_id")
    # 100 units of which 18 carry planted cases: only the centre of a block is beyond chance at FDR 0.05
    assert by_code.loc[data["codes"][HOT[4]], "p_fdr"] < 0.01


def test_gi_on_grids_stores_run_results_and_areas(filled):
    store, data = filled
    # normal inference: this test is about what a run stores, and fixes which units are significant
    run_id = run_hotspots(store, "gi", unit="grid", filters={}, params={"inference": "normal"})
    run, results = read_run(store, run_id)
    assert run["method"] == "gi" and run["plan_id"] == "p1" and run["unit_kind"] == "grid"
    summary = run["summary"]
    assert (
        summary["cases_matched"] == len(data["cases"]) and summary["cases_located"] == len(data["cases"]) - 1
    )
    assert summary["units"] == 100 and results["count"].sum() == summary["cases_in_units"]
    assert len(results) == 100 and (results.geometry.geom_type == "MultiPolygon").all()
    by_code = results.set_index("unit_id")
    hot_codes = [data["codes"][rc] for rc in HOT]
    assert by_code.loc[hot_codes[4], "bin"] == 3 and by_code.loc[hot_codes[4], "label"] == "hot_99"
    assert by_code.loc[hot_codes, "label"].str.startswith("hot").sum() >= 6
    assert by_code.loc[hot_codes[4], "p_fdr"] < 0.01
    extra = json.loads(by_code.loc[hot_codes[4], "extra"])
    assert extra["neighbours"] == 8 and extra["G"] > 0
    top = summary["top_areas"][0]
    assert top["sign"] == 1 and top["units"] >= 4 and top["top_categories"]
    areas = store.read(
        "hotspot_areas", where={"run_id": run_id}, columns=["rank", "sign", "unit_ids", "geometry"]
    )
    first = areas[(areas["rank"] == 1) & (areas["sign"] == 1)].iloc[0]
    assert hot_codes[4] in json.loads(first["unit_ids"])
    assert first.geometry.contains(grid_box(2, 7).centroid)
    assert summary["bins"]["3"] >= 3 and summary["engine"] is None


def test_filters_and_h3_units(filled):
    store, data = filled
    cases = data["cases"]
    run_id = run_hotspots(
        store,
        "gi",
        unit="h3",
        h3_resolution=9,
        filters={"kind": "dispute", "from": "2024-02-01", "to": "2024-05-01"},
        params={"permutations": 99, "seed": 4},
    )
    run, results = read_run(store, run_id)
    expected = cases[
        (cases.kind == "dispute") & (cases.reported_at >= "2024-02-01") & (cases.reported_at < "2024-05-01")
    ]
    assert run["summary"]["cases_matched"] == len(expected)
    assert results["count"].sum() == expected["lon"].notna().sum()
    assert run["unit_kind"] == "h3_9" and run["filters"]["kind"] == "dispute"
    assert run["summary"]["seed"] == 4 and run["summary"]["engine"] == "exact"
    assert run["params"]["permutations"] == 99
    assert results["unit_id"].str.len().eq(15).all() and results.geometry.is_valid.all()
    # H3 units default to cells holding addresses or cases: empty address cells are analysed as zeros
    assert (results["count"] == 0).any()


def test_lisa_on_villages_with_eb_rates(filled):
    store, _ = filled
    run_id = run_hotspots(
        store, "lisa", unit="village", params={"value": "eb_rate", "permutations": 99, "seed": 1}
    )
    run, results = read_run(store, run_id)
    assert len(results) == 4 and results["value"].notna().all()
    assert set(results["label"]) <= {"HH", "LH", "LL", "HL", "not_significant"}
    assert run["summary"]["value"] == "eb_rate" and "clusters" in run["summary"]


def test_emerging_classes_on_grids(filled):
    store, data = filled
    run_id = run_hotspots(store, "emerging", unit="grid", params={"alpha": 0.05})
    run, results = read_run(store, run_id)
    assert run["summary"]["steps"] == [
        "2024-01-01",
        "2024-02-01",
        "2024-03-01",
        "2024-04-01",
        "2024-05-01",
        "2024-06-01",
    ]
    by_code = results.set_index("unit_id")
    assert by_code.loc[data["codes"][(7, 2)], "label"] in {"consecutive_hot_spot", "new_hot_spot"}
    assert by_code.loc[data["codes"][(2, 7)], "label"].endswith("hot_spot")
    series = json.loads(by_code.loc[data["codes"][(7, 2)], "extra"])["count_series"]
    assert len(series) == 6 and sum(series[:4]) < sum(series[4:])
    assert run["summary"]["classes"]["no_pattern_detected"] > 50


def test_kde_surface_is_stored(filled):
    store, _ = filled
    run_id = run_hotspots(store, "kde", unit="grid", params={"bandwidth_m": 400})
    surface = store.read("hotspot_surfaces", where={"run_id": run_id})
    assert len(surface) == 1
    row = surface.iloc[0]
    pixels = decode_rgba(base64.b64decode(row["png_base64"]))
    assert pixels.shape == (row["height"], row["width"], 4)
    assert row["west"] < WEST + 0.03 < row["east"] and row["bandwidth_m"] == 400
    _, results = read_run(store, run_id)
    by_code = results.set_index("unit_id")["value"]
    codes = fill_codes()
    assert by_code[codes[(2, 7)]] > 3 * by_code[codes[(9, 0)]]


def fill_codes() -> dict:
    cells = [(r, c) for r in range(10) for c in range(10)]
    return {rc: f"{village_of(*rc)}{i + 1:03d}" for i, rc in enumerate(cells)}


def test_bad_requests_raise_input_errors(filled):
    store, _ = filled
    with pytest.raises(InputError, match="method"):
        run_hotspots(store, "heatmap")
    with pytest.raises(InputError, match="unknown hotspot parameters"):
        run_hotspots(store, "gi", params={"permutation": 9})
    with pytest.raises(InputError, match="not a date"):
        run_hotspots(store, "gi", filters={"from": "yesterday"})
    with pytest.raises(InputError, match="no located case"):
        run_hotspots(store, "gi", filters={"from": "2030-01-01"})
    with pytest.raises(InputError, match="no grids|plan"):
        run_hotspots(store, "gi", plan_id="nope")
    assert store.count("hotspot_runs") == 0  # nothing half-written


def test_cli_prints_summary(gpkg_store, capsys):
    fill_store(gpkg_store)
    path = str(gpkg_store.path)
    gpkg_store.close()
    from gridmap.cli import main

    code = main(
        [
            "hotspots",
            "--method",
            "gi",
            "--unit",
            "grid",
            "--kind",
            "dispute",
            "--from",
            "2024-01-01",
            "--to",
            "2024-07-01",
            "--store",
            path,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "run hs-" in out and "Gi* bins: hot_99" in out and "hot area #1" in out
    code = main(["hotspots", "--method", "gi", "--from", "someday", "--store", path])
    assert code == 1 and "not a date" in capsys.readouterr().err


def test_optimized_run_chooses_and_reports_its_decisions(filled):
    store, _ = filled
    run_id = run_hotspots(store, "optimized", filters={}, params={"k_max": 3})
    run, results = read_run(store, run_id)
    summary = run["summary"]
    assert run["unit_kind"].startswith("h3_") and summary["unit"] == "h3"
    assert [d["decision"] for d in summary["decisions"]] == [
        "aggregation",
        "scale",
        "inference",
        "multiple testing",
    ]
    assert summary["k"] in (1, 2, 3) and summary["neighbours"] == (
        "h3_k1" if summary["k"] == 1 else f"h3_k{summary['k']}"
    )
    assert set(summary["moran_z"]) == {"1", "2", "3"} and summary["inference"] == "log_counts"
    assert f"resolution {summary['h3_resolution']}" in summary["decisions"][0]["value"]
    assert len(results) == summary["units"] and results["p_fdr"].notna().all()
    from gridmap.hotspots.runs import format_summary

    assert "decision — scale: ring order" in format_summary(run_id, summary)
