"""``gridmap geocode``, ``gridmap import cases`` and ``gridmap review …``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: output columns ``gridmap geocode`` adds to the input table
GEOCODE_OUTPUT = ["lon_wgs84", "lat_wgs84", "precision", "score", "grid_code", "status", "reason"]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _store(args):
    from gridmap.store import open_store

    return open_store(getattr(args, "store", None))


def cmd_geocode(args: argparse.Namespace) -> int:
    from gridmap.geocode.batch import GeocodeContext, geocode_rows
    from gridmap.geocode.intake import read_upload, resolve_mapping

    t0 = time.perf_counter()
    table, _ = read_upload(args.cases, max_bytes=1 << 62)  # a local file: no upload limit
    mapping = resolve_mapping(list(table.columns), json.loads(args.mapping) if args.mapping else None)
    fields = {field_name: table[column] for column, field_name in mapping.items()}
    inputs = (
        fields.get("address_text", pd.Series([""] * len(table))),
        fields.get("raw_lon"),
        fields.get("raw_lat"),
        fields.get("raw_crs"),
    )
    if getattr(args, "engine", "serial") == "dask":
        from gridmap.geocode.distributed import geocode_table

        if args.chunk_rows < 1:
            from gridmap.errors import InputError

            raise InputError(f"--chunk-rows {args.chunk_rows}: give at least 1")
        _say(
            f"read {len(table):,} rows from {args.cases}; geocoding in chunks of {args.chunk_rows:,} on dask …"
        )
        result = geocode_table(
            *inputs,
            store_url=args.store,
            plan_id=args.plan,
            chunk_rows=args.chunk_rows,
            progress=lambda done, total, key: _say(f"  {done}/{total} chunks ({key})"),
        )
    else:
        _say(f"read {len(table):,} rows from {args.cases}; loading addresses and grids …")
        store = _store(args)
        ctx = GeocodeContext.from_store(store, plan_id=args.plan)
        _say(
            f"  {len(ctx.matcher._ids):,} standard addresses, "
            f"{0 if ctx.grids is None else len(ctx.grids):,} grids ({time.perf_counter() - t0:.1f} s)"
        )
        result = geocode_rows(ctx, *inputs)
    out = table.copy()
    out["lon_wgs84"] = np.round(result["lon"].to_numpy(float), 7)
    out["lat_wgs84"] = np.round(result["lat"].to_numpy(float), 7)
    out["precision"] = result["precision"].to_numpy()
    out["score"] = np.round(result["score"].to_numpy(float), 1)
    out["grid_code"] = result["grid_code"].to_numpy()
    out["status"] = result["geocode_status"].to_numpy()
    out["reason"] = result["reason"].to_numpy()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False, encoding="utf-8-sig")  # with BOM: Excel opens it as UTF-8
    counts = out["status"].value_counts().to_dict()
    _say(
        f"wrote {args.out}: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
        + f" ({time.perf_counter() - t0:.1f} s)"
    )
    return 0


def cmd_review_list(args: argparse.Namespace) -> int:
    from gridmap.geocode.intake import review_queue

    queue = review_queue(_store(args), limit=args.limit, offset=args.offset)
    if args.json:
        print(queue.to_json(orient="records", force_ascii=False))
        return 0
    if queue.empty:
        print("no cases waiting for review")
        return 0
    for row in queue.itertuples():
        print(f"{row.case_id}  {row.external_id or ''}  {row.address_text or ''}")
        print(f"    reason: {row.reason}")
        for k, c in enumerate(row.candidates[:5], start=1):
            label = c.get("address_id") or "point"
            print(
                f"    {k}. {label}  {c.get('full_address', '')}  score {c.get('score')}  "
                f"({c['lon']:.6f}, {c['lat']:.6f})"
            )
    return 0


def cmd_review_action(args: argparse.Namespace) -> int:
    from gridmap.geocode.intake import resolve_review

    out = resolve_review(
        _store(args),
        args.case_id,
        args.action,
        address_id=getattr(args, "address_id", None),
        lon=getattr(args, "lon", None),
        lat=getattr(args, "lat", None),
        reason=getattr(args, "reason", None),
        actor=args.actor,
    )
    print(json.dumps(out, ensure_ascii=False, default=str))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "geocode",
        help="geocode a table of cases (id, address, optional lon/lat/crs) against the store",
        description="Adds lon_wgs84, lat_wgs84, precision, score, grid_code, status, reason to each row. "
        "Reads CSV (UTF-8/GBK), XLSX or JSON; columns may be named in Chinese (地址, 经度, 纬度, 坐标系).",
    )
    p.add_argument("cases", help="input table")
    p.add_argument("--out", required=True, help="output CSV (UTF-8 with BOM)")
    p.add_argument("--mapping", help='JSON {"file column": "field"} for unrecognised column names')
    p.add_argument("--plan", help="grid plan id (default: the active plan)")
    p.add_argument("--store", help="store URL or GeoPackage path (default: settings)")
    p.add_argument(
        "--engine",
        choices=("serial", "dask"),
        default="serial",
        help="serial = the whole table here (default); dask = chunks of --chunk-rows rows as "
        "dask.distributed tasks (LocalCluster of GRIDMAP_DASK_WORKERS, or GRIDMAP_DASK_SCHEDULER); "
        "same result",
    )
    p.add_argument("--chunk-rows", type=int, default=20_000, help="rows per dask task (default 20000)")
    p.set_defaults(func=cmd_geocode)

    p = subparsers.add_parser("review", help="cases whose location a person must settle")
    sub = p.add_subparsers(dest="review_action", metavar="ACTION")
    r = sub.add_parser("list", help="cases waiting for review, with candidates")
    r.add_argument("--limit", type=int, default=20)
    r.add_argument("--offset", type=int, default=0)
    r.add_argument("--json", action="store_true")
    r.add_argument("--store")
    r.set_defaults(func=cmd_review_list)
    r = sub.add_parser("pick", help="place a case at one of its candidate standard addresses")
    r.add_argument("case_id")
    r.add_argument("address_id")
    r.set_defaults(action="pick")
    r2 = sub.add_parser("place", help="place a case at a WGS-84 point")
    r2.add_argument("case_id")
    r2.add_argument("lon", type=float)
    r2.add_argument("lat", type=float)
    r2.set_defaults(action="place")
    r3 = sub.add_parser("reject", help="reject a case's location (it cannot be placed)")
    r3.add_argument("case_id")
    r3.add_argument("--reason")
    r3.set_defaults(action="reject")
    for parser in (r, r2, r3):
        parser.add_argument("--actor", default="cli")
        parser.add_argument("--store")
        parser.set_defaults(func=cmd_review_action)
