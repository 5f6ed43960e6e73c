"""Distribution of the revenue the open pipeline will win, period by period, given its weights.

Model. Opportunity ``i`` (amount ``a_i``) is won *and* closes in period ``k`` with
probability ``w[i, k]``, independently of the other opportunities, and lands in one period
at most (a row of ``w`` sums to at most 1: the rest is lost or closes outside the range).
The weights come from the caller: the engine builds them with the slip model learnt from
the pipeline history (``forecast_slip.SlipModel.weights``: the stated or calibrated
probability, updated for being overdue, times the chance of closing in each period). This
module only turns amounts and weights into laws; ``due_days`` is the simple rule of the
stated totals (an overdue or empty expected date counts on the as-of date, no slip).

Methods (per period ``k`` the revenue is ``R_k = sum_i a_i * B_ik``):

* ``analytic`` — within one period the indicators ``B_ik`` are independent Bernoulli
  variables with probability ``w[i, k]`` (a per-period Bernoulli: exact for each period's
  own distribution, which is all the engine reports; the coupling *between* periods — an
  opportunity lands in one period only — does not change any single period's law).
  The law of ``R_k`` is a Poisson-binomial with amounts, computed by
  ``analytic_distribution``: exact enumeration of the support when it stays small,
  otherwise exact convolution of the largest deals on an amount grid plus a normal
  approximation of the many small ones. Each law carries a sure bound of its error
  (``cdf_error``: Berry-Esseen; ``amount_error``: the worst rounding) and an estimate
  of its real error (``cdf_estimate``, ``amount_estimate``, below).
* ``monte_carlo`` — ``simulate`` draws every opportunity in every trial (one uniform
  decides both winning and the period), seeded with ``numpy.random.default_rng(seed)``;
  its error is the sampling error (Dvoretzky-Kiefer-Wolfowitz bound, ``mc_cdf_error``,
  which is also about the real 95th percentile of that error). Its work is capped:
  more than ``MC_LIMIT`` opportunity-trials is refused with a ``ValueError``.
* ``auto`` — the analytic laws are computed first (bounded time, a few milliseconds a
  period); Monte Carlo replaces them only when the analytic estimated real error
  (``analytic_error``) exceeds the Monte Carlo sampling error at the requested trials
  *and* the Monte Carlo fits within ``MC_LIMIT``.

Why the choice compares estimates of the real error. The Berry-Esseen bound holds for any
law with the same third moments, so it is far looser than the error of a sum of
thousands of deals (0.2 where the real error is about 0.001): compared with the Monte
Carlo's sampling error it chose Monte Carlo where the analytic method was 50 times faster
and more exact. The estimates:

* normal part — the Edgeworth expansion of the small deals' law, ``F = Phi - phi(z) *
  (g1/6 He2(z) + g2/24 He3(z) + g1^2/72 He5(z)) + O(n^-3/2)`` (skewness ``g1``, excess
  kurtosis ``g2`` of the small deals' sum), gives the real difference from the normal law
  to order 1/n; the analytic result adds the exact part to it, so the same correction
  is convolved with the exact part's law (which smooths it) and its largest absolute
  value is the estimate, doubled (``EDGEWORTH_SAFETY``), plus the Berry-Esseen bound
  cubed for the remainder and, when the small amounts share a lattice coarser than the
  grid, its saw-tooth ``span / (2 sigma) * phi(0)``. It is trusted only when the small
  deals count for at least ``EDGEWORTH_MIN_DEALS`` effective deals (``sigma^4 / sum
  var_i^2``) and span ``EDGEWORTH_MIN_CELLS`` grid steps; otherwise the estimate is the
  sure bound. Never above the sure bound. Against exact laws (integer amounts convolved
  by brute force) it covered the real error of every tested law, typically by 2 to 5x.
* rounding — the grid law is moved back by the mean rounding ``sum w_i r_i`` (``r_i``:
  the rounding of large deal ``i``), so its mean is exact; rounding still changes the
  spread and adds the noise ``sum r_i B_i``: the estimate is ``ROUNDING_Z`` times (the
  change of the standard deviation + the standard deviation of that noise), plus half a
  step for the normal cells unless the small amounts lie on the grid's own lattice (the
  cells are then their continuity correction).
* the two are put in one unit, a probability, with the normal law's peak density
  (``analytic_error``): a quantile moved by ``d`` is a CDF off by about ``d`` times the
  density, at most that where the law is densest.

So Monte Carlo is chosen only when the normal part cannot be trusted — a few large deals
among many small ones, too few effective deals for a normal law (``tests``: 32 long shots
of 1,000,000 among 3,000 small deals) — or when many trials are asked for a coarse grid,
and then only if it is affordable. An exact analytic result is always kept; a pipeline
of 5,000 deals gets the analytic result in a fraction of the Monte Carlo's time
(``bench/bench_forecast_methods.py``).

The mean is always the exact expectation ``sum_i a_i * w[i, k]``, whatever the method.
Quantiles are lower quantiles: ``P_q = min {x : F(x) >= q}``.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import signal, special

from .forecast_data import OptionError

METHODS = ("auto", "analytic", "monte_carlo")
QUANTILES = (0.1, 0.5, 0.9)
EXACT_LIMIT = 128  # deals per period convolved exactly (all up to twice as many); the rest: a normal law
GRID_BUDGET = 1 << 21  # deals x grid cells of one exact convolution: the grid has BUDGET / deals cells
GRID_MIN, GRID_MAX = 1 << 12, 1 << 16
SPARSE_LIMIT = 1 << 13  # support points of the exact enumeration before falling back to the grid
ENUMERATION_BUDGET = 1 << 18  # support points processed in all by one enumeration (bounded time)
NORMAL_WIDTH = 8.0  # standard deviations kept each side of the normal part
NORMAL_PEAK = 1.0 / math.sqrt(2.0 * math.pi)  # density of the standard normal law at its mean
BERRY_ESSEEN = 0.56  # Shevtsova (2010): sup|F - Phi| <= 0.56 * sum E|X - EX|^3 / sigma^3
EDGEWORTH_SAFETY = 2.0  # the Edgeworth terms are doubled in the estimate of the normal part's error
EDGEWORTH_MIN_DEALS = 30  # effective small deals below which only the Berry-Esseen bound is trusted
EDGEWORTH_MIN_CELLS = 2  # grid steps the normal part's sigma must span for its correction to be sampled
ROUNDING_Z = 3.0  # the rounding's change of spread and noise counted out to 3 standard deviations
MC_LIMIT = 100_000_000  # opportunity-trials of one Monte Carlo (a few seconds)
MC_CONFIDENCE = 0.95
CHUNK_ELEMENTS = 1 << 20  # uniforms drawn at once by the Monte Carlo (bounded memory)
CDF_TOLERANCE = 1e-9  # rounding slack when inverting a cumulative distribution


@dataclass(frozen=True)
class Distribution:
    """A discrete law: sorted ``values`` with probabilities ``pmf``, and its error.

    The true law ``F`` and this one ``G`` satisfy, for every amount ``x``,
    ``F(x + amount_error) >= G(x) - cdf_error`` and ``F(x - amount_error) <= G(x) + cdf_error``
    (both bounds are 0 for an exact result; for an empirical law, with the stated
    probability). ``cdf_estimate`` and ``amount_estimate`` estimate the real error in the
    same terms (default: the bounds). Quantiles are kept inside the true range
    ``[lower, upper]``.
    """

    values: np.ndarray
    pmf: np.ndarray
    cdf_error: float = 0.0
    amount_error: float = 0.0
    lower: float = 0.0
    upper: float = math.inf
    cdf_estimate: float | None = None
    amount_estimate: float | None = None

    def __post_init__(self):
        if self.cdf_estimate is None:
            object.__setattr__(self, "cdf_estimate", self.cdf_error)
        if self.amount_estimate is None:
            object.__setattr__(self, "amount_estimate", self.amount_error)

    def cdf(self, amount: float) -> float:
        """P(revenue <= amount)."""
        return float(self.pmf[: np.searchsorted(self.values, amount, side="right")].sum())

    def quantile(self, level: float) -> float:
        """The lower ``level``-quantile, kept inside the true range ``[lower, upper]``."""
        cumulative = np.cumsum(self.pmf)
        index = min(int(np.searchsorted(cumulative, level - CDF_TOLERANCE, side="left")), len(self.values) - 1)
        return float(min(max(self.values[index], self.lower), self.upper))


@dataclass(frozen=True)
class RevenueForecast:
    """Per-period revenue of the open pipeline: exact means and quantiles by ``method``.

    ``quantiles[j, k]`` is the ``levels[j]`` quantile of period ``k``; ``laws[k]`` is the
    law of period ``k`` they come from (analytic: the computed ``Distribution``; Monte
    Carlo: the empirical law of the samples), to which a caller may add another
    independent law. Errors are in the terms of ``Distribution``, the largest over
    periods: ``cdf_error`` and ``amount_error`` are the real error as the method expects
    it (analytic: the estimates; Monte Carlo: the DKW bound at ``confidence``, which is
    about its real 95th percentile), ``cdf_bound`` and ``amount_bound`` bounds holding
    with probability ``confidence`` (1 for analytic: sure bounds).
    """

    method: str
    levels: tuple[float, ...]
    mean: np.ndarray
    quantiles: np.ndarray
    cdf_error: float
    amount_error: float
    confidence: float
    laws: tuple[Distribution, ...] = field(default=())
    cdf_bound: float = 1.0  # default: no bound known
    amount_bound: float = 0.0


# --- stated dates -----------------------------------------------------------------


def due_days(expected: np.ndarray, as_of: int) -> np.ndarray:
    """Expected close days moved to the as-of date when overdue or empty (no slip applied)."""
    expected = np.asarray(expected, dtype=np.float64)
    return np.where(np.isnan(expected), as_of, np.maximum(expected, as_of)).astype(np.int64)


# --- analytic ---------------------------------------------------------------------


def analytic_distribution(
    amounts: np.ndarray,
    weights: np.ndarray,
    exact_limit: int = EXACT_LIMIT,
    grid_size: int | None = None,
    sparse_limit: int = SPARSE_LIMIT,
) -> Distribution:
    """Law of ``sum_i amounts[i] * Bernoulli(weights[i])`` (independent), with its error.

    1. Certain deals (weight 1) add a constant; amounts or weights of 0 add nothing.
    2. Up to ``exact_limit`` deals: exact enumeration of the support (merging equal
       sums) while it has at most ``sparse_limit`` points (and the whole enumeration
       handles at most ``ENUMERATION_BUDGET`` points) — no error at all.
    3. Otherwise the ``exact_limit`` largest deals (all of them up to twice as many: fewer
       small deals than that would make a poor normal law) are convolved exactly on an
       amount grid of ``grid_size`` cells (default ``GRID_BUDGET / deals`` within
       ``GRID_MIN..GRID_MAX``; step = the greatest common divisor of their amounts in cents
       when that fits, else the span of the law / ``grid_size``): each amount is rounded
       to the grid and the law moved back by the mean rounding (its mean stays exact), so
       a sum moves by at most ``amount_error`` = the larger of the total upward and the
       total downward rounding, net of that move (+ half a step for the normal part). The
       remaining small deals are replaced by a normal law with their exact mean and
       variance, discretised on the same grid (cells centred on multiples of the step, as
       the deals) and added by FFT convolution; the Kolmogorov distance this costs is at
       most the Berry-Esseen bound ``0.56 * sum E|X_i - EX_i|^3 / sigma^3`` of the small
       deals (``cdf_error``; adding the independent exact part cannot increase it).
    4. The estimates of the real error (see the module docstring): ``cdf_estimate``, the
       Edgeworth terms of the small deals carried through the exact part's law;
       ``amount_estimate``, what the rounding does to the mean and spread of the law.

    With 100,000 deals in 12 periods this takes a few milliseconds a period
    (``bench/bench_forecast_methods.py``).
    """
    amounts, weights = _clean(amounts, weights)
    certain = weights >= 1.0
    shift = float(amounts[certain].sum())
    amounts, weights = amounts[~certain], weights[~certain]
    upper = shift + float(amounts.sum())
    if amounts.size == 0:
        return Distribution(np.array([shift]), np.array([1.0]), lower=shift, upper=shift)
    if amounts.size <= exact_limit:
        exact = _enumerate(amounts, weights, sparse_limit)
        if exact is not None:
            values, pmf = exact
            return Distribution(values + shift, pmf, lower=shift, upper=upper)
    count = amounts.size if amounts.size <= 2 * exact_limit else exact_limit
    large = np.zeros(amounts.size, dtype=bool)
    if count > 0:
        large[np.argpartition(-amounts, count - 1)[:count]] = True
    if grid_size is None:
        grid_size = min(max(GRID_BUDGET // max(count, 1), GRID_MIN), GRID_MAX)
    law = _grid_convolution(amounts[large], weights[large], amounts[~large], weights[~large], grid_size)
    return replace(law, values=law.values + shift, lower=shift, upper=upper)


def _clean(amounts: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    amounts = np.asarray(amounts, dtype=np.float64)
    weights = np.minimum(np.asarray(weights, dtype=np.float64), 1.0)
    useful = (amounts > 0) & (weights > 0)
    return amounts[useful], weights[useful]


def _enumerate(amounts: np.ndarray, weights: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    values, pmf = np.zeros(1), np.ones(1)
    work = 0
    for amount, weight in zip(amounts.tolist(), weights.tolist(), strict=True):
        values, inverse = np.unique(np.round(np.concatenate([values, values + amount]), 6), return_inverse=True)
        work += values.size
        if values.size > limit or work > ENUMERATION_BUDGET:
            return None
        pmf = np.bincount(inverse, weights=np.concatenate([pmf * (1.0 - weight), pmf * weight]))
    return values, pmf


def _common_unit(amounts: np.ndarray) -> float:
    """The greatest common divisor of the amounts when all are whole cents (else 0)."""
    cents = np.rint(amounts * 100)
    if not amounts.size or cents.max() >= 2**52 or np.any(np.abs(cents - amounts * 100) >= 1e-6):
        return 0.0
    return float(np.gcd.reduce(cents.astype(np.int64))) / 100


def _grid_step(amounts: np.ndarray, span: float, grid_size: int) -> float:
    if span <= 0:
        return 1.0
    unit = _common_unit(amounts)
    return unit if unit > 0 and span / unit <= grid_size else span / grid_size


def _grid_convolution(
    large: np.ndarray, large_weights: np.ndarray, small: np.ndarray, small_weights: np.ndarray, grid_size: int
) -> Distribution:
    """Law of the large deals convolved on the grid plus the normal law of the small ones (from 0)."""
    mean = float(small @ small_weights)
    spread = small_weights * (1.0 - small_weights)
    square = small * small  # products, not powers: ``x**3`` costs a ``pow`` call per number
    sigma = float(np.sqrt(square @ spread))
    third = float((square * small) @ (spread * (small_weights * small_weights + (1.0 - small_weights) ** 2)))
    cdf_error = min(1.0, BERRY_ESSEEN * third / sigma**3) if sigma > 0 else 0.0
    step = _grid_step(large, float(large.sum()) + 2 * NORMAL_WIDTH * sigma, grid_size)
    cells = np.rint(large / step).astype(np.int64)
    rounding = cells * step - large
    rounding[np.abs(rounding) <= 1e-9 * step] = 0.0  # amounts on the grid, up to floating-point noise
    recentre = -float(rounding @ large_weights)  # the law is moved back by its mean rounding: its mean is exact
    # a sum moves by the roundings of the deals won, at most all of one sign, and by the recentring
    amount_error = max(float(rounding[rounding > 0].sum()) + recentre, -float(rounding[rounding < 0].sum()) - recentre)
    amount_estimate = min(amount_error, _rounding_estimate(large, large_weights, rounding, sigma**2))
    exact_part = _bernoulli_convolution(cells, large_weights)
    if sigma == 0:
        values = step * np.arange(exact_part.size) + recentre
        return Distribution(
            values, exact_part, cdf_error, amount_error, cdf_estimate=0.0, amount_estimate=amount_estimate
        )
    first = int(np.floor((mean - NORMAL_WIDTH * sigma) / step))
    centres = step * np.arange(first, int(np.ceil((mean + NORMAL_WIDTH * sigma) / step)) + 1)
    normal = np.diff(special.ndtr((np.r_[centres - step / 2, centres[-1] + step / 2] - mean) / sigma))
    normal /= normal.sum()
    pmf = np.clip(signal.fftconvolve(exact_part, normal), 0.0, None) if exact_part.size > 1 else normal
    pmf /= pmf.sum()
    unit = _common_unit(small)
    on_grid = recentre == 0 and unit > 0 and abs(unit / step - round(unit / step)) < 1e-9  # cells on its lattice
    z = (centres - mean) / sigma
    cdf_estimate = _normal_part_estimate(exact_part, z, small, small_weights, step, unit, cdf_error)
    return Distribution(
        centres[0] + recentre + step * np.arange(pmf.size),
        pmf,
        cdf_error,
        amount_error + step / 2,
        cdf_estimate=cdf_estimate,
        amount_estimate=amount_estimate + (0.0 if on_grid else step / 2),
    )


def _rounding_estimate(amounts: np.ndarray, weights: np.ndarray, rounding: np.ndarray, other_variance: float) -> float:
    """What rounding ``amounts`` (mean restored) does to the quantiles: the change of the spread, the noise."""
    spread = weights * (1.0 - weights)
    noise = float(rounding**2 @ spread)
    variance = float(amounts**2 @ spread) + other_variance
    rounded = variance + 2 * float((amounts * rounding) @ spread) + noise
    change = abs(np.sqrt(max(rounded, 0.0)) - np.sqrt(variance))
    return ROUNDING_Z * (change + np.sqrt(noise))


def _normal_part_estimate(
    exact_part: np.ndarray,
    z: np.ndarray,
    small: np.ndarray,
    weights: np.ndarray,
    step: float,
    unit: float,
    bound: float,
) -> float:
    """Estimated Kolmogorov error of replacing the small deals by the normal law (at most ``bound``).

    ``z`` are the normal cells' standardised centres, ``unit`` the lattice the small
    amounts share (0: none).
    """
    spread = weights * (1.0 - weights)
    square = small * small
    variances = square * spread
    sigma = float(np.sqrt(variances.sum()))
    if sigma**4 < EDGEWORTH_MIN_DEALS * float(variances @ variances) or sigma < EDGEWORTH_MIN_CELLS * step:
        return bound
    skewness = float((square * small) @ (spread * (1.0 - 2.0 * weights))) / sigma**3
    kurtosis = float((square * square) @ (spread * (1.0 - 6.0 * spread))) / sigma**4
    correction = _edgeworth_correction(z, skewness, kurtosis)
    carried = signal.oaconvolve(exact_part, correction) if exact_part.size > 1 else correction
    lattice = unit / (2 * sigma) * NORMAL_PEAK if unit > step else 0.0
    return min(bound, EDGEWORTH_SAFETY * float(np.abs(carried).max()) + bound**3 + lattice)


def _edgeworth_correction(z: np.ndarray, skewness: float, kurtosis: float) -> np.ndarray:
    """``F - Phi`` at the standardised ``z`` by the Edgeworth expansion to order 1/n (Hermite polynomials)."""
    square = z * z
    cube = square * z
    he2, he3, he5 = square - 1, cube - 3 * z, cube * square - 10 * cube + 15 * z
    density = NORMAL_PEAK * np.exp(-square / 2)
    return -density * (skewness / 6 * he2 + kurtosis / 24 * he3 + skewness**2 / 72 * he5)


def _bernoulli_convolution(cells: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Exact law on the grid of ``sum cells[i] * Bernoulli(weights[i])`` (smallest first: cheapest)."""
    order = np.argsort(cells, kind="stable")
    pmf = np.zeros(int(cells.sum()) + 1)
    pmf[0] = 1.0
    top = 0
    for cell, weight in zip(cells[order].tolist(), weights[order].tolist(), strict=True):
        if cell == 0:
            continue
        head = pmf[: top + 1].copy()
        pmf[: top + 1] *= 1.0 - weight
        pmf[cell : cell + top + 1] += weight * head
        top += cell
    return pmf


# --- Monte Carlo ------------------------------------------------------------------


def mc_cdf_error(trials: int, confidence: float = MC_CONFIDENCE) -> float:
    """DKW bound: with probability ``confidence``, sup|F_trials - F| <= this for a period."""
    return float(np.sqrt(np.log(2.0 / (1.0 - confidence)) / (2.0 * trials)))


def empirical_distribution(
    samples: np.ndarray, confidence: float = MC_CONFIDENCE, lower: float | None = None, upper: float | None = None
) -> Distribution:
    """The law of Monte Carlo ``samples`` (each drawn with equal weight): their sorted
    distinct values with their frequencies.

    ``cdf_error`` is the Dvoretzky-Kiefer-Wolfowitz bound (``mc_cdf_error``), holding with
    probability ``confidence``; no amount error. ``lower`` / ``upper`` default to the
    smallest and largest sample (give the true range when known).
    """
    samples = np.asarray(samples, dtype=np.float64).ravel()
    if not samples.size:
        raise ValueError("empirical_distribution: no samples")
    values, counts = np.unique(samples, return_counts=True)
    return Distribution(
        values,
        counts / samples.size,
        mc_cdf_error(samples.size, confidence),
        0.0,
        float(values[0]) if lower is None else float(lower),
        float(values[-1]) if upper is None else float(upper),
    )


def simulate(amounts: np.ndarray, weights: np.ndarray, trials: int, seed: int) -> np.ndarray:
    """Revenue won per trial and period, shape ``(trials, P)``, for weights ``w`` (n x P).

    Each trial draws one uniform ``u`` per opportunity (``default_rng(seed)``, single
    precision, 2**-24 resolution): the opportunity is won and closes in its ``j``-th
    possible period when ``u`` falls in ``[c_{j-1}, c_j)``, ``c`` being its cumulative
    weights — the joint model itself (one period at most per opportunity). Work is
    vectorised over chunks of trials and proportional to the number of periods each
    opportunity can land in; sums go through BLAS in single precision with the amounts
    split in two parts (relative rounding about 1e-7, far below the sampling error).
    The same inputs and seed give the same result.
    """
    amounts = np.asarray(amounts, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    periods = weights.shape[1] if weights.ndim == 2 else 0
    result = np.zeros((trials, periods))
    rng = np.random.default_rng(seed)
    useful = (amounts > 0) & (weights.sum(axis=1) > 0) if periods else np.zeros(len(amounts), dtype=bool)
    if not useful.any():
        return result
    plan = _SimulationPlan.build(amounts[useful], weights[useful])
    count = plan.size
    rows = max(1, CHUNK_ELEMENTS // count)
    for start in range(0, trials, rows):
        chunk = min(rows, trials - start)
        uniforms = rng.random((chunk, count), dtype=np.float32)
        result[start : start + chunk] = plan.revenue(uniforms, periods)
    return result


@dataclass(frozen=True)
class _SimulationPlan:
    """Opportunities sorted by first possible period, then by number of possible periods."""

    first: np.ndarray  # first possible period of each group
    slices: list[list[tuple[int, int]]]  # per group, per offset: the deals [i, j) that may land there
    thresholds: np.ndarray  # (max width, n) cumulative weights, single precision
    split_amounts: np.ndarray  # (n, 2) amount = high + low, single precision

    @property
    def size(self) -> int:
        return self.thresholds.shape[1]

    @classmethod
    def build(cls, amounts: np.ndarray, weights: np.ndarray) -> "_SimulationPlan":
        possible = weights > 0
        periods = weights.shape[1]
        first = possible.argmax(axis=1)
        width = periods - possible[:, ::-1].argmax(axis=1) - first
        order = np.lexsort((-width, first))
        amounts, weights, first, width = amounts[order], weights[order], first[order], width[order]
        offsets = np.arange(width.max())
        columns = np.minimum(first[:, None] + offsets, periods - 1)
        steps = np.take_along_axis(weights, columns, axis=1) * (offsets < width[:, None])
        thresholds = np.ascontiguousarray(np.cumsum(steps, axis=1).T.astype(np.float32))
        high = amounts.astype(np.float32)
        split = np.stack([high, (amounts - high).astype(np.float32)], axis=1)
        starts = np.flatnonzero(np.r_[True, first[1:] != first[:-1]])
        ends = np.r_[starts[1:], len(first)]
        slices = [
            [(int(i), int(i + np.count_nonzero(width[i:j] > offset))) for offset in range(int(width[i]))]
            for i, j in zip(starts, ends, strict=True)
        ]
        return cls(first[starts], slices, thresholds, split)

    def revenue(self, uniforms: np.ndarray, periods: int) -> np.ndarray:
        revenue = np.zeros((uniforms.shape[0], periods))
        for first, group in zip(self.first.tolist(), self.slices, strict=True):
            below_previous = None
            for offset, (i, j) in enumerate(group):
                below = np.less(uniforms[:, i:j], self.thresholds[offset, i:j])
                landed = below if below_previous is None else below ^ below_previous[:, : j - i]
                sums = landed.astype(np.float32) @ self.split_amounts[i:j]
                revenue[:, first + offset] += sums.sum(axis=1, dtype=np.float64)
                below_previous = below
        return revenue


# --- both -------------------------------------------------------------------------


def revenue_forecast(
    amounts: np.ndarray,
    weights: np.ndarray,
    method: str = "auto",
    trials: int = 10_000,
    seed: int = 0,
    levels: tuple[float, ...] = QUANTILES,
) -> RevenueForecast:
    """Exact means and ``levels`` quantiles of every period's revenue (see the module docstring).

    ``amounts`` has one entry per opportunity, ``weights`` is the matching ``(n, P)`` matrix
    of P(won and closing in period k). Raises ``ValueError`` on an unknown method, and for
    ``"monte_carlo"`` when the simulation would exceed ``MC_LIMIT`` opportunity-trials
    (``"auto"`` then keeps the analytic result).
    """
    if method not in METHODS:
        raise OptionError(
            f"unknown method {method!r}: expected one of {', '.join(METHODS)}",
            "method",
            "choice",
            method,
            choices=METHODS,
        )
    amounts = np.asarray(amounts, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    mean = amounts @ weights
    work = monte_carlo_work(amounts, weights, trials)
    if method == "monte_carlo" and work > MC_LIMIT:
        raise OptionError(
            f"the Monte Carlo would draw {work:,} opportunity-trials, more than the limit of {MC_LIMIT:,}: "
            "use fewer trials, a narrower scope or the analytic method",
            "trials", "work", trials, work=work, limit=MC_LIMIT,
        )  # fmt: skip
    if method != "monte_carlo":
        laws = tuple(analytic_distribution(amounts, weights[:, k]) for k in range(weights.shape[1]))
        if method == "analytic" or work > MC_LIMIT or analytic_error(amounts, weights, laws) <= mc_cdf_error(trials):
            return _forecast("analytic", levels, mean, laws, 1.0)
    samples = simulate(amounts, weights, trials, seed)
    laws = tuple(
        empirical_distribution(samples[:, k], MC_CONFIDENCE, *_range(amounts, weights[:, k]))
        for k in range(samples.shape[1])
    )
    return _forecast("monte_carlo", levels, mean, laws, MC_CONFIDENCE)


def monte_carlo_work(amounts: np.ndarray, weights: np.ndarray, trials: int) -> int:
    """Opportunity-trials a Monte Carlo of ``trials`` trials draws: what ``MC_LIMIT`` caps."""
    useful = (np.asarray(amounts) > 0) & (np.asarray(weights).sum(axis=1) > 0)
    return int(np.count_nonzero(useful)) * int(trials)


def analytic_error(amounts: np.ndarray, weights: np.ndarray, laws: tuple[Distribution, ...]) -> float:
    """The analytic laws' estimated real error in probability, the largest over periods.

    A quantile moved by ``amount_estimate`` is what a law shifted by ``cdf_estimate`` in
    probability gives where the density is ``NORMAL_PEAK / sd`` (a normal law's peak, the
    period's exact standard deviation ``sd``), so the two add up as
    ``cdf_estimate + amount_estimate * NORMAL_PEAK / sd``: what the Monte Carlo's sampling
    error is compared with.
    """
    weights = np.clip(weights, 0.0, 1.0)
    spread = np.sqrt(np.maximum(amounts, 0.0) ** 2 @ (weights * (1.0 - weights)))
    errors = [
        law.cdf_estimate + (law.amount_estimate * NORMAL_PEAK / sd if sd > 0 else 0.0)
        for law, sd in zip(laws, spread.tolist(), strict=True)
    ]
    return max(errors, default=0.0)


def _range(amounts: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """The smallest and largest revenue a period can have (certain deals; all possible deals)."""
    amounts, weights = _clean(amounts, weights)
    return float(amounts[weights >= 1.0].sum()), float(amounts.sum())


def _forecast(
    method: str, levels: tuple[float, ...], mean: np.ndarray, laws: tuple[Distribution, ...], confidence: float
) -> RevenueForecast:
    table = np.array([[law.quantile(level) for law in laws] for level in levels]).reshape(len(levels), len(laws))
    return RevenueForecast(
        method,
        levels,
        mean,
        table,
        max((law.cdf_estimate for law in laws), default=0.0),
        max((law.amount_estimate for law in laws), default=0.0),
        confidence,
        laws,
        max((law.cdf_error for law in laws), default=0.0),
        max((law.amount_error for law in laws), default=0.0),
    )
