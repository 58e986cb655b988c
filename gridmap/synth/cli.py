"""``gridmap synth``: build the seeded synthetic city and write it to a directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gridmap.config import get_settings


def _progress(message: str) -> None:
    print(f"synth {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from gridmap.synth.city import synthesize
    from gridmap.synth.output import write_city

    city = synthesize(args.seed, args.scale, progress=_progress)
    _progress(f"writing {args.out}")
    manifest = write_city(city, args.out)
    _progress(
        f"done: {len(city.admin_units):,} admin units, {len(city.addresses):,} addresses, "
        f"{len(city.cases):,} cases, {len(city.workers):,} workers, {len(city.patrols):,} patrols"
    )
    print(manifest)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    settings = get_settings()
    parser = subparsers.add_parser(
        "synth",
        help="build the seeded synthetic city (townships, villages, addresses, cases, workers)",
        description=(
            "Build the synthetic Tongliao below county level, deterministic per seed, and write "
            "DIR/city.gpkg, DIR/case_truth.csv, DIR/truth.json and DIR/manifest.json."
        ),
    )
    parser.add_argument(
        "--seed", type=int, default=settings.demo_seed, help="random seed (default %(default)s)"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=settings.demo_scale,
        help="1.0 ≈ 1,000,000 households and ~29,000 cases; 0.02 for quick tests (default %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("var/synth"), help="output directory (default %(default)s)"
    )
    parser.set_defaults(func=run)
