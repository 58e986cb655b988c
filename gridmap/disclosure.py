"""The disclosure rule for counts shown to roles that may not read every case — in one place.

Every count a route, tile, OGC collection, report or export shows to such a role (anonymous,
planner, grid worker) passes through :func:`disclose`.  Roles that read every case (admin,
commander, supervisor) get exact numbers; callers decide that, this module only applies the rule.

The rule (ABS/Census "cell key method" with small-cell suppression):

* every record (a case) has a fixed pseudo-random **record key** in ``[0, 2**32)``: a keyed
  SipHash of its id (:func:`record_keys`; the key comes from ``settings.secret_key``, so nobody
  without it can compute record keys);
* a cell's **cell key** is the sum of its records' keys modulo ``2**32`` (:func:`cell_keys`):
  the same set of records always has the same cell key, whatever filters selected it, and two
  different sets have (practically) independent keys;
* a true count ``c`` is published as

  - ``0`` when ``c == 0`` (an empty cell reveals nobody);
  - nothing (``None``, ``suppressed = True``) when ``0 < c < k``;
  - ``max(k, c + e)`` otherwise, with noise ``e = noise(cell key, c)`` drawn by inverse CDF from a
    two-sided geometric distribution ``P(e) = (1 - q) / (1 + q) · q**|e|`` (every integer has a
    positive probability: no published number is ever impossible for any true count).

Guarantee (stated precisely in README.md, "Disclosure control"):

1. *Consistency*: the same records give the same published number on every request, route and
   process with the same secret; repeating a request and averaging the answers yields nothing
   beyond the first answer.
2. *No certain recovery*: because the noise has full support, every value ``1 … k-1`` of a
   suppressed count stays possible under any collection of published numbers (differences of
   overlapping cells included): the attacker's feasible set never shrinks to one value.
3. *What it does not promise*: each published count is unbiased noise around the truth, so an
   attacker who can form many *different* record sets that differ by exactly the suppressed
   records can average their differences and estimate the count statistically (this needs about
   ``n`` different sets to shrink the error like ``1/sqrt(n)``; repeats of one set do not help).

Hot-spot statistics (:data:`EXACT_STATISTICS`: Gi* and local-Moran z, p, FDR-adjusted p, the
analysed value, an area's largest z) are computed from the exact counts and are not published
to these roles at all: each Gi* z is an affine function of the neighbourhood sums, so the whole
z vector with the (public) weights gives every count back up to a scale and shift, which the
published zeros and perturbed counts then pin down (see :func:`withhold_statistics`).  What
such a role sees of a run is its confidence class per unit (``bin`` −3..+3, or the emerging
label), which is an interval of z, not a value.

Stored aggregates whose records are not at hand (hot-spot results, KPI tables) use
:func:`label_keys`: the cell key is a keyed hash of a label naming the cell and the exact record
selection (run filters, canonical period), so the same cell always gets the same noise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: cell keys live in [0, 2**32): sums of up to 2**31 record keys fit in int64
KEY_SPACE = 2**32
#: irrational step that decorrelates the noise of different true counts within one cell key
_GOLDEN = 0.6180339887498949


@dataclass(frozen=True)
class DisclosureRule:
    """Threshold ``k`` (counts ``0 < c < k`` suppressed), noise decay ``q`` (0 < q < 1; 0.5 →
    P(e = 0) = 1/3, mean |e| ≈ 1.3) and the 16-character hash key derived from the secret."""

    threshold: int = 3
    noise_decay: float = 0.5
    hash_key: str = "gridmap-cellkey0"

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"disclosure threshold {self.threshold}: must be at least 1")
        if not 0.0 < self.noise_decay < 1.0:
            raise ValueError(f"disclosure noise decay {self.noise_decay}: must lie strictly between 0 and 1")
        if len(self.hash_key.encode()) != 16:
            raise ValueError("disclosure hash key must be 16 bytes")

    @classmethod
    def from_secret(cls, secret: str, threshold: int = 3, noise_decay: float = 0.5) -> DisclosureRule:
        """A rule whose keys derive from ``secret`` (``settings.secret_key``)."""
        digest = hashlib.sha256(f"gridmap-disclosure:{secret}".encode()).hexdigest()[:16]
        return cls(threshold=threshold, noise_decay=noise_decay, hash_key=digest)

    @classmethod
    def from_settings(cls, settings) -> DisclosureRule:
        """The rule of ``settings`` (``suppress_counts_below``, ``disclosure_noise_decay``, ``secret_key``)."""
        return cls.from_secret(
            settings.secret_key,
            settings.suppress_counts_below,
            getattr(settings, "disclosure_noise_decay", 0.5),
        )


def record_keys(ids: Iterable[object] | pd.Series, rule: DisclosureRule) -> np.ndarray:
    """Record keys (int64 in ``[0, 2**32)``) of record ids; vectorised keyed SipHash."""
    series = pd.Series(ids, dtype=object).astype(str) if not isinstance(ids, pd.Series) else ids.astype(str)
    hashed = pd.util.hash_pandas_object(series, index=False, hash_key=rule.hash_key).to_numpy()
    return (hashed % np.uint64(KEY_SPACE)).astype(np.int64)


def label_keys(labels: Iterable[object] | pd.Series, rule: DisclosureRule) -> np.ndarray:
    """Cell keys for cells named by a label (used where the records are not at hand)."""
    return record_keys(labels, rule)


def cell_keys(keys: np.ndarray, groups: pd.Series | np.ndarray) -> pd.Series:
    """Cell key per group: the sum of its records' keys modulo ``2**32`` (index = group)."""
    return (pd.Series(np.asarray(keys, dtype=np.int64)).groupby(np.asarray(groups)).sum() % KEY_SPACE).astype(
        np.int64
    )


def noise(cell_key: np.ndarray, counts: np.ndarray, noise_decay: float) -> np.ndarray:
    """Integer noise for each (cell key, true count): a two-sided geometric draw by inverse CDF
    of ``u = frac(cell_key / 2**32 + count · 0.618…)`` (uniform when the cell key is)."""
    key = np.asarray(cell_key, dtype=np.float64) / KEY_SPACE
    u = np.mod(key + np.asarray(counts, dtype=np.float64) * _GOLDEN, 1.0)
    v = np.abs(2.0 * u - 1.0)  # |e| from v, the sign from the half u falls in
    q = noise_decay
    tail = np.clip((1.0 - v) * (1.0 + q) / 2.0, 1e-300, None)
    magnitude = np.maximum(0, np.ceil(np.log(tail) / np.log(q) - 1e-12) - 1).astype(np.int64)
    return np.where(u < 0.5, -magnitude, magnitude)


@dataclass(frozen=True)
class Disclosed:
    """Published values (float, NaN where suppressed) and the ``suppressed`` flags."""

    values: np.ndarray
    suppressed: np.ndarray


def disclose(
    counts: np.ndarray | pd.Series, cell_key: np.ndarray | pd.Series, rule: DisclosureRule
) -> Disclosed:
    """Counts as a role without all-case access may see them (see the module docstring).

    ``counts`` may hold NaN (unknown): it stays NaN and is not flagged.
    """
    values = np.asarray(counts, dtype=np.float64)
    known = ~np.isnan(values)
    suppressed = known & (values > 0) & (values < rule.threshold)
    whole = np.where(known, values, 0).astype(np.int64)
    noisy = np.maximum(rule.threshold, whole + noise(np.asarray(cell_key), whole, rule.noise_decay)).astype(
        float
    )
    published = np.where(~known, np.nan, np.where(values == 0, 0.0, np.where(suppressed, np.nan, noisy)))
    return Disclosed(published, suppressed)


def disclose_record_counts(
    records: pd.DataFrame, by: str, id_column: str, rule: DisclosureRule
) -> pd.DataFrame:
    """Count ``records`` per ``by`` and disclose them: columns ``by, count`` (true, for sorting
    by the caller only when it may), ``shown`` (published, NaN if suppressed), ``suppressed``."""
    groups = records[by].astype(str)
    keys = cell_keys(record_keys(records[id_column], rule), groups)
    counts = groups.value_counts()
    keys = keys.reindex(counts.index)
    shown = disclose(counts.to_numpy(), keys.to_numpy(), rule)
    return pd.DataFrame(
        {
            by: counts.index.to_numpy(),
            "count": counts.to_numpy(),
            "shown": shown.values,
            "suppressed": shown.suppressed,
        }
    )


#: statistics computed from exact counts that roles without all-case access never get
EXACT_STATISTICS = ("value", "z", "p", "p_fdr", "max_z")


def withhold_statistics(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every column of :data:`EXACT_STATISTICS` it has set to null (a copy).

    Why all of them and not only where a count is small: a Gi* z-score is
    ``(Σ_j w_ij x_j − x̄ W_i) / (s √((n W_i − W_i²)/(n−1)))``, affine in the counts ``x`` with
    public weights, so the vector of z's determines ``x`` up to ``a·x + b``; the published zeros
    fix ``b`` and the perturbed counts ``a``, and rounding returns every suppressed count
    (``tests/api/test_api_disclosure.py`` runs that attack).  p-values are monotone in |z| per
    unit and leak the same way; the confidence class (bin) is kept: an interval, not a value.
    """
    out = frame.copy()
    for column in EXACT_STATISTICS:
        if column in out.columns:
            out[column] = pd.Series([None] * len(out), index=out.index, dtype=object)
    return out


#: run-summary entries that are exact case counts or follow from them (a KDE peak density is
#: one or two cases over a kernel's area): left out of what a role without all-case access sees
EXACT_SUMMARY_KEYS = (
    "cases_matched",
    "cases_located",
    "cases_in_units",
    "cases_outside_units",
    "max_density_per_km2",
)


def withhold_summary(summary: dict) -> dict:
    """A hot-spot run's summary without its exact counts (:data:`EXACT_SUMMARY_KEYS`, and the
    ``cases`` and z of each of ``top_areas``), as roles without all-case access see it: a run over
    one category of one township names its small total otherwise, whatever its cells show."""
    out = {k: v for k, v in summary.items() if k not in EXACT_SUMMARY_KEYS}
    if "top_areas" in out:
        out["top_areas"] = [
            {k: v for k, v in area.items() if k not in ("cases", *EXACT_STATISTICS)}
            for area in out["top_areas"]
        ]
    return out


def run_cell_labels(run: dict | pd.Series, unit_ids: Iterable[object]) -> pd.Series:
    """Cell labels of a stored hot-spot run's units: the record selection (plan, unit kind, H3
    resolution, filters — not the method or the run id, so two runs over the same cases give
    the same noise) and the unit id."""
    import json

    def _json(value: object) -> object:
        if isinstance(value, str) and value:
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value or {}

    params = _json(run.get("params")) if hasattr(run, "get") else {}
    resolution = params.get("h3_resolution") if isinstance(params, dict) else None
    selection = json.dumps(
        {
            "plan": run.get("plan_id"),
            "unit": run.get("unit_kind"),
            "h3": resolution,
            "filters": _json(run.get("filters")),
        },
        sort_keys=True,
        default=str,
    )
    return "run|" + selection + "|" + pd.Series(list(unit_ids), dtype=object).astype(str)
