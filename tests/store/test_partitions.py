"""PostGIS partitions of the big tables: one per county, queries filtered by county prune to it."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap.crs import WGS84
from gridmap.imports.init import partition_groups
from gridmap.store.schema import all_tables

#: made-up county codes (no other test creates their partitions): 159901 hosts the zone 159971
GROUPS = {"159901": ["159901", "159971"], "159902": ["159902"]}


def _addresses(ids: list[str], counties: list[str | None]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"address_id": ids, "county_code": counties, "households": [1] * len(ids), "source": "test"},
        geometry=[shapely.Point(122.2 + i * 0.01, 43.6) for i in range(len(ids))],
        crs=WGS84,
    )


def _plan(store, sql: str, params: list) -> str:
    rows = store._fetch("explain", "EXPLAIN (COSTS OFF) " + sql, params)
    return "\n".join(r[0] for r in rows)


@pytest.mark.postgis
def test_county_partitions_hold_their_rows_and_prune(postgis_store):
    store = postgis_store
    # rows written before the partitions exist wait in the default partition, then move
    store.write("addresses", _addresses(["a1", "z1"], ["159902", "159971"]))
    assert store.ensure_partitions(GROUPS) == 2 * sum(1 for t in all_tables().values() if t.partition_key)
    assert store.ensure_partitions(GROUPS) == 0  # idempotent
    store.write("addresses", _addresses(["a2", "k1", "n1"], ["159902", "159901", None]))
    parts = store.partitions("addresses")
    assert parts["addresses_159901"] == "FOR VALUES IN ('159901', '159971')"
    assert parts["addresses_default"] == "DEFAULT"
    table = f'"{store.schema}"'
    per_partition = dict(
        store._fetch(
            "count",
            f"SELECT tableoid::regclass::text, count(*) FROM {table}.addresses GROUP BY 1",
            [],
        )
    )
    assert {k.split(".")[-1].strip('"'): v for k, v in per_partition.items()} == {
        "addresses_159902": 2,
        "addresses_159901": 2,  # the zone 159971 lies in 159901
        "addresses_default": 1,
    }
    # a query filtered by county scans that county's partition only (plan-time pruning)
    for name in ("addresses", "cases", "grids", "patrols", "hotspot_results"):
        plan = _plan(store, f"SELECT * FROM {table}.{name} WHERE county_code = %s", ["159902"])
        assert f"{name}_159902" in plan and f"{name}_159901" not in plan and "_default" not in plan, plan
    plan = _plan(store, f"SELECT count(*) FROM {table}.addresses WHERE county_code = ANY(%s)", [["159971"]])
    assert "addresses_159901" in plan and "addresses_159902" not in plan, plan
    # the store's own reads: same rows as without partitions
    got = store.read("addresses", where={"county_code": "159902"}).sort_values("address_id")
    assert got["address_id"].tolist() == ["a1", "a2"]
    # an upsert replaces by the declared key, even when the row changes county (and partition)
    store.upsert("addresses", _addresses(["a1"], ["159901"]))
    assert store.read("addresses", where={"address_id": "a1"})["county_code"].tolist() == ["159901"]
    assert store.count("addresses") == 5
    with pytest.raises(Exception, match="duplicate|unique"):
        store.write("addresses", _addresses(["k1"], ["159901"]))


def test_geopackage_has_no_partitions(gpkg_store):
    assert gpkg_store.ensure_partitions(GROUPS) == 0
    gpkg_store.write("addresses", _addresses(["a1"], ["159902"]))
    assert gpkg_store.read("addresses", where={"county_code": "159902"})["address_id"].tolist() == ["a1"]


def test_partition_groups_cover_any_area():
    province = partition_groups("150000")
    assert len(province) == 103
    assert province["150502"] == ["150502", "150571"]  # the development zone lies in 科尔沁区
    assert set(partition_groups("150100")) == set(
        pd.Series(list(province)).loc[lambda s: s.str[:4] == "1501"]
    )


@pytest.mark.postgis
def test_init_for_an_area_creates_its_county_partitions(postgis_store):
    from gridmap.imports.init import init_store

    init_store(postgis_store, area="150100")  # 呼和浩特市: 9 county-level units
    grids = postgis_store.partitions("grids")
    expected = {f"grids_{code}" for code in partition_groups("150100")}
    assert len(expected) == 9 and expected <= set(grids)
    assert "'150172'" in grids["grids_150105"]  # the development zone's codes lie in 赛罕区
