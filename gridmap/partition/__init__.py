"""Grid planning: atoms, balanced contiguous grids nested in villages, codes, plans and edits.

Typical flow::

    atoms = build_atoms(villages, addresses)            # H3 atoms tiling every village
    atoms = carve_exclusive(atoms, sites, addresses)    # optional 专属网格
    result = partition_plan(atoms, target=400)          # atom → grid, per-village k, report
    grids = grids_from_atoms(atoms, result, villages)   # dissolved, coded grids
    plan_id = create_plan(store, "v2", grids, result.atoms, params)
"""

from gridmap.partition.atoms import atoms_from_polygons, build_atoms
from gridmap.partition.balance import PartitionResult, choose_k, partition_plan, partition_village
from gridmap.partition.codes import assign_codes
from gridmap.partition.exclusive import carve_exclusive
from gridmap.partition.grids import grids_from_atoms
from gridmap.partition.h3plan import h3_plan
from gridmap.partition.quality import QualityReport, quality_report
from gridmap.partition.tiling import dissolve_grids, validate_tiling

__all__ = [
    "PartitionResult",
    "QualityReport",
    "assign_codes",
    "atoms_from_polygons",
    "build_atoms",
    "carve_exclusive",
    "choose_k",
    "dissolve_grids",
    "grids_from_atoms",
    "h3_plan",
    "partition_plan",
    "partition_village",
    "quality_report",
    "validate_tiling",
]
