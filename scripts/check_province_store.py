"""Check a province build in PostGIS: counts, partitions, pruning, grid tiles in Tongliao and Hohhot.

    GRIDMAP_DATABASE_URL=postgresql://postgres@127.0.0.1/gridmap_i15a \\
        python scripts/check_province_store.py [--store URL]

Prints county-level units, villages, partitions per table, the plan of a county-filtered query
(partition pruning), and the grid tiles at zoom 12 over a grid of each city: status, features, ms.
Exit code 1 when a check fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mapbox_vector_tile  # noqa: E402
import shapely  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from api import mvt  # noqa: E402
from api.main import create_app  # noqa: E402
from gridmap.config import Settings  # noqa: E402
from gridmap.store import open_store  # noqa: E402

CITIES = {"150500": "通辽市", "150100": "呼和浩特市"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="postgresql:// URL (default: GRIDMAP_DATABASE_URL)")
    parser.add_argument("--plan", default=None, help="plan id of the grids (default: the active plan)")
    args = parser.parse_args()
    store = open_store(args.store)
    ok = True
    levels = store.read("admin_units", columns=["level"])["level"].value_counts().to_dict()
    print(f"store {store.url}: units per level {levels}")
    ok &= levels.get("county", 0) >= 100 and levels.get("village", 0) >= 10_000
    for table in ("addresses", "cases", "grids", "patrols", "hotspot_results"):
        parts = store.partitions(table) if hasattr(store, "partitions") else {}
        print(f"  {table}: {len(parts)} partitions, {store.count(table):,} rows")
        ok &= len(parts) >= 100
    if store.backend == "postgis":
        plan = store._fetch(
            "explain",
            f'EXPLAIN (COSTS OFF) SELECT count(*) FROM "{store.schema}".cases WHERE county_code = %s',
            ["150102"],
        )
        print("  cases of 150102 (新城区), query plan:\n    " + "\n    ".join(r[0] for r in plan))
        for table in (
            "addresses",
            "cases",
            "grids",
            "patrols",
            "hotspot_results",
            "plan_atoms",
            "admin_units",
        ):
            rows = store.count(table)
            size = store._fetch(
                "size",
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                "AND (c.relname = %s OR c.relname LIKE %s) AND c.relkind IN ('r', 'p')",
                [store.schema, table, f"{table}\\_%"],
            )[0][0]
            print(
                f"  {table}: {int(size) / 2**20:,.1f} MiB with indexes, {int(size) / max(rows, 1):,.0f} bytes/row"
            )
    plan = args.plan or store.active_plan_id()
    grids = store.read("grids", where={"plan_id": plan})
    app = create_app(Settings(rate_limit_per_address=0, rate_limit_per_token=0), store=store)
    with TestClient(app) as client:
        for city, name in CITIES.items():
            mine = grids[grids["county_code"].str[:4] == city[:4]]
            if mine.empty:
                print(f"  {name} {city}: no grids")
                ok = False
                continue
            x0, y0 = shapely.get_coordinates(mine.geometry.iloc[len(mine) // 2].representative_point())[0]
            z, x, y = mvt.tiles_covering((x0, y0, x0, y0), [12])[0]
            t = time.perf_counter()
            r = client.get(f"/tiles/grids/{z}/{x}/{y}.pbf", params={"plan": plan})
            ms = (time.perf_counter() - t) * 1000
            features = (
                mapbox_vector_tile.decode(r.content)["grids"]["features"] if r.status_code == 200 else []
            )
            mine_in_tile = sum(f["properties"]["code"].startswith(city[:4]) for f in features)
            print(
                f"  {name} {city}: tile {z}/{x}/{y} HTTP {r.status_code}, {len(features)} grids "
                f"({mine_in_tile} of {name}), {ms:.0f} ms"
            )
            ok &= mine_in_tile > 0
    store.close()
    print("all checks passed" if ok else "A CHECK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
