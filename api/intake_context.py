"""The geocoding context of API imports, built once per store state and reused.

Building it reads every standard address and grid and indexes them (hundreds of MB at scale 1).
Built afresh for every upload, each import left the process larger than before (the
allocator keeps freed blocks of every worker thread's arena): 11 small imports took a server
from 1.8 to 4.3 GB.  One context per (store, addresses, admin units, active plan and its
revision) is kept instead — a single entry, so a changed store replaces it — and the allocator
is asked to give freed memory back after each import.
"""

from __future__ import annotations

import threading
from typing import Any

from gridmap.store.base import Store

_LOCK = threading.Lock()
_CACHED: dict[str, Any] = {"key": None, "context": None}


def _state_key(store: Store) -> tuple:
    from api.tilesource import plan_revision

    plan_id = store.active_plan_id()
    return (
        store.url,
        store.count("addresses"),
        store.count("admin_units"),
        plan_id,
        plan_revision(store, plan_id) if plan_id else 0,
        store.count("grids", {"plan_id": plan_id}) if plan_id else 0,
    )


def geocode_context(store: Store):
    """The :class:`gridmap.geocode.batch.GeocodeContext` for imports into ``store`` (None when the
    store has no standard addresses: the import then explains that itself)."""
    from gridmap.geocode.batch import GeocodeContext
    from gridmap.geocode.match import AddressMatcher

    key = _state_key(store)
    with _LOCK:
        if _CACHED["key"] == key:
            return _CACHED["context"]
        _CACHED["key"], _CACHED["context"] = None, None  # drop the old one before building the new
        addresses = store.read("addresses")
        if not len(addresses):
            return None
        admin_units = store.read("admin_units")
        plan_id = key[3]
        grids = store.read("grids", where={"plan_id": plan_id}) if plan_id else None
        context = GeocodeContext.build(
            None, admin_units, grids, matcher=AddressMatcher(addresses, admin_units)
        )
        _CACHED["key"], _CACHED["context"] = key, context
        return context
