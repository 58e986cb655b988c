"""Case intake and geocoding: every case on the right grid, or in a review queue with a reason.

Modules, each with one job:

* :mod:`~gridmap.geocode.transform` — WGS-84 / CGCS2000 / GCJ-02 / BD-09 conversions (vectorized);
* :mod:`~gridmap.geocode.checks` — declared coordinates checked against the city (swapped, outside, zero);
* :mod:`~gridmap.geocode.normalize`, :mod:`~gridmap.geocode.parse` — address text → canonical parts;
* :mod:`~gridmap.geocode.match` — the matching cascade against the standard-address table;
* :mod:`~gridmap.geocode.assign` — point → grid, with a deterministic rule on shared edges;
* :mod:`~gridmap.geocode.batch` — the per-row decision (coordinates and/or address → point, grid, status);
* :mod:`~gridmap.geocode.intake` — file imports into the store, review queue and review actions;
* :mod:`~gridmap.geocode.evaluate` — quality figures on the synthetic city;
* :mod:`~gridmap.geocode.cli` — ``gridmap geocode``, ``gridmap import cases``, ``gridmap review``.
"""
