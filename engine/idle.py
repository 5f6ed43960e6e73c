"""Idleness: whole days since the last interaction, and searching on it."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

OPERATORS = ("=", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class InteractionRange:
    """The last-interaction datetimes an idle-days search matches.

    Inside the range means ``after < last_interaction <= until`` (the lower bound is
    exclusive, the upper one inclusive; ``None``: no bound on that side). With ``outside``
    the search matches every datetime *not* in the range instead. So no bound at all
    matches every datetime, and no bound with ``outside`` matches none.
    """

    after: datetime | None = None
    until: datetime | None = None
    outside: bool = False


def idle_days(last_interaction: datetime | None, now: datetime) -> int:
    """Whole days elapsed since ``last_interaction`` (0 when unknown or in the future)."""
    if not last_interaction:
        return 0
    return max((now - last_interaction).days, 0)


def idle_days_range(operator: str, value: float, now: datetime) -> InteractionRange:
    """The last interactions for which ``idle_days <operator> value`` holds at ``now``.

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
        return InteractionRange(until=since(math.floor(value) + 1))
    if operator == ">=":
        return InteractionRange(until=since(math.ceil(value)))
    if operator == "<":
        return InteractionRange(after=since(math.ceil(value)))
    if operator == "<=":
        return InteractionRange(after=since(math.floor(value) + 1))
    if value != int(value):  # idle_days is whole: "= 2.5" matches nothing, "!= 2.5" everything
        return InteractionRange(outside=operator == "=")
    day = int(value)
    return InteractionRange(after=since(day + 1), until=since(day), outside=operator == "!=")
