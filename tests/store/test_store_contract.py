"""One contract, both backends: every test taking ``store`` runs on GeoPackage and PostGIS."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pandas.testing import assert_frame_equal

from gridmap.errors import InputError
from gridmap.store import Between, Op, Store, StoreError, open_store
from gridmap.store import schema as store_schema
from gridmap.store.columns import RESULT_DTYPES
from gridmap.store.gpkg import GpkgStore
from gridmap.store.postgis import PostgisStore
from gridmap.store.schema import SCHEMA_VERSION, Table, all_tables

# --- helpers ---------------------------------------------------------------------------


def reopen(store: Store) -> Store:
    """A second, independent store object on the same file / schema (through open_store)."""
    if isinstance(store, GpkgStore):
        return open_store(store.path)
    return open_store(f"{store.dsn}?schema={store.schema}")


def sample_geometries(geometry_type: str, n: int, rng: np.random.Generator) -> list:
    lon = rng.uniform(119.5, 123.5, n)
    lat = rng.uniform(42.5, 45.5, n)
    out = []
    for k in range(n):
        if geometry_type == "POINT":
            out.append(shapely.Point(lon[k], lat[k]))
        elif geometry_type == "MULTIPOLYGON":
            square = shapely.box(lon[k], lat[k], lon[k] + 0.01, lat[k] + 0.01)
            out.append(
                square
                if k % 2
                else shapely.MultiPolygon(
                    [square, shapely.box(lon[k] + 0.02, lat[k], lon[k] + 0.03, lat[k] + 0.01)]
                )
            )
        else:
            kinds = [
                shapely.Point(lon[k], lat[k]),
                shapely.box(lon[k], lat[k], lon[k] + 0.01, lat[k] + 0.01),
                shapely.LineString([(lon[k], lat[k]), (lon[k] + 0.01, lat[k] + 0.02)]),
            ]
            out.append(kinds[k % 3])
    out[n // 2] = None  # a NULL geometry in every spatial sample
    return out


def sample_frame(table: Table, n: int = 6, seed: int = 0) -> pd.DataFrame:
    """Rows of every column type, unique keys, a NULL in each non-key column (never row 0)."""
    rng = np.random.default_rng(seed)
    data = {}
    for i, (name, sql_type) in enumerate(table.columns.items()):
        if sql_type == "TEXT":
            values = [f"{name}-{seed}-{k:03d}-通辽" for k in range(n)]
        elif sql_type == "INTEGER":
            values = [int(k * 7 - 3 + seed * 1000) for k in range(n)]
        else:
            values = [k * 0.1 + 1 / 3 + seed for k in range(n)]
        if name not in table.primary_key:
            values[1 + i % (n - 1)] = None
        data[name] = values
    frame = pd.DataFrame(data)
    if table.is_spatial:
        return gpd.GeoDataFrame(
            frame, geometry=sample_geometries(table.geometry_type, n, rng), crs="EPSG:4326"
        )
    return frame


def expected(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """What a store must give back for ``frame``: canonical dtypes, Polygons promoted."""
    out = pd.DataFrame({c: frame[c] if c in frame else [None] * len(frame) for c in table.columns})
    for column, sql_type in table.columns.items():
        out[column] = (
            out[column].astype(object).astype(RESULT_DTYPES[sql_type])
            if sql_type != "TEXT"
            else out[column].astype("str")
        )
    out = out.sort_values(list(table.primary_key), ignore_index=True) if table.primary_key else out
    return out


def assert_same_geometries(actual, wanted) -> None:
    actual, wanted = np.asarray(actual, dtype=object), np.asarray(wanted, dtype=object)
    missing = shapely.is_missing(wanted)
    assert (shapely.is_missing(actual) == missing).all()
    assert shapely.equals_exact(actual[~missing], wanted[~missing], tolerance=0).all()


def cases_frame() -> gpd.GeoDataFrame:
    """Eight cases with known values for filter/order tests (lon = 120 + k/10, lat = 43)."""
    return gpd.GeoDataFrame(
        {
            "case_id": [f"C{k}" for k in range(8)],
            "kind": ["dispute", "dispute", "petition", "dispute", "petition", None, "dispute", "petition"],
            "category": [
                "land",
                "wages",
                "petition_land",
                "land",
                "petition_housing",
                "other",
                "neighbour",
                "petition_land",
            ],
            "reported_at": [
                "2024-01-05T08:00:00",
                "2024-01-31T23:59:59",
                "2024-02-01T00:00:00",
                "2024-02-15T12:00:00",
                "2024-03-01T09:30:00",
                None,
                "2024-03-20T10:00:00",
                "2024-04-02T16:45:00",
            ],
            "persons": [1, 3, None, 2, 5, 2, 8, 1],
            "score": [0.5, None, 0.9, 0.1, 0.75, 0.3, None, 1.0],
            "county_code": ["150502", "150502", "150521", "150502", "150523", "150521", "150502", "150525"],
        },
        geometry=[shapely.Point(120 + k / 10, 43) for k in range(8)],
        crs="EPSG:4326",
    )


def ids(frame: pd.DataFrame, column: str = "case_id") -> list[str]:
    return frame[column].tolist()


# --- lifecycle -------------------------------------------------------------------------


def test_schema_version_recorded(store):
    assert store.schema_version() == SCHEMA_VERSION
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    store.init()  # idempotent
    assert store.count("meta") == 1


def test_reopen_sees_committed_data(store):
    store.write("cases", cases_frame())
    store.set_meta("demo_seed", "7")
    other = reopen(store)
    try:
        assert type(other) is type(store)
        assert other.count("cases") == 8
        assert other.get_meta("demo_seed") == "7"
        assert other.schema_version() == SCHEMA_VERSION
    finally:
        other.close()


def test_newer_schema_version_is_refused(store):
    store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    try:
        with pytest.raises(StoreError, match=f"schema_version {SCHEMA_VERSION + 1}, newer"):
            reopen(store)
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION + 1)  # refused without touching it
    finally:
        store.set_meta("schema_version", str(SCHEMA_VERSION))


def test_init_migrates_added_columns_and_tables(store, monkeypatch):
    name = "contract_probe"
    monkeypatch.setitem(
        store_schema._REGISTRY,
        name,
        Table(name, {"probe_id": "TEXT", "n": "INTEGER"}, primary_key=("probe_id",), geometry_type="POINT"),
    )
    store.init()
    store.write(
        name, gpd.GeoDataFrame({"probe_id": ["a"], "n": [1]}, geometry=[shapely.Point(121, 44)], crs=4326)
    )
    monkeypatch.setitem(
        store_schema._REGISTRY,
        name,
        Table(
            name,
            {"probe_id": "TEXT", "n": "INTEGER", "added": "REAL"},
            primary_key=("probe_id",),
            geometry_type="POINT",
            indexes=(("added",),),
        ),
    )
    store.init()
    store.write(
        name,
        gpd.GeoDataFrame({"probe_id": ["b"], "added": [2.5]}, geometry=[shapely.Point(122, 44)], crs=4326),
    )
    got = store.read(name)
    assert ids(got, "probe_id") == ["a", "b"]
    assert pd.isna(got["added"].iloc[0]) and got["added"].iloc[1] == 2.5
    assert got["n"].iloc[0] == 1 and pd.isna(got["n"].iloc[1])
    assert ids(store.read(name, bbox=(121.5, 43.5, 122.5, 44.5)), "probe_id") == ["b"]


# --- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(all_tables()))
def test_every_table_round_trips(store, name):
    table = all_tables()[name]
    if name == "meta":
        store.delete("meta")
    frame = sample_frame(table)
    assert store.write(name, frame) == len(frame)
    got = store.read(name)
    assert store.count(name) == len(frame)
    want = expected(table, frame)
    assert list(got.columns) == list(table.columns) + (["geometry"] if table.is_spatial else [])
    assert_frame_equal(pd.DataFrame(got[list(table.columns)]), want)
    if table.is_spatial:
        assert isinstance(got, gpd.GeoDataFrame) and got.crs.to_epsg() == 4326
        order = np.argsort(
            frame[list(table.primary_key)].astype(str).agg("|".join, axis=1).to_numpy(), kind="stable"
        )
        wanted = np.asarray(frame.geometry.values, dtype=object)[order]
        if table.geometry_type == "MULTIPOLYGON":
            is_polygon = shapely.get_type_id(wanted) == 3
            wanted[is_polygon] = [shapely.MultiPolygon([g]) for g in wanted[is_polygon]]
        assert_same_geometries(got.geometry.values, wanted)
    else:
        assert not isinstance(got, gpd.GeoDataFrame)


def test_empty_reads_have_columns_and_dtypes(store):
    cases = store.read("cases")
    assert isinstance(cases, gpd.GeoDataFrame) and len(cases) == 0 and cases.crs.to_epsg() == 4326
    assert list(cases.columns) == list(all_tables()["cases"].columns) + ["geometry"]
    assert (
        cases["persons"].dtype == "Int64"
        and cases["score"].dtype == "float64"
        and cases["kind"].dtype == "str"
    )
    workers = store.read("workers", where={"role": "police"})
    assert (
        list(workers.columns) == list(all_tables()["workers"].columns) and workers["active"].dtype == "Int64"
    )
    assert store.write("workers", pd.DataFrame(columns=["worker_id"])) == 0
    assert store.count("workers") == 0


def test_nulls_and_types_come_back_alike(store):
    frame = pd.DataFrame(
        {
            "worker_id": ["w1", "w2", "w3"],
            "name": ["", None, "张三"],
            "active": [1, None, 0],
            "hired_at": [pd.Timestamp("2024-03-05 14:30:00"), None, "2023-01-01T00:00:00"],
        }
    )
    store.write("workers", frame)
    got = store.read("workers")
    assert got["name"].iloc[0] == "" and pd.isna(got["name"].iloc[1]) and got["name"].iloc[2] == "张三"
    assert got["active"].tolist()[0] == 1 and got["active"].isna().tolist() == [False, True, False]
    assert got["hired_at"].iloc[0] == "2024-03-05T14:30:00" and pd.isna(got["hired_at"].iloc[1])
    assert store.count("workers", {"name": None}) == 1 and store.count("workers", {"name": ""}) == 1
    # text with the characters COPY/SQL escape survives byte for byte
    tricky = "a\tb\nc\\d\re'f\"g%s;--"
    store.update("workers", {"name": tricky}, {"worker_id": "w1"})
    store.write("workers", pd.DataFrame({"worker_id": ["w4"], "name": [tricky]}))
    assert store.read("workers", where={"name": tricky})["worker_id"].tolist() == ["w1", "w4"]


def test_columns_subset(store):
    store.write("cases", cases_frame())
    plain = store.read("cases", columns=["case_id", "kind"], where={"case_id": "C2"})
    assert not isinstance(plain, gpd.GeoDataFrame) and list(plain.columns) == ["case_id", "kind"]
    assert plain.iloc[0].tolist() == ["C2", "petition"]
    with_geometry = store.read("cases", columns=["case_id", "geometry"], limit=1)
    assert isinstance(with_geometry, gpd.GeoDataFrame) and with_geometry.geometry.iloc[0].equals(
        shapely.Point(120, 43)
    )
    with pytest.raises(StoreError, match="nope"):
        store.read("cases", columns=["case_id", "nope"])


# --- filters, bbox, order --------------------------------------------------------------


def test_where_filters(store):
    store.write("cases", cases_frame())

    def q(where):
        return ids(store.read("cases", where=where))

    assert q({"kind": "petition"}) == ["C2", "C4", "C7"]
    assert q({"kind": None}) == ["C5"]
    assert q({"kind": ["petition", None]}) == ["C2", "C4", "C5", "C7"]
    assert q({"kind": []}) == []
    assert q({"county_code": 150521}) == ["C2", "C5"]  # operand converted to the column's TEXT type
    assert q({"reported_at": Between("2024-02-01", "2024-03-01")}) == ["C2", "C3"]
    assert q({"reported_at": Between(None, "2024-02-01")}) == ["C0", "C1"]
    assert q({"reported_at": Between("2024-03-01", None)}) == ["C4", "C6", "C7"]
    assert q({"reported_at": Between()}) == ["C0", "C1", "C2", "C3", "C4", "C6", "C7"]
    assert q({"persons": Between(2, 5)}) == ["C1", "C3", "C5"]
    assert q({"score": Op(">=", 0.75)}) == ["C2", "C4", "C7"]
    assert q({"score": Op("<", 0.3)}) == ["C3"]
    assert q({"persons": Op("!=", 1)}) == ["C1", "C3", "C4", "C5", "C6"]  # NULL is not "!= 1"
    assert q({"persons": Op("=", None)}) == ["C2"]
    assert q({"score": Op("!=", None)}) == ["C0", "C2", "C3", "C4", "C5", "C7"]
    assert q({"kind": "dispute", "persons": Op(">", 1)}) == ["C1", "C3", "C6"]
    assert q({"case_id": [f"C{k}" for k in range(3, 1000)]}) == ["C3", "C4", "C5", "C6", "C7"]  # long IN list
    assert store.count("cases", {"category": ["land", "petition_land"]}) == 4
    with pytest.raises(StoreError, match="unknown column 'nope'"):
        store.read("cases", where={"nope": 1})
    with pytest.raises(StoreError, match="operator"):
        store.read("cases", where={"persons": Op("~", 1)})
    with pytest.raises(StoreError, match="not a number"):
        store.read("cases", where={"persons": "many"})


def test_bbox_uses_envelopes(store):
    store.write("cases", cases_frame())
    assert ids(store.read("cases", bbox=(120.15, 42.9, 120.45, 43.1))) == ["C2", "C3", "C4"]
    assert ids(store.read("cases", bbox=(120.15, 42.9, 120.45, 43.1), where={"kind": "dispute"})) == ["C3"]
    assert store.read("cases", bbox=(100, 10, 101, 11)).empty
    grids = gpd.GeoDataFrame(
        {"plan_id": ["p", "p"], "code": ["150502001001001", "150502001001002"]},
        geometry=[shapely.box(121, 44, 121.2, 44.2), shapely.box(122, 44, 122.2, 44.2)],
        crs=4326,
    )
    store.write("grids", grids)
    assert ids(store.read("grids", bbox=(121.1, 44.1, 121.5, 44.5)), "code") == ["150502001001001"]
    with pytest.raises(StoreError, match="without geometry"):
        store.read("workers", bbox=(120, 40, 121, 41))
    with pytest.raises(StoreError, match="min <= max"):
        store.read("cases", bbox=(121, 44, 120, 43))


def test_bbox_matches_brute_force_after_mixed_writes(store):
    rng = np.random.default_rng(3)
    n = 3000  # large enough for the bulk-load path of the GeoPackage R-tree
    lon, lat = rng.uniform(119.3, 123.6, n), rng.uniform(42.3, 45.6, n)
    frame = gpd.GeoDataFrame(
        {"case_id": [f"K{k:05d}" for k in range(n)]}, geometry=gpd.points_from_xy(lon, lat), crs=4326
    )
    store.write("cases", frame)
    moved = frame.iloc[:150].copy()
    moved["geometry"] = gpd.points_from_xy(lon[:150] + 0.5, lat[:150])
    store.upsert("cases", moved)  # small upsert: row-by-row index maintenance
    store.delete("cases", {"case_id": [f"K{k:05d}" for k in range(2000, 2100)]})
    store.update("cases", {"geometry": shapely.Point(121.0, 44.0)}, {"case_id": "K02500"})
    truth = store.read("cases").set_index("case_id").geometry
    for box in [
        (120, 43, 121, 44),
        (121.5, 44.5, 123.6, 45.6),
        (119.0, 42.0, 124.0, 46.0),
        (120.99, 43.99, 121.01, 44.01),
    ]:
        inside = truth[(truth.x >= box[0]) & (truth.x <= box[2]) & (truth.y >= box[1]) & (truth.y <= box[3])]
        assert ids(store.read("cases", columns=["case_id"], bbox=box)) == sorted(inside.index)
    if isinstance(store, GpkgStore):
        assert store._conn.execute("SELECT rtreecheck('rtree_cases_geom')").fetchone()[0] == "ok"


def test_order_limit_offset(store):
    store.write("cases", cases_frame())
    assert ids(store.read("cases")) == [f"C{k}" for k in range(8)]  # primary-key order by default
    assert ids(store.read("cases", order_by=["persons DESC", "case_id"])) == [
        "C2",
        "C6",
        "C4",
        "C1",
        "C3",
        "C5",
        "C0",
        "C7",
    ]
    assert ids(store.read("cases", order_by=["score"])) == [
        "C3",
        "C5",
        "C0",
        "C4",
        "C2",
        "C7",
        "C1",
        "C6",
    ]  # NULLs last
    assert ids(store.read("cases", order_by=["-score", "case_id"]))[:3] == [
        "C1",
        "C6",
        "C7",
    ]  # NULLs first descending
    assert ids(store.read("cases", order_by=["kind", "case_id"])) == [
        "C0",
        "C1",
        "C3",
        "C6",
        "C2",
        "C4",
        "C7",
        "C5",
    ]
    pages = [
        ids(store.read("cases", order_by=["reported_at", "case_id"], limit=3, offset=o)) for o in (0, 3, 6)
    ]
    assert sum(pages, []) == ids(store.read("cases", order_by=["reported_at", "case_id"]))
    assert ids(store.read("cases", offset=6)) == ["C6", "C7"]
    assert store.read("cases", limit=0).empty
    with pytest.raises(StoreError, match="unknown column"):
        store.read("cases", order_by=["nope"])


def test_text_order_is_bytewise_on_both(store):
    names = ["b", "B", "a", "张三", "_x", "Z9", "z10", "李四", "é"]
    store.write("workers", pd.DataFrame({"worker_id": [f"w{k}" for k in range(len(names))], "name": names}))
    got = store.read("workers", order_by=["name"])["name"].tolist()
    assert got == sorted(names, key=lambda s: s.encode("utf-8"))


# --- writes ----------------------------------------------------------------------------


def test_upsert_replaces_whole_rows_and_inserts_new(store):
    store.write("cases", cases_frame())
    change = gpd.GeoDataFrame(
        {"case_id": ["C1", "C9"], "kind": ["petition", "dispute"], "persons": [4, 1]},
        geometry=[shapely.Point(122.5, 44.5), shapely.Point(122.6, 44.6)],
        crs=4326,
    )
    assert store.upsert("cases", change) == 2
    assert store.count("cases") == 9
    row = store.read("cases", where={"case_id": "C1"}).iloc[0]
    assert row["kind"] == "petition" and row["persons"] == 4
    assert pd.isna(row["category"]) and pd.isna(row["score"])  # columns not given → NULL
    assert ids(store.read("cases", bbox=(122.4, 44.4, 122.7, 44.7))) == ["C1", "C9"]
    assert "C1" not in ids(
        store.read("cases", bbox=(120.05, 42.9, 120.15, 43.1))
    )  # old position gone from the index
    with pytest.raises(StoreError, match="repeats"):
        store.upsert("cases", pd.DataFrame({"case_id": ["C0", "C0"]}))
    assert store.count("cases") == 9
    store.upsert("meta", pd.DataFrame({"key": ["a"], "value": ["1"]}))
    store.upsert("meta", pd.DataFrame({"key": ["a"], "value": ["2"]}))
    assert store.get_meta("a") == "2"


def test_update_and_delete(store):
    store.write("cases", cases_frame())
    assert store.update("cases", {"status": "resolved", "score": 0.0}, {"kind": "petition"}) == 3
    assert ids(store.read("cases", where={"status": "resolved"})) == ["C2", "C4", "C7"]
    assert store.update("cases", {"persons": None}, {"case_id": ["C0", "C1"]}) == 2
    assert store.count("cases", {"persons": None}) == 3
    assert store.update("cases", {"geometry": shapely.Point(123, 45)}, {"case_id": "C0"}) == 1
    assert ids(store.read("cases", bbox=(122.9, 44.9, 123.1, 45.1))) == ["C0"]
    assert store.update("cases", {"kind": "x"}, {"case_id": "nobody"}) == 0
    with pytest.raises(StoreError, match="unknown columns"):
        store.update("cases", {"nope": 1}, {"case_id": "C0"})
    with pytest.raises(StoreError, match="fractional"):
        store.update("cases", {"persons": 1.5}, {"case_id": "C0"})
    assert store.delete("cases", {"reported_at": Between("2024-02-01", "2024-03-01")}) == 2
    assert store.delete("cases", {"case_id": []}) == 0
    assert store.count("cases") == 6
    assert store.delete("cases") == 6
    assert store.count("cases") == 0 and store.read("cases", bbox=(119, 42, 124, 46)).empty


def test_write_replace(store):
    store.write("cases", cases_frame())
    assert store.write("cases", cases_frame().iloc[:2], mode="replace") == 2
    assert ids(store.read("cases")) == ["C0", "C1"]
    assert ids(store.read("cases", bbox=(119, 42, 124, 46))) == ["C0", "C1"]
    with pytest.raises(StoreError, match="mode"):
        store.write("cases", cases_frame(), mode="merge")


def test_write_validation(store):
    with pytest.raises(StoreError, match=r"unknown columns \['colour', 'size'\]"):
        store.write("workers", pd.DataFrame({"worker_id": ["w1"], "colour": ["red"], "size": [1]}))
    with pytest.raises(StoreError, match="fractional"):
        store.write("workers", pd.DataFrame({"worker_id": ["w1"], "active": [0.5]}))
    with pytest.raises(StoreError, match="not numbers"):
        store.write("workers", pd.DataFrame({"worker_id": ["w1"], "active": ["yes"]}))
    with pytest.raises(StoreError, match="NULL"):
        store.write("workers", pd.DataFrame({"worker_id": [None], "name": ["x"]}))
    with pytest.raises(StoreError, match="no geometry"):
        store.write(
            "workers", gpd.GeoDataFrame({"worker_id": ["w1"]}, geometry=[shapely.Point(121, 44)], crs=4326)
        )
    with pytest.raises(StoreError, match="takes MULTIPOLYGON"):
        store.write(
            "grids",
            gpd.GeoDataFrame({"plan_id": ["p"], "code": ["1"]}, geometry=[shapely.Point(121, 44)], crs=4326),
        )
    with pytest.raises(InputError, match="not lon/lat"):
        store.write("cases", gpd.GeoDataFrame({"case_id": ["C0"]}, geometry=[shapely.Point(500000, 4800000)]))
    assert store.count("workers") == 0 and store.count("cases") == 0 and store.count("grids") == 0
    # numeric strings are numbers; missing columns are NULL
    store.write("workers", pd.DataFrame({"worker_id": ["w1"], "active": ["1"]}))
    row = store.read("workers").iloc[0]
    assert row["active"] == 1 and pd.isna(row["name"])


def test_geometries_are_normalised_to_wgs84(store):
    lonlat = gpd.GeoDataFrame(
        {"case_id": ["A", "B"]}, geometry=[shapely.Point(122.26, 43.62), shapely.Point(121.0, 44.5)], crs=4326
    )
    store.write("cases", lonlat.to_crs(3857))  # reprojected back to EPSG:4326
    got = store.read("cases").geometry
    assert np.allclose(
        shapely.get_coordinates(got.values), shapely.get_coordinates(lonlat.geometry.values), atol=1e-9
    )
    store.write(
        "cases", gpd.GeoDataFrame({"case_id": ["C"]}, geometry=[shapely.Point(121.5, 44.0)])
    )  # no CRS, lon/lat
    store.write("cases", pd.DataFrame({"case_id": ["D"], "geometry": [None]}))
    assert (
        store.count("cases", {"case_id": "C"}) == 1
        and store.read("cases", where={"case_id": "D"}).geometry.iloc[0] is None
    )
    polygon = shapely.box(121, 44, 121.1, 44.1)
    store.write("admin_units", gpd.GeoDataFrame({"code": ["150502001"]}, geometry=[polygon], crs=4326))
    stored = store.read("admin_units").geometry.iloc[0]
    assert stored.geom_type == "MultiPolygon" and stored.equals(polygon)
    store.write(
        "hotspot_results",
        gpd.GeoDataFrame(
            {"run_id": ["r"], "unit_id": ["u"]},
            geometry=[shapely.Polygon([(121, 44, 5), (121.1, 44, 5), (121, 44.1, 5)])],
            crs=4326,
        ),
    )
    assert not store.read("hotspot_results").geometry.iloc[0].has_z  # stored 2-D


# --- transactions ----------------------------------------------------------------------


def test_failed_write_leaves_store_unchanged(store):
    store.write("cases", cases_frame().iloc[:4])
    before = store.read("cases")
    clash = cases_frame().iloc[3:6]  # C3 already exists: the primary key refuses the batch
    with pytest.raises(StoreError):
        store.write("cases", clash)
    assert_frame_equal(store.read("cases"), before)
    assert ids(store.read("cases", bbox=(119, 42, 124, 46))) == ["C0", "C1", "C2", "C3"]


def test_transaction_rolls_back_across_two_tables(store):
    store.write("workers", pd.DataFrame({"worker_id": ["w0"]}))
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        store.write("cases", cases_frame())
        store.write("workers", pd.DataFrame({"worker_id": ["w1", "w2"]}))
        store.update("workers", {"name": "changed"}, {"worker_id": "w0"})
        assert store.count("cases") == 8  # visible inside the transaction
        raise RuntimeError("boom")
    assert store.count("cases") == 0
    assert ids(store.read("workers"), "worker_id") == ["w0"] and pd.isna(
        store.read("workers")["name"].iloc[0]
    )
    with store.transaction():
        store.write("cases", cases_frame())
        store.write("workers", pd.DataFrame({"worker_id": ["w1"]}))
    assert store.count("cases") == 8 and store.count("workers") == 2


def test_nested_transactions_join_the_outer_one(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.write("workers", pd.DataFrame({"worker_id": ["outer"]}))
        with store.transaction():
            store.write("workers", pd.DataFrame({"worker_id": ["inner"]}))
        assert store.count("workers") == 2
        raise RuntimeError("the outer block fails after the inner one finished")
    assert store.count("workers") == 0
    with store.transaction():
        store.write("workers", pd.DataFrame({"worker_id": ["outer"]}))
        with pytest.raises(StoreError):  # a failed inner write undoes only itself
            store.write("workers", pd.DataFrame({"worker_id": ["inner", "outer"]}))
        store.write("workers", pd.DataFrame({"worker_id": ["after"]}))
    assert ids(store.read("workers"), "worker_id") == ["after", "outer"]


def test_reads_and_writes_from_threads(store):
    store.write("cases", cases_frame())

    def work(k: int) -> int:
        store.write("workers", pd.DataFrame({"worker_id": [f"t{k}"]}))
        return store.count("cases")

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(work, range(8))) == [8] * 8
    assert store.count("workers") == 8
    assert threading.active_count() >= 1


# --- backend choice and files ----------------------------------------------------------


def test_open_store_chooses_backend(tmp_path, monkeypatch):
    from gridmap.config import get_settings

    path = tmp_path / "sub" / "x.gpkg"
    with open_store(path) as store:
        assert isinstance(store, GpkgStore) and store.schema_version() == SCHEMA_VERSION
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", "")
    monkeypatch.setenv("GRIDMAP_GPKG_PATH", str(tmp_path / "settings.gpkg"))
    get_settings.cache_clear()
    try:
        with open_store() as store:
            assert isinstance(store, GpkgStore) and store.path == tmp_path / "settings.gpkg"
    finally:
        get_settings.cache_clear()
    (tmp_path / "notes.txt").write_text("not a database")
    with pytest.raises(StoreError):
        open_store(tmp_path / "notes.txt")


@pytest.mark.postgis
def test_open_store_reads_database_url_from_settings(postgis_store, monkeypatch):
    from gridmap.config import get_settings

    monkeypatch.setenv("GRIDMAP_DATABASE_URL", f"{postgis_store.dsn}?schema={postgis_store.schema}")
    get_settings.cache_clear()
    try:
        with open_store() as store:
            assert isinstance(store, PostgisStore) and store.schema == postgis_store.schema
            assert store.schema_version() == SCHEMA_VERSION
    finally:
        get_settings.cache_clear()


@pytest.mark.filterwarnings("error::RuntimeWarning")  # GDAL warns about any GeoPackage defect it notices
def test_geopackage_opens_in_gdal(gpkg_store):
    path = gpkg_store.path
    cases = cases_frame()
    gpkg_store.write("cases", cases)
    gpkg_store.write(
        "grids",
        gpd.GeoDataFrame(
            {"plan_id": ["p"], "code": ["150502001001001"], "households": [412]},
            geometry=[shapely.box(121, 44, 121.2, 44.2)],
            crs=4326,
        ),
    )
    gpkg_store.write("workers", pd.DataFrame({"worker_id": ["w1"], "role": ["full_time"]}))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 10300
        srs = {row[0] for row in conn.execute("SELECT srs_id FROM gpkg_spatial_ref_sys")}
        assert {-1, 0, 4326} <= srs
        assert (
            conn.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'workers'").fetchone()[0]
            == "attributes"
        )
        assert (
            conn.execute(
                "SELECT count(*) FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index'"
            ).fetchone()[0]
            >= 5
        )
    layers = dict(pyogrio.list_layers(path))
    assert layers["cases"] == "Point" and layers["grids"] == "MultiPolygon" and layers["workers"] is None
    info = pyogrio.read_info(path, layer="cases")
    assert info["crs"] == "EPSG:4326" and info["features"] == 8 and info["fid_column"] == "fid"
    gdal_cases = pyogrio.read_dataframe(path, layer="cases")
    assert gdal_cases.crs.to_epsg() == 4326 and gdal_cases["case_id"].tolist() == ids(cases)
    assert_same_geometries(gdal_cases.geometry.values, cases.geometry.values)
    assert pyogrio.read_dataframe(path, layer="cases", bbox=(120.15, 42.9, 120.45, 43.1))[
        "case_id"
    ].tolist() == ["C2", "C3", "C4"]
    assert pyogrio.read_dataframe(path, layer="grids")["households"].tolist() == [412]
    assert pyogrio.read_dataframe(path, layer="workers", read_geometry=False)["role"].tolist() == [
        "full_time"
    ]
    # an edit made by GDAL (as QGIS would) goes through the spec triggers and reads back here
    added = gpd.GeoDataFrame(
        {"case_id": ["Q1"], "kind": ["dispute"]}, geometry=[shapely.Point(123.1, 45.1)], crs=4326
    )
    pyogrio.write_dataframe(added, path, layer="cases", append=True)
    assert ids(gpkg_store.read("cases", bbox=(123, 45, 123.2, 45.2))) == ["Q1"]
    gpkg_store.upsert("cases", cases_frame().iloc[:1])
    assert gpkg_store._conn.execute("SELECT rtreecheck('rtree_cases_geom')").fetchone()[0] == "ok"


@pytest.mark.postgis
def test_same_results_on_both_backends(gpkg_store, postgis_store):
    rng = np.random.default_rng(11)
    n = 400
    frame = gpd.GeoDataFrame(
        {
            "case_id": [f"X{k:04d}" for k in range(n)],
            "kind": rng.choice(["dispute", "petition", None], n),
            "category": rng.choice(["land", "wages", "Land", "邻里", "petition_land"], n),
            "reported_at": [
                f"2024-{m:02d}-{d:02d}T10:00:00"
                for m, d in zip(rng.integers(1, 13, n), rng.integers(1, 29, n), strict=True)
            ],
            "persons": np.where(rng.random(n) < 0.1, None, rng.integers(0, 9, n)).tolist(),
            "score": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
        },
        geometry=gpd.points_from_xy(rng.uniform(119.5, 123.5, n), rng.uniform(42.5, 45.5, n)),
        crs=4326,
    )
    for store in (gpkg_store, postgis_store):
        store.write("cases", frame)
        store.upsert("cases", frame.iloc[:40].assign(score=0.5))

    def aggregate(store: Store) -> pd.DataFrame:
        cases = store.read("cases", where={"reported_at": Between("2024-03-01", "2024-10-01")})
        return (
            cases.groupby(["kind", "category"], dropna=False)
            .agg(n=("case_id", "size"), persons=("persons", "sum"), score=("score", "mean"))
            .reset_index()
        )

    assert_frame_equal(aggregate(gpkg_store), aggregate(postgis_store))
    query = {
        "where": {"category": ["land", "Land", "邻里"]},
        "order_by": ["category", "-score", "case_id"],
        "limit": 50,
        "offset": 10,
        "bbox": (120, 43, 123, 45),
    }
    assert_frame_equal(gpkg_store.read("cases", **query), postgis_store.read("cases", **query))
    assert gpkg_store.count("cases", {"persons": Op(">", 4)}) == postgis_store.count(
        "cases", {"persons": Op(">", 4)}
    )


# --- home-made fast paths, checked against the libraries they replace ----------------------


def test_point_codecs_match_shapely():
    from gridmap.store.geometry import GPKG_SQL_FUNCTIONS, decode_wkb, encode_gpkg, ewkb_hex

    rng = np.random.default_rng(5)
    points = np.array(shapely.points(rng.uniform(119, 124, 50), rng.uniform(42, 46, 50)), dtype=object)
    points[[3, 17]] = None
    wkb = [None if g is None else shapely.to_wkb(g) for g in points]
    assert_same_geometries(decode_wkb(wkb), shapely.from_wkb(np.array(wkb, dtype=object)))
    assert_same_geometries(decode_wkb([None if w is None else w.hex() for w in wkb]), decode_wkb(wkb))
    mixed = [shapely.to_wkb(shapely.box(0, 0, 1, 1)), *wkb[:3]]
    assert_same_geometries(decode_wkb(mixed), shapely.from_wkb(np.array(mixed, dtype=object)))
    expected_hex = shapely.to_wkb(shapely.set_srid(points, 4326), hex=True, include_srid=True)
    assert ewkb_hex(points) == [None if h is None else h for h in expected_hex]
    blobs = encode_gpkg(points)
    for blob, geom in zip(blobs, points, strict=True):
        if geom is None:
            assert blob is None
            continue
        minx, miny, maxx, maxy = geom.bounds
        assert [GPKG_SQL_FUNCTIONS[f](blob) for f in ("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")] == [
            minx,
            maxx,
            miny,
            maxy,
        ]
        assert GPKG_SQL_FUNCTIONS["ST_IsEmpty"](blob) == 0
        assert (blob[3] >> 1) & 0b111 == 0 and len(
            blob
        ) == 29  # a point carries no envelope (as GDAL writes it)
        assert shapely.from_wkb(blob[8:]).equals(geom)


def test_point_codecs_keep_an_empty_point_among_points():
    # the numpy fast paths need one coordinate pair per point: POINT EMPTY must not shift the rest
    from gridmap.store.geometry import encode_gpkg, ewkb_hex

    points = np.array([shapely.Point(1, 2), shapely.Point(), shapely.Point(3, 4)], dtype=object)
    decoded = shapely.from_wkb(
        [blob[8:] if blob[3] >> 1 & 0b111 == 0 else blob[40:] for blob in encode_gpkg(points)]
    )
    assert [g.wkt for g in decoded] == ["POINT (1 2)", "POINT EMPTY", "POINT (3 4)"]
    assert [g.wkt for g in shapely.from_wkb(ewkb_hex(points))] == [
        "POINT (1 2)",
        "POINT EMPTY",
        "POINT (3 4)",
    ]


def test_rtree_bulk_load_matches_sqlite_inserts():
    from gridmap.store.rtree import bulk_load, float32_outward

    rng = np.random.default_rng(9)
    n = 5000
    x, y, w = rng.uniform(119, 124, n), rng.uniform(42, 46, n), rng.exponential(0.01, n)
    boxes = float32_outward(x, x + w, y, y + w)
    assert (
        (boxes[:, 0] <= x).all()
        and (boxes[:, 1] >= x + w).all()
        and (boxes[:, 2] <= y).all()
        and (boxes[:, 3] >= y + w).all()
    )
    ids_ = rng.permutation(n * 3)[:n] + 1
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE bulk USING rtree(id, minx, maxx, miny, maxy)")
    conn.execute("CREATE VIRTUAL TABLE plain USING rtree(id, minx, maxx, miny, maxy)")
    with conn:
        bulk_load(conn, "bulk", ids_, boxes)
        conn.executemany(
            "INSERT INTO plain VALUES (?, ?, ?, ?, ?)",
            zip(ids_.tolist(), x.tolist(), (x + w).tolist(), y.tolist(), (y + w).tolist(), strict=True),
        )
    assert conn.execute("SELECT rtreecheck('bulk')").fetchone()[0] == "ok"
    query = "SELECT id FROM {} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ? ORDER BY id"
    for _ in range(30):
        lo_x, lo_y = rng.uniform(119, 124), rng.uniform(42, 46)
        box = (lo_x + rng.uniform(0, 1), lo_x, lo_y + rng.uniform(0, 1), lo_y)
        assert (
            conn.execute(query.format("bulk"), box).fetchall()
            == conn.execute(query.format("plain"), box).fetchall()
        )
    with conn:  # the module keeps maintaining a bulk-loaded tree
        conn.executemany("DELETE FROM bulk WHERE id = ?", [(int(i),) for i in ids_[:700]])
        conn.executemany(
            "INSERT INTO bulk VALUES (?, 120, 120.1, 43, 43.1)", [(10**6 + k,) for k in range(300)]
        )
    assert conn.execute("SELECT rtreecheck('bulk')").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM bulk").fetchone()[0] == n - 400


def test_a_finished_threads_connection_is_closed(store):
    # a server's worker threads come and go; a connection kept per finished thread held its page
    # cache (SQLite) or its session (PostgreSQL) for good: issue #13, memory under the soak
    def use() -> None:
        store.count("meta")

    for _ in range(12):
        thread = threading.Thread(target=use)
        thread.start()
        thread.join()
    store.count("meta")  # this thread's own connection stays
    assert len(store._connections) == 1


def test_gpkg_bounds_sqlite_memory_per_process(tmp_path):
    with GpkgStore(tmp_path / "a.gpkg", memory_limit_mib=96) as store:
        store.init()
        limit = store._conn.execute("PRAGMA soft_heap_limit").fetchone()[0]
    assert limit == 96 * 2**20


def test_gpkg_release_memory_empties_the_page_caches(tmp_path):
    import ctypes

    sqlite = ctypes.CDLL("libsqlite3.so.0")  # the library Python's sqlite3 module uses here
    sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    with GpkgStore(tmp_path / "a.gpkg") as store:
        store.init()
        store.write("cases", cases_frame())
        store._conn.execute("CREATE TABLE filler (x BLOB)")
        store._conn.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,) for _ in range(3000)])
        store._conn.execute("SELECT count(*), sum(length(x)) FROM filler").fetchone()
        before = sqlite.sqlite3_memory_used()
        store.release_memory()
        after = sqlite.sqlite3_memory_used()
        assert store.count("cases") == 8  # still usable
    assert after < before - 5 * 2**20, (before, after)
