"""Exact revenue laws and the check of a law's stated error, for the engine tests.

``lattice_law`` convolves whole amounts by a plain loop (the truth, independent of the
engine's grid); ``real_cdf_error`` measures how far an engine law really is from it, in
the terms of ``engine.forecast_distribution.Distribution``; ``assert_within_error`` checks
that a law's stated error covers the true law at its quantiles. Not code the add-on runs.
"""

import numpy as np

LEVELS = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


def lattice_law(units, weights) -> np.ndarray:
    """Exact law of ``sum units[i] * Bernoulli(weights[i])`` for whole ``units``: P(sum = 0, 1, 2, ...)."""
    pmf = np.zeros(int(np.sum(units)) + 1)
    pmf[0], top = 1.0, 0
    for unit, weight in zip(np.asarray(units, dtype=int).tolist(), np.asarray(weights).tolist(), strict=True):
        head = pmf[: top + 1].copy()
        pmf[: top + 1] *= 1.0 - weight
        pmf[unit : unit + top + 1] += weight * head
        top += unit
    return pmf


def real_cdf_error(law, pmf: np.ndarray, tolerance: float, scale: float = 1.0) -> float:
    """Smallest ``e`` with F(x + d) >= G(x) - e and F(x - d) <= G(x) + e for every x (F: the lattice law ``pmf``
    of amounts ``scale * 0, 1, 2, ...``, G: ``law``, d: ``tolerance``)."""
    truth = np.cumsum(pmf)
    approx = np.cumsum(law.pmf)
    values = np.round(law.values / scale, 7)
    slack = tolerance / scale + 1e-9

    def true_cdf(points):
        index = np.floor(points + 1e-9).astype(np.int64)
        return np.where(index < 0, 0.0, truth[np.clip(index, 0, truth.size - 1)])

    above = np.max(approx - true_cdf(values + slack))  # G(x) - F(x + d) at the points where G rises
    points = np.concatenate([np.flatnonzero(pmf) + slack, values - 1e-7])  # where F(x - d) rises, G's left limits
    approx_at = np.concatenate([[0.0], approx])[np.searchsorted(values, points, side="right")]
    return max(float(above), float(np.max(true_cdf(points - slack) - approx_at)), 0.0)


def assert_within_error(law, values: np.ndarray, pmf: np.ndarray, slack: float = 1e-9, levels=LEVELS) -> None:
    """At each quantile ``x`` of ``levels``, the true law ``(values, pmf)`` (sorted values) has
    F(x + d) >= level - e and P(X < x - d) <= level + e, for the stated ``d = amount_error``
    and ``e = cdf_error`` (``slack``: the oracle's own error, e.g. its sampling error)."""
    for level in levels:
        amount = law.quantile(level)
        at_most = pmf[values <= amount + law.amount_error + 1e-6].sum()
        below = pmf[values < amount - law.amount_error - 1e-6].sum()
        assert at_most >= level - law.cdf_error - slack, (level, amount, at_most)
        assert below <= level + law.cdf_error + slack, (level, amount, below)
