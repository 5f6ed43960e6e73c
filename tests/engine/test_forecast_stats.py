"""Historical statistics and calibration on small hand-made histories."""

import numpy as np
import pandas as pd
import pytest

from engine.forecast_data import prepare_history, prepare_opportunities
from engine.forecast_stats import (
    IDENTITY,
    brier_score,
    calibration_report,
    fit_calibration,
    historical_statistics,
    reliability_table,
    stage_conversion,
    stage_win_rates,
    time_in_stage,
    win_rates,
)

OPPORTUNITIES = prepare_opportunities(
    [
        {"id": 1, "amount": 100, "probability": 80, "won": True, "stage": "Won", "level": "High", "user": "ann",
         "type": "new", "date_created": "2025-01-01", "date_closed": "2025-01-20"},
        {"id": 2, "amount": 100, "probability": 80, "won": False, "stage": "Proposal", "level": "High",
         "user": "ann", "type": "new", "date_created": "2025-01-01", "date_closed": "2025-01-25"},
        {"id": 3, "amount": 100, "probability": 20, "won": False, "stage": "New", "level": "Low", "user": "bob",
         "type": "upsell", "date_created": "2025-01-05", "date_closed": "2025-01-06"},
        {"id": 4, "amount": 100, "probability": 20, "won": None, "stage": "New", "level": "Low", "user": "bob",
         "type": "upsell", "date_created": "2025-01-07"},
        {"id": 5, "amount": 100, "probability": 50, "won": True, "stage": "Won", "level": None, "user": None,
         "type": "new", "date_created": "2025-01-02", "date_closed": "2025-01-12"},
    ]
)  # fmt: skip
HISTORY = prepare_history(
    [
        {"lead_id": 1, "stage_from": None, "stage_to": "New", "date": "2025-01-01"},
        {"lead_id": 1, "stage_from": "New", "stage_to": "Proposal", "date": "2025-01-05"},
        {"lead_id": 1, "stage_from": "Proposal", "stage_to": "Won", "date": "2025-01-20", "duration_days": 14.5},
        {"lead_id": 2, "stage_from": None, "stage_to": "New", "date": "2025-01-01"},
        {"lead_id": 2, "stage_from": "New", "stage_to": "Proposal", "date": "2025-01-11"},
        {"lead_id": 5, "stage_from": "New", "stage_to": "Won", "date": "2025-01-12"},
        {"lead_id": 4, "stage_from": None, "stage_to": "New", "date": "2025-01-07"},
    ]
)


def by_key(rows, key="key"):
    return {row[key]: row for row in rows}


def test_win_rates_by_column_count_closed_rows_only():
    users = by_key(win_rates(OPPORTUNITIES, "user"))
    assert users["ann"] == {"key": "ann", "count": 2, "won": 1, "rate": 50.0}
    assert users["bob"] == {"key": "bob", "count": 1, "won": 0, "rate": 0.0}
    assert users[None]["count"] == 1  # the empty salesperson is its own group, keyed None
    assert by_key(win_rates(OPPORTUNITIES, "type"))["new"]["rate"] == pytest.approx(66.67)


def test_stage_win_rates_use_every_stage_a_closed_lead_went_through():
    stages = by_key(stage_win_rates(OPPORTUNITIES, HISTORY))
    assert stages["New"] == {"key": "New", "count": 4, "won": 2, "rate": 50.0}  # leads 1, 2, 3, 5 (4 is open)
    assert stages["Proposal"] == {"key": "Proposal", "count": 2, "won": 1, "rate": 50.0}
    assert stages["Won"]["count"] == 2
    without_history = by_key(stage_win_rates(OPPORTUNITIES, prepare_history(None)))
    assert without_history["New"]["count"] == 1 and without_history["Proposal"]["count"] == 1


def test_conversion_rates():
    moves = {(row["stage_from"], row["stage_to"]): row for row in stage_conversion(HISTORY)}
    assert moves[("New", "Proposal")]["count"] == 2
    assert moves[("New", "Proposal")]["rate"] == pytest.approx(66.67)
    assert moves[("New", "Won")]["rate"] == pytest.approx(33.33)
    assert moves[("Proposal", "Won")] == {"stage_from": "Proposal", "stage_to": "Won", "count": 1, "rate": 100.0}
    assert stage_conversion(prepare_history([])) == []


def test_time_in_stage_uses_durations_or_consecutive_dates():
    stages = by_key(time_in_stage(HISTORY, OPPORTUNITIES), "stage")
    # New: lead 1 4 days, lead 2 10 days, lead 5 10 days since its creation (no earlier move)
    assert stages["New"]["count"] == 3 and stages["New"]["median_days"] == 10.0
    assert stages["New"]["mean_days"] == pytest.approx(8.0)
    assert stages["Proposal"]["median_days"] == 14.5  # the given duration wins over the dates
    assert time_in_stage(prepare_history(None)) == []


def test_brier_score_by_hand():
    assert brier_score(np.array([80, 80, 20]), np.array([True, False, False])) == pytest.approx(0.24)
    assert brier_score(np.zeros(0), np.zeros(0)) == 0.0


def test_reliability_table_per_level():
    levels = by_key(reliability_table(OPPORTUNITIES), "level")
    assert levels["High"] == {
        "level": "High",
        "count": 2,
        "won": 1,
        "stated": 80.0,
        "observed": 50.0,
        "calibrated": 80.0,
    }
    assert levels["Low"]["count"] == 1 and levels["Low"]["observed"] == 0.0  # the open lead 4 is not counted
    assert levels[None]["stated"] == 50.0
    assert [row["level"] for row in reliability_table(OPPORTUNITIES)] == ["Low", None, "High"]


def test_reliability_by_probability_when_no_level_is_known():
    frame = OPPORTUNITIES.assign(level=None)
    assert [row["level"] for row in reliability_table(frame)] == [20.0, 50.0, 80.0]


def test_isotonic_calibration_learns_a_known_miscalibration():
    rng = np.random.default_rng(0)
    stated = rng.choice([20.0, 50.0, 80.0], 30_000)
    truth = {20.0: 0.1, 50.0: 0.3, 80.0: 0.4}
    won = rng.random(stated.size) < np.vectorize(truth.get)(stated)
    calibrator = fit_calibration(stated, won)
    assert calibrator(np.array([20.0, 50.0, 80.0])) == pytest.approx([10, 30, 40], abs=1.5)
    assert calibrator(np.array([35.0, 0.0, 100.0])) == pytest.approx([20, 10, 40], abs=1.5)  # linear, flat ends
    assert brier_score(calibrator(stated), won) < brier_score(stated, won)


def test_isotonic_calibration_is_monotone_and_shrunk_on_little_data():
    calibrator = fit_calibration(np.array([20.0, 20.0, 80.0, 80.0]), np.array([True, True, False, False]))
    values = calibrator(np.array([20.0, 80.0]))
    assert values[0] <= values[1]  # pooled: isotonic
    assert 0 < values[0] < 100
    single = fit_calibration(np.array([30.0, 30.0]), np.array([False, False]))
    assert single(np.array([30.0]))[0] == pytest.approx(100 * (0 + 2 * 0.3) / 4)  # two pseudo-observations at 30 %


def test_no_history_gives_identity_and_empty_tables():
    assert fit_calibration(np.zeros(0), np.zeros(0)) is IDENTITY
    assert IDENTITY(np.array([12.5])).tolist() == [12.5]
    empty = prepare_opportunities([{"amount": 10, "probability": 40}])
    report = calibration_report(empty, IDENTITY)
    assert report == {"brier": 0.0, "brier_calibrated": 0.0, "count": 0, "levels": [], "curve": []}
    statistics = historical_statistics(empty, prepare_history(None))
    assert statistics["closed_count"] == 0
    assert statistics["conversion"] == [] and statistics["time_in_stage"] == []
    assert all(rows == [] for rows in statistics["win_rate"].values())


def test_statistics_keys_are_plain_python():
    frame = OPPORTUNITIES.assign(user=pd.array([np.int64(7)] * 5, dtype=object))
    assert type(win_rates(frame, "user")[0]["key"]) is int
