"""Emerging hot spots: space-time Gi* per time step, Mann–Kendall trends, the 17 ArcGIS classes.

Following ArcGIS *Emerging Hot Spot Analysis*:

1. A space-time cube counts cases per unit and time step (calendar months by default).
2. Space-time Gi* per bin, with binary weights: a bin's neighbourhood is the bin itself,
   its unit's spatial neighbours in the same step, and the same unit and its spatial
   neighbours in the ``time_lag`` previous steps (ArcGIS "neighborhood time step",
   default 1; never later steps).  Mean and variance are those of *all* bins in the
   cube.  p-values (``inference="auto"``): the exact conditional-randomisation test of
   the log-count scores of each bin's space-time neighbourhood (see
   :mod:`gridmap.hotspots.count_tests` for what it means and assumes), or the two-sided
   normal p of z (``inference="normal"``, ArcGIS's choice; invalid on skewed counts),
   Benjamini–Hochberg corrected over all bins.
3. Mann–Kendall test on each unit's series of Gi* z-scores (ties corrected).
4. Each unit gets one class from its series of significant hot (z > 0) / cold bins,
   the final step and the trend (see :func:`classify_series`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.errors import InputError
from gridmap.hotspots.count_tests import log_count_test
from gridmap.hotspots.getis_ord import gi_star_z
from gridmap.hotspots.inference import arcgis_bins, check_alpha, fdr_bh, two_sided_normal_p
from gridmap.hotspots.trend import mann_kendall
from gridmap.hotspots.weights import SpatialWeights, as_weights, space_time_weights

#: class code → label; negative codes mirror the hot classes for cold spots
CLASSES = {
    0: "no_pattern_detected",
    1: "new_hot_spot",
    2: "consecutive_hot_spot",
    3: "intensifying_hot_spot",
    4: "persistent_hot_spot",
    5: "diminishing_hot_spot",
    6: "sporadic_hot_spot",
    7: "oscillating_hot_spot",
    8: "historical_hot_spot",
    -1: "new_cold_spot",
    -2: "consecutive_cold_spot",
    -3: "intensifying_cold_spot",
    -4: "persistent_cold_spot",
    -5: "diminishing_cold_spot",
    -6: "sporadic_cold_spot",
    -7: "oscillating_cold_spot",
    -8: "historical_cold_spot",
}
NEW, CONSECUTIVE, INTENSIFYING, PERSISTENT, DIMINISHING, SPORADIC, OSCILLATING, HISTORICAL = range(1, 9)
STEPS = ("month", "week", "day")


@dataclass(frozen=True)
class SpaceTimeCube:
    """Counts per (time step, unit): ``counts[t, u]``; ``steps`` holds each step's start (ISO text)."""

    counts: np.ndarray
    steps: list[str]
    step: str
    unit_ids: np.ndarray

    @property
    def n_times(self) -> int:
        return self.counts.shape[0]

    @property
    def n_units(self) -> int:
        return self.counts.shape[1]


def _month_index(text: pd.Series) -> np.ndarray:
    year = pd.to_numeric(text.str.slice(0, 4), errors="coerce")
    month = pd.to_numeric(text.str.slice(5, 7), errors="coerce")
    return (year * 12 + month - 1).to_numpy(dtype=np.float64)


def space_time_cube(
    unit_index: np.ndarray,
    reported_at,
    unit_ids: np.ndarray,
    step: str = "month",
    start: str | None = None,
    end: str | None = None,
) -> SpaceTimeCube:
    """Count cases per unit and time step.

    Parameters
    ----------
    unit_index : numpy.ndarray
        (n_cases,) position of each case's unit in ``unit_ids`` (-1 → outside every unit, dropped).
    reported_at : array-like of str
        ISO local timestamps ``YYYY-MM-DDTHH:MM:SS`` (or dates).
    unit_ids : numpy.ndarray
        ids of all units (zero-count units included).
    step : {"month", "week", "day"}
        calendar months (default), 7-day steps from ``start``, or days.
    start, end : str or None
        window ``start <= reported_at < end``; None → from the first case's step to the last
        case's step inclusive.
    """
    if step not in STEPS:
        raise InputError(f"time step must be one of {STEPS}, got {step!r}")
    unit_index = np.asarray(unit_index, dtype=np.int64)
    text = pd.Series(np.asarray(reported_at, dtype=object)).astype("string").str.replace(" ", "T", n=1)
    if len(text) != len(unit_index):
        raise InputError(f"{len(text)} timestamps for {len(unit_index)} cases")
    when = pd.to_datetime(text, format="ISO8601", errors="coerce")
    ok = (unit_index >= 0) & when.notna().to_numpy()
    if start:
        ok &= (when >= pd.Timestamp(start)).to_numpy(dtype=bool, na_value=False)
    if end:
        ok &= (when < pd.Timestamp(end)).to_numpy(dtype=bool, na_value=False)
    if not ok.any():
        raise InputError("no located case with a valid reported_at in the time window")
    when = when[ok]
    units = unit_index[ok]
    first = pd.Timestamp(start) if start else when.min()
    last = (pd.Timestamp(end) - pd.Timedelta(seconds=1)) if end else when.max()
    if step == "month":
        index = (when.dt.year * 12 + when.dt.month - 1).to_numpy()
        origin = first.year * 12 + first.month - 1
        n_times = last.year * 12 + last.month - 1 - origin + 1
        steps = [dt.date((origin + t) // 12, (origin + t) % 12 + 1, 1).isoformat() for t in range(n_times)]
    else:
        days = 7 if step == "week" else 1
        day0 = first.normalize()
        index = ((when.dt.normalize() - day0).dt.days // days).to_numpy()
        origin = 0
        n_times = int((last.normalize() - day0).days // days) + 1
        steps = [(day0 + pd.Timedelta(days=days * t)).date().isoformat() for t in range(n_times)]
    t = index - origin
    counts = np.zeros((n_times, len(unit_ids)), dtype=np.float64)
    np.add.at(counts, (t, units), 1.0)
    return SpaceTimeCube(counts=counts, steps=steps, step=step, unit_ids=np.asarray(unit_ids))


@dataclass(frozen=True)
class EmergingResult:
    """Emerging hot-spot classes per unit.

    Attributes
    ----------
    ids : unit ids.
    classes : class code per unit (see :data:`CLASSES`; +hot, −cold, 0 none).
    trend_z, trend_p, trend_tau : Mann–Kendall on the unit's Gi* z-series.
    z, p_fdr, bins : (n_times, n_units) space-time Gi* z-scores, BH-adjusted p and ArcGIS bins.
    counts : (n_times, n_units) the cube.
    steps : start of every time step (ISO date).
    inference : where ``p`` came from (``log_counts`` or ``normal``).
    """

    ids: np.ndarray
    classes: np.ndarray
    trend_z: np.ndarray
    trend_p: np.ndarray
    trend_tau: np.ndarray
    z: np.ndarray
    p: np.ndarray
    p_fdr: np.ndarray
    bins: np.ndarray
    counts: np.ndarray
    steps: list[str]
    alpha: float
    trend_alpha: float
    time_lag: int
    inference: str = "normal"

    @property
    def labels(self) -> np.ndarray:
        return np.array([CLASSES[int(c)] for c in self.classes.tolist()], dtype=object)

    def class_counts(self) -> dict[str, int]:
        codes, counts = np.unique(self.classes, return_counts=True)
        return {CLASSES[int(c)]: int(k) for c, k in zip(codes, counts, strict=True)}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "unit_id": self.ids,
                "count": self.counts.sum(axis=0),
                "class": self.classes,
                "label": self.labels,
                "trend_z": self.trend_z,
                "trend_p": self.trend_p,
                "final_z": self.z[-1],
                "final_bin": self.bins[-1],
            }
        )


def _final_run_length(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True values ending at the last column, per row."""
    rows, n = flags.shape
    reversed_false = ~flags[:, ::-1]
    first_false = np.where(reversed_false.any(axis=1), reversed_false.argmax(axis=1), n)
    return first_false


def _classify_side(
    sig: np.ndarray, other: np.ndarray, trend_up: np.ndarray, trend_down: np.ndarray
) -> np.ndarray:
    """Hot-side codes (1..8, 0 none) for significance flags ``sig`` (hot) and ``other`` (cold).

    For the cold side call with the roles swapped and the trend mirrored.
    """
    rows, n = sig.shape
    count = sig.sum(axis=1)
    mostly = 10 * count >= 9 * n  # at least 90 % of the steps
    final = sig[:, -1]
    run = _final_run_length(sig)
    # anything significant (hot or cold) before the final run of hot bins?
    before = np.arange(n)[None, :] < (n - run)[:, None]
    clean_before = ~((sig | other) & before).any(axis=1)
    ever_other = other.any(axis=1)
    code = np.zeros(rows, dtype=np.int64)
    # ≥ 90 % hot
    code[mostly & final & trend_up] = INTENSIFYING
    code[mostly & final & trend_down] = DIMINISHING
    code[mostly & final & ~trend_up & ~trend_down] = PERSISTENT
    code[mostly & ~final] = HISTORICAL
    # < 90 % hot, hot in the final step
    recent = ~mostly & final
    code[recent & (run == 1) & clean_before] = NEW
    code[recent & (run >= 2) & clean_before] = CONSECUTIVE
    code[recent & ~clean_before & ever_other] = OSCILLATING
    code[recent & ~clean_before & ~ever_other] = SPORADIC
    # < 90 % hot, not hot in the final step: on-again off-again, never the other kind
    code[~mostly & ~final & (count > 0) & ~ever_other] = SPORADIC
    return code


def classify_series(
    z: np.ndarray,
    p: np.ndarray,
    alpha: float = 0.05,
    trend_alpha: float = 0.05,
    trend: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """ArcGIS emerging hot/cold spot class of each unit from its (n_times, n_units) z and p.

    A bin is a significant hot (cold) spot when ``p <= alpha`` and ``z > 0`` (``< 0``).
    With ``n`` steps and "most" meaning at least 90 % of them:

    * **intensifying / diminishing**: hot in most steps including the final one, with a
      significant (``trend_p <= trend_alpha``) upward / downward Mann–Kendall trend in z;
    * **persistent**: hot in most steps including the final one, no significant trend;
    * **historical**: hot in most steps but not in the final one;
    * **new**: hot in the final step only, never significant (hot or cold) before;
    * **consecutive**: a single run of ≥ 2 hot steps ending with the final one, never
      significant before the run, hot in fewer than 90 % of steps;
    * **oscillating**: hot in the final step, cold in some earlier step, hot in < 90 %;
    * **sporadic**: on-again off-again hot (any steps, final included or not), hot in
      < 90 % of steps, never cold — and not new or consecutive;
    * the cold classes mirror these with hot and cold swapped (and the trend mirrored:
      an *intensifying* cold spot has a significant downward trend in z);
    * **no pattern detected** otherwise.

    Where the final step is significant its sign decides between the hot and the cold
    family; otherwise a unit with ≥ 90 % hot steps is historical hot, ≥ 90 % cold steps
    historical cold, then sporadic hot / cold.

    Returns
    -------
    numpy.ndarray of int codes (see :data:`CLASSES`).
    """
    z = np.asarray(z, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if z.shape != p.shape or z.ndim != 2:
        raise InputError(
            f"z and p must be (n_times, n_units) arrays of one shape, got {z.shape} and {p.shape}"
        )
    if trend is None:
        mk = mann_kendall(z.T)
        trend_z, trend_p = mk.z, mk.p
    else:
        trend_z, trend_p = trend
    significant = p <= alpha
    hot = (significant & (z > 0)).T
    cold = (significant & (z < 0)).T
    up = (trend_p <= trend_alpha) & (trend_z > 0)
    down = (trend_p <= trend_alpha) & (trend_z < 0)
    hot_code = _classify_side(hot, cold, up, down)
    cold_code = -_classify_side(cold, hot, down, up)
    final_hot, final_cold = hot[:, -1], cold[:, -1]
    code = np.zeros(z.shape[1], dtype=np.int64)
    code[final_hot] = hot_code[final_hot]
    code[final_cold] = cold_code[final_cold]
    neither = ~final_hot & ~final_cold
    # final step not significant: historical first, then sporadic, hot before cold
    for side_code in (hot_code, cold_code):
        take = neither & (code == 0) & (np.abs(side_code) == HISTORICAL)
        code[take] = side_code[take]
    for side_code in (hot_code, cold_code):
        take = neither & (code == 0) & (np.abs(side_code) == SPORADIC)
        code[take] = side_code[take]
    return code


def emerging_hotspots(
    cube: SpaceTimeCube | np.ndarray,
    weights: SpatialWeights,
    time_lag: int = 1,
    alpha: float = 0.05,
    trend_alpha: float = 0.05,
    fdr: bool = True,
    inference: str = "auto",
) -> EmergingResult:
    """Emerging hot-spot analysis of a space-time cube.

    Parameters
    ----------
    cube : SpaceTimeCube or numpy.ndarray
        counts ``[time step, unit]`` (units in ``weights`` order).
    weights : SpatialWeights
        spatial neighbours of the units (binary).
    time_lag : int
        previous time steps in each bin's neighbourhood (ArcGIS neighborhood time step).
    alpha : float
        significance of a hot/cold bin (on the BH-adjusted p when ``fdr``).
    trend_alpha : float
        significance of the Mann–Kendall trend.
    fdr : bool
        Benjamini–Hochberg over all ``n_times × n_units`` bins (ArcGIS applies FDR too).
    inference : {"auto", "log_counts", "normal"}
        ``auto``: the exact log-count test for counts, the normal p of z otherwise.
    """
    if inference not in ("auto", "log_counts", "normal"):
        raise InputError(f"inference must be auto, log_counts or normal, got {inference!r}")
    w = as_weights(weights)
    alpha = check_alpha(alpha)
    trend_alpha = check_alpha(trend_alpha)
    if isinstance(cube, SpaceTimeCube):
        counts, steps = cube.counts, cube.steps
    else:
        counts = np.asarray(cube, dtype=np.float64)
        steps = [str(t) for t in range(counts.shape[0])]
    if counts.ndim != 2 or counts.shape[1] != w.n:
        raise InputError(f"cube must be (n_times, {w.n}) for these weights, got shape {counts.shape}")
    n_times = counts.shape[0]
    if n_times < 3:
        raise InputError(f"emerging hot spots need at least 3 time steps, got {n_times}")
    st = space_time_weights(w, n_times, time_lag)
    _, _, _, z_flat = gi_star_z(counts.ravel(), st.sparse)
    z = z_flat.reshape(n_times, w.n)
    test = log_count_test(counts.ravel(), st.sparse) if inference != "normal" else None
    if test is None and inference == "log_counts":
        raise InputError("log_counts inference needs non-negative whole numbers (counts) that vary")
    if test is None:
        used = "normal"
        p = two_sided_normal_p(z)
        signed = z
    else:
        used = "log_counts"
        p = test.p.reshape(z.shape)
        # hot/cold follow the tested statistic's direction; magnitudes stay Gi* z
        signed = np.abs(z) * test.direction.reshape(z.shape)
    p_fdr = fdr_bh(p.ravel()).reshape(p.shape) if fdr else p
    mk = mann_kendall(z.T)
    classes = classify_series(signed, p_fdr, alpha=alpha, trend_alpha=trend_alpha, trend=(mk.z, mk.p))
    return EmergingResult(
        ids=w.ids,
        classes=classes,
        trend_z=mk.z,
        trend_p=mk.p,
        trend_tau=mk.tau,
        z=z,
        p=p,
        p_fdr=p_fdr,
        bins=arcgis_bins(signed, p_fdr),
        counts=counts,
        steps=list(steps),
        alpha=alpha,
        trend_alpha=trend_alpha,
        time_lag=int(time_lag),
        inference=used,
    )
