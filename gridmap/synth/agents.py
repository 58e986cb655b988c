"""Petition agents (信访代办员), their daily patrols, the items they take on and the follow-up visits.

Tongliao's 2022 report counts 1,424 petition agents, 500+ petition items taken on by
agents, 440 of them done, a daily patrol duty (代办日巡查) and a follow-up-visit duty
(回访制度).  The synthetic city reproduces those figures at scale 1:

* agents: ``round(1424 × scale)``; one per township (the larger townships first when
  there are fewer agents than townships), the rest posted to villages drawn by
  households.  They are workers with role ``agent``; a township agent has no
  ``village_code``.
* patrols: one check-in a day, every day of the patrol period (the grid workers'
  :data:`gridmap.synth.workers.PATROL_START` … ``PATROL_END``), at an address of the post;
  an ordinary agent never misses two days in a row.  Planted: :data:`PATROL_GAP_SHARE` of
  the agents miss :data:`PATROL_GAP_DAYS` days in a row (``truth["agents"]["patrol_gaps"]``).
* items: :data:`YEAR_ITEMS` petitions a year taken on by the agent of the petitioner's
  village (else of its township, else any agent), :data:`DONE_IN_YEAR` of them done in the
  same year; of the rest some are done late, the others stay open (planted
  ``open_past_deadline`` when their deadline passed before the snapshot).
* visits: every done item is visited within :data:`VISIT_DAYS` days of being done, except the
  planted :data:`FOLLOWUP_GAP_SHARE` that get no visit or one later than
  ``FOLLOWUP_DAYS + 3`` days (``truth["agents"]["followup_gaps"]``).  Planted gaps are
  chosen with a margin around the audit's default ``FOLLOWUP_DAYS`` so that the audit at its
  default threshold finds exactly them.

Everything is synthetic (``source = "synthetic"``); deterministic per seed.
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
from gridmap.synth.workers import PATROL_END, PATROL_START

AGENTS_AT_SCALE_1 = 1424
#: items taken on per year at scale 1, and how many of them are done within that year
YEAR_ITEMS = {2021: 380, 2022: 505, 2023: 530, 2024: 550}
DONE_IN_YEAR = {2021: 330, 2022: 440, 2023: 470, 2024: 490}
#: of the items not done within their year, the share done later (the rest stay open)
LATE_SHARE = 0.6
#: an item's deadline (days after it is taken on); the API uses the same default
DEADLINE_DAYS = 60
#: ordinary follow-up visits come within this many days of the item being done
VISIT_DAYS = 10.0
#: the audit's default limit (settings ``audit_followup_within_days``); planted gaps exceed it by ≥ 3 days
FOLLOWUP_DAYS = 15
FOLLOWUP_GAP_SHARE = 0.06
SECOND_VISIT_SHARE = 0.3
VISIT_METHOD_SHARE = (("phone", 0.5), ("in_person", 0.35), ("wechat", 0.15))
SATISFACTION_P = np.array([0.02, 0.04, 0.10, 0.34, 0.50])  # scores 1…5
PATROL_GAP_SHARE = 0.04
PATROL_GAP_DAYS = (5, 15)
DAILY_MISS = 0.03
GPS_SIGMA_M = 8.0


@dataclass
class AgentResult:
    agents: pd.DataFrame  # workers-table rows, role "agent"
    patrols: gpd.GeoDataFrame
    items: pd.DataFrame
    visits: pd.DataFrame
    truth: dict


def _iso(ts: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(ts.astype("datetime64[s]"), unit="s").astype(object)
    text[np.isnat(ts)] = None
    return text


def _post_agents(
    villages: pd.DataFrame, hh: np.ndarray, n_agents: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Agent posts: ``village_code`` (None for a township post) and ``township_code``."""
    townships = villages.groupby("township_code", sort=True)["households"].sum()
    n_town = min(n_agents, len(townships))
    town_posts = townships.sort_values(ascending=False, kind="stable").index[:n_town].sort_values()
    n_village = n_agents - n_town
    codes = villages["code"].to_numpy()
    w = hh / hh.sum()
    replace = n_village > int((w > 0).sum())
    chosen = (
        np.sort(rng.choice(len(codes), n_village, replace=replace, p=w)) if n_village else np.array([], int)
    )
    posts = pd.DataFrame(
        {
            "village_code": np.r_[np.full(n_town, None, dtype=object), codes[chosen].astype(object)],
            "township_code": np.r_[
                np.asarray(town_posts, dtype=object),
                villages["township_code"].to_numpy()[chosen].astype(object),
            ],
        }
    )
    unit = posts["village_code"].fillna(posts["township_code"])
    seq = posts.groupby(unit).cumcount() + 1
    posts.insert(0, "worker_id", ("DB" + unit + seq.astype(str).str.zfill(2)).to_numpy())
    return posts


def build_agents(
    villages: pd.DataFrame,
    points: pd.DataFrame,
    cases: pd.DataFrame,
    case_truth: pd.DataFrame,
    seed: int,
    scale: float,
) -> AgentResult:
    """Agents, their patrols, items and visits.

    ``villages``: ``code, township_code``; ``points``: address points (``village_index``,
    LOCAL_CRS ``x``/``y`` metres, ``households``) sorted by village; ``cases`` and
    ``case_truth`` as built by :func:`gridmap.synth.cases.build_cases` (aligned rows).
    """
    rng = stream(seed, "agents")
    vi = points["village_index"].to_numpy()
    hh = np.bincount(vi, weights=points["households"].to_numpy(dtype=float), minlength=len(villages))
    frame = pd.DataFrame(
        {
            "code": villages["code"].to_numpy(),
            "township_code": villages["township_code"].to_numpy(),
            "households": hh,
        }
    )
    n_agents = max(1, int(round(AGENTS_AT_SCALE_1 * scale)))
    posts = _post_agents(frame, hh, n_agents, rng)
    prng = stream(seed, "people", 2)
    first_hire, last_hire = np.datetime64("2019-01-01"), np.datetime64("2020-12-01")
    hired = first_hire + rng.integers(0, (last_hire - first_hire).astype(int), n_agents)
    agents = pd.DataFrame(
        {
            "worker_id": posts["worker_id"].to_numpy(),
            "name": people.person_names(prng, n_agents),
            "phone": people.phone_numbers(prng, n_agents),
            "role": "agent",
            "village_code": posts["village_code"].to_numpy(),
            "active": np.ones(n_agents, dtype=np.int64),
            "hired_at": _iso(hired.astype("datetime64[s]")),
            "source": SOURCE,
            "township_code": posts["township_code"].to_numpy(),
        }
    )
    patrols, gap_truth = _patrols(agents, frame, points, stream(seed, "agents", 1))
    items, visits, item_truth = _items(agents, cases, case_truth, scale, stream(seed, "agents", 2))
    truth = {
        "agents": int(n_agents),
        "township_posts": int(agents["village_code"].isna().sum()),
        "patrol_period": [str(PATROL_START), str(PATROL_END - 1)],
        "patrol_gaps": gap_truth,
        **item_truth,
        "followup_days": FOLLOWUP_DAYS,
        "deadline_days": DEADLINE_DAYS,
    }
    return AgentResult(agents, patrols, items, visits, truth)


def _patrols(
    agents: pd.DataFrame, villages: pd.DataFrame, points: pd.DataFrame, rng: np.random.Generator
) -> tuple[gpd.GeoDataFrame, list[dict]]:
    n = len(agents)
    days = np.arange(PATROL_START, PATROL_END, dtype="datetime64[D]")
    miss = rng.random((n, len(days))) < DAILY_MISS
    # the daily duty: an ordinary agent never misses two days running
    miss[:, 1:] &= ~miss[:, :-1]
    n_gap = max(2, int(round(PATROL_GAP_SHARE * n))) if n >= 4 else 1
    gappy = np.sort(rng.choice(n, min(n_gap, n), replace=False))
    truth = []
    for a in gappy.tolist():
        length = int(rng.integers(PATROL_GAP_DAYS[0], PATROL_GAP_DAYS[1] + 1))
        first = int(rng.integers(2, len(days) - length - 2))
        miss[a, first : first + length] = True
        truth.append(
            {
                "worker_id": str(agents["worker_id"].iat[a]),
                "gap_start": str(days[first]),
                "gap_end": str(days[first + length - 1]),
                "gap_days": length,
            }
        )
    ak, dk = np.nonzero(~miss)
    # where each agent patrols: the addresses of the village, or of the whole township
    vi = points["village_index"].to_numpy()
    town_of_point = villages["township_code"].to_numpy()[vi]
    by_town = np.argsort(town_of_point, kind="stable")
    town_sorted = town_of_point[by_town]
    post_village = pd.Index(villages["code"]).get_indexer(agents["village_code"].fillna(""))
    v_start = np.searchsorted(vi, np.arange(len(villages)))
    v_n = np.bincount(vi, minlength=len(villages))
    t_start = np.searchsorted(town_sorted, agents["township_code"].to_numpy().astype(str), side="left")
    t_end = np.searchsorted(town_sorted, agents["township_code"].to_numpy().astype(str), side="right")
    u = rng.random(len(ak))
    at_village = post_village[ak] >= 0
    addr = np.empty(len(ak), dtype=np.int64)
    pv = post_village[ak][at_village]
    addr[at_village] = v_start[pv] + (u[at_village] * v_n[pv]).astype(np.int64)
    span = (t_end - t_start)[ak][~at_village]
    addr[~at_village] = by_town[t_start[ak][~at_village] + (u[~at_village] * span).astype(np.int64)]
    lon, lat = coords.gps_reading(
        points["x"].to_numpy()[addr], points["y"].to_numpy()[addr], GPS_SIGMA_M, rng
    )
    ts = days[dk].astype("datetime64[s]") + (8 * 3600 + rng.integers(0, 9 * 3600, len(ak))).astype(
        "timedelta64[s]"
    )
    order = np.lexsort((ak, ts))
    patrols = gpd.GeoDataFrame(
        {
            "patrol_id": pd.Series(np.arange(1, len(ak) + 1)).astype(str).str.zfill(8).radd("PA").to_numpy(),
            "worker_id": agents["worker_id"].to_numpy()[ak][order],
            "ts": _iso(ts[order]),
            "raw_lon": np.round(lon[order], 7),
            "raw_lat": np.round(lat[order], 7),
            "raw_crs": "wgs84",
            "source": SOURCE,
        },
        geometry=gpd.points_from_xy(np.round(lon[order], 7), np.round(lat[order], 7)),
        crs=WGS84,
    )
    return patrols, truth


def _item_agents(agents: pd.DataFrame, village: np.ndarray, township: np.ndarray, rng) -> np.ndarray:
    """The agent of each petition: its village's, else its township's, else any."""
    ids = agents["worker_id"].to_numpy()
    by_village = agents.dropna(subset=["village_code"]).drop_duplicates("village_code")
    by_town = agents.drop_duplicates("township_code")
    pick = pd.Series(village).map(by_village.set_index("village_code")["worker_id"]).astype(object)
    pick = pick.fillna(pd.Series(township).map(by_town.set_index("township_code")["worker_id"]))
    missing = pick.isna().to_numpy()
    pick[missing] = ids[rng.integers(0, len(ids), int(missing.sum()))]
    return pick.to_numpy(dtype=object)


def _items(
    agents: pd.DataFrame,
    cases: pd.DataFrame,
    case_truth: pd.DataFrame,
    scale: float,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    from gridmap.synth.cases import SNAPSHOT

    reported = pd.to_datetime(cases["reported_at"]).to_numpy().astype("datetime64[s]")
    is_petition = (cases["kind"] == "petition").to_numpy()
    year = reported.astype("datetime64[Y]").astype(int) + 1970
    day = np.timedelta64(86400, "s")
    rows = []
    for yr, n_scale1 in YEAR_ITEMS.items():
        year_end = np.datetime64(f"{yr + 1}-01-01T00:00:00") - np.timedelta64(1, "s")
        # an item is taken on in the year its petition came in (the last hours' petitions wait)
        pool = np.flatnonzero(
            is_petition & (year == yr) & (reported < year_end - np.timedelta64(3 * 3600, "s"))
        )
        n = min(len(pool), int(round(n_scale1 * scale)))
        if n == 0:
            continue
        chosen = np.sort(rng.choice(pool, n, replace=False))
        taken = reported[chosen] + (rng.uniform(0.5, 72.0, n) * 3600).astype("timedelta64[s]")
        taken = np.minimum(
            taken,
            np.maximum(reported[chosen] + np.timedelta64(1800, "s"), year_end - np.timedelta64(7200, "s")),
        )
        deadline = taken + DEADLINE_DAYS * day
        n_done = min(n, int(round(DONE_IN_YEAR[yr] * scale)))
        done_mask = np.zeros(n, dtype=bool)
        done_mask[rng.choice(n, n_done, replace=False)] = True
        duration = np.clip(rng.lognormal(np.log(20.0), 0.6, n), 1.0, DEADLINE_DAYS - 1.0)
        in_year = np.minimum(
            taken + (duration * 86400).astype("timedelta64[s]"),
            taken + ((year_end - taken).astype(float) * rng.uniform(0.2, 0.9, n)).astype("timedelta64[s]"),
        )
        late = ~done_mask & (rng.random(n) < LATE_SHARE)
        late_at = np.maximum(deadline, year_end) + (rng.uniform(1.0, 90.0, n) * 86400).astype(
            "timedelta64[s]"
        )
        nat = np.datetime64("NaT", "s")
        done_at = np.where(done_mask, in_year, np.where(late, late_at, nat))
        done_at = np.where(done_at < SNAPSHOT, done_at, nat)
        rows.append(
            pd.DataFrame({"case": chosen, "year": yr, "taken": taken, "deadline": deadline, "done": done_at})
        )
    if not rows:  # a tiny area: no petition taken on in any year
        rows.append(
            pd.DataFrame(
                {
                    "case": np.zeros(0, dtype=np.int64),
                    "year": np.zeros(0, dtype=np.int64),
                    **{c: np.zeros(0, dtype="datetime64[s]") for c in ("taken", "deadline", "done")},
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    case = frame["case"].to_numpy()
    village = case_truth["village_code"].to_numpy()[case]
    township = case_truth["township_code"].to_numpy()[case]
    seq = frame.groupby("year").cumcount() + 1
    item_id = ("DB-" + frame["year"].astype(str) + "-" + seq.astype(str).str.zfill(5)).to_numpy()
    done = frame["done"].to_numpy()
    items = pd.DataFrame(
        {
            "item_id": item_id,
            "case_id": cases["case_id"].to_numpy()[case],
            "agent_id": _item_agents(agents, village, township, rng),
            "status": np.where(np.isnat(done), "open", "done"),
            "taken_at": _iso(frame["taken"].to_numpy()),
            "deadline_at": _iso(frame["deadline"].to_numpy()),
            "done_at": _iso(done),
            "village_code": village,
            "township_code": township,
            "county_code": case_truth["county_code"].to_numpy()[case],
            "source": SOURCE,
        }
    )
    visits, gaps = _visits(items, done, rng)
    overdue = np.isnat(done) & (frame["deadline"].to_numpy() < SNAPSHOT)
    truth = {
        "items_per_year": {str(y): int(c) for y, c in frame["year"].value_counts().sort_index().items()},
        "items_done_in_year": {
            str(y): int(((frame["year"] == y) & (frame["done"] < np.datetime64(f"{y + 1}-01-01"))).sum())
            for y in sorted(frame["year"].unique())
        },
        "followup_gaps": gaps,
        "open_past_deadline": [
            {"item_id": str(i), "deadline_at": str(d)}
            for i, d in zip(item_id[overdue], items["deadline_at"].to_numpy()[overdue], strict=True)
        ],
    }
    return items, visits, truth


def _visits(
    items: pd.DataFrame, done: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, list[dict]]:
    from gridmap.synth.cases import SNAPSHOT

    idx = np.flatnonzero(~np.isnat(done))
    n = len(idx)
    day = 86400.0
    gap = rng.random(n) < FOLLOWUP_GAP_SHARE
    no_visit = gap & (rng.random(n) < 0.5)
    delay = np.where(
        gap, rng.uniform(FOLLOWUP_DAYS + 3.0, FOLLOWUP_DAYS + 40.0, n), rng.uniform(0.2, VISIT_DAYS, n)
    )
    first = done[idx] + (delay * day).astype("timedelta64[s]")
    second = rng.random(n) < SECOND_VISIT_SHARE
    later = first + (rng.uniform(10.0, 60.0, n) * day).astype("timedelta64[s]")
    v_item = np.r_[idx[~no_visit], idx[second & ~no_visit]]
    v_at = np.r_[first[~no_visit], later[second & ~no_visit]]
    keep = v_at < SNAPSHOT
    v_item, v_at = v_item[keep], v_at[keep]
    order = np.lexsort((v_item, v_at))
    v_item, v_at = v_item[order], v_at[order]
    methods = np.asarray([m for m, _ in VISIT_METHOD_SHARE], dtype=object)
    visits = pd.DataFrame(
        {
            "visit_id": pd.Series(np.arange(1, len(v_item) + 1))
            .astype(str)
            .str.zfill(6)
            .radd("HF")
            .to_numpy(),
            "item_id": items["item_id"].to_numpy()[v_item],
            "visited_at": _iso(v_at),
            "visitor_id": items["agent_id"].to_numpy()[v_item],
            "method": methods[rng.choice(len(methods), len(v_item), p=[p for _, p in VISIT_METHOD_SHARE])],
            "satisfaction": (rng.choice(5, len(v_item), p=SATISFACTION_P) + 1).astype(np.int64),
            "source": SOURCE,
        }
    )
    due = done[idx] + np.timedelta64(FOLLOWUP_DAYS * 86400, "s")
    gaps = [
        {
            "item_id": str(items["item_id"].iat[i]),
            "done_at": str(d),
            "visit_due_by": str(u),
            "kind": "none" if nv else "late",
        }
        for i, d, u, nv in zip(idx[gap], done[idx][gap], due[gap], no_visit[gap], strict=True)
    ]
    return visits, gaps
