"""Backtest: forecast past periods from the pipeline as it stood then, and score the ranges.

For each of the ``points`` whole periods before the one holding the as-of date, at the
period's first day ``d``:

* the pipeline is rebuilt: an opportunity was open at ``d`` when it was created before
  ``d`` (an empty creation date counts as "long before") and is still open or closed on
  or after ``d``; closed rows without a closing date are left out;
* its probability then is the one of its last stage change before ``d`` when the stage
  history carries probabilities, else its current (or, for a closed row, last open)
  probability; its expected date is the current one. Odoo keeps neither old expected
  dates nor, by default, old probabilities, so a salesperson's later edits leak into the
  past: this is the limitation of every backtest built from the current records;
* slips and the calibration are learnt only from opportunities closed before ``d``
  (no look-ahead), and the forecast of the period is made exactly as the live one;
* ``actual`` is what that pipeline won in the period (what the forecast predicts);
  ``actual_total`` adds the opportunities created and won within the period.

Scores: ``coverage`` — the fraction of points whose actual lies within [P10, P90]
(about 0.8 when the ranges are right); ``mae_p50``, ``mae_mean`` and ``mae_weighted`` —
mean absolute error of the P50, of the mean and of the plain weighted pipeline (the
opportunities expected in the period, amount x stated probability).
"""

from datetime import date

import numpy as np
import pandas as pd

from .forecast_data import OPEN, WON
from .forecast_distribution import due_days, historical_slips, pipeline_weights, revenue_forecast
from .forecast_periods import add_periods, day_number, periods_between
from .forecast_stats import IDENTITY, closed_outcomes, fit_calibration


def backtest(
    opportunities: pd.DataFrame,
    history: pd.DataFrame,
    as_of: date,
    granularity: str,
    points: int,
    method: str = "auto",
    trials: int = 10_000,
    seed: int = 0,
    calibrated: bool = False,
) -> dict:
    """Backtest over the ``points`` periods before ``as_of`` (normalised frames, see the module docstring).

    Returns ``{"points": [{"period", "as_of", "open_count", "weighted", "mean", "p10",
    "p50", "p90", "actual", "actual_total", "inside"}], "count", "coverage",
    "mae_p50", "mae_mean", "mae_weighted", "calibrated", "method"}``.
    """
    if points <= 0:
        return _summary([], calibrated, method)
    first = add_periods(as_of, -points, granularity)
    last = add_periods(as_of, 0, granularity)
    periods = [period for period in periods_between(first, last, granularity) if period.start < last]
    status = opportunities["status"].to_numpy()
    closed = opportunities["closed"].to_numpy()
    created = opportunities["created"].to_numpy()
    amount = opportunities["amount"].to_numpy()
    rows = []
    for period in periods:
        start, stop = day_number(period.start), day_number(period.end) + 1
        open_then = (np.isnan(created) | (created < start)) & ((status == OPEN) | (closed >= start))
        won_in_period = (status == WON) & (closed >= start) & (closed < stop)
        pipeline = opportunities[open_then]
        probability = _probability_at(pipeline, history, start)
        calibrator = fit_calibration(*closed_outcomes(opportunities, before=start)) if calibrated else IDENTITY
        known = closed < start
        slips = historical_slips(opportunities["expected"].to_numpy(), np.where(known, closed, np.nan), status == WON)
        boundaries = np.array([start, stop], dtype=np.int64)
        expected = pipeline["expected"].to_numpy()
        weights = pipeline_weights(calibrator(probability), expected, start, slips, boundaries)
        forecast = revenue_forecast(pipeline["amount"].to_numpy(), weights, method, trials, seed)
        due = due_days(expected, start)
        weighted = float(pipeline["amount"].to_numpy() @ (probability / 100.0 * ((due >= start) & (due < stop))))
        p10, p50, p90 = (float(value) for value in forecast.quantiles[:, 0])
        actual = float(amount[open_then & won_in_period].sum())
        rows.append(
            {
                "period": period.label,
                "as_of": period.start.isoformat(),
                "open_count": len(pipeline),
                "weighted": weighted,
                "mean": float(forecast.mean[0]),
                "p10": p10,
                "p50": p50,
                "p90": p90,
                "actual": actual,
                "actual_total": float(amount[won_in_period].sum()),
                "inside": bool(p10 <= actual <= p90),
                "method": forecast.method,
            }
        )
    return _summary(rows, calibrated, method)


def _probability_at(pipeline: pd.DataFrame, history: pd.DataFrame, day: int) -> np.ndarray:
    """Probability of each row on ``day``: its last stage change before then, else its own."""
    current = pipeline["probability"].to_numpy()
    known = history[(history["day"] < day) & history["probability"].notna()]
    if known.empty or pipeline.empty:
        return current
    latest = known.sort_values("day", kind="stable").groupby("lead_id", sort=False)["probability"].last()
    then = pipeline["id"].map(latest).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(then), current, then)


def _summary(rows: list[dict], calibrated: bool, method: str) -> dict:
    def mean_error(key: str) -> float:
        return round(float(np.mean([abs(row[key] - row["actual"]) for row in rows])), 2) if rows else 0.0

    rounded = [
        {key: round(value, 2) if isinstance(value, float) else value for key, value in row.items()} for row in rows
    ]
    return {
        "points": [
            {key: value + 0.0 if isinstance(value, float) else value for key, value in row.items()} for row in rounded
        ],
        "count": len(rows),
        "coverage": round(float(np.mean([row["inside"] for row in rows])), 4) if rows else 0.0,
        "mae_p50": mean_error("p50"),
        "mae_mean": mean_error("mean"),
        "mae_weighted": mean_error("weighted"),
        "calibrated": calibrated,
        "method": method,
    }
