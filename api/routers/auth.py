"""Sign-in (OAuth2 password flow → bearer token), users and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api import auth
from api.deps import PrincipalDep, SettingsDep, StoreDep, oauth2_scheme, require
from api.geojson import records
from gridmap.users import create_user

router = APIRouter(tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds until the token expires")
    username: str
    role: str


@router.post("/auth/token", response_model=TokenOut)
def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], store: StoreDep, settings: SettingsDep
) -> TokenOut:
    """Exchange user name and password (form fields, never the URL) for a bearer token."""
    principal = auth.authenticate(store, form.username, form.password)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong user name or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token, ttl = auth.issue_token(store, principal, settings)
    return TokenOut(access_token=token, expires_in=ttl, username=principal.actor, role=principal.role)


@router.post("/auth/logout", status_code=204)
def sign_out(
    store: StoreDep, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2_scheme)] = None
) -> None:
    """Revoke the bearer token of this request."""
    if token:
        auth.revoke_token(store, token, settings)


@router.get("/auth/me")
def who_am_i(principal: PrincipalDep) -> dict:
    """The signed-in user (or ``anonymous``) and their rights."""
    return {
        "username": principal.username,
        "role": principal.role,
        "worker_id": principal.worker_id,
        "rights": sorted(principal.rights),
    }


class UserIn(BaseModel):
    username: str
    password: str = Field(min_length=8)
    role: str
    worker_id: str | None = None
    grid_scope: list[str] = Field(default_factory=list)
    replace: bool = False


@router.get("/users")
def list_users(
    store: StoreDep, _admin: Annotated[auth.Principal, Depends(require("users.manage"))]
) -> list[dict]:
    """Accounts without their password hashes (admin only)."""
    users = store.read(
        "users",
        columns=["username", "role", "worker_id", "grid_scope", "active", "created_at"],
        order_by=["username"],
    )
    return records(users)


@router.post("/users", status_code=201)
def add_user(
    body: UserIn, store: StoreDep, admin: Annotated[auth.Principal, Depends(require("users.manage"))]
) -> dict:
    """Create (or with ``replace`` reset) a local account (admin only)."""
    create_user(
        store, body.username, body.password, body.role, body.worker_id, body.grid_scope, replace=body.replace
    )
    auth.audit(store, admin, "user.create", "user", [body.username], {"role": body.role})
    return {"username": body.username, "role": body.role}


@router.get("/audit")
def audit_log(
    store: StoreDep,
    _admin: Annotated[auth.Principal, Depends(require("audit.read"))],
    since: str | None = None,
    limit: int = 500,
) -> list[dict]:
    """Audit rows, newest first (admin only): actor, action, object, time — never personal values."""
    return records(auth.read_audit(store, since=since, limit=min(max(limit, 1), 5000)))
