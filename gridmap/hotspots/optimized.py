"""Optimized hot spots (as ArcGIS *Optimized Hot Spot Analysis*): every choice made from the data and reported.

Three decisions, each recorded with its reason in :attr:`OptimizedHotSpots.decisions`:

1. **Aggregation** — points are counted on H3 cells of the finest resolution at which the
   occupied cells hold at least :data:`MIN_MEAN_PER_OCCUPIED` points on average (so a cell's
   count carries some evidence), within ``resolutions``.
2. **Scale** — the neighbourhood is an H3 ring of order ``k``; ``k`` is chosen by
   *incremental spatial autocorrelation*: global Moran's I of the counts for ``k = 1..k_max``
   and its z-score (normality assumption); the first peak of z (the scale at which
   clustering is most pronounced first).  When z never peaks, ArcGIS's fallback: the
   smallest ring holding at least :data:`FALLBACK_NEIGHBOURS` neighbours (k=3: 36 cells).
3. **Inference and multiple testing** — Gi* with the default inference for counts (exact
   conditional randomisation of log-count scores, :mod:`gridmap.hotspots.count_tests`),
   Benjamini–Hochberg FDR at ``alpha`` over all cells.

Inputs are WGS-84 degrees; ring orders are in H3 grid steps (k=1 ≈ 1.7 × the cell edge
length between centres; :func:`h3.average_hexagon_edge_length` gives metres).
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import numpy as np
import scipy.sparse as sp

from gridmap.errors import InputError
from gridmap.hotspots.aggregate import count_in_h3, latlng_to_cells
from gridmap.hotspots.getis_ord import GiStarResult, gi_star
from gridmap.hotspots.weights import SpatialWeights, h3_weights

#: the aggregation rule's threshold: mean points per occupied cell
MIN_MEAN_PER_OCCUPIED = 3.0
#: without a peak, the scale is the smallest ring with at least this many neighbours (ArcGIS: 30)
FALLBACK_NEIGHBOURS = 30


@dataclass(frozen=True)
class MoranScale:
    """Global Moran's I per ring order ``k`` (binary weights) with its normal-approximation z."""

    k: np.ndarray
    I: np.ndarray  # noqa: E741 - the statistic's name
    z: np.ndarray
    chosen: int
    peaked: bool


@dataclass(frozen=True)
class OptimizedHotSpots:
    """The chosen resolution, scale and the Gi* result on them, plus every decision in words."""

    resolution: int
    k: int
    cells: np.ndarray
    counts: np.ndarray
    scale: MoranScale
    result: GiStarResult
    decisions: list[dict]

    def describe(self) -> str:
        return "\n".join(f"{d['decision']}: {d['value']} — {d['why']}" for d in self.decisions)


def global_moran_z(values: np.ndarray, adjacency: sp.csr_matrix) -> tuple[float, float]:
    """Global Moran's I with binary symmetric weights and its z under the normality assumption.

    Equals ``esda.Moran(y, w, transformation="B").I`` and ``.z_norm``.
    """
    n = len(values)
    z = values - values.mean()
    s0 = float(adjacency.sum())
    if s0 == 0:
        raise InputError("no unit has a neighbour: Moran's I is undefined")
    denominator = float(z @ z)
    if denominator == 0:
        raise InputError("all values are equal: Moran's I is undefined")
    moran = n / s0 * float(z @ (adjacency @ z)) / denominator
    row = np.asarray(adjacency.sum(axis=1)).ravel()
    col = np.asarray(adjacency.sum(axis=0)).ravel()
    s1 = float(((adjacency + adjacency.T).power(2)).sum()) / 2.0
    s2 = float(((row + col) ** 2).sum())
    expected = -1.0 / (n - 1)
    variance = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n * n - 1) * s0 * s0) - expected**2
    return moran, (moran - expected) / np.sqrt(variance)


def ring_adjacency(ring1: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Cells within ``k`` steps through the given cells (zero diagonal), from the k=1 matrix."""
    n = ring1.shape[0]
    reach = sp.identity(n, format="csr") + ring1
    power = reach.copy()
    for _ in range(k - 1):
        power = power @ reach
        power.data[:] = 1.0
    power.setdiag(0)
    power.eliminate_zeros()
    return power.tocsr()


def incremental_autocorrelation(counts: np.ndarray, ring1: SpatialWeights, k_max: int = 6) -> MoranScale:
    """Moran's I and z for ring orders 1..k_max; the first peak of z is chosen, else the
    smallest ring with :data:`FALLBACK_NEIGHBOURS` neighbours (capped at ``k_max``)."""
    if k_max < 1:
        raise InputError(f"k_max must be >= 1, got {k_max}")
    ks = np.arange(1, k_max + 1)
    values = np.asarray(counts, dtype=np.float64)
    results = [global_moran_z(values, ring_adjacency(ring1.sparse, int(k))) for k in ks]
    moran = np.array([r[0] for r in results])
    z = np.array([r[1] for r in results])
    peaks = [i for i in range(1, len(z) - 1) if z[i] > z[i - 1] and z[i] >= z[i + 1]]
    if len(z) > 1 and z[0] > z[1]:
        peaks.insert(0, 0)  # already falling from k=1: the first step is the peak
    peaked = bool(peaks)
    fallback = next((int(k) for k in ks if 3 * k * (k + 1) >= FALLBACK_NEIGHBOURS), int(ks[-1]))
    chosen = int(ks[peaks[0]]) if peaked else fallback
    return MoranScale(k=ks, I=moran, z=z, chosen=chosen, peaked=peaked)


def choose_resolution(lon: np.ndarray, lat: np.ndarray, resolutions=range(10, 5, -1)) -> tuple[int, float]:
    """Finest resolution (of ``resolutions``) whose occupied cells hold ≥ MIN_MEAN_PER_OCCUPIED points on average."""
    resolutions = sorted(resolutions, reverse=True)
    mean = 0.0
    for resolution in resolutions:
        occupied = len(np.unique(latlng_to_cells(lat, lon, resolution)))
        mean = len(lon) / max(occupied, 1)
        if mean >= MIN_MEAN_PER_OCCUPIED:
            return resolution, mean
    return resolutions[-1], mean


def describe_decisions(
    resolution: int,
    n_cells: int,
    mean_per_occupied: float,
    zeros_included: bool,
    scale: MoranScale,
    k_max: int,
    inference: str,
    alpha: float,
    n_hot: int,
    n_cold: int,
) -> list[dict]:
    """The four decisions of an optimized run, each ``{"decision", "value", "why"}`` (plain text)."""
    edge_m = h3.average_hexagon_edge_length(resolution, unit="m")
    z_text = ", ".join(f"k={k}: {z:.1f}" for k, z in zip(scale.k.tolist(), scale.z.tolist(), strict=True))
    return [
        {
            "decision": "aggregation",
            "value": f"H3 resolution {resolution} ({n_cells:,} cells, edge ≈ {edge_m:.0f} m)",
            "why": f"finest resolution whose occupied cells hold ≥ {MIN_MEAN_PER_OCCUPIED:g} cases on average "
            f"({mean_per_occupied:.1f})" + ("; empty cells analysed as 0" if zeros_included else ""),
        },
        {
            "decision": "scale",
            "value": f"ring order k={scale.chosen} (≈ {scale.chosen * 1.73 * edge_m:.0f} m)",
            "why": (
                f"first peak of Moran's I z over k=1..{k_max}"
                if scale.peaked
                else f"Moran's I z does not peak over k=1..{k_max}: smallest ring with ≥ {FALLBACK_NEIGHBOURS} "
                "neighbours (ArcGIS's fallback)"
            )
            + f" ({z_text})",
        },
        {
            "decision": "inference",
            "value": inference,
            "why": "counts: exact conditional randomisation of log-count scores (valid without normality)"
            if inference == "log_counts"
            else "values are not counts: normal approximation of Gi* z",
        },
        {
            "decision": "multiple testing",
            "value": f"Benjamini-Hochberg FDR {alpha:g}",
            "why": f"{n_cells:,} cells tested at once; hot = FDR-adjusted p <= {alpha:g} "
            f"({n_hot:,} hot, {n_cold:,} cold cells)",
        },
    ]


def optimized_hot_spots(
    lon: np.ndarray,
    lat: np.ndarray,
    study_area=None,
    resolutions=range(10, 5, -1),
    k_max: int = 6,
    alpha: float = 0.05,
) -> OptimizedHotSpots:
    """Choose the aggregation, the scale and the inference, run Gi*, and say why at each step.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        case points, WGS-84 degrees.
    study_area : shapely polygon or None
        WGS-84; its cells are analysed with 0 where empty (recommended); None → occupied cells only.
    resolutions : iterable of int
        candidate H3 resolutions.
    k_max : int
        largest ring order tried by the incremental spatial autocorrelation.
    alpha : float
        Benjamini–Hochberg FDR level for "hot".
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if len(lon) < 30:
        raise InputError(f"optimized hot spots need at least 30 points, got {len(lon)}")
    resolution, mean = choose_resolution(lon, lat, resolutions)
    cells, counts = count_in_h3(lon, lat, resolution, study_area=study_area)
    ring1 = h3_weights(cells)
    scale = incremental_autocorrelation(counts, ring1, k_max)
    weights = (
        ring1
        if scale.chosen == 1
        else SpatialWeights(ring_adjacency(ring1.sparse, scale.chosen), cells, kind=f"h3_k{scale.chosen}")
    )
    result = gi_star(counts, weights, alpha=alpha)
    decisions = describe_decisions(
        resolution,
        len(cells),
        mean,
        study_area is not None,
        scale,
        k_max,
        result.inference,
        result.alpha,
        int(result.hot.sum()),
        int(result.cold.sum()),
    )
    return OptimizedHotSpots(
        resolution=resolution,
        k=scale.chosen,
        cells=cells,
        counts=counts,
        scale=scale,
        result=result,
        decisions=decisions,
    )
