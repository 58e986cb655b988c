"""``gridmap partition`` and ``gridmap plan …``: balanced grid plans from files or the store."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.crs import WGS84
from gridmap.errors import InputError


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress(done: int, total: int) -> None:
    _say(f"  villages solved: {done}/{total}")


def read_units(path: str, code_field: str) -> gpd.GeoDataFrame:
    """Any polygon layer pyogrio reads, with a CRS and a unique code per unit."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"units file {path} does not exist")
    try:
        units = gpd.read_file(p)
    except Exception as exc:  # pyogrio's own message says what it could not read
        raise InputError(f"cannot read units {path}: {exc}") from exc
    if units.crs is None:
        raise InputError(f"units {path} have no CRS; save them with one (e.g. EPSG:4326)")
    if code_field not in units.columns:
        raise InputError(
            f"units {path} have no field {code_field!r}; fields: {', '.join(map(str, units.columns))}"
        )
    if units[code_field].isna().any():
        raise InputError(f"{int(units[code_field].isna().sum())} units have no {code_field}")
    kinds = set(units.geometry.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(f"units must be polygons, found {', '.join(sorted(kinds))}")
    return gpd.GeoDataFrame({"code": units[code_field].astype(str)}, geometry=units.geometry, crs=units.crs)


def read_households(path: str) -> gpd.GeoDataFrame:
    """A CSV with lon, lat (WGS-84 degrees) and households per point."""
    try:
        table = pd.read_csv(path)
    except Exception as exc:
        raise InputError(f"cannot read households CSV {path}: {exc}") from exc
    missing = {"lon", "lat", "households"} - set(table.columns)
    if missing:
        raise InputError(
            f"households CSV needs columns lon, lat, households; missing {', '.join(sorted(missing))}"
        )
    num = table[["lon", "lat", "households"]].apply(pd.to_numeric, errors="coerce")
    bad = (
        num.isna().any(axis=1)
        | ~num["lon"].between(-180, 180)
        | ~num["lat"].between(-90, 90)
        | (num["households"] < 0)
    )
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise InputError(
            f"{int(bad.sum())} rows of {path} have bad lon/lat/households (first at line {first})"
        )
    return gpd.GeoDataFrame(
        {"households": num["households"].astype(np.int64), "population": table.get("population", 0)},
        geometry=gpd.points_from_xy(num["lon"], num["lat"]),
        crs=WGS84,
    )


def _band(args) -> tuple[int, int]:
    if args.band:
        return int(args.band[0]), int(args.band[1])
    from gridmap.config import get_settings

    s = get_settings()
    return s.grid_min_households, s.grid_max_households


def _partition_files(args) -> int:
    from gridmap.partition.atoms import build_atoms
    from gridmap.partition.balance import partition_plan
    from gridmap.partition.exclusive import carve_exclusive
    from gridmap.partition.grids import grids_from_atoms
    from gridmap.partition.quality import quality_report

    if not args.households or not args.out:
        raise InputError("--units needs --households HH.csv and --out GRIDS.gpkg")
    t0 = time.perf_counter()
    units = read_units(args.units, args.unit_code_field)
    points = read_households(args.households)
    _say(
        f"partition: {len(units)} units, {len(points)} household points ({int(points['households'].sum())} "
        "households)"
    )
    atoms = build_atoms(units, points, target=args.target, base_resolution=args.resolution)
    _say(f"  atoms: {len(atoms)} ({atoms.attrs['report']['addresses_outside']} points outside every unit)")
    if args.sites:
        sites = gpd.read_file(args.sites)
        atoms = carve_exclusive(atoms, sites, points, site_id_field=args.site_id_field)
    band = _band(args)
    result = partition_plan(
        atoms, target=args.target, band=band, tolerance=args.tolerance, n_jobs=args.n_jobs, progress=_progress
    )
    grids = grids_from_atoms(atoms, result, units)
    out = gpd.GeoDataFrame(
        {
            "code": grids["code"],
            "unit_code": grids["village_code"],
            "households": grids["households"],
            "exclusive": grids["exclusive"],
            "polsby_popper": grids["polsby_popper"],
        },
        geometry=grids.geometry,
        crs=WGS84,
    )
    out.to_file(args.out, layer="grids", driver="GPKG")
    report = quality_report(grids, units, target=args.target, tolerance=args.tolerance, band=band)
    print(report.to_text())
    for code, notes in result.report["notes"].items():
        print(f"  {code}: {'; '.join(notes)}")
    _say(f"wrote {len(out)} grids to {args.out} layer 'grids' in {time.perf_counter() - t0:.1f} s")
    return 0


def _partition_store(args) -> int:
    from gridmap.partition import plans
    from gridmap.partition.atoms import build_atoms
    from gridmap.partition.balance import partition_plan
    from gridmap.partition.grids import grids_from_atoms
    from gridmap.partition.quality import quality_report
    from gridmap.store import open_store

    t0 = time.perf_counter()
    store = open_store(args.store)
    villages = store.read("admin_units", where={"level": "village"})
    addresses = store.read("addresses")
    if villages.empty or addresses.empty:
        raise InputError(
            "the store has no villages or no addresses (run 'gridmap build-demo' or import them)"
        )
    _say(f"partition: {len(villages)} villages, {len(addresses)} addresses from {store.url}")
    previous, locked = None, list(args.lock or [])
    if args.from_plan:
        parent = plans.load_plan(store, args.from_plan)
        previous = parent.grids[["code", "geometry"]]
        locked += parent.grids.loc[parent.grids["locked"].fillna(0).astype(int) == 1, "code"].tolist()
    band = _band(args)
    if args.engine == "processes":
        atoms = build_atoms(villages, addresses, target=args.target, base_resolution=args.resolution)
        _say(f"  atoms: {len(atoms)} in {time.perf_counter() - t0:.1f} s")
        result = partition_plan(
            atoms,
            target=args.target,
            band=band,
            tolerance=args.tolerance,
            previous=previous,
            locked=locked,
            n_jobs=args.n_jobs,
            progress=_progress,
        )
    else:
        from gridmap.partition.counties import partition_by_county

        atoms, result = partition_by_county(
            villages,
            addresses,
            target=args.target,
            band=band,
            tolerance=args.tolerance,
            resolution=args.resolution,
            previous=previous,
            locked=locked,
            engine=args.engine,
            progress=lambda done, total, county: _say(f"  county {county}: done ({done}/{total})"),
        )
        _say(
            f"  atoms and partition of {result.report['counties']} counties ({args.engine}): {len(atoms)} atoms "
            f"in {time.perf_counter() - t0:.1f} s"
        )
    grids = grids_from_atoms(atoms, result, villages, locked=locked)
    params = {
        "method": "balanced",
        "engine": args.engine,
        "target": args.target,
        "band": list(band),
        "tolerance": args.tolerance,
        "resolution": args.resolution,
        "from_plan": args.from_plan,
        "locked": locked,
        "report": {k: v for k, v in result.report.items() if k != "notes"},
    }
    plan_id = plans.create_plan(store, args.plan, grids, result.atoms, params, parent_id=args.from_plan)
    print(quality_report(grids, villages, target=args.target, tolerance=args.tolerance, band=band).to_text())
    if previous is not None:
        print(
            f"atoms moved {result.report['atoms_moved']}, households moved {result.report['households_moved']}"
        )
    print(f"draft plan {plan_id} ({len(grids)} grids) saved in {time.perf_counter() - t0:.1f} s")
    return 0


def _partition(args) -> int:
    if bool(args.units) == bool(args.plan):
        raise InputError("give either --units (files) or --plan NAME (store)")
    return _partition_files(args) if args.units else _partition_store(args)


def _store(args):
    from gridmap.store import open_store

    return open_store(args.store)


def _plan_list(args) -> int:
    from gridmap.partition.plans import list_plans

    table = list_plans(_store(args))
    if table.empty:
        print("no plans")
        return 0
    print(table[["plan_id", "name", "status", "parent_id", "created_at", "grids"]].to_string(index=False))
    return 0


def _plan_activate(args) -> int:
    from gridmap.partition.plans import activate_plan

    activate_plan(_store(args), args.plan_id)
    print(f"plan {args.plan_id} is active")
    return 0


def _plan_diff(args) -> int:
    from gridmap.partition.diff import diff_plans

    d = diff_plans(_store(args), args.plan_a, args.plan_b)
    print(json.dumps(d.summary(), ensure_ascii=False, indent=2))
    if args.verbose_diff:
        print("added:", " ".join(d.added))
        print("removed:", " ".join(d.removed))
        print(d.changed.to_string(index=False))
    return 0


def _plan_quality(args) -> int:
    from gridmap.partition.plans import load_plan
    from gridmap.partition.quality import quality_report

    store = _store(args)
    plan = load_plan(store, args.plan_id)
    villages = store.read(
        "admin_units", where={"level": "village", "code": sorted(set(plan.grids["village_code"]))}
    )
    band = tuple(plan.params.get("band") or _band(argparse.Namespace(band=None)))
    tol = float(plan.params.get("tolerance", 0.10))
    print(
        quality_report(
            plan.grids, villages, target=plan.params.get("target", 400), tolerance=tol, band=band
        ).to_text()
    )
    return 0


def _plan_split(args) -> int:
    from gridmap.partition.edits import split_grid

    codes = split_grid(_store(args), args.plan_id, args.code, args.k, args.actor, override=args.override)
    print("new grids:", " ".join(codes))
    return 0


def _plan_merge(args) -> int:
    from gridmap.partition.edits import merge_grids

    code = merge_grids(_store(args), args.plan_id, args.codes, args.actor, override=args.override)
    print("merged grid:", code)
    return 0


def _plan_move(args) -> int:
    from gridmap.partition.edits import move_atoms

    move_atoms(_store(args), args.plan_id, args.atoms, args.to, args.actor, override=args.override)
    print(f"moved {len(args.atoms)} atom(s) to {args.to}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("partition", help="balanced grids from a units file + households CSV, or in the store")
    p.add_argument("--units", help="unit polygons (any vector file pyogrio reads)")
    p.add_argument("--unit-code-field", default="code", help="field holding each unit's code")
    p.add_argument("--households", help="CSV with lon,lat,households (WGS-84)")
    p.add_argument("--out", help="output GeoPackage (layer 'grids')")
    p.add_argument("--sites", help="optional polygons of exclusive sites (schools, markets, …)")
    p.add_argument("--site-id-field", default=None)
    p.add_argument("--plan", help="store mode: name of the new draft plan")
    p.add_argument(
        "--from-plan", help="store mode: start from this plan (stability) and keep its locked grids"
    )
    p.add_argument("--lock", nargs="*", help="grid codes of --from-plan that must not change")
    p.add_argument("--store", default=None, help="GeoPackage path or postgresql:// URL (default: settings)")
    p.add_argument("--target", type=int, default=400, help="households per grid")
    p.add_argument("--tolerance", type=float, default=0.10, help="allowed deviation from the village mean")
    p.add_argument(
        "--band", type=int, nargs=2, metavar=("MIN", "MAX"), help="hard band of households per grid"
    )
    p.add_argument("--resolution", type=int, default=8, help="H3 resolution of coarse (empty) atoms")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument(
        "--engine",
        choices=("processes", "dask", "serial"),
        default="processes",
        help="store mode: processes = all atoms at once, villages on --n-jobs processes; "
        "dask = atoms + partition per county on dask.distributed (LocalCluster of "
        "GRIDMAP_DASK_WORKERS, or GRIDMAP_DASK_SCHEDULER); serial = per county here",
    )
    p.set_defaults(func=_partition)

    plan = sub.add_parser("plan", help="list, activate, compare, check and edit grid plans")
    plan.add_argument(
        "--store", default=None, help="GeoPackage path or postgresql:// URL (default: settings)"
    )
    ps = plan.add_subparsers(dest="plan_command", metavar="ACTION", required=True)
    ps.add_parser("list", help="all plans").set_defaults(func=_plan_list)
    a = ps.add_parser("activate", help="make a draft plan active (archives the active one)")
    a.add_argument("plan_id")
    a.set_defaults(func=_plan_activate)
    d = ps.add_parser("diff", help="grids added/removed/changed and households moved between plans")
    d.add_argument("plan_a")
    d.add_argument("plan_b")
    d.add_argument("--list", dest="verbose_diff", action="store_true", help="list the codes")
    d.set_defaults(func=_plan_diff)
    q = ps.add_parser("quality", help="balance, compactness, contiguity and nesting of a plan")
    q.add_argument("plan_id", nargs="?", default=None)
    q.set_defaults(func=_plan_quality)
    for name, helptext in (
        ("split", "split a grid into k grids"),
        ("merge", "merge grids"),
        ("move", "move atoms to another grid"),
    ):
        e = ps.add_parser(name, help=helptext)
        e.add_argument("plan_id")
        if name == "split":
            e.add_argument("code")
            e.add_argument("k", type=int)
            e.set_defaults(func=_plan_split)
        elif name == "merge":
            e.add_argument("codes", nargs="+")
            e.set_defaults(func=_plan_merge)
        else:
            e.add_argument("--atoms", nargs="+", required=True)
            e.add_argument("--to", required=True)
            e.set_defaults(func=_plan_move)
        e.add_argument("--actor", required=True, help="who makes the edit (recorded)")
        e.add_argument("--override", action="store_true", help="apply even if a rule breaks (recorded)")
