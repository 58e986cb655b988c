"""A tiny hand-made city for the API tests, written straight into a store.

One county (150502) with two townships and three villages; an active plan ``P1`` with five
rectangular grids and a draft copy ``P2``; 41 cases with personal fields; three workers;
hotspot runs.  Every id is fixed so tests can name what they expect.  Coordinates are
WGS-84 around Tongliao (122.0–122.5°E, 43.5–43.8°N).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.store.base import Store
from gridmap.users import create_user

WGS84 = "EPSG:4326"
PASSWORDS = {
    "admin": "admin-pass-1",
    "commander": "commander-pass-1",
    "planner": "planner-pass-1",
    "supervisor": "supervisor-pass-1",
    "worker": "worker-pass-1",
    "worker2": "worker2-pass-1",
}
ROLES = {
    "admin": "admin",
    "commander": "commander",
    "planner": "planner",
    "supervisor": "supervisor",
    "worker": "grid_worker",
    "worker2": "grid_worker",
}

G1, G2, G3, G4, G5 = (
    "150502001001001",
    "150502001001002",
    "150502001002001",
    "150502002001001",
    "150502002001002",
)
GRID_BOXES = {
    G1: (122.0, 43.5, 122.125, 43.65),
    G2: (122.125, 43.5, 122.25, 43.65),
    G3: (122.0, 43.65, 122.25, 43.8),
    G4: (122.25, 43.5, 122.5, 43.65),
    G5: (122.25, 43.65, 122.5, 43.8),
}
GRID_HOUSEHOLDS = {G1: 350, G2: 420, G3: 380, G4: 300, G5: 500}
#: the draft plan P2 differs: G3 can be split in two (700 → 2 × 350), G4 + G5 merged (150 + 300)
DRAFT_HOUSEHOLDS = {G1: 350, G2: 420, G3: 700, G4: 150, G5: 300}
ATOMS_PER_SIDE = 4
#: cases per grid: G5 has 2 (below the suppression threshold of 3)
CASES_PER_GRID = {G1: 12, G2: 9, G3: 10, G4: 8, G5: 2}


@dataclass
class City:
    plan_id: str = "P1"
    draft_plan_id: str = "P2"
    case_ids: dict[str, list[str]] = field(default_factory=dict)  # grid → case ids
    unplaced_case: str = "C9999"
    gi_run: str = "R-gi"
    emerging_run: str = "R-emerging"
    kde_run: str = "R-kde"
    personal_values: list[str] = field(default_factory=list)  # every party name/phone/id stored

    def cases_of(self, *grids: str) -> list[str]:
        return [c for g in grids for c in self.case_ids[g]]


def _polys(boxes: dict[str, tuple[float, float, float, float]]) -> list:
    return [shapely.box(*b) for b in boxes.values()]


def _write_draft_atoms(store: Store) -> None:
    """The draft plan's atoms: each grid cut into 4 × 4 boxes sharing its households."""
    from gridmap.store.schema import all_tables

    if "plan_atoms" not in all_tables():
        return
    rows, geoms = [], []
    n = ATOMS_PER_SIDE
    for code, (x0, y0, x1, y1) in GRID_BOXES.items():
        shares = np.full(n * n, DRAFT_HOUSEHOLDS[code] // (n * n))
        shares[: DRAFT_HOUSEHOLDS[code] % (n * n)] += 1
        for i in range(n):
            for j in range(n):
                k = i * n + j
                dx, dy = (x1 - x0) / n, (y1 - y0) / n
                geoms.append(shapely.box(x0 + i * dx, y0 + j * dy, x0 + (i + 1) * dx, y0 + (j + 1) * dy))
                rows.append(
                    {
                        "plan_id": "P2",
                        "atom_id": f"{code}-{k:02d}",
                        "village_code": code[:12],
                        "grid_code": code,
                        "households": int(shares[k]),
                        "population": int(shares[k]) * 3,
                        "workload": 0,
                        "h3_cell": "",
                        "resolution": 0,
                        "site_id": "",
                    }
                )
    store.write("plan_atoms", gpd.GeoDataFrame(rows, geometry=geoms, crs=WGS84), mode="replace")
    store.delete("plan_edits")


KDE_BOUNDS = (122.0, 43.5, 122.5, 43.8)


def _write_areas_and_surface(store: Store, city: City) -> None:
    """A hot area (G1, 12 cases), a cold area (G5, 2 cases) and a 4 × 4 density surface."""
    import base64

    from gridmap.store.schema import all_tables

    tables = all_tables()
    if "hotspot_areas" in tables:
        store.write(
            "hotspot_areas",
            gpd.GeoDataFrame(
                {
                    "run_id": city.gi_run,
                    "sign": [1, -1],
                    "rank": [1, 1],
                    "cases": [12.0, 2.0],
                    "units": [1, 1],
                    "max_z": [2.8, -2.1],
                    "top_categories": ['["neighbour"]', '["neighbour"]'],
                    "trend": ["", ""],
                    "unit_ids": [json.dumps([G1]), json.dumps([G5])],
                    "area_km2": [100.0, 200.0],
                    "centre_lon": [122.06, 122.37],
                    "centre_lat": [43.57, 43.72],
                },
                geometry=[shapely.box(*GRID_BOXES[G1]), shapely.box(*GRID_BOXES[G5])],
                crs=WGS84,
            ),
            mode="replace",
        )
    if "hotspot_surfaces" in tables:
        from gridmap.hotspots.png import encode_rgba

        pixels = np.zeros((4, 4, 4), dtype=np.uint8)
        pixels[1:3, 1:3] = (215, 25, 28, 200)
        store.write(
            "hotspot_runs",
            pd.DataFrame(
                [
                    {
                        "run_id": city.kde_run,
                        "method": "kde",
                        "created_at": "2024-12-01T00:00:00",
                        "plan_id": "P1",
                        "unit_kind": "grid",
                        "params": "{}",
                        "filters": "{}",
                        "summary": "{}",
                    }
                ]
            ),
        )
        w, s_, e, n = KDE_BOUNDS
        store.write(
            "hotspot_surfaces",
            pd.DataFrame(
                [
                    {
                        "run_id": city.kde_run,
                        "west": w,
                        "south": s_,
                        "east": e,
                        "north": n,
                        "width": 4,
                        "height": 4,
                        "bandwidth_m": 800.0,
                        "cell_size_m": 100.0,
                        "total": 41.0,
                        "max_density": 3.5,
                        "png_base64": base64.b64encode(encode_rgba(pixels)).decode("ascii"),
                    }
                ]
            ),
            mode="replace",
        )


def build_city(store: Store, with_users: bool = True) -> City:
    city = City()
    admin = [
        ("150500", "通辽市", "city", None, (121.9, 43.4, 122.6, 43.9)),
        ("150502", "科尔沁区", "county", "150500", (122.0, 43.5, 122.5, 43.8)),
        ("150502001", "西门街道", "township", "150502", (122.0, 43.5, 122.25, 43.8)),
        ("150502002", "东门街道", "township", "150502", (122.25, 43.5, 122.5, 43.8)),
        ("150502001001", "民航社区", "village", "150502001", (122.0, 43.5, 122.25, 43.65)),
        ("150502001002", "建国社区", "village", "150502001", (122.0, 43.65, 122.25, 43.8)),
        ("150502002001", "和平社区", "village", "150502002", (122.25, 43.5, 122.5, 43.8)),
    ]
    store.write(
        "admin_units",
        gpd.GeoDataFrame(
            {
                "code": [a[0] for a in admin],
                "name": [a[1] for a in admin],
                "level": [a[2] for a in admin],
                "parent_code": [a[3] for a in admin],
                "source": "test",
            },
            geometry=[shapely.box(*a[4]) for a in admin],
            crs=WGS84,
        ),
        mode="replace",
    )

    store.write(
        "plans",
        pd.DataFrame(
            [
                {
                    "plan_id": "P1",
                    "name": "测试方案",
                    "status": "active",
                    "parent_id": None,
                    "created_at": "2024-01-01T00:00:00",
                    "params": "{}",
                    "note": "",
                },
                {
                    "plan_id": "P2",
                    "name": "草稿方案",
                    "status": "draft",
                    "parent_id": "P1",
                    "created_at": "2024-02-01T00:00:00",
                    "params": "{}",
                    "note": "",
                },
            ]
        ),
        mode="replace",
    )
    codes = list(GRID_BOXES)
    grids = []
    for plan, households in (("P1", GRID_HOUSEHOLDS), ("P2", DRAFT_HOUSEHOLDS)):
        grids.append(
            gpd.GeoDataFrame(
                {
                    "plan_id": plan,
                    "code": codes,
                    "village_code": [c[:12] for c in codes],
                    "township_code": [c[:9] for c in codes],
                    "county_code": [c[:6] for c in codes],
                    "households": [households[c] for c in codes],
                    "population": [households[c] * 3 for c in codes],
                    "locked": 0,
                    "exclusive": 0,
                    "polsby_popper": 0.785,
                },
                geometry=_polys(GRID_BOXES),
                crs=WGS84,
            )
        )
    store.write("grids", pd.concat(grids, ignore_index=True), mode="replace")
    _write_draft_atoms(store)

    rng = np.random.default_rng(5)
    rows, geoms = [], []
    n = 0
    kinds = ["dispute", "dispute", "petition"]
    for code, count in CASES_PER_GRID.items():
        x0, y0, x1, y1 = GRID_BOXES[code]
        city.case_ids[code] = []
        for _ in range(count):
            n += 1
            case_id = f"C{n:04d}"
            city.case_ids[code].append(case_id)
            lon, lat = rng.uniform(x0 + 0.01, x1 - 0.01), rng.uniform(y0 + 0.01, y1 - 0.01)
            kind = kinds[n % 3]
            month = 1 + n % 12
            name, phone, idn = f"王{'小大'[n % 2]}{n:02d}", f"1391234{n:04d}", f"15050219900101{n:04d}"
            city.personal_values += [name, phone, idn]
            rows.append(
                {
                    "case_id": case_id,
                    "external_id": f"EXT-{n}",
                    "kind": kind,
                    "category": "neighbour" if kind == "dispute" else "petition_land",
                    "status": ["reported", "resolved", "closed", "in_progress"][n % 4],
                    "reported_at": f"2024-{month:02d}-{1 + n % 27:02d}T09:30:00",
                    "accepted_at": f"2024-{month:02d}-{1 + n % 27:02d}T10:30:00",
                    "address_text": f"科尔沁区西门街道测试路{n}号",
                    "lon": lon,
                    "lat": lat,
                    "precision": "address",
                    "score": 1.0,
                    "geocode_status": "matched",
                    "grid_code": code,
                    "village_code": code[:12],
                    "township_code": code[:9],
                    "county_code": code[:6],
                    "persons": 1,
                    "party_name": name,
                    "party_phone": phone,
                    "party_id_number": idn,
                    "followup_done": 0,
                    "satisfaction": None,
                    "source": "test",
                }
            )
            geoms.append(shapely.Point(lon, lat))
    # one case never geocoded (no grid): only roles that read every case see it
    rows.append(
        {
            "case_id": city.unplaced_case,
            "kind": "dispute",
            "category": "wages",
            "status": "reported",
            "reported_at": "2024-06-01T08:00:00",
            "address_text": "不详",
            "geocode_status": "review",
            "party_name": "赵无名",
            "party_phone": "13800009999",
            "party_id_number": "15050219800101999X",
            "source": "test",
        }
    )
    city.personal_values += ["赵无名", "13800009999", "15050219800101999X"]
    geoms.append(None)
    store.write("cases", gpd.GeoDataFrame(rows, geometry=geoms, crs=WGS84), mode="replace")

    store.write(
        "workers",
        pd.DataFrame(
            [
                {
                    "worker_id": "W1",
                    "name": "李网格",
                    "phone": "13900001111",
                    "role": "full_time",
                    "village_code": "150502001001",
                    "active": 1,
                    "hired_at": "2020-01-01",
                    "source": "test",
                },
                {
                    "worker_id": "W2",
                    "name": "张网格",
                    "phone": "13900002222",
                    "role": "full_time",
                    "village_code": "150502001002",
                    "active": 1,
                    "hired_at": "2020-01-01",
                    "source": "test",
                },
                {
                    "worker_id": "W3",
                    "name": "刘网格",
                    "phone": "13900003333",
                    "role": "part_time",
                    "village_code": "150502002001",
                    "active": 1,
                    "hired_at": "2020-01-01",
                    "source": "test",
                },
            ]
        ),
        mode="replace",
    )
    city.personal_values += ["李网格", "13900001111", "张网格", "13900002222", "刘网格", "13900003333"]
    store.write(
        "assignments",
        pd.DataFrame(
            [
                {
                    "assignment_id": "A1",
                    "worker_id": "W1",
                    "plan_id": "P1",
                    "grid_code": G1,
                    "role": "full_time",
                    "valid_from": "2023-01-01",
                    "valid_to": None,
                },
                {
                    "assignment_id": "A2",
                    "worker_id": "W1",
                    "plan_id": "P1",
                    "grid_code": G2,
                    "role": "full_time",
                    "valid_from": "2023-01-01",
                    "valid_to": None,
                },
                {
                    "assignment_id": "A3",
                    "worker_id": "W2",
                    "plan_id": "P1",
                    "grid_code": G3,
                    "role": "full_time",
                    "valid_from": "2023-01-01",
                    "valid_to": None,
                },
                # an assignment that ended: W2 no longer sees G4
                {
                    "assignment_id": "A4",
                    "worker_id": "W2",
                    "plan_id": "P1",
                    "grid_code": G4,
                    "role": "full_time",
                    "valid_from": "2023-01-01",
                    "valid_to": "2023-06-30",
                },
            ]
        ),
        mode="replace",
    )
    days = pd.date_range("2024-11-01", "2024-11-30", freq="D")
    patrol_pts = [shapely.Point(122.06, 43.57 + 0.001 * i) for i in range(len(days))]
    store.write(
        "patrols",
        gpd.GeoDataFrame(
            {
                "patrol_id": [f"PT{i}" for i in range(len(days))],
                "worker_id": "W1",
                "ts": [d.strftime("%Y-%m-%dT08:00:00") for d in days],
                "raw_lon": [p.x for p in patrol_pts],
                "raw_lat": [p.y for p in patrol_pts],
                "raw_crs": "wgs84",
                "source": "test",
            },
            geometry=patrol_pts,
            crs=WGS84,
        ),
        mode="replace",
    )

    store.write(
        "hotspot_runs",
        pd.DataFrame(
            [
                {
                    "run_id": city.gi_run,
                    "method": "gi",
                    "created_at": "2024-12-01T00:00:00",
                    "plan_id": "P1",
                    "unit_kind": "grid",
                    "params": "{}",
                    "filters": json.dumps({"kind": "dispute"}),
                    "summary": "{}",
                },
                {
                    "run_id": city.emerging_run,
                    "method": "emerging",
                    "created_at": "2024-12-01T00:00:00",
                    "plan_id": "P1",
                    "unit_kind": "grid",
                    "params": "{}",
                    "filters": "{}",
                    "summary": "{}",
                },
            ]
        ),
        mode="replace",
    )
    results = []
    for run, labels in ((city.gi_run, None), (city.emerging_run, "new_hot_spot")):
        results.append(
            gpd.GeoDataFrame(
                {
                    "run_id": run,
                    "unit_id": codes,
                    "count": [float(CASES_PER_GRID[c]) for c in codes],
                    "value": [float(CASES_PER_GRID[c]) for c in codes],
                    "z": [2.8, 1.2, 0.3, -0.4, -2.1],
                    "p": [0.005, 0.2, 0.7, 0.6, 0.03],
                    "p_fdr": [0.02, 0.3, 0.7, 0.7, 0.06],
                    "bin": [3, 0, 0, 0, -1],
                    "label": labels,
                    "extra": "{}",
                },
                geometry=_polys(GRID_BOXES),
                crs=WGS84,
            )
        )
    store.write("hotspot_results", pd.concat(results, ignore_index=True), mode="replace")
    _write_areas_and_surface(store, city)

    if with_users:
        for username, role in ROLES.items():
            create_user(
                store,
                username,
                PASSWORDS[username],
                role,
                worker_id={"worker": "W1", "worker2": "W2"}.get(username),
                replace=True,
            )
    return city


def make_client(store: Store, **settings_overrides):
    """A TestClient on a fresh app over ``store`` (which must already hold the city)."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from gridmap.config import Settings

    app = create_app(Settings(**settings_overrides), store=store)
    return TestClient(app)


def sign_in(client, username: str) -> dict[str, str]:
    """Authorization header for a test user."""
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORDS[username]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a background thread (for ogrinfo and the browser)."""

    def __init__(self, app, port: int | None = None) -> None:
        import threading

        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


_TEMPLATE: dict[str, object] = {}


def city_gpkg(path) -> tuple[Store, City]:
    """A GeoPackage holding the test city at ``path``: built once per test process, then copied
    (building hashes six passwords with scrypt; copying a file is instant)."""
    import shutil
    import tempfile
    from pathlib import Path

    from gridmap.store import open_store

    if "file" not in _TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="gridmap-api-city-")) / "city.gpkg"
        with open_store(template) as store:
            _TEMPLATE["city"] = build_city(store)
        _TEMPLATE["file"] = template
    shutil.copyfile(_TEMPLATE["file"], path)
    return open_store(path), _TEMPLATE["city"]
