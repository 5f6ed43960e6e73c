"""The revenue distribution: analytic against brute force, Monte Carlo against both, slips."""

import itertools
from collections import defaultdict

import numpy as np
import pytest

from engine import forecast_distribution as fd
from engine.forecast_distribution import (
    analytic_distribution,
    due_days,
    historical_slips,
    landing_probabilities,
    mc_cdf_error,
    revenue_forecast,
    simulate,
)

LEVELS = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


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


def below(values, pmf, amount):
    """P(X < amount) for the exact law."""
    return pmf[values < amount].sum()


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


def assert_quantiles_within_stated_error(law, values, pmf):
    """F(x + d) >= q - e and P(X < x - d) <= q + e for the analytic quantile x (d, e: stated errors)."""
    slack = 1e-9
    for level in LEVELS:
        estimate = law.quantile(level)
        assert at_most(values, pmf, estimate + law.amount_error + slack) >= level - law.cdf_error - slack
        assert below(values, pmf, estimate - law.amount_error - slack) <= level + law.cdf_error + slack


@pytest.mark.parametrize("seed", range(6))
def test_rounded_grid_stays_within_its_stated_amount_error(seed):
    amounts, weights = random_set(200 + seed, 12, cents=True)
    law = analytic_distribution(amounts, weights, sparse_limit=1, grid_size=64)
    assert law.cdf_error == 0 and law.amount_error > 0
    assert_quantiles_within_stated_error(law, *brute_force(amounts, weights))


@pytest.mark.parametrize("seed", range(6))
def test_normal_part_stays_within_its_berry_esseen_bound(seed):
    amounts, weights = random_set(300 + seed, 12, cents=True)
    law = analytic_distribution(amounts, weights, exact_limit=4)
    assert 0 < law.cdf_error <= 1
    assert_quantiles_within_stated_error(law, *brute_force(amounts, weights))


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
    """Stated tolerance: the MC CDF at each analytic quantile is within DKW (99.99 %) + Berry-Esseen of q."""
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


def test_auto_uses_exact_analytic_for_small_sets_and_analytic_beyond_the_budget(monkeypatch):
    amounts, weights = random_set(1, 6)
    assert revenue_forecast(amounts, weights[:, None], "auto").method == "analytic"
    rng = np.random.default_rng(0)
    many = rng.lognormal(8, 1, 1000), rng.choice([0.2, 0.8], 1000)[:, None]
    assert revenue_forecast(*many, "auto", trials=1000).method == "monte_carlo"  # bound above DKW, affordable
    monkeypatch.setattr(fd, "MC_BUDGET", 10_000)
    assert revenue_forecast(*many, "auto", trials=1000).method == "analytic"  # too big for the budget


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown method"):
        revenue_forecast(np.ones(1), np.ones((1, 1)), "magic")


def test_dkw_bound():
    assert mc_cdf_error(10_000) == pytest.approx(0.01358, abs=1e-5)


# --- slip model -----------------------------------------------------------------------

AS_OF = 1000
BOUNDARIES = np.array([990, 1010, 1030, 1050, 1070])  # four 20-day periods; as-of day in the first


def test_slips_come_from_won_rows_with_both_dates():
    expected = np.array([10.0, 20.0, np.nan, 40.0, 50.0])
    closed = np.array([15.0, 18.0, 30.0, np.nan, 80.0])
    won = np.array([True, True, True, True, False])
    assert historical_slips(expected, closed, won).tolist() == [-2, 5]


def test_without_history_there_is_no_slip_and_overdue_or_empty_dates_move_to_as_of():
    expected = np.array([1015.0, 900.0, np.nan, 1200.0])
    landing = landing_probabilities(expected, AS_OF, np.zeros(0, dtype=np.int64), BOUNDARIES)
    assert landing.tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    assert due_days(expected, AS_OF).tolist() == [1015, 1000, 1000, 1200]


def test_slip_is_drawn_among_those_closing_on_or_after_as_of():
    slips = np.array([-5, 0, 10, 40])
    landing = landing_probabilities(np.array([1020.0]), AS_OF, slips, BOUNDARIES)[0]
    assert landing.tolist() == pytest.approx([0, 0.5, 0.25, 0.25])  # closes at 1015, 1020, 1030, 1060
    near = landing_probabilities(np.array([1003.0]), AS_OF, slips, BOUNDARIES)[0]
    assert near.tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0])  # 1003, 1013, 1043; 998 is before as-of


def test_overdue_deal_takes_only_the_longer_slips_or_closes_on_as_of():
    slips = np.array([-5, 0, 10, 40])
    landing = landing_probabilities(np.array([980.0, 900.0]), AS_OF, slips, BOUNDARIES)
    assert landing[0].tolist() == [0, 1, 0, 0]  # 20 days overdue: only the 40-day slip -> day 1020
    assert landing[1].tolist() == [1, 0, 0, 0]  # 100 days overdue: no slip that long -> as-of day


def test_weights_beyond_the_range_are_dropped():
    landing = landing_probabilities(np.array([1060.0]), AS_OF, np.array([0, 20]), BOUNDARIES)
    assert landing.tolist() == [[0, 0, 0, 0.5]]
