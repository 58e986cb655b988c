"""``gridmap init``, ``gridmap import KIND FILE``, ``gridmap import undo BATCH``, ``gridmap import list``."""

from __future__ import annotations

import argparse
import sys

from gridmap.errors import InputError


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _store(args):
    from gridmap.store import open_store

    return open_store(getattr(args, "store", None))


def parse_map(pairs: list[str] | None) -> dict[str, str]:
    """``--map field=column`` pairs → {field: column}; one-line error for a malformed pair."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise InputError(f"--map {pair!r}: write it as field=column, e.g. --map address_text=详细地址")
        out[field.strip()] = column.strip()
    return out


def cmd_init(args: argparse.Namespace) -> int:
    from gridmap.imports.init import init_store

    store = _store(args)
    counts = init_store(store, area=args.area, empty=args.empty)
    if args.empty:
        print(f"initialised {store.url}: empty (no units; import them with gridmap import units FILE)")
    elif counts:
        print(
            f"initialised {store.url} for area {args.area}: "
            + ", ".join(f"{v:,} {k}" for k, v in counts.items())
            + " (outlines real, codes official; no synthetic row)"
        )
    else:
        print(f"{store.url} was already initialised for area {args.area}; nothing changed")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from gridmap.imports.framework import undo_batch
    from gridmap.imports.kinds import run_import

    store = _store(args)
    if args.kind == "undo":
        print(undo_batch(store, args.file, actor=args.actor).summary())
        return 0
    if args.kind == "list":
        batches = store.read(
            "import_batches",
            columns=[
                "batch_id",
                "kind",
                "filename",
                "created_at",
                "rows",
                "accepted",
                "review",
                "rejected",
                "undone_at",
            ],
            order_by=["created_at"],
        )
        for row in batches.itertuples():
            undone = f"  undone {row.undone_at}" if isinstance(row.undone_at, str) else ""
            print(
                f"{row.batch_id}  {row.kind or 'cases'}  {row.filename}  {row.rows} rows: {row.accepted} accepted, "
                f"{row.review} review, {row.rejected} rejected{undone}"
            )
        return 0
    if not args.file:
        raise InputError(f"gridmap import {args.kind} needs a FILE")
    from gridmap.imports.init import refuse_synthetic

    refuse_synthetic(store)
    options = {"actor": args.actor}
    for name in ("sheet", "encoding", "crs", "plan", "layer"):
        if getattr(args, name, None):
            options[name] = getattr(args, name)
    mapping = parse_map(args.map)
    if args.mapping:
        import json

        extra = json.loads(args.mapping)
        if not isinstance(extra, dict):
            raise InputError('--mapping must be a JSON object: {"file column": "field", …}')
        mapping.update(extra)
    _say(f"importing {args.file} as {args.kind} …")
    report = run_import(
        store,
        args.kind,
        args.file,
        None,
        mapping=mapping or None,
        progress=lambda f, m: _say(f"  {f:4.0%} {m}"),
        **options,
    )
    print(report.summary())
    return 0


def register(subparsers) -> None:
    from gridmap.imports.kinds import KIND_MODULES

    p = subparsers.add_parser(
        "init",
        help="create a store for real data (no synthetic row)",
        description="Creates the store (GRIDMAP_DATABASE_URL / GRIDMAP_GPKG_PATH or --store) "
        "with the area's real outlines and official code lists.",
    )
    p.add_argument("--area", default="150500", help="area code (default 150500 通辽市)")
    p.add_argument("--empty", action="store_true", help="no units at all: import them yourself")
    p.add_argument("--store", help="store URL or GeoPackage path (default: settings)")
    p.set_defaults(func=cmd_init)

    p = subparsers.add_parser(
        "import",
        help="import a file: " + ", ".join(KIND_MODULES) + "; or undo / list batches",
        description="gridmap import KIND FILE (every row accepted, in review or rejected with a reason; one "
        "transaction; a re-import changes only what differs); gridmap import undo BATCH; "
        "gridmap import list.",
    )
    p.add_argument("kind", choices=[*KIND_MODULES, "undo", "list"])
    p.add_argument("file", nargs="?", help="the file (for undo: the batch id)")
    p.add_argument(
        "--map",
        action="append",
        metavar="FIELD=COLUMN",
        help="read FIELD from COLUMN (repeatable); overrides the Chinese/English aliases",
    )
    p.add_argument("--mapping", help='the same as JSON: {"file column": "field", …}')
    p.add_argument(
        "--sheet", help="workbooks: the sheet (name or 0-based number); default the one with most data"
    )
    p.add_argument("--encoding", help="text files: utf-8, gbk or gb18030 (default: detected)")
    p.add_argument(
        "--crs", help="coordinate system when the file has none: EPSG:NNNN, wgs84, cgcs2000, gcj02, bd09"
    )
    p.add_argument("--plan", help="grids: the plan name to create")
    p.add_argument("--layer", help="vector files: the layer")
    p.add_argument("--actor", default="cli", help="who imports (recorded with the batch)")
    p.add_argument("--store", help="store URL or GeoPackage path (default: settings)")
    p.set_defaults(func=cmd_import)
