"""Self-excitation and drifting hot zones in the synthetic disputes and petitions.

Real disputes repeat: the same household comes back (repeats at the same address), a
quarrel spreads to the neighbours within weeks (near-repeats), and some areas heat up
for a season while the hot part moves (a construction site, a land re-allocation that
goes village by village).  The synthesiser plants all three so that a forecast has
something to learn (see :mod:`gridmap.forecast`), and writes the parameters to
``truth.json`` (key ``self_excitation``):

* **branching ratio** ``eta``: the share of a kind's cases triggered by an earlier case
  of the same kind, category and year.  Each triggered case picks its parent uniformly
  among the cases generated before it, so every case has on average ``eta`` children
  (a discrete-time analogue of a Hawkes cluster process whose yearly totals stay exact);
* **time scale** ``tau_days``: the delay parent → child is exponential with mean
  ``tau_days``, truncated at the end of the parent's year (the year totals are published
  figures and must not move);
* **space**: with probability ``repeat_share`` the child is at the parent's address,
  otherwise at the address nearest to the parent's point displaced by an isotropic
  Gaussian of ``near_sigma_m`` metres per axis (LOCAL_CRS);
* **drifting hot zones**: Gaussian bumps (sd ``sigma_m``) on the background rate with
  peak excess ``amplitude`` (rate × (1 + amplitude) at the centre) whose centre moves
  ``speed_m_per_month`` along a fixed heading; case ids in ``case_truth.hotspot_id`` are
  ``Z01``, ``Z02`` … for the cases a zone generated.

Everything is drawn from the ``selfexcite`` seed stream, so output stays byte-identical
per seed; the number of months comes from :mod:`gridmap.synth.seasonality` (an added
year just works).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial import cKDTree

from gridmap.synth import seasonality

#: per kind: (branching ratio, mean delay in days, share at the same address, near-repeat sd in metres)
TRIGGERING = {
    "dispute": (0.20, 12.0, 0.5, 200.0),
    "petition": (0.25, 20.0, 0.6, 150.0),
}
#: drifting zones at scale 1 (at least one at any scale), their size, strength and speed
DRIFT_ZONES = 3
DRIFT_SIGMA_M = (1000.0, 1400.0)
DRIFT_AMPLITUDE = (1.5, 2.5)
DRIFT_SPEED_M_PER_MONTH = (80.0, 150.0)
#: zones start this far from the planted hotspots and from each other (metres): more than
#: a zone drifts in the synthetic period plus a few sigmas, so hotspot truth stays clean
DRIFT_SEPARATION_M = 10000.0


@dataclass(frozen=True)
class Triggering:
    """Triggering parameters of one kind (see the module docstring)."""

    kind: str
    eta: float
    tau_days: float
    repeat_share: float
    near_sigma_m: float


@dataclass
class DriftZone:
    """A Gaussian bump on the background rate whose centre moves month by month."""

    zone_id: str
    kinds: tuple[str, ...]
    start_x: float
    start_y: float
    heading_rad: float
    speed_m_per_month: float
    sigma_m: float
    amplitude: float
    centre_lon: list[float]  # per month, WGS-84 (filled by the caller for truth.json)
    centre_lat: list[float]

    def centre(self, month: int) -> tuple[float, float]:
        """Centre (LOCAL_CRS metres) in month ``month`` (0 = the first synthetic month)."""
        step = self.speed_m_per_month * month
        return self.start_x + step * np.cos(self.heading_rad), self.start_y + step * np.sin(self.heading_rad)

    def bump(self, xy: np.ndarray, month: int) -> np.ndarray:
        """Excess rate factor (0 … amplitude) of each point in ``month``."""
        cx, cy = self.centre(month)
        d2 = (xy[:, 0] - cx) ** 2 + (xy[:, 1] - cy) ** 2
        return self.amplitude * np.exp(-0.5 * d2 / self.sigma_m**2)


def triggering(kind: str) -> Triggering:
    eta, tau, repeat, sigma = TRIGGERING[kind]
    return Triggering(kind, eta, tau, repeat, sigma)


def n_months() -> int:
    return int(seasonality.month_number(seasonality.DAYS[-1:])[0]) + 1


def plant_drift_zones(
    xy: np.ndarray,
    households: np.ndarray,
    urban: np.ndarray,
    hotspot_xy: np.ndarray,
    rng: np.random.Generator,
    scale: float,
) -> list[DriftZone]:
    """Drifting zones centred on urban addresses (drawn by households) away from the hotspots."""
    count = max(1, int(round(DRIFT_ZONES * min(scale, 1.0) ** 0.25)))
    pool = np.flatnonzero(urban)
    if len(hotspot_xy):
        d = cKDTree(hotspot_xy).query(xy[pool])[0]
        far = pool[d > DRIFT_SEPARATION_M]
        pool = far if len(far) else pool
    zones: list[DriftZone] = []
    for i in range(count):
        if zones:
            starts = np.array([[z.start_x, z.start_y] for z in zones])
            d = cKDTree(starts).query(xy[pool])[0]
            far = pool[d > DRIFT_SEPARATION_M]
            pool = far if len(far) else pool
        w = households[pool]
        a = int(pool[rng.choice(len(pool), p=w / w.sum())])
        zones.append(
            DriftZone(
                zone_id=f"Z{i + 1:02d}",
                kinds=("dispute", "petition"),
                start_x=float(xy[a, 0]),
                start_y=float(xy[a, 1]),
                heading_rad=float(rng.uniform(0, 2 * np.pi)),
                speed_m_per_month=round(float(rng.uniform(*DRIFT_SPEED_M_PER_MONTH)), 1),
                sigma_m=round(float(rng.uniform(*DRIFT_SIGMA_M)), 1),
                amplitude=round(float(rng.uniform(*DRIFT_AMPLITUDE)), 3),
                centre_lon=[],
                centre_lat=[],
            )
        )
    return zones


def add_offspring(
    day: np.ndarray,
    address: np.ndarray,
    label: np.ndarray,
    n_offspring: int,
    year_days: int,
    params: Triggering,
    xy: np.ndarray,
    tree: cKDTree,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Append ``n_offspring`` triggered cases to the immigrants (``day``: day of the year, 0-based).

    Returns day, address, label, parent (-1 for immigrants; position in the returned
    arrays) and trigger ("" immigrant, "repeat", "near_repeat") of every case, immigrants
    first.  Children inherit their parent's label (a hotspot's repeat is still the hotspot's).
    """
    n_imm = len(day)
    n = n_imm + n_offspring
    if n_imm == 0 or n_offspring == 0:
        return (day, address, label, np.full(n_imm, -1, np.int64), np.full(n_imm, "", dtype=object))
    k = np.arange(n_offspring)
    parent = np.concatenate(
        [np.full(n_imm, -1), np.floor(rng.random(n_offspring) * (n_imm + k)).astype(np.int64)]
    )
    u_delay = rng.random(n_offspring)
    same = rng.random(n_offspring) < params.repeat_share
    shift = rng.normal(0.0, params.near_sigma_m, (n_offspring, 2))
    all_day = np.concatenate([day, np.full(n_offspring, -1)]).astype(np.int64)
    all_addr = np.concatenate([address, np.full(n_offspring, -1)]).astype(np.int64)
    all_label = np.concatenate([label, np.full(n_offspring, "", dtype=object)])
    todo = np.arange(n_imm, n)
    # generations: a child is placed once its parent is (parents always come earlier)
    while len(todo):
        ready = todo[all_day[parent[todo]] >= 0]
        j = ready - n_imm
        p = parent[ready]
        remaining = year_days - 1 - all_day[p]
        # exponential delay truncated to the days left in the year (inverse CDF)
        delay = -params.tau_days * np.log1p(-u_delay[j] * -np.expm1(-(remaining + 1) / params.tau_days))
        all_day[ready] = all_day[p] + np.minimum(np.floor(delay).astype(np.int64), remaining)
        near = ready[~same[j]]
        moved = xy[all_addr[parent[near]]] + shift[near - n_imm]
        all_addr[ready[same[j]]] = all_addr[parent[ready[same[j]]]]
        all_addr[near] = tree.query(moved)[1]
        all_label[ready] = all_label[p]
        todo = todo[all_day[todo] < 0]
    trigger = np.full(n, "", dtype=object)
    trigger[n_imm:] = np.where(same, "repeat", "near_repeat")
    return all_day, all_addr, all_label, parent, trigger


def truth_section(zones: list[DriftZone]) -> dict:
    """The ``self_excitation`` part of ``truth.json``."""
    return {
        "triggering": {
            kind: {k: v for k, v in asdict(triggering(kind)).items() if k != "kind"} for kind in TRIGGERING
        },
        "drift_zones": [
            {
                **{k: v for k, v in asdict(z).items() if k not in ("start_x", "start_y", "heading_rad")},
                "heading_deg": round(float(np.degrees(z.heading_rad)), 2),
            }
            for z in zones
        ],
        "notes": (
            "Synthetic. eta = share of cases triggered by an earlier case of the same kind/category/year "
            "(mean children per case); delays exponential with mean tau_days, truncated at the year end; "
            "children at the parent's address with probability repeat_share, else at the address nearest "
            "the parent displaced by N(0, near_sigma_m^2) per axis. Drift zones multiply the background "
            "rate by 1 + amplitude*exp(-d^2/(2 sigma_m^2)) around a centre moving speed_m_per_month "
            "(centre_lon/centre_lat per month)."
        ),
    }
