"""Validity and power of the default inference on a planted-cluster generator written here,
independently of :mod:`gridmap.hotspots.planted` (issue #12: "a generator the project has not
seen will be tried too").

Different on purpose: another place (around Beijing, not Tongliao), rotated anisotropic
Gaussian clusters and uniform discs, cluster sizes log-uniform over 600–5,000 points, and a
background whose density is not uniform (a 3:1 gradient across the box plus four broad
"towns" of σ 6–12 km up to 4× the density).  Scored per cluster shape: a hot cell is "within
1 σ" when its centre lies inside the cluster's 1-σ ellipse (for a disc of radius R, σ := R/2),
"beyond 3 σ" when outside every cluster's 3-σ ellipse.  Synthetic, seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import numpy as np
import pytest
import shapely

from gridmap.hotspots.aggregate import count_in_h3
from gridmap.hotspots.getis_ord import gi_star
from gridmap.hotspots.moran import local_moran
from gridmap.hotspots.weights import h3_weights

METRES_PER_DEGREE = 111_200.0
BOX = (116.0, 39.6, 117.2, 40.5)  # ≈ 102 km × 100 km north of Beijing


@dataclass(frozen=True)
class Truth:
    centre_lon: np.ndarray
    centre_lat: np.ndarray
    sigma_major_m: np.ndarray
    sigma_minor_m: np.ndarray
    angle: np.ndarray  # radians, major axis from east

    def sigmas_away(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """(points, clusters) distance in units of each cluster's σ ellipse."""
        metres_per_degree_lon = METRES_PER_DEGREE * np.cos(np.radians((BOX[1] + BOX[3]) / 2))
        dx = (lon[:, None] - self.centre_lon[None, :]) * metres_per_degree_lon
        dy = (lat[:, None] - self.centre_lat[None, :]) * METRES_PER_DEGREE
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        along, across = dx * cos + dy * sin, -dx * sin + dy * cos
        return np.hypot(along / self.sigma_major_m, across / self.sigma_minor_m)


def ellipses_and_discs(seed: int, n_background: int = 50_000, n_clusters: int = 20):
    rng = np.random.default_rng(seed)
    west, south, east, north = BOX
    metres_per_degree_lon = METRES_PER_DEGREE * np.cos(np.radians((south + north) / 2))
    # background by rejection from a smooth intensity: gradient west → east, four broad towns
    x, y = rng.uniform(west, east, 6 * n_background), rng.uniform(south, north, 6 * n_background)
    intensity = 1.0 + 2.0 * (x - west) / (east - west)
    for _ in range(4):
        tx, ty, spread = rng.uniform(west, east), rng.uniform(south, north), rng.uniform(6000, 12000)
        distance2 = ((x - tx) * metres_per_degree_lon) ** 2 + ((y - ty) * METRES_PER_DEGREE) ** 2
        intensity += 3.0 * np.exp(-distance2 / (2 * spread**2))
    keep = rng.random(len(x)) < intensity / intensity.max()
    lon, lat = [x[keep][:n_background]], [y[keep][:n_background]]
    centre_lon = rng.uniform(west + 0.12, east - 0.12, n_clusters)
    centre_lat = rng.uniform(south + 0.12, north - 0.12, n_clusters)
    major, minor, angle = np.empty(n_clusters), np.empty(n_clusters), np.zeros(n_clusters)
    for c in range(n_clusters):
        size = int(np.exp(rng.uniform(np.log(600), np.log(5000))))
        if c % 2 == 0:  # rotated anisotropic Gaussian
            major[c], minor[c], angle[c] = (
                rng.uniform(800, 3000),
                rng.uniform(500, 1000),
                rng.uniform(0, np.pi),
            )
            u, v = rng.normal(0, major[c], size), rng.normal(0, minor[c], size)
            dx = u * np.cos(angle[c]) - v * np.sin(angle[c])
            dy = u * np.sin(angle[c]) + v * np.cos(angle[c])
        else:  # uniform disc of radius R
            radius = rng.uniform(500, 2500)
            major[c] = minor[c] = radius / 2
            r, theta = radius * np.sqrt(rng.random(size)), rng.uniform(0, 2 * np.pi, size)
            dx, dy = r * np.cos(theta), r * np.sin(theta)
        lon.append(centre_lon[c] + dx / metres_per_degree_lon)
        lat.append(centre_lat[c] + dy / METRES_PER_DEGREE)
    return np.concatenate(lon), np.concatenate(lat), Truth(centre_lon, centre_lat, major, minor, angle)


def score(truth: Truth, cells: np.ndarray, hot: np.ndarray) -> tuple[int, float]:
    """(clusters with a hot cell within 1 σ, share of hot cells beyond 3 σ of every cluster)."""
    hot_cells = cells[hot]
    assert len(hot_cells), "no hot cell at all"
    centres = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in hot_cells.tolist()])
    away = truth.sigmas_away(centres[:, 1], centres[:, 0])
    return int((away <= 1.0).any(axis=0).sum()), float((away > 3.0).all(axis=1).mean())


@pytest.mark.parametrize("seed", [0, 4])
def test_other_generator_validity_and_power(seed):
    lon, lat, truth = ellipses_and_discs(seed)
    cells, counts = count_in_h3(lon, lat, 8, study_area=shapely.box(*BOX))
    weights = h3_weights(cells)
    gi = gi_star(counts, weights)
    assert gi.inference == "log_counts"
    found, far = score(truth, cells, gi.hot)
    assert found >= 17 and far <= 0.05, (found, far)
    lisa = local_moran(counts, weights)
    found, far = score(truth, cells, lisa.cluster == 1)
    assert found >= 17 and far <= 0.05, (found, far)
    rng = np.random.default_rng(100 + seed)
    discoveries = [int(gi_star(rng.permutation(counts), weights).significant_fdr.sum()) for _ in range(5)]
    assert sum(d == 0 for d in discoveries) >= 4, discoveries
