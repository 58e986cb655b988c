"""Tables owned by the web API: local users, bearer tokens, the audit log and background jobs."""

from __future__ import annotations

from gridmap.store.schema import Table, register

T, I, R = "TEXT", "INTEGER", "REAL"  # noqa: E741 (same shorthand as gridmap.store.schema)

register(Table(
    "users",
    {
        "username": T, "password_hash": T, "role": T, "worker_id": T, "grid_scope": T,
        "active": I, "created_at": T,
    },
    primary_key=("username",),
    description="local sign-in accounts; password_hash is scrypt with a per-user salt; "
                "grid_scope is a JSON list of grid codes added to the worker's assignments",
))

register(Table(
    "tokens",
    {"token_hash": T, "username": T, "created_at": T, "expires_at": T},
    primary_key=("token_hash",),
    indexes=(("username",),),
    description="bearer tokens, stored as HMAC-SHA256 of the token (the token itself is never stored)",
))

register(Table(
    "audit_log",
    {
        "audit_id": T, "ts": T, "actor": T, "role": T, "action": T, "object_type": T,
        "object_id": T, "detail": T,
    },
    primary_key=("audit_id",),
    indexes=(("ts",), ("actor",)),
    description="who read personal data or changed a plan, and when; never the personal values themselves",
))

register(Table(
    "jobs",
    {
        "job_id": T, "kind": T, "state": T, "progress": R, "message": T, "actor": T,
        "created_at": T, "started_at": T, "finished_at": T, "params": T, "result": T, "error": T,
    },
    primary_key=("job_id",),
    indexes=(("state",),),
    description="background jobs (partition, big imports, permutation hotspot runs) and their progress",
))
