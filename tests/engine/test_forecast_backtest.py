"""Backtest: hand-computed points and synthetic histories with a known (mis)calibration."""

from datetime import date

import numpy as np
import pytest

from engine.forecast import forecast
from engine.forecast_backtest import backtest
from engine.forecast_data import prepare_history, prepare_opportunities

from synthetic import synthetic_history

AS_OF = date(2025, 6, 15)

SMALL = [
    {"id": "A", "amount": 100, "probability": 50, "date_created": "2024-12-01", "date_expected": "2025-01-15",
     "date_closed": "2025-01-15", "won": True},
    {"id": "B", "amount": 200, "probability": 50, "date_created": "2024-12-15", "date_expected": "2025-02-10",
     "date_closed": "2025-02-12", "won": False},
    {"id": "C", "amount": 300, "probability": 50, "date_created": "2025-01-20", "date_expected": "2025-02-20",
     "date_closed": "2025-02-20", "won": True},
    {"id": "D", "amount": 400, "probability": 25, "date_created": "2024-11-01", "date_expected": "2025-02-25"},
]  # fmt: skip
SMALL_HISTORY = [{"lead_id": "D", "stage_from": "New", "stage_to": "Proposal", "date": "2025-01-05", "probability": 10}]


def run_small(calibrated=False):
    return backtest(
        prepare_opportunities(SMALL),
        prepare_history(SMALL_HISTORY),
        date(2025, 3, 10),
        "month",
        2,
        calibrated=calibrated,
    )


def test_hand_computed_points():
    result = run_small()
    january, february = result["points"]
    assert (january["period"], january["as_of"], january["open_count"]) == ("2025-01", "2025-01-01", 3)
    # January: only A is expected then (no slip history yet): 100 x Bernoulli(0.5)
    assert (january["weighted"], january["mean"], january["p10"], january["p50"], january["p90"]) == (50, 50, 0, 0, 100)
    assert (january["actual"], january["actual_total"], january["inside"]) == (100, 100, True)
    # February: B and C (C created in January), and D at its 10 % of the history, not today's 25 %
    assert february["open_count"] == 3
    assert (february["weighted"], february["mean"]) == (290, 290)
    assert (february["p10"], february["p50"], february["p90"]) == (0, 300, 500)
    assert (february["actual"], february["inside"]) == (300, True)
    assert result["coverage"] == 1.0
    assert (result["mae_weighted"], result["mae_mean"], result["mae_p50"]) == (30, 30, 50)


def test_calibration_is_learnt_only_from_what_was_closed_before():
    january, february = run_small(calibrated=True)["points"]
    assert january["mean"] == 50  # nothing closed before January: stated probabilities
    # before February only A (stated 50 %, won) is closed: (1 + 2 x 0.5) / (1 + 2) = 2/3 for every probability
    assert february["mean"] == pytest.approx((200 + 300 + 400) * 2 / 3, abs=0.01)
    assert february["weighted"] == 290  # the plain weighted pipeline keeps the stated probabilities


def test_no_points():
    result = backtest(prepare_opportunities([]), prepare_history(None), AS_OF, "month", 0)
    assert result["points"] == [] and result["coverage"] == 0.0 and result["count"] == 0


def test_empty_history_gives_empty_inside_points():
    result = backtest(prepare_opportunities([]), prepare_history(None), AS_OF, "quarter", 3)
    assert [point["period"] for point in result["points"]] == ["2024-Q3", "2024-Q4", "2025-Q1"]
    assert all(point["inside"] and point["p90"] == 0 for point in result["points"])


def synthetic_backtest(true_rates, calibrated, seed=3):
    opportunities, history = synthetic_history(
        9000, AS_OF, days=1095, levels=(80,), true_rates=true_rates, amount_sigma=0.5, seed=seed
    )
    options = {"as_of": AS_OF, "date_to": "2025-06-30", "backtest": 24, "calibrated": calibrated}
    return forecast(opportunities, history, {**options, "method": "analytic"})["backtest"]


def test_backtest_detects_overstated_probabilities_and_calibration_fixes_them():
    """Stated 80 % but true 40 %: the stated ranges miss every month, the calibrated ones cover."""
    stated = synthetic_backtest({80: 0.4}, calibrated=False)
    calibrated = synthetic_backtest({80: 0.4}, calibrated=True)
    assert stated["count"] == calibrated["count"] == 24
    assert stated["coverage"] <= 0.1
    assert all(point["p10"] > point["actual"] for point in stated["points"])  # always too optimistic
    assert calibrated["coverage"] >= 0.65
    assert calibrated["mae_p50"] < 0.25 * stated["mae_p50"]
    assert calibrated["mae_p50"] < 0.25 * calibrated["mae_weighted"]


def test_backtest_of_a_calibrated_team_covers_about_eighty_percent():
    result = synthetic_backtest(None, calibrated=False)
    assert 0.6 <= result["coverage"] <= 1.0
    ratios = [point["mean"] / point["actual"] for point in result["points"]]
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.05)
