"""Conditional permutation engine: exact sampling, seeds, block invariance, agreement with esda."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from scipy.special import gammaln

from gridmap.errors import InputError
from gridmap.hotspots import exact_null
from gridmap.hotspots.exact_null import exact_feasible, exact_tails
from gridmap.hotspots.getis_ord import gi_star
from gridmap.hotspots.inference import FDRResolutionWarning, fdr_bh, fdr_bh_pseudo
from gridmap.hotspots.moran import local_moran
from gridmap.hotspots.permutation import _draw_subsets, folded_pseudo_p, neighbour_sum_counts
from gridmap.hotspots.weights import SpatialWeights

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from libpysal.weights import lat2W

pytestmark = pytest.mark.filterwarnings("ignore::gridmap.hotspots.inference.FDRResolutionWarning")


def lattice(rows: int, cols: int) -> SpatialWeights:
    return SpatialWeights(lat2W(rows, cols, rook=False).sparse, np.arange(rows * cols))


def planted_counts(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = rng.poisson(3.0, (30, 30)).astype(float)
    y[5:9, 20:24] += rng.poisson(6.0, (4, 4))
    return y.ravel()


@pytest.fixture(scope="module")
def continuous_case(tmp_path_factory):
    """Continuous values on a 20x20 lattice and esda's p_sim for Gi* and local Moran (999 permutations).

    esda runs in a subprocess without numba: compiling its kernels would take ~20 s, the
    pure-Python fallback needs a second or two for 400 units.
    """
    weights = lattice(20, 20)
    rng = np.random.default_rng(4)
    y = rng.gamma(2.0, 2.0, weights.n)
    y[:40] += 4.0
    counts = rng.poisson(4.0, weights.n).astype(float)
    counts[:40] += rng.poisson(3.0, 40)
    folder = tmp_path_factory.mktemp("esda")
    m = weights.sparse.tocoo()
    np.savez(folder / "data.npz", y=y, counts=counts, row=m.row, col=m.col, n=weights.n)
    script = textwrap.dedent(f"""
        import sys, warnings; warnings.simplefilter("ignore")
        sys.modules["numba"] = None
        import numpy as np, scipy.sparse as sp, esda
        from libpysal.weights import WSP
        d = np.load({str(folder / "data.npz")!r})
        n = int(d["n"])
        w = WSP(sp.csr_matrix((np.ones(len(d["row"])), (d["row"], d["col"])), shape=(n, n))).to_W(
            silence_warnings=True)
        gi = esda.G_Local(d["y"], w, transform="B", star=True, permutations=999, seed=1)
        lisa = esda.Moran_Local(d["y"], w, transformation="r", permutations=999, seed=1)
        gi_counts = esda.G_Local(d["counts"], w, transform="B", star=True, permutations=999, seed=2)
        np.savez({str(folder / "p.npz")!r}, gi=gi.p_sim, lisa=lisa.p_sim, gi_counts=gi_counts.p_sim)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=180)
    reference = np.load(folder / "p.npz")
    return y, weights, reference["gi"], reference["lisa"], counts, reference["gi_counts"]


def assert_same_pseudo_p(ours: np.ndarray, theirs: np.ndarray, permutations: int) -> None:
    """Two independent Monte Carlo estimates of the same p per unit differ by sampling noise only."""
    assert np.corrcoef(ours, theirs)[0, 1] > 0.98
    p = np.clip((ours + theirs) / 2, 2.0 / permutations, 0.5)
    standardised = (ours - theirs) / np.sqrt(2 * p * (1 - p) / permutations)
    assert 0.6 < np.mean(standardised**2) < 1.6
    assert np.abs(standardised).max() < 5
    assert stats.ks_2samp(ours, theirs).pvalue > 0.05


def test_gi_pseudo_p_consistent_with_esda(continuous_case):
    y, weights, esda_gi, *_ = continuous_case
    result = gi_star(y, weights, permutations=999, seed=1)
    assert result.engine == "draws"
    assert_same_pseudo_p(result.p_sim, esda_gi, 999)


def test_local_moran_pseudo_p_consistent_with_esda(continuous_case):
    y, weights, _, esda_lisa, *_ = continuous_case
    assert_same_pseudo_p(local_moran(y, weights, permutations=999, seed=1).p_sim, esda_lisa, 999)


def test_exact_engine_on_counts_consistent_with_esda(continuous_case):
    *_, weights, _, _, counts, esda_counts = continuous_case[1:]
    result = gi_star(counts, weights, permutations=999, seed=2)
    assert result.engine == "exact"
    # esda counts ties on the upper side only and so takes the lower tail without its ties:
    # compare where the observed sum is clearly in the upper tail
    upper = result.z > 1.0
    assert upper.sum() > 40
    assert_same_pseudo_p(result.p_sim[upper], esda_counts[upper], 999)


def test_exact_tails_equal_enumeration():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(30):
        n = int(rng.integers(5, 12))
        y = rng.integers(-2, 5, n).astype(float)
        upper = np.triu((rng.random((n, n)) < 0.35).astype(float), 1)
        adjacency = upper + upper.T
        k = adjacency.sum(axis=1).astype(int)
        observed = adjacency @ y
        if not exact_feasible(y, k):
            continue
        greater, equal, less = exact_tails(y, k, observed)
        for i in range(n):
            if k[i] == 0:
                assert (greater[i], equal[i], less[i]) == (0.0, 1.0, 0.0)
                continue
            others = np.delete(y, i)
            sums = np.array([others[list(c)].sum() for c in itertools.combinations(range(n - 1), k[i])])
            expected = [
                (sums > observed[i]).mean(),
                (sums == observed[i]).mean(),
                (sums < observed[i]).mean(),
            ]
            np.testing.assert_allclose([greater[i], equal[i], less[i]], expected, atol=1e-12)
            checked += 1
    assert checked > 100


def reference_subset_sums(shifted: np.ndarray, k_max: int, width: int) -> np.ndarray:
    """The subset-sum table one row and one term at a time (gridmap's first programme)."""
    n = len(shifted)
    levels, counts = np.unique(shifted, return_counts=True)
    ways = np.zeros((k_max + 1, width))
    ways[0, 0] = 1.0
    reach = [0] + [-1] * k_max
    for level, count in zip(levels.tolist(), counts.tolist(), strict=True):
        for j in range(k_max, 0, -1):  # top down: rows read are not yet written for this value
            binomial = 1.0
            for a in range(1, min(count, j) + 1):
                binomial = binomial * (count - a + 1) / a
                source, shift = j - a, a * level
                if shift >= width:
                    break
                if reach[source] < 0:
                    continue
                hi = min(reach[source] + shift, width - 1)
                ways[j, shift : hi + 1] += binomial * ways[source, : hi + 1 - shift]
                reach[j] = max(reach[j], hi)
    subsets = np.exp(
        gammaln(n + 1) - gammaln(np.arange(k_max + 1) + 1) - gammaln(n - np.arange(k_max + 1) + 1)
    )
    return ways / subsets[:, None]


def reference_tails(values: np.ndarray, cardinalities: np.ndarray, observed: np.ndarray):
    """Exact tails from whole cumulative tables, every unit on its own (no shared triples)."""
    n = len(values)
    base = values.min()
    shifted = np.rint(values - base).astype(np.int64)
    k_max = int(cardinalities.max())
    width = k_max * int(shifted.max()) + 1
    p = reference_subset_sums(shifted, k_max, width)
    tables = {"ge": np.cumsum(p[:, ::-1], axis=1)[:, ::-1], "le": np.cumsum(p, axis=1), "eq": p}
    outside = {"ge": (1.0, 0.0), "le": (0.0, 1.0), "eq": (0.0, 0.0)}  # value below / above the table
    active = np.flatnonzero(cardinalities > 0)
    k, own = cardinalities[active], shifted[active]
    x = np.rint(observed[active] - k * base).astype(np.int64)
    tails = {
        "ge": (x - k * own <= 0).astype(float),
        "le": (x - k * own >= 0).astype(float),
        "eq": (x - k * own == 0).astype(float),
    }
    for j in range(1, k_max + 1):
        target = x - (k - j) * own
        for name, table in tables.items():
            below, above = outside[name]
            at = np.where(
                target < 0, below, np.where(target >= width, above, table[j, np.clip(target, 0, width - 1)])
            )
            new = np.clip((n * at - j * tails[name]) / (n - j), 0.0, 1.0)
            tails[name] = np.where(k >= j, new, tails[name])
    eq = np.minimum(tails["eq"], np.minimum(tails["ge"], tails["le"]))
    p_gt, p_eq, p_lt = np.zeros(n), np.ones(n), np.zeros(n)
    p_gt[active] = np.clip(tails["ge"] - eq, 0.0, 1.0)
    p_lt[active] = np.clip(tails["le"] - eq, 0.0, 1.0)
    p_eq[active] = eq
    return p_gt, p_eq, p_lt


needs_numba = pytest.mark.skipif(not exact_null.HAS_NUMBA, reason="numba is not installed")


@pytest.mark.parametrize(
    "batching", [pytest.param("kernels", marks=needs_numba), "default", "rows", "rectangles"]
)
def test_exact_tails_bit_identical_to_one_row_programme(monkeypatch, batching):
    """The compiled kernels, and the numpy programme's batched table and shared tails, give
    the reference's floats to the last bit.

    Counts with a dense low range and a sparse heavy tail (values held by one unit and by
    several), islands, negative values, both ways of sharing (k, value, sum) triples; the
    numpy programme's batching thresholds forced both ways so every branch of the table runs.
    """
    monkeypatch.setattr(exact_null, "_KERNELS", batching == "kernels")
    if batching == "rows":
        monkeypatch.setattr(exact_null, "_RECTANGLE_REACH", 0)
    elif batching == "rectangles":
        monkeypatch.setattr(exact_null, "_RECTANGLE_REACH", 10**9)
    rng = np.random.default_rng(8)
    weights = lattice(40, 40)
    heavy = np.floor(rng.pareto(1.2, weights.n) * 4).astype(float)  # many distinct, many unique
    small = rng.poisson(1.5, weights.n).astype(float)  # small key space: the lookup table
    islands = SpatialWeights(
        sp.csr_matrix(weights.sparse.multiply(np.arange(weights.n) % 97 != 0)), np.arange(weights.n)
    )
    cases = [(heavy, weights), (small, weights), (heavy - 3.0, islands), (small[:300], lattice(15, 20))]
    for y, w in cases:
        adjacency = w.sparse
        k = np.diff(adjacency.indptr).astype(np.int64)
        observed = np.asarray(adjacency @ y).ravel()
        shifted = np.rint(y - y.min()).astype(np.int64)
        width = int(k.max()) * int(shifted.max()) + 1
        np.testing.assert_array_equal(
            exact_null._population_subset_sums(shifted, int(k.max()), width),
            reference_subset_sums(shifted, int(k.max()), width),
        )
        for ours, reference in zip(exact_tails(y, k, observed), reference_tails(y, k, observed), strict=True):
            np.testing.assert_array_equal(ours, reference)
    # and through local Moran: the same pseudo p as sampling the reference tails
    y, w = cases[0]
    result = local_moran(y, w, permutations=999, seed=5, n_jobs=2)
    adjacency = w.sparse
    p_gt, p_eq, _ = reference_tails(y, np.diff(adjacency.indptr), np.asarray(adjacency @ y).ravel())
    at_least, at_most = exact_null.sample_counts(p_gt, p_eq, 999, 5)
    expected = np.where(result.z_values == 0, 1.0, folded_pseudo_p(at_least, at_most, 999))
    assert result.engine == "exact"
    np.testing.assert_array_equal(result.p_sim, expected)


def assert_same_bits(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Equal to the last bit (0.0 and -0.0 told apart, NaN equal to itself)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if ours.dtype.kind == "f":
        ours, theirs = ours.view(np.int64), theirs.view(np.int64)
    np.testing.assert_array_equal(ours, theirs)


@needs_numba
def test_kernels_equal_numpy_programme_bit_for_bit(monkeypatch):
    """numba's table, tails and through them local Moran's and Gi*'s p, FDR and classes are the
    numpy programme's to the last bit, on lattices with light and heavy counts, islands and
    negative values (so the numpy side runs its triple sharing both ways)."""
    rng = np.random.default_rng(12)
    square = lattice(45, 45)
    islands = SpatialWeights(
        sp.csr_matrix(square.sparse.multiply(np.arange(square.n) % 31 != 0)), np.arange(square.n)
    )
    cases = [
        (rng.poisson(2.0, square.n).astype(float), square),
        (np.floor(rng.pareto(1.1, square.n) * 6).astype(float), square),
        (rng.poisson(0.7, islands.n) - 1.0, islands),
        (rng.integers(0, 4000, 120).astype(float), lattice(10, 12)),
        (rng.poisson(9.0, 600).astype(float), lattice(20, 30)),
    ]

    def both(call):
        monkeypatch.setattr(exact_null, "_KERNELS", True)
        compiled = call()
        monkeypatch.setattr(exact_null, "_KERNELS", False)
        return compiled, call()

    for number, (y, w) in enumerate(cases):
        adjacency = w.sparse
        k = np.diff(adjacency.indptr).astype(np.int64)
        observed = np.asarray(adjacency @ y).ravel()
        shifted = np.rint(y - y.min()).astype(np.int64)
        k_max = int(k.max())
        width = k_max * int(shifted.max()) + 1
        compiled, numpy_table = both(lambda: exact_null._population_subset_sums(shifted, k_max, width))  # noqa: B023
        assert compiled.sum() > 0
        assert_same_bits(compiled, numpy_table)
        compiled, numpy_tails = both(lambda: exact_tails(y, k, observed))  # noqa: B023
        assert 0 < compiled[0].mean() < 1
        for ours, theirs in zip(compiled, numpy_tails, strict=True):
            assert_same_bits(ours, theirs)
        moran, numpy_moran = both(lambda: local_moran(y, w, permutations=999, seed=number, n_jobs=1))  # noqa: B023
        assert moran.engine == numpy_moran.engine == "exact"
        for field in ("p_sim", "p", "p_fdr", "significant_fdr", "cluster"):
            assert_same_bits(getattr(moran, field), getattr(numpy_moran, field))
        hot, numpy_hot = both(lambda: gi_star(y, w, permutations=999, seed=number, exact=True))  # noqa: B023
        for field in ("p_sim", "p_exact", "p", "p_fdr", "bin"):
            assert_same_bits(getattr(hot, field), getattr(numpy_hot, field))


def test_pseudo_p_fdr_from_histogram_equals_sorted_bh():
    rng = np.random.default_rng(2)
    for m, permutations in [(1, 9), (7, 9), (900, 99), (20_000, 999)]:
        for share in (0.001, 0.05, 0.5):
            extreme = np.minimum(rng.geometric(share, m) - 1, permutations)
            extreme[rng.random(m) < 0.1] = permutations  # p = 1, as for z = 0
            p = (extreme + 1.0) / (permutations + 1.0)
            np.testing.assert_array_equal(fdr_bh_pseudo(extreme, permutations), fdr_bh(p))
    with pytest.raises(InputError):
        fdr_bh_pseudo(np.array([0, 10]), 9)


def test_exact_and_draw_engines_agree_on_counts():
    weights = lattice(30, 30)
    y = planted_counts()
    exact = gi_star(y, weights, permutations=999, seed=3)
    drawn = gi_star(y, weights, permutations=999, seed=3, engine="draws")
    assert exact.engine == "exact" and drawn.engine == "draws"
    assert_same_pseudo_p(exact.p_sim, drawn.p_sim, 999)
    # the exact p is the limit of the pseudo p
    small = lattice(10, 10)
    y_small = y[:100]
    limit = gi_star(y_small, small, permutations=40_000, seed=3, engine="draws", block_units=10_000)
    np.testing.assert_allclose(limit.p_sim, gi_star(y_small, small, exact=True).p_exact, atol=0.01)
    moran = local_moran(y, weights, permutations=999, seed=3)
    moran_drawn = local_moran(y, weights, permutations=999, seed=3, engine="draws")
    assert_same_pseudo_p(moran.p_sim, moran_drawn.p_sim, 999)


def test_exact_inference_needs_no_permutations_and_passes_fdr():
    weights = lattice(30, 30)
    result = gi_star(planted_counts(), weights, exact=True)
    assert result.p is result.p_exact and not result.fdr_limited
    block = np.zeros((30, 30), bool)
    block[5:9, 20:24] = True
    assert result.significant_fdr.reshape(30, 30)[block].sum() >= 8
    with pytest.raises(InputError, match="integer"):
        gi_star(planted_counts() + 0.5, weights, exact=True)


def test_subsets_are_uniform_without_replacement_and_exclude_the_unit():
    gen = np.random.default_rng(9)
    n, k, owner = 7, 3, 4
    idx = _draw_subsets(gen, n, k, np.full(35_000, owner, dtype=np.int64), np.int64)
    assert (idx != owner).all()
    assert (np.sort(idx, axis=0)[1:] != np.sort(idx, axis=0)[:-1]).all()  # no repeats within a sample
    subsets = {c: 0 for c in itertools.combinations([v for v in range(n) if v != owner], k)}
    for column in np.sort(idx, axis=0).T.tolist():
        subsets[tuple(column)] += 1
    counts = np.array(list(subsets.values()))
    assert len(counts) == 20 and stats.chisquare(counts).pvalue > 0.001


def test_pseudo_p_matches_exact_conditional_distribution():
    # unit 0 has 3 neighbours among 10 units; its exact conditional p comes from all 84 subsets
    n = 10
    rows = [0, 0, 0, 4, 6, 8]
    cols = [1, 2, 3, 5, 7, 9]
    adj = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    weights = SpatialWeights(adj + adj.T, np.arange(n))
    y = np.array([5.0, 9.0, 7.0, 8.0, 1.0, 2.0, 3.0, 6.0, 4.0, 10.0])
    observed = y[[1, 2, 3]].sum()
    sums = np.array([y[1:][list(c)].sum() for c in itertools.combinations(range(9), 3)])
    exact = (min((sums >= observed).sum(), (sums <= observed).sum()) + 0.0) / len(sums)
    result = gi_star(y, weights, permutations=40_000, seed=3)
    assert abs(result.p_sim[0] - exact) < 0.006


def test_ties_are_counted_in_both_tails():
    # every value equal but one: most random neighbour sums tie with the observed one
    weights = lattice(6, 6)
    y = np.ones(36)
    y[0] = 2.0
    counts = neighbour_sum_counts(y, weights.sparse, 99, seed=1)
    far = 35  # far from unit 0: its neighbour sum ties unless unit 0 is drawn
    assert counts.at_least[far] == 99
    assert counts.at_most[far] >= 70  # esda would count these ties on the upper side only


def test_reproducible_for_a_seed_and_invariant_to_blocks_and_threads():
    weights = lattice(30, 30)
    y = planted_counts()
    a = gi_star(y, weights, permutations=199, seed=11, block_units=64, engine="draws")
    b = gi_star(y, weights, permutations=199, seed=11, block_units=640, n_jobs=2, engine="draws")
    c = gi_star(y, weights, permutations=199, seed=12, engine="draws")
    np.testing.assert_array_equal(a.p_sim, b.p_sim)
    assert not np.array_equal(a.p_sim, c.p_sim)
    assert a.seed == 11 and a.permutations == 199 and a.engine == "draws"
    fresh = gi_star(y, weights, permutations=19)
    assert isinstance(fresh.seed, int) and fresh.engine == "exact"
    np.testing.assert_array_equal(gi_star(y, weights, permutations=19, seed=fresh.seed).p_sim, fresh.p_sim)
    m1 = local_moran(y + 0.5, weights, permutations=99, seed=5, block_units=64)
    m2 = local_moran(y + 0.5, weights, permutations=99, seed=5, block_units=10_000, n_jobs=2)
    assert m1.engine == "draws"
    np.testing.assert_array_equal(m1.p_sim, m2.p_sim)


def test_permutation_inference_drives_fdr_and_bins():
    weights = lattice(30, 30)
    with pytest.warns(FDRResolutionWarning):
        limited = gi_star(planted_counts(), weights, permutations=999, seed=2)
    # 999 draws: a p of 1/1000 passes BH among 900 units only if 18 units reach it
    assert limited.p_sim.min() == pytest.approx(1 / 1000) and not limited.significant_fdr.any()
    result = gi_star(planted_counts(), weights, permutations=19_999, seed=2)
    assert not result.fdr_limited and result.p is result.p_sim
    block = np.zeros((30, 30), bool)
    block[5:9, 20:24] = True
    assert result.significant_fdr.reshape(30, 30)[block].sum() >= 8
    significant = result.significant_fdr
    assert (result.bin[significant] != 0).all() and (
        np.sign(result.bin[significant]) == np.sign(result.z[significant])
    ).all()
    assert (result.bin[significant] > 0).sum() >= 8
