"""The import tables (declared in :mod:`gridmap.imports.tables`, shared by every kind).

Kept as a module so that ``gridmap.geocode.tables`` still registers them.
"""

from __future__ import annotations

from gridmap.imports.tables import IMPORT_BATCHES, IMPORT_ROWS

__all__ = ["IMPORT_BATCHES", "IMPORT_ROWS"]
