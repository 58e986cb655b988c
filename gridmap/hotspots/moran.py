"""Local Moran's I (Anselin LISA) with row-standardised weights: clusters and outliers.

``I_i = (n − 1) z_i lag_i / Σ_j z_j²`` where ``z`` are the values standardised with the
population standard deviation and ``lag_i`` the mean ``z`` of the unit's neighbours
(row-standardised binary weights) — esda's ``Moran_Local(y, w, transformation="r")``.
Quadrants follow esda's codes: 1 HH (high among high), 2 LH, 3 LL, 4 HL; a unit whose
``z`` or lag is exactly 0 counts as low, as in esda.

Inference by default (``permutations=None``): for counts the exact conditional-randomisation
test of the neighbours' log-count scores (:mod:`gridmap.hotspots.count_tests`, which says
what its p-value means and assumes; for a fixed unit ``I_i`` is monotone in its
neighbour sum, so a test of that sum is a test of ``I_i``), else 999 conditional permutations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridmap.errors import InputError
from gridmap.hotspots.count_tests import log_count_test
from gridmap.hotspots.inference import (
    check_alpha,
    check_values,
    fdr_bh,
    fdr_bh_pseudo,
    fdr_resolution,
    two_sided_normal_p,
    warn_fdr_resolution,
)
from gridmap.hotspots.permutation import STREAM_GROUP, neighbour_sum_counts
from gridmap.hotspots.weights import SpatialWeights, as_weights

QUADRANT_LABELS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
#: what a significant unit in each quadrant means on a map
QUADRANT_MEANINGS = {
    1: "high_cluster",
    2: "low_outlier_in_high",
    3: "low_cluster",
    4: "high_outlier_in_low",
}


@dataclass(frozen=True)
class LocalMoranResult:
    """Local Moran's I per unit with conditional-permutation inference.

    Attributes
    ----------
    I : local Moran's I (= esda ``Is``).
    q : quadrant 1 HH, 2 LH, 3 LL, 4 HL (= esda ``q``).
    z_values, lag : standardised values and their row-standardised spatial lag.
    EI, VI : expectation and variance under conditional randomisation (Sokal et al. 1998,
        = esda ``EIc``/``VIc``); ``z_norm``/``p_norm`` their normal approximation.
    p_sim : pseudo p-value (esda's folded ``p_sim``, ties counted in both tails); None
        when ``permutations == 0``.
    p_exact : exact conditional-randomisation p-value (counts only), else None.
    p : the log-count test's p with ``inference="log_counts"`` (the default for counts),
        ``p_exact`` with ``exact=True``, else ``p_sim`` when permutations were run, else ``p_norm``.
    p_fdr, significant_fdr : Benjamini–Hochberg adjusted ``p`` and ``p_fdr <= alpha``.
    cluster : quadrant where ``significant_fdr`` (and not an island), else 0.
    """

    ids: np.ndarray
    values: np.ndarray
    I: np.ndarray  # noqa: E741 - the statistic's name
    q: np.ndarray
    z_values: np.ndarray
    lag: np.ndarray
    EI: np.ndarray
    VI: np.ndarray
    z_norm: np.ndarray
    p_norm: np.ndarray
    p_sim: np.ndarray | None
    p_exact: np.ndarray | None
    p: np.ndarray
    p_fdr: np.ndarray
    significant_fdr: np.ndarray
    cluster: np.ndarray
    cardinalities: np.ndarray
    islands: np.ndarray
    alpha: float
    permutations: int
    seed: int | None
    fdr_limited: bool
    fdr_warning: str | None
    engine: str | None = None
    inference: str = "permutations"

    @property
    def confidence(self) -> str:
        """What "significant" means in this result."""
        return f"Benjamini-Hochberg FDR <= {self.alpha:g}, p from {self.inference}"

    @property
    def labels(self) -> np.ndarray:
        """``HH``/``LH``/``LL``/``HL`` for FDR-significant units, ``not_significant`` otherwise."""
        return np.array(
            [QUADRANT_LABELS.get(int(c), "not_significant") for c in self.cluster.tolist()], dtype=object
        )

    def cluster_counts(self) -> dict[str, int]:
        labels, counts = np.unique(self.labels.astype(str), return_counts=True)
        return {str(a): int(b) for a, b in zip(labels, counts, strict=True)}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "unit_id": self.ids,
                "value": self.values,
                "I": self.I,
                "q": self.q,
                "z_norm": self.z_norm,
                "p_sim": self.p_sim if self.p_sim is not None else np.nan,
                "p_exact": self.p_exact if self.p_exact is not None else np.nan,
                "p": self.p,
                "p_fdr": self.p_fdr,
                "significant_fdr": self.significant_fdr,
                "cluster": self.cluster,
                "label": self.labels,
            }
        )


def local_moran(
    values,
    weights: SpatialWeights | sp.spmatrix,
    permutations: int | None = None,
    seed: int | None = None,
    alpha: float = 0.05,
    n_jobs: int = 1,
    block_units: int = 4 * STREAM_GROUP,
    engine: str = "auto",
    exact: bool = False,
    inference: str = "auto",
) -> LocalMoranResult:
    """Local Moran's I with row-standardised binary weights.

    Parameters
    ----------
    values : array-like
        (n,) values per unit in weights order.
    weights : SpatialWeights or scipy sparse matrix
        binary neighbours (diagonal ignored); row-standardised here.
    permutations : int or None
        conditional permutations per unit; None → the default inference (counts: the
        exact log-count test, other values: 999 permutations); 0 → normal approximation of
        the conditional randomisation moments.
    seed, n_jobs, block_units, engine, exact, inference : see :func:`gridmap.hotspots.getis_ord.gi_star`.
    alpha : float
        FDR level.
    """
    w = as_weights(weights)
    y = check_values(values, w.n)
    alpha = check_alpha(alpha)
    n = w.n
    if n < 3:
        raise InputError(f"local Moran needs at least 3 units, got {n}")
    if permutations is None:
        test = log_count_test(y, w.sparse) if inference in ("auto", "log_counts") and not exact else None
        permutations = 0 if test is not None else 999
    else:
        test = None
    if permutations < 0:
        raise InputError(f"permutations must be >= 0, got {permutations}")
    if inference == "log_counts" and test is None:
        test = log_count_test(y, w.sparse)
        if test is None:
            raise InputError("log_counts inference needs non-negative whole numbers (counts) that vary")
    sd = y.std()
    if sd == 0:
        raise InputError(f"all {n} units have the same value ({y[0]:g}): local Moran is undefined")
    z = (y - y.mean()) / sd
    k = w.cardinalities
    lag = np.asarray(w.sparse @ z).ravel()
    has_neighbours = k > 0
    np.divide(lag, k, out=lag, where=has_neighbours)  # row-standardised lag; islands keep 0
    den = (z * z).sum()
    I = (n - 1) / den * z * lag  # noqa: E741
    high, high_lag = z > 0, lag > 0
    q = np.where(high & high_lag, 1, np.where(~high & high_lag, 2, np.where(~high & ~high_lag, 3, 4)))
    del high, high_lag

    # permutations before the moments: the engine's temporaries are gone before those arrays exist
    p_sim = p_exact = extreme = None
    used_seed = used_engine = None
    limited, message = False, None
    if permutations or exact:
        # for a fixed unit I_i is monotone in the neighbour sum of z, and that sum is an
        # increasing affine function of the neighbour sum of y: randomise y (integer for counts)
        counts = neighbour_sum_counts(
            y,
            w.sparse,
            max(permutations, 1),
            seed=seed,
            n_jobs=n_jobs,
            block_units=block_units,
            engine="exact" if exact else engine,
        )
        used_engine = counts.engine
        if counts.p_exact is not None:
            # with z_i = 0 every random I_i equals the observed 0: all ties, p = 1
            p_exact = np.where(z == 0, 1.0, counts.p_exact)
        if permutations:
            # the smaller tail count, all permutations where z_i = 0 (p = 1)
            extreme = np.where(z == 0, permutations, np.minimum(counts.at_least, counts.at_most))
            p_sim = (extreme + 1.0) / (permutations + 1.0)  # = folded_pseudo_p
            used_seed = counts.seed
            if not exact:
                limited, _, message = fdr_resolution(permutations, n, alpha)
                if limited:
                    warn_fdr_resolution(permutations, n, alpha)
        del counts

    # conditional randomisation moments (Sokal et al. 1998, eqs. A7, A8), row-standardised w:
    # w_i = Σ_j w_ij = 1 and w_i2 = Σ_j w_ij² = 1/k_i for units with neighbours, 0 for islands
    m2 = den / n
    wi = has_neighbours.astype(np.float64)
    wi2 = np.divide(1.0, k, out=np.zeros(n), where=has_neighbours)
    z2 = z * z
    EI = -(z2 * wi) / ((n - 1) * m2)
    VI = (z2 / m2**2) * (n / (n - 2)) * (wi2 - wi / (n - 1)) * (m2 - z2 / (n - 1))
    del z2, wi2
    z_norm = np.zeros(n)
    np.divide(I - EI, np.sqrt(VI, where=VI > 0, out=np.ones(n)), out=z_norm, where=VI > 0)
    p_norm = two_sided_normal_p(z_norm)
    if test is not None:
        used = "log_counts"
        p = np.where(z == 0, 1.0, test.p)
    else:
        used = "exact" if exact else ("permutations" if p_sim is not None else "normal")
        p = p_exact if exact else (p_sim if p_sim is not None else p_norm)
    # pseudo p-values take permutations + 1 values: BH from their histogram, no sort
    p_fdr = fdr_bh_pseudo(extreme, permutations) if p is p_sim and p_sim is not None else fdr_bh(p)
    significant = (p_fdr <= alpha) & has_neighbours
    cluster = np.where(significant, q, 0)
    return LocalMoranResult(
        ids=w.ids,
        values=y,
        I=I,
        q=q,
        z_values=z,
        lag=lag,
        EI=EI,
        VI=VI,
        z_norm=z_norm,
        p_norm=p_norm,
        p_sim=p_sim,
        p_exact=p_exact,
        p=p,
        p_fdr=p_fdr,
        significant_fdr=significant,
        cluster=cluster,
        cardinalities=w.cardinalities,
        islands=w.islands,
        alpha=alpha,
        permutations=int(permutations),
        seed=used_seed,
        fdr_limited=limited,
        fdr_warning=message,
        engine=used_engine,
        inference=used,
    )
