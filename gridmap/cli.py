"""gridmap: grid planning, case geocoding, hotspot analytics and grid-worker audits (网格化管理).

Each sub-package contributes its sub-commands.

A module listed in :data:`COMMAND_MODULES` exposes ``register(subparsers)`` which
adds its parsers with ``set_defaults(func=...)``; ``func(args) -> int`` is the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMAND_MODULES = (
    "gridmap.synth.cli",
    "gridmap.pipeline_cli",
    "gridmap.geocode.cli",
    "gridmap.partition.cli",
    "gridmap.hotspots.cli",
    "gridmap.forecast.cli",
    "gridmap.coverage.cli",
    "gridmap.report_cli",
    "api.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridmap", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear message, not a traceback, for the operator
        from gridmap.errors import GridmapError

        if isinstance(exc, GridmapError):
            print(f"gridmap {args.command}: error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
