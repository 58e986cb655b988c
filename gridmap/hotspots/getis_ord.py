"""Getis–Ord Gi* hot-spot statistic with binary weights (ArcGIS *Hot Spot Analysis*).

``Gi*_i = Σ_j w_ij x_j / Σ_j x_j`` with ``w_ij = 1`` for the unit itself and its
neighbours.  The z-score is esda's ``G_Local(y, w, transform="B", star=True).Zs``
(which equals ArcGIS's Gi* z-score)::

    z_i = (Σ_j w_ij x_j − x̄ W_i) / (s √((n W_i − W_i²) / (n − 1)))

with ``W_i = k_i + 1``, ``x̄`` the mean and ``s`` the population standard deviation of
all ``n`` values.  It is computed with one sparse product, so it is linear in the
number of units.

Inference (``inference="auto"``, the default): for counts the p-value is the exact
conditional-randomisation test of the neighbours' log-count scores
(:mod:`gridmap.hotspots.count_tests`, where its meaning and assumptions are spelled out);
other values (rates) use the normal approximation of ``z``, which is valid only for
roughly symmetric values — on skewed counts it marks hundreds of cells hot in data
without any structure (issue #12).  "Hot" means ``p_fdr <= alpha`` (Benjamini–Hochberg,
default 0.05) with the neighbourhood above expectation; the ArcGIS bins ±1/±2/±3 are
the 90/95/99 % confidence levels (on the FDR-adjusted p when ``fdr=True``), labelled so
in :data:`gridmap.hotspots.inference.BIN_CONFIDENCE`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridmap.errors import InputError
from gridmap.hotspots.count_tests import log_count_test, log_count_test_from_sums
from gridmap.hotspots.inference import (
    arcgis_bins,
    bin_label,
    check_alpha,
    check_values,
    fdr_bh,
    fdr_resolution,
    two_sided_normal_p,
    warn_fdr_resolution,
)
from gridmap.hotspots.permutation import STREAM_GROUP, folded_pseudo_p, neighbour_sum_counts
from gridmap.hotspots.weights import SpatialWeights, as_weights


@dataclass(frozen=True)
class GiStarResult:
    """Gi* per unit, with analytical and (optionally) permutation inference.

    Attributes
    ----------
    ids : unit ids in input order.
    values : the analysed values (counts, rates…).
    G : Gi* statistic (share of the total in the unit's neighbourhood incl. itself).
    EG, VG : its expectation and variance under randomisation.
    z : Gi* z-score (= esda ``Zs``).
    p_norm : two-sided normal p-value of ``z``.
    p_sim : conditional-permutation pseudo p-value (esda's folded ``p_sim``; ties
        counted in both tails), or None without permutations.
    p_exact : exact conditional-randomisation p-value ``min(P(≥ observed), P(≤ observed))``
        — the limit of ``p_sim`` for infinitely many permutations — when the values are
        counts and permutations or ``exact=True`` were requested, else None.
    p : the p-value used for inference: ``p_exact`` with ``exact=True``, else ``p_sim`` when
        permutations were run, else ``p_norm``.
    p_fdr : Benjamini–Hochberg adjusted ``p``.
    significant_fdr : ``p_fdr <= alpha``.
    bin : ArcGIS confidence bin −3..+3 from ``p_fdr`` (``fdr=True``) or ``p``.
    cardinalities : neighbours per unit (self excluded).
    islands : positions of units without neighbours (their Gi* reduces to the own value).
    fdr_limited, fdr_warning : set when the permutation count cannot reach BH significance
        for a single unit (see :func:`gridmap.hotspots.inference.fdr_resolution`).
    seed : the seed that reproduces the permutations (None without permutations).
    inference : how ``p`` was made: ``log_counts`` (exact conditional randomisation of
        log-count scores, the default for counts), ``normal``, ``permutations`` or ``exact``.
    direction : sign used for hot/cold: the tested neighbourhood above (+1) or below (−1)
        its expectation (``sign(z)`` except for ``log_counts``, where it is the sign for
        the log-count scores).
    """

    ids: np.ndarray
    values: np.ndarray
    G: np.ndarray
    EG: np.ndarray
    VG: np.ndarray
    z: np.ndarray
    p_norm: np.ndarray
    p_sim: np.ndarray | None
    p_exact: np.ndarray | None
    p: np.ndarray
    p_fdr: np.ndarray
    significant_fdr: np.ndarray
    bin: np.ndarray
    cardinalities: np.ndarray
    islands: np.ndarray
    alpha: float
    fdr: bool
    permutations: int
    seed: int | None
    fdr_limited: bool
    fdr_warning: str | None
    engine: str | None = None
    inference: str = "normal"
    direction: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def hot(self) -> np.ndarray:
        """Hot spots at the run's confidence: ``p_fdr <= alpha`` (default FDR 0.05), above expectation.

        Not ``bin > 0``: bin 1 is only 90 % confidence.
        """
        return self.significant_fdr & (self._sign() > 0)

    @property
    def cold(self) -> np.ndarray:
        return self.significant_fdr & (self._sign() < 0)

    def _sign(self) -> np.ndarray:
        return np.sign(self.z) if self.direction is None else self.direction

    @property
    def confidence(self) -> str:
        """What "hot" means in this result, e.g. ``FDR 0.05 (Benjamini-Hochberg), log_counts``."""
        correction = "Benjamini-Hochberg FDR" if self.fdr else "uncorrected p"
        return f"{correction} <= {self.alpha:g}, p from {self.inference}"

    def bin_counts(self) -> dict[int, int]:
        values, counts = np.unique(self.bin, return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts, strict=True)}

    def to_frame(self) -> pd.DataFrame:
        """One row per unit: id, value, G, z, p_norm, p_sim, p, p_fdr, significant_fdr, bin, label."""
        return pd.DataFrame(
            {
                "unit_id": self.ids,
                "value": self.values,
                "G": self.G,
                "z": self.z,
                "p_norm": self.p_norm,
                "p_sim": self.p_sim if self.p_sim is not None else np.nan,
                "p_exact": self.p_exact if self.p_exact is not None else np.nan,
                "p": self.p,
                "p_fdr": self.p_fdr,
                "significant_fdr": self.significant_fdr,
                "bin": self.bin,
                "label": bin_label(self.bin),
                "hot": self.hot,
                "cold": self.cold,
            }
        )


def gi_star_z(
    values: np.ndarray, adjacency: sp.csr_matrix
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gi* statistic, expectation, variance and z-score for binary ``adjacency`` (zero diagonal).

    Returns (G, EG, VG, z); raises InputError when the values have no variation or sum to 0.
    """
    if len(values) < 3:
        raise InputError(f"Gi* needs at least 3 units, got {len(values)}")
    local_sum = adjacency @ values
    local_sum += values
    return gi_star_moments(values, local_sum, np.diff(adjacency.indptr) + 1.0)


def gi_star_moments(
    values: np.ndarray, local_sum: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(G, EG, VG, z) from each unit's neighbourhood sum (itself included) and size ``W_i = k_i + 1``.

    ``local_sum`` is consumed (the z-score is built in its buffer).
    """
    n = len(values)
    if n < 3:
        raise InputError(f"Gi* needs at least 3 units, got {n}")
    total = values.sum()
    mean = total / n
    variance = values.var()  # population variance, as esda and ArcGIS
    # equal values (e.g. Empirical Bayes rates all shrunk to the city rate) leave a variance of
    # rounding noise, whose z-scores would be meaningless
    if total == 0 or variance <= (1e-12 * abs(mean)) ** 2:
        raise InputError(
            f"all {n} units have the same value ({values[0]:g}): Gi* is undefined; widen the filters or the area"
        )
    # in place: this is the whole cost of analytical Gi*, so no needless temporaries
    spread = n - weight
    spread *= weight
    spread *= 1.0 / (n - 1)
    np.sqrt(spread, out=spread)
    spread *= math.sqrt(variance)
    G = local_sum / total
    z = local_sum
    z -= weight * mean
    z /= spread
    EG = weight / n
    VG = spread / (n * mean)
    VG *= VG  # = W (n − W) / (n − 1) / n² · s² / x̄², esda's VGs
    return G, EG, VG, z


def gi_star(
    values,
    weights: SpatialWeights | sp.spmatrix,
    permutations: int = 0,
    seed: int | None = None,
    alpha: float = 0.05,
    n_jobs: int = 1,
    fdr: bool = True,
    block_units: int = 4 * STREAM_GROUP,
    engine: str = "auto",
    exact: bool = False,
    inference: str = "auto",
) -> GiStarResult:
    """Gi* hot spots with binary weights including the unit itself.

    Parameters
    ----------
    values : array-like
        (n,) non-negative values per unit in weights order (case counts, rates per 1,000 households…).
    weights : SpatialWeights or scipy sparse matrix
        binary neighbours (any diagonal is replaced by the self weight 1).
    permutations : int
        0 → the default inference (see ``inference``); N > 0 → conditional permutation
        pseudo p-values with N draws per unit, used for FDR and bins (z stays analytical).
    seed : int or None
        permutation seed; None draws fresh entropy, recorded in the result.
    alpha : float
        FDR level for ``significant_fdr``.
    n_jobs : int
        threads for permutations (-1 → all cores); results do not depend on it.
    fdr : bool
        True → bins from Benjamini–Hochberg adjusted p-values (recommended); False → raw p.
    block_units : int
        units per permutation task when drawing (memory ≈ 60 kB per unit for 6 neighbours
        and 999 draws).
    engine : {"auto", "exact", "draws"}
        how permutations are made (see :func:`gridmap.hotspots.permutation.neighbour_sum_counts`):
        for counts ``auto`` samples the counts from each unit's exact null distribution.
    exact : bool
        use the exact conditional-randomisation p-value of the raw counts for FDR and bins
        (same as ``inference="exact"``).  Valid, but powerless on clustered counts: see
        :mod:`gridmap.hotspots.count_tests` for why.
    inference : {"auto", "log_counts", "normal", "permutations", "exact"}
        where ``p`` comes from.  ``auto``: ``exact`` when ``exact=True``, ``permutations``
        when ``permutations > 0``, else ``log_counts`` for counts (exact, valid and
        powerful; see :mod:`gridmap.hotspots.count_tests`) and ``normal`` for other values.

    Returns
    -------
    GiStarResult
    """
    w = as_weights(weights)
    x = check_values(values, w.n)
    alpha = check_alpha(alpha)
    if permutations < 0:
        raise InputError(f"permutations must be >= 0, got {permutations}")
    inference = resolve_inference(inference, permutations, exact)
    test = None
    if inference in ("auto", "log_counts"):
        # before the moments: the exact tables' temporaries are freed before five result arrays exist
        test = log_count_test(x, w.sparse)
    G, EG, VG, z = gi_star_z(x, w.sparse)
    p_norm = two_sided_normal_p(z)
    p_sim = p_exact = None
    used_seed = used_engine = None
    message = None
    limited = False
    direction = None
    if inference in ("auto", "log_counts"):
        inference = _counts_test_or_normal(inference, test)
    if inference == "log_counts":
        p, direction = test.p, test.direction
    elif inference in ("permutations", "exact"):
        exact = inference == "exact"
        counts = neighbour_sum_counts(
            x,
            w.sparse,
            max(permutations, 1),
            seed=seed,
            n_jobs=n_jobs,
            block_units=block_units,
            engine="exact" if exact else engine,
        )
        used_engine = counts.engine
        p_exact = counts.p_exact
        if permutations:
            p_sim = folded_pseudo_p(counts.at_least, counts.at_most, permutations)
            used_seed = counts.seed
            if not exact:
                limited, _, message = fdr_resolution(permutations, w.n, alpha)
                if limited:
                    warn_fdr_resolution(permutations, w.n, alpha)
    if inference != "log_counts":
        p = p_exact if exact else (p_sim if p_sim is not None else p_norm)
    return _result(
        w.ids,
        x,
        (G, EG, VG, z),
        p_norm,
        p,
        direction,
        w.cardinalities,
        alpha,
        fdr,
        inference,
        p_sim=p_sim,
        p_exact=p_exact,
        permutations=int(permutations),
        seed=used_seed,
        fdr_limited=limited,
        fdr_warning=message,
        engine=used_engine,
    )


def _counts_test_or_normal(inference: str, test) -> str:
    """What ``auto``/``log_counts`` resolve to given the log-count test (None: the values are not counts)."""
    if test is None and inference == "log_counts":
        raise InputError("log_counts inference needs non-negative whole numbers (counts) that vary")
    return "normal" if test is None else "log_counts"


def _result(
    ids: np.ndarray,
    values: np.ndarray,
    moments: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    p_norm: np.ndarray,
    p: np.ndarray,
    direction: np.ndarray | None,
    cardinalities: np.ndarray,
    alpha: float,
    fdr: bool,
    inference: str,
    **permutation_fields,
) -> GiStarResult:
    """The result from the moments and the p-values used: BH, ArcGIS bins, islands."""
    G, EG, VG, z = moments
    p_fdr = fdr_bh(p)
    fields = {
        "p_sim": None,
        "p_exact": None,
        "permutations": 0,
        "seed": None,
        "fdr_limited": False,
        "fdr_warning": None,
        **permutation_fields,
    }
    return GiStarResult(
        ids=ids,
        values=values,
        G=G,
        EG=EG,
        VG=VG,
        z=z,
        p_norm=p_norm,
        p=p,
        p_fdr=p_fdr,
        significant_fdr=p_fdr <= alpha,
        bin=arcgis_bins(z if direction is None else direction, p_fdr if fdr else p),
        cardinalities=cardinalities,
        islands=np.flatnonzero(cardinalities == 0),
        alpha=alpha,
        fdr=fdr,
        inference=inference,
        direction=direction,
        **fields,
    )


INFERENCES = ("auto", "log_counts", "normal", "permutations", "exact")


def resolve_inference(inference: str, permutations: int, exact: bool) -> str:
    """The inference a call asks for (``auto`` stays ``auto`` until the values are seen)."""
    if inference not in INFERENCES:
        raise InputError(f"inference must be one of {INFERENCES}, got {inference!r}")
    if inference != "auto":
        if inference == "permutations" and permutations < 1:
            raise InputError("inference='permutations' needs permutations >= 1")
        return inference
    if exact:
        return "exact"
    return "permutations" if permutations else "auto"


def gi_star_h3_points(
    lon: np.ndarray,
    lat: np.ndarray,
    resolution: int,
    study_area=None,
    alpha: float = 0.05,
    fdr: bool = True,
    inference: str = "auto",
) -> GiStarResult:
    """Gi* hot spots of points binned to H3 cells with ring-1 weights, from points to result in one call.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        case points, WGS-84 degrees.
    resolution : int
        H3 resolution (8 ≈ 0.74 km², 9 ≈ 0.11 km², 10 ≈ 0.015 km² per cell).
    study_area : shapely (Multi)Polygon in WGS-84 lon/lat, GeoSeries/GeoDataFrame, or None
        also analyse every cell whose centre lies inside it, as a true zero.
    alpha, fdr, inference : as :func:`gi_star` (without permutations).

    Returns
    -------
    GiStarResult whose ``ids`` are the uint64 H3 cells: the cells, counts and z-scores of
    ``gi_star(*count_in_h3(...), h3_weights(cells))``, in the lattice order of
    :mod:`gridmap.hotspots.h3_lattice` (not sorted by index) when that path applies.

    The counts, the empty cells of the study area and the ring sums come from one face's H3
    lattice (:func:`gridmap.hotspots.h3_lattice.lattice_counts`), with no weights matrix for the
    normal and the log-count inference (the default for counts); anything the lattice cannot take (several icosahedron faces, NaN
    coordinates) goes through ``count_in_h3``, ``h3_weights`` and :func:`gi_star`.
    """
    from gridmap.hotspots.aggregate import count_in_h3_h3ronpy, study_polygon
    from gridmap.hotspots.h3_lattice import lattice_counts, ring1_csr, ring1_sums
    from gridmap.hotspots.weights import h3_weights

    area = None if study_area is None else study_polygon(study_area)
    counts = lattice_counts(lon, lat, resolution, area)
    if counts is None:
        cells, totals = count_in_h3_h3ronpy(lon, lat, resolution, area, None)
        return gi_star(totals, h3_weights(cells), alpha=alpha, fdr=fdr, inference=inference)
    resolved = resolve_inference(inference, 0, False)
    if resolved not in ("auto", "log_counts", "normal"):  # the raw exact test: its engine takes a matrix
        weights = SpatialWeights.from_canonical(ring1_csr(counts), counts.cells, "h3_k1")
        return gi_star(counts.totals, weights, alpha=alpha, fdr=fdr, inference=inference)
    x = check_values(counts.totals, counts.n)
    alpha = check_alpha(alpha)
    neighbours, neighbour_sum = ring1_sums(counts, x)
    cardinalities = neighbours.astype(np.int64)
    p = direction = None
    if resolved in ("auto", "log_counts"):
        # the default test for counts, with the lattice's ring sums instead of a neighbour matrix
        # (at 1M cells the matrix alone is 70 MB); only p and direction are kept
        test = log_count_test_from_sums(x, cardinalities, lambda v: ring1_sums(counts, v)[1])
        resolved = _counts_test_or_normal(resolved, test)
        if test is not None:
            p, direction = test.p, test.direction
        del test
    neighbour_sum += x
    moments = gi_star_moments(x, neighbour_sum, neighbours + 1.0)
    p_norm = two_sided_normal_p(moments[3])
    p = p_norm if p is None else p
    return _result(counts.cells, x, moments, p_norm, p, direction, cardinalities, alpha, fdr, resolved)
