"""``gridmap hotspots``: run a hotspot analysis on the store's cases and print its summary."""

from __future__ import annotations

import argparse
import json
import sys

from gridmap.hotspots.runs import METHODS, UNITS, VALUES, format_summary, run_hotspots


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "hotspots",
        help="hot spots of cases: Gi*, local Moran, emerging hot spots, kernel density, optimized Gi*",
        description=(
            "Aggregate the filtered cases onto units, compute the statistic (FDR-corrected), store the run "
            "in hotspot_runs/hotspot_results and print a summary with the top hot-spot areas."
        ),
    )
    parser.add_argument("--method", choices=METHODS, default="gi", help="statistic (default gi)")
    parser.add_argument("--unit", choices=UNITS, default="grid", help="analysis units (default grid)")
    parser.add_argument("--h3-res", type=int, dest="h3_resolution", help="H3 resolution for --unit h3")
    parser.add_argument("--plan", dest="plan_id", help="plan of the grids (default: the active plan)")
    parser.add_argument("--kind", choices=["dispute", "petition"], help="only this kind of case")
    parser.add_argument("--category", action="append", help="only these categories (repeatable)")
    parser.add_argument(
        "--status", action="append", help="only these statuses; 'resolved' and 'open' group them"
    )
    parser.add_argument("--from", dest="start", metavar="DATE", help="reported on or after (YYYY-MM-DD)")
    parser.add_argument("--to", dest="end", metavar="DATE", help="reported before (YYYY-MM-DD, exclusive)")
    parser.add_argument(
        "--value",
        choices=VALUES,
        help="count (default) or rate per 1,000 households (raw, global or spatial Empirical Bayes)",
    )
    parser.add_argument("--permutations", type=int, help="conditional permutations (gi default 0, lisa 999)")
    parser.add_argument(
        "--exact", action="store_true", help="exact conditional-randomisation p-values of raw counts"
    )
    parser.add_argument(
        "--inference",
        choices=["auto", "log_counts", "normal", "permutations", "exact"],
        help="where p comes from (default auto: counts -> exact log-count test, rates -> normal)",
    )
    parser.add_argument("--seed", type=int, help="permutation seed (default: fresh, recorded in the run)")
    parser.add_argument("--alpha", type=float, help="FDR level (default settings.fdr_alpha)")
    parser.add_argument(
        "--time-lag", type=int, help="emerging: previous months in each neighbourhood (default 1)"
    )
    parser.add_argument(
        "--bandwidth",
        type=float,
        dest="bandwidth_m",
        help="kde: kernel radius in metres (default: ArcGIS rule of thumb)",
    )
    parser.add_argument("--store", help="store path or postgresql:// URL (default from settings)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--engine",
        choices=("whole", "serial", "dask"),
        default="whole",
        help="whole = one run over every case in the store (default); serial = one run per city, here; "
        "dask = one run per city as dask.distributed tasks (LocalCluster of GRIDMAP_DASK_WORKERS, or "
        "GRIDMAP_DASK_SCHEDULER)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridmap.store import open_store

    filters = {
        "kind": args.kind,
        "category": args.category,
        "status": args.status,
        "start": args.start,
        "end": args.end,
    }
    params = {
        "value": args.value,
        "permutations": args.permutations,
        "exact": True if args.exact else None,
        "inference": args.inference,
        "seed": args.seed,
        "alpha": args.alpha,
        "time_lag": args.time_lag,
        "bandwidth_m": args.bandwidth_m,
    }
    filters = {k: v for k, v in filters.items() if v}
    params = {k: v for k, v in params.items() if v is not None}
    print(f"hotspots: {args.method} on {args.unit} units …", file=sys.stderr, flush=True)
    store = open_store(args.store)
    try:
        if args.engine == "whole":
            run_ids = [
                run_hotspots(
                    store,
                    args.method,
                    unit=args.unit,
                    plan_id=args.plan_id,
                    h3_resolution=args.h3_resolution,
                    filters=filters,
                    params=params,
                )
            ]
        else:
            from gridmap.hotspots.batch import CityRun, city_codes, run_per_city

            tasks = [
                CityRun(city, args.method, args.unit, args.plan_id, args.h3_resolution, filters, params)
                for city in city_codes(store)
            ]
            print(f"  {len(tasks)} cities, engine {args.engine}", file=sys.stderr, flush=True)
            run_ids = run_per_city(
                store,
                tasks,
                args.store,
                engine=args.engine,
                progress=lambda done, total, key: print(
                    f"  {done}/{total} {key}", file=sys.stderr, flush=True
                ),
            )
        summaries = [
            json.loads(store.read("hotspot_runs", where={"run_id": r})["summary"].iloc[0]) for r in run_ids
        ]
    finally:
        store.close()
    for run_id, summary in zip(run_ids, summaries, strict=True):
        if args.json:
            print(json.dumps({"run_id": run_id, **summary}, ensure_ascii=False, indent=2))
        else:
            print(format_summary(run_id, summary))
    return 0
