"""Calibration of stated probabilities learnt from the pipeline history, honest and out of sample.

The question calibration answers is "of the opportunities that stood open at *p* %, how
many were won?". It is asked of the pipeline history (``forecast_history``) at snapshot
days — by default the first day of every month — rather than of the closed opportunities
at their last open probability: a lost opportunity's last open probability is whatever
it had when it was dropped, a won one's is its highest, so "last open probability versus
outcome" says 0 % for every stage but the last even on a team whose stated probabilities
are exactly right. A snapshot asks the question the forecast asks (which open deals will
be won) about the pipeline as it really stood, each open opportunity at the probability
it had that day.

Method:

1. ``calibration_pairs`` — at each snapshot day ``s`` before ``as_of``, every opportunity
   open at the start of ``s`` whose outcome is known at ``as_of`` (closed before
   ``as_of``, as the history cut at ``as_of`` shows it) gives one pair *(stated
   probability at s, won)*. Nothing dated on or after ``as_of`` is read, so the backtest
   can stand at past dates. The pairs are not weighted: an opportunity that stays open
   longer gives more pairs, exactly as it weighs on more forecasts; down-weighting it by
   its number of pairs would use its closing date (the future at ``s``) and bias the rate
   towards quick outcomes.
2. ``fit_honest_calibration`` — with fewer than ``min_closed`` distinct closed
   opportunities (among those the pairs come from) nothing is fitted: identity. Otherwise
   two curves, both keeping 0 % and 100 % fixed (a lost or won deal stays so) and
   non-decreasing, are scored by K-fold cross-validation with folds grouped by
   opportunity (all pairs of one opportunity share its outcome, so they are left out
   together), and the one with the lower cross-validated Brier score is kept:

   * isotonic regression of outcome on stated probability, each stated value shrunk
     towards itself by ``prior_weight`` pseudo-*opportunities* (a sparse value is not
     pulled to 0 or 100 % by a handful of deals) — follows any monotone shape, but noisy
     on small histories;
   * logistic recalibration, ``logit(c) = a + b logit(p)`` with ``b >= 0`` and a weak
     prior at the identity — two parameters for the usual faults (optimistic,
     pessimistic, over- or under-confident), far less noise.

   The kept curve is used only when it beats the stated probabilities convincingly: the
   mean cross-validated gain in squared error per pair must exceed ``margin`` (2)
   standard errors, the standard error taken over opportunities (cluster-robust standard
   error of a paired difference, one cluster per opportunity). Out of sample, a fitted
   curve is worse than an already calibrated team's own probabilities (it adds noise), so
   such a team keeps its probabilities; a team that is clearly off gets the curve.
   Choosing the better of two curves makes its cross-validated score slightly
   optimistic; the margin absorbs that.
3. ``calibration_summary`` — the JSON-ready report of the forecast result: both Brier
   scores (stated, and calibrated scored out of sample), the reliability table of the
   pairs, the curve applied, and why it is applied or not.

Known limit: a snapshot close to ``as_of`` only counts the opportunities that closed
quickly after it (the others are still open); where quick outcomes are mostly losses,
those last snapshots lean pessimistic. Snapshots far enough in the past dominate once the
history spans more than a typical sales cycle.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from .forecast_data import OPEN, WON
from .forecast_history import PipelineIndex
from .forecast_stats import IDENTITY, Calibrator, _percent, brier_score, group_keys, plain

PRIOR_WEIGHT = 2.0  # pseudo-opportunities at the stated value in the isotonic curve
MIN_CLOSED = 200  # distinct closed opportunities below which no calibration is fitted
FOLDS = 5  # cross-validation folds, grouped by opportunity
MARGIN = 2.0  # standard errors by which the cross-validated gain must exceed zero
LOGISTIC_PENALTY = 1.0  # precision of the logistic curve's prior on (intercept, slope) around the identity (0, 1)
FOLD_SEED = 20_250_101  # fixed shuffle of opportunities into folds: the same history gives the same folds


@dataclass(frozen=True)
class CalibrationPairs:
    """Snapshot pairs: for pair ``i``, an opportunity (``lead``, its code in the
    ``PipelineIndex``) stood open on ``day`` at ``probability`` % with ``level`` and
    was finally won (``won``) or lost."""

    probability: np.ndarray
    won: np.ndarray
    lead: np.ndarray
    day: np.ndarray
    level: np.ndarray

    def __len__(self) -> int:
        return int(self.probability.size)


@dataclass(frozen=True)
class CalibrationFit:
    """The calibration to apply and how it was decided.

    ``calibrator`` maps stated % to calibrated % (identity unless ``used``); ``fitted`` is
    the curve fitted on every pair (identity when ``reason`` is ``"too_few_closed"``),
    ``method`` its kind (``"isotonic"``, ``"logistic"`` or ``"identity"``), applied only
    when ``used``. ``closed`` counts the distinct closed opportunities of the pairs.
    ``brier_stated`` scores the stated probabilities on the pairs, ``brier_cv`` the fitted
    curve out of sample (cross-validated; the stated score when nothing was fitted).
    ``reason``: ``"too_few_closed"``, ``"no_improvement"`` or ``"improves"``.
    """

    calibrator: Calibrator
    fitted: Calibrator
    method: str
    closed: int
    pairs: int
    min_closed: int
    brier_stated: float
    brier_cv: float
    used: bool
    reason: str

    @property
    def brier_calibrated(self) -> float:
        """Out-of-sample Brier score of the probabilities the forecast uses."""
        return self.brier_cv if self.used else self.brier_stated


def monthly_snapshot_days(index: PipelineIndex, as_of: float) -> np.ndarray:
    """Day numbers of the first day of every month from the first history day to before ``as_of``."""
    if not index.days.size or np.isnan(index.days).all():
        return np.zeros(0)
    first = np.datetime64(int(np.nanmin(index.days)), "D")
    last = np.datetime64(int(np.ceil(as_of)) - 1, "D")
    months = np.arange(first.astype("datetime64[M]"), last.astype("datetime64[M]") + 1)
    days = months.astype("datetime64[D]").astype(np.int64).astype(np.float64)
    return days[(days >= np.nanmin(index.days)) & (days < as_of)]


def calibration_pairs(index: PipelineIndex, as_of: float, snapshot_days: np.ndarray | None = None) -> CalibrationPairs:
    """Pairs (stated probability, won, lead) of the opportunities open at each snapshot day
    before ``as_of`` whose outcome is known at ``as_of``.

    A lead's outcome is its state at the start of ``as_of`` (``index.rows_at(as_of)``): the
    final outcome of the history cut at ``as_of``, so a closing dated on or after
    ``as_of`` — and a reopening after it — are not seen. ``snapshot_days`` defaults to the
    first day of every month (``monthly_snapshot_days``); days on or after ``as_of``
    are dropped.
    """
    days = monthly_snapshot_days(index, as_of) if snapshot_days is None else np.asarray(snapshot_days, np.float64)
    days = np.unique(days[days < as_of])
    frame = index.frame
    status = frame["status"].to_numpy()
    at_end = index.rows_at(as_of)
    final = np.where(at_end >= 0, status[np.maximum(at_end, 0)], OPEN)
    known = final != OPEN
    rows_parts, lead_parts, day_parts = [], [], []
    for day in days:
        rows = index.rows_at(day)
        open_leads = np.flatnonzero((rows >= 0) & known)
        open_leads = open_leads[status[rows[open_leads]] == OPEN]
        rows_parts.append(rows[open_leads])
        lead_parts.append(open_leads)
        day_parts.append(np.full(open_leads.size, day))
    rows = np.concatenate(rows_parts) if rows_parts else np.zeros(0, dtype=np.int64)
    leads = np.concatenate(lead_parts) if lead_parts else np.zeros(0, dtype=np.int64)
    return CalibrationPairs(
        probability=frame["probability"].to_numpy(dtype=np.float64)[rows],
        won=final[leads] == WON,
        lead=leads.astype(np.int64),
        day=np.concatenate(day_parts) if day_parts else np.zeros(0),
        level=frame["level"].to_numpy()[rows],
    )


def fit_isotonic(probabilities: np.ndarray, won: np.ndarray, prior_weight: float) -> Calibrator:
    """Isotonic fit of outcome on stated probability, 0 and 100 % fixed.

    Each stated value strictly between 0 and 100 % gets its observed win rate shrunk
    towards itself by ``prior_weight`` pseudo-pairs, then the rates are made
    non-decreasing (weighted by counts); the curve runs linearly from (0, 0) through the
    fitted points to (100, 100).
    """
    knots, counts, wins = _counts_inside(probabilities, won)
    if not knots.size:
        return IDENTITY
    rates = (wins + prior_weight * knots / 100.0) / (counts + prior_weight)
    fitted = optimize.isotonic_regression(rates, weights=counts + prior_weight, increasing=True).x
    return Calibrator(np.r_[0.0, knots, 100.0], np.r_[0.0, 100.0 * np.clip(fitted, 0.0, 1.0), 100.0])


def fit_logistic(probabilities: np.ndarray, won: np.ndarray, penalty: float = LOGISTIC_PENALTY) -> Calibrator:
    """Logistic recalibration ``logit(c) = a + b logit(p)``, ``b >= 0``, by penalised maximum likelihood.

    Two parameters for the usual faults of a team (optimistic, pessimistic, over- or
    under-confident), with far less noise than a free curve. ``penalty`` is a Gaussian
    prior on ``(a, b)`` centred on the identity ``(0, 1)`` (precision ``penalty``): it
    keeps the fit finite when every deal is won or lost and is negligible otherwise.
    0 and 100 % stay fixed by construction. Tabulated every 1 % and at each stated value.
    """
    knots, counts, wins = _counts_inside(probabilities, won)
    if not knots.size:
        return IDENTITY
    logits = np.log(knots / (100.0 - knots))
    intercept, slope = _logistic_parameters(np.c_[np.ones_like(logits), logits], counts, wins, penalty)
    if slope < 0:  # the likelihood is concave: the best non-decreasing curve has slope 0
        (intercept,) = _logistic_parameters(np.ones((knots.size, 1)), counts, wins, penalty)
        slope = 0.0
    grid = np.union1d(np.arange(1.0, 100.0), knots)
    values = 100.0 * _sigmoid(intercept + slope * np.log(grid / (100.0 - grid)))
    return Calibrator(np.r_[0.0, grid, 100.0], np.r_[0.0, values, 100.0])


def _logistic_parameters(design: np.ndarray, counts: np.ndarray, wins: np.ndarray, penalty: float) -> np.ndarray:
    """Newton's method with step halving on the penalised binomial log-likelihood."""
    prior = np.array([0.0, 1.0])[: design.shape[1]]

    def loss(parameters: np.ndarray) -> float:
        scores = design @ parameters
        likelihood = np.sum(wins * np.logaddexp(0.0, -scores) + (counts - wins) * np.logaddexp(0.0, scores))
        return float(likelihood + penalty / 2.0 * np.sum((parameters - prior) ** 2))

    parameters, value = prior.copy(), loss(prior)
    for _iteration in range(100):
        fitted = _sigmoid(design @ parameters)
        gradient = design.T @ (counts * fitted - wins) + penalty * (parameters - prior)
        hessian = design.T @ (design * (counts * fitted * (1.0 - fitted))[:, None]) + penalty * np.eye(prior.size)
        step = np.linalg.solve(hessian, gradient)
        scale, candidate = 1.0, parameters - step
        while loss(candidate) > value and scale > 1e-9:
            scale /= 2.0
            candidate = parameters - scale * step
        improvement = value - loss(candidate)
        if improvement < 0:
            break
        parameters, value = candidate, value - improvement
        if improvement <= 1e-12 * (1.0 + value):
            break
    return parameters


def _sigmoid(scores: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -scores))


def _counts_inside(probabilities: np.ndarray, won: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct stated values strictly between 0 and 100 %, with their pair and win counts."""
    inside = (probabilities > 0) & (probabilities < 100)
    knots, inverse = np.unique(probabilities[inside], return_inverse=True)
    counts = np.bincount(inverse, minlength=knots.size).astype(np.float64)
    wins = np.bincount(inverse, weights=won[inside].astype(np.float64), minlength=knots.size)
    return knots, counts, wins


def fold_of_leads(leads: np.ndarray, folds: int) -> np.ndarray:
    """Fold number of each pair: distinct leads shuffled with a fixed seed, then dealt round-robin."""
    distinct, inverse = np.unique(leads, return_inverse=True)
    order = np.random.default_rng(FOLD_SEED).permutation(distinct.size)
    fold = np.empty(distinct.size, dtype=np.int64)
    fold[order] = np.arange(distinct.size) % folds
    return fold[inverse]


def fit_honest_calibration(
    probabilities: np.ndarray,
    won: np.ndarray,
    leads: np.ndarray,
    min_closed: int = MIN_CLOSED,
    folds: int = FOLDS,
    margin: float = MARGIN,
    prior_weight: float = PRIOR_WEIGHT,
) -> CalibrationFit:
    """The calibration of ``calibration_pairs`` and whether to use it (see the module docstring).

    ``leads`` groups the pairs by opportunity. ``prior_weight`` counts pseudo-opportunities
    at the stated value for the isotonic curve, turned into pairs at the mean number of
    pairs per opportunity. Folds are deterministic (``fold_of_leads``).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    won = np.asarray(won, dtype=bool)
    distinct, lead_codes = np.unique(np.asarray(leads), return_inverse=True)
    closed = int(distinct.size)
    brier_stated = brier_score(probabilities, won)

    def decided(fitted: Calibrator, method: str, brier_cv: float, reason: str) -> CalibrationFit:
        used = reason == "improves"
        return CalibrationFit(
            calibrator=fitted if used else IDENTITY,
            fitted=fitted,
            method=method,
            closed=closed,
            pairs=int(probabilities.size),
            min_closed=min_closed,
            brier_stated=brier_stated,
            brier_cv=brier_cv,
            used=used,
            reason=reason,
        )

    if closed < max(min_closed, 2):
        return decided(IDENTITY, "identity", brier_stated, "too_few_closed")
    pseudo_pairs = prior_weight * probabilities.size / closed
    methods = {
        "isotonic": lambda chosen: fit_isotonic(probabilities[chosen], won[chosen], pseudo_pairs),
        "logistic": lambda chosen: fit_logistic(probabilities[chosen], won[chosen]),
    }
    fold = fold_of_leads(lead_codes, min(folds, closed))
    predictions = {}
    for method, fit in methods.items():
        predicted = np.empty_like(probabilities)
        for number in range(int(fold.max()) + 1):
            held = fold == number
            predicted[held] = fit(~held)(probabilities[held])
        predictions[method] = predicted
    method = min(predictions, key=lambda name: brier_score(predictions[name], won))
    predicted = predictions[method]
    outcome = won.astype(np.float64)
    gain = (probabilities / 100.0 - outcome) ** 2 - (predicted / 100.0 - outcome) ** 2
    mean_gain = float(gain.mean())
    # cluster-robust standard error of the mean gain: one cluster per opportunity
    per_lead = np.bincount(lead_codes, weights=gain - mean_gain)
    standard_error = float(np.sqrt(closed / (closed - 1) * np.sum(per_lead**2))) / probabilities.size
    improves = mean_gain > 0 and mean_gain > margin * standard_error
    fitted = methods[method](np.ones(probabilities.size, dtype=bool))
    return decided(fitted, method, brier_score(predicted, won), "improves" if improves else "no_improvement")


def calibration_levels(pairs: CalibrationPairs, calibrator: Calibrator = IDENTITY) -> list[dict]:
    """Reliability table of the pairs: per level (by stated probability when no pair has
    one), ``count`` pairs, ``leads``, ``won`` pairs, mean ``stated``, ``observed`` and
    ``calibrated`` %; sorted by mean stated probability."""
    if not len(pairs):
        return []
    levels = pairs.level
    codes, uniques = group_keys(levels if pd.notna(levels).any() else pairs.probability)
    sizes = np.bincount(codes, minlength=len(uniques))
    wins = np.bincount(codes, weights=pairs.won, minlength=len(uniques))
    stated = np.bincount(codes, weights=pairs.probability, minlength=len(uniques)) / sizes
    calibrated = np.bincount(codes, weights=calibrator(pairs.probability), minlength=len(uniques)) / sizes
    lead_codes, lead_keys = pd.factorize(pairs.lead)
    # distinct (level, lead) pairs as one integer each: a 1-d unique, far cheaper than unique rows
    level_of_pair = np.unique(codes.astype(np.int64) * max(len(lead_keys), 1) + lead_codes) // max(len(lead_keys), 1)
    leads = np.bincount(level_of_pair, minlength=len(uniques))
    rows = [
        {
            "level": plain(key),
            "count": int(size),
            "leads": int(lead_count),
            "won": int(won_count),
            "stated": round(float(mean), 2),
            "observed": _percent(won_count, size),
            "calibrated": round(float(value), 2),
        }
        for key, size, lead_count, won_count, mean, value in zip(
            uniques, sizes, leads, wins, stated, calibrated, strict=True
        )
    ]
    return sorted(rows, key=lambda row: (row["stated"], str(row["level"])))


def calibration_summary(fit: CalibrationFit, pairs: CalibrationPairs) -> dict:
    """The calibration part of the forecast result, plain JSON data.

    ``brier`` scores the stated probabilities on the pairs; ``brier_cv`` the fitted curve
    out of sample; ``brier_calibrated`` the probabilities the forecast uses (``brier_cv``
    when ``used``, else ``brier``); ``count`` and ``pairs`` the number of pairs,
    ``closed`` of distinct closed opportunities; ``used``, ``reason`` and ``method`` as in
    ``CalibrationFit``; ``levels`` the reliability table;
    ``curve`` the points of the calibration applied (empty: identity).
    """
    return {
        "brier": round(fit.brier_stated, 6),
        "brier_calibrated": round(fit.brier_calibrated, 6),
        "brier_cv": round(fit.brier_cv, 6),
        "count": int(fit.pairs),
        "pairs": int(fit.pairs),
        "closed": int(fit.closed),
        "min_closed": int(fit.min_closed),
        "used": bool(fit.used),
        "reason": fit.reason,
        "method": fit.method,
        "levels": calibration_levels(pairs, fit.calibrator),
        "curve": fit.calibrator.curve(),
    }
