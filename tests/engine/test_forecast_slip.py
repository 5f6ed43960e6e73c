"""The slip model against worlds whose slip law is known (``worlds_slip``) and plain loops."""

import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from engine.forecast_history import prepare_pipeline
from engine.forecast_periods import period_boundaries, periods_between
from engine.forecast_slip import PSEUDO_LEADS, SlipModel, fit_slip_model

from worlds_slip import World, day_of, slip_world, uniform_tail

AS_OF = date(2025, 1, 15)
BOUNDARIES = period_boundaries(periods_between(AS_OF, date(2025, 12, 31), "month"))
FAR = 10**6


def fit(rows: pd.DataFrame, as_of: int, snapshot_days=None) -> SlipModel:
    return fit_slip_model(prepare_pipeline(rows), as_of, snapshot_days)


def true_landing(world: World, deals: np.ndarray, low: int, high: int, period: int) -> np.ndarray:
    """P(close in ``period`` | slip >= as_of - expected) under the uniform slip law ``[low, high]``."""
    expected = world.expected[deals]
    overdue = world.as_of - expected
    start = np.maximum(BOUNDARIES[period] - expected, overdue)
    inside = uniform_tail(low, high, start, BOUNDARIES[period + 1] - expected)
    return inside / uniform_tail(low, high, overdue, np.full(overdue.size, FAR))


def model_amount(model: SlipModel, world: World, deals: np.ndarray, period: int) -> float:
    """Expected won amount landing in ``period``: sum of amount x p' x q."""
    expected = np.where(world.dated[deals], world.expected[deals], np.nan)
    created = world.created[deals].astype(np.float64)
    q, _beyond = model.landing(expected, created, world.as_of, BOUNDARIES)
    adjusted = model.adjusted_probability(100 * world.probability[deals], expected, created, world.as_of) / 100
    return float(world.amount[deals] @ (adjusted * q[:, period]))


def total_variation(first: tuple, second: tuple) -> np.ndarray:
    """Per deal, half the L1 distance of two landings (periods and beyond)."""
    (q1, beyond1), (q2, beyond2) = first, second
    return 0.5 * (np.abs(q1 - q2).sum(axis=1) + np.abs(beyond1 - beyond2))


@pytest.fixture(scope="module")
def year():
    """One year of history, slips uniform on -20..60, 20,000 deals; rows after as_of too."""
    world = slip_world(20_000, AS_OF, days=365, won_slip=(-20, 60), after_days=60, seed=1)
    return world, fit(world.rows, world.as_of)


# --- the law is recovered -------------------------------------------------------------------


@pytest.mark.parametrize("period", [0, 1, 2])
def test_won_amount_landing_per_month_is_within_3_percent_of_the_truth(year, period):
    world, model = year
    deals = np.flatnonzero(world.open_at_as_of)
    truth = float(world.amount[deals] @ (world.probability[deals] * true_landing(world, deals, -20, 60, period)))
    assert model_amount(model, world, deals, period) == pytest.approx(truth, rel=0.03)


def test_summary_keeps_the_old_keys_and_reads_the_uniform_law(year):
    _world, model = year
    summary = model.summary()
    assert {"count", "median_days", "p10_days", "p90_days", "observations", "censored", "shrinkage"} <= set(summary)
    # uniform on -20..60: quantiles -12, 20, 52
    assert summary["p10_days"] == pytest.approx(-12, abs=2)
    assert summary["median_days"] == pytest.approx(20, abs=2)
    assert summary["p90_days"] == pytest.approx(52, abs=2)
    assert summary["count"] == summary["won"] > 1000 and summary["censored"] > 1000
    assert all(isinstance(value, int | float | dict) for value in summary.values())


def test_censoring_matters_closed_only_observations_are_biased():
    """Slips up to 120 days, one year of history: long slips are still open at as_of.

    The model (censored observations kept) is within 3 %; the same estimator fed only the
    deals closed by as_of (as learning from closed deals does) puts > 7 % too much in the
    current month.
    """
    world = slip_world(20_000, AS_OF, days=365, won_slip=(-20, 120), seed=2)
    deals = np.flatnonzero(world.open_at_as_of)
    truth = float(world.amount[deals] @ (world.probability[deals] * true_landing(world, deals, -20, 120, 0)))
    closed_ids = set(world.rows["lead_id"].unique()) - set(deals + 1)
    closed_only = fit(world.rows[world.rows["lead_id"].isin(closed_ids)], world.as_of)
    model = fit(world.rows, world.as_of)
    assert model_amount(model, world, deals, 0) == pytest.approx(truth, rel=0.03)
    assert model_amount(closed_only, world, deals, 0) > 1.07 * truth


def test_undated_deals_follow_the_age_at_as_of():
    """Undated deals: close - created = horizon (21..90) + slip (-20..60), given their age."""
    world = slip_world(20_000, AS_OF, days=365, undated_share=0.3, seed=7)
    model = fit(world.rows, world.as_of)
    deals = np.flatnonzero(world.open_at_as_of & ~world.dated)
    lifetimes = (np.arange(21, 91)[:, None] + np.arange(-20, 61)[None, :]).ravel()
    age = (world.as_of - world.created[deals])[:, None]
    close = world.created[deals][:, None] + lifetimes[None, :]
    possible = lifetimes[None, :] >= age
    for period in range(3):
        inside = possible & (close >= BOUNDARIES[period]) & (close < BOUNDARIES[period + 1])
        truth = float(world.amount[deals] @ (world.probability[deals] * inside.sum(axis=1) / possible.sum(axis=1)))
        assert model_amount(model, world, deals, period) == pytest.approx(truth, rel=0.03)
    assert model.summary()["undated"]["observations"] > 0


def test_overdue_odds_follow_bayes_with_the_won_and_lost_slip_laws():
    """Won slips uniform on -20..40, lost ones on 0..150: the truth is
    p' = p S_w(d) / (p S_w(d) + (1 - p) S_l(d)) with the two uniform survivals."""
    world = slip_world(30_000, AS_OF, days=730, won_slip=(-20, 40), lost_slip=(0, 150), seed=5)
    model = fit(world.rows, world.as_of)
    overdue = np.array([-30, -10, 0, 10, 25, 38, 60, 120])
    won = uniform_tail(-20, 40, overdue, np.full(overdue.size, FAR)) / 61
    lost = uniform_tail(0, 150, overdue, np.full(overdue.size, FAR)) / 151
    for stated in (0.2, 0.5, 0.9):
        truth = stated * won / (stated * won + (1 - stated) * lost)
        adjusted = model.adjusted_probability(np.full(overdue.size, 100 * stated), world.as_of - overdue, None, AS_OF)
        np.testing.assert_allclose(adjusted / 100, truth, atol=0.03)


# --- robustness -------------------------------------------------------------------------------


def single_deal(as_of: int, slip: int, won: bool = True) -> pd.DataFrame:
    created, expected = as_of - 300, as_of - 270
    return pd.DataFrame(
        {
            "lead_id": [1, 1],
            "date": pd.to_datetime([created, expected + slip], unit="D"),
            "amount": [1000.0, 1000.0],
            "probability": [50.0, 50.0],
            "date_expected": pd.to_datetime([expected, expected], unit="D"),
            "won": [None, won],
        }
    )


def test_one_won_deal_slipping_200_days_moves_at_most_a_fifth_of_any_deal():
    as_of = day_of(AS_OF)
    model, empty = fit(single_deal(as_of, 200), as_of), SlipModel.empty(as_of)
    assert model.summary()["count"] == 1
    expected = np.arange(as_of - 500, as_of + 150, dtype=np.float64)
    moved = total_variation(
        model.landing(expected, None, as_of, BOUNDARIES), empty.landing(expected, None, as_of, BOUNDARIES)
    )
    assert moved.max() <= 0.2
    assert moved.max() > 0.1  # it does count, though
    # and its win probability hardly moves either
    adjusted = model.adjusted_probability(np.full(expected.size, 90.0), expected, None, as_of)
    assert np.all(np.abs(adjusted - 90.0) < 5.0)


@pytest.mark.parametrize(("count", "seed"), [(3, 0), (5, 1), (8, 2), (12, 3), (25, 4)])
def test_no_single_historical_deal_moves_more_than_a_fifth_of_the_mass(count, seed):
    """Leave each deal out of a small history with long, scattered slips; compare landings
    day by day (the finest periods), dated deals on the slip axis, undated ones on the age axis."""
    world = slip_world(count, AS_OF, days=300, horizon=(5, 200), won_slip=(-60, 300), lost_slip=(-60, 250), seed=seed)
    days = world.as_of + np.arange(-5, 400)
    expected = np.concatenate([np.arange(world.as_of - 500, world.as_of + 200), np.full(700, np.nan)])
    created = np.concatenate([np.full(700, np.nan), world.as_of - np.arange(1, 701)])
    base = fit(world.rows, world.as_of).landing(expected, created, world.as_of, days)
    for lead in world.rows["lead_id"].unique():
        model = fit(world.rows[world.rows["lead_id"] != lead], world.as_of)
        moved = total_variation(base, model.landing(expected, created, world.as_of, days))
        assert moved.max() <= 0.2, lead


def test_a_deal_far_beyond_every_slip_ever_seen_loses_its_probability():
    """History: slips never beyond 100 days. A 90 % deal 3,000 days overdue does not put
    90 % of its amount in the current month."""
    world = slip_world(5_000, AS_OF, days=365, won_slip=(-20, 100), seed=3)
    model = fit(world.rows, world.as_of)
    expected = np.array([world.as_of - 3000.0])
    q, _beyond = model.landing(expected, None, world.as_of, BOUNDARIES)
    adjusted = model.adjusted_probability(np.array([90.0]), expected, None, world.as_of)
    assert adjusted[0] < 10.0
    assert adjusted[0] / 100 * q[0, 0] < 0.1
    # within the history's range, the same deal keeps about its probability (slip ⟂ outcome)
    recent = model.adjusted_probability(np.array([90.0]), np.array([world.as_of - 30.0]), None, world.as_of)
    assert recent[0] == pytest.approx(90.0, abs=3.0)


def test_little_history_keeps_the_stated_probability():
    as_of = day_of(AS_OF)
    for won in (True, False):
        model = fit(single_deal(as_of, 15, won), as_of)
        expected = np.arange(as_of - 400, as_of + 60, dtype=np.float64)
        adjusted = model.adjusted_probability(np.full(expected.size, 60.0), expected, None, as_of)
        assert np.all(np.abs(adjusted - 60.0) < 10.0)


# --- no history, no look-ahead ---------------------------------------------------------------


def test_without_history_deals_close_on_their_date_or_on_as_of():
    """The old behaviour, as a plain loop: close on max(expected, as_of); undated: as_of."""
    as_of = day_of(AS_OF)
    expected = np.array([as_of - 40, as_of, as_of + 3, as_of + 20, as_of + 400, np.nan, np.nan])
    created = np.array([as_of - 90] * 5 + [as_of - 10, np.nan], dtype=np.float64)
    for model in (SlipModel.empty(as_of), fit(single_deal(as_of, 0).iloc[:0], as_of)):
        q, beyond = model.landing(expected, created, as_of, BOUNDARIES)
        for row, day in enumerate(expected):
            close = as_of if np.isnan(day) else max(day, as_of)
            wanted = [1.0 if BOUNDARIES[k] <= close < BOUNDARIES[k + 1] else 0.0 for k in range(len(BOUNDARIES) - 1)]
            assert q[row].tolist() == pytest.approx(wanted)
            assert beyond[row] == pytest.approx(1.0 - sum(wanted))
        assert model.adjusted_probability(np.full(7, 35.0), expected, created, as_of) == pytest.approx(35.0)


def test_rows_dated_on_or_after_as_of_change_nothing(year):
    """The fixture's rows run 60 days past as_of (closings, new deals, pushed dates)."""
    world, model = year
    assert (world.rows["date"] >= pd.Timestamp(AS_OF)).sum() > 1000
    known = fit(world.rows_before(world.as_of), world.as_of)
    for name in ("start", "risk", "won", "lost", "log_tail", "won_survival", "lost_survival"):
        np.testing.assert_array_equal(getattr(model.slip, name), getattr(known.slip, name))
        np.testing.assert_array_equal(getattr(model.age, name), getattr(known.age, name))
    assert model.summary() == known.summary()
    # snapshot days on or after as_of are ignored as well
    months = pd.date_range("2024-02-01", "2025-06-01", freq="MS").date  # the default ones, and later ones
    assert fit(world.rows, world.as_of, months).summary() == known.summary()


def test_fitting_before_any_row_is_fitting_on_nothing(year):
    world, _model = year
    early = int(world.created.min())
    model = fit(world.rows, early)
    assert model.summary() == SlipModel.empty(early).summary()


# --- observations against plain loops ---------------------------------------------------------


def brute_force_counts(rows: list[dict], snapshots: list[int], as_of: int) -> tuple[dict, dict, dict]:
    """At risk / won / lost per slip day, by reading the rows one by one (module docstring of
    engine.forecast_slip): snapshot observations, final closing as of as_of."""
    risk, won, lost = {}, {}, {}
    leads = sorted({row["lead"] for row in rows})
    for lead in leads:
        mine = [row for row in rows if row["lead"] == lead and row["day"] < as_of]  # given order = day order
        if not mine:
            continue
        closing, outcome = None, None
        if mine[-1]["won"] is not None:
            closing, outcome = mine[-1]["day"], mine[-1]["won"]
            for row in reversed(mine):
                if row["won"] is None:
                    break
                closing = row["day"]
        for number, snapshot in enumerate(snapshots):
            following = snapshots[number + 1] if number + 1 < len(snapshots) else as_of
            before = [row for row in mine if row["day"] < snapshot]
            if not before or before[-1]["won"] is not None or before[-1]["expected"] is None:
                continue
            stated = before[-1]["expected"]
            event = closing is not None and snapshot <= closing < following
            last = closing if event else following - 1
            for slip in range(snapshot - stated, last - stated + 1):
                risk[slip] = risk.get(slip, 0) + 1
            if event:
                target = won if outcome else lost
                target[last - stated] = target.get(last - stated, 0) + 1
    return risk, won, lost


def test_observations_match_plain_loops_with_pushed_dates_and_reopenings():
    base = day_of(date(2024, 1, 1))
    as_of = base + 200

    def row(lead, day, expected, won=None):
        return {"lead": lead, "day": base + day, "expected": None if expected is None else base + expected, "won": won}

    rows = [
        row(1, 0, 40),
        row(1, 35, 80),
        row(1, 70, 130),
        row(1, 150, 130, True),  # pushed twice, won
        row(2, 5, 60),
        row(2, 50, 60, False),
        row(2, 60, 90),
        row(2, 120, 90, True),  # lost, reopened, won
        row(3, 10, None),
        row(3, 40, 100),
        row(3, 199, 100, False),  # dated late, lost the day before as_of
        row(4, 20, 30),
        row(4, 200, 30, True),  # won on as_of: still open as of as_of
        row(5, 3, 50, True),  # created won: never open
        row(6, 100, 95),
        row(6, 101, 95),
        row(6, 140, 300),  # still open, re-dated
        row(7, 15, 20),
        row(7, 90, 20, False),
        row(7, 95, 20, True),  # closing changed its mind: final run from 90
        row(8, 250, 260),  # after as_of only
    ]
    frame = pd.DataFrame(
        {
            "lead_id": [item["lead"] for item in rows],
            "date": pd.to_datetime([item["day"] for item in rows], unit="D"),
            "amount": 100.0,
            "probability": 50.0,
            "date_expected": pd.to_datetime([item["expected"] for item in rows], unit="D"),
            "won": pd.Series([item["won"] for item in rows], dtype=object),
        }
    )
    for snapshots in (None, [base + 1, base + 33, base + 34, base + 100, base + 170]):
        model = fit(frame, as_of, snapshots)
        days = snapshots or [base + offset for offset in (31, 60, 91, 121, 152, 182)]  # first days of months
        risk, won, lost = brute_force_counts(rows, days, as_of)
        grid = model.slip.start + np.arange(len(model.slip.risk))
        for counts, array in ((risk, model.slip.risk), (won, model.slip.won), (lost, model.slip.lost)):
            assert {int(day): int(value) for day, value in zip(grid, array, strict=True) if value} == counts
        assert model.snapshots == len(days)


# --- shape and speed ----------------------------------------------------------------------------


def test_rows_sum_to_one_and_mass_before_a_later_range_is_beyond(year):
    world, model = year
    deals = np.flatnonzero(world.open_at_as_of)[:500]
    expected = world.expected[deals].astype(np.float64)
    later = BOUNDARIES[2:]  # the range starts two months after as_of
    q, beyond = model.landing(expected, None, world.as_of, later)
    assert np.all(q >= 0) and np.allclose(q.sum(axis=1) + beyond, 1.0)
    split, split_beyond = model.landing(expected, None, world.as_of, np.concatenate([[world.as_of], later]))
    np.testing.assert_allclose(split[:, 1:], q, atol=1e-12)
    np.testing.assert_allclose(split[:, 0] + split_beyond, beyond, atol=1e-12)
    assert split[:, 0].sum() > 100  # the mass before the range: most of these deals close before it


def test_weights_are_adjusted_probability_times_landing(year):
    world, model = year
    deals = np.flatnonzero(world.open_at_as_of)[:200]
    expected = world.expected[deals].astype(np.float64)
    stated = 100 * world.probability[deals]
    weights, won_beyond = model.weights(stated, expected, None, world.as_of, BOUNDARIES)
    q, beyond = model.landing(expected, None, world.as_of, BOUNDARIES)
    adjusted = model.adjusted_probability(stated, expected, None, world.as_of) / 100
    np.testing.assert_allclose(weights, adjusted[:, None] * q)
    np.testing.assert_allclose(won_beyond, adjusted * beyond)


def test_landing_100000_deals_in_12_periods_is_fast(year):
    world, model = year
    rng = np.random.default_rng(0)
    count = 100_000
    expected = (world.as_of + rng.integers(-400, 400, count)).astype(np.float64)
    expected[rng.random(count) < 0.1] = np.nan
    created = (world.as_of - rng.integers(1, 700, count)).astype(np.float64)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        q, beyond = model.landing(expected, created, world.as_of, BOUNDARIES)
        timings.append(time.perf_counter() - start)
    assert q.shape == (count, 12) and np.allclose(q.sum(axis=1) + beyond, 1.0)
    assert min(timings) < 0.2


def test_shrinkage_is_documented_in_the_summary(year):
    _world, model = year
    shrinkage = model.summary()["shrinkage"]
    assert shrinkage["pseudo_observations"] == PSEUDO_LEADS
    assert 0 <= shrinkage["prior_share_due_today"] < 0.01
