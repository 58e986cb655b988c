"""Hotspot runs judged against the planted truth of the synthetic city.

The synthetic city (:func:`gridmap.synth.synthesize`) plants hotspots: discs in which
the case rate of some kinds/categories is multiplied month by month (``truth["hotspots"]``,
see :mod:`gridmap.synth.hotspots`).  :func:`evaluate_against_truth` answers, for stored
Gi* and emerging-hot-spot runs:

* **found**: a planted hotspot is found when a unit holding some of its households
  (an address inside its disc) is a significant hot unit (``p_fdr <= alpha``, ``z > 0``)
  of a Gi* run whose filters cover the hotspot's kinds, categories and active months;
* **false areas**: a hot-spot area (contiguous significant hot units, ``hotspot_areas``)
  is *explained* when planted cases account for most of its excess over the null of its
  run — ``planted >= min_explained × (cases − expected)`` with ``expected`` the cases the
  area's units would get without any hotspot: the mean count per unit for ``value="count"``
  runs (Gi* on counts compares units with the mean unit), the city rate per household ×
  the area's households for rate runs.  An area that is not explained is a false hot-spot
  area, also when it touches a planted disc (a dense core merged with a hotspot);
* **classes**: the emerging class of the units inside each growing / fading hotspot (units
  with at least ``min_inside`` of their households in the disc; the unit with the largest
  share when none is — units the disc only clips carry little of its signal); growing
  (also ``new``) ones should be intensifying, new or consecutive hot spots, fading ones
  diminishing or historical.  The verdict weights those units by the hotspot's households
  in them: at least half of those households must sit in units with an accepted class.

"Planted cases" are the cases the synthesis generated from a hotspot's or drift zone's
excess (``case_truth["hotspot_id"]``) and, when ``case_truth`` has ``trigger`` and
``parent_case_id``, the triggered offspring of background cases (repeat chains, see
``_label_chains``); without ``case_truth`` they are estimated as the cases of
the hotspot's kinds/categories, geocoded inside its disc during its active months (an
upper bound: it includes the background of the disc).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.cases import CaseFilter, filter_cases
from gridmap.crs import to_local
from gridmap.errors import InputError
from gridmap.hotspots.aggregate import case_lonlat, locate_in_polygons
from gridmap.store.base import Store

#: emerging classes that count as right for a trend
ACCEPTED_CLASSES: dict[str, tuple[str, ...]] = {
    "growing": ("intensifying_hot_spot", "new_hot_spot", "consecutive_hot_spot"),
    "fading": ("diminishing_hot_spot", "historical_hot_spot"),
}
CASE_COLUMNS = ["case_id", "kind", "category", "status", "reported_at", "lon", "lat", "geometry"]


@dataclass(frozen=True)
class RunFrames:
    """One hotspot run: its parameters and its per-unit results (and hot-spot areas for Gi*).

    ``results``: GeoDataFrame (EPSG:4326) with ``unit_id``, ``count``, ``z``, ``p_fdr``,
    ``label`` (emerging class for emerging runs) and the unit polygons; ``areas``: the run's
    ``hotspot_areas`` rows (``sign``, ``rank``, ``unit_ids`` JSON list, …).
    """

    run_id: str
    method: str
    filters: dict
    params: dict
    summary: dict
    results: gpd.GeoDataFrame
    areas: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def alpha(self) -> float:
        return float(self.summary.get("alpha") or self.params.get("alpha") or 0.05)

    @property
    def value(self) -> str:
        return str(self.params.get("value") or "count")


@dataclass(frozen=True)
class EvaluationInputs:
    """Everything the evaluation reads, as frames (what :func:`load_inputs` takes from a store).

    ``cases``: the store's case columns kind, category, status, reported_at and the geocoded
    position (``lon``/``lat`` or point geometry, WGS-84) — no personal fields are needed;
    ``addresses``: address_id, households and point geometry (WGS-84).
    """

    runs: list[RunFrames]
    cases: pd.DataFrame
    addresses: gpd.GeoDataFrame


@dataclass(frozen=True)
class HotspotVerdict:
    """What the runs made of one planted hotspot.

    ``units``: units holding some of its households; ``planted_cases``: cases it generated
    that its Gi* runs counted (largest over the runs); ``found_by``: the Gi* runs with a
    significant hot unit among ``units``; ``hot_units``: most such units in one run;
    ``min_p_fdr``: smallest FDR-adjusted p among ``units``; ``classes``: emerging class →
    number of units inside the hotspot (first matching emerging run); ``accepted_share``:
    share of the hotspot's households in those units that sit in units with an accepted
    class (all matching emerging runs pooled).
    """

    hotspot_id: str
    setting: str
    trend: str
    new: bool
    kinds: tuple[str, ...]
    radius_m: float
    households: int
    units: int
    planted_cases: int
    gi_runs: tuple[str, ...]
    found_by: tuple[str, ...]
    hot_units: int
    min_p_fdr: float
    emerging_runs: tuple[str, ...]
    classes: dict[str, int]
    accepted_share: float | None

    @property
    def found(self) -> bool:
        return bool(self.found_by)

    @property
    def expected_classes(self) -> tuple[str, ...]:
        return ACCEPTED_CLASSES.get(self.trend, ())

    @property
    def classed_ok(self) -> bool | None:
        """True/False for growing and fading hotspots seen by an emerging run, else None."""
        if not self.expected_classes or self.accepted_share is None:
            return None
        return self.accepted_share >= 0.5


@dataclass(frozen=True)
class AreaVerdict:
    """One hot-spot area of a Gi* run and how much of it the planted hotspots explain."""

    run_id: str
    rank: int
    units: int
    cases: float
    expected_cases: float
    planted_cases: int
    hotspot_ids: tuple[str, ...]
    centre_lon: float
    centre_lat: float
    min_explained: float

    @property
    def excess(self) -> float:
        return self.cases - self.expected_cases

    @property
    def explained_share(self) -> float:
        """Planted cases / excess over the null (inf when the area has no excess)."""
        return self.planted_cases / self.excess if self.excess > 0 else float("inf")

    @property
    def false(self) -> bool:
        return self.planted_cases == 0 or (self.excess > 0 and self.explained_share < self.min_explained)


@dataclass(frozen=True)
class TruthEvaluation:
    """Verdicts on every planted hotspot and every hot-spot area of the evaluated runs."""

    hotspots: list[HotspotVerdict]
    areas: list[AreaVerdict]
    runs: dict[str, dict]
    min_explained: float

    @property
    def all_found(self) -> bool:
        return all(h.found for h in self.hotspots)

    @property
    def missed(self) -> list[str]:
        return [h.hotspot_id for h in self.hotspots if not h.found]

    @property
    def false_areas(self) -> list[AreaVerdict]:
        return [a for a in self.areas if a.false]

    @property
    def misclassed(self) -> list[str]:
        return [h.hotspot_id for h in self.hotspots if h.classed_ok is False]

    @property
    def unclassed(self) -> list[str]:
        """Growing/fading hotspots no emerging run looked at."""
        return [h.hotspot_id for h in self.hotspots if h.expected_classes and h.classed_ok is None]

    @property
    def passed(self) -> bool:
        """Every hotspot found, no false area, every growing/fading hotspot classed as its trend."""
        return self.all_found and not self.false_areas and not self.misclassed and not self.unclassed

    def hotspots_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{**h.__dict__, "found": h.found, "classed_ok": h.classed_ok} for h in self.hotspots]
        )

    def areas_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {**a.__dict__, "excess": a.excess, "explained_share": a.explained_share, "false": a.false}
                for a in self.areas
            ]
        )

    def summary(self) -> str:
        lines = []
        for run_id, info in self.runs.items():
            lines.append(
                f"run {run_id}: {info['method']} value={info['value']} alpha={info['alpha']} "
                f"filters={json.dumps(info['filters'], ensure_ascii=False)}"
            )
        lines.append(
            f"planted hotspots: {len(self.hotspots)}, found {sum(h.found for h in self.hotspots)}"
            + (f" (missed: {', '.join(self.missed)})" if self.missed else "")
        )
        for h in self.hotspots:
            trend = h.trend + (" (new)" if h.new else "")
            found = (
                f"found by {len(h.found_by)}/{len(h.gi_runs)} runs, {h.hot_units}/{h.units} units hot"
                if h.found
                else f"MISSED ({len(h.gi_runs)} runs, min p_fdr {h.min_p_fdr:.3g})"
            )
            line = (
                f"  {h.hotspot_id} {h.setting:<11} {trend:<14} r={h.radius_m:.0f} m, {h.households} hh, "
                f"{h.planted_cases} planted cases: {found}"
            )
            if h.classes:
                hist = ", ".join(
                    f"{k.replace('_hot_spot', '').replace('_spot', '')} {v}"
                    for k, v in sorted(h.classes.items(), key=lambda kv: -kv[1])
                )
                verdict = "" if h.classed_ok is None else (" ok" if h.classed_ok else " WRONG")
                share = "" if h.accepted_share is None else f" ({h.accepted_share:.0%} of hh accepted)"
                line += f"; classes: {hist}{share}{verdict}"
            lines.append(line)
        false = self.false_areas
        lines.append(
            f"hot-spot areas: {len(self.areas)}, false {len(false)} "
            f"(explained: planted ≥ {self.min_explained:.0%} of the excess over the null)"
        )
        for a in self.areas:
            tag = "FALSE" if a.false else "ok"
            share = "-" if not np.isfinite(a.explained_share) else f"{a.explained_share:.0%}"
            lines.append(
                f"  {tag:<5} {a.run_id} #{a.rank}: {a.units} units, {a.cases:.0f} cases, "
                f"{a.expected_cases:.1f} expected, {a.planted_cases} planted ({share} of excess), "
                f"hotspots {','.join(a.hotspot_ids) or '-'} near {a.centre_lon:.4f},{a.centre_lat:.4f}"
            )
        lines.append("PASS" if self.passed else "FAIL")
        return "\n".join(lines)


# --- inputs ------------------------------------------------------------------------------------


def load_run(store: Store, run_id: str) -> RunFrames:
    """A stored run (``hotspot_runs``, ``hotspot_results``, ``hotspot_areas``) as frames."""
    rows = store.read("hotspot_runs", where={"run_id": run_id})
    if rows.empty:
        raise InputError(f"no hotspot run {run_id!r} in the store")
    row = rows.iloc[0]
    parsed = {
        k: json.loads(row[k]) if isinstance(row[k], str) and row[k] else {}
        for k in ("params", "filters", "summary")
    }
    results = store.read(
        "hotspot_results",
        where={"run_id": run_id},
        columns=["unit_id", "count", "value", "z", "p_fdr", "bin", "label", "geometry"],
    )
    areas = store.read(
        "hotspot_areas",
        where={"run_id": run_id},
        columns=["sign", "rank", "cases", "units", "unit_ids", "centre_lon", "centre_lat"],
    )
    return RunFrames(
        run_id,
        str(row["method"]),
        parsed["filters"],
        parsed["params"],
        parsed["summary"],
        results.reset_index(drop=True),
        pd.DataFrame(areas),
    )


def load_inputs(store: Store, run_ids: Sequence[str] | None = None) -> EvaluationInputs:
    """Runs (default: every Gi* and emerging run in the store), cases and addresses from ``store``."""
    if run_ids is None:
        runs = store.read("hotspot_runs", columns=["run_id", "method"])
        run_ids = runs.loc[runs["method"].isin(["gi", "emerging"]), "run_id"].tolist()
    if isinstance(run_ids, str):
        run_ids = [run_ids]
    frames = [load_run(store, r) for r in run_ids]
    cases = store.read("cases", columns=CASE_COLUMNS)
    addresses = store.read("addresses", columns=["address_id", "households", "geometry"])
    return EvaluationInputs(frames, cases, addresses)


# --- matching truth and runs -----------------------------------------------------------------


def _month_bounds(hotspot: dict) -> tuple[str, str]:
    """Active window of a hotspot as ``[start, end)`` ISO timestamps."""
    start = pd.Period(hotspot["window_start"], freq="M")
    end = pd.Period(hotspot["window_end"], freq="M") + 1
    return start.start_time.strftime("%Y-%m-%dT%H:%M:%S"), end.start_time.strftime("%Y-%m-%dT%H:%M:%S")


def _as_set(choice) -> set[str] | None:
    if choice is None:
        return None
    return {choice} if isinstance(choice, str) else set(choice)


def run_covers(run: RunFrames, hotspot: dict) -> bool:
    """Do the run's case filters take in the hotspot's kinds, categories and active months?"""
    f = CaseFilter.from_dict(run.filters)
    kinds, categories = _as_set(f.kind), _as_set(f.category)
    if kinds is not None and not kinds & set(hotspot["kinds"]):
        return False
    if categories is not None and not categories & set(hotspot["categories"]):
        return False
    start, end = _month_bounds(hotspot)
    return not ((f.start and f.start >= end) or (f.end and f.end <= start))


@dataclass
class _UnitSet:
    """Units of one plan/results layout: households per unit and each hotspot's households per unit."""

    households: np.ndarray
    covered: dict[str, pd.Series]  # hotspot id → households by unit position


def _unit_set(results: gpd.GeoDataFrame, addresses: gpd.GeoDataFrame, truth_hotspots: list[dict]) -> _UnitSet:
    geoms = results.geometry.reset_index(drop=True)
    lon = addresses.geometry.x.to_numpy()
    lat = addresses.geometry.y.to_numpy()
    where = locate_in_polygons(lon, lat, geoms)
    hh = pd.to_numeric(addresses["households"], errors="coerce").fillna(0).to_numpy(dtype=float)
    inside = where >= 0
    households = np.bincount(where[inside], weights=hh[inside], minlength=len(geoms))
    unit_of = pd.Series(where, index=addresses["address_id"].astype(str).to_numpy())
    hh_of = pd.Series(hh, index=unit_of.index)
    covered = {}
    for h in truth_hotspots:
        ids = [a for a in map(str, h["address_ids"]) if a in unit_of.index]
        units = unit_of.loc[ids].to_numpy()
        keep = units >= 0
        covered[h["id"]] = pd.Series(hh_of.loc[ids].to_numpy()[keep]).groupby(units[keep]).sum()
    return _UnitSet(households, covered)


def _inside(layout: _UnitSet, hotspot_id: str, min_inside: float) -> pd.Series:
    """The hotspot's households in the units mostly inside it (``min_inside`` of their households
    in the disc); the unit with the largest share when none is."""
    cover = layout.covered[hotspot_id]
    if cover.empty:
        return cover
    share = cover.to_numpy() / np.maximum(layout.households[cover.index.to_numpy()], 1.0)
    keep = share >= min_inside
    return cover[keep] if keep.any() else cover.iloc[[int(np.argmax(share))]]


def _planted_labels(
    cases: pd.DataFrame, truth_hotspots: list[dict], case_truth: pd.DataFrame | None
) -> np.ndarray:
    """Per case the id of the planted hotspot that generated it ("" for background)."""
    if case_truth is not None:
        if not {"case_id", "hotspot_id"} <= set(case_truth.columns):
            raise InputError("case_truth needs case_id and hotspot_id columns")
        ids = case_truth["case_id"].astype(str)
        by_case = pd.Series(case_truth["hotspot_id"].fillna("").astype(str).to_numpy(), index=ids.to_numpy())
        if {"trigger", "parent_case_id"} <= set(case_truth.columns):
            by_case = _label_chains(by_case, case_truth)
        return cases["case_id"].astype(str).map(by_case).fillna("").to_numpy(dtype=object)
    # no case truth: cases of the hotspot's kinds/categories inside its disc while it is active
    label = np.full(len(cases), "", dtype=object)
    lon, lat, located = case_lonlat(cases, return_mask=True)
    x, y = to_local(lon, lat)
    pos = np.flatnonzero(located)
    for h in truth_hotspots:
        cx, cy = to_local(np.array([h["centre_lon"]]), np.array([h["centre_lat"]]))
        start, end = _month_bounds(h)
        rows = cases.iloc[pos]
        when = rows["reported_at"].astype("string").str.replace(" ", "T", n=1)
        match = (
            (np.hypot(x - cx[0], y - cy[0]) <= h["radius_m"])
            & rows["kind"].isin(h["kinds"]).to_numpy()
            & rows["category"].isin(h["categories"]).to_numpy()
            & ((when >= start) & (when < end)).to_numpy(dtype=bool, na_value=False)
        )
        free = label[pos] == ""
        label[pos[match & free]] = h["id"]
    return label


def _label_chains(by_case: pd.Series, case_truth: pd.DataFrame) -> pd.Series:
    """Label the triggered offspring of background cases ``chain:<root case id>``.

    The synthesiser plants self-excitation (:mod:`gridmap.synth.selfexcite`): a share of
    the cases is triggered by an earlier case, at its address or nearby.  Offspring of a
    hotspot's case inherit its id; offspring of an ordinary (background) case have no
    hotspot id, yet they are planted structure too — a household that comes back four
    times in a season *is* a cluster in the data, and Gi* is right to see it.  Counting
    them as background made such a chain (plus the ordinary Poisson scatter around it) a
    "false" area with 0 planted cases.  So they carry a repeat-chain label: they count as
    planted in an area's explanation and leave the background rate (the null), like the
    hotspots' and drift zones' cases.  The root case itself stays background (it is an
    ordinary case; only its excess of children is planted), so an area is still false
    unless the chains account for ``min_explained`` of its excess.
    """
    trigger = case_truth["trigger"].fillna("").astype(str).to_numpy()
    parent = pd.Series(case_truth["parent_case_id"].fillna("").astype(str).to_numpy(), index=by_case.index)
    offspring = (trigger != "") & (by_case.to_numpy() == "")
    if not offspring.any():
        return by_case
    root = parent[offspring]
    for _ in range(len(parent)):  # walk up the generations (parents always come earlier)
        up = root.map(parent).fillna("")
        more = up != ""
        if not more.any():
            break
        root[more] = up[more]
    out = by_case.copy()
    out[offspring] = ("chain:" + root).to_numpy()
    return out


def _run_cases(
    run: RunFrames, cases: pd.DataFrame, planted: np.ndarray, results: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Unit position (-1 outside) and planted label of each case the run counted."""
    keep = filter_cases(cases.assign(_row=np.arange(len(cases))), run.filters)
    lon, lat, located = case_lonlat(keep, return_mask=True)
    rows = keep["_row"].to_numpy()[located]
    where = locate_in_polygons(lon, lat, results.geometry.reset_index(drop=True))
    return where, planted[rows]


# --- evaluation ------------------------------------------------------------------------------


def evaluate_against_truth(
    source: Store | EvaluationInputs,
    truth: dict,
    run_ids: Sequence[str] | str | None = None,
    case_truth: pd.DataFrame | None = None,
    min_explained: float = 0.5,
    min_inside: float = 0.5,
) -> TruthEvaluation:
    """Judge Gi* and emerging-hot-spot runs against the planted hotspots (see module docstring).

    Parameters
    ----------
    source : Store or EvaluationInputs
        a store holding the runs, cases and addresses, or the same as frames.
    truth : dict
        the synthetic city's truth (``SynthCity.truth`` or ``truth.json``) with ``hotspots``.
    run_ids : list of str or None
        runs to judge (``gi`` and ``emerging``; others are refused); None → every Gi* and
        emerging run of ``source``.
    case_truth : DataFrame or None
        ``SynthCity.case_truth`` (case_id, hotspot_id; optionally trigger, parent_case_id):
        which cases a hotspot or drift zone generated, and which were triggered by a background case.
    min_explained : float
        share of an area's excess over the null that planted cases must account for.
    min_inside : float
        a unit is inside a hotspot when this share of its households lives in the disc;
        the emerging classes are judged on those units.

    Returns
    -------
    TruthEvaluation
    """
    hotspots = truth.get("hotspots") if isinstance(truth, dict) else None
    if not hotspots:
        raise InputError("truth has no planted hotspots (expected truth['hotspots'] from the synthetic city)")
    for name, share in (("min_explained", min_explained), ("min_inside", min_inside)):
        if not 0 < share <= 1:
            raise InputError(f"{name} must be in (0, 1], got {share}")
    if isinstance(run_ids, str):
        run_ids = [run_ids]
    if isinstance(source, EvaluationInputs):
        inputs = source
        if run_ids is not None:
            wanted = set(run_ids)
            missing = wanted - {r.run_id for r in inputs.runs}
            if missing:
                raise InputError(f"runs {sorted(missing)} are not among the inputs")
            inputs = EvaluationInputs(
                [r for r in inputs.runs if r.run_id in wanted], inputs.cases, inputs.addresses
            )
    else:
        inputs = load_inputs(source, run_ids)
    bad = [r.run_id for r in inputs.runs if r.method not in ("gi", "emerging")]
    if bad:
        raise InputError(f"only gi and emerging runs can be judged against the truth, not {bad}")
    if not inputs.runs:
        raise InputError("no gi or emerging run to evaluate")

    planted = _planted_labels(inputs.cases, hotspots, case_truth)
    layouts: dict[tuple, _UnitSet] = {}
    per_hotspot: dict[str, dict] = {
        h["id"]: {
            "gi": [],
            "found": [],
            "hot": 0,
            "min_p": np.inf,
            "planted": 0,
            "units": 0,
            "em": [],
            "classes": None,
            "ok_hh": 0.0,
            "all_hh": 0.0,
        }
        for h in hotspots
    }
    areas: list[AreaVerdict] = []
    runs_info = {}
    for run in inputs.runs:
        results = run.results.reset_index(drop=True)
        key = tuple(results["unit_id"].astype(str))
        if key not in layouts:
            layouts[key] = _unit_set(results, inputs.addresses, hotspots)
        layout = layouts[key]
        where, labels = _run_cases(run, inputs.cases, planted, results)
        runs_info[run.run_id] = {
            "method": run.method,
            "value": run.value,
            "alpha": run.alpha,
            "filters": run.filters,
        }
        if run.method == "gi":
            z = pd.to_numeric(results["z"], errors="coerce").to_numpy(dtype=float)
            p_fdr = pd.to_numeric(results["p_fdr"], errors="coerce").to_numpy(dtype=float)
            hot = (p_fdr <= run.alpha) & (z > 0)
            for h in hotspots:
                if not run_covers(run, h):
                    continue
                state = per_hotspot[h["id"]]
                units = layout.covered[h["id"]].index.to_numpy()
                state["gi"].append(run.run_id)
                state["units"] = max(state["units"], len(units))
                state["planted"] = max(state["planted"], int(((labels == h["id"]) & (where >= 0)).sum()))
                if len(units):
                    state["min_p"] = min(state["min_p"], float(np.nanmin(np.r_[p_fdr[units], np.inf])))
                    n_hot = int(hot[units].sum())
                    state["hot"] = max(state["hot"], n_hot)
                    if n_hot:
                        state["found"].append(run.run_id)
            areas.extend(_judge_areas(run, results, layout, where, labels, hotspots, min_explained))
        else:
            label = results["label"].astype("string").fillna("no_pattern_detected").to_numpy(dtype=object)
            for h in hotspots:
                if not run_covers(run, h):
                    continue
                state = per_hotspot[h["id"]]
                cover = _inside(layout, h["id"], min_inside)
                state["em"].append(run.run_id)
                if state["classes"] is None:
                    state["classes"] = pd.Series(label[cover.index.to_numpy()]).value_counts().to_dict()
                accepted = np.isin(label[cover.index.to_numpy()], ACCEPTED_CLASSES.get(h["trend"], ()))
                state["ok_hh"] += float(cover.to_numpy()[accepted].sum())
                state["all_hh"] += float(cover.sum())

    verdicts = []
    for h in hotspots:
        s = per_hotspot[h["id"]]
        verdicts.append(
            HotspotVerdict(
                hotspot_id=h["id"],
                setting=h.get("setting", ""),
                trend=h["trend"],
                new=bool(h.get("new", False)),
                kinds=tuple(h["kinds"]),
                radius_m=float(h["radius_m"]),
                households=int(h.get("households", 0)),
                units=s["units"],
                planted_cases=s["planted"],
                gi_runs=tuple(s["gi"]),
                found_by=tuple(s["found"]),
                hot_units=s["hot"],
                min_p_fdr=float(s["min_p"]) if np.isfinite(s["min_p"]) else float("nan"),
                emerging_runs=tuple(s["em"]),
                classes={str(k): int(v) for k, v in (s["classes"] or {}).items()},
                accepted_share=(s["ok_hh"] / s["all_hh"]) if s["em"] and s["all_hh"] > 0 else None,
            )
        )
    return TruthEvaluation(verdicts, areas, runs_info, float(min_explained))


def _judge_areas(
    run: RunFrames,
    results: gpd.GeoDataFrame,
    layout: _UnitSet,
    where: np.ndarray,
    labels: np.ndarray,
    hotspots: list[dict],
    min_explained: float,
) -> list[AreaVerdict]:
    """Each hot area of a Gi* run against the null the run's statistic compares it with."""
    if run.areas is None or run.areas.empty:
        return []
    position = pd.Series(np.arange(len(results)), index=results["unit_id"].astype(str))
    inside = where >= 0
    background = inside & (labels == "")
    n_units = len(results)
    if run.value == "count":
        per_unit = np.full(n_units, background.sum() / n_units)
    else:  # rates per household: the city's background rate × the unit's households
        usable = layout.households > 0
        rate = (
            np.bincount(where[background], minlength=n_units)[usable].sum() / layout.households[usable].sum()
        )
        per_unit = rate * layout.households
    planted_unit = np.bincount(where[inside & (labels != "")], minlength=n_units)
    cases_unit = np.bincount(where[inside], minlength=n_units)
    out = []
    for _, area in run.areas[run.areas["sign"] == 1].iterrows():
        ids = [str(u) for u in json.loads(area["unit_ids"])]
        pos = position.reindex(ids).dropna().to_numpy(dtype=np.int64)
        touched = tuple(
            h["id"] for h in hotspots if np.isin(layout.covered[h["id"]].index.to_numpy(), pos).any()
        )
        out.append(
            AreaVerdict(
                run_id=run.run_id,
                rank=int(area["rank"]),
                units=len(pos),
                cases=float(cases_unit[pos].sum()),
                expected_cases=float(per_unit[pos].sum()),
                planted_cases=int(planted_unit[pos].sum()),
                hotspot_ids=touched,
                centre_lon=float(area["centre_lon"]),
                centre_lat=float(area["centre_lat"]),
                min_explained=min_explained,
            )
        )
    return out


__all__ = [
    "ACCEPTED_CLASSES",
    "AreaVerdict",
    "EvaluationInputs",
    "HotspotVerdict",
    "RunFrames",
    "TruthEvaluation",
    "evaluate_against_truth",
    "load_inputs",
    "load_run",
    "run_covers",
]
