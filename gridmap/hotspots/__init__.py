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

from gridmap.hotspots.areas import hotspot_areas
from gridmap.hotspots.emerging import EmergingResult, emerging_hotspots, space_time_cube
from gridmap.hotspots.getis_ord import GiStarResult, gi_star
from gridmap.hotspots.kde import KDEResult, kernel_density
from gridmap.hotspots.moran import LocalMoranResult, local_moran
from gridmap.hotspots.runs import run_hotspots
from gridmap.hotspots.weights import SpatialWeights, distance_band_weights, h3_weights, queen_weights

__all__ = [
    "EmergingResult",
    "GiStarResult",
    "KDEResult",
    "LocalMoranResult",
    "SpatialWeights",
    "distance_band_weights",
    "emerging_hotspots",
    "gi_star",
    "h3_weights",
    "hotspot_areas",
    "kernel_density",
    "local_moran",
    "queen_weights",
    "run_hotspots",
    "space_time_cube",
]
