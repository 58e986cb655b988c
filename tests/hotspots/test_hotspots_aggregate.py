"""Case filters, point-in-polygon and H3 counts, rates and Empirical Bayes smoothing (vs esda)."""

from __future__ import annotations

import warnings

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.cases import CaseFilter, filter_cases
from gridmap.errors import InputError
from gridmap.hotspots.aggregate import (
    case_lonlat,
    count_in_h3,
    count_in_polygons,
    empirical_bayes,
    excess_risk,
    h3_polygons,
    latlng_to_cells,
    rate_per_1000,
    spatial_empirical_bayes,
    totals_on_cells,
)
from gridmap.hotspots.weights import SpatialWeights

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from esda import smoothing
    from libpysal.weights import lat2W


def lattice_units(rows: int = 8, cols: int = 10, size: float = 0.01) -> gpd.GeoDataFrame:
    xe, ye = 122.2 + np.arange(cols + 1) * size, 43.6 + np.arange(rows + 1) * size
    x0, y0 = np.meshgrid(xe[:-1], ye[:-1])
    x1, y1 = np.meshgrid(xe[1:], ye[1:])
    boxes = shapely.box(x0.ravel(), y0.ravel(), x1.ravel(), y1.ravel())
    return gpd.GeoDataFrame({"code": [f"u{i}" for i in range(len(boxes))]}, geometry=boxes, crs=4326)


def cases_frame() -> gpd.GeoDataFrame:
    rows = [
        ("c1", "dispute", "land", "resolved", "2024-01-05T10:00:00", 122.205, 43.605),
        ("c2", "dispute", "wages", "reported", "2024-02-10T09:00:00", 122.215, 43.605),
        ("c3", "petition", "petition_land", "closed", "2024-02-28T23:59:59", 122.225, 43.615),
        ("c4", "dispute", "land", "in_progress", "2024-03-01T00:00:00", 122.235, 43.625),
        ("c5", "dispute", "land", "accepted", None, 122.245, 43.635),
        ("c6", "dispute", "neighbour", "resolved", "2024-02-01 08:00:00", None, None),
    ]
    frame = pd.DataFrame(rows, columns=["case_id", "kind", "category", "status", "reported_at", "lon", "lat"])
    geometry = [
        shapely.Point(x, y) if x is not None else None for x, y in zip(frame.lon, frame.lat, strict=True)
    ]
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=4326)


def test_filters_by_kind_category_status_and_window():
    cases = cases_frame()
    assert filter_cases(cases, {"kind": "dispute"})["case_id"].tolist() == ["c1", "c2", "c4", "c5", "c6"]
    assert filter_cases(cases, {"category": ["land", "petition_land"]})["case_id"].tolist() == [
        "c1",
        "c3",
        "c4",
        "c5",
    ]
    assert filter_cases(cases, {"status": "resolved"})["case_id"].tolist() == ["c1", "c3", "c6"]
    assert filter_cases(cases, {"status": "open"})["case_id"].tolist() == ["c2", "c4", "c5"]
    window = filter_cases(cases, {"from": "2024-02-01", "to": "2024-03-01"})
    assert window["case_id"].tolist() == ["c2", "c3", "c6"]  # end exclusive; space-separated time accepted
    assert CaseFilter.from_dict({"start": "2024-02"}).start == "2024-02-01T00:00:00"
    with pytest.raises(InputError, match="not a date"):
        filter_cases(cases, {"from": "last tuesday"})
    with pytest.raises(InputError, match="unknown"):
        filter_cases(cases, {"colour": "red"})


def test_case_lonlat_drops_unlocated_cases():
    lon, lat = case_lonlat(cases_frame())
    assert len(lon) == 5 and np.isclose(lon[0], 122.205)
    plain = pd.DataFrame({"lon": [122.2, np.nan], "lat": [43.6, 43.7]})
    assert len(case_lonlat(plain)[0]) == 1
    with pytest.raises(InputError):
        case_lonlat(pd.DataFrame({"lon": [300.0], "lat": [43.0]}))


def test_point_in_polygon_equals_geopandas_sjoin():
    units = lattice_units()
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(122.19, 122.31, 5000), rng.uniform(43.59, 43.69, 5000)
    totals, outside = count_in_polygons(lon, lat, units)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    joined = gpd.sjoin(points, units, predicate="within")
    expected = np.bincount(joined["index_right"], minlength=len(units))
    np.testing.assert_array_equal(totals, expected)
    assert outside == len(points) - len(joined)
    households = rng.integers(1, 50, 5000)
    weighted, _ = count_in_polygons(lon, lat, units, weights=households)
    np.testing.assert_allclose(
        weighted, np.bincount(joined["index_right"], weights=households[joined.index], minlength=len(units))
    )


def test_boundary_points_are_counted_once():
    units = lattice_units(1, 2)
    totals, outside = count_in_polygons(np.array([122.21, 122.21]), np.array([43.605, 43.61]), units)
    assert totals.tolist() == [2.0, 0.0] and outside == 0  # on the shared edge / corner: first unit


def test_h3_counts_equal_scalar_h3_and_study_area_adds_zeros():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(122.2, 122.3, 3000), rng.uniform(43.6, 43.68, 3000)
    lon[:500], lat[:500] = lon[0], lat[0]  # repeated address points
    for res in (7, 9):
        cells = latlng_to_cells(lat, lon, res)
        expected = [h3.str_to_int(h3.latlng_to_cell(a, b, res)) for a, b in zip(lat, lon, strict=True)]
        assert cells.tolist() == expected
    cells, totals = count_in_h3(lon, lat, 9)
    assert totals.sum() == 3000 and (totals > 0).all() and np.all(np.diff(cells.astype(np.int64)) > 0)
    area = shapely.box(122.19, 43.59, 122.31, 43.69)
    all_cells, all_totals = count_in_h3(lon, lat, 9, study_area=area)
    assert all_totals.sum() == 3000 and (all_totals == 0).sum() > 100
    assert set(cells.tolist()) <= set(all_cells.tolist())
    np.testing.assert_array_equal(totals_on_cells(all_cells, lon, lat), all_totals)


def test_h3_polygons_match_cell_boundaries():
    cells = np.array(
        [h3.str_to_int(c) for c in h3.grid_disk(h3.latlng_to_cell(43.65, 122.26, 9), 2)], dtype=np.uint64
    )
    polys = h3_polygons(cells)
    assert polys.crs.to_epsg() == 4326 and polys.is_valid.all()
    for cell, poly in zip(cells.tolist(), polys, strict=True):
        ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))]
        assert shapely.Polygon(ring).equals(poly)
        lat, lng = h3.cell_to_latlng(h3.int_to_str(cell))
        assert poly.contains(shapely.Point(lng, lat))


def rates_data():
    rng = np.random.default_rng(0)
    events = rng.poisson(5, 900).astype(float)
    base = rng.integers(50, 500, 900).astype(float)
    return events, base


def test_empirical_bayes_equals_esda():
    events, base = rates_data()
    np.testing.assert_allclose(
        empirical_bayes(events, base), smoothing.Empirical_Bayes(events, base).r.ravel(), rtol=1e-12
    )
    np.testing.assert_allclose(
        excess_risk(events, base), smoothing.Excess_Risk(events, base).r.ravel(), rtol=1e-12
    )


def test_spatial_empirical_bayes_equals_esda():
    events, base = rates_data()
    w = lat2W(30, 30, rook=False)
    ours = spatial_empirical_bayes(events, base, SpatialWeights(w.sparse, np.arange(900)))
    theirs = smoothing.Spatial_Empirical_Bayes(events, base, w).r.ravel()
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-15)


def test_rates_handle_empty_units_and_shrink_small_ones():
    assert np.isnan(rate_per_1000([1, 2], [100, 0])[1]) and rate_per_1000([1], [200])[0] == 5.0
    events = np.array([1.0, 30.0, 2.0, 3.0, 0.0])
    base = np.array([2.0, 1000.0, 100.0, 150.0, 0.0])
    smoothed = empirical_bayes(events, base)
    crude = events / np.where(base > 0, base, np.nan)
    assert np.isnan(smoothed[-1])
    # the 2-household unit's 50 % crude rate is pulled hardest towards the mean
    global_rate = events.sum() / base.sum()
    assert abs(smoothed[0] - global_rate) < abs(crude[0] - global_rate) * 0.5
    assert abs(smoothed[1] - crude[1]) < abs(smoothed[0] - crude[0])
    flat = empirical_bayes([1.0, 1.0, 1.0], [100.0, 100.0, 100.0])  # no extra-Poisson spread
    np.testing.assert_allclose(flat, 0.01)
    with pytest.raises(InputError):
        empirical_bayes([1.0], [0.0])


def test_vectorised_cells_equal_h3_latlng_to_cell():
    import h3

    from gridmap.hotspots.aggregate import latlng_to_cells

    rng = np.random.default_rng(9)
    lat, lon = rng.uniform(-80, 80, 2000), rng.uniform(-180, 180, 2000)
    for resolution in (0, 7, 9, 15):
        expected = [h3.str_to_int(h3.latlng_to_cell(a, b, resolution)) for a, b in zip(lat, lon, strict=True)]
        assert latlng_to_cells(lat, lon, resolution).tolist() == expected


def test_study_cells_equal_h3_polygon_fill_with_holes_and_parts():
    import h3
    import shapely

    from gridmap.hotspots.aggregate import h3_study_cells

    ring = shapely.Point(122.26, 43.63).buffer(0.08)
    holed = shapely.Polygon(ring.exterior, [shapely.Point(122.26, 43.63).buffer(0.03).exterior])
    area = shapely.MultiPolygon([holed, shapely.box(122.5, 43.5, 122.6, 43.56)])
    for resolution in (8, 9):
        expected = np.sort(
            np.asarray(
                h3.api.numpy_int.h3shape_to_cells(
                    h3.geo_to_h3shape(shapely.geometry.mapping(area)), resolution
                ),
                dtype=np.uint64,
            )
        )
        assert np.array_equal(h3_study_cells(area, resolution), expected)
