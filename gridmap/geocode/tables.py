"""Tables of the case intake: one row per import batch, one row per imported row.

Neither holds personal data: rows carry ids, the outcome, the reason and the candidate
standard addresses offered for review.
"""

from __future__ import annotations

from gridmap.store.schema import Table, register

TEXT, INTEGER = "TEXT", "INTEGER"

IMPORT_BATCHES = register(Table(
    "import_batches",
    {
        "batch_id": TEXT, "filename": TEXT, "sha256": TEXT, "created_at": TEXT, "actor": TEXT, "rows": INTEGER,
        "accepted": INTEGER, "review": INTEGER, "rejected": INTEGER, "report": TEXT,
    },
    primary_key=("batch_id",),
    indexes=(("sha256",), ("created_at",)),
    description="case imports: file, checksum, counts per outcome, the full report (JSON)",
))

IMPORT_ROWS = register(Table(
    "import_rows",
    {
        "batch_id": TEXT, "row_number": INTEGER, "external_id": TEXT, "case_id": TEXT, "status": TEXT, "reason": TEXT,
        "candidates": TEXT,
    },
    primary_key=("batch_id", "row_number"),
    indexes=(("case_id",), ("status",)),
    description="every imported row's outcome: accepted, review (candidates JSON) or rejected (reason)",
))
