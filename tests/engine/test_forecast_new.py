"""Revenue from opportunities not created yet, against worlds whose law is known.

The worlds are drawn here with their own generator (``make_world``): every group of
opportunities arrives as a Poisson process (``rate`` a day), each opportunity is won with
probability ``win`` after a whole number of days uniform in ``won_ages`` (lost after one
uniform in ``lost_ages``), and its amount at closing is log-normal. The truth (expected
wins per period, realised revenue) is computed from that law with plain loops, never with
the engine's helpers. Laws are checked against brute-force enumerations and Monte Carlo.
"""

import itertools
import math
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pytest

from engine.forecast_distribution import Distribution, analytic_distribution, empirical_distribution
from engine.forecast_history import PipelineIndex, prepare_pipeline
from engine.forecast_new import (
    PRIOR_CLOSINGS,
    PRIOR_WINS,
    SUM_CELLS,
    NewPipelineModel,
    compound_poisson,
    expected_revenue,
    expected_wins,
    per_period_laws,
    sum_laws,
)
from engine.forecast_periods import add_periods, day_number, period_boundaries, periods_between

from law_oracles import assert_within_error, lattice_law, real_cdf_error

LEVELS = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
WORLDS = 100  # independent realisations of the coverage test (x 12 periods)


# --- worlds -------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """One kind of opportunity and its true law."""

    type: str
    team: str
    rate: float  # new opportunities a day (Poisson)
    win: float  # probability of being won
    won_ages: tuple[int, int]  # days from creation to a win, uniform, both ends included
    lost_ages: tuple[int, int]  # days from creation to a loss, uniform, both ends included
    amount: float  # mean amount at closing (log-normal)
    sigma: float = 0.8

    def wins_in(self, first: int, start: int, stop: int) -> float:
        """Expected wins in days ``[start, stop)`` of the leads created on days ``>= first`` (plain loop)."""
        low, high = self.won_ages
        total = 0.0
        for day in range(first, stop):
            ages = max(0, min(high, stop - 1 - day) - max(low, start - day) + 1)
            total += self.rate * self.win * ages / (high - low + 1)
        return total


TEAM_A = Group("new_business", "team_a", 6.0, 0.3, (3, 75), (0, 45), 8_000.0)
TEAM_B = Group("upsell", "team_b", 2.0, 0.5, (10, 120), (1, 60), 20_000.0, 0.5)


@dataclass(frozen=True)
class World:
    """Opportunities drawn from ``groups`` on days ``[first, last)``: one entry per lead."""

    group: np.ndarray
    created: np.ndarray
    won: np.ndarray
    closed: np.ndarray
    opening_amount: np.ndarray
    amount: np.ndarray  # at closing
    groups: tuple[Group, ...]
    last: int


def make_world(groups: tuple[Group, ...], first: int, last: int, seed: int) -> World:
    rng = np.random.default_rng(seed)
    parts = defaultdict(list)
    for number, group in enumerate(groups):
        created = np.repeat(np.arange(first, last), rng.poisson(group.rate, last - first))
        count = created.size
        won = rng.random(count) < group.win
        ages = np.where(
            won,
            rng.integers(group.won_ages[0], group.won_ages[1] + 1, count),
            rng.integers(group.lost_ages[0], group.lost_ages[1] + 1, count),
        )
        amount = np.round(rng.lognormal(np.log(group.amount) - group.sigma**2 / 2, group.sigma, count), 2)
        parts["group"].append(np.full(count, number))
        parts["created"].append(created)
        parts["won"].append(won)
        parts["closed"].append(created + ages)
        parts["opening_amount"].append(np.round(amount * rng.uniform(0.5, 1.5, count), 2))
        parts["amount"].append(amount)
    return World(**{name: np.concatenate(values) for name, values in parts.items()}, groups=groups, last=last)


def history_rows(world: World, before: int | None = None) -> dict:
    """The world as pipeline-history input: a creation row and, once closed, a closing row.

    Rows dated on or after ``before`` are left out (all rows when ``None``); closings after
    the world's last day have not happened.
    """
    limit = world.last if before is None else min(world.last, before)
    ids = np.arange(1, world.created.size + 1)
    opened = world.created < limit
    closed = world.closed < limit
    types = np.array([group.type for group in world.groups], dtype=object)[world.group]
    teams = np.array([group.team for group in world.groups], dtype=object)[world.group]
    won = np.where(world.won, True, False).astype(object)
    return {
        "lead_id": np.concatenate([ids[opened], ids[closed]]),
        "date": np.concatenate([world.created[opened], world.closed[closed]]).astype("datetime64[D]"),
        "amount": np.concatenate([world.opening_amount[opened], world.amount[closed]]),
        "probability": np.concatenate([np.full(opened.sum(), 20.0), np.where(world.won[closed], 100.0, 0.0)]),
        "won": np.concatenate([np.full(opened.sum(), None, dtype=object), won[closed]]),
        "type": np.concatenate([types[opened], types[closed]]),
        "team": np.concatenate([teams[opened], teams[closed]]),
    }


def realised_from_new(world: World, as_of: int, boundaries: np.ndarray) -> np.ndarray:
    """Revenue won in each period by the leads created on or after ``as_of``."""
    revenue = np.zeros(len(boundaries) - 1)
    for created, won, closed, amount in zip(world.created, world.won, world.closed, world.amount, strict=True):
        if created >= as_of and won:
            for k in range(len(boundaries) - 1):
                if boundaries[k] <= closed < boundaries[k + 1]:
                    revenue[k] += amount
    return revenue


def true_wins(groups: tuple[Group, ...], as_of: int, boundaries: np.ndarray) -> np.ndarray:
    return np.array([[group.wins_in(as_of, a, b) for a, b in itertools.pairwise(boundaries)] for group in groups])


def fit(rows: dict | None, as_of: int, **options) -> NewPipelineModel:
    return NewPipelineModel.fit(PipelineIndex.build(prepare_pipeline(rows)), as_of, **options)


def months(first: date, count: int) -> np.ndarray:
    """Boundaries (day numbers) of ``count`` calendar months from the one holding ``first``."""
    return period_boundaries(periods_between(first, add_periods(first, count - 1, "month"), "month"))


# --- oracles ------------------------------------------------------------------------


def brute_sum(first: Distribution, second: Distribution) -> tuple[np.ndarray, np.ndarray]:
    law = defaultdict(float)
    for x, p in zip(first.values.tolist(), first.pmf.tolist(), strict=True):
        for y, q in zip(second.values.tolist(), second.pmf.tolist(), strict=True):
            law[round(x + y, 6)] += p * q
    values = np.array(sorted(law))
    return values, np.array([law[value] for value in values])


def poisson_pmf(mean: float, count: int) -> float:
    return math.exp(-mean) * mean**count / math.factorial(count)


def mean_of(law: Distribution) -> float:
    return float(law.values @ law.pmf)


# --- the model against a known world -----------------------------------------------


def test_expected_wins_and_win_curve_match_the_world():
    """Four worlds of 32 new opportunities a day: fitted rates, win curves and expected wins."""
    as_of = day_number(date(2025, 1, 1))
    groups = (replace(TEAM_A, rate=24.0), replace(TEAM_B, rate=8.0))
    boundaries = months(date(2025, 1, 1), 12)
    truth = true_wins(groups, as_of, boundaries)
    keys = [(group.type, group.team) for group in groups]
    fitted, revenue = [], []
    for seed in range(4):
        world = make_world(groups, as_of - 730, as_of + 400, seed=seed)
        model = fit(history_rows(world), as_of, lookback_days=730)
        fitted.append([expected_wins(model, as_of, boundaries, groups=[key]) for key in keys])
        revenue.append(expected_revenue(model, as_of, boundaries))
        for key, group in zip(keys, groups, strict=True):
            number = model.groups.index(key)
            assert model.rates[number] == pytest.approx(group.rate, rel=0.03)
            low, high = group.won_ages
            ages = np.arange(200)
            true_curve = group.win * np.clip((ages - low + 1) / (high - low + 1), 0, 1)
            curve = model.won_by_age[number]
            assert np.abs(curve[np.minimum(ages, curve.size - 1)] - true_curve).max() < 0.02
        total = expected_wins(model, as_of, boundaries)
        np.testing.assert_allclose(np.sum(fitted[-1], axis=0), total)  # the groups add up
        # one world alone: a few % off (the first month's wins depend on the curve's first weeks)
        np.testing.assert_allclose(total, truth.sum(axis=0), rtol=0.08)
    # on average over the worlds: within 4 % per group and period
    np.testing.assert_allclose(np.mean(fitted, axis=0), truth, rtol=0.04)
    true_revenue = np.array([group.amount for group in groups]) @ truth
    np.testing.assert_allclose(np.mean(revenue, axis=0), true_revenue, rtol=0.04)


def test_from_new_p10_p90_band_holds_80_percent_of_realised_revenue():
    """``WORLDS`` independent worlds x 12 months, as of mid-month (a partial first period)."""
    as_of = day_number(date(2025, 1, 16))
    boundaries = months(date(2025, 1, 1), 12)
    below, above, realised_total, expected_total = [], [], 0.0, 0.0
    for seed in range(WORLDS):
        world = make_world((TEAM_A, TEAM_B), as_of - 400, int(boundaries[-1]), seed=1000 + seed)
        model = fit(history_rows(world, before=as_of), as_of)  # the future is the truth, not an input
        realised = realised_from_new(world, as_of, boundaries)
        for law, actual in zip(per_period_laws(model, as_of, boundaries), realised, strict=True):
            below.append(actual < law.quantile(0.1))
            above.append(actual > law.quantile(0.9))
        realised_total += realised.sum()
        expected_total += expected_revenue(model, as_of, boundaries).sum()
    coverage = 1.0 - np.mean(below) - np.mean(above)
    print(f"from-new coverage {coverage:.3f} ({np.mean(below):.3f} below P10, {np.mean(above):.3f} above P90)")
    assert 0.7 <= coverage <= 0.9
    assert 0.05 <= np.mean(below) <= 0.15 and 0.05 <= np.mean(above) <= 0.15  # not lopsided
    assert realised_total == pytest.approx(expected_total, rel=0.03)


def test_aalen_johansen_and_expected_wins_by_hand():
    """Four leads: A won at age 2, B lost at age 1, C still open (seen up to age 1), D won at age 4."""
    rows = [
        {"lead_id": "A", "date": "1970-01-01", "amount": 100, "probability": 10, "won": None},
        {"lead_id": "A", "date": "1970-01-03", "amount": 300, "probability": 100, "won": True},
        {"lead_id": "B", "date": "1970-01-01", "amount": 100, "probability": 10, "won": None},
        {"lead_id": "B", "date": "1970-01-02", "amount": 100, "probability": 0, "won": False},
        {"lead_id": "C", "date": "1970-01-04", "amount": 100, "probability": 10, "won": None},
        {"lead_id": "D", "date": "1970-01-01", "amount": 100, "probability": 10, "won": None},
        {"lead_id": "D", "date": "1970-01-05", "amount": 500, "probability": 100, "won": True},
    ]
    model = fit(rows, 5, lookback_days=None)  # days 0..4 are known
    # at risk 4, 4, 2, 1, 1; a loss at 1 (S = 3/4), a win at 2 (3/4 * 1/2), a win at 4 (3/8 * 1)
    np.testing.assert_allclose(model.won_by_age[0], [0, 0, 3 / 8, 3 / 8, 3 / 4])
    assert model.rates[0] == pytest.approx(4 / 5)
    np.testing.assert_allclose(model.amounts, [300, 500])
    np.testing.assert_allclose(model.amount_weights[0], [0.5, 0.5])
    # days 5, 6, 7: a lead arriving on day 5 is won by day 7 with F(2) = 3/8, later ones cannot be
    assert expected_wins(model, 5, np.array([5, 8]))[0] == pytest.approx(0.8 * 3 / 8)
    # days 5..9: arrivals on 5, 6, 7 reach F(4), F(3), F(2)
    assert expected_wins(model, 5, np.array([5, 10]))[0] == pytest.approx(0.8 * (3 / 4 + 3 / 8 + 3 / 8))
    assert expected_revenue(model, 5, np.array([5, 8]))[0] == pytest.approx(0.8 * 3 / 8 * 400)


def test_nothing_dated_on_or_after_as_of_is_used():
    as_of = day_number(date(2025, 3, 1))
    world = make_world((TEAM_A, TEAM_B), as_of - 300, as_of + 200, seed=3)
    full = history_rows(world)
    # more changes after as_of: leads won before it reopened and re-priced, a new group, a closing on as_of
    won_before = np.flatnonzero(world.won & (world.closed < as_of))[:50] + 1
    extra = {
        "lead_id": np.concatenate([won_before, won_before, [10**6]]),
        "date": np.array([as_of] * len(won_before) + [as_of + 5] * len(won_before) + [as_of], dtype="datetime64[D]"),
        "amount": np.concatenate([np.full(len(won_before), 1e6), np.full(len(won_before), 2e6), [5.0]]),
        "probability": np.concatenate([np.full(2 * len(won_before), 50.0), [10.0]]),
        "won": np.array([None] * len(won_before) + [False] * len(won_before) + [None], dtype=object),
        "type": np.array(["other"] * (2 * len(won_before) + 1), dtype=object),
        "team": np.array(["team_z"] * (2 * len(won_before) + 1), dtype=object),
    }
    with_future = {name: np.concatenate([full[name], extra[name]]) for name in full}
    past_only = fit(history_rows(world, before=as_of), as_of)
    assert past_only.groups
    for model in (fit(full, as_of), fit(with_future, as_of)):
        assert model.groups == past_only.groups
        assert model.window == past_only.window
        for name in ("arrivals", "rates", "closings", "wins", "won_by_age", "amounts", "amount_weights"):
            np.testing.assert_array_equal(getattr(model, name), getattr(past_only, name), err_msg=name)


@pytest.mark.parametrize("rows", [None, "after", "no wins"])
def test_no_history_means_nothing_from_new(rows):
    as_of = day_number(date(2025, 1, 1))
    table = {
        None: None,
        "after": [{"lead_id": 1, "date": "2025-01-01", "amount": 100, "probability": 50, "won": True}],
        "no wins": [
            {"lead_id": 1, "date": "2024-11-01", "amount": 100, "probability": 50, "won": None},
            {"lead_id": 1, "date": "2024-12-01", "amount": 100, "probability": 50, "won": False},
        ],
    }[rows]
    model = fit(table, as_of)
    boundaries = months(date(2025, 1, 1), 12)
    assert model.groups == ()
    laws = per_period_laws(model, as_of, boundaries)
    assert len(laws) == 12
    for law in laws:
        assert [law.quantile(level) for level in (0.1, 0.5, 0.9)] == [0.0, 0.0, 0.0]
        assert law.cdf_error == law.amount_error == 0.0
    assert not expected_wins(model, as_of, boundaries).any()
    assert not expected_revenue(model, as_of, boundaries).any()


def test_thin_groups_are_shrunk_to_the_overall_estimate():
    as_of = day_number(date(2025, 1, 1))
    world = make_world((TEAM_A, TEAM_B), as_of - 500, as_of, seed=11)
    rows = history_rows(world)
    thin = {  # one lead won, one lost, in a group of their own
        "lead_id": np.array([-1, -1, -2, -2]),
        "date": np.array([as_of - 100, as_of - 90, as_of - 100, as_of - 99], dtype="datetime64[D]"),
        "amount": np.array([1e6, 1e6, 10.0, 10.0]),
        "probability": np.array([50.0, 100.0, 50.0, 0.0]),
        "won": np.array([None, True, None, False], dtype=object),
        "type": np.array(["rare"] * 4, dtype=object),
        "team": np.array([None] * 4, dtype=object),
    }
    rows = {name: np.concatenate([rows[name], thin[name]]) for name in rows}
    model = fit(rows, as_of)
    single = fit({**rows, "type": np.full(len(rows["type"]), None), "team": np.full(len(rows["team"]), None)}, as_of)
    rare = model.groups.index(("rare", None))
    assert model.closings[rare] == 2 and model.wins[rare] == 1
    overall = single.won_by_age[0]
    # its own curve differs from the overall by at most 1: shrunk with 2 closings against the pseudo-closings
    assert np.abs(model.won_by_age[rare] - overall).max() <= 2 / (2 + PRIOR_CLOSINGS) + 1e-12
    won_once = np.searchsorted(model.amounts, 1e6)
    shrunk = (1 + PRIOR_WINS * single.amount_weights[0, won_once]) / (1 + PRIOR_WINS)
    assert model.amount_weights[rare, won_once] == pytest.approx(shrunk)
    np.testing.assert_allclose(model.amount_weights.sum(axis=1), 1.0)
    # the big groups keep (nearly) their own curves: team_b wins more than the average
    team_b = model.groups.index(("upsell", "team_b"))
    assert model.won_by_age[team_b, -1] > overall[-1] + 0.1


def test_fit_and_twelve_laws_are_fast():
    """About 300 new opportunities a month over two years: fit and 12 monthly laws."""
    as_of = day_number(date(2025, 1, 16))
    world = make_world((replace(TEAM_A, rate=7.5), replace(TEAM_B, rate=2.5)), as_of - 730, as_of, seed=5)
    index = PipelineIndex.build(prepare_pipeline(history_rows(world)))
    boundaries = months(date(2025, 1, 1), 12)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        laws = per_period_laws(NewPipelineModel.fit(index, as_of), as_of, boundaries)
        timings.append(time.perf_counter() - start)
    assert len(laws) == 12
    assert min(timings) < 0.1, timings  # about 20 ms on a laptop; generous for loaded test machines


# --- compound Poisson laws ----------------------------------------------------------


def test_compound_poisson_on_a_common_unit_is_exact():
    values, rates = np.array([100.0, 250.0, 400.0]), np.array([0.5, 1.2, 0.3])
    law = defaultdict(float)
    for counts in itertools.product(range(30), repeat=3):
        probability = math.prod(poisson_pmf(rate, count) for rate, count in zip(rates, counts, strict=True))
        law[sum(value * count for value, count in zip(values, counts, strict=True))] += probability
    result = compound_poisson(values, rates)
    assert result.amount_error == 0.0 and result.cdf_error < 1e-9
    found = dict(zip(result.values.tolist(), result.pmf.tolist(), strict=True))
    for value, probability in law.items():
        assert found.get(value, 0.0) == pytest.approx(probability, abs=1e-12)
    assert mean_of(result) == pytest.approx(values @ rates, rel=1e-12)


def test_compound_poisson_on_a_grid_stays_within_its_error():
    rng = np.random.default_rng(2)
    values = np.round(rng.lognormal(8.5, 1.0, 400), 2)
    rates = rng.random(400) * 40 / 200  # 40 wins expected
    result = compound_poisson(values, rates)
    assert 0 < result.amount_error < 0.01 * (values @ rates)
    assert result.cdf_error < 1e-8
    assert abs(mean_of(result) - values @ rates) <= result.amount_error
    # Monte Carlo oracle: counts, then amounts drawn one by one
    trials = 100_000
    counts = rng.poisson(rates.sum(), trials)
    drawn = rng.choice(values, counts.sum(), p=rates / rates.sum())
    samples = np.add.reduceat(np.r_[drawn, 0.0], np.r_[0, np.cumsum(counts)[:-1]])
    samples[counts == 0] = 0.0
    sampling = math.sqrt(math.log(2 / 1e-4) / (2 * trials))  # DKW at 99.99 %
    ordered = np.sort(samples)
    assert_within_error(result, ordered, np.full(trials, 1 / trials), slack=sampling)


def test_compound_poisson_of_nothing_is_zero():
    for values, rates in (([], []), ([100.0], [0.0]), ([0.0], [3.0])):
        law = compound_poisson(np.array(values), np.array(rates))
        assert law.values.tolist() == [0.0] and law.pmf.tolist() == [1.0]


# --- sums and samples ---------------------------------------------------------------


def test_sum_laws_small_is_exact():
    rng = np.random.default_rng(4)
    first = Distribution(np.sort(rng.choice(1000, 5, replace=False) * 10.0), rng.dirichlet(np.ones(5)), upper=1e4)
    second = Distribution(np.sort(rng.choice(1000, 7, replace=False) * 3.5), rng.dirichlet(np.ones(7)), upper=4e3)
    total = sum_laws(first, second)
    values, pmf = brute_sum(first, second)
    np.testing.assert_allclose(total.values, values)
    np.testing.assert_allclose(total.pmf, pmf, atol=1e-15)
    assert mean_of(total) == pytest.approx(mean_of(first) + mean_of(second), rel=1e-12)
    assert total.cdf_error == total.amount_error == 0.0
    assert (total.lower, total.upper) == (0.0, 1.4e4)


def test_sum_laws_on_a_grid_stays_within_its_error():
    rng = np.random.default_rng(6)
    first = Distribution(np.sort(rng.random(400) * 1e5), rng.dirichlet(np.ones(400)), upper=1e5)
    second = Distribution(np.sort(rng.random(300) * 3e4 + 5e3), rng.dirichlet(np.ones(300)), upper=3.5e4)
    total = sum_laws(first, second)
    values = np.add.outer(first.values, second.values).ravel()
    pmf = np.outer(first.pmf, second.pmf).ravel()
    order = np.argsort(values)
    span = first.values[-1] - first.values[0] + second.values[-1] - second.values[0]
    assert 0 < total.amount_error <= span / (SUM_CELLS - 1)
    assert abs(mean_of(total) - (mean_of(first) + mean_of(second))) <= total.amount_error
    assert_within_error(total, values[order], pmf[order])


def test_open_pipeline_plus_new_matches_monte_carlo():
    """The total law (open pipeline + from new) against a direct simulation of both."""
    rng = np.random.default_rng(8)
    amounts, weights = np.round(rng.lognormal(9, 1, 300), 2), rng.random(300) * 0.3
    values, rates = np.round(rng.lognormal(8.5, 0.8, 200), 2), rng.random(200) * 0.2
    open_law, new_law = analytic_distribution(amounts, weights), compound_poisson(values, rates)
    total = sum_laws(open_law, new_law)
    assert total.cdf_error >= open_law.cdf_error + new_law.cdf_error
    assert total.amount_error >= open_law.amount_error + new_law.amount_error
    trials = 40_000
    samples = (rng.random((trials, 300)) < weights) @ amounts + rng.poisson(rates, (trials, 200)) @ values
    sampling = math.sqrt(math.log(2 / 1e-4) / (2 * trials))
    assert_within_error(total, np.sort(samples), np.full(trials, 1 / trials), slack=sampling)
    exact_mean = amounts @ weights + values @ rates
    assert abs(mean_of(total) - exact_mean) <= total.amount_error + 1e-6 * exact_mean


def test_sum_with_samples_and_point_masses():
    law = empirical_distribution(np.array([3.0, 1.0, 2.0, 2.0]))
    shifted = sum_laws(law, Distribution(np.array([10.0]), np.ones(1), lower=10.0, upper=10.0))
    np.testing.assert_array_equal(shifted.values, [11.0, 12.0, 13.0])
    np.testing.assert_array_equal(shifted.pmf, [0.25, 0.5, 0.25])
    assert (shifted.lower, shifted.upper) == (11.0, 13.0)
    assert (shifted.cdf_error, shifted.cdf_estimate) == (law.cdf_error, law.cdf_error)


def test_sum_laws_adds_the_estimates_like_the_bounds_and_they_cover_the_real_error():
    """A normal-part law (estimates far below its bounds) plus an exact compound Poisson law, on the grid.

    The truth: the open deals' lattice law convolved with the compound Poisson law enumerated
    by brute force over the Poisson counts.
    """
    rng = np.random.default_rng(5)
    units, weights = np.maximum(1, np.rint(rng.lognormal(2, 1.0, 3000))), rng.uniform(0.05, 0.95, 3000)
    open_law = analytic_distribution(units, weights)
    assert open_law.cdf_estimate < open_law.cdf_error / 10
    values, rates = np.array([300.0, 700.0, 1100.0]), np.array([2.0, 1.0, 0.5])
    new_law = compound_poisson(values, rates)
    total = sum_laws(open_law, new_law)
    rounding = total.amount_error - open_law.amount_error - new_law.amount_error
    assert 0 < rounding <= (total.values[-1] - total.values[0]) / (SUM_CELLS - 1) * 1.01  # the grid was used
    assert total.amount_estimate == pytest.approx(open_law.amount_estimate + new_law.amount_estimate + rounding)
    assert total.cdf_estimate == pytest.approx(open_law.cdf_estimate + new_law.cdf_estimate, abs=1e-11)
    assert total.cdf_error == pytest.approx(open_law.cdf_error + new_law.cdf_error, abs=1e-11)
    assert total.cdf_estimate < total.cdf_error / 10
    new_truth = defaultdict(float)
    for counts in itertools.product(range(40), range(30), range(25)):
        probability = math.prod(poisson_pmf(rate, count) for rate, count in zip(rates, counts, strict=True))
        new_truth[int(values @ counts)] += probability
    new_pmf = np.zeros(max(new_truth) + 1)
    new_pmf[list(new_truth)] = list(new_truth.values())
    truth = np.convolve(lattice_law(units, weights), new_pmf)
    assert real_cdf_error(total, truth, total.amount_error) <= total.cdf_error + 1e-9
    assert real_cdf_error(total, truth, total.amount_estimate) <= total.cdf_estimate + 1e-9
    assert real_cdf_error(total, truth, 0.0) > total.cdf_estimate  # without the grid's rounding it would not


def test_sum_laws_of_laws_without_estimates_keeps_the_bounds_as_estimates():
    rng = np.random.default_rng(6)
    first = Distribution(np.sort(rng.random(400) * 1e5), rng.dirichlet(np.ones(400)), 0.01, 20.0, upper=1e5)
    second = Distribution(np.sort(rng.random(300) * 3e4), rng.dirichlet(np.ones(300)), 0.02, 5.0, upper=3e4)
    total = sum_laws(first, second)
    assert (total.cdf_estimate, total.amount_estimate) == (total.cdf_error, total.amount_error)
    assert total.amount_error > 25.0  # the grid's rounding is in both
