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

Accounts and password hashing live in :mod:`gridmap.users` (scrypt, per-user salt).
Tokens are 256-bit random strings handed to the client once; the store keeps only an
HMAC-SHA256 of them keyed with ``settings.secret_key``, with an expiry
(``settings.token_ttl_hours``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from gridmap.config import Settings, get_settings
from gridmap.domain import LOCAL_TZ, assignment_active, now_local
from gridmap.store.base import Between, Op, Store
from gridmap.users import verify_password

ANONYMOUS = "anonymous"

#: rights per role; see the module docstring
ROLE_RIGHTS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "cases.read",
            "cases.personal",
            "workers.personal",
            "patrols.read",
            "plans.edit",
            "intake",
            "hotspots.run",
            "coverage.read",
            "coverage.run",
            "kpi.read",
            "users.manage",
            "audit.read",
            "jobs.read_all",
            "petitions.write",
        }
    ),
    "commander": frozenset({"cases.read", "hotspots.run", "coverage.read", "kpi.read"}),
    "supervisor": frozenset(
        {
            "cases.read",
            "workers.personal",
            "patrols.read",
            "coverage.read",
            "coverage.run",
            "kpi.read",
            "petitions.write",
        }
    ),
    "planner": frozenset({"plans.edit", "coverage.read", "kpi.read"}),
    # grid workers: case rights limited to their own grids (see :func:`case_grid_scope`)
    "grid_worker": frozenset({"cases.read", "cases.personal", "patrols.own", "kpi.read", "field.report"}),
    ANONYMOUS: frozenset(),
}


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


def _principal_from_row(row: pd.Series) -> Principal:
    scope = (
        json.loads(row["grid_scope"]) if isinstance(row.get("grid_scope"), str) and row["grid_scope"] else []
    )
    worker = row.get("worker_id")
    return Principal(
        username=str(row["username"]),
        role=str(row["role"]),
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
    if (
        pd.isna(row["active"])
        or not int(row["active"])
        or not verify_password(password, str(row["password_hash"]))
    ):
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
    store.write(
        "tokens",
        pd.DataFrame(
            [
                {
                    "token_hash": _token_digest(token, settings),
                    "username": principal.username,
                    "created_at": now.isoformat(timespec="seconds"),
                    "expires_at": (now + ttl).isoformat(timespec="seconds"),
                }
            ]
        ),
    )
    # expired tokens are useless; drop them here rather than in a separate janitor
    store.delete("tokens", {"expires_at": Op("<", now.isoformat(timespec="seconds"))})
    return token, int(ttl.total_seconds())


def principal_for_token(store: Store, token: str, settings: Settings | None = None) -> Principal | None:
    """The active user a valid, unexpired token belongs to, else ``None``."""
    settings = settings or get_settings()
    rows = store.read(
        "tokens",
        where={
            "token_hash": _token_digest(token, settings),
            "expires_at": Op(">", now_local()),
        },
    )
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
        rows = store.read(
            "assignments",
            where={"worker_id": principal.worker_id, "plan_id": plan_id},
            columns=["grid_code", "valid_from", "valid_to"],
        )
        active = assignment_active(rows["valid_from"], rows["valid_to"], today)
        grids |= set(rows.loc[active, "grid_code"].dropna().astype(str))
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
    store.write(
        "audit_log",
        pd.DataFrame(
            [
                {
                    "audit_id": uuid.uuid4().hex,
                    "ts": now_local(),
                    "actor": principal.actor,
                    "role": principal.role,
                    "action": action,
                    "object_type": object_type,
                    "object_id": ",".join(ids),
                    "detail": json.dumps(detail or {}, ensure_ascii=False),
                }
            ]
        ),
    )


def read_audit(store: Store, since: str | None = None, limit: int = 500) -> pd.DataFrame:
    """Audit rows, newest first."""
    where = {"ts": Between(since, None)} if since else None
    return store.read("audit_log", where=where, order_by=["-ts", "-audit_id"], limit=limit)


# --- demo users ------------------------------------------------------------------------------
