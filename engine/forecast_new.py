"""Revenue from the pipeline not created yet ("from new"), and sums of independent laws.

A period's sales forecast is ``won`` (already) + ``from open`` (the open pipeline,
``forecast_distribution``) + ``from new`` (this module): what will be won, inside the
period, from opportunities created on or after the as-of date.

Model (``NewPipelineModel.fit``), learnt only from the history rows dated *before* the
as-of date, per group = the (``type``, ``team``) keys of an opportunity's last row before it:

* **arrivals** — new opportunities arrive as a Poisson process, ``rates[g]`` a day: the
  creations (first history row of each lead) in the lookback window
  ``[max(as_of - lookback_days, first creation), as_of)`` divided by its length in days.
  Group rates add up to the overall rate exactly, so they need no shrinking (a group
  without creations in the window gets no new opportunities).
* **win curve** — ``F_g(a)`` = P(won at an age ``<= a`` days after creation), a cumulative
  incidence with competing risks estimated by Aalen-Johansen on whole days: won and lost
  closings (the day the final closing before as_of began) are the two events; a lead still
  open at as_of is censored (at risk up to age ``as_of - 1 - created``). Beyond the largest
  observed age (and beyond ``MAX_AGE``, where older leads are censored) the curve stays
  flat: no win is expected later than any seen.
* **won amounts** — the empirical law of the amounts of the leads won before as_of, as
  they stood at the closing (their last amount before as_of), zeros included.

Thin groups are shrunk towards the overall estimate with credibility weights:
``F_g <- (c_g F_g + PRIOR_CLOSINGS F) / (c_g + PRIOR_CLOSINGS)`` with ``c_g`` the group's
closings, and the amount law ``(w_g law_g + PRIOR_WINS law) / (w_g + PRIOR_WINS)`` with
``w_g`` its wins: a group with no closing (no win) uses the overall curve (amounts), a
large one essentially its own (the price: a group keeps a bias of at most
``PRIOR / (count + PRIOR)`` of its gap to the overall estimate). Without history before
as_of, or without any win in it, the model is empty and "from new" is 0 in every period.

Forecast (``per_period_laws``): a lead arriving on day ``u >= as_of`` is won in period
``[A, B)`` with probability ``F(B - 1 - u) - F(A - 1 - u)`` (0 for ages below 0). By
Poisson thinning (each arrival falls in one class: won in period 0, 1, ... or not won in
the range) the wins of group ``g`` in period ``k`` are Poisson with mean
``mu[g, k] = rates[g] * sum_u (...)`` (``wins_by_group``), independent across groups and
periods. The revenue of period ``k`` is then compound Poisson: ``sum_j x_j N_j`` over the
won amounts ``x_j``, ``N_j ~ Poisson(sum_g mu[g, k] law_g(x_j))`` independent
(``compound_poisson``: its law by FFT on an amount grid, with bounded error). The ranges
hold the model's randomness, not the estimation error of its parameters (a few % of the
mean with a year of history); on worlds drawn from the model the P10-P90 band holds about
78 % of the realised periods (``tests/engine/test_forecast_new.py``).

Totals: ``sum_laws`` gives the law of the sum of two independent laws (the open
pipeline's — ``analytic_distribution``, or ``empirical_distribution`` of its Monte Carlo
samples — and the new one's; the amount already won is a one-value law), so that the
total's P10 / P50 / P90 come from ``Distribution.quantile`` and its mean is the sum of the
means; its errors, bounds and estimates, are the sums of the parts'.
"""

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import signal, special

from .forecast_data import OPEN, WON
from .forecast_distribution import Distribution
from .forecast_history import PipelineIndex
from .forecast_stats import group_keys, plain

LOOKBACK_DAYS = 365  # creations used for the arrival rate
PRIOR_CLOSINGS = 10.0  # pseudo-closings of the overall win curve in a group's curve
PRIOR_WINS = 10.0  # pseudo-wins of the overall amount law in a group's amount law
MAX_AGE = 5 * 366  # days: older leads count as censored there (the win curve is flat after it)
TAIL = 1e-10  # probability left out of a compound Poisson's grid (and of its count of wins)
GRID_CELLS = 1 << 14  # amount grid of a compound Poisson law (when amounts are not on a coarse unit)
EXACT_CELLS = 1 << 15  # cells allowed when every amount is a multiple of a common unit (then exact)
SUM_PAIRS = 1 << 16  # value pairs up to which ``sum_laws`` enumerates the sum exactly
SUM_CELLS = 1 << 15  # grid of ``sum_laws`` otherwise
SUM_TRIM = 1e-12  # mass of each far tail ``sum_laws`` moves inward before gridding (joins the cdf errors)
BOUND_BINS = 256  # coarse bins of the Chernoff tail bounds (amounts rounded up: still a bound)
BOUND_SLOPES = np.geomspace(1e-4, 40.0, 48)  # Chernoff parameters, times 1 / largest amount


@dataclass(frozen=True, eq=False)
class NewPipelineModel:
    """What the history before ``as_of`` says about opportunities not created yet.

    Per group ``groups[g]`` (a ``(type, team)`` key pair, plain values, ``None`` = empty):
    ``rates[g]`` new opportunities a day (from ``arrivals[g]`` creations over ``window``
    days), ``won_by_age[g, a]`` = P(won at an age ``<= a`` days), flat after its last column,
    shrunk with ``closings[g]`` closings, and ``amount_weights[g]`` the law of a won amount
    over ``amounts`` (sorted), shrunk with ``wins[g]`` wins. See the module docstring.
    """

    as_of: float
    window: float
    groups: tuple[tuple[object, object], ...]
    arrivals: np.ndarray
    rates: np.ndarray
    closings: np.ndarray
    wins: np.ndarray
    won_by_age: np.ndarray
    amounts: np.ndarray
    amount_weights: np.ndarray

    @classmethod
    def empty(cls, as_of: float) -> "NewPipelineModel":
        """The model of no history: no arrivals, nothing won from new."""
        zeros = np.zeros(0)
        return cls(float(as_of), 0.0, (), zeros, zeros, zeros, zeros, np.zeros((0, 1)), zeros, np.zeros((0, 0)))

    @classmethod
    def fit(cls, index: PipelineIndex, as_of: float, lookback_days: float | None = LOOKBACK_DAYS) -> "NewPipelineModel":
        """Fit on the rows of ``index`` dated before ``as_of`` (a day number) only.

        ``lookback_days`` bounds the creations counted for the arrival rates (``None``: all);
        the win curve and the amounts use the whole history before ``as_of``.
        """
        frame = index.frame
        known = frame["day"].to_numpy() < as_of
        if not known.any():
            return cls.empty(as_of)
        past = index.before(as_of)
        outcomes = past.outcomes()
        last_rows = past.frame.iloc[past.ends - 1]
        codes, groups = _group_codes(last_rows["type"].to_numpy(), last_rows["team"].to_numpy())
        created = outcomes["created"].to_numpy()
        window, arrivals = _arrivals(codes, len(groups), created, float(as_of), lookback_days)
        closings, wins, won_by_age, won = _win_curves(codes, len(groups), created, outcomes, float(as_of))
        amounts, amount_weights = _amount_laws(codes, len(groups), outcomes["amount"].to_numpy(), won, wins)
        if not amounts.size:
            return cls.empty(as_of)
        rates = arrivals / window if window > 0 else np.zeros(len(groups))
        return cls(float(as_of), window, groups, arrivals, rates, closings, wins, won_by_age, amounts, amount_weights)


def _arrivals(
    codes: np.ndarray, count: int, created: np.ndarray, as_of: float, lookback_days: float | None
) -> tuple[float, np.ndarray]:
    """The window's length in days and the creations of each group in it."""
    start = float(created.min())
    if lookback_days is not None:
        start = max(start, as_of - float(lookback_days))
    return as_of - start, np.bincount(codes[created >= start], minlength=count).astype(np.float64)


def _win_curves(
    codes: np.ndarray, count: int, created: np.ndarray, outcomes: pd.DataFrame, as_of: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Closings and wins per group, the shrunk win curves, and which leads count as won."""
    status = outcomes["status"].to_numpy()
    closed = status != OPEN
    ages = np.where(closed, outcomes["closed"].to_numpy() - created, as_of - 1.0 - created)
    ages = np.maximum(np.rint(ages), 0).astype(np.int64)
    closed &= ages <= MAX_AGE  # a closing later than that is not counted: censored at MAX_AGE
    won = closed & (status == WON)
    ages = np.minimum(ages, MAX_AGE)
    closings = np.bincount(codes[closed], minlength=count).astype(np.float64)
    wins = np.bincount(codes[won], minlength=count).astype(np.float64)
    curves = _cumulative_incidence(codes, ages, won, closed & ~won, count)
    overall = _cumulative_incidence(np.zeros_like(codes), ages, won, closed & ~won, 1)
    shrunk = (closings[:, None] * curves + PRIOR_CLOSINGS * overall) / (closings[:, None] + PRIOR_CLOSINGS)
    return closings, wins, shrunk, won


def _amount_laws(
    codes: np.ndarray, count: int, amounts: np.ndarray, won: np.ndarray, wins: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct won amounts and each group's shrunk law over them (rows sum to 1)."""
    values, inverse = np.unique(amounts[won], return_inverse=True)
    if not values.size:
        return values, np.zeros((count, 0))
    counts = np.bincount(codes[won] * values.size + inverse, minlength=count * values.size)
    counts = counts.reshape(count, values.size).astype(np.float64)
    overall = counts.sum(axis=0) / counts.sum()
    return values, (counts + PRIOR_WINS * overall) / (wins[:, None] + PRIOR_WINS)


def _group_codes(types: np.ndarray, teams: np.ndarray) -> tuple[np.ndarray, tuple[tuple[object, object], ...]]:
    """Group number of each (type, team) pair (empty keys are a key) and the pairs, as plain values."""
    type_codes, type_keys = group_keys(types)
    team_codes, team_keys = group_keys(teams)
    width = max(len(team_keys), 1)
    codes, pairs = pd.factorize(type_codes.astype(np.int64) * width + team_codes)
    groups = tuple((plain(type_keys[pair // width]), plain(team_keys[pair % width])) for pair in pairs.tolist())
    return codes.astype(np.int64), groups


def _cumulative_incidence(
    codes: np.ndarray, ages: np.ndarray, won: np.ndarray, lost: np.ndarray, count: int
) -> np.ndarray:
    """Aalen-Johansen P(won at an age <= a) per group, ``(count, max age + 1)``.

    ``ages`` is the closing age of a closed lead and the last age a censored lead was
    seen open; a lead is at risk at every age up to its own.
    """
    width = int(ages.max()) + 1 if ages.size else 1

    def table(mask: np.ndarray) -> np.ndarray:
        cells = codes[mask] * width + ages[mask]
        return np.bincount(cells, minlength=count * width).reshape(count, width).astype(np.float64)

    at_risk = table(np.ones(len(codes), dtype=bool))[:, ::-1].cumsum(axis=1)[:, ::-1]
    wins, losses = table(won), table(lost)
    safe = np.maximum(at_risk, 1.0)
    survival = np.cumprod(1.0 - (wins + losses) / safe, axis=1)
    before = np.concatenate([np.ones((count, 1)), survival[:, :-1]], axis=1)
    return np.cumsum(before * wins / safe, axis=1)


# --- expected wins and revenue -----------------------------------------------------


def _selection(model: NewPipelineModel, groups: Collection | None) -> np.ndarray:
    if groups is None:
        return np.ones(len(model.groups), dtype=bool)
    wanted = {tuple(key) for key in groups}
    return np.array([key in wanted for key in model.groups], dtype=bool)


def wins_by_group(model: NewPipelineModel, as_of: float, boundaries: np.ndarray) -> np.ndarray:
    """``mu[g, k]``: expected wins in period ``k`` from leads of group ``g`` created on or after ``as_of``.

    Period ``k`` is the day interval ``[boundaries[k], boundaries[k + 1])``. With
    ``C(n) = sum_{m=1..n} F(m - 1)`` (``F`` the win curve), ``mu = rate * (C(B - s) - C(A - s))``
    where ``s`` is the first arrival day ``ceil(as_of)`` and negative offsets count as 0.
    """
    boundaries = np.asarray(boundaries, dtype=np.int64)
    periods = max(len(boundaries) - 1, 0)
    if not model.groups or not periods:
        return np.zeros((len(model.groups), periods))
    first = int(np.ceil(as_of))
    horizon = max(int(boundaries[-1]) - first, 0)
    curve = model.won_by_age[:, np.minimum(np.arange(horizon), model.won_by_age.shape[1] - 1)]
    cumulative = np.concatenate([np.zeros((len(model.groups), 1)), np.cumsum(curve, axis=1)], axis=1)
    offsets = np.clip(boundaries - first, 0, horizon)
    return model.rates[:, None] * np.diff(cumulative[:, offsets], axis=1)


def expected_wins(
    model: NewPipelineModel, as_of: float, boundaries: np.ndarray, groups: Collection | None = None
) -> np.ndarray:
    """Expected number of wins from new leads per period (of the ``groups`` keys given; default all)."""
    return wins_by_group(model, as_of, boundaries)[_selection(model, groups)].sum(axis=0)


def expected_revenue(
    model: NewPipelineModel, as_of: float, boundaries: np.ndarray, groups: Collection | None = None
) -> np.ndarray:
    """Expected revenue from new leads per period: ``sum_g mu[g, k] * mean won amount of g`` (exact)."""
    selected = _selection(model, groups)
    means = model.amount_weights[selected] @ model.amounts if model.amounts.size else np.zeros(selected.sum())
    return means @ wins_by_group(model, as_of, boundaries)[selected]


def per_period_laws(
    model: NewPipelineModel, as_of: float, boundaries: np.ndarray, groups: Collection | None = None
) -> list[Distribution]:
    """Law of the revenue won from new leads in each period (``compound_poisson``).

    ``groups`` restricts to some ``model.groups`` keys (default: all). Means are
    ``expected_revenue``; a law's own mean differs from it by at most its ``amount_error``
    plus the tiny mass of its ``cdf_error``.
    """
    selected = _selection(model, groups)
    wins = wins_by_group(model, as_of, boundaries)[selected]
    weights = model.amount_weights[selected]
    return [compound_poisson(model.amounts, wins[:, k] @ weights) for k in range(wins.shape[1])]


# --- compound Poisson --------------------------------------------------------------


def compound_poisson(values: np.ndarray, rates: np.ndarray, cells: int = GRID_CELLS) -> Distribution:
    """Law of ``sum_j values[j] * N_j`` with independent ``N_j ~ Poisson(rates[j])``, values ``>= 0``.

    Equivalently: ``N ~ Poisson(mu)`` wins (``mu = sum rates``), each of amount ``values[j]``
    with probability ``rates[j] / mu``. Computed on an amount grid of step ``h`` by FFT
    (the characteristic function is ``exp(sum_j rates[j] (e^{i t x_j} - 1))``):

    * the grid spans ``[0, T]``, ``T`` a Chernoff bound with ``P(S >= T) <= TAIL``; the mass
      beyond the grid wraps around (FFT aliasing) and is bounded by a Chernoff bound on the
      rounded law (added to ``cdf_error``);
    * when every amount is a multiple of a common unit (cents' gcd) and ``T / unit`` fits
      in ``EXACT_CELLS``, ``h`` is that unit: no rounding, the law is exact up to
      ``cdf_error`` (about ``1e-10``);
    * otherwise ``h = T / cells``-ish and each amount is rounded to the nearest cell
      (``r = max |rounding| <= h / 2``): a sum of ``N`` wins moves by at most ``N r``; with
      ``n`` such that ``P(N > n) <= TAIL``, ``amount_error = n r`` and ``TAIL`` joins
      ``cdf_error``. The error is a worst case (roundings of both signs mostly cancel).

    The estimates of the real error (``cdf_estimate``, ``amount_estimate``) are these
    bounds: the CDF part is about ``1e-10``, and the rounding's worst case stands for its
    estimate.
    """
    values = np.asarray(values, dtype=np.float64)
    rates = np.asarray(rates, dtype=np.float64)
    useful = (values > 0) & (rates > 0)
    values, rates = values[useful], rates[useful]
    if not values.size:
        return Distribution(np.zeros(1), np.ones(1), lower=0.0, upper=0.0)
    mean_count = float(rates.sum())
    span = _chernoff_point(values, rates, TAIL)
    step, cells_used = _compound_grid(values, span, cells)
    positions = np.rint(values / step).astype(np.int64)
    rounding = float(np.abs(positions * step - values).max())
    # amounts past the grid wrap around like the sums do (the aliasing bound covers both)
    rate_grid = np.bincount(positions % cells_used, weights=rates, minlength=cells_used)
    pmf = np.fft.irfft(np.exp(np.fft.rfft(rate_grid) - mean_count), n=cells_used)
    pmf = np.clip(pmf, 0.0, None)
    pmf /= pmf.sum()
    aliasing = _chernoff_tail(positions * step, rates, cells_used * step)
    amount_error = 0.0
    cdf_error = aliasing
    if rounding > 1e-9 * step:
        amount_error = max(float(np.ceil(special.pdtrik(1.0 - TAIL, mean_count))), 0.0) * rounding
        cdf_error += TAIL
    return Distribution(step * np.arange(cells_used), pmf, min(cdf_error, 1.0), amount_error, 0.0, np.inf)


def _compound_grid(values: np.ndarray, span: float, cells: int) -> tuple[float, int]:
    """Grid step and size: an exact common unit of the amounts when it fits, else ``span / cells``."""
    cents = np.rint(values * 100)
    if cents.max() < 2**52 and np.all(np.abs(cents - values * 100) < 1e-6):
        unit = float(np.gcd.reduce(cents.astype(np.int64))) / 100
        if unit > 0 and span / unit < EXACT_CELLS:
            return unit, max(1 << int(np.ceil(np.log2(span / unit + 2))), 2)
    # a little slack: rounding may push sums slightly past the Chernoff point
    return span * 1.02 / cells, cells


def _coarse(values: np.ndarray, rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Amounts rounded *up* to ``BOUND_BINS`` bins: a law above the given one (tail bounds stay bounds)."""
    top = float(values.max())
    bins = np.minimum(np.ceil(values / top * BOUND_BINS), BOUND_BINS).astype(np.int64)
    weights = np.bincount(bins, weights=rates, minlength=BOUND_BINS + 1)
    return np.arange(BOUND_BINS + 1) * top / BOUND_BINS, weights


def _log_mgf(values: np.ndarray, rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chernoff parameters ``theta`` and ``log E exp(theta S) = sum_j rates_j (e^{theta x_j} - 1)``."""
    grid, weights = _coarse(values, rates)
    theta = BOUND_SLOPES / float(values.max())
    return theta, np.expm1(np.outer(theta, grid)) @ weights


def _chernoff_point(values: np.ndarray, rates: np.ndarray, tail: float) -> float:
    """An amount ``T`` with ``P(S >= T) <= tail`` (best Chernoff bound over ``BOUND_SLOPES``)."""
    theta, log_mgf = _log_mgf(values, rates)
    return float(np.min((log_mgf - np.log(tail)) / theta))


def _chernoff_tail(values: np.ndarray, rates: np.ndarray, threshold: float) -> float:
    """A bound on ``P(S >= threshold)``."""
    theta, log_mgf = _log_mgf(values, rates)
    return float(min(1.0, np.exp(np.min(log_mgf - theta * threshold))))


# --- combining laws ----------------------------------------------------------------


def sum_laws(first: Distribution, second: Distribution, cells: int = SUM_CELLS) -> Distribution:
    """Law of ``X + Y`` for independent ``X ~ first`` and ``Y ~ second``.

    Exact (every pair of values, equal sums merged) when the supports have at most
    ``SUM_PAIRS`` pairs. Otherwise each law's far tails (``SUM_TRIM`` of mass at each end)
    are first moved onto the nearest value kept (its CDF moves by at most ``2 * SUM_TRIM``);
    if the supports are still too large, both are put on one grid of step
    ``h = (span X + span Y) / (cells - 1)`` (each value rounded to the nearest cell from its
    law's smallest value, moving it by at most ``h / 2``) and convolved by FFT.

    Errors add up, the bounds and the estimates of the real error alike (a CDF off by
    ``e_X`` convolved with ``Y``'s law stays off by ``e_X``; shifts of the amounts add):
    ``cdf_error`` / ``cdf_estimate`` of the sum are the parts' plus the trimming,
    ``amount_error`` / ``amount_estimate`` the parts' plus the two largest roundings (at
    most ``h``). ``lower`` / ``upper`` are the sums of the parts'.
    """
    lower, upper = first.lower + second.lower, first.upper + second.upper
    cdf_error, cdf_estimate = first.cdf_error + second.cdf_error, first.cdf_estimate + second.cdf_estimate
    amount_error = first.amount_error + second.amount_error
    amount_estimate = first.amount_estimate + second.amount_estimate
    (x, p), (y, q) = (first.values, first.pmf), (second.values, second.pmf)
    if x.size * y.size > SUM_PAIRS:
        (x, p), (y, q) = _trimmed(first), _trimmed(second)
        cdf_error, cdf_estimate = cdf_error + 4 * SUM_TRIM, cdf_estimate + 4 * SUM_TRIM
    if x.size * y.size <= SUM_PAIRS:
        values, inverse = np.unique(np.add.outer(x, y).ravel(), return_inverse=True)
        pmf, rounding = np.bincount(inverse, weights=np.outer(p, q).ravel()), 0.0
    else:
        step = float(x[-1] - x[0] + y[-1] - y[0]) / (cells - 1)
        parts, rounding = [], 0.0
        for part_values, part_pmf in ((x, p), (y, q)):
            positions = np.rint((part_values - part_values[0]) / step).astype(np.int64)
            rounding += float(np.abs(positions * step - (part_values - part_values[0])).max())
            parts.append(np.bincount(positions, weights=part_pmf))
        pmf = np.clip(signal.fftconvolve(parts[0], parts[1]), 0.0, None)
        pmf /= pmf.sum()
        values = x[0] + y[0] + step * np.arange(pmf.size)
    return Distribution(
        values,
        pmf,
        min(cdf_error, 1.0),
        amount_error + rounding,
        lower,
        upper,
        cdf_estimate=min(cdf_estimate, 1.0),
        amount_estimate=amount_estimate + rounding,
    )


def _trimmed(law: Distribution) -> tuple[np.ndarray, np.ndarray]:
    """``law`` with the values holding its first and last ``SUM_TRIM`` of mass moved onto the nearest kept one."""
    cumulative = np.cumsum(law.pmf)
    total = cumulative[-1]
    first = min(int(np.searchsorted(cumulative, SUM_TRIM, side="right")), law.values.size - 1)
    last = max(int(np.searchsorted(cumulative, total - SUM_TRIM, side="left")), first)
    pmf = law.pmf[first : last + 1].copy()
    pmf[0] += cumulative[first] - law.pmf[first]  # the mass below the first value kept
    pmf[-1] += total - cumulative[last]  # the mass above the last one
    return law.values[first : last + 1], pmf
