"""Benchmark: geocoding, hot-spot runs per city and coverage audits on dask.distributed,
1 against 2 workers, beside the serial path — same run, same store.

Issue #15, item 4 (atoms + partition per county are in bench/scale.py).  On a built demo store
(``gridmap build-demo --scale 1`` → var/gridmap.gpkg) it times, end to end from the store:

* **geocode** — ``--rows`` case rows of the store (address text and declared coordinates) through
  :func:`gridmap.geocode.batch.geocode_rows` in this process (context built from the store included),
  then :func:`gridmap.geocode.distributed.geocode_table` in chunks of ``--chunk-rows``: each worker
  builds its own context from the store (included: that is the cost of going distributed);
* **hotspots** — one run per (city, method) for ``--methods`` (computed, not written: the store is
  left as it was) with :func:`gridmap.hotspots.batch.compute_city_run`;
* **audit** — one coverage audit per (city, month) for the last ``--months`` months of check-ins,
  :func:`gridmap.coverage.batch.audit_city`.

Each dask batch runs on a fresh LocalCluster of 1 or 2 single-threaded worker processes (start-up
timed apart).  Printed per batch: wall seconds, CPU seconds (this process for serial; the workers'
for dask, from ``time.process_time`` in each worker), the 1-minute load average before and after,
and whether the result equals the serial one.  The 2 cores here are shared with other work:
compare CPU seconds, and read the load average beside the wall time.

    .venv/bin/python bench/dask_batches.py --store var/gridmap.gpkg [--rows 20000] [--months 6]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from gridmap.distributed import dask_client, run_tasks  # noqa: E402
from gridmap.store import open_store  # noqa: E402


def _load() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def _cpu() -> float:
    return time.process_time()


def _serial(name: str, work):
    load0, t, c = _load(), time.perf_counter(), _cpu()
    result = work()
    return result, {
        "batch": name,
        "engine": "serial",
        "seconds": round(time.perf_counter() - t, 2),
        "cpu_s": round(_cpu() - c, 1),
        "load_before": load0,
        "load_after": _load(),
        "note": "",
    }


def _on_dask(name: str, n: int, work, same) -> dict:
    t0 = time.perf_counter()
    with dask_client(address="", workers=n) as client:
        client.wait_for_workers(n)
        started = time.perf_counter() - t0
        cpu0 = sum(client.run(_cpu).values())
        load0, t, c = _load(), time.perf_counter(), _cpu()
        result = work(client)
        seconds = time.perf_counter() - t
        cpu = sum(client.run(_cpu).values()) - cpu0 + (_cpu() - c)
    return {
        "batch": name,
        "engine": f"dask {n} worker{'s' if n > 1 else ''}",
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 1),
        "load_before": load0,
        "load_after": _load(),
        "note": f"cluster start {started:.1f} s; same as serial: {same(result)}",
    }


def bench_geocode(store_url: str, rows: int, chunk_rows: int, workers: list[int]) -> list[dict]:
    from gridmap.geocode.batch import GeocodeContext, geocode_rows
    from gridmap.geocode.distributed import geocode_table

    with open_store(store_url) as store:
        cases = store.read(
            "cases", columns=["case_id", "address_text", "raw_lon", "raw_lat", "raw_crs"], limit=rows
        )
    inputs = (cases["address_text"], cases["raw_lon"], cases["raw_lat"], cases["raw_crs"])
    print(f"geocode: {len(cases):,} case rows, chunks of {chunk_rows:,}", flush=True)

    def serial_work():
        with open_store(store_url) as store:
            ctx = GeocodeContext.from_store(store)
        return geocode_rows(ctx, *inputs)

    reference, row = _serial("geocode", serial_work)
    out = [row]
    for n in workers:
        out.append(
            _on_dask(
                "geocode",
                n,
                lambda client: geocode_table(
                    *inputs, store_url=store_url, chunk_rows=chunk_rows, client=client
                ),
                lambda result: result.reset_index(drop=True).equals(reference),
            )
        )
        print(f"  dask {n}: {out[-1]['seconds']} s", flush=True)
    return out


def _results(run) -> pd.DataFrame:
    return pd.DataFrame(run.results.drop(columns=["run_id", "geometry"])).reset_index(drop=True)


def bench_hotspots(store_url: str, methods: list[str], workers: list[int]) -> list[dict]:
    from gridmap.hotspots.batch import CityRun, city_codes, compute_city_run

    with open_store(store_url) as store:
        cities = city_codes(store)
    tasks = [CityRun(city, method) for city in cities for method in methods]
    keys = [t.key for t in tasks]
    print(f"hotspots: {len(tasks)} runs ({len(cities)} cities × {', '.join(methods)})", flush=True)
    reference, row = _serial("hotspots", lambda: [compute_city_run(t, store_url) for t in tasks])
    out = [row]
    for n in workers:

        def same(runs):
            return all(_results(a).equals(_results(b)) for a, b in zip(runs, reference, strict=True))

        out.append(
            _on_dask(
                "hotspots",
                n,
                lambda client: run_tasks(compute_city_run, tasks, keys, client, store_url=store_url),
                same,
            )
        )
        print(f"  dask {n}: {out[-1]['seconds']} s", flush=True)
    return out


def bench_audit(store_url: str, months: int, workers: list[int]) -> list[dict]:
    from gridmap.coverage.batch import AuditTask, audit_city
    from gridmap.hotspots.batch import city_codes

    with open_store(store_url) as store:
        cities = city_codes(store)
        last = store.read("patrols", columns=["ts"], order_by=["-ts"], limit=1)["ts"].iloc[0]
    periods = [str(p) for p in pd.period_range(end=pd.Period(str(last)[:7], "M"), periods=months, freq="M")]
    tasks = [AuditTask(city, period) for city in cities for period in periods]
    keys = [t.key for t in tasks]
    print(f"audit: {len(tasks)} audits ({len(cities)} cities × {periods[0]} … {periods[-1]})", flush=True)
    reference, row = _serial("audit", lambda: [audit_city(t, store_url) for t in tasks])
    out = [row]
    for n in workers:

        def same(results):
            return all(a.findings.equals(b.findings) for a, b in zip(results, reference, strict=True))

        out.append(
            _on_dask(
                "audit",
                n,
                lambda client: run_tasks(audit_city, tasks, keys, client, store_url=store_url),
                same,
            )
        )
        print(f"  dask {n}: {out[-1]['seconds']} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="var/gridmap.gpkg")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rows", type=int, default=20_000, help="geocode: case rows")
    parser.add_argument("--chunk-rows", type=int, default=2_500, help="geocode: rows per task")
    parser.add_argument("--methods", nargs="+", default=["gi", "lisa", "emerging", "kde"])
    parser.add_argument("--months", type=int, default=6, help="audit: the last N months of check-ins")
    parser.add_argument("--only", choices=["geocode", "hotspots", "audit"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["geocode", "hotspots", "audit"])
    print(
        f"store {args.store}; machine: {os.cpu_count()} cores (shared); load {Path('/proc/loadavg').read_text().strip()}"
    )
    rows = []
    if "geocode" in only:
        rows += bench_geocode(args.store, args.rows, args.chunk_rows, args.workers)
    if "hotspots" in only:
        rows += bench_hotspots(args.store, args.methods, args.workers)
    if "audit" in only:
        rows += bench_audit(args.store, args.months, args.workers)
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
