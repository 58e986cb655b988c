"""Hotspot analytics of cases: Gi* with FDR, local Moran, emerging hot spots, rates, heat surfaces.

One statistic per module, each returning an esda-style result dataclass that carries
the values and their inference:

* :mod:`~gridmap.hotspots.aggregate` — case filters, counts on polygons / H3 cells, rates,
  Empirical Bayes smoothing;
* :mod:`~gridmap.hotspots.weights` — binary queen / H3 ring / distance-band / space-time weights;
* :mod:`~gridmap.hotspots.getis_ord` — :func:`gi_star` (= esda ``G_Local(star=True, transform="B")``);
* :mod:`~gridmap.hotspots.moran` — :func:`local_moran` (= esda ``Moran_Local``, row-standardised);
* :mod:`~gridmap.hotspots.permutation` / :mod:`~gridmap.hotspots.exact_null` — conditional
  randomisation (drawn, or exact for counts);
* :mod:`~gridmap.hotspots.emerging` — space-time Gi*, Mann–Kendall, the 17 ArcGIS classes;
* :mod:`~gridmap.hotspots.kde` — quartic kernel density, PNG for Leaflet, values at unit centres;
* :mod:`~gridmap.hotspots.areas` — significant units merged into ranked hot-spot areas;
* :mod:`~gridmap.hotspots.runs` — :func:`run_hotspots` on the store, ``gridmap hotspots`` CLI.
"""

from __future__ import annotations

import importlib

# lazy: the store imports gridmap.hotspots.tables, which must not pull in scipy and friends
_EXPORTS = {
    "hotspot_areas": "areas",
    "EmergingResult": "emerging",
    "emerging_hotspots": "emerging",
    "space_time_cube": "emerging",
    "GiStarResult": "getis_ord",
    "gi_star": "getis_ord",
    "KDEResult": "kde",
    "kernel_density": "kde",
    "LocalMoranResult": "moran",
    "local_moran": "moran",
    "SpatialWeights": "weights",
    "distance_band_weights": "weights",
    "h3_weights": "weights",
    "queen_weights": "weights",
    "run_hotspots": "runs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"gridmap.hotspots.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'gridmap.hotspots' has no attribute {name!r}")
