"""Gi*: z equals esda's G_Local(star=True, transform='B'), BH FDR, ArcGIS bins, FDR warning, bad input."""

from __future__ import annotations

import warnings

import h3
import numpy as np
import pytest
from scipy import stats

from gridmap.errors import InputError
from gridmap.hotspots.getis_ord import gi_star
from gridmap.hotspots.inference import FDRResolutionWarning, arcgis_bins, fdr_bh, fdr_resolution
from gridmap.hotspots.weights import SpatialWeights, h3_weights

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import esda
    from libpysal.weights import WSP, lat2W


def lattice_weights(rows: int = 30, cols: int = 30) -> tuple[SpatialWeights, object]:
    w = lat2W(rows, cols, rook=False)
    return SpatialWeights(w.sparse, np.arange(w.n), kind="queen"), w


def to_libpysal(weights: SpatialWeights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not fully connected": intended here
        return WSP(weights.sparse).to_W(silence_warnings=True)


def planted_counts(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = rng.poisson(3.0, (30, 30)).astype(float)
    y[5:9, 20:24] += rng.poisson(6.0, (4, 4))
    return y.ravel()


def test_z_equals_esda_on_lattice():
    weights, w = lattice_weights()
    y = planted_counts()
    ours = gi_star(y, weights)
    theirs = esda.G_Local(y, w, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(ours.z, theirs.Zs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.G, theirs.Gs, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ours.EG, theirs.EGs, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ours.VG, theirs.VGs, rtol=1e-9, atol=0)
    np.testing.assert_allclose(ours.p_norm, 2 * theirs.p_norm, rtol=1e-9, atol=1e-15)  # esda: one-sided


@pytest.mark.filterwarnings("ignore:The weights matrix is not fully connected")
def test_z_equals_esda_on_h3_cells_with_holes_and_islands():
    rng = np.random.default_rng(5)
    centre = h3.latlng_to_cell(43.65, 122.26, 9)
    cells = np.array([h3.str_to_int(c) for c in h3.grid_disk(centre, 25)], dtype=np.uint64)
    cells = cells[rng.random(len(cells)) < 0.7]
    far = np.array([h3.str_to_int(h3.latlng_to_cell(44.5, 121.0, 9))], dtype=np.uint64)
    weights = h3_weights(np.concatenate([cells, far]))
    assert weights.n > 1000 and int(far[0]) in weights.island_ids.tolist()
    y = rng.poisson(2.0, weights.n).astype(float)
    theirs = esda.G_Local(y, to_libpysal(weights), transform="B", star=True, permutations=0)
    np.testing.assert_allclose(gi_star(y, weights).z, theirs.Zs, rtol=0, atol=1e-9)


def test_bh_equals_scipy_false_discovery_control():
    rng = np.random.default_rng(2)
    p = np.concatenate([rng.uniform(size=500), rng.uniform(0, 1e-3, 40), [0.0, 1.0, 0.05, 0.05]])
    np.testing.assert_allclose(fdr_bh(p), stats.false_discovery_control(p, method="bh"), rtol=1e-12)
    # large inputs take the packed-key sort; near-equal values force its argsort fallback
    for big in (
        rng.choice(np.r_[rng.uniform(size=30), 1e-6, 0.0, 1.0], 5000),
        rng.uniform(size=20_000),
        np.r_[rng.uniform(size=5000), 0.3 + np.arange(5000) * 1e-17],
    ):
        np.testing.assert_allclose(fdr_bh(big), stats.false_discovery_control(big, method="bh"), rtol=1e-12)
    with_nan = np.r_[p, np.nan]
    assert np.isnan(fdr_bh(with_nan)[-1])
    np.testing.assert_allclose(fdr_bh(with_nan)[:-1], fdr_bh(p))


def test_arcgis_bins_use_fdr_p_and_sign():
    z = np.array([4.0, 2.2, 1.7, 0.5, -1.7, -2.2, -4.0])
    p = np.array([0.005, 0.04, 0.09, 0.5, 0.09, 0.04, 0.005])
    assert arcgis_bins(z, p).tolist() == [3, 2, 1, 0, -1, -2, -3]
    weights, _ = lattice_weights()
    result = gi_star(planted_counts(), weights)
    np.testing.assert_array_equal(result.bin, arcgis_bins(result.z, result.p_fdr))
    assert result.bin.max() == 3 and (result.significant_fdr == (result.p_fdr <= 0.05)).all()
    raw = gi_star(planted_counts(), weights, fdr=False)
    assert (np.abs(raw.bin) >= np.abs(result.bin)).all() and (raw.bin != 0).sum() > (result.bin != 0).sum()


def test_planted_block_is_hot():
    weights, _ = lattice_weights()
    result = gi_star(planted_counts(), weights)
    block = np.zeros((30, 30), bool)
    block[5:9, 20:24] = True
    assert result.inference == "log_counts"  # counts: the exact log-count test by default
    assert result.bin.reshape(30, 30)[6:8, 21:23].min() == 3
    hot = result.hot.reshape(30, 30)
    # hot = FDR 0.05 (not the 90 % bin); a 4×4 block of Poisson(9) in Poisson(3): its core
    # and most of its edge, whose neighbourhoods are half background
    assert hot[block].mean() >= 0.5 and hot[6:8, 21:23].all()
    assert hot[~_grow(block, 1)].sum() <= 2  # FDR 5 %: an odd noise cell may pass, no more
    assert (result.hot == (result.significant_fdr & (result.direction > 0))).all()
    assert "0.05" in result.confidence


def _grow(mask: np.ndarray, steps: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(steps):
        out = out | np.roll(out, 1, 0) | np.roll(out, -1, 0) | np.roll(out, 1, 1) | np.roll(out, -1, 1)
    return out


def test_fdr_warning_fires_when_permutations_cannot_reach_significance():
    weights, _ = lattice_weights()
    with pytest.warns(FDRResolutionWarning, match="permutations"):
        result = gi_star(planted_counts(), weights, permutations=99, seed=1)
    assert result.fdr_limited and "99 permutations" in result.fdr_warning
    limited, needed, _ = fdr_resolution(99, 900, 0.05)
    assert limited and needed == 180
    assert not fdr_resolution(99999, 900, 0.05)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FDRResolutionWarning)
        ok = gi_star(
            planted_counts()[:100],
            SpatialWeights(lat2W(10, 10).sparse, np.arange(100)),
            permutations=1999,
            seed=1,
        )
    assert not ok.fdr_limited and ok.fdr_warning is None


def test_bad_input_is_rejected_clearly():
    weights, _ = lattice_weights()
    with pytest.raises(InputError, match="same value"):
        gi_star(np.full(900, 2.0), weights)
    with pytest.raises(InputError, match="NaN"):
        gi_star(np.r_[np.nan, np.ones(899)], weights)
    with pytest.raises(InputError, match="units"):
        gi_star(np.ones(10), weights)
    with pytest.raises(InputError, match="alpha"):
        gi_star(planted_counts(), weights, alpha=1.5)
