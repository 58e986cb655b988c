"""The installed ``gridmap`` command: the library's commands (:mod:`gridmap.cli`) plus
``gridmap serve`` and ``gridmap users …``."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys

#: ``GRIDMAP_PYTHON_ALLOCATOR`` for ``gridmap serve``: ``malloc`` (every object from the C
#: allocator, ``PYTHONMALLOC=malloc``; the default) or ``pymalloc`` (Python's own small-object
#: allocator: less CPU, but memory a load leaves fragmented stays with the server)
ALLOCATORS = ("pymalloc", "malloc")


def _use_allocator(name: str) -> None:
    """Run the server under the chosen Python allocator: ``PYTHONMALLOC`` must be set before
    the interpreter starts, so ``serve`` starts itself again (same process id) when it differs.

    Why ``malloc`` by default: pymalloc frees a 1 MiB arena only when every object in it is gone, so
    after a load a few long-lived objects keep arenas that are mostly empty; the C allocator
    hands back any free page at the idle stages' ``malloc_trim``.  Measured with
    ``bench/route_memory.py --passes 2`` on the scale-0.1 demo: 287 → 345 → 380 MiB after each
    pass and its idle stages with pymalloc (Python arenas 88 → 118 → 129 MiB around 85–87 MiB of
    live objects), 293 → 337 → 310 MiB with malloc — at 8–20 % more CPU for the same requests
    (``bench/allocator_cost.py``).  Under the 10-minute soak the server ended 37 MiB above its
    idle size with pymalloc and 14 MiB above it with malloc.
    """
    if name not in ALLOCATORS:
        from gridmap.errors import InputError

        raise InputError(f"GRIDMAP_PYTHON_ALLOCATOR must be one of {', '.join(ALLOCATORS)}, not {name!r}")
    wanted = "malloc" if name == "malloc" else None
    current = os.environ.get("PYTHONMALLOC") or None
    if wanted is None or current == wanted:
        return
    environ = dict(os.environ, PYTHONMALLOC=wanted)
    os.execve(sys.executable, [sys.executable, "-m", "api.cli", *sys.argv[1:]], environ)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.main import create_app
    from api.privacy import install_log_filter
    from gridmap.config import get_settings
    from gridmap.store import open_store

    get_settings().api.check_serving(args.host)  # one-line refusal before anything is opened
    store = open_store(args.store) if args.store else None
    app = create_app(store=store)
    print(
        f"gridmap serve: http://{args.host}:{args.port}/  (API docs: /docs, OGC API: /ogc)", file=sys.stderr
    )
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="info", workers=1)
    server = uvicorn.Server(config)
    install_log_filter()  # uvicorn configures its loggers in Config(); filter them after that
    server.run()
    return 0


def _users_add(args: argparse.Namespace) -> int:
    from gridmap.errors import InputError
    from gridmap.store import open_store
    from gridmap.users import ROLES, create_user

    if args.role not in ROLES:
        raise InputError(f"role {args.role!r} unknown; choose one of {', '.join(ROLES)}")
    if args.prompt:
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            raise InputError("the two passwords differ")
        if len(password) < 8:
            raise InputError("use at least 8 characters")
        shown = False
    else:
        password = secrets.token_urlsafe(12)
        shown = True
    grids = [g.strip() for g in (args.grids or "").split(",") if g.strip()]
    with open_store(args.store) as store:
        create_user(
            store,
            args.name,
            password,
            args.role,
            worker_id=args.worker_id,
            grid_scope=grids,
            replace=args.replace,
        )
    print(f"user {args.name} ({args.role}) {'reset' if args.replace else 'created'}")
    if shown:
        print(f"password: {password}   (shown once; store it now)")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    from gridmap.store import open_store

    with open_store(args.store) as store:
        users = store.read(
            "users", columns=["username", "role", "worker_id", "active", "created_at"], order_by=["username"]
        )
    for row in users.itertuples(index=False):
        worker = row.worker_id if isinstance(row.worker_id, str) else "-"
        print(
            f"{row.username:<16} {row.role:<12} worker {worker:<10} active {row.active}  since {row.created_at}"
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the web API and front end (uvicorn)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--store", default=None, help="GeoPackage path or postgresql:// URL (default: settings)")
    p.set_defaults(func=_serve)

    users = sub.add_parser("users", help="local sign-in accounts")
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = users_sub.add_parser(
        "add", help="add (or with --replace reset) a user; prints a generated password"
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, help="admin | planner | commander | supervisor | grid_worker")
    add.add_argument(
        "--worker-id", default=None, help="grid_worker: the worker record (grids via assignments)"
    )
    add.add_argument("--grids", default=None, help="grid_worker: extra grid codes, comma-separated")
    add.add_argument("--prompt", action="store_true", help="type the password instead of generating one")
    add.add_argument("--replace", action="store_true", help="reset an existing user (revokes their tokens)")
    add.add_argument("--store", default=None, help="GeoPackage path or postgresql:// URL (default: settings)")
    add.set_defaults(func=_users_add)
    lst = users_sub.add_parser("list", help="list users (never passwords)")
    lst.add_argument("--store", default=None)
    lst.set_defaults(func=_users_list)


def main(argv: list[str] | None = None) -> int:
    """``gridmap …`` (the console script)."""
    if argv is None and sys.argv[1:2] == ["serve"]:
        # before the library's imports: the restarted process imports them once
        from gridmap.errors import InputError

        try:
            _use_allocator(os.environ.get("GRIDMAP_PYTHON_ALLOCATOR", "malloc").strip() or "malloc")
        except InputError as error:
            print(f"gridmap: {error}", file=sys.stderr)
            return 2
    from gridmap.cli import main as library_main

    return library_main(argv, extra=(register,))


if __name__ == "__main__":
    sys.exit(main())
