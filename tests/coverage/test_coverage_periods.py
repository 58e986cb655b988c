from datetime import date

import pandas as pd
import pytest

from gridmap.coverage.periods import Period, parse_period
from gridmap.errors import InputError


@pytest.mark.parametrize(
    "text, start, end, label",
    [
        ("2024", date(2024, 1, 1), date(2024, 12, 31), "2024"),
        ("2024-12", date(2024, 12, 1), date(2024, 12, 31), "2024-12"),
        ("2024-2", date(2024, 2, 1), date(2024, 2, 29), "2024-02"),
        ("2023-02", date(2023, 2, 1), date(2023, 2, 28), "2023-02"),
        ("2024-Q4", date(2024, 10, 1), date(2024, 12, 31), "2024-Q4"),
        ("2024q1", date(2024, 1, 1), date(2024, 3, 31), "2024-Q1"),
        ("2024-01-15/2024-03-31", date(2024, 1, 15), date(2024, 3, 31), "2024-01-15/2024-03-31"),
        ("2024-01-15..2024-01-20", date(2024, 1, 15), date(2024, 1, 20), "2024-01-15/2024-01-20"),
        ("2024-05-05", date(2024, 5, 5), date(2024, 5, 5), "2024-05-05"),
    ],
)
def test_parse_period(text, start, end, label):
    period = parse_period(text)
    assert (period.start, period.end, period.label) == (start, end, label)
    assert period.days == (end - start).days + 1


def test_explicit_dates_and_bounds():
    period = parse_period(None, start="2024-03-01", end=date(2024, 3, 31))
    assert period.days == 31
    assert period.start_iso == "2024-03-01T00:00:00" and period.end_iso == "2024-04-01T00:00:00"
    stamps = pd.to_datetime(
        pd.Series(
            ["2024-02-29T23:59:59", "2024-03-01T00:00:00", "2024-03-31T23:59:59", "2024-04-01T00:00:00", None]
        )
    )
    assert period.contains(stamps).tolist() == [False, True, True, False, False]
    assert parse_period(period) is period


def test_previous_year_handles_leap_day():
    feb = parse_period("2024-02").previous_year()
    assert (feb.start, feb.end) == (date(2023, 2, 1), date(2023, 2, 28))
    q4 = parse_period("2024-Q4").previous_year()
    assert (q4.start, q4.end) == (date(2023, 10, 1), date(2023, 12, 31))


@pytest.mark.parametrize(
    "bad", ["June", "2024-13", "2024-Q5", "2024-02-30", "2024-03-31/2024-03-01", "", "24"]
)
def test_bad_periods_say_what_is_wrong(bad):
    with pytest.raises(InputError):
        parse_period(bad)


def test_period_end_before_start():
    with pytest.raises(InputError, match="before"):
        Period(date(2024, 2, 1), date(2024, 1, 1))
