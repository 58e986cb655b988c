"""``gridmap report --out report.html``: the static, self-contained map of hotspots and grids."""

from __future__ import annotations

import argparse
import sys


def _report(args: argparse.Namespace) -> int:
    from gridmap.report import write_report
    from gridmap.store import open_store

    with open_store(args.store) as store:
        path = write_report(store, args.out)
    print(
        f"gridmap report: wrote {path} ({path.stat().st_size / 1e6:.1f} MB, no external URL)", file=sys.stderr
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML map of current hotspots and grids")
    p.add_argument("--out", default="report.html", help="output file (default report.html)")
    p.add_argument("--store", default=None, help="GeoPackage path or postgresql:// URL (default: settings)")
    p.set_defaults(func=_report)
