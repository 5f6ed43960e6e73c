"""The revenue distribution given its weights: analytic against brute force, Monte Carlo against both."""

import itertools
import math
from collections import Counter, defaultdict

import numpy as np
import pytest

from engine import forecast_distribution as fd
from engine.forecast_distribution import (
    analytic_distribution,
    due_days,
    empirical_distribution,
    mc_cdf_error,
    revenue_forecast,
    simulate,
)

from law_oracles import LEVELS, assert_within_error, lattice_law, real_cdf_error


def brute_force(amounts, weights):
    """Exact law by enumerating the 2**n outcomes: sorted values and probabilities."""
    law = defaultdict(float)
    for outcome in itertools.product((0, 1), repeat=len(amounts)):
        probability = np.prod([w if won else 1 - w for won, w in zip(outcome, weights, strict=True)])
        law[round(sum(a for won, a in zip(outcome, amounts, strict=True) if won), 6)] += probability
    values = np.array(sorted(law))
    return values, np.array([law[value] for value in values])


def exact_quantile(values, pmf, level):
    return values[min(np.searchsorted(np.cumsum(pmf), level - 1e-9), len(values) - 1)]


def at_most(values, pmf, amount):
    return pmf[values <= amount].sum()


def random_set(seed, size, cents=False):
    rng = np.random.default_rng(seed)
    amounts = rng.integers(1, 200, size) * (rng.random(size) * 100 if cents else 50)
    weights = rng.choice([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 0.33], size)
    return np.round(amounts, 2), weights


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("cents", [False, True])
def test_analytic_equals_brute_force_on_small_sets(seed, cents):
    amounts, weights = random_set(seed, 1 + seed + 4 * cents, cents)
    law = analytic_distribution(amounts, weights)
    values, pmf = brute_force(amounts, weights)
    assert law.cdf_error == 0 and law.amount_error == 0
    for level in LEVELS:
        assert law.quantile(level) == pytest.approx(exact_quantile(values, pmf, level), abs=1e-6)
    for value in values + 1e-7:  # support points are cents apart; this absorbs float rounding of sums
        assert law.cdf(value) == pytest.approx(at_most(values, pmf, value), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_grid_convolution_is_exact_when_amounts_sit_on_the_grid(seed):
    amounts, weights = random_set(100 + seed, 12)  # multiples of 50: the grid step is their gcd
    law = analytic_distribution(amounts, weights, sparse_limit=1)  # forbid enumeration: use the grid
    values, pmf = brute_force(amounts, weights)
    assert law.amount_error == 0 and law.cdf_error == 0
    for value in values:
        assert law.cdf(value) == pytest.approx(at_most(values, pmf, value), abs=1e-12)
    for level in LEVELS:
        assert law.quantile(level) == pytest.approx(exact_quantile(values, pmf, level))


@pytest.mark.parametrize("seed", range(6))
def test_rounded_grid_stays_within_its_stated_amount_error(seed):
    amounts, weights = random_set(200 + seed, 12, cents=True)
    law = analytic_distribution(amounts, weights, sparse_limit=1, grid_size=64)
    assert law.cdf_error == 0 and law.amount_error > 0
    assert_within_error(law, *brute_force(amounts, weights))


@pytest.mark.parametrize("seed", range(6))
def test_normal_part_stays_within_its_berry_esseen_bound(seed):
    amounts, weights = random_set(300 + seed, 12, cents=True)
    law = analytic_distribution(amounts, weights, exact_limit=2)  # up to 2 x exact_limit deals are all exact
    assert 0 < law.cdf_error <= 1
    assert law.cdf_estimate <= law.cdf_error and law.amount_estimate <= law.amount_error
    assert_within_error(law, *brute_force(amounts, weights))


# --- estimates of the real error, against exact laws ----------------------------------


WORLDS = {  # whole amounts (units) and weights; exact_limit forces a normal part of many deals
    "many small, low chances": lambda rng: (rng.integers(1, 200, 1500), rng.uniform(0.005, 0.05, 1500), 8),
    "many small, even chances": lambda rng: (rng.integers(1, 200, 1500), np.full(1500, 0.5), 8),
    "equal amounts, high chances": lambda rng: (np.full(600, 20), rng.uniform(0.9, 0.99, 600), 8),
    "log-normal, any chance": lambda rng: (
        np.maximum(1, np.rint(rng.lognormal(3, 1.0, 1500))),
        rng.uniform(0.01, 0.99, 1500),
        32,
    ),
    "log-normal, stage chances": lambda rng: (
        np.maximum(1, np.rint(rng.lognormal(2, 1.0, 3000))),
        rng.choice([0.1, 0.25, 0.5, 0.75, 0.9], 3000) * rng.choice([1.0, 0.3, 0.05], 3000),
        fd.EXACT_LIMIT,
    ),
    "large amounts rounded on the grid": lambda rng: (
        np.maximum(1, np.rint(rng.lognormal(6, 1.0, 250))),
        rng.choice([0.1, 0.25, 0.5, 0.75, 0.9], 250) * rng.choice([1.0, 0.3], 250),
        fd.EXACT_LIMIT,
    ),
}


@pytest.mark.parametrize("world", sorted(WORLDS))
@pytest.mark.parametrize("scale", [1.0, 50.0, 0.01])
def test_estimates_cover_the_real_error_of_exact_laws(world, scale):
    units, weights, exact_limit = WORLDS[world](np.random.default_rng(len(world)))
    law = analytic_distribution(units * scale, weights, exact_limit=exact_limit, sparse_limit=1)
    truth = lattice_law(units, weights)
    assert law.cdf_estimate <= law.cdf_error and law.amount_estimate <= law.amount_error
    assert real_cdf_error(law, truth, law.amount_error, scale) <= law.cdf_error + 1e-9  # the sure bound
    assert real_cdf_error(law, truth, law.amount_estimate, scale) <= law.cdf_estimate + 1e-9  # the estimate


def test_estimate_is_far_tighter_than_berry_esseen_for_many_deals():
    rng = np.random.default_rng(5)
    units, weights = np.maximum(1, np.rint(rng.lognormal(2, 1.0, 3000))), rng.uniform(0.05, 0.95, 3000)
    law = analytic_distribution(units, weights)
    real = real_cdf_error(law, lattice_law(units, weights), law.amount_estimate)
    assert real <= law.cdf_estimate <= law.cdf_error / 10


def test_berry_esseen_bound_shrinks_with_many_small_deals():
    rng = np.random.default_rng(7)
    amounts, weights = rng.uniform(100, 1000, 20_000), rng.choice([0.1, 0.5, 0.9], 20_000)
    law = analytic_distribution(amounts, weights)
    assert law.cdf_error < 0.01
    assert law.amount_error < 1e-3 * (amounts @ weights)


def test_certain_and_impossible_deals():
    law = analytic_distribution([100.0, 250.0, 40.0, 0.0], [1.0, 0.0, 1.0, 0.5])
    assert [law.quantile(level) for level in (0.1, 0.5, 0.9)] == [140.0, 140.0, 140.0]
    empty = analytic_distribution([], [])
    assert empty.quantile(0.5) == 0.0 and empty.cdf(0.0) == 1.0


def test_single_deal_quantiles_follow_the_lower_quantile_rule():
    law = analytic_distribution([1000.0], [0.5])
    assert (law.quantile(0.1), law.quantile(0.5), law.quantile(0.9)) == (0.0, 0.0, 1000.0)


# --- Monte Carlo ----------------------------------------------------------------------


def test_monte_carlo_matches_brute_force_on_a_small_set():
    amounts, weights = random_set(11, 8)
    samples = simulate(amounts, weights[:, None], 100_000, seed=3)[:, 0]
    values, pmf = brute_force(amounts, weights)
    tolerance = mc_cdf_error(100_000, confidence=1 - 1e-6)
    for value in values:
        assert np.mean(samples <= value) == pytest.approx(at_most(values, pmf, value), abs=tolerance)


def test_monte_carlo_lands_each_deal_in_one_period_at_most():
    weights = np.array([[0.2, 0.3, 0.5], [0.0, 0.4, 0.0]])
    samples = simulate(np.array([100.0, 7.0]), weights, 50_000, seed=1)
    big = samples - 7.0 * np.isin(samples, [7.0, 107.0])
    assert set(np.unique(big.sum(axis=1))) == {100.0}  # the 100 lands in exactly one period per trial
    assert np.mean(big == 100.0, axis=0) == pytest.approx([0.2, 0.3, 0.5], abs=0.01)
    assert np.mean(np.isin(samples[:, 1], [7.0, 107.0])) == pytest.approx(0.4, abs=0.01)


def test_monte_carlo_is_reproducible_and_independent_of_chunking(monkeypatch):
    amounts, weights = random_set(5, 40)
    weights = np.stack([weights * 0.5, weights * 0.3], axis=1)
    first = simulate(amounts, weights, 3000, seed=42)
    assert np.array_equal(first, simulate(amounts, weights, 3000, seed=42))
    assert not np.array_equal(first, simulate(amounts, weights, 3000, seed=43))
    monkeypatch.setattr(fd, "CHUNK_ELEMENTS", 97)
    assert np.array_equal(first, simulate(amounts, weights, 3000, seed=42))


def test_monte_carlo_sums_with_single_precision_rounding_only():
    assert simulate(np.array([1234567.89]), np.ones((1, 1)), 3, seed=0)[:, 0].tolist() == pytest.approx(
        [1234567.89] * 3, abs=1e-6
    )
    samples = simulate(np.array([1234567.89, 0.01]), np.array([[1.0], [1.0]]), 10, seed=0)
    assert samples[:, 0].tolist() == pytest.approx([1234567.90] * 10, rel=1e-7)


def test_monte_carlo_agrees_with_analytic_on_a_large_set():
    """Stated tolerance: the MC CDF at each analytic quantile is within DKW (99.99 %) + the estimated error of q."""
    rng = np.random.default_rng(2024)
    count, trials = 3000, 20_000
    amounts = np.round(rng.lognormal(8, 0.6, count), 2)
    weights = rng.choice([0.1, 0.25, 0.5, 0.75, 0.9], count)[:, None] * rng.dirichlet([2, 2, 2], count)
    analytic = revenue_forecast(amounts, weights, "analytic")
    samples = simulate(amounts, weights, trials, seed=9)
    monte_carlo = np.quantile(samples, fd.QUANTILES, axis=0, method="inverted_cdf")
    tolerance = mc_cdf_error(trials, confidence=0.9999) + analytic.cdf_error
    assert tolerance < 0.05
    for k in range(weights.shape[1]):
        for j, level in enumerate(fd.QUANTILES):
            estimate = analytic.quantiles[j, k]
            assert np.mean(samples[:, k] <= estimate + analytic.amount_error) >= level - tolerance
            assert np.mean(samples[:, k] < estimate - analytic.amount_error) <= level + tolerance
            assert monte_carlo[j, k] == pytest.approx(estimate, rel=0.01)
    assert samples.mean(axis=0) == pytest.approx(analytic.mean, rel=0.01)


def stage_pipeline(count, periods=12, seed=0):
    """Log-normal amounts in cents, stage probabilities, each deal spread over 3 consecutive periods."""
    rng = np.random.default_rng(seed)
    amounts = np.round(rng.lognormal(np.log(10_000) - 0.5, 1.0, count), 2)
    chances = rng.choice([0.1, 0.25, 0.5, 0.75, 0.9], count)
    weights = np.zeros((count, periods))
    first = rng.integers(0, periods, count)
    for offset, share in enumerate(rng.dirichlet([2, 2, 2], count).T):
        columns = np.minimum(first + offset, periods - 1)
        np.add.at(weights, (np.arange(count), columns), chances * share)
    return amounts, weights


def test_auto_picks_analytic_for_5000_deals_and_is_accurate():
    """5,000 deals x 12 periods: the estimated analytic error is below the Monte Carlo's, and real.

    Reference: an independent plain simulation of each checked period (40,000 trials); its own
    sampling error is allowed at 99.99 % (DKW).
    """
    amounts, weights = stage_pipeline(5000)
    result = revenue_forecast(amounts, weights, "auto")
    assert result.method == "analytic" and result.confidence == 1.0
    assert fd.analytic_error(amounts, weights, result.laws) <= mc_cdf_error(10_000)
    assert result.cdf_error <= result.cdf_bound / 10  # the estimate, far below Berry-Esseen
    assert len(result.laws) == 12
    rng = np.random.default_rng(77)
    trials = 40_000
    tolerance = mc_cdf_error(trials, confidence=0.9999)
    for k in (0, 5, 11):
        law = result.laws[k]
        column = weights[:, k]
        deals = column > 0
        samples = np.concatenate(
            [(rng.random((4000, deals.sum())) < column[deals]) @ amounts[deals] for _ in range(trials // 4000)]
        )
        assert samples.mean() == pytest.approx(result.mean[k], rel=0.01)
        for level in LEVELS:
            estimate = law.quantile(level)
            assert np.mean(samples <= estimate + law.amount_estimate) >= level - law.cdf_estimate - tolerance
            assert np.mean(samples < estimate - law.amount_estimate) <= level + law.cdf_estimate + tolerance


def lumpy_pipeline():
    """160 long shots of 1,000,000 among 3,000 deals of 1..20: 32 long shots fall in the normal part."""
    rng = np.random.default_rng(3)
    units = np.r_[np.full(160, 1_000_000), rng.integers(1, 21, 3000)]
    return units.astype(float), np.r_[np.full(160, 0.02), np.full(3000, 0.5)]


def test_auto_picks_monte_carlo_where_the_analytic_error_is_really_large():
    """The normal law stands for 32 long shots of 1,000,000 (a poor normal: the estimate is Berry-Esseen).

    Measured against the exact law (binomial large deals + the small ones by plain
    convolution), the analytic error in the rule's unit — CDF error at a tolerance ``d``
    plus ``d`` at the normal peak density, at the best ``d`` — is above the Monte Carlo's.
    """
    amounts, weights = lumpy_pipeline()
    analytic = revenue_forecast(amounts, weights[:, None], "analytic")
    law = analytic.laws[0]
    assert law.cdf_estimate == law.cdf_error  # not enough effective deals for the Edgeworth estimate
    small = lattice_law(amounts[160:], weights[160:])
    large = np.array([math.comb(160, j) * 0.02**j * 0.98 ** (160 - j) for j in range(161)])

    def true_cdf(x):
        index = np.floor(x[:, None] - 1_000_000 * np.arange(161)[None, :] + 1e-6).astype(np.int64)
        return np.where(index < 0, 0.0, np.cumsum(small)[np.clip(index, 0, small.size - 1)]) @ large

    def real_error_at(tolerance):  # a lower bound: checked at G's values and a sample of F's jumps
        approx = np.cumsum(law.pmf)
        jumps = (1_000_000 * np.arange(161)[:, None] + np.flatnonzero(small)[None, ::50]).ravel() + tolerance
        left = np.concatenate([[0.0], approx])[np.searchsorted(law.values, jumps, side="right")]
        return max(np.max(approx - true_cdf(law.values + tolerance)), np.max(true_cdf(jumps - tolerance) - left))

    density = fd.NORMAL_PEAK / np.sqrt(amounts**2 @ (weights * (1 - weights)))
    real = min(real_error_at(d) + d * density for d in np.linspace(0, 2 * law.amount_estimate, 9))
    assert real > 2 * mc_cdf_error(10_000)
    assert fd.analytic_error(amounts, weights[:, None], analytic.laws) >= real
    result = revenue_forecast(amounts, weights[:, None], "auto", trials=10_000, seed=4)
    assert result.method == "monte_carlo" and result.confidence == fd.MC_CONFIDENCE
    mc = result.laws[0]
    assert np.max(np.abs(np.cumsum(mc.pmf) - true_cdf(mc.values))) <= mc_cdf_error(10_000, confidence=0.9999)


def test_monte_carlo_is_capped_when_asked_for_and_never_chosen_past_the_cap(monkeypatch):
    amounts, weights = lumpy_pipeline()
    weights = weights[:, None]
    monkeypatch.setattr(fd, "MC_LIMIT", 3160 * 999)
    with pytest.raises(ValueError, match=r"3,160,000 opportunity-trials, more than the limit of 3,156,840: use fewer"):
        revenue_forecast(amounts, weights, "monte_carlo", trials=1000)
    assert revenue_forecast(amounts, weights, "monte_carlo", trials=999).method == "monte_carlo"
    assert revenue_forecast(amounts, weights, "auto", trials=1000).method == "analytic"  # past the cap: no error
    assert revenue_forecast(amounts, weights, "auto", trials=999).method == "monte_carlo"


def test_auto_keeps_exact_results():
    amounts, weights = random_set(1, 6)
    result = revenue_forecast(amounts, weights[:, None], "auto", trials=1_000_000)
    assert result.method == "analytic" and result.cdf_error == result.amount_error == 0


def test_monte_carlo_laws_are_the_samples_frequencies():
    amounts, weights = random_set(5, 40)
    weights = np.stack([weights * 0.5, weights * 0.3], axis=1)
    result = revenue_forecast(amounts, weights, "monte_carlo", trials=3000, seed=8)
    samples = simulate(amounts, weights, 3000, seed=8)
    for k, law in enumerate(result.laws):
        counts = Counter(samples[:, k].tolist())
        assert law.values.tolist() == sorted(counts)
        assert law.pmf.tolist() == pytest.approx([counts[value] / 3000 for value in sorted(counts)])
        assert (law.cdf_error, law.amount_error) == (mc_cdf_error(3000), 0.0)
    assert np.array_equal(result.quantiles, np.quantile(samples, fd.QUANTILES, axis=0, method="inverted_cdf"))


def test_analytic_laws_are_the_periods_distributions():
    amounts, weights = stage_pipeline(300, periods=3)
    result = revenue_forecast(amounts, weights, "analytic", levels=(0.05, 0.5))
    for k, law in enumerate(result.laws):
        alone = analytic_distribution(amounts, weights[:, k])
        assert np.array_equal(law.values, alone.values) and np.array_equal(law.pmf, alone.pmf)
        assert result.quantiles[:, k].tolist() == [alone.quantile(0.05), alone.quantile(0.5)]
    assert result.cdf_bound == max(law.cdf_error for law in result.laws)
    assert result.amount_error == max(law.amount_estimate for law in result.laws)


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown method"):
        revenue_forecast(np.ones(1), np.ones((1, 1)), "magic")


def test_dkw_bound():
    assert mc_cdf_error(10_000) == pytest.approx(0.01358, abs=1e-5)


# --- empirical laws and stated dates --------------------------------------------------


def test_empirical_distribution_is_the_samples_frequencies():
    law = empirical_distribution(np.array([3.0, 1.0, 2.0, 2.0]))
    assert law.values.tolist() == [1.0, 2.0, 3.0] and law.pmf.tolist() == [0.25, 0.5, 0.25]
    assert (law.lower, law.upper, law.quantile(0.5)) == (1.0, 3.0, 2.0)
    assert law.cdf_error == pytest.approx(math.sqrt(math.log(2 / 0.05) / 8)) and law.amount_error == 0.0
    ranged = empirical_distribution(np.array([[5.0], [7.0]]), confidence=0.99, lower=0.0, upper=10.0)
    assert (ranged.values.tolist(), ranged.lower, ranged.upper) == ([5.0, 7.0], 0.0, 10.0)
    assert ranged.quantile(0.5) == 5.0 and ranged.cdf_error == pytest.approx(math.sqrt(math.log(2 / 0.01) / 4))
    with pytest.raises(ValueError, match="no samples"):
        empirical_distribution(np.zeros(0))


def test_overdue_or_empty_expected_dates_are_due_on_the_as_of_day():
    expected = np.array([1015.0, 900.0, np.nan, 1200.0, 1000.0])
    assert due_days(expected, 1000).tolist() == [1015, 1000, 1000, 1200, 1000]
