"""Forecast runs on the store (GeoPackage and PostGIS): stored, read back, exported, chosen by backtest."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

from gridmap.cli import main
from gridmap.errors import InputError
from gridmap.forecast.export import write_forecast
from gridmap.forecast.runs import (
    default_method,
    load_inputs,
    parse_horizon,
    read_forecast,
    run_backtest,
    run_forecast,
    township_summary,
)
from tests.api_testdata import build_city


@pytest.fixture
def city_store(store):
    build_city(store, with_users=False)
    return store


def test_forecast_is_stored_with_interval_rank_and_why(city_store):
    store = city_store
    run_id = run_forecast(store, "dispute", "2024-12-01", "1M", method="rolling_3")
    run, results = read_forecast(store, run_id)
    assert (
        run["method"] == "rolling_3"
        and run["target_start"] == "2024-12-01"
        and run["target_end"] == "2025-01-01"
    )
    inputs = load_inputs(store, "dispute")
    assert len(results) == len(inputs.grids)
    assert sorted(results["rank"]) == list(range(1, len(results) + 1))
    assert (results["expected"].diff().dropna() <= 1e-9).all()  # ranked by expected, most first
    assert (results["lower"] <= results["expected"].apply(np.ceil)).all() and (
        results["upper"] >= results["lower"]
    ).all()
    # rolling 3: the mean of Sep–Nov per grid (95 %) plus 5 % spread by households
    counts = inputs.history.monthly_counts(len(inputs.grids), np.datetime64("2024-12"))[-3:].mean(axis=0)
    by_code = pd.Series(counts, index=inputs.grids.codes)
    top = results.iloc[0]
    assert top["expected"] == pytest.approx(
        0.95 * by_code[top["grid_code"]]
        + 0.05 * counts.sum() * inputs.grids.prior_share()[list(inputs.grids.codes).index(top["grid_code"])],
        abs=1e-3,
    )
    assert all(isinstance(w, str) and "近30天本网格" in w for w in results["why"])
    towns = township_summary(results)
    assert towns["grids"].sum() == len(results) and towns["expected"].sum() == pytest.approx(
        results["expected"].sum(), abs=0.05
    )


def test_default_method_comes_from_the_latest_backtest(city_store):
    store = city_store
    assert default_method(store, "dispute") == ("sepp", None)
    backtest_id, result = run_backtest(
        store, "dispute", "2024-10", "2024-11", methods=["rolling_3", "rolling_12"]
    )
    assert default_method(store, "dispute") == (result.best_method, backtest_id)
    run_id = run_forecast(store, "dispute", "2024-12-01")
    run, _ = read_forecast(store, run_id)
    assert run["method"] == result.best_method and backtest_id in run["summary"]["chosen_by"]


def test_bad_requests_are_clear_errors(city_store):
    store = city_store
    with pytest.raises(InputError, match="first day of a month"):
        run_forecast(store, "dispute", "2024-12-05")
    with pytest.raises(InputError, match="horizon"):
        parse_horizon("13M")
    with pytest.raises(InputError, match="kind"):
        run_forecast(store, "robbery", "2024-12-01")
    with pytest.raises(InputError, match="nothing to forecast"):
        run_forecast(store, "dispute", "2020-01-01", method="rolling_3")


def test_xlsx_has_list_townships_and_notes(city_store, tmp_path):
    store = city_store
    run, results = read_forecast(store, run_forecast(store, "dispute", "2024-12-01", method="kde"))
    path = write_forecast(results, tmp_path / "warn.xlsx", township_summary(results), {"方法 method": "kde"})
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["预警清单", "乡镇汇总", "说明"]
    rows = list(book["预警清单"].values)
    assert rows[0][0] == "排名 rank" and len(rows) == len(results) + 1 and rows[1][0] == 1
    with pytest.raises(InputError, match=".csv or .xlsx"):
        write_forecast(results, tmp_path / "warn.txt")


def test_cli_writes_csv(gpkg_store, tmp_path, capsys):
    # the CLI opens the store by path: the GeoPackage (the PostGIS path is the same code behind --store URL)
    store = gpkg_store
    build_city(store, with_users=False)
    out = tmp_path / "warn.csv"
    code = main(
        [
            "forecast",
            "--kind",
            "dispute",
            "--asof",
            "2024-12-01",
            "--method",
            "rolling_12",
            "--store",
            str(store.path),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    frame = pd.read_csv(out, encoding="utf-8-sig", dtype={"grid_code": str})
    assert list(frame.columns)[:3] == ["rank", "grid_code", "township_code"] and frame["rank"].iloc[0] == 1
    assert "cases expected" in capsys.readouterr().out
    assert (
        main(["forecast", "--kind", "dispute", "--store", str(store.path)]) == 1
    )  # --asof missing: one line
