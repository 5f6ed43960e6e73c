"""Idleness: whole days since the last interaction, and searching on it."""

import math
from datetime import datetime, timedelta

OPERATORS = ("=", "!=", "<", "<=", ">", ">=")


def idle_days(last_interaction: datetime | None, now: datetime) -> int:
    """Whole days elapsed since ``last_interaction`` (0 when unknown or in the future)."""
    if not last_interaction:
        return 0
    return max((now - last_interaction).days, 0)


def idle_days_domain(field: str, operator: str, value: float, now: datetime) -> list:
    """An Odoo-style domain on the datetime ``field`` equivalent to ``idle_days <operator> value``.

    ``idle_days = floor(elapsed days)``, so ``idle_days >= n`` holds exactly when the last
    interaction is at or before ``now - n days``. Raises ``ValueError`` on an operator or
    value that has no meaning for a number of days.
    """
    if operator not in OPERATORS:
        raise ValueError(f"unsupported operator {operator!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"not a number of days: {value!r}")

    def since(days: float) -> datetime:
        return now - timedelta(days=days)

    if operator == ">":
        return [(field, "<=", since(math.floor(value) + 1))]
    if operator == ">=":
        return [(field, "<=", since(math.ceil(value)))]
    if operator == "<":
        return [(field, ">", since(math.ceil(value)))]
    if operator == "<=":
        return [(field, ">", since(math.floor(value) + 1))]
    if value != int(value):  # idle_days is whole: "= 2.5" matches nothing, "!= 2.5" everything
        return [(0, "=", 1)] if operator == "=" else [(1, "=", 1)]
    day = int(value)
    if operator == "=":
        return ["&", (field, "<=", since(day)), (field, ">", since(day + 1))]
    return ["|", (field, ">", since(day)), (field, "<=", since(day + 1))]
