from datetime import date

import numpy as np
import pytest

from engine.forecast_periods import (
    add_periods,
    day_number,
    from_day_number,
    period_boundaries,
    period_count,
    period_index,
    period_label,
    periods_between,
)


def test_months_are_widened_to_whole_months():
    periods = periods_between(date(2025, 1, 15), date(2025, 3, 2), "month")
    assert [period.label for period in periods] == ["2025-01", "2025-02", "2025-03"]
    assert periods[0].start == date(2025, 1, 1)
    assert periods[1].end == date(2025, 2, 28)
    assert periods[-1].end == date(2025, 3, 31)


def test_quarters_across_a_year_end():
    periods = periods_between(date(2024, 11, 30), date(2025, 4, 1), "quarter")
    assert [period.label for period in periods] == ["2024-Q4", "2025-Q1", "2025-Q2"]
    assert (periods[0].start, periods[0].end) == (date(2024, 10, 1), date(2024, 12, 31))
    assert period_count(date(2024, 11, 30), date(2025, 4, 1), "quarter") == 3


def test_single_day_range_gives_its_period():
    assert [period.label for period in periods_between(date(2024, 2, 29), date(2024, 2, 29), "month")] == ["2024-02"]


def test_labels():
    assert period_label(date(2025, 9, 3), "month") == "2025-09"
    assert period_label(date(2025, 9, 3), "quarter") == "2025-Q3"


def test_add_periods_goes_both_ways():
    assert add_periods(date(2025, 1, 31), 1, "month") == date(2025, 2, 1)
    assert add_periods(date(2025, 1, 31), -2, "month") == date(2024, 11, 1)
    assert add_periods(date(2025, 5, 5), -1, "quarter") == date(2025, 1, 1)


@pytest.mark.parametrize(
    ("date_from", "date_to", "granularity", "message"),
    [
        (date(2025, 2, 1), date(2025, 1, 1), "month", "after"),
        (date(2025, 1, 1), date(2025, 2, 1), "week", "granularity"),
    ],
)
def test_bad_ranges(date_from, date_to, granularity, message):
    with pytest.raises(ValueError, match=message):
        periods_between(date_from, date_to, granularity)


def test_day_numbers_and_buckets():
    assert day_number(date(1970, 1, 2)) == 1
    assert from_day_number(day_number(date(2025, 7, 4))) == date(2025, 7, 4)
    periods = periods_between(date(2025, 1, 1), date(2025, 2, 1), "month")
    boundaries = period_boundaries(periods)
    days = np.array(
        [day_number(day) for day in (date(2024, 12, 31), date(2025, 1, 1), date(2025, 2, 28), date(2025, 3, 1))]
    )
    assert period_index(days, boundaries).tolist() == [-1, 0, 1, 2]
