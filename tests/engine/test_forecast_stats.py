"""Historical statistics on small hand-made histories; the Brier score and probability map calibration is built from."""

import numpy as np
import pandas as pd
import pytest

from engine.forecast_data import prepare_history, prepare_opportunities
from engine.forecast_stats import (
    IDENTITY,
    Calibrator,
    brier_score,
    group_keys,
    historical_statistics,
    plain,
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


def test_calibrator_is_linear_between_its_knots_and_flat_beyond():
    calibrator = Calibrator(np.array([20.0, 80.0]), np.array([10.0, 40.0]))
    assert calibrator(np.array([0.0, 20.0, 50.0, 80.0, 100.0])).tolist() == [10.0, 10.0, 25.0, 40.0, 40.0]
    assert calibrator.curve() == [{"probability": 20.0, "calibrated": 10.0}, {"probability": 80.0, "calibrated": 40.0}]
    assert IDENTITY(np.array([0.0, 12.5, 100.0])).tolist() == [0.0, 12.5, 100.0] and IDENTITY.curve() == []


def test_no_history_gives_empty_tables():
    empty = prepare_opportunities([{"amount": 10, "probability": 40}])
    statistics = historical_statistics(empty, prepare_history(None))
    assert statistics["closed_count"] == 0
    assert statistics["conversion"] == [] and statistics["time_in_stage"] == []
    assert all(rows == [] for rows in statistics["win_rate"].values())


def test_statistics_keys_are_plain_python():
    frame = OPPORTUNITIES.assign(user=pd.array([np.int64(7)] * 5, dtype=object))
    assert type(win_rates(frame, "user")[0]["key"]) is int


@pytest.mark.parametrize(
    "keys",
    [
        np.array([7, None, 7, 3, np.nan, 3, 7], dtype=object),  # ids with empty ones, as Odoo gives them
        np.array([7.0, np.nan, 7.0, 3.0, np.nan, 3.0, 7.0]),  # numbers
        np.array(["7", None, "7", "3", np.nan, "3", "7"], dtype=object),  # names
    ],
)
def test_keys_group_alike_whatever_their_kind(keys):
    """Numbers are grouped as numbers (fast), ids with empty ones and names as objects: the
    same groups, None and NaN one empty group, keys given back as they were."""
    codes, uniques = group_keys(keys)
    groups = {}
    for key, code in zip(keys, codes, strict=True):
        groups.setdefault(code, set()).add("empty" if pd.isna(key) else key)
    assert sorted(len(members) for members in groups.values()) == [1, 1, 1]
    assert sorted(np.bincount(codes)) == [2, 2, 3]
    assert {plain(uniques[code]) for code in groups} == {None, *(key for key in keys if not pd.isna(key))}
    assert {type(plain(key)) for key in uniques} == {type(None), type(plain(keys[0]))}  # ids stay Python ints
