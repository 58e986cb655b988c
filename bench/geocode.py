"""Benchmark and quality figures for the geocoder on the synthetic city.

    .venv/bin/python bench/geocode.py [--seed 7] [--scale 1.0] [--calibrate] [--import-rows 100000]

* throughput: distinct case address texts per second through the matching cascade
  (normalization cache cleared first, so every text is normalized and parsed);
* quality (address-only cases): share on the right grid automatically, wrong grids
  among acceptances, right candidate in the first three for review cases;
  grids are H3 r9 cells unless ``--store`` gives a store with an active plan;
* ``--calibrate``: the acceptance threshold derived on half the cases;
* ``--import-rows N``: a CSV of N cases (synthetic texts and coordinates) imported into
  a fresh GeoPackage store, timed end to end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gridmap.geocode.evaluate import evaluate, h3_proxy_grids  # noqa: E402
from gridmap.geocode.match import AddressMatcher  # noqa: E402
from gridmap.geocode.normalize import normalize_address  # noqa: E402


def throughput(city, repeat: int = 2) -> tuple[float, int, float]:
    texts = pd.unique(city.cases["address_text"].astype(str))
    t0 = time.perf_counter()
    matcher = AddressMatcher(city.addresses, city.admin_units)
    build = time.perf_counter() - t0
    best = np.inf
    for _ in range(repeat):
        normalize_address.cache_clear()
        t = time.perf_counter()
        matcher.match(texts)
        best = min(best, time.perf_counter() - t)
    return len(texts) / best, len(texts), build


def import_benchmark(city, rows: int, seed: int) -> None:
    from gridmap.imports.cases import import_cases
    from gridmap.store import open_store

    rng = np.random.default_rng(seed)
    cases = pd.DataFrame(city.cases)
    pick = rng.integers(0, len(cases), rows)
    sample = cases.iloc[pick].reset_index(drop=True)
    table = pd.DataFrame(
        {
            "案件编号": [f"BENCH-{i:07d}" for i in range(rows)],
            "地址": sample["address_text"],
            "经度": sample["raw_lon"].map(lambda v: "" if pd.isna(v) else f"{v:.7f}"),
            "纬度": sample["raw_lat"].map(lambda v: "" if pd.isna(v) else f"{v:.7f}"),
            "坐标系": sample["raw_crs"].fillna(""),
            "类型": sample["kind"],
            "类别": sample["category"],
            "状态": sample["status"],
            "登记时间": sample["reported_at"],
            "当事人": sample["party_name"],
            "电话": sample["party_phone"],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.csv"
        table.to_csv(path, index=False, encoding="utf-8-sig")
        store = open_store(Path(tmp) / "bench.gpkg")
        t = time.perf_counter()
        store.write("admin_units", city.admin_units)
        store.write("addresses", city.addresses)
        # an active plan so that accepted cases get their grid (H3 r9 cells stand in for grids)
        a = city.addresses
        grids = h3_proxy_grids(a.geometry.x.to_numpy(), a.geometry.y.to_numpy()).assign(plan_id="BENCH")
        store.write(
            "plans",
            pd.DataFrame(
                [
                    {
                        "plan_id": "BENCH",
                        "name": "bench",
                        "status": "active",
                        "created_at": "2024-01-01T00:00:00",
                    }
                ]
            ),
        )
        store.write("grids", grids)
        print(
            f"store prepared ({len(city.addresses):,} addresses, {len(grids):,} grids) "
            f"in {time.perf_counter() - t:.1f} s"
        )
        t = time.perf_counter()
        report = import_cases(store, path, actor="bench")
        total = time.perf_counter() - t
        print(report.summary())
        print(
            f"import of {rows:,} rows ({path.stat().st_size / 1e6:.1f} MB): {total:.1f} s "
            f"({rows / total:,.0f} rows/s); cases in store: {store.count('cases'):,}"
        )
        t = time.perf_counter()
        again = import_cases(store, path, actor="bench")
        print(
            f"re-import of the same file: {time.perf_counter() - t:.1f} s, {again.new_cases} new, "
            f"{again.updated_cases:,} updated; cases in store: {store.count('cases'):,}"
        )
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--import-rows", type=int, default=0)
    parser.add_argument("--store", help="use this store's active plan as the grids")
    args = parser.parse_args(argv)

    from gridmap.synth.city import synthesize

    t = time.perf_counter()
    city = synthesize(seed=args.seed, scale=args.scale)
    print(
        f"synthetic city seed {args.seed} scale {args.scale}: {len(city.addresses):,} addresses, "
        f"{len(city.cases):,} cases ({time.perf_counter() - t:.1f} s)"
    )
    rate, n, build = throughput(city)
    print(f"matcher built in {build:.1f} s; cascade: {n:,} distinct texts at {rate:,.0f} addresses/s")

    grids = None
    if args.store:
        from gridmap.store import open_store

        store = open_store(args.store)
        plan_id = store.active_plan_id()
        grids = store.read("grids", where={"plan_id": plan_id}) if plan_id else None
        print(f"grids: active plan {plan_id} of {args.store}")
    ev = evaluate(city, grids=grids, calibration_share=0.5 if args.calibrate else 0.0)
    print(ev.summary())
    if args.import_rows:
        import_benchmark(city, args.import_rows, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
