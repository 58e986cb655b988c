from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from gridmap.coverage.patrols import (
    checkin_coordinates,
    grid_visits,
    locate_checkins,
    locate_points,
    patrol_summary,
)
from gridmap.coverage.periods import parse_period
from gridmap.errors import InputError
from gridmap.geocode.transform import from_wgs84
from gridmap.spatial import points_in_polygons


def _hex_grids(n: int = 40, seed: int = 0) -> gpd.GeoDataFrame:
    """Irregular tiles: Voronoi cells of random seeds around Tongliao, codes shuffled."""
    rng = np.random.default_rng(seed)
    seeds = shapely.multipoints(np.column_stack([122.2 + rng.random(n) * 0.1, 43.6 + rng.random(n) * 0.08]))
    frame = box(122.19, 43.59, 122.31, 43.69)
    cells = [c.intersection(frame) for c in shapely.voronoi_polygons(seeds, extend_to=frame).geoms]
    codes = [f"150502001001{k:03d}" for k in rng.permutation(n) + 1]
    return gpd.GeoDataFrame({"code": codes}, geometry=cells, crs="EPSG:4326")


@pytest.mark.parametrize("locate", [locate_points, points_in_polygons])
def test_locate_points_matches_geopandas_sjoin(locate):
    grids = _hex_grids()
    order = np.argsort(grids["code"].to_numpy())
    polygons = grids.geometry.values[order]
    rng = np.random.default_rng(1)
    lon = 122.17 + rng.random(3000) * 0.16  # some points fall outside every grid
    lat = 43.57 + rng.random(3000) * 0.14
    got = locate(lon, lat, polygons)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(points, grids, predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    expected = joined["code"].to_numpy(dtype=object)
    expected = np.where(pd.isna(expected), None, expected)
    got_codes = np.where(got >= 0, grids["code"].to_numpy()[order][np.maximum(got, 0)], None)
    assert (got_codes == expected).all()
    assert (got < 0).sum() > 1000 and (got >= 0).sum() > 1400


@pytest.mark.parametrize("locate", [locate_points, points_in_polygons])
def test_border_points_go_to_the_lowest_code(locate):
    polygons = np.array([box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2)])
    got = locate(np.array([1.0, 0.5, 1.0, 5.0]), np.array([0.5, 1.0, 1.0, 5.0]), polygons)
    assert got.tolist() == [0, 0, 0, -1]


def test_raw_coordinates_in_other_crs_are_converted():
    lon, lat = np.array([122.25, 122.26]), np.array([43.62, 43.63])
    gcj_lon, gcj_lat = from_wgs84(lon, lat, "gcj02")
    bd_lon, bd_lat = from_wgs84(lon, lat, "bd09")
    patrols = pd.DataFrame(
        {
            "worker_id": ["w", "w", "w", "w"],
            "ts": "2024-06-01T08:00:00",
            "raw_lon": [gcj_lon[0], bd_lon[1], lon[0], np.nan],
            "raw_lat": [gcj_lat[0], bd_lat[1], lat[0], 43.0],
            "raw_crs": ["gcj02", "bd09", None, "wgs84"],
        }
    )
    got_lon, got_lat = checkin_coordinates(patrols)
    np.testing.assert_allclose(got_lon[:3], [lon[0], lon[1], lon[0]], atol=1e-7)
    np.testing.assert_allclose(got_lat[:3], [lat[0], lat[1], lat[0]], atol=1e-7)
    assert np.isnan(got_lon[3])
    # a stored geometry wins over raw columns
    with_geometry = gpd.GeoDataFrame(patrols, geometry=[Point(1, 2), None, None, None], crs="EPSG:4326")
    assert checkin_coordinates(with_geometry)[0][0] == 1.0
    patrols.loc[0, "raw_crs"] = "mars"
    with pytest.raises(InputError, match="mars"):
        checkin_coordinates(patrols)


def _strip_grids():
    return gpd.GeoDataFrame(
        {"code": ["A", "B"]},
        geometry=[box(122.0, 43.0, 122.01, 43.01), box(122.01, 43.0, 122.02, 43.01)],
        crs="EPSG:4326",
    )


def test_own_grid_is_any_touched_grid_of_the_day():
    assignments = pd.DataFrame(
        {
            "worker_id": ["w", "w"],
            "grid_code": ["B", "A"],
            "role": ["full_time", "cadre"],
            "valid_from": ["2024-01-01", "2024-06-10"],
            "valid_to": [None, "2024-06-10"],
        }
    )
    patrols = pd.DataFrame(
        {
            "worker_id": "w",
            "ts": [
                "2024-06-01T08:00:00",
                "2024-06-02T08:00:00",
                "2024-06-10T08:00:00",
                "2024-06-11T08:00:00",
                "2024-06-12T08:00:00",
            ],
            # on the A|B border (located in A by the tie rule), inside A, inside A (A assigned that day),
            # inside A (no longer), outside both
            "raw_lon": [122.01, 122.005, 122.005, 122.005, 122.5],
            "raw_lat": [43.005] * 5,
        }
    )
    located = locate_checkins(patrols, _strip_grids(), assignments).frame
    assert located["grid_code"].tolist() == ["A", "A", "A", "A", None]
    assert located["in_own_grid"].tolist() == [True, False, True, False, False]
    assert located["assigned_here"].tolist() == [False, False, True, False, False]


def test_grid_visits_against_a_naive_count():
    rng = np.random.default_rng(5)
    n = 400
    days = rng.integers(0, 61, n)
    stamps = [
        (date(2024, 5, 1) + timedelta(days=int(d))).isoformat() + f"T{h:02d}:00:00"
        for d, h in zip(days, rng.integers(6, 20, n), strict=True)
    ]
    lon = np.where(rng.random(n) < 0.5, 122.005, 122.015) + rng.normal(0, 0.001, n)
    patrols = pd.DataFrame(
        {
            "worker_id": rng.choice(["u", "v"], n),
            "ts": stamps,
            "raw_lon": lon,
            "raw_lat": 43.005 + rng.normal(0, 0.001, n),
        }
    )
    period = parse_period("2024-05-03/2024-06-20")
    located = locate_checkins(patrols, _strip_grids(), None, period)
    for every in (1, 3):
        table = grid_visits(located, period, required_every_days=every).set_index("grid_code")
        for code, polygon in zip(["A", "B"], _strip_grids().geometry, strict=True):
            visits = [
                date.fromisoformat(t[:10])
                for t, x, y in zip(stamps, lon, patrols["raw_lat"], strict=True)
                if period.start <= date.fromisoformat(t[:10]) <= period.end and polygon.covers(Point(x, y))
            ]
            visited = set(visits)
            windows = {(d - period.start).days // every for d in visited}
            gaps, run = [], 0
            for k in range(period.days):
                run = 0 if period.start + timedelta(days=k) in visited else run + 1
                gaps.append(run)
            row = table.loc[code]
            assert row["visits"] == len(visits)
            assert row["days_visited"] == len(visited)
            assert row["required_visits"] == -(-period.days // every)
            assert row["visit_share"] == pytest.approx(len(windows) / -(-period.days // every))
            assert row["longest_gap_days"] == max(gaps)
            assert row["last_visit"][:10] == max(visited).isoformat()
    monthly = grid_visits(located, period, freq="M")
    assert monthly["period"].unique().tolist() == ["2024-05", "2024-06"]
    assert monthly.groupby("grid_code")["visits"].sum().to_dict() == table["visits"].to_dict()
    assert monthly.set_index(["period", "grid_code"]).loc[("2024-05", "A"), "required_visits"] == 29


def test_patrol_summary_per_worker():
    assignments = pd.DataFrame(
        {
            "worker_id": ["u", "v"],
            "grid_code": ["A", "B"],
            "role": "full_time",
            "valid_from": "2024-01-01",
            "valid_to": None,
        }
    )
    patrols = pd.DataFrame(
        {
            "worker_id": ["u", "u", "u", "v", "v"],
            "ts": [
                "2024-06-01T08:00:00",
                "2024-06-01T09:00:00",
                "2024-06-02T08:00:00",
                "2024-06-03T08:00:00",
                "2024-07-01T08:00:00",
            ],
            "raw_lon": [122.005, 122.015, 122.005, 122.015, 122.005],
            "raw_lat": 43.005,
        }
    )
    grids, people = patrol_summary(patrols, _strip_grids(), assignments, "2024-06")
    assert grids.set_index("grid_code")[["visits", "own_visits", "foreign_visits"]].to_dict("index") == {
        "A": {"visits": 2, "own_visits": 2, "foreign_visits": 0},
        "B": {"visits": 2, "own_visits": 1, "foreign_visits": 1},
    }
    people = people.set_index("worker_id")
    assert people.loc["u", "checkins"] == 3 and people.loc["u", "outside_own_grids"] == 1
    assert people.loc["u", "days_checked_in"] == 2 and people.loc["v", "outside_share"] == 0.0
