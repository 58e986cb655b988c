"""Kind ``cases``: the case ledger (矛盾纠纷, 信访) → ``cases``, geocoded onto the active plan.

Read → compute → rows → write:

* **read**: :func:`gridmap.imports.reading.read_input` (CSV/XLSX/JSON; formula cells marked);
* **compute**: columns mapped by :data:`gridmap.geocode.intake.COLUMN_ALIASES`; each row's
  case id found — an external id only among external ids, an explicit internal
  ``case_id`` only among case ids; kind, category, status and times translated; address
  and coordinates geocoded (:func:`gridmap.geocode.batch.geocode_rows`) — only when the file
  carries them;
* **rows**: a :class:`~gridmap.imports.framework.Prepared` carrying only the columns the
  file has (a file with id and status changes the status and nothing else);
* **write**: :func:`gridmap.imports.framework.commit`.

A new case whose file has no kind is a dispute, with category ``other`` and status
``reported``; an existing case keeps what the file does not say.  A case a reviewer placed
keeps that placement while its address and coordinates are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import WGS84
from gridmap.domain import CATEGORIES
from gridmap.errors import InputError
from gridmap.imports.framework import (
    ACCEPTED,
    REJECTED,
    REVIEW,
    BatchReport,
    Prepared,
    Progress,
    commit,
    stable_key,
)
from gridmap.imports.reading import formula_reasons, read_input

KIND = "cases"
TABLE = "cases"
GEOCODE_COLUMNS = (
    "lon",
    "lat",
    "precision",
    "score",
    "geocode_status",
    "reason",
    "grid_code",
    "village_code",
    "township_code",
    "county_code",
    "geometry",
)
#: prefix of case ids derived from an external id (never equal to a synthetic or manual id)
EXTERNAL_PREFIX = "EXT-"


def _existing_cases(store, external: pd.Series | None, explicit: pd.Series | None) -> pd.DataFrame:
    columns = ["case_id", "external_id", "kind", "geocode_status", "address_text", "raw_lon", "raw_lat"]
    frames = []
    if external is not None and external.ne("").any():
        frames.append(
            pd.DataFrame(
                store.read(
                    "cases", where={"external_id": sorted(set(external[external.ne("")]))}, columns=columns
                )
            )
        )
    if explicit is not None and explicit.ne("").any():
        frames.append(
            pd.DataFrame(
                store.read(
                    "cases", where={"case_id": sorted(set(explicit[explicit.ne("")]))}, columns=columns
                )
            )
        )
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True).drop_duplicates("case_id")


def case_ids(fields: pd.DataFrame, existing: pd.DataFrame, sha256: str) -> np.ndarray:
    """The case id of each file row.

    * an explicit ``case_id`` column (系统编号) names internal ids and is matched only to them;
    * an external id (案件编号) is matched only to ``external_id``; an unknown one gets a new
      id derived from it (:data:`EXTERNAL_PREFIX` + hash), never the external text itself;
    * a row with neither is keyed by the file's checksum and its row number.
    """
    n = len(fields)
    external = fields["external_id"] if "external_id" in fields else pd.Series([""] * n)
    explicit = fields["case_id"] if "case_id" in fields else pd.Series([""] * n)
    by_external = {}
    if len(existing):
        with_ext = existing[existing["external_id"].notna()]
        by_external = dict(
            zip(with_ext["external_id"].astype(str), with_ext["case_id"].astype(str), strict=True)
        )
    derived = stable_key(EXTERNAL_PREFIX, external)
    ids = np.where(
        explicit.ne("").to_numpy(),
        explicit.to_numpy(dtype=object),
        np.where(
            external.ne("").to_numpy(),
            [by_external.get(e, d) for e, d in zip(external, derived, strict=True)],
            [f"IMP-{sha256[:12]}-{i + 1}" for i in range(n)],
        ),
    )
    return ids.astype(object)


def prepare(
    store,
    raw: pd.DataFrame,
    sha256: str,
    mapping: Mapping[str, str] | None = None,
    formula_cells: Mapping[int, list[str]] | None = None,
    context=None,
    batch_label: str = "import",
) -> Prepared:
    """Compute the rows of a case file (see the module doc); nothing is written."""
    from gridmap.geocode.batch import GeocodeContext, candidates_json, geocode_rows
    from gridmap.geocode.intake import (
        CATEGORY_VALUES,
        map_fields,
        reason_kind,
        resolve_mapping,
    )

    column_map = resolve_mapping(list(raw.columns), mapping)
    fields, reject, notes = map_fields(raw, column_map)
    n = len(fields)
    for i, message in formula_reasons(formula_cells, column_map, n).items():
        if not reject[i]:
            reject[i] = message

    external = fields.get("external_id", None)
    explicit = fields.get("case_id", None)
    existing = _existing_cases(store, external, explicit)
    ids = case_ids(fields, existing, sha256)
    if explicit is not None:
        unknown = (
            explicit.ne("").to_numpy() & ~pd.Series(ids).isin(set(existing["case_id"].astype(str))).to_numpy()
        )
        for i in np.flatnonzero(unknown & (reject == "")):
            reject[i] = f"no case with system id {ids[i]!r} (系统编号 names existing cases only)"
    old = existing.set_index("case_id") if len(existing) else existing
    is_existing = (
        pd.Series(ids).isin(set(old.index.astype(str))).to_numpy()
        if len(existing)
        else np.zeros(n, dtype=bool)
    )

    # The same case twice in one file: the last row wins, earlier ones are rejected.
    last = pd.Series(np.arange(n)).groupby(ids).transform("max").to_numpy()
    duplicate = (last != np.arange(n)) & (reject == "")
    reject[duplicate] = [
        f"duplicate external id: row {last[i] + 2} of the file has the same case"
        for i in np.flatnonzero(duplicate)
    ]

    records = pd.DataFrame({"case_id": ids})
    carried: list[str] = []
    keep: dict[str, np.ndarray] = {}
    for name in fields.columns:
        if name in ("case_id", "kind", "category"):
            continue
        records[name] = fields[name].to_numpy()
        carried.append(name)

    # kind and category: a new case needs both; an existing one changes only what the file gives
    old_kind = (
        old["kind"].reindex(ids).to_numpy(dtype=object) if len(existing) else np.full(n, None, dtype=object)
    )
    kind = fields["kind"].to_numpy(dtype=object) if "kind" in fields else np.full(n, None, dtype=object)
    kind = np.where(pd.isna(kind), np.where(pd.isna(old_kind), "dispute", old_kind), kind)
    records["kind"] = kind
    carried.append("kind")
    if "kind" not in fields:
        keep["kind"] = is_existing
        if (~is_existing).any():
            notes.append("no kind column: new cases are taken as disputes")
    text = fields["category"] if "category" in fields else pd.Series([""] * n)
    category = np.empty(n, dtype=object)
    unknown_category = 0
    for i, (k, c) in enumerate(zip(kind, text, strict=True)):
        value = CATEGORY_VALUES[k].get(c, c)
        if value not in CATEGORIES[k]:
            unknown_category += bool(c)
            value = "other" if k == "dispute" else "petition_other"
        category[i] = value
    if unknown_category:
        notes.append(f"{unknown_category} rows with an unknown category were filed as other")
    records["category"] = category
    carried.append("category")
    if "category" not in fields:
        keep["category"] = is_existing
    if "status" not in fields:
        records["status"] = "reported"
        carried.append("status")
        keep["status"] = is_existing
    else:
        unknown_status = pd.isna(records["status"]).to_numpy()
        if unknown_status.any():
            keep["status"] = unknown_status & is_existing
            records.loc[unknown_status, "status"] = "reported"
    if "source" not in fields:
        records["source"] = batch_label
        carried.append("source")
        keep["source"] = is_existing

    status = np.where(reject != "", REJECTED, ACCEPTED).astype(object)
    reason = reject.astype(object).copy()
    candidates: list[str | None] = [None] * n
    locates = bool({"address_text", "raw_lon", "raw_lat"} & set(fields.columns))
    if locates:
        if context is None:
            context = GeocodeContext.from_store(store)
        if context.grid_index is None:
            notes.append("no active grid plan: accepted cases get no grid")
        result = geocode_rows(
            context,
            fields["address_text"] if "address_text" in fields else [""] * n,
            fields.get("raw_lon"),
            fields.get("raw_lat"),
            fields.get("raw_crs"),
        )
        kept = _reviewer_placements(old, ids, is_existing & (reject == ""), fields)
        if kept.any():
            notes.append(
                f"{int(kept.sum())} cases placed by a reviewer kept their placement (location unchanged)"
            )
        for name in GEOCODE_COLUMNS[:-1]:
            records[name] = result[name].to_numpy()
            keep[name] = kept
        records["reason"] = records["reason"].replace("", None)
        good = result["geocode_status"].eq("accepted").to_numpy() & result["lon"].notna().to_numpy()
        geometry = np.full(n, None, dtype=object)
        geometry[good] = shapely.points(
            result["lon"].to_numpy(float)[good], result["lat"].to_numpy(float)[good]
        )
        records = gpd.GeoDataFrame(records, geometry=gpd.GeoSeries(geometry, crs=WGS84).values, crs=WGS84)
        keep["geometry"] = kept
        carried += list(GEOCODE_COLUMNS)
        geo_status = result["geocode_status"].to_numpy(dtype=object)
        live = (reject == "") & ~kept
        status[live] = geo_status[live]
        reason[live] = result["reason"].fillna("").to_numpy(dtype=object)[live]
        candidates = [
            candidates_json(c) if s == REVIEW else None
            for c, s in zip(result["candidates"], status, strict=True)
        ]
    else:
        new_without_place = ~is_existing & (reject == "")
        status[new_without_place] = REJECTED
        reason[new_without_place] = "a new case needs an address or coordinates"
        reject[new_without_place] = reason[new_without_place]
        notes.append("the file has no address and no coordinates: only existing cases are updated")
    for name in ("raw_lon", "raw_lat"):
        if name in records:
            records[name] = pd.to_numeric(records[name], errors="coerce")
    for name in ("external_id", "address_text", "raw_crs", "party_name", "party_phone", "party_id_number"):
        if name in records:
            records[name] = records[name].replace("", None)
    return Prepared(
        records=records,
        status=status,
        reason=reason,
        carried=carried,
        keep=keep,
        external_id=external.to_numpy(dtype=object) if external is not None else None,
        candidates=candidates,
        mapping=column_map,
        ignored_columns=[c for c in raw.columns if c not in column_map],
        notes=notes,
        reason_kind=reason_kind,
        write=reject == "",
    )


def _reviewer_placements(
    old: pd.DataFrame, ids: np.ndarray, candidates: np.ndarray, fields: pd.DataFrame
) -> np.ndarray:
    """Rows whose case a reviewer placed (``manual``) and whose location data did not change."""
    from gridmap.geocode.intake import _same_number, _text

    kept = np.zeros(len(ids), dtype=bool)
    if not len(old):
        return kept
    manual = set(old.index[old["geocode_status"].eq("manual").to_numpy()])
    for i in np.flatnonzero(candidates & np.array([c in manual for c in ids], dtype=bool)):
        row = old.loc[ids[i]]
        kept[i] = (
            (
                "address_text" not in fields
                or _text(row["address_text"]) == _text(fields.at[i, "address_text"])
            )
            and ("raw_lon" not in fields or _same_number(row["raw_lon"], fields.at[i, "raw_lon"]))
            and ("raw_lat" not in fields or _same_number(row["raw_lat"], fields.at[i, "raw_lat"]))
        )
    return kept


def import_file(
    store,
    source: str | Path | bytes,
    filename: str | None = None,
    mapping: Mapping[str, str] | None = None,
    *,
    actor: str = "system",
    context=None,
    sheet: str | None = None,
    encoding: str | None = None,
    crs: str | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
) -> BatchReport:
    """Import a case file into ``store``; returns the batch report.  ``crs`` declares the
    coordinate system of every row without a 坐标系 cell."""
    import time

    t0 = time.perf_counter()
    table = read_input(source, filename, sheet=sheet, encoding=encoding, max_bytes=max_bytes)
    raw = table.frame
    if crs:
        from gridmap.geocode.transform import canonical_crs

        canonical_crs(crs)  # refuse an unknown name before any work
        crs_columns = [
            c
            for c in raw.columns
            if c.strip().lower() in ("crs", "raw_crs", "坐标系", "坐标类型", "coordsys")
        ]
        if crs_columns:
            raw[crs_columns[0]] = raw[crs_columns[0]].where(raw[crs_columns[0]].str.strip() != "", crs)
        else:
            raw = raw.assign(坐标系=crs)
    if progress:
        progress(0.1, f"read {len(raw):,} rows; geocoding")
    prepared = prepare(
        store,
        raw,
        table.sha256,
        mapping,
        table.formula_cells,
        context=context,
        batch_label=f"import {table.name}",
    )
    prepared.notes = table.notes + prepared.notes
    if not len(raw):
        raise InputError(f"{table.name}: no data rows")
    return commit(
        store,
        KIND,
        TABLE,
        prepared,
        filename=table.name,
        sha256=table.sha256,
        actor=actor,
        progress=progress,
        started=t0,
    )


def import_cases(
    store,
    source: str | Path | bytes,
    filename: str | None = None,
    mapping: Mapping[str, str] | None = None,
    matcher=None,
    grids=None,
    actor: str = "system",
    context=None,
    **options,
) -> BatchReport:
    """The case intake's entry point (formerly ``gridmap.geocode.intake.import_cases``):
    :func:`import_file`, with ``matcher``/``grids`` prebuilt when given."""
    from gridmap.geocode.batch import GeocodeContext

    if context is None and (matcher is not None or grids is not None):
        admin_units = store.read("admin_units")
        if grids is None:
            plan_id = store.active_plan_id()
            grids = store.read("grids", where={"plan_id": plan_id}) if plan_id else None
        context = GeocodeContext.build(None, admin_units, grids, matcher=matcher)
    return import_file(store, source, filename, mapping, actor=actor, context=context, **options)
