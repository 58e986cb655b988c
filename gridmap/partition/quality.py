"""Quality of a grid plan: balance, compactness, contiguity, nesting."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import LOCAL_CRS
from gridmap.partition.balance import choose_k
from gridmap.partition.tiling import TilingFindings, polsby_popper, validate_tiling


@dataclass
class QualityReport:
    """Figures of a plan (households per grid, Polsby-Popper in [0, 1], areas in m²).

    ``grids``: per grid code, village_code, households, rel_dev (from its village's mean
    regular grid size), polsby_popper, parts, exclusive.
    ``villages_forced``: villages whose household count admits no number of grids with
    a mean inside the band (their grids must lie outside it).
    """

    summary: dict
    grids: pd.DataFrame
    villages_forced: pd.DataFrame
    tiling: TilingFindings | None

    def to_text(self) -> str:
        s = self.summary
        lines = [
            f"grids {s['grids']} (regular {s['regular_grids']}, exclusive {s['exclusive_grids']}) "
            f"in {s['villages']} villages",
            f"households per grid: min {s['hh_min']}  max {s['hh_max']}  mean {s['hh_mean']:.1f}  "
            f"CV {s['hh_cv']:.3f}",
            f"within ±{s['tolerance']:.0%} of village mean: {s['share_within_tolerance']:.1%}  "
            f"(CV around village means {s['cv_within_village']:.3f});  in band {s['band'][0]}–{s['band'][1]}: "
            f"{s['share_in_band']:.1%}",
            f"Polsby-Popper: mean {s['pp_mean']:.3f}  min {s['pp_min']:.3f}",
            f"contiguous grids: {s['share_contiguous']:.1%}  ({s['noncontiguous_grids']} not)",
        ]
        if s.get("nesting_ok") is not None:
            lines.append(
                f"nesting/tiling: {'ok' if s['nesting_ok'] else 'PROBLEMS'} ({s['tiling_findings']} findings)"
            )
        lines.append(f"villages whose size forces grids outside the band: {s['villages_forced']}")
        return "\n".join(lines)


def quality_report(
    grids: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame | None = None,
    target: float = 400,
    tolerance: float = 0.10,
    band: tuple[float, float] = (300, 500),
) -> QualityReport:
    """Balance, compactness, contiguity and (with ``villages``) nesting of ``grids``.

    ``grids`` needs ``village_code``, ``households`` and polygons (any CRS); ``code`` or
    ``grid`` names them and ``exclusive`` marks exclusive grids (left out of balance).
    """
    code_field = "code" if "code" in grids.columns else "grid"
    g = grids.reset_index(drop=True)
    metric = np.asarray(g.geometry.to_crs(LOCAL_CRS).values, dtype=object)
    exclusive = (
        g["exclusive"].fillna(0).astype(bool).to_numpy()
        if "exclusive" in g.columns
        else np.zeros(len(g), bool)
    )
    frame = pd.DataFrame(
        {
            "code": g[code_field].astype(str).to_numpy()
            if code_field in g.columns
            else np.arange(len(g)).astype(str),
            "village_code": g["village_code"].astype(str).to_numpy(),
            "households": g["households"].fillna(0).astype(np.int64).to_numpy(),
            "exclusive": exclusive,
            "polsby_popper": polsby_popper(metric),
            "parts": shapely.get_num_geometries(metric),
        }
    )
    regular = frame[~frame["exclusive"]]
    mean_v = regular.groupby("village_code")["households"].transform("mean")
    frame["rel_dev"] = np.nan
    frame.loc[regular.index, "rel_dev"] = np.where(mean_v > 0, regular["households"] / mean_v - 1, 0.0)
    hh = regular["households"].to_numpy(dtype=float)
    dev = frame.loc[regular.index, "rel_dev"].to_numpy(dtype=float)
    totals = regular.groupby("village_code")["households"].agg(["sum", "size"])
    best_k = totals["sum"].map(lambda h: choose_k(h, target, band))
    best_mean = totals["sum"] / best_k
    forced = (
        totals[(best_mean < band[0]) | (best_mean > band[1])]
        .assign(best_k=best_k, best_mean=best_mean)
        .reset_index()
    )
    tiling = (
        validate_tiling(
            g, villages, code_field=code_field if code_field in g.columns else None, grids_metric=metric
        )
        if villages is not None
        else None
    )
    summary = {
        "grids": int(len(frame)),
        "regular_grids": int(len(regular)),
        "exclusive_grids": int(exclusive.sum()),
        "villages": int(frame["village_code"].nunique()),
        "target": target,
        "tolerance": tolerance,
        "band": tuple(band),
        "hh_min": int(hh.min()) if len(hh) else 0,
        "hh_max": int(hh.max()) if len(hh) else 0,
        "hh_mean": float(hh.mean()) if len(hh) else 0.0,
        "hh_cv": float(hh.std() / hh.mean()) if len(hh) and hh.mean() > 0 else 0.0,
        "cv_within_village": float(np.sqrt(np.mean(dev**2))) if len(dev) else 0.0,
        "share_within_tolerance": float(np.mean(np.abs(dev) <= tolerance + 1e-9)) if len(dev) else 1.0,
        "share_in_band": float(np.mean((hh >= band[0]) & (hh <= band[1]))) if len(hh) else 1.0,
        "pp_mean": float(frame["polsby_popper"].mean()) if len(frame) else 0.0,
        "pp_min": float(frame["polsby_popper"].min()) if len(frame) else 0.0,
        "noncontiguous_grids": int((frame["parts"] > 1).sum()),
        "share_contiguous": float((frame["parts"] == 1).mean()) if len(frame) else 1.0,
        "villages_forced": int(len(forced)),
    }
    if tiling is not None:
        summary["nesting_ok"] = tiling.ok
        summary["tiling_findings"] = int(len(tiling.findings))
        summary["grids_crossing_village"] = int((tiling.findings["kind"] == "crosses_village").sum())
    return QualityReport(summary=summary, grids=frame, villages_forced=forced, tiling=tiling)
