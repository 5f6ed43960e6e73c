"""The forecast standing on one day: what the history taught until then, applied to the pipeline.

One code path for today's forecast and for every point of the backtest, so the backtest
scores exactly what the user is shown:

1. ``Learnt.fit(index, day)`` — from the pipeline history dated before ``day`` only:
   calibration of the stated probabilities (``forecast_calibration``), slips and overdue
   decay (``forecast_slip``), and the pipeline not created yet (``forecast_new``).
2. ``standing_forecast(pipeline, learnt, day, boundaries, …)`` — the open pipeline of that
   day (amount, stated probability, expected date, creation date) and the learnt models give,
   per period: the law of what the open pipeline will win ("from open"), the law of what
   opportunities created from ``day`` on will win ("from new"), and their sum.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .forecast_calibration import CalibrationFit, CalibrationPairs, calibration_pairs, fit_honest_calibration
from .forecast_distribution import QUANTILES, Distribution, RevenueForecast, revenue_forecast
from .forecast_history import PipelineIndex
from .forecast_new import NewPipelineModel, expected_revenue, per_period_laws, sum_laws
from .forecast_slip import SlipModel


@dataclass(frozen=True)
class Learnt:
    """What the pipeline history dated before ``day`` teaches (nothing on or after it)."""

    day: int
    pairs: CalibrationPairs
    calibration: CalibrationFit
    slip: SlipModel
    new: NewPipelineModel

    @classmethod
    def fit(cls, index: PipelineIndex, day: int, learn_new: bool = True) -> "Learnt":
        """Fit every model on the history before ``day``; ``learn_new=False`` when the
        history's creation days are not real (no "from new" is learnt from invented ones)."""
        past = index.before(day)  # once for the three models, with its snapshots
        pairs = calibration_pairs(past, day)
        return cls(
            day,
            pairs,
            fit_honest_calibration(pairs.probability, pairs.won, pairs.lead),
            SlipModel.fit(past, day),
            NewPipelineModel.fit(past, day) if learn_new else NewPipelineModel.empty(day),
        )

    def probabilities(self, stated: np.ndarray, calibrated: bool) -> np.ndarray:
        """The stated probabilities, calibrated when asked and when calibration helps."""
        if calibrated and self.calibration.used:
            return self.calibration.calibrator(np.asarray(stated, dtype=np.float64))
        return np.asarray(stated, dtype=np.float64)


@dataclass(frozen=True)
class StandingForecast:
    """Per period ``k``: the open pipeline's revenue law (``open``), the new pipeline's
    (``new_laws``, exact means ``new_mean``), the total's mean and ``QUANTILES`` quantiles
    (``total_mean``, ``total_quantiles[j, k]``, the ``won`` amounts given included), and the
    expected amount the open pipeline wins outside the periods (``beyond``)."""

    open: RevenueForecast
    new_laws: list[Distribution]
    new_mean: np.ndarray
    new_quantiles: np.ndarray
    total_mean: np.ndarray
    total_quantiles: np.ndarray
    beyond: float
    calibrated: bool


def standing_forecast(
    pipeline: pd.DataFrame,
    learnt: Learnt,
    day: int,
    boundaries: np.ndarray,
    method: str = "auto",
    trials: int = 10_000,
    seed: int = 0,
    calibrated: bool = False,
    won: np.ndarray | None = None,
    with_new: bool = True,
) -> StandingForecast:
    """The forecast standing at the start of ``day`` (see the module docstring).

    ``pipeline`` holds the opportunities open on ``day``: ``amount``, ``probability`` (stated,
    %), ``expected`` and ``created`` (day numbers, NaN = empty). ``won`` (per period) is
    revenue already won, added to the total as a certain amount.
    """
    periods = len(boundaries) - 1
    amounts = pipeline["amount"].to_numpy(dtype=np.float64)
    expected = pipeline["expected"].to_numpy(dtype=np.float64)
    created = pipeline["created"].to_numpy(dtype=np.float64)
    probability = learnt.probabilities(pipeline["probability"].to_numpy(), calibrated)
    weights, beyond = learnt.slip.weights(probability, expected, created, day, boundaries)
    opened = revenue_forecast(amounts, weights, method, trials, seed)
    if with_new:
        new_laws = per_period_laws(learnt.new, day, boundaries)
    else:
        new_laws = [_certain(0.0) for _period in range(periods)]
    won = np.zeros(periods) if won is None else np.asarray(won, dtype=np.float64)
    totals = [
        sum_laws(sum_laws(opened.laws[k], new_laws[k]), _certain(won[k])) if periods else None for k in range(periods)
    ]
    new_mean = expected_revenue(learnt.new, day, boundaries) if with_new else np.zeros(periods)
    return StandingForecast(
        open=opened,
        new_laws=new_laws,
        new_mean=new_mean,
        new_quantiles=_quantiles(new_laws),
        total_mean=won + opened.mean + new_mean,
        total_quantiles=_quantiles(totals),
        beyond=float(amounts @ beyond) if amounts.size else 0.0,
        calibrated=bool(calibrated and learnt.calibration.used),
    )


def _certain(amount: float) -> Distribution:
    return Distribution(np.array([amount]), np.array([1.0]), lower=amount, upper=amount)


def _quantiles(laws: list[Distribution]) -> np.ndarray:
    return np.array([[law.quantile(level) for law in laws] for level in QUANTILES]).reshape(len(QUANTILES), -1)
