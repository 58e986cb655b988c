"""Local sign-in, bearer tokens, roles and the audit log.

Roles and what they may do (``ROLE_RIGHTS``):

============  =====================================================================
admin         everything; sees personal fields unmasked
commander     reads every case with personal fields masked; runs hotspot analyses
supervisor    reads cases (masked) and coverage; sees grid workers' names/phones and check-ins
planner       plans and grid edits; no case access (aggregates with small counts suppressed)
grid_worker   reads the cases of their own grids (assignments in the active plan plus the
              user's ``grid_scope``) unmasked, and their own check-ins
anonymous     aggregate layers only (admin units, grids, hotspot results, coverage findings)
============  =====================================================================

Passwords are hashed with scrypt (n=2**14, r=8, p=1) and a 16-byte per-user salt.
Tokens are 256-bit random strings handed to the client once; the store keeps only an
HMAC-SHA256 of them keyed with ``settings.secret_key``, with an expiry
(``settings.token_ttl_hours``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from gridmap.config import Settings, get_settings
from gridmap.errors import InputError
from gridmap.store.base import Between, Op, Store

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

ROLES = ("admin", "planner", "commander", "supervisor", "grid_worker")
ANONYMOUS = "anonymous"

#: rights per role; see the module docstring
ROLE_RIGHTS: dict[str, frozenset[str]] = {
    "admin": frozenset({
        "cases.read", "cases.personal", "workers.personal", "patrols.read", "plans.edit", "intake",
        "hotspots.run", "coverage.read", "coverage.run", "kpi.read", "users.manage", "audit.read",
        "jobs.read_all", "petitions.write",
    }),
    "commander": frozenset({"cases.read", "hotspots.run", "coverage.read", "kpi.read"}),
    "supervisor": frozenset({
        "cases.read", "workers.personal", "patrols.read", "coverage.read", "coverage.run", "kpi.read",
        "petitions.write",
    }),
    "planner": frozenset({"plans.edit", "coverage.read", "kpi.read"}),
    # grid workers: case rights limited to their own grids (see :func:`case_grid_scope`)
    "grid_worker": frozenset({"cases.read", "cases.personal", "patrols.own", "kpi.read"}),
    ANONYMOUS: frozenset(),
}

_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def now_local() -> str:
    """Current local time (Asia/Shanghai) as the store's ISO text, seconds precision."""
    return datetime.now(LOCAL_TZ).replace(tzinfo=None).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in user or the anonymous public."""

    username: str | None
    role: str = ANONYMOUS
    worker_id: str | None = None
    grid_scope: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_authenticated(self) -> bool:
        return self.username is not None

    @property
    def rights(self) -> frozenset[str]:
        return ROLE_RIGHTS.get(self.role, frozenset())

    def can(self, right: str) -> bool:
        return right in self.rights

    @property
    def sees_all_cases(self) -> bool:
        """Reads every case (grid workers read only their own grids')."""
        return self.can("cases.read") and self.role != "grid_worker"

    @property
    def actor(self) -> str:
        return self.username or ANONYMOUS


PUBLIC = Principal(None)


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
        password.encode("utf-8"), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p), dklen=32,
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
        raise InputError("a grid_worker user needs --worker-id (their grids come from assignments) or --grids")
    if not replace and store.count("users", {"username": username}):
        raise InputError(f"user {username!r} exists already (use --replace to reset it)")
    row = {
        "username": username, "password_hash": hash_password(password), "role": role,
        "worker_id": worker_id, "grid_scope": json.dumps(sorted(set(grid_scope))), "active": 1,
        "created_at": now_local(),
    }
    with store.transaction():
        store.upsert("users", pd.DataFrame([row]))
        if replace:
            store.delete("tokens", {"username": username})


def _principal_from_row(row: pd.Series) -> Principal:
    scope = json.loads(row["grid_scope"]) if isinstance(row.get("grid_scope"), str) and row["grid_scope"] else []
    worker = row.get("worker_id")
    return Principal(
        username=str(row["username"]), role=str(row["role"]),
        worker_id=str(worker) if isinstance(worker, str) and worker else None,
        grid_scope=tuple(scope),
    )


def authenticate(store: Store, username: str, password: str) -> Principal | None:
    """The user when ``password`` is right and the account active, else ``None``."""
    users = store.read("users", where={"username": username})
    if users.empty:
        # spend the same time as a real check so user names cannot be probed by timing
        verify_password(password, _DUMMY_HASH)
        return None
    row = users.iloc[0]
    if pd.isna(row["active"]) or not int(row["active"]) or not verify_password(password, str(row["password_hash"])):
        return None
    return _principal_from_row(row)


_DUMMY_HASH = (
    "scrypt$16384$8$1$00000000000000000000000000000000$"
    "0000000000000000000000000000000000000000000000000000000000000000"
)


# --- tokens ----------------------------------------------------------------------------------
def _token_digest(token: str, settings: Settings) -> str:
    return hmac.new(settings.secret_key.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).hexdigest()


def issue_token(store: Store, principal: Principal, settings: Settings | None = None) -> tuple[str, int]:
    """A new bearer token for ``principal`` and its lifetime in seconds."""
    settings = settings or get_settings()
    token = secrets.token_urlsafe(32)
    now = datetime.now(LOCAL_TZ).replace(tzinfo=None)
    ttl = timedelta(hours=settings.token_ttl_hours)
    store.write("tokens", pd.DataFrame([{
        "token_hash": _token_digest(token, settings), "username": principal.username,
        "created_at": now.isoformat(timespec="seconds"),
        "expires_at": (now + ttl).isoformat(timespec="seconds"),
    }]))
    # expired tokens are useless; drop them here rather than in a separate janitor
    store.delete("tokens", {"expires_at": Op("<", now.isoformat(timespec="seconds"))})
    return token, int(ttl.total_seconds())


def principal_for_token(store: Store, token: str, settings: Settings | None = None) -> Principal | None:
    """The active user a valid, unexpired token belongs to, else ``None``."""
    settings = settings or get_settings()
    rows = store.read("tokens", where={
        "token_hash": _token_digest(token, settings), "expires_at": Op(">", now_local()),
    })
    if rows.empty:
        return None
    users = store.read("users", where={"username": str(rows["username"].iloc[0]), "active": 1})
    return None if users.empty else _principal_from_row(users.iloc[0])


def revoke_token(store: Store, token: str, settings: Settings | None = None) -> bool:
    """Forget a token (sign-out); True when it existed."""
    settings = settings or get_settings()
    return store.delete("tokens", {"token_hash": _token_digest(token, settings)}) > 0


# --- scope -----------------------------------------------------------------------------------
def case_grid_scope(store: Store, principal: Principal) -> list[str] | None:
    """Grid codes whose cases ``principal`` may read: ``None`` = all, ``[]`` = none.

    Grid workers get the grids of their current assignments in the active plan plus their
    ``grid_scope``; every other role without ``cases.read`` gets none.
    """
    if not principal.can("cases.read"):
        return []
    if principal.role != "grid_worker":
        return None
    grids = set(principal.grid_scope)
    plan_id = store.active_plan_id()
    if principal.worker_id and plan_id:
        today = now_local()[:10]
        rows = store.read("assignments", where={"worker_id": principal.worker_id, "plan_id": plan_id},
                          columns=["grid_code", "valid_from", "valid_to"])
        started = rows["valid_from"].isna() | (rows["valid_from"].astype(str).str[:10] <= today)
        not_ended = rows["valid_to"].isna() | (rows["valid_to"].astype(str).str[:10] > today)
        grids |= set(rows.loc[started & not_ended, "grid_code"].dropna().astype(str))
    return sorted(grids)


# --- audit log -------------------------------------------------------------------------------
def audit(
    store: Store,
    principal: Principal,
    action: str,
    object_type: str,
    object_ids: Iterable[str] = (),
    detail: dict | None = None,
) -> None:
    """Record who did what to which objects (ids only — never the personal values)."""
    ids = [str(i) for i in object_ids]
    store.write("audit_log", pd.DataFrame([{
        "audit_id": uuid.uuid4().hex, "ts": now_local(), "actor": principal.actor, "role": principal.role,
        "action": action, "object_type": object_type, "object_id": ",".join(ids),
        "detail": json.dumps(detail or {}, ensure_ascii=False),
    }]))


def read_audit(store: Store, since: str | None = None, limit: int = 500) -> pd.DataFrame:
    """Audit rows, newest first."""
    where = {"ts": Between(since, None)} if since else None
    return store.read("audit_log", where=where, order_by=["-ts", "-audit_id"], limit=limit)


# --- demo users ------------------------------------------------------------------------------
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
            lines.append(f"demo user {username}: not created (no worker has an assignment in the active plan)")
            continue
        password = secrets.token_urlsafe(9)
        create_user(store, username, password, role, worker_id=worker_id if role == "grid_worker" else None)
        lines.append(f"demo user {username:<10} role {role:<11} password {password}  (shown once)")
    return lines
