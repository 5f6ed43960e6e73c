"""Worlds with a known slip law, as pipeline-history rows (``prepare_pipeline``'s input).

Deal ``i`` is created on a uniform day of the ``days`` days before ``as_of`` (and, with
``after_days``, up to that many days after it), expects to close ``horizon`` days later
(uniform whole days) and is won with its probability ``p_i`` (one of ``probabilities``,
stated as ``100 * p_i``: a calibrated team). It closes on ``expected + slip``, the slip
being uniform on ``won_slip`` for a deal to be won and on ``lost_slip`` (default: the same)
for one to be lost. Rows: one at creation (open, with the expected date, or none for the
``undated_share`` of deals whose date was never filled), one at closing. With
``after_days``, rows dated on or after ``as_of`` are added as well (later closings, deals
created after ``as_of``, expected dates pushed after ``as_of``): what a model standing at
``as_of`` must not see.

The truth is the law itself (``World`` keeps every deal's dates and outcome); nothing here
uses the engine.
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class World:
    """The rows and, per deal, its true dates (day numbers) and outcome."""

    rows: pd.DataFrame
    as_of: int
    created: np.ndarray
    expected: np.ndarray
    close: np.ndarray
    won: np.ndarray
    probability: np.ndarray  # true win probability, 0..1
    dated: np.ndarray  # the expected date is in the rows
    amount: np.ndarray

    @property
    def open_at_as_of(self) -> np.ndarray:
        """Deals existing before ``as_of`` and closing on or after it."""
        return (self.created < self.as_of) & (self.close >= self.as_of)

    def rows_before(self, day: int) -> pd.DataFrame:
        """The rows dated before ``day`` (what was known at its start)."""
        days = (self.rows["date"].to_numpy().astype("datetime64[D]").astype(np.int64)).astype(np.float64)
        return self.rows[days < day].reset_index(drop=True)


def day_of(value: date) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def slip_world(
    count: int,
    as_of: date,
    days: int = 365,
    horizon: tuple[int, int] = (21, 90),
    won_slip: tuple[int, int] = (-20, 60),
    lost_slip: tuple[int, int] | None = None,
    probabilities: tuple[float, ...] = (0.2, 0.5, 0.8),
    undated_share: float = 0.0,
    after_days: int = 0,
    seed: int = 0,
) -> World:
    """A world of ``count`` deals (module docstring); slips and horizons are inclusive ranges."""
    rng = np.random.default_rng(seed)
    origin = day_of(as_of)
    created = origin - days + rng.integers(0, days + after_days, count)
    expected = created + rng.integers(horizon[0], horizon[1] + 1, count)
    probability = rng.choice(np.asarray(probabilities, dtype=np.float64), count)
    won = rng.random(count) < probability
    lost_slip = lost_slip or won_slip
    slip = np.where(
        won,
        rng.integers(won_slip[0], won_slip[1] + 1, count),
        rng.integers(lost_slip[0], lost_slip[1] + 1, count),
    )
    close = np.maximum(expected + slip, created + 1)
    dated = rng.random(count) >= undated_share
    amount = np.round(rng.lognormal(np.log(5_000.0), 0.8, count), 2)
    ids = np.arange(1, count + 1)

    def rows(lead, day, expected_day, outcome) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "lead_id": ids[lead],
                "date": (np.asarray(day, dtype=np.int64)).astype("datetime64[D]"),
                "amount": amount[lead],
                "probability": 100.0 * probability[lead],
                "date_expected": expected_day,
                "won": outcome,
            }
        )

    everyone = np.arange(count)
    stated = expected.astype("datetime64[D]")
    stated[~dated] = np.datetime64("NaT")
    opening = rows(everyone, created, stated, np.full(count, None, dtype=object))
    closing = rows(everyone, close, stated, won.astype(object))
    parts = [opening, closing]
    if after_days:
        # an expected date pushed back after as_of, for deals open then: invisible at as_of
        pushed = everyone[(created < origin) & (close > origin + 3) & dated]
        moved = (expected[pushed] + 45).astype("datetime64[D]")
        parts.append(rows(pushed, np.full(pushed.size, origin + 2), moved, np.full(pushed.size, None, dtype=object)))
    frame = pd.concat(parts, ignore_index=True)
    horizon_end = origin + after_days
    frame = frame[frame["date"].to_numpy().astype("datetime64[D]").astype(np.int64) < max(horizon_end, origin)]
    frame = frame.sort_values(["lead_id", "date"], kind="stable", ignore_index=True)
    return World(frame, origin, created, expected, close, won, probability, dated, amount)


def uniform_tail(low: int, high: int, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Number of whole days of ``[low, high]`` within ``[start, stop)`` (per entry)."""
    first = np.maximum(start, low)
    last = np.minimum(stop - 1, high)
    return np.maximum(last - first + 1, 0).astype(np.float64)
