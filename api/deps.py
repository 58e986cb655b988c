"""FastAPI dependencies: settings, store, job manager, tile cache and the current user.

Everything hangs off ``request.app.state`` (set by :func:`api.main.create_app`), so several
apps with different stores can live in one process (tests do that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from api.auth import PUBLIC, Principal, case_grid_scope, principal_for_token
from api.jobs import JobManager
from api.mvt import TileCache
from gridmap.config import Settings
from gridmap.store.base import Store

#: optional bearer token: anonymous requests get :data:`api.auth.PUBLIC`
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


# async: trivial lookups, so FastAPI need not hop to its thread pool for them
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_jobs(request: Request) -> JobManager:
    return request.app.state.jobs


async def get_tile_cache(request: Request) -> TileCache:
    return request.app.state.tile_cache


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]
TileCacheDep = Annotated[TileCache, Depends(get_tile_cache)]


async def get_principal(
    store: StoreDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)] = None,
) -> Principal:
    """The signed-in user, or :data:`PUBLIC` without a token; 401 for a bad or expired token."""
    if not token:
        return PUBLIC
    principal = await run_in_threadpool(principal_for_token, store, token, settings)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "token invalid or expired; sign in again",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(right: str) -> Callable[[Principal], Principal]:
    """Dependency: the current user, who must hold ``right`` (401 anonymous, 403 otherwise)."""

    def dependency(principal: PrincipalDep) -> Principal:
        if principal.can(right):
            return principal
        if not principal.is_authenticated:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "sign in first", headers={"WWW-Authenticate": "Bearer"}
            )
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this ({right})")

    dependency.__name__ = f"require_{right.replace('.', '_')}"
    return dependency


def case_scope(
    store: StoreDep, principal: Annotated[Principal, Depends(require("cases.read"))]
) -> list[str] | None:
    """Grid codes whose cases the user may read (``None`` = all); 401/403 without case access."""
    return case_grid_scope(store, principal)


CaseScopeDep = Annotated[list[str] | None, Depends(case_scope)]


def require_table(name: str) -> None:
    """501 while the table a route reads is not declared (its sub-package is missing)."""
    from gridmap.store.schema import all_tables

    if name not in all_tables():
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, f"table {name} is not available in this build")
