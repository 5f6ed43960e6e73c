"""Calibration learnt from the pipeline history, against worlds whose truth is known.

The worlds are generated here with plain numpy, as pipeline-history rows in the input
format of ``prepare_pipeline`` (one row per change, values after it; a closing row says
won / lost with the 100 / 0 % Odoo writes), independently of the engine's helpers. The
snapshot pairs are checked against a brute-force oracle reading those raw rows.
"""

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from engine.forecast_calibration import (
    CalibrationPairs,
    calibration_levels,
    calibration_pairs,
    calibration_summary,
    fit_honest_calibration,
    fit_isotonic,
    fit_logistic,
    fold_of_leads,
    monthly_snapshot_days,
)
from engine.forecast_history import PipelineIndex, prepare_pipeline

START = date(2023, 1, 1)
CREATION_DAYS = 730  # deals are created over two years from START
LEVELS = np.arange(10.0, 100.0, 10.0)  # stated probabilities of the level worlds


def day(value: date) -> float:
    return float((value - date(1970, 1, 1)).days)


def as_frame_rows(lead, when, probability, won, level) -> pd.DataFrame:
    """History rows; ``won`` is ``None`` (open), ``True`` or ``False`` per row."""
    won = np.asarray(won, dtype=object)
    return pd.DataFrame(
        {
            "lead_id": np.asarray(lead) + 1,
            "date": np.datetime64(START) + np.asarray(when).astype("timedelta64[D]"),
            "amount": 1000.0,
            "probability": np.where(won == True, 100.0, np.where(won == False, 0.0, probability)),  # noqa: E712
            "won": won,
            "level": level,
        }
    )


def staged_world(count: int, seed: int, stage_days=(5, 60)) -> pd.DataFrame:
    """A four-stage process whose stated 10 / 30 / 60 / 90 % are exactly right.

    Every deal starts in stage 1 and, after a uniform number of days in each stage, moves
    from stage k to k + 1 with probability 1/3, 1/2, 2/3 (else it is lost); from stage 4
    it is won with 0.9. So P(won | in stage k) = 0.1, 0.3, 0.6, 0.9. Each stage change is
    a row at that stage's stated probability; the closing row says won or lost.
    """
    stated, advance = (10.0, 30.0, 60.0, 90.0), (1 / 3, 1 / 2, 2 / 3, 0.9)
    rng = np.random.default_rng(seed)
    created = rng.integers(0, CREATION_DAYS, count)
    durations = rng.integers(stage_days[0], stage_days[1] + 1, (count, 4))
    passes = rng.random((count, 4)) < np.asarray(advance)
    reached = 1 + np.cumprod(passes[:, :3], axis=1).sum(axis=1)  # last stage entered, 1..4
    won = (reached == 4) & passes[:, 3]
    entered = created[:, None] + np.c_[np.zeros(count, dtype=int), np.cumsum(durations, axis=1)]
    lead, when, probability, level = [], [], [], []
    for stage in range(4):
        inside = np.flatnonzero(reached > stage)
        lead.append(inside)
        when.append(entered[inside, stage])
        probability.append(np.full(inside.size, stated[stage]))
        level.append(np.full(inside.size, f"Stage {stage + 1}", dtype=object))
    outcome = np.full(sum(part.size for part in lead), None, dtype=object)
    lead.append(np.arange(count))
    when.append(entered[np.arange(count), reached])
    probability.append(np.zeros(count))
    level.append(np.array([f"Stage {stage}" for stage in reached], dtype=object))
    closing = np.empty(count, dtype=object)
    closing[:] = list(won)
    return as_frame_rows(
        np.concatenate(lead),
        np.concatenate(when),
        np.concatenate(probability),
        np.concatenate([outcome, closing]),
        np.concatenate(level),
    )


def level_world(count: int, seed: int, truth, duration=(10, 120)) -> pd.DataFrame:
    """Each deal states one level (uniform over ``LEVELS``) from creation to its closing,
    ``duration`` days later, and is won with probability ``truth(level)``."""
    rng = np.random.default_rng(seed)
    created = rng.integers(0, CREATION_DAYS, count)
    stated = rng.choice(LEVELS, count)
    won = rng.random(count) < truth(stated)
    closed = created + rng.integers(duration[0], duration[1] + 1, count)
    outcome = np.empty(2 * count, dtype=object)
    outcome[count:] = list(won)
    levels = np.array([f"{value:g} %" for value in stated], dtype=object)
    leads = np.arange(count)
    return as_frame_rows(
        np.r_[leads, leads], np.r_[created, closed], np.r_[stated, stated], outcome, np.r_[levels, levels]
    )


def fresh_sample(truth, size=400_000, seed=99) -> tuple[np.ndarray, np.ndarray]:
    """A large independent sample from the level worlds' law: (stated %, won)."""
    rng = np.random.default_rng(seed)
    stated = rng.choice(LEVELS, size)
    return stated, rng.random(size) < truth(stated)


def brier(probabilities, won) -> float:
    return float(np.mean((np.asarray(probabilities) / 100.0 - won) ** 2))


def fitted_on(rows: pd.DataFrame, as_of: float, **options):
    index = PipelineIndex.build(prepare_pipeline(rows))
    pairs = calibration_pairs(index, as_of)
    return pairs, fit_honest_calibration(pairs.probability, pairs.won, pairs.lead, **options)


AFTER_MOST_CLOSED = day(START) + CREATION_DAYS + 120


def calibrated(stated):
    return stated / 100.0


def overstated(stated):
    return 0.6 * stated / 100.0


# --- the targets -------------------------------------------------------------------


def test_four_stage_world_keeps_its_exact_probabilities():
    """The last-open-probability fit returned 0 / 0.2 / 1.1 / 87 % here; snapshots are unbiased."""
    stages = np.array([10.0, 30.0, 60.0, 90.0])
    fitted = []
    for seed in range(10):
        _pairs, fit = fitted_on(staged_world(2000, seed), AFTER_MOST_CLOSED)
        assert fit.closed >= 1500
        assert np.abs(fit.calibrator(stages) - stages).max() <= 3.0
        fitted.append(fit.fitted(stages))
    # the curve fitted (applied or not) is right on average over worlds: no bias left
    assert np.abs(np.mean(fitted, axis=0) - stages).max() <= 3.0


@pytest.mark.parametrize("count", [30, 100, 300, 1000])
def test_calibrated_team_is_not_made_worse_out_of_sample(count):
    stated, won = fresh_sample(calibrated)
    stated_brier = brier(stated, won)
    for seed in range(20):
        _pairs, fit = fitted_on(level_world(count, seed, calibrated), AFTER_MOST_CLOSED)
        assert brier(fit.calibrator(stated), won) <= stated_brier + 0.001, (seed, fit.reason)


def test_overstated_team_gets_close_to_the_best_brier():
    """Truth 0.6 x stated, 300 deals: the best possible Brier is E[q (1 - q)]."""
    stated, won = fresh_sample(overstated)
    best = float(np.mean([overstated(level) * (1 - overstated(level)) for level in LEVELS]))
    excess, used = [], 0
    for seed in range(20):
        _pairs, fit = fitted_on(level_world(300, seed, overstated), AFTER_MOST_CLOSED)
        excess.append(brier(fit.calibrator(stated), won) - best)
        used += fit.used
    assert brier(stated, won) - best > 0.05  # the stated probabilities are far off
    assert used >= 18
    assert np.mean(excess) <= 0.005  # what a world of 300 deals gets, on average
    assert np.median(excess) <= 0.005


def test_overstated_team_with_more_deals_is_always_close_to_the_best():
    stated, won = fresh_sample(overstated)
    best = float(np.mean([overstated(level) * (1 - overstated(level)) for level in LEVELS]))
    for seed in range(5):
        _pairs, fit = fitted_on(level_world(1000, seed, overstated), AFTER_MOST_CLOSED)
        assert fit.used and fit.reason == "improves"
        assert fit.brier_cv < fit.brier_stated
        assert brier(fit.calibrator(stated), won) - best <= 0.005


def test_too_few_closed_leads_fit_nothing():
    pairs, fit = fitted_on(level_world(150, 0, overstated), AFTER_MOST_CLOSED)
    assert 0 < fit.closed < 200
    assert (fit.used, fit.reason, fit.method) == (False, "too_few_closed", "identity")
    points = np.linspace(0.0, 100.0, 201)
    assert np.array_equal(fit.calibrator(points), points)
    assert fit.brier_cv == fit.brier_stated
    summary = calibration_summary(fit, pairs)
    assert summary["brier_calibrated"] == summary["brier"]
    assert summary["curve"] == []
    assert all(row["calibrated"] == row["stated"] for row in summary["levels"])


def test_one_closed_deal_changes_nothing():
    """The old fit turned every probability into 33 % after one closed deal."""
    rows = [
        {"lead_id": 1, "date": "2024-01-10", "amount": 10, "probability": 80, "won": None},
        {"lead_id": 1, "date": "2024-03-10", "amount": 10, "probability": 0, "won": False},
        {"lead_id": 2, "date": "2024-01-15", "amount": 10, "probability": 20, "won": None},
        {"lead_id": 3, "date": "2024-02-15", "amount": 10, "probability": 50, "won": None},
    ]
    index = PipelineIndex.build(prepare_pipeline(rows))
    pairs = calibration_pairs(index, day(date(2024, 4, 1)))
    assert list(pairs.probability) == [80.0, 80.0]  # Feb 1 and Mar 1; the open leads have no outcome
    for min_closed in (200, 1):
        fit = fit_honest_calibration(pairs.probability, pairs.won, pairs.lead, min_closed=min_closed)
        assert (fit.closed, fit.used, fit.reason) == (1, False, "too_few_closed")
        assert np.array_equal(fit.calibrator(np.array([20.0, 50.0, 80.0])), [20.0, 50.0, 80.0])


def test_zero_and_hundred_stay_and_the_curves_are_monotone():
    points = np.linspace(0.0, 100.0, 1001)
    _pairs, fit = fitted_on(level_world(1000, 1, overstated), AFTER_MOST_CLOSED)
    rng = np.random.default_rng(5)
    stated = rng.choice([0.0, 5.0, 35.0, 35.5, 70.0, 100.0], 500)
    curves = [
        fit.calibrator,
        fit_isotonic(stated, rng.random(500) < 0.5, 2.0),
        fit_logistic(stated, rng.random(500) < 0.5),
        fit_isotonic(stated, np.ones(500, dtype=bool), 2.0),  # every deal won
        fit_logistic(stated, np.ones(500, dtype=bool)),
        fit_logistic(stated, np.zeros(500, dtype=bool)),  # every deal lost
    ]
    for curve in curves:
        values = curve(points)
        assert values[0] == 0.0 and values[-1] == 100.0
        assert np.all(np.diff(values) >= 0.0)
        assert np.all((values >= 0.0) & (values <= 100.0))


def test_each_curve_recovers_a_truth_of_its_own_shape():
    rng = np.random.default_rng(11)
    stated = rng.choice(np.arange(5.0, 100.0, 5.0), 40_000)
    logit = np.log(stated / (100.0 - stated))
    truth = 100.0 / (1.0 + np.exp(0.5 - 0.7 * logit))  # logit(q) = -0.5 + 0.7 logit(p)
    won = rng.random(stated.size) < truth / 100.0
    points = np.arange(5.0, 100.0, 5.0)
    expected = 100.0 / (1.0 + np.exp(0.5 - 0.7 * np.log(points / (100.0 - points))))
    assert np.abs(fit_logistic(stated, won)(points) - expected).max() <= 1.5
    step = np.where(stated < 50.0, 10.0, 70.0)  # monotone, far from any logistic curve
    won = rng.random(stated.size) < step / 100.0
    assert np.abs(fit_isotonic(stated, won, 2.0)(points) - np.where(points < 50.0, 10.0, 70.0)).max() <= 4.0


# --- the snapshot pairs ------------------------------------------------------------


def oracle_pairs(rows: pd.DataFrame, as_of: float, snapshots) -> set:
    """(lead, snapshot day, stated %, won) read from the raw rows with plain loops."""
    pairs = set()
    for lead, group in rows.groupby("lead_id", sort=False):
        history = [
            (day(pd.Timestamp(when).date()), probability, won)
            for when, probability, won in zip(group["date"], group["probability"], group["won"], strict=True)
        ]
        history.sort(key=lambda row: row[0])  # stable: same-day rows keep their order

        def state_before(target, history=history):
            before = [row for row in history if row[0] < target]
            return before[-1] if before else None

        final = state_before(as_of)
        if final is None or final[2] is None:
            continue  # not closed before as_of: outcome unknown
        for snapshot in snapshots:
            if snapshot >= as_of:
                continue
            state = state_before(snapshot)
            if state is not None and state[2] is None:
                pairs.add((lead, snapshot, state[1], bool(final[2])))
    return pairs


def engine_pairs(rows: pd.DataFrame, as_of: float, snapshots=None) -> set:
    index = PipelineIndex.build(prepare_pipeline(rows))
    pairs = calibration_pairs(index, as_of, snapshots)
    ids = index.frame["lead_id"].to_numpy()[index.starts]
    return {
        (ids[lead], snapshot, probability, bool(won))
        for lead, snapshot, probability, won in zip(pairs.lead, pairs.day, pairs.probability, pairs.won, strict=True)
    }


def first_days_of_months(first: date, before: date) -> list[float]:
    days, month = [], date(first.year, first.month, 1)
    while month < before:
        if month >= first:
            days.append(day(month))
        month = (month + timedelta(days=32)).replace(day=1)
    return days


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pairs_match_a_brute_force_oracle(seed):
    rows = staged_world(120, seed)
    as_of = day(START) + 400 + 37 * seed
    first = pd.Timestamp(rows["date"].min()).date()
    snapshots = first_days_of_months(first, START + timedelta(days=int(as_of - day(START))))
    index = PipelineIndex.build(prepare_pipeline(rows))
    assert list(monthly_snapshot_days(index, as_of)) == snapshots
    expected = oracle_pairs(rows, as_of, snapshots)
    assert len(expected) > 50
    assert engine_pairs(rows, as_of) == expected
    weekly = list(np.arange(day(START), as_of + 30, 7.0))  # days on or after as_of are ignored
    assert engine_pairs(rows, as_of, np.asarray(weekly)) == oracle_pairs(rows, as_of, weekly)


def test_pairs_never_use_a_closing_on_or_after_as_of():
    as_of = day(date(2024, 3, 16))

    def history(closing: str, reopened: str | None = None):
        rows = [
            {"lead_id": "a", "date": "2024-01-10", "amount": 10, "probability": 40, "won": None},
            {"lead_id": "a", "date": closing, "amount": 10, "probability": 100, "won": True},
            {"lead_id": "b", "date": "2024-01-20", "amount": 10, "probability": 70, "won": None},
            {"lead_id": "b", "date": "2024-02-20", "amount": 10, "probability": 0, "won": False},
        ]
        if reopened:  # b lost before as_of, reopened and won after it
            rows += [
                {"lead_id": "b", "date": reopened, "amount": 10, "probability": 70, "won": None},
                {"lead_id": "b", "date": "2024-05-01", "amount": 10, "probability": 100, "won": True},
            ]
        return pd.DataFrame(rows)

    february, march = day(date(2024, 2, 1)), day(date(2024, 3, 1))
    b_lost = {("b", february, 70.0, False)}
    a_won = {("a", february, 40.0, True), ("a", march, 40.0, True)}
    assert engine_pairs(history("2024-03-15"), as_of) == a_won | b_lost
    assert engine_pairs(history("2024-03-16"), as_of) == b_lost  # closing on as_of: not known yet
    assert engine_pairs(history("2024-04-30"), as_of) == b_lost
    # what happens after as_of does not change the pairs, not even b's later reopening
    assert engine_pairs(history("2024-04-30", reopened="2024-04-02"), as_of) == b_lost
    assert engine_pairs(history("2024-03-15", reopened="2024-04-02"), as_of) == engine_pairs(
        history("2024-03-15"), as_of
    )


def test_pairs_of_an_empty_history_fit_nothing():
    index = PipelineIndex.build(prepare_pipeline([]))
    pairs = calibration_pairs(index, day(date(2024, 1, 1)))
    fit = fit_honest_calibration(pairs.probability, pairs.won, pairs.lead)
    summary = calibration_summary(fit, pairs)
    assert (len(pairs), summary["count"], summary["closed"], summary["levels"]) == (0, 0, 0, [])
    assert (summary["brier"], summary["brier_cv"], summary["reason"]) == (0.0, 0.0, "too_few_closed")


# --- folds and the report ----------------------------------------------------------


def test_folds_are_deterministic_and_keep_a_lead_whole():
    leads = np.repeat(np.arange(300) * 7, np.arange(300) % 4 + 1)
    folds = fold_of_leads(leads, 5)
    assert np.array_equal(folds, fold_of_leads(leads.copy(), 5))
    for lead in np.unique(leads):
        assert np.unique(folds[leads == lead]).size == 1
    assert np.bincount(folds[np.unique(leads, return_index=True)[1]]).tolist() == [60] * 5
    rows = level_world(400, 3, overstated)
    first, second = fitted_on(rows, AFTER_MOST_CLOSED)[1], fitted_on(rows, AFTER_MOST_CLOSED)[1]
    assert (first.brier_cv, first.reason) == (second.brier_cv, second.reason)


def test_summary_is_plain_json_with_a_reliability_table_of_the_pairs():
    pairs, fit = fitted_on(level_world(600, 4, overstated), AFTER_MOST_CLOSED)
    summary = calibration_summary(fit, pairs)
    json.dumps(summary, allow_nan=False)
    assert {"brier", "brier_calibrated", "count", "levels", "curve"} <= summary.keys()
    assert {"pairs", "closed", "min_closed", "used", "reason", "brier_cv"} <= summary.keys()
    assert summary["used"] and summary["reason"] == "improves"
    assert summary["brier_calibrated"] == summary["brier_cv"] < summary["brier"]
    assert summary["count"] == summary["pairs"] == len(pairs)
    assert summary["min_closed"] == 200
    assert summary["closed"] == len(set(pairs.lead.tolist()))
    assert summary["brier"] == round(brier(pairs.probability, pairs.won), 6)
    # the reliability table, recomputed with a plain loop over the pairs
    table = {}
    for level, probability, won, lead in zip(pairs.level, pairs.probability, pairs.won, pairs.lead, strict=True):
        entry = table.setdefault(level, {"count": 0, "won": 0, "stated": 0.0, "leads": set()})
        entry["count"] += 1
        entry["won"] += int(won)
        entry["stated"] += probability
        entry["leads"].add(lead)
    assert [row["level"] for row in summary["levels"]] == [f"{value:g} %" for value in LEVELS]
    for row in summary["levels"]:
        entry = table[row["level"]]
        assert (row["count"], row["won"], row["leads"]) == (entry["count"], entry["won"], len(entry["leads"]))
        assert row["stated"] == round(entry["stated"] / entry["count"], 2)
        assert row["observed"] == round(100.0 * entry["won"] / entry["count"], 2)
        assert row["calibrated"] == pytest.approx(float(fit.calibrator(np.array([row["stated"]]))[0]), abs=0.01)
    assert summary["curve"][0] == {"probability": 0.0, "calibrated": 0.0}
    assert summary["curve"][-1] == {"probability": 100.0, "calibrated": 100.0}


def test_reliability_table_groups_by_level_with_empty_levels_as_none_or_by_probability():
    pairs = CalibrationPairs(
        probability=np.array([80.0, 80.0, 20.0, 50.0, 50.0]),
        won=np.array([True, False, False, True, True]),
        lead=np.array([1, 2, 3, 4, 4]),
        day=np.zeros(5),
        level=np.array(["High", "High", "Low", None, None], dtype=object),
    )
    levels = calibration_levels(pairs)
    assert [row["level"] for row in levels] == ["Low", None, "High"]  # by mean stated probability
    assert levels[1] == {"level": None, "count": 2, "leads": 1, "won": 2, "stated": 50.0, "observed": 100.0,
                         "calibrated": 50.0}  # fmt: skip
    without_levels = CalibrationPairs(pairs.probability, pairs.won, pairs.lead, pairs.day, np.full(5, None))
    assert [row["level"] for row in calibration_levels(without_levels)] == [20.0, 50.0, 80.0]


def test_isotonic_curve_shrinks_a_sparse_value_towards_itself():
    curve = fit_isotonic(np.array([30.0, 30.0]), np.array([False, False]), 2.0)
    assert curve(np.array([30.0]))[0] == pytest.approx(100 * (0 + 2 * 0.3) / (2 + 2))  # two pseudo-pairs at 30 %
    pooled = fit_isotonic(np.array([20.0, 20.0, 80.0, 80.0]), np.array([True, True, False, False]), 2.0)
    low, high = pooled(np.array([20.0, 80.0]))
    assert 0 < low <= high < 100  # pooled: non-decreasing
