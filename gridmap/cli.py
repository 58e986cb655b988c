"""gridmap: grid planning, case geocoding, hotspot analytics and grid-worker audits (网格化管理).

Each sub-package contributes its sub-commands: a module in :data:`COMMAND_MODULES` exposes
``register(subparsers)`` which adds its parsers with ``set_defaults(func=...)``;
``func(args) -> int`` is the exit code.  The installed ``gridmap`` command is
:func:`api.cli.main`, which adds ``serve`` and ``users`` (the library never imports ``api``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable
from types import ModuleType

from gridmap import pipeline_cli, report_cli
from gridmap.coverage import cli as coverage_cli
from gridmap.forecast import cli as forecast_cli
from gridmap.geocode import cli as geocode_cli
from gridmap.hotspots import cli as hotspots_cli
from gridmap.imports import cli as imports_cli
from gridmap.partition import cli as partition_cli
from gridmap.synth import cli as synth_cli

COMMAND_MODULES: tuple[ModuleType, ...] = (
    synth_cli,
    pipeline_cli,
    geocode_cli,
    imports_cli,
    partition_cli,
    hotspots_cli,
    forecast_cli,
    coverage_cli,
    report_cli,
)

Register = Callable[[argparse._SubParsersAction], None]


def build_parser(extra: Iterable[Register] = ()) -> argparse.ArgumentParser:
    """The ``gridmap`` parser with the library's commands plus ``extra`` registrars."""
    parser = argparse.ArgumentParser(prog="gridmap", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in [*(m.register for m in COMMAND_MODULES), *extra]:
        register(sub)
    return parser


def main(argv: list[str] | None = None, extra: Iterable[Register] = ()) -> int:
    """Run one ``gridmap`` command; the exit code (1 with a one-line message for bad input)."""
    parser = build_parser(extra)
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
