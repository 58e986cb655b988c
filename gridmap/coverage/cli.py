"""``gridmap audit`` and ``gridmap kpi``: coverage audit and governance KPIs from the store.

gridmap audit --period 2024-12 [--max-days 7 ...] [--out findings.csv|.xlsx] [--html report.html]
gridmap kpi --level county --period 2024 [--out kpi.csv|.xlsx]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from gridmap.errors import InputError

log = logging.getLogger("gridmap.coverage")


def register(subparsers) -> None:
    audit = subparsers.add_parser(
        "audit",
        help="grid-worker coverage audit (网格巡查覆盖审计)",
        description="Audit patrol coverage and worker load of the active plan over a period.",
    )
    audit.add_argument("--period", required=True, help="2024, 2024-12, 2024-Q4 or 2024-01-01/2024-03-31")
    audit.add_argument("--store", help="store path or postgresql:// URL (default: settings)")
    audit.add_argument("--plan", help="plan id (default: the active plan)")
    audit.add_argument(
        "--max-days",
        type=int,
        dest="max_days_unvisited",
        metavar="DAYS",
        help="longest allowed run of days without a check-in",
    )
    audit.add_argument(
        "--max-grids", type=int, dest="max_grids_per_worker", metavar="N", help="grids per worker"
    )
    audit.add_argument(
        "--max-households",
        type=int,
        dest="max_households_per_worker",
        metavar="N",
        help="households per worker",
    )
    audit.add_argument(
        "--max-open-cases",
        type=int,
        dest="max_open_cases_per_worker",
        metavar="N",
        help="open cases per worker",
    )
    audit.add_argument(
        "--reach-m", type=float, dest="reach_distance_m", metavar="METRES", help="reach distance in metres"
    )
    audit.add_argument("--min-reach-share", type=float, dest="min_reach_share", metavar="SHARE", help="0–1")
    audit.add_argument(
        "--max-outside-share", type=float, dest="max_outside_share", metavar="SHARE", help="0–1"
    )
    audit.add_argument(
        "--every-days",
        type=int,
        dest="required_visit_every_days",
        metavar="DAYS",
        help="patrol rule: one visit every N days",
    )
    audit.add_argument(
        "--agent-max-days",
        type=int,
        dest="agent_max_days_without_patrol",
        metavar="DAYS",
        help="petition agents: longest allowed run of days without a daily patrol",
    )
    audit.add_argument(
        "--followup-days",
        type=int,
        dest="followup_within_days",
        metavar="DAYS",
        help="petition items: follow-up visit due this many days after done",
    )
    audit.add_argument("--roles", help="comma-separated roles that staff a grid (default full_time)")
    audit.add_argument("--out", help="findings as .csv, or .xlsx (sheets findings, grids, workers)")
    audit.add_argument("--html", help="printable HTML report")
    audit.add_argument(
        "--kpi-level",
        default="county",
        choices=["grid", "village", "township", "county", "city"],
        help="KPI table level in the HTML report (default county)",
    )
    audit.add_argument(
        "--engine",
        choices=("whole", "serial", "dask"),
        default="whole",
        help="whole = one audit of the store (default); serial = one audit per city, here; dask = one "
        "per city as dask.distributed tasks (LocalCluster of GRIDMAP_DASK_WORKERS, or "
        "GRIDMAP_DASK_SCHEDULER), merged",
    )
    audit.set_defaults(func=run_audit_command)

    kpi = subparsers.add_parser(
        "kpi",
        help="dispute and petition KPIs (矛盾纠纷排查化解、信访)",
        description="Cases found/resolved, times, overdue, follow-ups, satisfaction, petitions, 同比.",
    )
    kpi.add_argument(
        "--level", default="county", choices=["agent", "grid", "village", "township", "county", "city"]
    )
    kpi.add_argument("--period", required=True, help="2024, 2024-12, 2024-Q4 or 2024-01-01/2024-03-31")
    kpi.add_argument("--store", help="store path or postgresql:// URL (default: settings)")
    kpi.add_argument(
        "--kinds", default="dispute", help="case kinds counted as found/resolved (default dispute)"
    )
    kpi.add_argument("--no-yoy", action="store_true", help="skip the 同比 columns")
    kpi.add_argument("--out", help=".csv or .xlsx")
    kpi.set_defaults(func=run_kpi_command)

    bulletin = subparsers.add_parser(
        "bulletin",
        help="monthly 通报 of the city and each county (HTML + XLSX with charts)",
        description="Figures with 同比, 12-month trend, top grids, petition agents behind on duty.",
    )
    bulletin.add_argument("--month", required=True, help="calendar month, e.g. 2024-12")
    bulletin.add_argument("--out", required=True, help="output directory (created if missing)")
    bulletin.add_argument("--store", help="store path or postgresql:// URL (default: settings)")
    bulletin.add_argument("--city-only", action="store_true", help="skip the county bulletins")
    bulletin.set_defaults(func=run_bulletin_command)


def _check_out(path: str | None, suffixes: tuple[str, ...]) -> Path | None:
    if not path:
        return None
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise InputError(f"{out.name}: write {' or '.join(suffixes)}")
    if not out.parent.exists():
        raise InputError(f"{out.parent}: no such directory")
    return out


def run_audit_command(args: argparse.Namespace) -> int:
    from gridmap.coverage.audit import AuditThresholds
    from gridmap.coverage.export import write_table
    from gridmap.coverage.periods import parse_period
    from gridmap.coverage.report import write_report
    from gridmap.coverage.service import audit_from_store, kpis_from_store, trend_from_store
    from gridmap.store import open_store

    period = parse_period(args.period)
    out = _check_out(args.out, (".csv", ".xlsx"))
    html = _check_out(args.html, (".html", ".htm"))
    overrides = {
        name: getattr(args, name)
        for name in (
            "max_days_unvisited",
            "max_grids_per_worker",
            "max_households_per_worker",
            "max_open_cases_per_worker",
            "reach_distance_m",
            "min_reach_share",
            "max_outside_share",
            "required_visit_every_days",
            "agent_max_days_without_patrol",
            "followup_within_days",
        )
    }
    if args.roles:
        overrides["worker_roles"] = tuple(r.strip() for r in args.roles.split(",") if r.strip())
    thresholds = AuditThresholds.from_settings(**overrides)
    with open_store(args.store) as store:
        log.info("auditing %s", period)
        if getattr(args, "engine", "whole") == "whole":
            result, inputs = audit_from_store(store, period, thresholds, args.plan)
            grids = inputs.grids
        else:
            from gridmap.coverage.batch import AuditTask, audit_per_city, merge_results
            from gridmap.coverage.service import load_grids

            cities = sorted(store.read("admin_units", where={"level": "city"}, columns=["code"])["code"])
            if not cities:
                raise InputError("the store has no city-level admin unit to audit")
            tasks = [AuditTask(str(c), str(period), args.plan) for c in cities]
            results = audit_per_city(
                tasks,
                args.store,
                thresholds,
                engine=args.engine,
                progress=lambda done, total, key: log.info("audit %d/%d: %s", done, total, key),
            )
            result = merge_results(results)
            grids = load_grids(store, args.plan) if html is not None else None
        kpis = trend = None
        if html is not None:
            log.info("computing %s KPIs and the monthly trend for the report", args.kpi_level)
            kpis = kpis_from_store(store, args.kpi_level, period)
            trend = trend_from_store(store, period)
    print(result.summary())
    if out is not None:
        frames = {
            "findings": result.findings,
            "grids": result.grids,
            "workers": result.workers,
            "agents": result.agents,
        }
        write_table(frames if out.suffix.lower() == ".xlsx" else result.findings, out)
        print(f"findings written to {out}")
    if html is not None:
        write_report(html, audit=result, grids=grids, kpis=kpis, trend=trend)
        print(f"report written to {html}")
    return 0


def run_kpi_command(args: argparse.Namespace) -> int:
    from gridmap.coverage.export import write_table
    from gridmap.coverage.periods import parse_period
    from gridmap.coverage.service import kpis_from_store
    from gridmap.store import open_store

    period = parse_period(args.period)
    out = _check_out(args.out, (".csv", ".xlsx"))
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    with open_store(args.store) as store:
        table = kpis_from_store(store, args.level, period, compare_previous_year=not args.no_yoy, kinds=kinds)
    if out is not None:
        write_table({"kpi": table}, out)
        print(f"{len(table)} {args.level} rows written to {out}")
    else:
        from gridmap.coverage.kpi import headline

        if args.level == "city" and len(table):
            for line in headline(table.iloc[0]):
                print(line)
        shown = [
            c
            for c in (
                "unit_code",
                "unit_name",
                "found",
                "resolved",
                "resolution_rate",
                "overdue_open",
                "petitions_cases",
                "petitions_persons",
                "found_yoy_ratio",
                "petitions_cases_yoy_ratio",
                "petitions_persons_yoy_ratio",
                "items_taken",
                "items_done",
                "done_rate",
                "followup_rate",
                "mean_visit_satisfaction",
            )
            if c in table.columns
        ]
        table[shown].to_string(sys.stdout, index=False, float_format=lambda v: f"{v:.3f}")
        print()
    return 0


def run_bulletin_command(args: argparse.Namespace) -> int:
    from gridmap.coverage.service import bulletins_from_store
    from gridmap.store import open_store

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: not a directory")
    if not out.parent.exists():
        raise InputError(f"{out.parent}: no such directory")
    out.mkdir(exist_ok=True)
    with open_store(args.store) as store:
        written = bulletins_from_store(store, args.month, out, counties=not args.city_only)
    for path in written:
        print(path)
    return 0
