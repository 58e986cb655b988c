"""Planted Gaussian clusters of points and the score of a hot-spot map against them.

A seeded, **synthetic** generator for judging hot-spot inference (tests and ``bench/``):
a share of the points spread uniformly over a lon/lat box, the rest in Gaussian clusters
with known centres and spreads.  :func:`cluster_recovery` then answers the two questions
of issue #12: how many clusters have a hot cell within 1 σ of their centre (power), and
what share of hot cells lies beyond 3 σ of every centre (false alarms).

Coordinates are WGS-84 degrees (EPSG:4326); σ and distances are metres, measured with a
local equirectangular approximation at the box's centre latitude (error < 0.1 % over
the ~100 km boxes used here).
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import numpy as np

from gridmap.errors import InputError

METRES_PER_DEGREE_LAT = 111_200.0
#: ≈ 105 km × 97 km around 通辽 (科尔沁区)
TONGLIAO_BOX = (121.61, 43.2, 122.91, 44.07)


@dataclass(frozen=True)
class PlantedClusters:
    """Synthetic points with their planted truth.

    ``lon``/``lat`` (degrees) of every point; ``centres_lon``/``centres_lat`` (degrees)
    and ``sigma_m`` (metres, the standard deviation of each coordinate) per cluster;
    ``cluster`` is the cluster of each point (−1 for background).
    """

    lon: np.ndarray
    lat: np.ndarray
    cluster: np.ndarray
    centres_lon: np.ndarray
    centres_lat: np.ndarray
    sigma_m: np.ndarray
    box: tuple[float, float, float, float]

    @property
    def n_clusters(self) -> int:
        return len(self.sigma_m)


def planted_clusters(
    n_points: int = 1_000_000,
    n_clusters: int = 20,
    seed: int = 0,
    background_share: float = 0.5,
    sigma_range_m: tuple[float, float] = (300.0, 2000.0),
    box: tuple[float, float, float, float] = TONGLIAO_BOX,
) -> PlantedClusters:
    """``n_points`` seeded points: ``background_share`` uniform over ``box``, the rest in clusters.

    Parameters
    ----------
    n_points : int
        total points before clipping to the box (points of a cluster that fall outside are dropped).
    n_clusters : int
        Gaussian clusters, centres uniform at least 0.1° inside the box, equal expected size.
    seed : int
        the generator's seed (same seed → same points).
    background_share : float
        share of points uniform over the box (0 → clusters only).
    sigma_range_m : (float, float)
        per-cluster σ drawn uniformly from this range, metres.
    box : (west, south, east, north)
        WGS-84 degrees.
    """
    if n_points < 1 or n_clusters < 1:
        raise InputError("n_points and n_clusters must be positive")
    if not 0 <= background_share < 1:
        raise InputError(f"background_share must lie in [0, 1), got {background_share}")
    rng = np.random.default_rng(seed)
    west, south, east, north = box
    n_background = int(round(background_share * n_points))
    centres_lon = rng.uniform(west + 0.1, east - 0.1, n_clusters)
    centres_lat = rng.uniform(south + 0.1, north - 0.1, n_clusters)
    sigma_m = rng.uniform(*sigma_range_m, n_clusters)
    which = rng.integers(0, n_clusters, n_points - n_background)
    metres_per_degree_lon = METRES_PER_DEGREE_LAT * np.cos(np.radians((south + north) / 2))
    lon = np.concatenate(
        [
            rng.uniform(west, east, n_background),
            centres_lon[which] + rng.normal(0, 1, len(which)) * sigma_m[which] / metres_per_degree_lon,
        ]
    )
    lat = np.concatenate(
        [
            rng.uniform(south, north, n_background),
            centres_lat[which] + rng.normal(0, 1, len(which)) * sigma_m[which] / METRES_PER_DEGREE_LAT,
        ]
    )
    cluster = np.concatenate([np.full(n_background, -1), which])
    inside = (lon > west) & (lon < east) & (lat > south) & (lat < north)
    return PlantedClusters(lon[inside], lat[inside], cluster[inside], centres_lon, centres_lat, sigma_m, box)


@dataclass(frozen=True)
class ClusterRecovery:
    """How a set of hot cells matches the planted clusters.

    ``found``: per cluster, is some hot cell's centre within 1 σ of its centre;
    ``hot_cells``: number of hot cells; ``far_hot_cells``: hot cells beyond 3 σ of every centre.
    """

    found: np.ndarray
    hot_cells: int
    far_hot_cells: int

    @property
    def clusters_found(self) -> int:
        return int(self.found.sum())

    @property
    def far_share(self) -> float:
        return self.far_hot_cells / self.hot_cells if self.hot_cells else 0.0


def cluster_recovery(planted: PlantedClusters, cells: np.ndarray, hot: np.ndarray) -> ClusterRecovery:
    """Score boolean ``hot`` over uint64 H3 ``cells`` against ``planted`` (distances in metres)."""
    hot_cells = np.asarray(cells, dtype=np.uint64)[np.asarray(hot, dtype=bool)]
    if len(hot_cells):
        centres = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in hot_cells.tolist()])
        lat, lon = centres[:, 0], centres[:, 1]
    else:
        lat = lon = np.empty(0)
    mid_lat = (planted.box[1] + planted.box[3]) / 2
    metres_per_degree_lon = METRES_PER_DEGREE_LAT * np.cos(np.radians(mid_lat))
    dx = (lon[:, None] - planted.centres_lon[None, :]) * metres_per_degree_lon
    dy = (lat[:, None] - planted.centres_lat[None, :]) * METRES_PER_DEGREE_LAT
    in_sigmas = np.hypot(dx, dy) / planted.sigma_m[None, :]  # (hot cells, clusters)
    found = (in_sigmas <= 1.0).any(axis=0) if len(hot_cells) else np.zeros(planted.n_clusters, dtype=bool)
    far = int((in_sigmas > 3.0).all(axis=1).sum()) if len(hot_cells) else 0
    return ClusterRecovery(found=found, hot_cells=len(hot_cells), far_hot_cells=far)
