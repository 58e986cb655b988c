"""The store's portable filter values and its error type (no SQL here; :mod:`gridmap.store.sql`
turns filters into SQL).  Import them from :mod:`gridmap.store.base` or :mod:`gridmap.store`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gridmap.errors import GridmapError


@dataclass(frozen=True)
class Between:
    lo: Any = None
    hi: Any = None


@dataclass(frozen=True)
class Op:
    op: Literal["=", "!=", "<", "<=", ">", ">="]
    value: Any


Where = Mapping[str, Any]


class StoreError(GridmapError, RuntimeError):
    """A store operation failed; the store is unchanged.

    A :class:`~gridmap.errors.GridmapError`, so the CLI prints its message without a traceback.
    """
