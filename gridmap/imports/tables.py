"""Tables of every import: one row per batch, one row per file row (with what it changed).

``import_batches`` and ``import_rows`` were the case intake's; they now serve every kind
(column ``kind``).  An ``import_rows`` row says what happened to its file row
(``status`` accepted / review / rejected with ``reason``) and what it did to the store
(``action`` insert / update / unchanged / none, the ``record_key`` it touched, the
``changed`` columns and their values ``before`` as JSON), which is what
:func:`gridmap.imports.framework.undo_batch` reverses.  ``before`` may hold the personal
fields the row overwrote (it is a copy of the store's own data, needed to undo);
neither table is ever logged.
"""

from __future__ import annotations

from gridmap.store.schema import Table, register

TEXT, INTEGER = "TEXT", "INTEGER"

IMPORT_BATCHES = register(Table(
    "import_batches",
    {
        "batch_id": TEXT, "filename": TEXT, "sha256": TEXT, "created_at": TEXT, "actor": TEXT, "rows": INTEGER,
        "accepted": INTEGER, "review": INTEGER, "rejected": INTEGER, "report": TEXT,
        "kind": TEXT, "undone_at": TEXT,
    },
    primary_key=("batch_id",),
    indexes=(("sha256",), ("created_at",)),
    description="imports: kind, file, checksum, counts per outcome, the full report (JSON), when undone",
))

IMPORT_ROWS = register(Table(
    "import_rows",
    {
        "batch_id": TEXT, "row_number": INTEGER, "external_id": TEXT, "case_id": TEXT, "status": TEXT, "reason": TEXT,
        "candidates": TEXT, "record_key": TEXT, "action": TEXT, "changed": TEXT, "before": TEXT,
    },
    primary_key=("batch_id", "row_number"),
    indexes=(("case_id",), ("status",)),
    description="every imported row: outcome (accepted / review with candidates / rejected with reason) "
                "and its change to the store (action, changed columns, values before)",
))

ADMIN_UNIT_VERSIONS = register(Table(
    "admin_unit_versions",
    {"code": TEXT, "replaced_at": TEXT, "batch_id": TEXT, "name": TEXT, "level": TEXT, "parent_code": TEXT,
     "source": TEXT},
    primary_key=("code", "replaced_at"),
    geometry_type="MULTIPOLYGON",
    indexes=(("code",),),
    description="earlier boundaries of units a units import changed: older plans stay valid against them",
))
