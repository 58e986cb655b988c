"""Local user accounts: roles, scrypt password hashes, creation and the demo accounts.

Library code (the demo build, the CLI) creates users here; the web API (``api.auth``)
signs them in and issues tokens.  Passwords are hashed with scrypt (n=2**14, r=8, p=1)
and a 16-byte per-user salt; the plain password is never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable

import pandas as pd

from gridmap.domain import now_local
from gridmap.errors import InputError
from gridmap.store.base import Store

#: the roles a user may hold (what each may do: ``api.auth.ROLE_RIGHTS``)
ROLES = ("admin", "planner", "commander", "supervisor", "grid_worker")

_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


# --- passwords -------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt_hex$hash_hex`` for ``password`` with a fresh random salt."""
    if not password:
        raise InputError("password must not be empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
    except (AttributeError, ValueError):
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=bytes.fromhex(salt_hex),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=32,
    )
    return hmac.compare_digest(digest.hex(), digest_hex)


# --- users -----------------------------------------------------------------------------------
def create_user(
    store: Store,
    username: str,
    password: str,
    role: str,
    worker_id: str | None = None,
    grid_scope: Iterable[str] = (),
    replace: bool = False,
) -> None:
    """Add a local user (or replace one when ``replace``); raises ``InputError`` on bad input."""
    if not _USERNAME.match(username or ""):
        raise InputError(f"user name {username!r}: use 1–64 letters, digits, '_', '.' or '-'")
    if role not in ROLES:
        raise InputError(f"role {role!r} unknown; choose one of {', '.join(ROLES)}")
    if role == "grid_worker" and not worker_id and not list(grid_scope):
        raise InputError(
            "a grid_worker user needs --worker-id (their grids come from assignments) or --grids"
        )
    if not replace and store.count("users", {"username": username}):
        raise InputError(f"user {username!r} exists already (use --replace to reset it)")
    row = {
        "username": username,
        "password_hash": hash_password(password),
        "role": role,
        "worker_id": worker_id,
        "grid_scope": json.dumps(sorted(set(grid_scope))),
        "active": 1,
        "created_at": now_local(),
    }
    with store.transaction():
        store.upsert("users", pd.DataFrame([row]))
        if replace:
            store.delete("tokens", {"username": username})


DEMO_USERS = (
    ("admin", "admin"),
    ("commander", "commander"),
    ("planner", "planner"),
    ("supervisor", "supervisor"),
    ("worker", "grid_worker"),
)


def ensure_demo_users(store: Store) -> list[str]:
    """Create the five demo accounts that do not exist yet, with random passwords.

    Returns one line per account created, carrying its password: the only time it is shown.
    The ``worker`` account is linked to the first worker (by id) with an assignment in the
    active plan.
    """
    lines = []
    worker_id = None
    plan_id = store.active_plan_id()
    if plan_id:
        rows = store.read("assignments", where={"plan_id": plan_id}, columns=["worker_id"])
        if not rows.empty:
            worker_id = str(sorted(rows["worker_id"].dropna().astype(str))[0])
    for username, role in DEMO_USERS:
        if store.count("users", {"username": username}):
            continue
        if role == "grid_worker" and worker_id is None:
            lines.append(
                f"demo user {username}: not created (no worker has an assignment in the active plan)"
            )
            continue
        password = secrets.token_urlsafe(9)
        create_user(store, username, password, role, worker_id=worker_id if role == "grid_worker" else None)
        lines.append(f"demo user {username:<10} role {role:<11} password {password}  (shown once)")
    return lines
