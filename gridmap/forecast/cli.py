"""``gridmap forecast``: next month's grids to watch, and ``gridmap forecast backtest``."""

from __future__ import annotations

import argparse
import json
import sys

KIND_CHOICES = ["dispute", "petition"]


def register(subparsers: argparse._SubParsersAction) -> None:
    from gridmap.forecast.methods import METHODS

    parser = subparsers.add_parser(
        "forecast",
        help="early warning (研判预警): expected cases per grid next month, backtests",
        description=(
            "Forecast the cases of each grid of the active plan for the horizon starting at --asof (the first "
            "day of a month; cases reported before it are used), store the run and write CSV or XLSX. "
            "'gridmap forecast backtest' scores every method on rolling monthly origins."
        ),
    )
    parser.add_argument(
        "action", nargs="?", choices=["run", "backtest"], default="run", help="run (default) or backtest"
    )
    parser.add_argument(
        "--kind", choices=KIND_CHOICES, default="dispute", help="kind of case (default dispute)"
    )
    parser.add_argument("--category", action="append", help="only these categories (repeatable)")
    parser.add_argument("--asof", metavar="DATE", help="run: first day of the target month, e.g. 2025-01-01")
    parser.add_argument("--horizon", default="1M", help="run: months ahead, 1M … 12M (default 1M)")
    parser.add_argument(
        "--method", choices=METHODS, help="run: method (default: best of the latest backtest)"
    )
    parser.add_argument("--methods", help="backtest: comma-separated methods (default all)")
    parser.add_argument("--from", dest="origin_from", metavar="YYYY-MM", help="backtest: first origin month")
    parser.add_argument("--to", dest="origin_to", metavar="YYYY-MM", help="backtest: last origin month")
    parser.add_argument("--plan", dest="plan_id", help="plan of the grids (default: the active plan)")
    parser.add_argument(
        "--out", help="run: .csv or .xlsx warning list; backtest: .png plot (and .csv table beside)"
    )
    parser.add_argument("--store", help="store path or postgresql:// URL (default from settings)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridmap.errors import InputError
    from gridmap.store import open_store

    store = open_store(args.store)
    try:
        if args.action == "backtest":
            return _backtest(args, store)
        if not args.asof:
            raise InputError("--asof DATE is required (the first day of the month to forecast)")
        return _forecast(args, store)
    finally:
        store.close()


def _forecast(args: argparse.Namespace, store) -> int:
    from gridmap.forecast.export import about_rows, write_forecast
    from gridmap.forecast.runs import read_forecast, run_forecast, township_summary

    print(f"forecast: {args.kind} from {args.asof}, horizon {args.horizon} …", file=sys.stderr, flush=True)
    run_id = run_forecast(store, args.kind, args.asof, args.horizon, args.category, args.method, args.plan_id)
    run, results = read_forecast(store, run_id)
    names = store.read("admin_units", where={"level": "township"}, columns=["code", "name"])
    townships = township_summary(results, names.set_index("code")["name"] if len(names) else None)
    if args.out:
        synthetic = bool(store.count("cases", {"source": "synthetic"}))
        write_forecast(results, args.out, townships, about_rows({**run, "synthetic": synthetic}))
    summary = run["summary"]
    if args.json:
        print(json.dumps({"run_id": run_id, **summary}, ensure_ascii=False, indent=2))
        return 0
    print(
        f"run {run_id}: {run['kind']} {run['target_start']} … {run['target_end']} with {run['method']} "
        f"({summary['chosen_by']}); {summary['grids']:,} grids, {summary['expected_total']:.1f} cases expected"
    )
    for _, r in results.head(10).iterrows():
        print(
            f"  #{int(r['rank']):>3} {r['grid_code']}  {r['expected']:6.2f} [{int(r['lower'])}–{int(r['upper'])}]  {r['why']}"
        )
    print("townships (most expected first):")
    for _, t in townships.head(5).iterrows():
        print(
            f"  {t['township_code']} {t.get('township_name', '')}: {t['expected']:.1f} expected, "
            f"{int(t['watch_grids'])} watch grids"
        )
    if args.out:
        print(f"written: {args.out}")
    return 0


def _backtest(args: argparse.Namespace, store) -> int:
    from pathlib import Path

    from gridmap.errors import InputError
    from gridmap.forecast.runs import run_backtest

    if not (args.origin_from and args.origin_to):
        raise InputError("backtest needs --from YYYY-MM and --to YYYY-MM (the origin months)")
    methods = [m.strip() for m in args.methods.split(",")] if args.methods else None

    def progress(fraction: float, message: str) -> None:
        print(f"  [{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    print(
        f"backtest: {args.kind} origins {args.origin_from} … {args.origin_to} …", file=sys.stderr, flush=True
    )
    backtest_id, result = run_backtest(
        store, args.kind, args.origin_from, args.origin_to, args.category, methods, args.plan_id, progress
    )
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() != ".png":
            raise InputError(f"backtest --out must end in .png, got {out.name!r}")
        out.write_bytes(result.to_png())
        result.table.to_csv(out.with_suffix(".csv"), index=False, lineterminator="\n")
    if args.json:
        print(
            json.dumps(
                {
                    "backtest_id": backtest_id,
                    "best_method": result.best_method,
                    "seconds": round(result.seconds, 2),
                    "summary": result.summary.round(4).to_dict(orient="index"),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(f"backtest {backtest_id} stored")
        print(result.format())
        if args.out:
            print(f"written: {args.out} and {Path(args.out).with_suffix('.csv')}")
    return 0
