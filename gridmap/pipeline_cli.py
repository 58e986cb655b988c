"""``gridmap build-demo``: the whole Tongliao demo into the configured store."""

from __future__ import annotations

import argparse
import sys
import time


def _build_demo(args: argparse.Namespace) -> int:
    from gridmap.pipeline import build_demo
    from gridmap.store import open_store

    t0 = time.perf_counter()
    store = open_store(args.store)
    area = args.area or "150500"
    print(
        f"gridmap build-demo: area {area}, seed {args.seed}, scale {args.scale}, store {store.url}",
        file=sys.stderr,
    )
    report = build_demo(
        seed=args.seed,
        scale=args.scale,
        store=store,
        area=args.area,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(report.summary())
    print(f"built in {time.perf_counter() - t0:.1f} s")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-demo", help="build the Tongliao demo (real boundaries + seeded synthetic city)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--scale", type=float, default=1.0, help="1.0 ≈ 1 million households")
    p.add_argument(
        "--area",
        default=None,
        help="内蒙古 area code: 150500 通辽市 (default), another city such as 150100, a county, or 150000 "
        "(the province, built city by city)",
    )
    p.add_argument("--store", default=None, help="GeoPackage path or postgresql:// URL (default: settings)")
    p.set_defaults(func=_build_demo)
