"""Governance KPIs per grid / village / township / county / city, with 同比 (year-on-year).

Definitions (all over the cases whose ``reported_at`` falls in the period, local time):

* ``found`` (排查): disputes reported in the period (``kinds``, default ``dispute``).
* ``resolved`` (化解): of those, status ``resolved`` or ``closed``.
* ``resolution_rate``: resolved / found (NaN when nothing was found).
* ``median_hours_to_accept``: median of ``accepted_at − reported_at`` (hours).
* ``median_hours_to_resolve``: median of ``resolved_at`` (else ``closed_at``) −
  ``reported_at`` over the resolved ones (hours).
* ``overdue_open``: disputes reported before the period's end, whose ``due_at`` passed
  before the end and which were not resolved at the end (backlog from earlier periods
  counts — it is still overdue).
* ``followups_done`` (回访): found cases with ``followup_done = 1``.
* ``mean_satisfaction``: mean ``satisfaction`` of the found cases that have one.
* ``petitions_cases`` (信访件次): petitions reported in the period;
  ``petitions_persons`` (信访人次): the sum of their ``persons`` (a blank counts 1).

同比 compares with the same calendar days a year earlier: ``<measure>_prev``,
``<measure>_yoy_abs`` (current − previous) and ``<measure>_yoy_ratio`` (current /
previous − 1, NaN when the previous value is 0 or missing).

The unit of a case at a level comes from its own column (``grid_code``,
``village_code``, ``township_code``, ``county_code``); a missing one is derived from
the level below — through ``admin_units.parent_code`` when an admin table is given,
otherwise from code prefixes (village → first 9 digits → township → first 6 digits →
county) with the one known exception: the 通辽经济技术开发区 townships (statistical
county 150571) lie in 科尔沁区 150502.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from gridmap.boundaries import DEV_ZONE_CODE, DEV_ZONE_HOST_COUNTY
from gridmap.coverage._cases import open_at, prepare_cases
from gridmap.coverage._frames import require_columns, text_column
from gridmap.coverage.periods import Period, parse_period
from gridmap.domain import AREA_CODE
from gridmap.errors import InputError

LEVELS = ("grid", "village", "township", "county", "city")
#: unit code for cases that cannot be placed at the requested level (e.g. not geocoded to a grid)
UNPLACED = "unplaced"

MEASURES = (
    "found", "resolved", "resolution_rate", "median_hours_to_accept", "median_hours_to_resolve",
    "overdue_open", "followups_done", "mean_satisfaction", "petitions_cases", "petitions_persons",
)
YOY_MEASURES = ("found", "resolved", "resolution_rate", "overdue_open", "petitions_cases", "petitions_persons")
COUNT_MEASURES = ("found", "resolved", "overdue_open", "followups_done", "petitions_cases", "petitions_persons")


def unit_codes(cases: pd.DataFrame, level: str, admin_units: pd.DataFrame | None = None) -> pd.Series:
    """The code of the ``level`` unit each case belongs to (:data:`UNPLACED` when unknown).

    ``cases`` needs the code columns it has (any of grid_code, village_code,
    township_code, county_code); ``admin_units`` (code, level, parent_code) switches the
    upward derivation from prefixes to the parent chain.
    """
    if level not in LEVELS:
        raise InputError(f"level {level!r}: use one of {', '.join(LEVELS)}")
    if level == "city":
        city = AREA_CODE
        if admin_units is not None and (admin_units["level"] == "city").any():
            city = str(admin_units.loc[admin_units["level"] == "city", "code"].iloc[0])
        return pd.Series(city, index=cases.index, dtype="object")
    parents = _parent_map(admin_units)
    known = _codes_by_level(admin_units)
    grid = text_column(cases, "grid_code")
    if level == "grid":
        return grid.fillna(UNPLACED)
    village = _own_or_derived(text_column(cases, "village_code"), grid.str[:12], known.get("village"))
    if level == "village":
        return village.fillna(UNPLACED)
    from_village = village.str[:9]
    if parents is not None:
        from_village = village.map(parents).fillna(from_village)
    township = _own_or_derived(text_column(cases, "township_code"), from_village, known.get("township"))
    if level == "township":
        return township.fillna(UNPLACED)
    from_township = township.str[:6].where(township.str[:6] != DEV_ZONE_CODE, DEV_ZONE_HOST_COUNTY)
    if parents is not None:
        from_township = township.map(parents).fillna(from_township)
    own_county = text_column(cases, "county_code")
    if parents is None:
        own_county = own_county.where(own_county != DEV_ZONE_CODE, DEV_ZONE_HOST_COUNTY)
    county = _own_or_derived(own_county, from_township, known.get("county"))
    return county.fillna(UNPLACED)


def _own_or_derived(own: pd.Series, derived: pd.Series, valid: set[str] | None) -> pd.Series:
    """The case's own code where present (and a real unit of the level when the admin table is known)."""
    usable = own.notna()
    if valid is not None:
        usable &= own.isin(valid)
    return own.where(usable, derived.astype("object")).astype("object")


def _parent_map(admin_units: pd.DataFrame | None) -> pd.Series | None:
    if admin_units is None:
        return None
    require_columns(admin_units, ["code", "level", "parent_code"], "admin_units")
    frame = pd.DataFrame({"code": text_column(admin_units, "code"), "parent": text_column(admin_units, "parent_code")})
    return frame.dropna(subset=["code"]).drop_duplicates("code").set_index("code")["parent"]


def _codes_by_level(admin_units: pd.DataFrame | None) -> dict[str, set[str]]:
    if admin_units is None:
        return {}
    frame = pd.DataFrame({"code": text_column(admin_units, "code"), "level": text_column(admin_units, "level")})
    return {lvl: set(group["code"].dropna()) for lvl, group in frame.groupby("level")}


def _hours(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.total_seconds() / 3600.0


def _period_measures(prepared: pd.DataFrame, period: Period, kinds: tuple[str, ...]) -> pd.DataFrame:
    """One row per unit (index) with :data:`MEASURES` for one period."""
    in_period = period.contains(prepared["reported_at"])
    is_case = prepared["kind"].isin(kinds).to_numpy()
    is_petition = (prepared["kind"] == "petition").to_numpy()
    found = prepared[in_period & is_case]
    by_unit = found.groupby("unit", sort=True)
    out = pd.DataFrame({
        "found": by_unit.size(),
        "resolved": by_unit["resolved"].sum(),
        "followups_done": (found["followup_done"] == 1).groupby(found["unit"]).sum(),
        "mean_satisfaction": by_unit["satisfaction"].mean(),
    })
    accept_hours = _hours(found["accepted_at"], found["reported_at"])
    out["median_hours_to_accept"] = accept_hours.groupby(found["unit"]).median()
    solved = found[found["resolved"] & found["resolved_time"].notna()]
    resolve_hours = _hours(solved["resolved_time"], solved["reported_at"])
    out["median_hours_to_resolve"] = resolve_hours.groupby(solved["unit"]).median()

    end = period.end_ts
    overdue = is_case & open_at(prepared, end) & (prepared["due_at"] < end).to_numpy()
    overdue_counts = prepared.loc[overdue].groupby("unit").size()
    petitions = prepared[in_period & is_petition]
    persons = petitions["persons"].where(petitions["persons"].notna() & (petitions["persons"] > 0), 1)
    petition_counts = pd.DataFrame({
        "petitions_cases": petitions.groupby("unit").size(),
        "petitions_persons": persons.groupby(petitions["unit"]).sum(),
    })
    out = out.join(overdue_counts.rename("overdue_open"), how="outer").join(petition_counts, how="outer")
    for column in COUNT_MEASURES:
        out[column] = out[column].fillna(0).astype(np.int64)
    out["resolution_rate"] = (out["resolved"] / out["found"]).where(out["found"] > 0)
    return out[list(MEASURES)]


def case_kpis(
    cases: pd.DataFrame,
    level: str,
    period_start: str | date | Period,
    period_end: str | date | None = None,
    compare_previous_year: bool = True,
    admin_units: pd.DataFrame | None = None,
    kinds: tuple[str, ...] = ("dispute",),
) -> pd.DataFrame:
    """Dispute and petition KPIs per unit of ``level`` for a period (see the module doc).

    Parameters
    ----------
    cases : DataFrame
        The ``cases`` table (personal columns are ignored): needs ``case_id, kind,
        status, reported_at``; uses the other time columns, code columns, ``persons``,
        ``followup_done``, ``satisfaction`` when present.  Times are ISO local time.
    level : {"grid", "village", "township", "county", "city"}
    period_start, period_end
        Either a period spec in ``period_start`` (``"2024"``, ``"2024-12"``,
        ``"2024-Q4"``, ``"2024-01-01/2024-03-31"`` or a :class:`Period`) with
        ``period_end`` None, or two ISO dates (both included).
    compare_previous_year : bool
        Add the 同比 columns.
    admin_units : DataFrame, optional
        ``code, name, level, parent_code``: derive higher levels through the parent
        chain, add ``unit_name``, and list every unit of the level (zeros included).
    kinds : tuple of str
        Case kinds counted as found/resolved/overdue (default disputes only).

    Returns
    -------
    DataFrame, one row per unit sorted by ``unit_code``: ``level, unit_code,
    [unit_name], period`` + :data:`MEASURES` (+ ``*_prev, *_yoy_abs, *_yoy_ratio`` for
    :data:`YOY_MEASURES`).  Hours are hours; rates and shares are 0–1 fractions.
    """
    if isinstance(period_start, Period) or period_end is None:
        period = parse_period(period_start)
    else:
        period = parse_period(None, start=period_start, end=period_end)
    prepared = prepare_cases(cases)
    prepared["unit"] = unit_codes(prepared, level, admin_units).to_numpy()
    kinds = tuple(str(k).lower() for k in kinds)
    current = _period_measures(prepared, period, kinds)
    frames = [current]
    if compare_previous_year:
        previous = _period_measures(prepared, period.previous_year(), kinds)
        frames.append(previous[list(YOY_MEASURES)].add_suffix("_prev"))
    units = pd.Index(sorted(set().union(*(f.index for f in frames))), name="unit")
    names = None
    if admin_units is not None and level != "grid":
        listed = admin_units[text_column(admin_units, "level") == level]
        units = units.union(pd.Index(text_column(listed, "code").dropna(), name="unit"))
        if "name" in admin_units.columns:
            names = text_column(listed, "name").set_axis(text_column(listed, "code").to_numpy())
            names = names[~names.index.duplicated()]
    table = current.reindex(units)
    for column in COUNT_MEASURES:
        table[column] = table[column].fillna(0).astype(np.int64)
    if compare_previous_year:
        prev = frames[1].reindex(units)
        for measure in YOY_MEASURES:
            before = prev[f"{measure}_prev"]
            if measure in COUNT_MEASURES:
                before = before.fillna(0).astype(np.int64)
            now = table[measure]
            table[f"{measure}_prev"] = before
            table[f"{measure}_yoy_abs"] = now - before
            table[f"{measure}_yoy_ratio"] = (now / before - 1.0).where(before > 0)
    table = table.reset_index().rename(columns={"unit": "unit_code"})
    table.insert(0, "level", level)
    position = 2
    if names is not None:
        table.insert(position, "unit_name", table["unit_code"].map(names).astype("object"))
        position += 1
    table.insert(position, "period", str(period))
    return table.sort_values("unit_code", ignore_index=True)


def monthly_trend(
    cases: pd.DataFrame,
    period: str | Period,
    kinds: tuple[str, ...] = ("dispute",),
) -> pd.DataFrame:
    """Cases found and resolved per calendar month of ``period`` (months without cases included).

    Returns ``month`` (``YYYY-MM``), ``found``, ``resolved`` (of the month's found cases,
    status resolved/closed).
    """
    period = parse_period(period)
    prepared = prepare_cases(cases)
    chosen = prepared[period.contains(prepared["reported_at"]) & prepared["kind"].isin(kinds).to_numpy()]
    months = pd.period_range(period.start, period.end, freq="M").astype(str)
    month = chosen["reported_at"].dt.strftime("%Y-%m")
    found = month.value_counts().reindex(months, fill_value=0)
    resolved = month[chosen["resolved"]].value_counts().reindex(months, fill_value=0)
    return pd.DataFrame({"month": list(months), "found": found.to_numpy(np.int64), "resolved": resolved.to_numpy(np.int64)})
