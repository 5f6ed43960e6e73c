"""Synthetic opportunity histories with a known truth, for the engine tests and the benchmark.

Opportunities are created uniformly over ``days`` days before ``as_of``; each gets a
stated probability (one of ``levels``), an expected close ``created + horizon`` and an
actual close ``expected + slip`` (``horizon`` and ``slip`` uniform whole days). Those
closing before ``as_of`` are closed, won with their *true* probability
(``true_rates[stated]``, default: the stated one — a calibrated team); the others are
still open. Every deal slips by one law, whatever its probability, and outcomes are
independent: the assumptions of the forecast engine's slip model (``forecast_slip``), so on
such data its ranges should hold, and a miscalibrated team (e.g. ``true_rates={80: 0.4}``)
is one the backtest must catch.

Not part of the add-on: tests/engine and bench/bench_forecast_engine.py import it
(bench/bench_forecast_methods.py through the latter).
"""

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd


def synthetic_history(
    count: int,
    as_of: date,
    days: int = 730,
    levels: Sequence[float] = (10, 25, 50, 75, 90),
    true_rates: Mapping[float, float] | None = None,
    horizon_days: tuple[int, int] = (15, 75),
    slip_days: tuple[int, int] = (-10, 30),
    amount_mean: float = 10_000.0,
    amount_sigma: float = 1.0,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(opportunities, stage_history)`` in the input format of ``engine.forecast``.

    ``true_rates`` maps a stated probability (%) to the true win probability (0..1).
    Amounts are log-normal with mean ``amount_mean``. Every row has ``date_created``,
    ``date_expected``, ``level`` (``"<p> %"``), ``user``, ``team``, ``type`` and
    ``stage``; closed rows keep their stated probability (the last one while open).
    """
    rng = np.random.default_rng(seed)
    true_rates = dict(true_rates or {})
    origin = np.datetime64(as_of, "D")
    created = origin - rng.integers(1, days + 1, count)
    stated = rng.choice(np.asarray(levels, dtype=np.float64), count)
    truth = np.array([true_rates.get(level, level / 100.0) for level in stated])
    expected = created + rng.integers(horizon_days[0], horizon_days[1] + 1, count)
    close = np.maximum(expected + rng.integers(slip_days[0], slip_days[1] + 1, count), created + 1)
    is_closed = close < origin
    won = rng.random(count) < truth
    log_mean = np.log(amount_mean) - amount_sigma**2 / 2
    amounts = np.round(rng.lognormal(log_mean, amount_sigma, count), 2)
    middle = created + (close - created) // 2
    qualified = middle < origin
    stage = np.where(qualified, "Qualified", "New").astype(object)
    stage[is_closed & won] = "Won"
    status = np.full(count, None, dtype=object)
    status[is_closed] = won[is_closed]
    opportunities = pd.DataFrame(
        {
            "id": np.arange(1, count + 1),
            "amount": amounts,
            "probability": stated,
            "date_expected": expected,
            "date_created": created,
            "date_closed": np.where(is_closed, close, np.datetime64("NaT")),
            "won": status,
            "stage": stage,
            "level": [f"{level:g} %" for level in stated],
            "type": rng.choice(["new_business", "upsell"], count),
            "user": rng.choice([f"user_{number}" for number in range(1, 6)], count),
            "team": rng.choice(["team_a", "team_b"], count),
        }
    )
    return opportunities, _history(opportunities["id"].to_numpy(), created, middle, close, qualified, is_closed & won)


def _history(ids, created, middle, close, qualified, closed_won) -> pd.DataFrame:
    entered = pd.DataFrame({"lead_id": ids, "stage_from": None, "stage_to": "New", "date": created})
    promoted = pd.DataFrame(
        {"lead_id": ids[qualified], "stage_from": "New", "stage_to": "Qualified", "date": middle[qualified]}
    )
    won = pd.DataFrame(
        {"lead_id": ids[closed_won], "stage_from": "Qualified", "stage_to": "Won", "date": close[closed_won]}
    )
    history = pd.concat([entered, promoted, won], ignore_index=True)
    return history.sort_values(["date", "lead_id"], kind="stable", ignore_index=True)
