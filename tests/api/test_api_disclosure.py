"""Disclosure control against an attacker: the differencing probe of issue #13 and averaging.

A small generated city: 30 grids, each with one category of 1–2 cases (a suppressed cell) and
four categories of 3–9 cases, spread over 2024.  The anonymous attacker knows the rule and
tries every category subset (the issue's attack) and every partition of the other records
(by category, by half-year, by quarter, by status) to isolate each suppressed cell.  A count is
*recovered* when at least two independent routes give the same value and it is the true one:
with exact published counts every route gives the truth, so the probe has teeth (see
:func:`test_probe_recovers_counts_when_published_counts_are_exact`).
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest

import gridmap.disclosure as disclosure
from gridmap.disclosure import DisclosureRule, cell_keys, disclose, record_keys
from tests.api_testdata import build_city, make_client, sign_in

CATEGORIES = ("neighbour", "land", "wages", "family", "property")
STATUSES = ("reported", "resolved", "closed")
GRIDS = [f"1505020010010{i:02d}" for i in range(30)]
QUARTERS = (("2024-01", "2024-04"), ("2024-04", "2024-07"), ("2024-07", "2024-10"), ("2024-10", "2025-01"))
HALVES = (("2024-01", "2024-07"), ("2024-07", "2025-01"))


def _cases() -> tuple[gpd.GeoDataFrame, dict[tuple[str, str], int]]:
    rng = np.random.default_rng(13)
    rows, small = [], {}
    n = 0
    for grid in GRIDS:
        small_category = CATEGORIES[rng.integers(len(CATEGORIES))]
        for category in CATEGORIES:
            count = int(rng.integers(1, 3)) if category == small_category else int(rng.integers(3, 10))
            if category == small_category:
                small[(grid, category)] = count
            for _ in range(count):
                n += 1
                month, day = int(rng.integers(1, 13)), int(rng.integers(1, 28))
                rows.append(
                    {
                        "case_id": f"D{n:05d}",
                        "kind": "dispute",
                        "category": category,
                        "status": STATUSES[rng.integers(len(STATUSES))],
                        "reported_at": f"2024-{month:02d}-{day:02d}T09:00:00",
                        "grid_code": grid,
                        "village_code": grid[:12],
                        "township_code": grid[:9],
                        "county_code": grid[:6],
                        "source": "synthetic",
                    }
                )
    return gpd.GeoDataFrame(rows, geometry=[None] * len(rows), crs=4326), small


@pytest.fixture(scope="module")
def probe_city(tmp_path_factory):
    from gridmap.store.gpkg import GpkgStore

    store = GpkgStore(tmp_path_factory.mktemp("disclosure") / "city.gpkg")
    store.init()
    build_city(store)
    cases, small = _cases()
    store.write("cases", cases, mode="replace")
    yield store, cases, small
    store.close()


class Attacker:
    """Anonymous requests of ``/grid-counts`` for every grid at once, memoised per filter set."""

    def __init__(self, client, headers: dict | None = None) -> None:
        self.client, self.headers, self._seen = client, headers or {}, {}

    def table(self, **params: str) -> dict[str, float | None] | None:
        """grid → published count (None when suppressed; absent = 0); None when refused."""
        key = tuple(sorted(params.items()))
        if key not in self._seen:
            response = self.client.get("/api/v1/grid-counts", params=params, headers=self.headers)
            self._seen[key] = (
                {g["grid_code"]: g["count"] for g in response.json()["grids"]}
                if response.status_code == 200
                else None
            )
        return self._seen[key]

    def count(self, grid: str, **params: str) -> float | None:
        table = self.table(**params)
        return None if table is None else table.get(grid, 0)

    def partition(self, grid: str, category: str, **params: str) -> float | None:
        """total − Σ other categories within ``params``; None when a part is not published."""
        parts = [self.count(grid, **params)] + [
            self.count(grid, category=c, **params) for c in CATEGORIES if c != category
        ]
        return None if any(p is None for p in parts) else parts[0] - sum(parts[1:])


def _noise_pmf(terms: int, noise_decay: float | None, span: int = 80) -> np.ndarray:
    """pmf on −span … span of a sum of ``terms`` independent noises of the rule (None: no noise)."""
    single = np.zeros(2 * span + 1)
    if noise_decay is None:
        single[span] = 1.0
    else:
        e = np.arange(-span, span + 1)
        single = (1 - noise_decay) / (1 + noise_decay) * noise_decay ** np.abs(e)
    out = single
    for _ in range(terms - 1):
        out = np.convolve(out, single)[span:-span]
    return out


def _probe(
    client, truth: dict[tuple[str, str], int], noise_decay: float | None = 0.5, threshold: int = 3
) -> tuple[int, int, int]:
    """(suppressed cells seen, cells recovered, numbers obtained from multi-category requests).

    The attacker knows the rule (threshold, noise distribution) and combines every route as
    independent evidence (Bayes, uniform prior over 1 … k−1); a count is recovered when the
    posterior puts at least 95 % on the true value.
    """
    attacker = Attacker(client)
    span = 80
    suppressed, recovered = 0, 0
    subset_numbers = sum(
        attacker.table(category=",".join(subset)) is not None
        for size in range(2, len(CATEGORIES) + 1)
        for subset in itertools.combinations(CATEGORIES, size)
    )
    for (grid, category), true_count in truth.items():
        if attacker.count(grid, category=category) is not None:
            continue
        suppressed += 1
        parts = len(CATEGORIES)  # a partition route sums one total and four other categories
        routes = [
            (attacker.partition(grid, category), parts),
            (
                _sum_or_none([attacker.partition(grid, category, **{"from": a, "to": b}) for a, b in HALVES]),
                parts * len(HALVES),
            ),
            (
                _sum_or_none(
                    [attacker.partition(grid, category, **{"from": a, "to": b}) for a, b in QUARTERS]
                ),
                parts * len(QUARTERS),
            ),
            (
                _sum_or_none([attacker.partition(grid, category, status=s) for s in STATUSES]),
                parts * len(STATUSES),
            ),
        ]
        candidates = np.arange(1, threshold)
        likelihood = np.ones(len(candidates))
        for estimate, terms in routes:
            if estimate is None:
                continue
            pmf = _noise_pmf(terms, noise_decay, span)
            offsets = np.clip(int(estimate) - candidates + span, 0, 2 * span)
            likelihood = likelihood * pmf[offsets]
        if likelihood.sum() == 0:
            continue
        posterior = likelihood / likelihood.sum()
        if posterior.max() >= 0.95 and candidates[posterior.argmax()] == true_count:
            recovered += 1
    return suppressed, recovered, subset_numbers


def _sum_or_none(parts: list[float | None]) -> float | None:
    return None if any(p is None for p in parts) else sum(parts)


def _count(client, params: dict, headers: dict | None = None) -> tuple[int, float | None]:
    """(status code, the grid's published count; None when suppressed or refused)."""
    response = client.get("/api/v1/grid-counts", params=params, headers=headers or {})
    if response.status_code != 200:
        return response.status_code, None
    grids = response.json()["grids"]
    return 200, grids[0]["count"] if grids else 0


def _client(store, _small):
    return make_client(store)


def test_differencing_probe_recovers_no_suppressed_count(probe_city):
    store, _cases_frame, small = probe_city
    suppressed, recovered, subset_numbers = _probe(_client(store, small), small)
    assert suppressed == len(small) == 30
    assert subset_numbers == 0  # multi-category requests are refused (400) without case access
    assert recovered == 0


def test_probe_recovers_counts_when_published_counts_are_exact(probe_city, monkeypatch):
    """Without the perturbation (suppression alone, as before #13) the same probe recovers them."""
    store, _cases_frame, small = probe_city
    monkeypatch.setattr(
        disclosure, "noise", lambda key, counts, q: np.zeros(len(np.asarray(counts)), np.int64)
    )
    suppressed, recovered, _ = _probe(_client(store, small), small, noise_decay=None)
    assert suppressed == 30 and recovered == 30


def test_repeated_and_equivalent_requests_give_the_same_number(probe_city):
    """Averaging over repeats gains nothing: the same records always give the same answer,
    whichever filters selected them."""
    store, _cases_frame, small = probe_city
    client = _client(store, small)
    grid = GRIDS[3]
    answers = {_count(client, {"admin": grid})[1] for _ in range(12)}
    assert len(answers) == 1
    assert _count(client, {"grid": grid})[1] == answers.pop()
    by_month = _count(client, {"admin": grid, "from": "2024-01", "to": "2025-01"})[1]
    assert by_month == _count(client, {"admin": grid, "from": "2024-01-01", "to": "2025-01-01"})[1]
    assert by_month == _count(client, {"admin": grid})[1]  # every case is in 2024: the same record set


def test_commander_gets_exact_counts_and_any_filter(probe_city):
    store, cases, small = probe_city
    client = _client(store, small)
    commander = sign_in(client, "commander")
    grid, category = next(iter(small))
    assert _count(client, {"admin": grid, "category": category}, commander)[1] == small[(grid, category)]
    assert _count(client, {"admin": grid}, commander)[1] == int((cases["grid_code"] == grid).sum())
    two = ",".join(CATEGORIES[:2])
    assert _count(client, {"admin": grid, "category": two}, commander)[0] == 200
    assert _count(client, {"admin": grid, "category": two})[0] == 400
    assert _count(client, {"admin": grid, "from": "2024-03-05"})[0] == 400


def test_rule_matches_its_definition():
    """Cell key = sum of record keys mod 2**32; small cells suppressed; zero shown; others ≥ k."""
    rule = DisclosureRule.from_secret("s", threshold=3)
    keys = record_keys(["a", "b", "c"], rule)
    assert (keys >= 0).all() and (keys < 2**32).all()
    assert cell_keys(keys, ["x", "x", "y"])["x"] == (keys[0] + keys[1]) % 2**32
    shown = disclose(np.array([0, 1, 2, 3, 50]), np.array([5, 6, 7, 8, 9]) * 2**27, rule)
    assert (
        shown.values[0] == 0
        and np.isnan(shown.values[1:3]).all()
        and shown.suppressed.tolist() == [False, True, True, False, False]
    )
    assert (shown.values[3:] >= 3).all()
    # the noise is two-sided geometric with P(0) = (1 - q) / (1 + q)
    draws = disclosure.noise(np.random.default_rng(1).integers(0, 2**32, 60000), np.full(60000, 10), 0.5)
    assert abs((draws == 0).mean() - 1 / 3) < 0.01 and abs(draws.mean()) < 0.05
    assert (
        abs((draws == 2).mean() - (1 / 3) * 0.25) < 0.01 and abs((draws == -2).mean() - (1 / 3) * 0.25) < 0.01
    )
    # another secret, other keys: nobody without the secret can compute them
    assert (record_keys(["a", "b", "c"], DisclosureRule.from_secret("t")) != keys).all()


# --- hot-spot statistics: reconstructing counts from published Gi* z-scores -------------------

#: 9 × 7 square units of a run written into the probe store (a square 8 × 8 king lattice would
#: make W + I singular: the attack then needs more than one solve)
COLUMNS, ROWS = 9, 7


def _lattice_run(store) -> tuple[str, dict[str, int]]:
    """A Gi* run over a lattice of 63 square units with zeros, suppressed 1–2s and larger
    counts, written as :func:`gridmap.hotspots.runs.write_run` would (z from the library)."""
    import json

    import pandas as pd
    import shapely

    from gridmap.hotspots.getis_ord import gi_star_z
    from gridmap.hotspots.inference import arcgis_bins, fdr_bh, two_sided_normal_p

    rng = np.random.default_rng(31)
    counts = rng.integers(3, 15, COLUMNS * ROWS).astype(float)
    counts[rng.choice(len(counts), 12, replace=False)] = rng.integers(1, 3, 12)
    counts[rng.choice(len(counts), 6, replace=False)] = 0
    boxes = [
        shapely.box(
            *(round(v, 4) for v in (122 + 0.01 * i, 43.5 + 0.01 * j, 122.01 + 0.01 * i, 43.51 + 0.01 * j))
        )
        for j in range(ROWS)
        for i in range(COLUMNS)
    ]
    adjacency = _queen(boxes)
    _, _, _, z = gi_star_z(counts, adjacency)
    p = two_sided_normal_p(z)
    p_fdr = fdr_bh(p)
    ids = [f"L{k:02d}" for k in range(len(counts))]
    run_id = "lattice-gi"
    store.write(
        "hotspot_runs",
        pd.DataFrame(
            [
                {
                    "run_id": run_id,
                    "method": "gi",
                    "created_at": "2025-01-01T00:00:00",
                    "plan_id": "P1",
                    "unit_kind": "h3",
                    "params": "{}",
                    "filters": json.dumps({"category": "lattice"}),
                    "summary": "{}",
                }
            ]
        ),
    )
    store.write(
        "hotspot_results",
        gpd.GeoDataFrame(
            {
                "run_id": run_id,
                "unit_id": ids,
                "count": counts,
                "value": counts,
                "z": z,
                "p": p,
                "p_fdr": p_fdr,
                "bin": arcgis_bins(z, p_fdr),
                "label": None,
                "extra": "{}",
            },
            geometry=boxes,
            crs=4326,
        ),
    )
    return run_id, dict(zip(ids, counts.astype(int).tolist(), strict=True))


def _queen(geometries):
    """Binary queen contiguity (zero diagonal) of public unit geometries, as the attacker builds it."""
    import scipy.sparse as sp
    import shapely

    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    keep = left != right
    n = len(geometries)
    return sp.csr_matrix((np.ones(keep.sum()), (left[keep], right[keep])), shape=(n, n))


def reconstruct_counts(features: list[dict]) -> dict[str, int]:
    """The attack: counts from published Gi* z-scores, public geometry and published counts.

    ``z_i · d_i = Σ_j (W + I)_ij y_j`` with ``y = (x − x̄)/s`` and ``d_i`` known from the weights,
    so y is solved for; a published zero fixes the shift, the published (perturbed) counts the
    scale, and integrality of every count picks the exact scale.  Units without a published z
    give nothing (an empty answer).
    """
    import shapely
    from shapely.geometry import shape

    usable = [f for f in features if f["properties"].get("z") is not None]
    if len(usable) < 3 or len(usable) != len(features):
        return {}
    geoms = [shape(f["geometry"]) for f in usable]
    adjacency = _queen(shapely.normalize(np.asarray(geoms, dtype=object)))
    n = len(usable)
    weight = np.asarray(adjacency.sum(axis=1)).ravel() + 1.0
    d = np.sqrt((n - weight) * weight / (n - 1))
    z = np.array([f["properties"]["z"] for f in usable])
    y = np.linalg.solve(adjacency.toarray() + np.eye(n), z * d)
    shown = [f["properties"].get("count") for f in usable]
    zeros = [i for i, c in enumerate(shown) if c == 0]
    if not zeros:
        return {}
    u = y - y[zeros[0]]
    known = [i for i, c in enumerate(shown) if c]
    scale0 = sum(shown[i] * u[i] for i in known) / sum(u[i] ** 2 for i in known)
    top = int(np.argmax(np.abs(u)))
    best = None
    for whole in range(max(1, round(scale0 * u[top]) - 8), round(scale0 * u[top]) + 9):
        scale = whole / u[top]
        x = scale * u
        misfit = np.abs(x - np.round(x)).max()
        if best is None or misfit < best[0]:
            best = (misfit, np.round(x))
    return {f["id"]: int(v) for f, v in zip(usable, best[1], strict=True)}


def test_hotspot_z_scores_reconstruct_counts_and_are_withheld(probe_city):
    import mapbox_vector_tile

    from api import mvt

    store, _, _ = probe_city
    run_id, truth = _lattice_run(store)
    suppressed = [u for u, c in truth.items() if 0 < c < 3]
    with make_client(store) as client:
        admin = client.get(f"/api/v1/hotspots/runs/{run_id}/results", headers=sign_in(client, "admin"))
        anonymous = client.get(f"/api/v1/hotspots/runs/{run_id}/results").json()["features"]
        ogc = client.get("/ogc/collections/hotspots-gi/items?limit=1000").json()["features"]
        tiles = []
        for z, x, y in mvt.tiles_covering((122.0, 43.5, 122.08, 43.58), [12]):
            data = client.get(f"/tiles/hotspots/{z}/{x}/{y}.pbf?run={run_id}").content
            if data:
                layer = mapbox_vector_tile.decode(data)["hotspots"]
                tiles.extend(f["properties"] for f in layer["features"])
    # the attack has teeth: from the exact z-scores every suppressed count comes back
    recovered = reconstruct_counts(admin.json()["features"])
    assert all(recovered[u] == truth[u] for u in suppressed) and len(suppressed) >= 8
    # roles without all-case access get no statistic computed from exact counts, anywhere
    assert {u for u in suppressed} <= {f["id"] for f in anonymous if f["properties"]["suppressed"]}
    for properties in [f["properties"] for f in anonymous] + [f["properties"] for f in ogc] + tiles:
        assert all(properties.get(column) is None for column in disclosure.EXACT_STATISTICS)
    assert tiles and all("bin" in p for p in tiles)
    assert reconstruct_counts(anonymous) == {}


def test_hot_spot_areas_hide_their_largest_z_from_roles_without_case_access(probe_city):
    from tests.api_testdata import City

    store, _, _ = probe_city
    path = f"/api/v1/hotspots/runs/{City().gi_run}/areas"
    with make_client(store) as client:
        public = client.get(path).json()["features"]
        admin = client.get(path, headers=sign_in(client, "admin")).json()["features"]
    assert public and all(f["properties"]["max_z"] is None for f in public)
    assert all(f["properties"]["max_z"] is not None for f in admin)


def test_hot_spot_run_summaries_hide_exact_counts_from_roles_without_case_access(probe_city):
    import json

    from tests.api_testdata import City

    store, _, _ = probe_city
    run = store.read("hotspot_runs", where={"run_id": City().gi_run}).iloc[[0]].copy()
    run["run_id"] = "hs-summary-probe"
    run["created_at"] = "2000-01-01T00:00:00"  # never the latest run the module's other tests read
    area = {"rank": 1, "sign": 1, "cases": 2.0, "units": 1, "max_z": 3.1, "area_km2": 0.4}
    summary = {"method": "gi", "cases_matched": 2, "cases_in_units": 2, "top_areas": [area]}
    run["summary"] = json.dumps(summary)
    store.write("hotspot_runs", run)
    with make_client(store) as client:
        path = "/api/v1/hotspots/runs/hs-summary-probe"
        admin = client.get(path, headers=sign_in(client, "admin")).json()["summary"]
        public = [client.get(path).json()["summary"]]
        public += [
            r["summary"]
            for r in client.get("/api/v1/hotspots/runs").json()
            if r["run_id"] == run["run_id"].iloc[0]
        ]
    assert admin["cases_in_units"] == 2 and admin["top_areas"][0]["cases"] == 2.0
    for shown in public:
        assert not set(shown) & set(disclosure.EXACT_SUMMARY_KEYS)
        assert shown["top_areas"] == [{"rank": 1, "sign": 1, "units": 1, "area_km2": 0.4}]
