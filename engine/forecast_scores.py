"""Scores of forecasts against what happened: interval coverage and quantile (pinball) loss.

A forecast of one period is a set of quantiles (P10 / P50 / P90); a point forecast (the
weighted pipeline) is scored as if all its quantiles were that one value, which is how a
manager reads it. Lower pinball loss is better; the coverage of the P10-P90 band should be
0.8, and with few points its Wilson interval says how far the observed share may be from
the true one by chance alone.
"""

import math

import numpy as np

WILSON_Z = 1.959963984540054  # two-sided 95 %
PINBALL_LEVELS = (0.1, 0.5, 0.9)


def wilson_interval(successes: int, trials: int, z: float = WILSON_Z) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % by default); ``(0, 1)`` without trials."""
    if trials <= 0:
        return 0.0, 1.0
    share = successes / trials
    factor = z * z / trials
    centre = (share + factor / 2) / (1 + factor)
    half = z / (1 + factor) * math.sqrt(share * (1 - share) / trials + factor / (4 * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def pinball_loss(quantile: np.ndarray, actual: np.ndarray, level: float) -> float:
    """Mean quantile loss of ``quantile`` forecasts at ``level`` against ``actual`` values."""
    quantile = np.asarray(quantile, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if not quantile.size:
        return 0.0
    error = actual - quantile
    return float(np.mean(np.maximum(level * error, (level - 1) * error)))


def quantile_scores(p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, actual: np.ndarray) -> dict:
    """``{"pinball_10", "pinball_50", "pinball_90", "pinball", "coverage", "coverage_low",
    "coverage_high", "mae"}`` of a band forecast (``pinball`` is the mean of the three; ``mae``
    the mean absolute error of the P50)."""
    p10, p50, p90, actual = (np.asarray(values, dtype=np.float64) for values in (p10, p50, p90, actual))
    losses = [
        pinball_loss(values, actual, level) for values, level in zip((p10, p50, p90), PINBALL_LEVELS, strict=True)
    ]
    inside = int(np.count_nonzero((p10 <= actual) & (actual <= p90)))
    low, high = wilson_interval(inside, actual.size)
    return {
        "pinball_10": round(losses[0], 2),
        "pinball_50": round(losses[1], 2),
        "pinball_90": round(losses[2], 2),
        "pinball": round(float(np.mean(losses)), 2),
        "coverage": round(inside / actual.size, 4) if actual.size else 0.0,
        "coverage_low": round(low, 4),
        "coverage_high": round(high, 4),
        "mae": round(float(np.mean(np.abs(p50 - actual))), 2) if actual.size else 0.0,
    }


def point_scores(point: np.ndarray, actual: np.ndarray) -> dict:
    """The pinball losses and MAE of ``quantile_scores`` for a point forecast (its three
    quantiles are the point itself; a point has no band, so no coverage)."""
    scores = quantile_scores(point, point, point, actual)
    return {key: value for key, value in scores.items() if not key.startswith("coverage")}
