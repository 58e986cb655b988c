"""The import kinds, in the order a county's data goes in, and :func:`run_import`."""

from __future__ import annotations

from types import ModuleType

from gridmap.errors import InputError
from gridmap.imports import (
    addresses,
    assignments,
    cases,
    grids,
    patrols,
    petition_items,
    petition_visits,
    units,
    workers,
)

#: kind → module implementing it
KINDS: dict[str, ModuleType] = {
    "units": units,
    "addresses": addresses,
    "workers": workers,
    "assignments": assignments,
    "patrols": patrols,
    "grids": grids,
    "cases": cases,
    "petition_items": petition_items,
    "petition_visits": petition_visits,
}
KIND_MODULES = tuple(KINDS)


def run_import(store, kind: str, source, filename: str | None = None, **options):
    """Import ``source`` as ``kind``; returns the :class:`~gridmap.imports.framework.BatchReport`."""
    if kind not in KINDS:
        raise InputError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
    return KINDS[kind].import_file(store, source, filename, **options)
