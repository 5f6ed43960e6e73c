from datetime import datetime, timedelta

import pytest

from engine.idle import idle_days, idle_days_range

NOW = datetime(2026, 3, 11, 10, 0, 0)


def matches(found, last):
    """Whether the range produced by idle_days_range holds ``last``."""
    inside = (found.after is None or last > found.after) and (found.until is None or last <= found.until)
    return inside != found.outside


def test_idle_days():
    assert idle_days(datetime(2026, 3, 1, 10), NOW) == 10
    assert idle_days(datetime(2026, 3, 1, 10, 0, 1), NOW) == 9
    assert idle_days(NOW + timedelta(days=2), NOW) == 0
    assert idle_days(None, NOW) == 0


@pytest.mark.parametrize("operator", ["=", "!=", "<", "<=", ">", ">="])
@pytest.mark.parametrize("value", [0, 1, 9, 10, 11, 9.5, 10.5])
def test_range_agrees_with_idle_days(operator, value):
    compare = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[operator]
    found = idle_days_range(operator, value, NOW)
    for hours in range(0, 24 * 13, 7):
        last = NOW - timedelta(hours=hours)
        assert matches(found, last) == compare(idle_days(last, NOW), value), (operator, value, hours)


@pytest.mark.parametrize(("operator", "value"), [("in", 3), ("like", 3), ("=", "3"), ("=", True), ("=", float("nan"))])
def test_bad_searches(operator, value):
    with pytest.raises(ValueError):
        idle_days_range(operator, value, NOW)
