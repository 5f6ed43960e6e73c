"""The pipeline history: snapshots and outcomes equal a plain-Python replay of each deal."""

import numpy as np
import pandas as pd
import pytest

from engine.forecast_data import LOST, OPEN, WON, prepare_opportunities
from engine.forecast_history import PipelineIndex, history_from_opportunities, prepare_pipeline

from worlds import WON as WORLD_WON
from worlds import current_rows, day_of, edited_deadline_world, history_rows

STATUS = {"open": OPEN, "lost": LOST, "won": WON}
FIRST, LAST = day_of(pd.Timestamp("2024-01-01").date()), day_of(pd.Timestamp("2025-06-30").date())


@pytest.fixture(scope="module")
def world():
    deals = edited_deadline_world(400, FIRST, LAST, seed=5)
    return deals, PipelineIndex.build(prepare_pipeline(history_rows(deals)))


def test_snapshots_are_the_deals_as_they_stood(world):
    deals, index = world
    for day in range(FIRST - 3, LAST + 40, 17):
        snapshot = index.snapshot(day).set_index("lead_id")
        expected = {deal.key: deal.at(day) for deal in deals if deal.at(day) is not None}
        assert set(snapshot.index) == set(expected), day
        for key, (_day, amount, probability, automated, deadline, state) in expected.items():
            row = snapshot.loc[key]
            stated = probability if state == "open" else next(c for c in reversed(
                [c for c in deals[key - 1].changes if c[0] < day]) if c[5] == "open")[2]  # fmt: skip
            assert (row["amount"], row["probability"], row["automated"]) == (amount, stated, automated)
            assert row["expected"] == deadline and row["status"] == STATUS[state]


def test_outcomes_are_the_final_closings(world):
    deals, index = world
    outcomes = index.outcomes().set_index("lead_id")
    for deal in deals:
        row = outcomes.loc[deal.key]
        assert row["created"] == deal.created
        assert row["status"] == STATUS[deal.final[5]]
        assert row["amount"] == deal.final[1]
        if deal.closed_day is None:
            assert np.isnan(row["closed"])
        else:
            assert row["closed"] == deal.closed_day


def test_a_reopened_deal_closes_at_its_last_closing():
    index = PipelineIndex.build(prepare_pipeline([
        {"lead_id": 7, "date": "2025-01-01", "amount": 10, "probability": 40, "won": None},
        {"lead_id": 7, "date": "2025-02-01", "amount": 10, "probability": 0, "won": False},
        {"lead_id": 7, "date": "2025-03-01", "amount": 12, "probability": 60, "won": None},
        {"lead_id": 7, "date": "2025-04-01", "amount": 12, "probability": 100, "won": True},
        {"lead_id": 7, "date": "2025-04-01", "amount": 15, "probability": 100, "won": True},
    ]))  # fmt: skip
    [row] = index.outcomes().to_dict("records")
    assert (row["status"], row["closed"], row["amount"]) == (WON, day_of(pd.Timestamp("2025-04-01").date()), 15)
    lost_in_february = index.snapshot(day_of(pd.Timestamp("2025-02-15").date()))
    assert (lost_in_february["status"][0], lost_in_february["probability"][0]) == (LOST, 40)


def test_history_of_today_values_is_hindsight():
    """Without a history, the engine's fallback: creation and closing rows with today's values."""
    deals = edited_deadline_world(50, FIRST, LAST, seed=2)
    frame = prepare_opportunities(current_rows(deals))
    index = PipelineIndex.build(history_from_opportunities(frame))
    outcomes = index.outcomes().set_index("lead_id")
    for deal in deals:
        assert outcomes.loc[deal.key, "status"] == STATUS[deal.final[5]]
        first = index.snapshot(deal.created + 1).set_index("lead_id").loc[deal.key]
        # today's amount at creation: what the leak was
        assert first["amount"] == deal.final[1] and first["status"] == OPEN
    won = [deal for deal in deals if deal.final[5] == WORLD_WON and deal.final[1] != deal.changes[0][1]]
    assert won, "renegotiated amounts exist in this world"


def test_bad_rows_are_refused():
    for rows, message in (
        ([{"lead_id": 1, "date": None, "amount": 1, "probability": 1}], "date"),
        ([{"lead_id": 1, "date": "2025-01-01", "amount": -1, "probability": 1}], "amount"),
        ([{"lead_id": 1, "date": "2025-01-01", "amount": 1, "probability": 101}], "probability"),
        ([{"lead_id": 1, "date": "2025-01-01", "amount": 1}], "required"),
        ([{"lead_id": 1, "date": "2025-01-01", "amount": float("inf"), "probability": 1}], "infinite"),
    ):
        with pytest.raises(ValueError, match=message):
            prepare_pipeline(rows)
    assert prepare_pipeline(None).empty and PipelineIndex.build(prepare_pipeline([])).snapshot(0).empty


def test_scores_against_values_worked_by_hand():
    from engine.forecast_scores import pinball_loss, point_scores, quantile_scores, wilson_interval

    low, high = wilson_interval(8, 10)  # the textbook 95 % Wilson interval of 8 out of 10
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert pinball_loss([10.0], [20.0], 0.9) == pytest.approx(9.0)  # under by 10: 0.9 x 10
    assert pinball_loss([30.0], [20.0], 0.9) == pytest.approx(1.0)  # over by 10: 0.1 x 10
    scores = quantile_scores([0.0, 0.0], [10.0, 10.0], [20.0, 20.0], [5.0, 25.0])
    assert (scores["coverage"], scores["mae"]) == (0.5, 10.0)
    assert "coverage" not in point_scores([10.0], [5.0])


def test_rows_in_any_order_give_the_same_history(world):
    """Odoo gives the rows sorted by lead then date (the order ``prepare_pipeline`` would
    sort them into, which it then keeps); rows in the order of their dates across leads give
    the same frame (rows of a lead on one day keep their given order)."""
    deals, index = world
    rows = history_rows(deals)
    by_date = sorted(rows, key=lambda row: row["date"])  # stable: a day's rows keep their order
    assert [row["lead_id"] for row in by_date] != [row["lead_id"] for row in rows]
    pd.testing.assert_frame_equal(prepare_pipeline(by_date), index.frame)


def test_outcomes_as_numbers_give_the_same_history(world):
    """Odoo gives the outcome as a number (1 won, 0 lost, NaN open), which reads faster than
    ``True`` / ``False`` / ``None``: the same history; any other number is refused."""
    deals, index = world
    rows = pd.DataFrame(history_rows(deals))
    numbers = rows.assign(won=rows["won"].map({True: 1.0, False: 0.0}).astype(np.float64))
    assert numbers["won"].isna().any() and numbers["won"].dtype == np.float64
    pd.testing.assert_frame_equal(prepare_pipeline(numbers), index.frame)
    with pytest.raises(ValueError, match=r"won: expected True, False or None, got 2\.0"):
        prepare_pipeline(numbers.assign(won=numbers["won"].fillna(2.0)))
    booleans = prepare_opportunities({"amount": [1.0, 2.0], "probability": [10.0, 20.0], "won": [True, False]})
    assert list(booleans["status"]) == [WON, LOST]


def test_history_before_a_day_holds_only_what_was_known_then(world):
    """``before(day)`` (what every backtest point and today's fit learn from) holds exactly the
    rows dated before the day, each lead's in its order, and leads created later not at all:
    checked against a plain filter of the rows, and its snapshots against the full history's."""
    deals, index = world
    rows = pd.DataFrame(history_rows(deals))
    row_days = pd.to_datetime(rows["date"]).map(lambda stamp: day_of(stamp.date()))
    assert index.before(FIRST - 1).frame.empty and index.before(FIRST - 1).lead_count == 0
    for day in (FIRST + 40, (FIRST + LAST) // 2, LAST + 1):
        past = index.before(day)
        expected = prepare_pipeline(rows[row_days < day])
        pd.testing.assert_frame_equal(past.frame, expected)
        assert (past.days < day).all()
        assert list(past.frame["lead_id"].to_numpy()[past.starts]) == list(pd.unique(expected["lead_id"]))
        assert (past.ends - past.starts).tolist() == expected.groupby("lead_id", sort=False).size().tolist()
        for earlier in (day - 30, day):
            assert past.snapshot(earlier).equals(index.snapshot(earlier))
        opened = past.last_open_rows()
        status = past.frame["status"].to_numpy()
        for lead, (start, end) in enumerate(zip(past.starts, past.ends, strict=True)):
            open_rows = [row for row in range(start, end) if status[row] == OPEN]
            assert opened[lead] == (open_rows[-1] if open_rows else -1)
