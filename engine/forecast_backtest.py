"""Backtest: the forecast rebuilt standing on past dates, from the pipeline as it stood then.

For each of the ``points`` periods before the one holding ``as_of`` (the target ``T``) and
each horizon ``h`` of ``HORIZONS`` (in periods), the forecast stands at the start ``S`` of
the period ``h - 1`` periods before ``T`` (``h = 1``: the start of ``T`` itself):

- the pipeline is the one of ``S`` from the pipeline history (``forecast_history``): amount,
  stated and predictive probability, expected date and state *as they stood*, never
  today's values;
- calibration, slips and the pipeline not yet created are learnt from the history dated
  before ``S`` only (``forecast_model.Learnt``), exactly as today's forecast learns from
  the history before today (``forecast_model.standing_forecast`` is the same code);
- the method is the one asked, the analytic laws for ``auto`` (Monte Carlo at every point
  would cost minutes; the analytic laws' error is estimated, ``forecast_distribution``);
- the actual is everything won in ``T`` (final amounts of the opportunities whose final
  closing, won, falls in ``T``); ``actual`` alone is the part won by opportunities already
  open at ``S``.

Forecasters scored on the same points (``forecast_scores``): ours (the total: from open +
from new, P10 / P50 / P90) raw and calibrated, and two baselines a manager knows — the
weighted pipeline of the stated probabilities and that of Odoo's predictive probability
(``automated_probability``), each the sum of amount x probability of the opportunities
expected in ``T`` (overdue ones on ``S``). Pinball losses at 0.1 / 0.5 / 0.9 (lower is
better), MAE of the median, and for ours the P10-P90 coverage with its Wilson 95 %
interval (0.8 is right). Points standing before the history begins are left out.
"""

from datetime import date

import numpy as np

from .forecast_data import OPEN, WON
from .forecast_distribution import due_days
from .forecast_history import PipelineIndex
from .forecast_model import Learnt, StandingForecast, standing_forecast
from .forecast_periods import Period, add_periods, day_number, periods_between
from .forecast_scores import point_scores, quantile_scores

HORIZONS = (1, 3, 6)
FORECASTERS = ("ours", "ours_calibrated", "weighted", "predictive")


def backtest(
    index: PipelineIndex,
    as_of: date,
    granularity: str,
    points: int,
    method: str = "auto",
    trials: int = 10_000,
    seed: int = 0,
    calibrated: bool = False,
    horizons: tuple[int, ...] = HORIZONS,
    learn_new: bool = True,
) -> dict:
    """Backtest over the ``points`` periods before ``as_of`` at ``horizons`` (module docstring).

    Returns ``{"points", "count", "coverage", "mae_p50", "mae_mean", "mae_weighted",
    "calibrated", "method", "horizons"}``: the first seven describe horizon 1 as the
    forecast is shown (calibrated when asked); ``points`` are ``{"period", "as_of",
    "open_count", "weighted", "predictive", "mean", "p10", "p50", "p90", "open_mean",
    "new_mean", "actual", "actual_total", "inside", "method"}``; ``horizons`` is
    ``[{"horizon", "count", "points", "scores": {forecaster: scores}, "best"}]``.
    ``learn_new``: as ``forecast_model.Learnt.fit``.
    """
    targets = _targets(as_of, granularity, points)
    stand = _Standing(index, method, trials, seed, learn_new)
    per_horizon = []
    for horizon in horizons:
        rows = []
        for target in targets:
            start = add_periods(target.start, -(horizon - 1), granularity)
            if index.lead_count and day_number(start) > index.origin:
                rows.append(stand.point(target, start, calibrated))
        per_horizon.append({"horizon": horizon, "count": len(rows), "points": rows, **_scores(rows)})
    first = per_horizon[0] if per_horizon else {"points": [], "count": 0}
    return {
        **_summary(first["points"]),
        "calibrated": calibrated,
        "method": method,
        "horizons": [{**row, "points": _rounded(row["points"])} for row in per_horizon],
    }


def _targets(as_of: date, granularity: str, points: int) -> list[Period]:
    if points <= 0:
        return []
    last = add_periods(as_of, 0, granularity)
    first = add_periods(as_of, -points, granularity)
    return [period for period in periods_between(first, last, granularity) if period.start < last]


class _Standing:
    """The history, what was learnt at each standing day (fitted once per day) and the
    final outcomes (the actuals)."""

    def __init__(self, index: PipelineIndex, method: str, trials: int, seed: int, learn_new: bool):
        # auto stands on the analytic laws: Monte Carlo at every point would take minutes
        self.method = "analytic" if method == "auto" else method
        self.index, self.trials, self.seed, self.learn_new = index, trials, seed, learn_new
        self.learnt: dict[int, Learnt] = {}
        outcomes = index.outcomes()  # one row per lead, in the index's lead order
        self.created = outcomes["created"].to_numpy()
        self.won = outcomes["status"].to_numpy() == WON
        self.closed = outcomes["closed"].to_numpy()
        self.amount = outcomes["amount"].to_numpy()

    def learnt_at(self, day: int) -> Learnt:
        if day not in self.learnt:
            self.learnt[day] = Learnt.fit(self.index, day, self.learn_new)
        return self.learnt[day]

    def point(self, target: Period, start: date, calibrated: bool) -> dict:
        day = day_number(start)
        rows = self.index.rows_at(day)
        status = self.index.frame["status"].to_numpy()
        open_then = (rows >= 0) & (status[np.maximum(rows, 0)] == OPEN)
        pipeline = self.index.frame.iloc[rows[open_then]].reset_index(drop=True)
        pipeline["created"] = self.created[open_then]
        learnt = self.learnt_at(day)
        boundaries = np.array([day_number(target.start), day_number(target.end) + 1], dtype=np.int64)
        raw = self._forecast(pipeline, learnt, day, boundaries, calibrated=False)
        tuned = self._forecast(pipeline, learnt, day, boundaries, calibrated=True) if learnt.calibration.used else raw
        shown = tuned if calibrated else raw
        in_target = self.won & (self.closed >= boundaries[0]) & (self.closed < boundaries[1])
        from_open = in_target & open_then
        due = due_days(pipeline["expected"].to_numpy(), day)
        expected_in = (due >= boundaries[0]) & (due < boundaries[1])
        amounts = pipeline["amount"].to_numpy()
        automated = pipeline["automated"].to_numpy()
        p10, p50, p90 = (float(value) for value in shown.total_quantiles[:, 0])
        actual_total = float(self.amount[in_target].sum())
        return {
            "period": target.label,
            "as_of": start.isoformat(),
            "open_count": len(pipeline),
            "weighted": float(amounts @ (pipeline["probability"].to_numpy() / 100.0 * expected_in)),
            "predictive": float(amounts @ (np.nan_to_num(automated) / 100.0 * expected_in)),
            "predictive_known": bool(not np.isnan(automated).all()) if len(pipeline) else True,
            "mean": float(shown.total_mean[0]),
            "p10": p10,
            "p50": p50,
            "p90": p90,
            "open_mean": float(shown.open.mean[0]),
            "new_mean": float(shown.new_mean[0]),
            "raw": _band(raw),
            "tuned": _band(tuned),
            "actual": float(self.amount[from_open].sum()),
            "actual_total": actual_total,
            "inside": bool(p10 <= actual_total <= p90),
            "method": shown.open.method,
        }

    def _forecast(self, pipeline, learnt, day, boundaries, calibrated) -> StandingForecast:
        return standing_forecast(
            pipeline, learnt, day, boundaries, self.method, self.trials, self.seed, calibrated=calibrated
        )


def _band(forecast: StandingForecast) -> tuple[float, float, float]:
    return tuple(float(value) for value in forecast.total_quantiles[:, 0])


def _scores(rows: list[dict]) -> dict:
    """Scores of each forecaster on the points ``rows``, and the best one (lowest mean pinball)."""
    actual = np.array([row["actual_total"] for row in rows])
    raw = np.array([row["raw"] for row in rows]).reshape(-1, 3)
    tuned = np.array([row["tuned"] for row in rows]).reshape(-1, 3)
    scores = {
        "ours": quantile_scores(raw[:, 0], raw[:, 1], raw[:, 2], actual),
        "ours_calibrated": quantile_scores(tuned[:, 0], tuned[:, 1], tuned[:, 2], actual),
        "weighted": point_scores(np.array([row["weighted"] for row in rows]), actual),
    }
    if all(row["predictive_known"] for row in rows):
        scores["predictive"] = point_scores(np.array([row["predictive"] for row in rows]), actual)
    best = min(scores, key=lambda key: (scores[key]["pinball"], FORECASTERS.index(key))) if rows else None
    return {"scores": scores, "best": best}


def _summary(rows: list[dict]) -> dict:
    def mean_error(key: str) -> float:
        return round(float(np.mean([abs(row[key] - row["actual_total"]) for row in rows])), 2) if rows else 0.0

    return {
        "points": [_rounded(row) for row in rows],
        "count": len(rows),
        "coverage": round(float(np.mean([row["inside"] for row in rows])), 4) if rows else 0.0,
        "mae_p50": mean_error("p50"),
        "mae_mean": mean_error("mean"),
        "mae_weighted": mean_error("weighted"),
    }


def _rounded(value: object) -> object:
    """Money to cents, internal bands and flags dropped: the JSON-ready form of a point."""
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items() if key not in ("raw", "tuned", "predictive_known")}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    if isinstance(value, float):
        return round(value, 2) + 0.0
    return value
