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
    "found",
    "resolved",
    "resolution_rate",
    "median_hours_to_accept",
    "median_hours_to_resolve",
    "overdue_open",
    "followups_done",
    "mean_satisfaction",
    "petitions_cases",
    "petitions_persons",
)
YOY_MEASURES = (
    "found",
    "resolved",
    "resolution_rate",
    "overdue_open",
    "petitions_cases",
    "petitions_persons",
)
COUNT_MEASURES = (
    "found",
    "resolved",
    "overdue_open",
    "followups_done",
    "petitions_cases",
    "petitions_persons",
)


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
    frame = pd.DataFrame(
        {"code": text_column(admin_units, "code"), "parent": text_column(admin_units, "parent_code")}
    )
    return frame.dropna(subset=["code"]).drop_duplicates("code").set_index("code")["parent"]


def _codes_by_level(admin_units: pd.DataFrame | None) -> dict[str, set[str]]:
    if admin_units is None:
        return {}
    frame = pd.DataFrame(
        {"code": text_column(admin_units, "code"), "level": text_column(admin_units, "level")}
    )
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
    out = pd.DataFrame(
        {
            "found": by_unit.size(),
            "resolved": by_unit["resolved"].sum(),
            "followups_done": (found["followup_done"] == 1).groupby(found["unit"]).sum(),
            "mean_satisfaction": by_unit["satisfaction"].mean(),
        }
    )
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
    petition_counts = pd.DataFrame(
        {
            "petitions_cases": petitions.groupby("unit").size(),
            "petitions_persons": persons.groupby(petitions["unit"]).sum(),
        }
    )
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
    if level == "city" and not len(units):  # the city always has its row, zeros included
        units = pd.Index(unit_codes(pd.DataFrame(index=[0]), "city", admin_units).to_list(), name="unit")
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
    return pd.DataFrame(
        {"month": list(months), "found": found.to_numpy(np.int64), "resolved": resolved.to_numpy(np.int64)}
    )


# --- petition agency (信访代办) -------------------------------------------------------------

ITEM_LEVELS = ("agent", "village", "township", "county", "city")
ITEM_MEASURES = (
    "items_taken",
    "items_done",
    "done_rate",
    "followed_up",
    "followup_rate",
    "mean_visit_satisfaction",
)
ITEM_YOY_MEASURES = ("items_taken", "items_done", "done_rate")
ITEM_COUNT_MEASURES = ("items_taken", "items_done", "followed_up")


def _item_measures(items: pd.DataFrame, visits: pd.DataFrame, period: Period) -> pd.DataFrame:
    """:data:`ITEM_MEASURES` per unit (index) for the items taken on in ``period``."""
    end = period.end_ts
    taken = items[period.contains(items["taken_at"])]
    done = taken[taken["done_at"].notna() & (taken["done_at"] < end)]
    seen = visits[visits["visited_at"] < end].merge(done[["item_id", "done_at", "unit"]], on="item_id")
    seen = seen[seen["visited_at"] >= seen["done_at"]]
    latest = seen.sort_values("visited_at").drop_duplicates("item_id", keep="last")
    out = pd.DataFrame(
        {
            "items_taken": taken.groupby("unit").size(),
            "items_done": done.groupby("unit").size(),
            "followed_up": latest.groupby("unit").size(),
            "mean_visit_satisfaction": latest.groupby("unit")["satisfaction"].mean(),
        }
    )
    for column in ITEM_COUNT_MEASURES:
        out[column] = out[column].fillna(0).astype(np.int64)
    out["done_rate"] = (out["items_done"] / out["items_taken"]).where(out["items_taken"] > 0)
    out["followup_rate"] = (out["followed_up"] / out["items_done"]).where(out["items_done"] > 0)
    return out[list(ITEM_MEASURES)]


def item_kpis(
    items: pd.DataFrame,
    visits: pd.DataFrame | None,
    level: str,
    period: str | Period,
    compare_previous_year: bool = True,
    admin_units: pd.DataFrame | None = None,
    cases: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Petition-agency KPIs per agent / village / township / county / city for a period.

    Definitions (items taken on in the period, local time):

    * ``items_taken`` (代办件数): items whose ``taken_at`` falls in the period;
    * ``items_done`` (办结): of those, done before the period's end; ``done_rate`` = done / taken;
    * ``followed_up`` (已回访): done items with a follow-up visit after ``done_at`` and before the
      period's end; ``followup_rate`` = followed up / done;
    * ``mean_visit_satisfaction``: mean satisfaction (1–5) of each followed-up item's latest visit;
    * at the agent level with ``cases`` given: ``petitions_cases`` / ``petitions_persons`` — the
      petitions behind the agent's items and the sum of their ``persons`` (a blank counts 1),
      with ``*_prev`` and ``*_yoy_ratio``.

    An item's unit above the agent is the petitioner's village/township/county recorded on the
    item (``village_code``, ``township_code``, ``county_code``), derived upwards as in
    :func:`unit_codes`.  同比 (``*_prev``, ``*_yoy_abs``, ``*_yoy_ratio``) for
    :data:`ITEM_YOY_MEASURES`, as in :func:`case_kpis`.  Rates are 0–1 fractions.
    """
    from gridmap.coverage.duty import first_visits, prepare_items

    if level not in ITEM_LEVELS:
        raise InputError(f"level {level!r}: use one of {', '.join(ITEM_LEVELS)}")
    period = parse_period(period)
    prepared = prepare_items(items)
    prepared["unit"] = (
        prepared["agent_id"].fillna(UNPLACED)
        if level == "agent"
        else unit_codes(prepared, level, admin_units)
    ).to_numpy()
    seen = first_visits(visits)
    table = _item_measures(prepared, seen, period)
    if compare_previous_year:
        prev = _item_measures(prepared, seen, period.previous_year())[list(ITEM_YOY_MEASURES)].add_suffix(
            "_prev"
        )
        table = table.join(prev, how="outer")
    if admin_units is not None and level not in ("agent", "city"):
        listed = admin_units[text_column(admin_units, "level") == level]
        table = table.reindex(table.index.union(pd.Index(text_column(listed, "code").dropna())))
    for column in ITEM_COUNT_MEASURES:
        table[column] = table[column].fillna(0).astype(np.int64)
    if compare_previous_year:
        for measure in ITEM_YOY_MEASURES:
            before = table[f"{measure}_prev"]
            if measure in ITEM_COUNT_MEASURES:
                before = table[f"{measure}_prev"] = before.fillna(0).astype(np.int64)
            table[f"{measure}_yoy_abs"] = table[measure] - before
            table[f"{measure}_yoy_ratio"] = (table[measure] / before - 1.0).where(before > 0)
    if level == "agent" and cases is not None:
        persons = pd.to_numeric(
            cases.drop_duplicates("case_id").set_index("case_id")["persons"], errors="coerce"
        )
        spans = [("", period)] + ([("_prev", period.previous_year())] if compare_previous_year else [])
        for suffix, span in spans:
            taken = prepared[span.contains(prepared["taken_at"])].drop_duplicates(["unit", "case_id"])
            count = persons.reindex(taken["case_id"]).fillna(1).clip(lower=1).to_numpy()
            table["petitions_cases" + suffix] = (
                taken.groupby("unit").size().reindex(table.index).fillna(0).astype(np.int64)
            )
            table["petitions_persons" + suffix] = (
                pd.Series(count, index=taken["unit"].to_numpy())
                .groupby(level=0)
                .sum()
                .reindex(table.index)
                .fillna(0)
                .astype(np.int64)
            )
        if compare_previous_year:
            for measure in ("petitions_cases", "petitions_persons"):
                before = table[f"{measure}_prev"]
                table[f"{measure}_yoy_ratio"] = (table[measure] / before - 1.0).where(before > 0)
    table.index.name = "unit_code"
    table = table.reset_index()
    table.insert(0, "level", level)
    table.insert(2, "period", str(period))
    return table.sort_values("unit_code", ignore_index=True)


def governance_kpis(
    cases: pd.DataFrame,
    items: pd.DataFrame | None,
    visits: pd.DataFrame | None,
    level: str,
    period: str | Period,
    compare_previous_year: bool = True,
    admin_units: pd.DataFrame | None = None,
    kinds: tuple[str, ...] = ("dispute",),
) -> pd.DataFrame:
    """:func:`case_kpis` and :func:`item_kpis` side by side, one row per unit (agents: items only)."""
    if level == "agent":
        return item_kpis(items, visits, level, period, compare_previous_year, admin_units, cases=cases)
    table = case_kpis(
        cases,
        level,
        period,
        compare_previous_year=compare_previous_year,
        admin_units=admin_units,
        kinds=kinds,
    )
    if items is None or not len(items) or level == "grid":
        return table
    agency = item_kpis(items, visits, level, period, compare_previous_year, admin_units)
    agency = agency.drop(columns=["level", "period"]).set_index("unit_code")
    table = table.join(agency, on="unit_code", how="left")
    for column in (c for c in agency.columns if c in ITEM_COUNT_MEASURES or c.endswith("_prev")):
        if column.removesuffix("_prev") in ITEM_COUNT_MEASURES:
            table[column] = table[column].fillna(0).astype(np.int64)
    return table


def headline(row: pd.Series) -> list[str]:
    """The report's figures for one unit row of :func:`governance_kpis` (with 同比), as printed lines."""

    def pct(value) -> str:
        return (
            "–" if value is None or pd.isna(value) else f"{value:+.1%}".replace("+-", "−").replace("-", "−")
        )

    name = row.get("unit_name") or row.get("unit_code")
    lines = [f"{name} {row.get('unit_code')} {row.get('period')}"]
    if "found" in row:
        rate = row["resolution_rate"]
        lines.append(
            f"  矛盾纠纷 disputes found {int(row['found']):,}, resolved {int(row['resolved']):,}"
            f" ({'–' if pd.isna(rate) else f'{rate:.1%}'})"
        )
    if "petitions_cases" in row:
        lines.append(
            f"  信访 petitions {int(row['petitions_cases']):,} cases (同比 {pct(row.get('petitions_cases_yoy_ratio'))}),"
            f" {int(row['petitions_persons']):,} persons (同比 {pct(row.get('petitions_persons_yoy_ratio'))})"
        )
    if "items_taken" in row:
        done_rate, follow = row["done_rate"], row["followup_rate"]
        sat = row["mean_visit_satisfaction"]
        lines.append(
            f"  信访代办 agent items {int(row['items_taken']):,}, done {int(row['items_done']):,}"
            f" ({'–' if pd.isna(done_rate) else f'{done_rate:.1%}'}); followed up"
            f" {'–' if pd.isna(follow) else f'{follow:.1%}'}, satisfaction {'–' if pd.isna(sat) else f'{sat:.2f}'}/5"
        )
    return lines
