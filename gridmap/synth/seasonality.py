"""When cases are reported: day-of-year seasonality by category, weekdays, hours.

* wages (欠薪) disputes pile up in the weeks before the Spring Festival, when migrant
  workers want their pay, and pause during the holiday;
* land disputes peak in spring ploughing and sowing (March–May) and again at harvest;
* property-management disputes follow the heating season (heating fees, Nov–Jan);
* every category is quieter at weekends, in the Spring Festival week and the National
  Day week.
"""

from __future__ import annotations

import numpy as np

#: the city starts in 2021 so that 2022 has a 同比 (year-on-year) base
START = np.datetime64("2021-01-01")
END = np.datetime64("2025-01-01")  # exclusive
DAYS = np.arange(START, END, dtype="datetime64[D]")
YEARS = (2021, 2022, 2023, 2024)
SPRING_FESTIVAL = {
    2021: "2021-02-12",
    2022: "2022-02-01",
    2023: "2023-01-22",
    2024: "2024-02-10",
    2025: "2025-01-29",
}

#: month (Jan…Dec) multipliers per category; categories not listed are flat
MONTHLY = {
    "land": (0.4, 0.5, 1.6, 2.2, 2.0, 1.3, 0.9, 0.8, 1.0, 1.3, 1.0, 0.5),
    "family_marriage": (1.0, 1.3, 1.3, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1),
    "neighbour": (0.8, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8),
    "traffic": (1.2, 1.1, 0.9, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.3),
    "property_mgmt": (1.3, 1.1, 0.9, 0.8, 0.8, 0.8, 0.9, 0.9, 1.0, 1.2, 1.5, 1.4),
    "wages": (1.2, 1.0, 0.8, 0.8, 0.8, 0.8, 0.9, 0.9, 0.9, 1.0, 1.2, 1.5),
    "petition_land": (0.6, 0.6, 1.3, 1.6, 1.4, 1.1, 0.9, 0.9, 1.0, 1.1, 0.9, 0.6),
    "petition_social_security": (1.3, 1.1, 1.0, 1.0, 1.0, 0.9, 0.9, 0.9, 1.0, 1.0, 1.0, 1.1),
}
WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 0.55, 0.45])  # Mon … Sun
#: reports by hour of day (local time)
HOURLY = np.array(
    [
        0.2,
        0.1,
        0.1,
        0.1,
        0.1,
        0.2,
        0.5,
        1.2,
        3.0,
        4.2,
        4.4,
        3.6,
        2.2,
        2.4,
        3.8,
        4.0,
        3.6,
        2.6,
        1.6,
        1.3,
        1.1,
        0.8,
        0.5,
        0.3,
    ]
)


def _month_index(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[M]").astype(int) % 12


def daily_weights(category: str) -> np.ndarray:
    """Relative report rate on each day of :data:`DAYS` for ``category``."""
    days = DAYS
    w = np.asarray(MONTHLY.get(category, (1.0,) * 12))[_month_index(days)]
    weekday = (days.astype(int) + 3) % 7  # 1970-01-01 was a Thursday
    w = w * WEEKDAY[weekday]
    offsets = (days - START).astype(int)
    for year, date in SPRING_FESTIVAL.items():
        sf = (np.datetime64(date) - START).astype(int)
        holiday = (offsets >= sf) & (offsets < sf + 7)
        w = np.where(holiday, w * 0.35, w)
        if category == "wages":
            # the pre-festival rush: strongest about three weeks before
            w = w * (1.0 + 2.5 * np.exp(-(((offsets - (sf - 20)) / 12.0) ** 2)))
        national_day = (days >= np.datetime64(f"{year}-10-01")) & (days < np.datetime64(f"{year}-10-08"))
        w = np.where(national_day, w * 0.5, w)
    return w


def year_of(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[Y]").astype(int) + 1970


def month_number(days: np.ndarray) -> np.ndarray:
    """Months since :data:`START` (0…47), the index of the hotspot multiplier profiles."""
    return days.astype("datetime64[M]").astype(int) - START.astype("datetime64[M]").astype(int)


def sample_times(days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Report timestamps (datetime64[s]) on ``days`` with the hour-of-day pattern."""
    hour = rng.choice(24, len(days), p=HOURLY / HOURLY.sum())
    second = rng.integers(0, 3600, len(days))
    return days.astype("datetime64[s]") + (hour * 3600 + second).astype("timedelta64[s]")
