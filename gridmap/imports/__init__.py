"""Imports: every record an administration holds goes in, each row accounted for.

One module per kind (``KINDS``); the shared contract — one transaction, rows accepted /
review / rejected with a reason, a batch report, per-row change records, re-import changes
nothing, ``undo`` — is :mod:`gridmap.imports.framework`.  A new kind is a module with
``KIND``, ``TABLE`` and ``import_file(store, source, filename=None, mapping=None, **options)``
listed in :data:`KIND_MODULES`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: kind → module implementing it (in the order a county's data goes in)
KIND_MODULES = {
    "units": "gridmap.imports.units",
    "addresses": "gridmap.imports.addresses",
    "workers": "gridmap.imports.workers",
    "assignments": "gridmap.imports.assignments",
    "patrols": "gridmap.imports.patrols",
    "grids": "gridmap.imports.grids",
    "cases": "gridmap.imports.cases",
}


class _Kinds(dict):
    """kind → module, imported on first use (kinds not yet written are simply absent)."""

    def __init__(self) -> None:
        super().__init__()
        for kind, name in KIND_MODULES.items():
            try:
                self[kind] = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    raise


def kinds() -> dict[str, ModuleType]:
    return _Kinds()


def __getattr__(name: str):
    if name == "KINDS":
        return _Kinds()
    raise AttributeError(name)


def run_import(store, kind: str, source, filename: str | None = None, **options):
    """Import ``source`` as ``kind``; returns the :class:`~gridmap.imports.framework.BatchReport`."""
    from gridmap.errors import InputError

    available = kinds()
    if kind not in available:
        raise InputError(f"unknown import kind {kind!r}; use one of {', '.join(available)}")
    return available[kind].import_file(store, source, filename, **options)
