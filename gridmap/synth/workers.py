"""Grid workers (网格员) and their patrol check-ins, with planted coverage problems.

Staffing: about one full-time worker per 400 households in every village (at least
one), plus part-time workers, village cadres and police liaisons.  Planted truth:

* ``villages_without_worker``: a few villages nobody is employed for;
* ``understaffed_villages``: big villages with half the full-time workers they need
  (plus the ones without any);
* ``lazy_workers``: ``stuck`` (every check-in at one spot) or ``gap`` (no check-in for
  16–30 days in a row);
* ``inactive_workers``: left the job (``active = 0``), no check-ins.

Patrols: 2024-10-01 … 2024-12-31, most working days, 08:00–18:00, each at an address
of the worker's village plus GPS noise; raw CRS per worker's phone app (mostly wgs84,
some gcj02).  Patrol geometry is the WGS-84 GPS reading.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.crs import WGS84
from gridmap.synth import coords, people
from gridmap.synth.admin import SOURCE
from gridmap.synth.streams import stream

HOUSEHOLDS_PER_WORKER = 400
NO_WORKER_SHARE = 0.015
UNDERSTAFFED_SHARE = 0.2  # of the villages that need two or more full-time workers
PART_TIME_SHARE = 0.15
CADRE_SHARE = 0.25
LAZY_SHARE = 0.06
INACTIVE_SHARE = 0.03
PATROL_START = np.datetime64("2024-10-01")
PATROL_END = np.datetime64("2025-01-01")  # exclusive
#: probability of patrolling on a weekday / at the weekend, and extra check-ins per day
ATTENDANCE = {
    "full_time": (0.92, 0.3, 1.5),
    "part_time": (0.45, 0.2, 0.3),
    "cadre": (0.25, 0.1, 0.0),
    "police": (0.2, 0.05, 0.0),
}
APP_CRS = (("wgs84", 0.8), ("gcj02", 0.2))
#: a full-time worker with this many addresses patrols every working day; fewer → less often
FULL_LOAD_ADDRESSES = 20.0
MIN_PATROL_FACTOR = 0.35
GPS_SIGMA_M = 8.0
STUCK_SIGMA_M = 10.0


@dataclass
class WorkerResult:
    workers: pd.DataFrame
    patrols: gpd.GeoDataFrame
    truth: dict


def _iso(ts: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(ts.astype("datetime64[s]"), unit="s").astype(object)


def build_workers(villages: pd.DataFrame, points: pd.DataFrame, seed: int) -> WorkerResult:
    """Workers and patrols for the villages (``code``, ``township_code``, ``urban``) and
    address points (``village_index``, ``x``/``y`` LOCAL_CRS, ``households``, ``address_id``)."""
    rng = stream(seed, "workers")
    n_v = len(villages)
    codes = villages["code"].to_numpy()
    vi = points["village_index"].to_numpy()
    hh = np.bincount(vi, weights=points["households"].to_numpy(), minlength=n_v).astype(np.int64)
    need = np.maximum(1, np.round(hh / HOUSEHOLDS_PER_WORKER)).astype(np.int64)
    full_time = need.copy()
    no_worker = np.zeros(n_v, dtype=bool)
    no_worker[rng.choice(n_v, max(3, int(round(NO_WORKER_SHARE * n_v))), replace=False)] = True
    big = np.flatnonzero((need >= 2) & ~no_worker)
    short = rng.choice(big, int(round(UNDERSTAFFED_SHARE * len(big))), replace=False) if len(big) else big
    full_time[short] = need[short] // 2
    full_time[no_worker] = 0

    part_time = (rng.random(n_v) < PART_TIME_SHARE).astype(np.int64)
    cadre = (rng.random(n_v) < CADRE_SHARE).astype(np.int64)
    # one police liaison per township, based in its first community (else first village)
    ranked = pd.DataFrame(
        {
            "township": villages["township_code"].to_numpy(),
            "rural": ~villages["urban"].to_numpy(),
            "code": codes,
        }
    ).sort_values(["township", "rural", "code"])
    police = np.zeros(n_v, dtype=np.int64)
    police[ranked.groupby("township").head(1).index.to_numpy()] = 1
    part_time[no_worker] = cadre[no_worker] = police[no_worker] = 0

    roles = np.asarray(["full_time", "part_time", "cadre", "police"], dtype=object)
    counts = np.column_stack([full_time, part_time, cadre, police])
    w_village = np.repeat(np.repeat(np.arange(n_v), 4), counts.ravel())
    w_role = np.repeat(np.tile(roles, n_v), counts.ravel())
    n_w = len(w_village)
    seq = np.arange(n_w) - np.searchsorted(w_village, w_village)
    worker_id = (
        pd.Series(codes[w_village]).radd("W").str.cat(pd.Series(seq + 1).astype(str).str.zfill(2)).to_numpy()
    )
    prng = stream(seed, "people", 1)
    first_hire, last_hire = np.datetime64("2016-01-01"), np.datetime64("2024-09-01")
    hired = first_hire + rng.integers(0, (last_hire - first_hire).astype(int), n_w)
    active = np.ones(n_w, dtype=np.int64)
    active[rng.choice(n_w, int(round(INACTIVE_SHARE * n_w)), replace=False)] = 0
    workers = pd.DataFrame(
        {
            "worker_id": worker_id,
            "name": people.person_names(prng, n_w),
            "phone": people.phone_numbers(prng, n_w),
            "role": w_role,
            "village_code": codes[w_village],
            "active": active,
            "hired_at": _iso(hired.astype("datetime64[s]")),
            "source": SOURCE,
            "township_code": villages["township_code"].to_numpy()[w_village],
        }
    )

    # lazy full-time workers
    ft_active = np.flatnonzero((w_role == "full_time") & (active == 1))
    n_lazy = min(len(ft_active), max(2, int(round(LAZY_SHARE * len(ft_active)))))  # a tiny area has < 2
    lazy = np.sort(rng.choice(ft_active, n_lazy, replace=False))
    lazy_kind = np.where(np.arange(len(lazy)) % 2 == 0, "stuck", "gap")

    patrols, lazy_truth = _patrols(workers, w_village, lazy, lazy_kind, points, seed)

    truth = {
        "villages_without_worker": sorted(codes[no_worker].tolist()),
        "understaffed_villages": [
            {
                "village_code": str(codes[i]),
                "households": int(hh[i]),
                "full_time_workers": int(full_time[i]),
                "full_time_needed": int(need[i]),
            }
            for i in np.flatnonzero(full_time < need)
        ],
        "lazy_workers": lazy_truth,
        "inactive_workers": sorted(worker_id[active == 0].tolist()),
        "households_per_worker": HOUSEHOLDS_PER_WORKER,
        "patrol_period": [str(PATROL_START), str(PATROL_END - 1)],
    }
    return WorkerResult(workers, patrols, truth)


def _patrols(
    workers: pd.DataFrame,
    w_village: np.ndarray,
    lazy: np.ndarray,
    lazy_kind: np.ndarray,
    points: pd.DataFrame,
    seed: int,
) -> tuple[gpd.GeoDataFrame, list[dict]]:
    rng = stream(seed, "patrols")
    n_w = len(workers)
    days = np.arange(PATROL_START, PATROL_END, dtype="datetime64[D]")
    weekend = ((days.astype(int) + 3) % 7) >= 5
    holiday = days < np.datetime64("2024-10-08")
    role = workers["role"].to_numpy()
    p_week = np.array([ATTENDANCE[r][0] for r in role])
    p_end = np.array([ATTENDANCE[r][1] for r in role])
    extra = np.array([ATTENDANCE[r][2] for r in role])
    # village address ranges (points are sorted by village)
    vi = points["village_index"].to_numpy()
    n_v = int(vi.max()) + 1
    start = np.searchsorted(vi, np.arange(n_v))
    n_addr = np.bincount(vi, minlength=n_v)
    # a worker with few addresses to look after patrols on fewer days and checks in less
    ft_per_village = np.bincount(w_village[role == "full_time"], minlength=n_v)
    load = n_addr[w_village] / np.maximum(ft_per_village[w_village], 1)
    busy = np.clip(load / FULL_LOAD_ADDRESSES, MIN_PATROL_FACTOR, 1.0)
    lam = extra * busy
    p = np.where(weekend[None, :], p_end[:, None], p_week[:, None]) * np.where(holiday, 0.4, 1.0)[None, :]
    present = rng.random((n_w, len(days))) < p * busy[:, None]
    present[workers["active"].to_numpy() == 0] = False

    lazy_truth = []
    spot = np.full(n_w, -1)
    for w, kind in zip(lazy.tolist(), lazy_kind.tolist(), strict=True):
        v = w_village[w]
        entry = {
            "worker_id": str(workers["worker_id"].iat[w]),
            "village_code": str(workers["village_code"].iat[w]),
            "kind": kind,
        }
        if kind == "gap":
            length = int(rng.integers(16, 31))
            first = int(rng.integers(9, len(days) - length - 1))
            present[w, first : first + length] = False
            entry["gap_start"] = str(days[first])
            entry["gap_end"] = str(days[first + length - 1])
            entry["gap_days"] = length
        else:
            spot[w] = start[v] + int(rng.integers(0, n_addr[v]))
            entry["spot_address_id"] = str(points["address_id"].iat[spot[w]])
        lazy_truth.append(entry)

    wk, dk = np.nonzero(present)
    per_day = 1 + rng.poisson(lam[wk])
    wk = np.repeat(wk, per_day)
    dk = np.repeat(dk, per_day)
    n = len(wk)
    v = w_village[wk]
    addr = start[v] + (rng.random(n) * n_addr[v]).astype(np.int64)
    stuck = spot[wk] >= 0
    addr[stuck] = spot[wk][stuck]
    sigma = np.where(stuck, STUCK_SIGMA_M, GPS_SIGMA_M)
    x = points["x"].to_numpy()[addr]
    y = points["y"].to_numpy()[addr]
    lon, lat = coords.gps_reading(x, y, sigma, rng)
    ts = days[dk].astype("datetime64[s]") + (8 * 3600 + rng.integers(0, 10 * 3600, n)).astype(
        "timedelta64[s]"
    )
    names = np.asarray([c for c, _ in APP_CRS], dtype=object)
    app = names[rng.choice(len(names), n_w, p=[pp for _, pp in APP_CRS])]
    crs = app[wk]
    raw_lon, raw_lat = coords.from_wgs84(lon, lat, crs)

    order = np.lexsort((wk, ts))
    worker_id = workers["worker_id"].to_numpy()[wk][order]
    patrol_id = pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(8).radd("P").to_numpy()
    patrols = gpd.GeoDataFrame(
        {
            "patrol_id": patrol_id,
            "worker_id": worker_id,
            "ts": _iso(ts[order]),
            "raw_lon": np.round(raw_lon[order], 7),
            "raw_lat": np.round(raw_lat[order], 7),
            "raw_crs": crs[order],
            "source": SOURCE,
        },
        geometry=gpd.points_from_xy(np.round(lon[order], 7), np.round(lat[order], 7)),
        crs=WGS84,
    )
    return patrols, lazy_truth
