"""Forecast periods: calendar months ("YYYY-MM") or quarters ("YYYY-Qn") covering a date range.

Dates inside the engine are whole days counted from 1970-01-01 (``day_number``), so that
a period is the half-open day interval ``[start, end + 1)`` and bucketing is one
``numpy.searchsorted`` over the period boundaries.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

GRANULARITIES = ("month", "quarter")
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Period:
    """One forecast bucket: its label and its first and last day (both inclusive)."""

    label: str
    start: date
    end: date


def day_number(day: date) -> int:
    """Whole days from 1970-01-01 to ``day`` (the engine's date unit)."""
    return (day - EPOCH).days


def from_day_number(number: int) -> date:
    """The date ``number`` days after 1970-01-01 (inverse of ``day_number``)."""
    return EPOCH + timedelta(days=int(number))


def _months_per_period(granularity: str) -> int:
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r}: expected one of {', '.join(GRANULARITIES)}")
    return 1 if granularity == "month" else 3


def period_start(day: date, granularity: str) -> date:
    """First day of the month or quarter holding ``day``."""
    months = _months_per_period(granularity)
    return date(day.year, (day.month - 1) // months * months + 1, 1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def add_periods(day: date, count: int, granularity: str) -> date:
    """First day of the period ``count`` periods after (or before, if negative) the one holding ``day``."""
    return _add_months(period_start(day, granularity), count * _months_per_period(granularity))


def period_label(day: date, granularity: str) -> str:
    """``"YYYY-MM"`` for a month, ``"YYYY-Qn"`` for a quarter."""
    if _months_per_period(granularity) == 1:
        return f"{day.year:04d}-{day.month:02d}"
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def periods_between(date_from: date, date_to: date, granularity: str) -> list[Period]:
    """Every whole period from the one holding ``date_from`` to the one holding ``date_to``.

    The range is widened to whole periods: ``2025-01-15 .. 2025-02-10`` by month gives
    ``2025-01`` and ``2025-02``, each from its first to its last day. Raises
    ``ValueError`` when ``date_from`` is after ``date_to`` or the granularity is unknown.
    """
    months = _months_per_period(granularity)
    if date_from > date_to:
        raise ValueError(f"date_from {date_from.isoformat()} is after date_to {date_to.isoformat()}")
    periods = []
    start = period_start(date_from, granularity)
    while start <= date_to:
        following = _add_months(start, months)
        periods.append(Period(period_label(start, granularity), start, following - timedelta(days=1)))
        start = following
    return periods


def period_count(date_from: date, date_to: date, granularity: str) -> int:
    """Number of periods ``periods_between`` would return, without building them."""
    months = _months_per_period(granularity)
    first, last = period_start(date_from, granularity), period_start(date_to, granularity)
    return max(((last.year - first.year) * 12 + last.month - first.month) // months + 1, 0)


def period_boundaries(periods: list[Period]) -> np.ndarray:
    """Day numbers ``[start_0, start_1, …, end_last + 1]``: period ``k`` is ``[b[k], b[k + 1])``."""
    if not periods:
        return np.zeros(1, dtype=np.int64)
    days = [day_number(period.start) for period in periods]
    days.append(day_number(periods[-1].end) + 1)
    return np.asarray(days, dtype=np.int64)


def period_index(days: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
    """Index of the period holding each day number; ``-1`` before the first, ``P`` after the last."""
    return np.searchsorted(boundaries, days, side="right") - 1
