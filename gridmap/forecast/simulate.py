"""Simulated processes with a known intensity, to test and benchmark the forecasts.

* :func:`simulate_county` — a county on a square lattice of grids: households in a few
  towns, a background ∝ households × a seasonal cycle × a drifting hot zone, and
  exponential triggering within the grid; :meth:`County.true_expected` is the exact
  expected count per grid for a horizon given everything before its start (the "true
  intensity" a forecast is compared with).

Times are days from ``t = 0`` (taken as ``epoch_month``'s first day); lattice
coordinates are metres in a local equal-area plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree
from scipy.special import ndtr

from gridmap.forecast.data import CaseHistory, GridLayer, month_start_days


def simulate_spatial_hawkes(
    mu: np.ndarray,
    side: int,
    cell_m: float,
    theta: float,
    omega: float,
    sigma_m: float,
    t_end: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Times (days in [0, t_end)), points (metres) and grids of a Hawkes process on a
    ``side`` × ``side`` lattice of square grids of ``cell_m`` metres (grid = column + side × row).

    ``mu``: background cases per day of each grid, placed uniformly in it; each case has
    Poisson(``theta``) children after Exp(``omega``) delays, displaced by a Gaussian of
    ``sigma_m`` metres per axis — into other grids too; children beyond the lattice or
    after ``t_end`` are not kept (nor are their own children).
    """
    extent = side * cell_m
    n_imm = rng.poisson(np.asarray(mu) * t_end)
    grid = np.repeat(np.arange(len(mu)), n_imm)
    t = rng.uniform(0.0, t_end, len(grid))
    x = (grid % side + rng.random(len(grid))) * cell_m
    y = (grid // side + rng.random(len(grid))) * cell_m
    all_t, all_x, all_y = [t], [x], [y]
    while len(t):
        kids = rng.poisson(theta, len(t))
        t = np.repeat(t, kids) + rng.exponential(1.0 / omega, kids.sum())
        x = np.repeat(x, kids) + rng.normal(0.0, sigma_m, kids.sum())
        y = np.repeat(y, kids) + rng.normal(0.0, sigma_m, kids.sum())
        inside = (t < t_end) & (x >= 0) & (x < extent) & (y >= 0) & (y < extent)
        t, x, y = t[inside], x[inside], y[inside]
        all_t.append(t)
        all_x.append(x)
        all_y.append(y)
    t, x, y = np.concatenate(all_t), np.concatenate(all_x), np.concatenate(all_y)
    order = np.argsort(t, kind="stable")
    t, x, y = t[order], x[order], y[order]
    grid = (x // cell_m).astype(np.int64) + side * (y // cell_m).astype(np.int64)
    return t, x, y, grid


@dataclass(frozen=True)
class County:
    """A simulated county: its grids, its cases and what generated them."""

    grids: GridLayer
    history: CaseHistory
    base: np.ndarray  # background cases per day per grid before season and drift
    theta: float
    omega: float
    season_amplitude: float
    zone_amplitude: float
    zone_sigma_m: float
    zone_start: tuple[float, float]
    zone_velocity_m_per_day: tuple[float, float]
    epoch_days: float

    def background_rate(self, t: np.ndarray) -> np.ndarray:
        """(len(t), grids) background cases per day at days ``t`` (since the epoch)."""
        t = np.atleast_1d(t)
        season = 1.0 + self.season_amplitude * np.cos(2 * np.pi * (t - 15.0) / 365.25)
        cx = self.zone_start[0] + self.zone_velocity_m_per_day[0] * t
        cy = self.zone_start[1] + self.zone_velocity_m_per_day[1] * t
        d2 = (self.grids.x[None, :] - cx[:, None]) ** 2 + (self.grids.y[None, :] - cy[:, None]) ** 2
        zone = 1.0 + self.zone_amplitude * np.exp(-0.5 * d2 / self.zone_sigma_m**2)
        return self.base[None, :] * season[:, None] * zone

    def true_expected(
        self, origin: np.datetime64, horizon_months: int = 1, step_days: float = 0.25
    ) -> np.ndarray:
        """E[cases per grid in the horizon | all cases before its start], by integrating the
        expected intensity m = μ(t) + A(t), dA/dt = −ωA + θω m (exact for this process)."""
        t0 = month_start_days(origin) - self.epoch_days
        t1 = month_start_days(origin + horizon_months) - self.epoch_days
        past = self.history.t - self.epoch_days < t0
        dt_past = t0 - (self.history.t[past] - self.epoch_days)
        a = np.bincount(
            self.history.grid[past],
            weights=self.theta * self.omega * np.exp(-self.omega * dt_past),
            minlength=len(self.grids),
        )
        steps = max(int(np.ceil((t1 - t0) / step_days)), 1)
        h = (t1 - t0) / steps
        mids = t0 + (np.arange(steps) + 0.5) * h
        mu = self.background_rate(mids)
        total = np.zeros(len(self.grids))
        decay = np.exp(-self.omega * h)
        for k in range(steps):
            m = mu[k] + a
            total += m * h
            # exact update of A over a step with m held at its value
            a = a * decay + self.theta * m * (1 - decay)
        return total


def simulate_county(
    seed: int,
    side: int = 24,
    cell_m: float = 800.0,
    years: int = 3,
    cases_per_year: float = 2500.0,
    theta: float = 0.35,
    omega: float = 1 / 14.0,
    season_amplitude: float = 0.25,
    zone_amplitude: float = 3.0,
    zone_sigma_m: float = 1500.0,
    zone_speed_m_per_month: float = 250.0,
    towns: int = 4,
    epoch_month: str = "2022-01",
) -> County:
    """Draw a county process (see the module docstring).  ``cases_per_year`` sets the
    background level so that the expected yearly total is about that."""
    rng = np.random.default_rng(seed)
    ix, iy = np.meshgrid(np.arange(side), np.arange(side))
    x, y = (ix.ravel() + 0.5) * cell_m, (iy.ravel() + 0.5) * cell_m
    n = side * side
    hh = rng.lognormal(np.log(60.0), 0.6, n)
    for _ in range(towns):
        cx, cy = rng.uniform(0.15, 0.85, 2) * side * cell_m
        size = rng.uniform(1.0, 3.0) * cell_m
        hh += rng.uniform(800, 2500) * np.exp(-0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / size**2)
    hh = np.round(hh)
    t_end = 365.0 * years
    base = hh / hh.sum() * cases_per_year * (1 - theta) / 365.0
    heading = rng.uniform(0, 2 * np.pi)
    velocity = (
        zone_speed_m_per_month / 30.44 * np.cos(heading),
        zone_speed_m_per_month / 30.44 * np.sin(heading),
    )
    start = tuple(rng.uniform(0.3, 0.7, 2) * side * cell_m)
    epoch = np.datetime64(epoch_month, "M")
    epoch_days = month_start_days(epoch)
    grids = GridLayer(
        np.array([f"C{i:04d}" for i in range(n)], dtype=object),
        x,
        y,
        np.full(n, (cell_m / 1000) ** 2),
        hh,
        np.array([f"T{(i % side) // 6}{(i // side) // 6}" for i in range(n)], dtype=object),
        np.array([f"V{i // 4:04d}" for i in range(n)], dtype=object),
    )
    county = County(
        grids,
        CaseHistory(np.empty(0), np.empty(0), np.empty(0), np.empty(0, np.int64), epoch),
        base,
        theta,
        omega,
        season_amplitude,
        zone_amplitude,
        zone_sigma_m,
        start,
        velocity,
        epoch_days,
    )
    # background: a Poisson count per grid and day, uniform times within the day
    days = np.arange(int(t_end)) + 0.5
    rate = county.background_rate(days)
    counts = rng.poisson(rate)
    day_idx, grid = np.nonzero(counts)
    reps = counts[day_idx, grid]
    t = np.repeat(day_idx, reps) + rng.random(reps.sum())
    grid = np.repeat(grid, reps)
    all_t, all_g = [t], [grid]
    while len(t):
        kids = rng.poisson(theta, len(t))
        grid = np.repeat(grid, kids)
        t = np.repeat(t, kids) + rng.exponential(1.0 / omega, kids.sum())
        inside = t < t_end
        t, grid = t[inside], grid[inside]
        all_t.append(t)
        all_g.append(grid)
    t, grid = np.concatenate(all_t), np.concatenate(all_g)
    order = np.argsort(t, kind="stable")
    t, grid = t[order] + epoch_days, grid[order]
    history = CaseHistory(
        t,
        x[grid] + rng.uniform(-cell_m / 2, cell_m / 2, len(t)),
        y[grid] + rng.uniform(-cell_m / 2, cell_m / 2, len(t)),
        grid,
        epoch,
    )
    return County(
        grids,
        history,
        base,
        theta,
        omega,
        season_amplitude,
        zone_amplitude,
        zone_sigma_m,
        start,
        velocity,
        epoch_days,
    )


def _box_transfer(lo: np.ndarray, hi: np.ndarray, a: np.ndarray, b: np.ndarray, sigma: float) -> np.ndarray:
    """P(U + Z ∈ [a, b)) for U uniform on [lo, hi) and Z ~ N(0, σ²), elementwise (1-D)."""

    def g(z: np.ndarray) -> np.ndarray:  # ∫ Φ: z Φ(z) + φ(z)
        return z * ndtr(z) + np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)

    width = hi - lo
    return (
        sigma
        / width
        * (g((b - lo) / sigma) - g((b - hi) / sigma) - g((a - lo) / sigma) + g((a - hi) / sigma))
    )


@dataclass(frozen=True)
class SquareCounty:
    """A county of square grids of two sizes (a lattice whose cells in towns are split in four),
    built differently from :class:`County`: a festival-and-summer season, several hot zones that
    drift, appear and fade, and triggering whose children are displaced by a Gaussian of
    ``sigma_m`` metres per axis — across grid borders (``theta = 0``: an inhomogeneous Poisson
    process).  Children beyond the county are not kept (nor their children).

    :meth:`true_expected` is exact for this process up to the time step: the past cases'
    children by the Gaussian mass over each square, and the cascade inside the horizon through
    the square-to-square transfer of a uniform point displaced by the Gaussian.
    """

    grids: GridLayer
    history: CaseHistory
    half_m: np.ndarray
    base: np.ndarray
    festival: float
    summer: float
    zones: np.ndarray  # rows: x0, y0, vx, vy (m/day), sigma, amplitude, t_on, t_off (days)
    theta: float
    omega: float
    sigma_m: float
    epoch_days: float

    def season(self, t: np.ndarray) -> np.ndarray:
        day = np.mod(t, 365.25)
        return (
            1.0
            + self.festival * np.exp(-0.5 * ((day - 40.0) / 8.0) ** 2)
            + self.summer * np.cos(2 * np.pi * (day - 200.0) / 365.25)
        )

    def background_rate(self, t: np.ndarray) -> np.ndarray:
        """(len(t), grids) background cases per day at days ``t`` since the epoch."""
        t = np.atleast_1d(np.asarray(t, float))
        bump = np.zeros((len(t), len(self.base)))
        for x0, y0, vx, vy, sigma, amp, t_on, t_off in self.zones:
            life = np.clip(np.minimum(t - t_on, t_off - t) / 60.0, 0.0, 1.0)  # fades in and out over 60 days
            cx, cy = x0 + vx * t, y0 + vy * t
            d2 = (self.grids.x[None, :] - cx[:, None]) ** 2 + (self.grids.y[None, :] - cy[:, None]) ** 2
            bump += (amp * life)[:, None] * np.exp(-0.5 * d2 / sigma**2)
        return self.base[None, :] * self.season(t)[:, None] * (1.0 + bump)

    def _boxes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        g = self.grids
        return g.x - self.half_m, g.x + self.half_m, g.y - self.half_m, g.y + self.half_m

    def _neighbours(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        reach = 5.0 * self.sigma_m + np.sqrt(2) * float(self.half_m.max())
        tree = cKDTree(np.column_stack([self.grids.x, self.grids.y]))
        pairs = cKDTree(np.column_stack([x, y])).sparse_distance_matrix(tree, reach, output_type="ndarray")
        return pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)

    def true_expected(
        self, origin: np.datetime64, horizon_months: int = 1, step_days: float = 0.25
    ) -> np.ndarray:
        """E[cases per grid in the horizon | all cases before its start]."""
        n = len(self.grids)
        t0 = month_start_days(origin) - self.epoch_days
        t1 = month_start_days(origin + horizon_months) - self.epoch_days
        ht = self.history.t - self.epoch_days
        past = (ht < t0) & (ht >= t0 - 20.0 / self.omega)
        weight = self.theta * self.omega * np.exp(-self.omega * (t0 - ht[past]))
        x0, x1, y0, y1 = self._boxes()
        if self.sigma_m > 0 and self.theta > 0:
            px, py = self.history.x[past], self.history.y[past]
            i, j = self._neighbours(px, py)
            share = (ndtr((x1[j] - px[i]) / self.sigma_m) - ndtr((x0[j] - px[i]) / self.sigma_m)) * (
                ndtr((y1[j] - py[i]) / self.sigma_m) - ndtr((y0[j] - py[i]) / self.sigma_m)
            )
            a = np.bincount(j, weights=weight[i] * share, minlength=n)
            hi, hj = self._neighbours(self.grids.x, self.grids.y)
            k = _box_transfer(x0[hi], x1[hi], x0[hj], x1[hj], self.sigma_m) * _box_transfer(
                y0[hi], y1[hi], y0[hj], y1[hj], self.sigma_m
            )
            transfer = sparse.csr_matrix((k, (hj, hi)), shape=(n, n))  # column h → row g
        else:
            a = np.bincount(self.history.grid[past], weights=weight, minlength=n)
            transfer = sparse.identity(n, format="csr")
        steps = max(int(np.ceil((t1 - t0) / step_days)), 1)
        h = (t1 - t0) / steps
        mu = self.background_rate(t0 + (np.arange(steps) + 0.5) * h)
        decay = np.exp(-self.omega * h)
        total = np.zeros(n)
        for s in range(steps):
            m = mu[s] + a
            total += m * h
            a = a * decay + self.theta * (1 - decay) * (transfer @ m)
        return total


def simulate_square_county(
    seed: int,
    side: int = 14,
    cell_m: float = 1000.0,
    years: int = 3,
    cases_per_year: float = 600.0,
    theta: float = 0.0,
    omega: float = 1 / 14.0,
    sigma_m: float = 0.0,
    festival: float = 1.0,
    summer: float = 0.3,
    zones: int = 3,
    zone_amplitude: tuple[float, float] = (2.0, 5.0),
    zone_speed_m_per_month: tuple[float, float] = (100.0, 400.0),
    towns: int = 3,
    epoch_month: str = "2022-01",
) -> SquareCounty:
    """Draw a :class:`SquareCounty` (see there).  ``cases_per_year`` sets the background level
    (before zones and children); lattice cells with many households are split in four."""
    rng = np.random.default_rng(seed)
    extent = side * cell_m
    ix, iy = np.meshgrid(np.arange(side), np.arange(side))
    cx, cy = (ix.ravel() + 0.5) * cell_m, (iy.ravel() + 0.5) * cell_m
    density = rng.lognormal(np.log(40.0), 0.7, side * side)
    centres = rng.uniform(0.2, 0.8, (towns, 2)) * extent
    for tx, ty in centres:
        density += rng.uniform(1500, 4000) * np.exp(
            -0.5 * ((cx - tx) ** 2 + (cy - ty) ** 2) / (1.2 * cell_m) ** 2
        )
    split = density > np.quantile(density, 0.8)
    quarter = cell_m / 4
    xs, ys, halves, hh = [], [], [], []
    for k in range(side * side):
        if split[k]:
            for dx, dy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
                xs.append(cx[k] + dx * quarter)
                ys.append(cy[k] + dy * quarter)
                halves.append(quarter)
                hh.append(density[k] / 4 * rng.lognormal(0, 0.4))
        else:
            xs.append(cx[k])
            ys.append(cy[k])
            halves.append(cell_m / 2)
            hh.append(density[k])
    x, y, half, hh = (np.asarray(v, float) for v in (xs, ys, halves, hh))
    hh = np.round(hh)
    n = len(x)
    base = hh / hh.sum() * cases_per_year / 365.0
    t_end = 365.0 * years
    zone_rows = []
    for _ in range(zones):
        heading = rng.uniform(0, 2 * np.pi)
        speed = rng.uniform(*zone_speed_m_per_month) / 30.44
        t_on = rng.uniform(-200.0, t_end - 300.0)
        zone_rows.append(
            [
                *rng.uniform(0.2, 0.8, 2) * extent,
                speed * np.cos(heading),
                speed * np.sin(heading),
                rng.uniform(0.8, 1.6) * cell_m,
                rng.uniform(*zone_amplitude),
                t_on,
                t_on + rng.uniform(300.0, 700.0),
            ]
        )
    epoch = np.datetime64(epoch_month, "M")
    grids = GridLayer(
        np.array([f"S{i:04d}" for i in range(n)], dtype=object),
        x,
        y,
        (2 * half / 1000) ** 2,
        hh,
        np.array(
            [f"T{int(a // (extent / 3))}{int(b // (extent / 3))}" for a, b in zip(x, y, strict=True)],
            dtype=object,
        ),
        np.array(
            [f"V{int(a // cell_m):02d}{int(b // cell_m):02d}" for a, b in zip(x, y, strict=True)],
            dtype=object,
        ),
    )
    empty = CaseHistory(np.empty(0), np.empty(0), np.empty(0), np.empty(0, np.int64), epoch)
    county = SquareCounty(
        grids,
        empty,
        half,
        base,
        festival,
        summer,
        np.asarray(zone_rows),
        theta,
        omega,
        sigma_m,
        month_start_days(epoch),
    )
    counts = rng.poisson(county.background_rate(np.arange(int(t_end)) + 0.5))
    day, grid = np.nonzero(counts)
    reps = counts[day, grid]
    t = np.repeat(day, reps) + rng.random(reps.sum())
    grid = np.repeat(grid, reps)
    px = x[grid] + rng.uniform(-1, 1, len(grid)) * half[grid]
    py = y[grid] + rng.uniform(-1, 1, len(grid)) * half[grid]
    all_t, all_x, all_y = [t], [px], [py]
    while len(t) and theta > 0:
        kids = rng.poisson(theta, len(t))
        t = np.repeat(t, kids) + rng.exponential(1.0 / omega, kids.sum())
        px = np.repeat(px, kids) + rng.normal(0.0, sigma_m, kids.sum())
        py = np.repeat(py, kids) + rng.normal(0.0, sigma_m, kids.sum())
        inside = (t < t_end) & (px >= 0) & (px < extent) & (py >= 0) & (py < extent)
        t, px, py = t[inside], px[inside], py[inside]
        all_t.append(t)
        all_x.append(px)
        all_y.append(py)
    t, px, py = np.concatenate(all_t), np.concatenate(all_x), np.concatenate(all_y)
    order = np.argsort(t, kind="stable")
    t, px, py = t[order], px[order], py[order]
    # the grid of each point: its lattice cell, and in a split cell the quarter it falls in
    first = np.concatenate([[0], np.cumsum(np.where(split, 4, 1))[:-1]])
    cell = np.minimum((px // cell_m).astype(np.int64), side - 1) + side * np.minimum(
        (py // cell_m).astype(np.int64), side - 1
    )
    quadrant = (px > cx[cell]).astype(np.int64) + 2 * (py > cy[cell]).astype(np.int64)
    grid = first[cell] + np.where(split[cell], quadrant, 0)
    history = CaseHistory(t + county.epoch_days, px, py, grid.astype(np.int64), epoch)
    return SquareCounty(
        grids, history, half, base, festival, summer, county.zones, theta, omega, sigma_m, county.epoch_days
    )
