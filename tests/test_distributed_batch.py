"""Geocoding, hot-spot runs per city and audits per city as dask.distributed tasks give the
serial path's results (gridmap.geocode.distributed, gridmap.hotspots.batch, gridmap.coverage.batch)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridmap.distributed import dask_client


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2, processes=False) as c:
        yield c


# --- geocoding ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def geocode_store(tmp_path_factory):
    from gridmap.store import open_store
    from tests import geocode_testdata as td

    path = tmp_path_factory.mktemp("geo") / "geo.gpkg"
    store = open_store(path)
    td.fill_store(store, mode="append")
    store.close()
    return str(path)


def _table():
    """Address texts, GCJ-02 points declared as WGS-84 next to their addresses (the evidence, all
    in the first rows) and, further down, WGS-84 points without text (judged by the file)."""
    from gridmap.geocode.transform import wgs84_to_gcj02
    from tests import geocode_testdata as td

    a = td.addresses()
    texts, lon, lat, crs = [], [], [], []
    for row in a.itertuples():  # GCJ-02 coordinates labelled WGS-84
        g_lon, g_lat = wgs84_to_gcj02(np.array([row.geometry.x]), np.array([row.geometry.y]))
        texts.append(row.full_address)
        lon.append(float(g_lon[0]))
        lat.append(float(g_lat[0]))
        crs.append("wgs84")
    for row in a.itertuples():  # text only
        texts.append(row.full_address)
        lon.append(None)
        lat.append(None)
        crs.append(None)
    for row in a.itertuples():  # points only
        texts.append(None)
        lon.append(row.geometry.x + 0.0005)
        lat.append(row.geometry.y + 0.0005)
        crs.append("wgs84")
    texts += ["科尔沁区西门街道建国社区建国路7号", "不存在的地址", ""]
    lon += [None, None, "abc"]
    lat += [None, None, "43.01"]
    crs += [None, None, "wgs84"]
    return texts, lon, lat, crs


def test_geocoding_in_chunks_on_dask_gives_the_serial_result(geocode_store, client):
    from gridmap.geocode.batch import GeocodeContext, geocode_rows
    from gridmap.geocode.distributed import geocode_table
    from gridmap.store import open_store

    texts, lon, lat, crs = _table()
    with open_store(geocode_store) as store:
        ctx = GeocodeContext.from_store(store)
    serial = geocode_rows(ctx, texts, lon, lat, crs)
    chunked = geocode_table(texts, lon, lat, crs, store_url=geocode_store, chunk_rows=9, client=client)
    pd.testing.assert_frame_equal(chunked, serial)
    # the file-wide GCJ-02 judgement matters here: chunks judged on their own would differ
    naive = pd.concat(
        [
            geocode_rows(ctx, texts[i : i + 9], lon[i : i + 9], lat[i : i + 9], crs[i : i + 9])
            for i in range(0, len(texts), 9)
        ],
        ignore_index=True,
    )
    assert (naive["geocode_status"] != serial["geocode_status"]).any()
    assert set(serial["geocode_status"]) >= {"accepted", "review"}


# --- hot spots per city and audits per city -------------------------------------------------------------
@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from tests.api_testdata import city_gpkg

    store, _ = city_gpkg(tmp_path_factory.mktemp("city") / "city.gpkg")
    yield store
    store.close()


def _results(store, run_id):
    rows = store.read("hotspot_results", where={"run_id": run_id}, order_by=["unit_id"])
    return pd.DataFrame(rows.drop(columns=["run_id", "geometry"])).reset_index(drop=True)


def test_hotspot_runs_per_city_on_dask_give_the_serial_runs(city, client):
    from gridmap.errors import InputError
    from gridmap.hotspots.batch import CityRun, city_codes, run_per_city
    from gridmap.hotspots.runs import run_hotspots

    tasks = [CityRun(code, "gi") for code in city_codes(city)]
    assert [t.area for t in tasks] == ["150500"]
    (serial,) = run_per_city(city, tasks, city.url, engine="serial")
    (dask_run,) = run_per_city(city, tasks, city.url, engine="dask", client=client)
    whole = run_hotspots(city, "gi")
    pd.testing.assert_frame_equal(_results(city, dask_run), _results(city, serial))
    pd.testing.assert_frame_equal(_results(city, serial), _results(city, whole))  # one city: the whole
    with pytest.raises(InputError, match="150600"):  # a city without grids: the task's key in front
        run_per_city(city, [CityRun("150600", "gi")], city.url, engine="dask", client=client)


def test_audits_per_city_on_dask_give_the_serial_audits(city, client):
    from gridmap.coverage.batch import AuditTask, audit_per_city, merge_results
    from gridmap.coverage.service import audit_from_store

    tasks = [AuditTask("150500", "2024-11"), AuditTask("150500", "2024-10")]
    serial = audit_per_city(tasks, city.url, engine="serial")
    on_dask = audit_per_city(tasks, city.url, engine="dask", client=client)
    whole, _ = audit_from_store(city, "2024-11")
    for left, right in zip(on_dask, serial, strict=True):
        for name in ("findings", "grids", "workers", "agents"):
            pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name))
    merged = merge_results(on_dask[:1])
    assert len(whole.findings) > 0
    pd.testing.assert_frame_equal(merged.findings, whole.findings)
    pd.testing.assert_frame_equal(merged.grids, whole.grids)
