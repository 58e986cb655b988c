"""The warning list as CSV or XLSX for the weekly 联席会商 (joint case conference).

The XLSX has three sheets: 预警清单 (every grid by rank: expected cases, 80 % interval,
why), 乡镇汇总 (per township: grids, expected cases, grids on the watch list, top grid)
and 说明 (what the figures mean, the method and how it scored in its backtest).
Only aggregates: no case, no person.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from gridmap.errors import InputError

LIST_COLUMNS = {
    "rank": "排名 rank",
    "grid_code": "网格编码 grid",
    "township_code": "乡镇 township",
    "expected": "预计件数 expected",
    "lower": "80%区间下限 lower",
    "upper": "80%区间上限 upper",
    "recent_cases": "近30天本网格 last 30 days",
    "recent_nearby": "近30天周边1公里 nearby",
    "trend": "趋势 trend",
    "season": "季节 season",
    "households": "户数 households",
    "why": "研判依据 why",
}
TOWNSHIP_COLUMNS = {
    "township_code": "乡镇编码 code",
    "township_name": "乡镇 township",
    "grids": "网格数 grids",
    "expected": "预计件数 expected",
    "watch_grids": "重点网格 watch grids",
    "recent_cases": "近30天件数 last 30 days",
    "top_grid": "最高网格 top grid",
    "top_expected": "最高网格预计 top expected",
}


def write_forecast(
    results: pd.DataFrame, path: str | Path, townships: pd.DataFrame | None = None, about: dict | None = None
) -> Path:
    """Write the per-grid forecast to ``path`` (.csv: the list only; .xlsx: the three sheets)."""
    path = Path(path)
    frame = pd.DataFrame(results).drop(columns=["geometry", "run_id"], errors="ignore")
    frame = frame[[c for c in LIST_COLUMNS if c in frame.columns]]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
        return path
    if suffix != ".xlsx":
        raise InputError(f"--out must end in .csv or .xlsx, got {path.name!r}")
    _write_xlsx(path, frame, townships, about)
    return path


def forecast_xlsx(
    results: pd.DataFrame, townships: pd.DataFrame | None = None, about: dict | None = None
) -> bytes:
    """The same workbook as :func:`write_forecast` writes to a .xlsx path, as bytes (for the API)."""
    frame = pd.DataFrame(results).drop(columns=["geometry", "run_id"], errors="ignore")
    buffer = io.BytesIO()
    _write_xlsx(buffer, frame[[c for c in LIST_COLUMNS if c in frame.columns]], townships, about)
    return buffer.getvalue()


def _write_xlsx(target, frame: pd.DataFrame, townships: pd.DataFrame | None, about: dict | None) -> None:
    from openpyxl.utils import get_column_letter

    with pd.ExcelWriter(target, engine="openpyxl") as writer:
        frame.rename(columns=LIST_COLUMNS).to_excel(writer, sheet_name="预警清单", index=False)
        if townships is not None:
            t = townships[[c for c in TOWNSHIP_COLUMNS if c in townships.columns]]
            t.rename(columns=TOWNSHIP_COLUMNS).to_excel(writer, sheet_name="乡镇汇总", index=False)
        notes = pd.DataFrame(
            [(k, str(v)) for k, v in (about or {}).items()], columns=["项目 item", "内容 value"]
        )
        notes.to_excel(writer, sheet_name="说明", index=False)
        for sheet in writer.sheets.values():
            sheet.freeze_panes = "A2"
            for i, column in enumerate(sheet.columns, start=1):
                width = max(len(str(c.value)) if c.value is not None else 0 for c in list(column)[:200])
                sheet.column_dimensions[get_column_letter(i)].width = min(max(10, width * 1.2), 70)


def about_rows(run: dict, backtest_summary: dict | None = None) -> dict:
    """The 说明 sheet: what was forecast, how, and how the method scored."""
    about = {
        "类型 kind": run["kind"],
        "预测期 target": f"{run['target_start']} … {run['target_end']} (exclusive)",
        "截至 known before": run["asof"],
        "方法 method": run["method"],
        "方法来源 chosen by": run["summary"].get("chosen_by", ""),
        "预计 expected": "expected cases in the horizon; 80 % interval = Poisson 10 %–90 % quantiles",
        "趋势 trend": "cases of the last 3 months / the monthly mean of the last 12",
        "季节 season": "city-wide factor of the target month from earlier years",
        "数据 data": "synthetic demo data" if run.get("synthetic") else "the store's cases",
    }
    if backtest_summary:
        m = backtest_summary.get("methods", {}).get(run["method"], {})
        for key in ("log_score", "pai_5", "top10_share"):
            if key in m:
                about[f"回测 backtest {key}"] = m[key]
    return about
