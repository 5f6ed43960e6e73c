from datetime import datetime, timedelta

import pytest

from engine.idle import idle_days, idle_days_domain

NOW = datetime(2026, 3, 11, 10, 0, 0)


def matches(domain, last):
    """Evaluate the (small) domain produced by idle_days_domain on one datetime."""
    ops = {"<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "=": lambda a, b: a == b}

    def term(item):
        field, operator, value = item
        if field in (0, 1):
            return ops[operator](field, value)
        return ops[operator](last, value)

    if domain[0] in ("&", "|"):
        left, right = term(domain[1]), term(domain[2])
        return (left and right) if domain[0] == "&" else (left or right)
    return all(term(item) for item in domain)


def test_idle_days():
    assert idle_days(datetime(2026, 3, 1, 10), NOW) == 10
    assert idle_days(datetime(2026, 3, 1, 10, 0, 1), NOW) == 9
    assert idle_days(NOW + timedelta(days=2), NOW) == 0
    assert idle_days(None, NOW) == 0


@pytest.mark.parametrize("operator", ["=", "!=", "<", "<=", ">", ">="])
@pytest.mark.parametrize("value", [0, 1, 9, 10, 11, 9.5, 10.5])
def test_domain_agrees_with_idle_days(operator, value):
    compare = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[operator]
    domain = idle_days_domain("date", operator, value, NOW)
    for hours in range(0, 24 * 13, 7):
        last = NOW - timedelta(hours=hours)
        assert matches(domain, last) == compare(idle_days(last, NOW), value), (operator, value, hours)


@pytest.mark.parametrize(("operator", "value"), [("in", 3), ("like", 3), ("=", "3"), ("=", True), ("=", float("nan"))])
def test_bad_searches(operator, value):
    with pytest.raises(ValueError):
        idle_days_domain("date", operator, value, NOW)
