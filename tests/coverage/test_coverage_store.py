"""KPIs and audits read from the store are identical on the GeoPackage and PostGIS backends.

Each test runs once per backend (the ``store`` fixture) and compares with the same
computation on the in-memory frames, so both backends give the same frames.
"""

from __future__ import annotations

import pandas as pd

from gridmap.coverage import case_kpis, monthly_trend, run_audit
from gridmap.coverage.service import audit_from_store, kpis_from_store, trend_from_store
from tests.coverage.test_coverage_audit import PERIOD, THRESHOLDS, build_village
from tests.coverage.test_kpi import admin_table, case_table


def test_kpis_identical_on_every_backend(store):
    cases = case_table().assign(party_name="某某", party_phone="13700000000", category="neighbour")
    admin = admin_table()
    store.write("cases", cases)
    store.write("admin_units", admin)
    for level in ("grid", "village", "township", "county", "city"):
        got = kpis_from_store(store, level, "2024-12")
        expected = case_kpis(cases, level, "2024-12", admin_units=admin)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(trend_from_store(store, "2024-Q4"), monthly_trend(cases, "2024-Q4"))


def test_audit_identical_on_every_backend(store):
    grids, workers, assignments, patrols, addresses, cases = build_village()
    store.write(
        "plans",
        pd.DataFrame(
            {
                "plan_id": ["P1"],
                "name": ["current"],
                "status": ["active"],
                "created_at": ["2024-01-01T00:00:00"],
            }
        ),
    )
    for table, frame in (
        ("grids", grids),
        ("workers", workers),
        ("assignments", assignments),
        ("patrols", patrols),
        ("addresses", addresses),
        ("cases", cases),
    ):
        store.write(table, frame)
    got, _ = audit_from_store(store, PERIOD, THRESHOLDS)
    expected = run_audit(
        grids, assignments, patrols, workers, cases, None, PERIOD, thresholds=THRESHOLDS, targets=addresses
    )
    pd.testing.assert_frame_equal(got.findings, expected.findings)
    pd.testing.assert_frame_equal(got.grids, expected.grids)
    pd.testing.assert_frame_equal(got.workers, expected.workers)
