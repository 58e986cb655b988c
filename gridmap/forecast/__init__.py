"""Early warning (研判预警): next month's expected cases per grid, and backtests that show the skill.

One module per method, each returning a :class:`gridmap.forecast.data.MethodForecast`:

* :mod:`.baselines` — last period, rolling 3 and 12 months (the 12-month climatology);
* :mod:`.kde` — retrospective kernel density hot spots (Chainey, Tompson & Uhlig 2008);
* :mod:`.sepp` — self-exciting point process per grid (background × exponential
  triggering in time), fitted by EM as in Mohler et al. (2015);
* :mod:`.hgb` — scikit-learn HistGradientBoosting with Poisson loss on lagged grid features.

:mod:`.metrics` scores forecasts (Poisson log score, PAI, PEI, top-10 % share),
:mod:`.backtest` runs rolling origins, :mod:`.simulate` draws Hawkes and county processes
with a known intensity, :mod:`.runs` stores runs, :mod:`.export` writes CSV/XLSX and the
township summary; the tables are declared in :mod:`gridmap.store.schema`.
"""

from __future__ import annotations
