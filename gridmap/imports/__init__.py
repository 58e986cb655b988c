"""Imports: every record an administration holds goes in, each row accounted for.

One module per kind (:data:`gridmap.imports.kinds.KINDS`); the shared contract — one
transaction, rows accepted / review / rejected with a reason, a batch report, per-row change
records, re-import changes nothing, ``undo`` — is :mod:`gridmap.imports.framework`.  A new
kind is a module with ``KIND``, ``TABLE`` and
``import_file(store, source, filename=None, mapping=None, **options)``, added to
:data:`gridmap.imports.kinds.KINDS`.
"""
