"""Probe (issue #13): how much of a stored Gi* run's input do its z-scores give away?

    PYTHONPATH=. .venv/bin/python scripts/probe_gi_reconstruction.py STORE.gpkg

For every Gi* run of the store, solves ``(W + I) y = z ∘ d`` (``d_i = √((n W_i − W_i²)/(n−1))``,
W the run's public contiguity of the public unit geometry) by least squares and counts the units
whose solved ``y`` equals their standardised analysed value (count, rate or Empirical Bayes rate)
to 1e-6: for those the z-scores determine the analysed value up to one scale and one shift.
Before #13 these z-scores went to anonymous callers; now they go only to roles that read every
case.  (Going on from Empirical Bayes rates to counts needs the households, which are public,
and four scalars an attacker fits: not done here; ``tests/api/test_api_disclosure.py`` does the
whole attack on counts.)
"""

from __future__ import annotations

import json
import sys

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg

from gridmap.hotspots.runs import load_polygon_units
from gridmap.store import open_store


def main(path: str) -> None:
    with open_store(path) as store:
        for run in store.read("hotspot_runs", where={"method": "gi"}).itertuples():
            params = json.loads(run.params)
            if run.unit_kind == "h3":
                print(f"{run.run_id}: H3 units, skipped")
                continue
            results = store.read(
                "hotspot_results", where={"run_id": run.run_id}, columns=["unit_id", "count", "value", "z"]
            )
            units = load_polygon_units(
                store, run.unit_kind, run.plan_id, float(params["contiguity_tolerance_m"])
            )
            order = {str(u): i for i, u in enumerate(units.ids)}
            results = results.assign(pos=[order[str(u)] for u in results["unit_id"]]).sort_values("pos")
            usable = results["z"].notna().to_numpy()
            weights = units.weights if usable.all() else units.weights.subset(usable)
            adjacency = weights.sparse.tocsr()
            n = adjacency.shape[0]
            size = np.asarray(adjacency.sum(axis=1)).ravel() + 1
            spread = np.sqrt((n - size) * size / (n - 1))
            z = results["z"].to_numpy()[usable]
            system = (adjacency + sp.identity(n)).tocsr()
            y = scipy.sparse.linalg.lsqr(system, z * spread, atol=1e-14, btol=1e-14, iter_lim=200_000)[0]
            value = results["value"].to_numpy()[usable]
            exact = np.abs(y - (value - value.mean()) / value.std()) < 1e-6
            counts = results["count"].to_numpy()[usable]
            small = (counts > 0) & (counts < 3)
            print(
                f"{run.run_id} ({params['value']}, {n} units): {int(exact.sum())} analysed values determined "
                f"by the z-scores up to scale and shift, {int((exact & small).sum())} of the "
                f"{int(small.sum())} units with 1–2 cases among them"
            )


if __name__ == "__main__":
    main(sys.argv[1])
