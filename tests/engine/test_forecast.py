"""The forecast entry point: hand-computed results, the result contract, edge cases, bad input."""

import json
import math
import xmlrpc.client
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from engine.forecast import forecast, parse_options

from synthetic import synthetic_history

AS_OF = "2025-01-10"
OPTIONS = {"as_of": AS_OF, "date_from": "2025-01-01", "date_to": "2025-03-31", "currency": "EUR"}
PERIOD_KEYS = {"period", "weighted", "commit", "best_case", "won", "mean", "p10", "p50", "p90"}

# Won ones close on their expected date: the slip history is [0], i.e. no slip.
OPPORTUNITIES = [
    {"id": 1, "amount": 1000, "probability": 50, "date_expected": "2025-01-20"},
    {"id": 2, "amount": 2000, "probability": 80, "date_expected": "2025-02-05"},
    {"id": 3, "amount": 500, "probability": 100, "date_expected": "2024-12-01"},  # overdue: due on the as-of date
    {"id": 4, "amount": 300, "probability": 0, "date_expected": None},  # undated: due on the as-of date
    {"id": 5, "amount": 700, "probability": 60, "date_expected": "2025-01-05", "date_closed": "2025-01-05",
     "won": True},
    {"id": 6, "amount": 400, "probability": 30, "date_expected": "2025-02-10", "date_closed": "2025-02-10",
     "won": False},
    {"id": 7, "amount": 900, "probability": 90, "date_expected": "2024-12-20", "date_closed": "2024-12-20",
     "won": True},
]  # fmt: skip


def periods(result):
    return {row["period"]: row for row in result["periods"]}


def assert_plain(value):
    """Only str / int / float / bool / None / list / dict with str keys, no NaN."""
    if isinstance(value, dict):
        assert all(isinstance(key, str) for key in value)
        for item in value.values():
            assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain(item)
    else:
        assert value is None or type(value) in (str, int, float, bool), repr(value)
        assert not (isinstance(value, float) and not math.isfinite(value))


def assert_contract(result):
    assert_plain(result)
    json.dumps(result, allow_nan=False)
    # marshallable by XML-RPC once the caller has replaced None (crm.lead.get_forecast does)
    xmlrpc.client.dumps((result,), allow_none=True)
    assert {"currency", "periods", "calibration"} <= set(result)
    assert {"brier", "levels"} <= set(result["calibration"])
    for row in result["periods"]:
        assert set(row) >= PERIOD_KEYS
        assert 0 <= row["p10"] <= row["p50"] <= row["p90"]


def test_hand_computed_forecast():
    result = forecast(OPPORTUNITIES, None, OPTIONS)
    assert_contract(result)
    january, february, march = (periods(result)[label] for label in ("2025-01", "2025-02", "2025-03"))
    assert result["currency"] == "EUR" and result["method"] == "analytic"
    # January: 1 (1000 @ 50 %), 3 (500 @ 100 %, overdue), 4 (300 @ 0 %, undated); 5 won 700
    assert (january["weighted"], january["commit"], january["best_case"], january["won"]) == (1000, 500, 1800, 700)
    assert january["count"] == 3
    assert (january["mean"], january["p10"], january["p50"], january["p90"]) == (1000, 500, 500, 1500)
    # February: 2 (2000 @ 80 %); the lost 6 counts nowhere
    assert (february["weighted"], february["commit"], february["best_case"], february["won"]) == (1600, 2000, 2000, 0)
    assert (february["mean"], february["p10"], february["p50"], february["p90"]) == (1600, 0, 2000, 2000)
    assert all(march[key] == 0 for key in PERIOD_KEYS - {"period"})
    assert result["totals"] == {"weighted": 2600, "commit": 2500, "best_case": 3800, "won": 700, "mean": 2600,
                                "open_mean": 2600, "new_mean": 0, "total_mean": 3300}  # fmt: skip
    # no creation date, no pipeline history: nothing is learnt about opportunities not created yet
    assert (result["history"], result["new_pipeline"]["arrivals_per_month"]) == ("current values", 0)
    assert (january["total_mean"], january["total_p10"], january["total_p90"]) == (1700, 1200, 2200)
    assert (result["open_count"], result["overdue_count"], result["undated_count"]) == (4, 1, 1)
    # slips are read from the pipeline on the first day of each month: 5 was open on January 1st, 7 never
    assert result["slip"]["count"] == 1 and result["slip"]["median_days"] == 0
    assert result["accuracy"] == {"cdf_error": 0.0, "amount_error": 0.0, "confidence": 1.0, "cdf_bound": 0.0,
                                  "amount_bound": 0.0}  # fmt: skip


def test_commit_threshold_is_configurable():
    result = forecast(OPPORTUNITIES, None, {**OPTIONS, "commit_threshold": 50})
    assert periods(result)["2025-01"]["commit"] == 1500


def test_quarters():
    result = forecast(OPPORTUNITIES, None, {**OPTIONS, "granularity": "quarter", "date_to": "2025-06-30"})
    assert [row["period"] for row in result["periods"]] == ["2025-Q1", "2025-Q2"]
    assert periods(result)["2025-Q1"]["weighted"] == 2600


def test_monte_carlo_on_the_hand_computed_case():
    result = forecast(OPPORTUNITIES, None, {**OPTIONS, "method": "monte_carlo", "trials": 20_000, "seed": 5})
    assert result["method"] == "monte_carlo"
    january, february = periods(result)["2025-01"], periods(result)["2025-02"]
    assert (january["p10"], january["p90"], february["p10"], february["p90"]) == (500, 1500, 0, 2000)
    assert january["mean"] == 1000  # the mean is exact whatever the method
    assert result["accuracy"]["confidence"] == 0.95 and 0 < result["accuracy"]["cdf_error"] < 0.01


def test_seed_reproducibility():
    opportunities, history = synthetic_history(600, date(2025, 1, 10), seed=4)
    options = {"as_of": AS_OF, "method": "monte_carlo", "trials": 2000}
    first = forecast(opportunities, history, {**options, "seed": 11})
    assert first == forecast(opportunities, history, {**options, "seed": 11})
    other = forecast(opportunities, history, {**options, "seed": 12})
    assert [row["p50"] for row in first["periods"]] != [row["p50"] for row in other["periods"]]
    assert [row["mean"] for row in first["periods"]] == [row["mean"] for row in other["periods"]]


def test_default_period_is_twelve_months_from_as_of():
    result = forecast([], None, {"as_of": "2025-05-20"})
    assert [row["period"] for row in result["periods"]][::11] == ["2025-05", "2026-04"]
    assert (result["date_from"], result["date_to"]) == ("2025-05-01", "2026-04-30")
    assert parse_options(None, today=date(2024, 2, 29)).as_of == date(2024, 2, 29)


def test_synthetic_forecast_is_consistent():
    opportunities, history = synthetic_history(3000, date(2025, 1, 10), seed=8)
    result = forecast(opportunities, history, {"as_of": AS_OF, "backtest": 3, "calibrated": True})
    assert_contract(result)
    total_weighted = result["totals"]["weighted"]
    assert result["totals"]["mean"] == pytest.approx(total_weighted, rel=0.1)  # calibrated, slip spills a little
    assert result["calibration"]["count"] > 2000
    assert len(result["backtest"]["points"]) == 3
    assert set(result["statistics"]["win_rate"]) == {"stage", "level", "user", "type", "team"}


# --- edge cases -----------------------------------------------------------------------


@pytest.mark.parametrize("empty", [[], None, {}, pd.DataFrame()])
@pytest.mark.parametrize("method", ["auto", "analytic", "monte_carlo"])
def test_empty_pipeline(empty, method):
    result = forecast(empty, empty, {**OPTIONS, "method": method, "backtest": 2})
    assert_contract(result)
    assert all(row[key] == 0 for row in result["periods"] for key in PERIOD_KEYS - {"period"})
    calibration = {key: result["calibration"][key] for key in ("brier", "brier_calibrated", "count", "levels", "curve")}
    assert calibration == {"brier": 0.0, "brier_calibrated": 0.0, "count": 0, "levels": [], "curve": []}
    assert (result["calibration"]["used"], result["calibration"]["reason"]) == (False, "too_few_closed")
    assert result["open_count"] == 0


def test_no_history_at_all_means_no_slip_and_no_calibration():
    result = forecast(OPPORTUNITIES[:4], None, {**OPTIONS, "calibrated": True, "backtest": 2})
    assert_contract(result)
    slip = {key: result["slip"][key] for key in ("count", "median_days", "p10_days", "p90_days")}
    assert slip == {"count": 0, "median_days": 0.0, "p10_days": 0.0, "p90_days": 0.0}
    assert periods(result)["2025-01"]["mean"] == 1000  # calibrated = stated without history
    assert result["backtest"]["count"] == 2


def test_single_opportunity():
    result = forecast([{"amount": 1000, "probability": 50, "date_expected": "2025-02-01"}], None, OPTIONS)
    february = periods(result)["2025-02"]
    assert (february["p10"], february["p50"], february["p90"], february["mean"]) == (0, 0, 1000, 500)


def test_zero_amounts_and_extreme_probabilities():
    rows = [
        {"amount": 0, "probability": 90, "date_expected": "2025-01-20"},
        {"amount": 100, "probability": 0, "date_expected": "2025-01-20"},
        {"amount": 100, "probability": 100, "date_expected": "2025-01-20"},
    ]
    january = periods(forecast(rows, None, OPTIONS))["2025-01"]
    assert (january["weighted"], january["best_case"], january["commit"]) == (100, 200, 100)
    assert (january["p10"], january["p50"], january["p90"], january["mean"]) == (100, 100, 100, 100)


def test_everything_overdue_lands_in_the_as_of_period_even_with_slip_history():
    rows = [
        {"amount": 100, "probability": 50, "date_expected": "2020-01-01"},
        {"amount": 10, "probability": 50, "date_expected": "2024-12-01", "date_closed": "2024-12-03", "won": True},
    ]
    january = periods(forecast(rows, None, OPTIONS))["2025-01"]
    assert (january["weighted"], january["mean"], january["best_case"]) == (50, 50, 100)


def test_opportunities_outside_the_range_are_ignored():
    rows = [{"amount": 100, "probability": 50, "date_expected": "2027-01-01"}]
    result = forecast(rows, None, OPTIONS)
    assert result["totals"]["best_case"] == 0 and result["open_count"] == 1


def test_plain_python_input():
    """List of dicts with None for empty values, datetimes, timezone-aware stamps and a DataFrame."""
    rows = [
        {"id": 1, "amount": 1000.0, "probability": 50.0, "date_expected": date(2025, 1, 20), "date_closed": None,
         "date_created": datetime(2024, 12, 1, 10, 30), "won": None, "stage": "New", "level": None, "user": None,
         "type": None, "team": None},
        {"id": 2, "amount": 500.0, "probability": 50.0, "date_expected": "2025-01-02 08:00:00",
         "date_closed": datetime(2025, 1, 3, 23, 0, tzinfo=UTC), "date_created": "2024-12-01",
         "won": True, "stage": "Won", "level": "Medium", "user": 7, "type": 1, "team": 2},
    ]  # fmt: skip
    history = [{"lead_id": 1, "stage_from": None, "stage_to": "New", "date": "2024-12-01 10:30:00"}]
    result = forecast(rows, history, OPTIONS)
    assert_contract(result)
    assert periods(result)["2025-01"]["won"] == 500
    assert forecast(pd.DataFrame(rows), pd.DataFrame(history), OPTIONS) == result
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    assert forecast(columns, {key: [row[key] for row in history] for key in history[0]}, OPTIONS) == result


def falses(value, path=""):
    """Paths of every ``False`` in a result, except its boolean flags."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in falses(item, f"{path}/{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in falses(item, f"{path}/{index}")]
    flags = ("/calibrated", "/inside", "/used")
    return [path] if value is False and not path.endswith(flags) else []


def test_empty_keys_come_back_as_none_never_false():
    """Rows without level, salesperson, type, team or dates (None, NaN, NaT): empty keys are None."""
    rows = [
        {"id": 1, "amount": 100, "probability": 80, "won": True, "date_expected": None, "date_closed": "2024-12-02",
         "date_created": None, "stage": None, "level": None, "user": None, "type": None, "team": None},
        {"id": 2, "amount": 100, "probability": 20, "won": False, "date_expected": None, "date_closed": None,
         "date_created": None, "stage": "New", "level": "Low", "user": 7, "type": np.nan, "team": None},
        {"id": 3, "amount": 100, "probability": 50, "won": None, "date_expected": pd.NaT, "date_closed": None,
         "date_created": None, "stage": None, "level": None, "user": None, "type": None, "team": None},
    ]  # fmt: skip
    history = [{"lead_id": 2, "stage_from": None, "stage_to": "New", "date": "2024-11-01", "duration_days": None}]
    result = forecast(rows, history, {"as_of": AS_OF, "backtest": 2})
    assert_contract(result)
    assert result["currency"] is None  # no currency given
    assert falses(result) == []
    win_rate = result["statistics"]["win_rate"]
    assert [row["key"] for row in win_rate["user"]] == [7, None] and win_rate["type"][0]["key"] is None
    assert {row["key"] for row in win_rate["team"]} == {None} and win_rate["team"][0]["count"] == 2
    assert [row["key"] for row in win_rate["stage"]] == ["New"]  # no stage is not a stage gone through
    assert [row["key"] for row in win_rate["level"]] == ["Low", None]
    assert result["undated_count"] == 1 and periods(result)["2025-01"]["best_case"] == 100
    lost = forecast(rows[1:2], None, OPTIONS)  # won False is a value: lost, not open
    assert (lost["open_count"], [(row["count"], row["won"]) for row in lost["statistics"]["win_rate"]["level"]]) == (
        0, [(1, 0)])  # fmt: skip


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"date_closed": False}, "date_closed: False is not a date"),
        ({"date_expected": ""}, "date_expected: '' is not a date"),
        ({"date_created": True}, "date_created: True is not a date"),
        ({"amount": False}, "amount: False is not a number"),
        ({"probability": ""}, "probability: '' is not a number"),
        ({"level": False}, "level: False is not a key"),
        ({"user": ""}, "user: '' is not a key"),
        ({"won": ""}, "won: expected True, False or None"),
    ],
)
def test_false_and_empty_strings_are_not_empty_values(row, message):
    """False and "" (Odoo's empty values) are not the engine's (None): refused, not guessed."""
    rows = [{"id": 1, "amount": 10, "probability": 10, "level": "Low", "user": 7}, {**OPPORTUNITIES[0], "id": 2, **row}]
    with pytest.raises(ValueError, match=message):
        forecast(rows, None, OPTIONS)
    with pytest.raises(ValueError, match=message):
        forecast(pd.DataFrame(rows), None, OPTIONS)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"stage_from": False}, "stage_from: False is not a key"),
        ({"stage_to": ""}, "stage_to: '' is not a key"),
        ({"date": False}, "date: False is not a date"),
        ({"duration_days": False}, "duration_days: False is not a number"),
        ({"probability": ""}, "probability: '' is not a number"),
    ],
)
def test_false_and_empty_strings_are_not_empty_values_in_the_history(row, message):
    history = [{"lead_id": 1, "stage_from": None, "stage_to": "New", "date": "2025-01-01"}, {**history_row(), **row}]
    with pytest.raises(ValueError, match=message):
        forecast(OPPORTUNITIES, history, OPTIONS)


def history_row():
    return {"lead_id": 1, "stage_from": "New", "stage_to": "Won", "date": "2025-01-05", "duration_days": 4.0,
            "probability": 100.0}  # fmt: skip


def test_missing_probability_and_amount_count_as_zero():
    rows = [{"amount": None, "probability": 50, "date_expected": "2025-01-20"},
            {"amount": 10, "probability": np.nan, "date_expected": "2025-01-20"}]  # fmt: skip
    january = periods(forecast(rows, None, OPTIONS))["2025-01"]
    assert (january["best_case"], january["weighted"]) == (10, 0)


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "fast"}, "unknown method"),
        ({"granularity": "week"}, "unknown granularity"),
        ({"date_from": "2025-03-01", "date_to": "2025-01-31"}, "after"),
        ({"date_from": "2025-13-01"}, "date_from: not a date"),
        ({"as_of": 20250101}, "as_of: not a date"),
        ({"date_from": "2000-01-01", "date_to": "2030-12-31"}, "at most 240 periods"),
        ({"trials": 0}, "trials must be within 1..1,000,000"),
        ({"trials": 1_000_001}, "trials must be within"),
        ({"trials": 10.5}, "trials must be an integer"),
        ({"trials": "100"}, "trials must be an integer"),
        ({"trials": True}, "trials must be an integer"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"seed": True}, "seed must be an integer"),
        ({"seed": False}, "seed must be an integer"),
        ({"backtest": False}, "backtest must be an integer"),
        ({"commit_threshold": False}, "commit_threshold"),
        ({"as_of": False}, "as_of: not a date"),
        ({"date_from": ""}, "date_from: not a date"),
        ({"date_to": False}, "date_to: not a date"),
        ({"granularity": ""}, "unknown granularity"),
        ({"method": False}, "unknown method"),
        ({"calibrated": ""}, "calibrated"),
        ({"currency": False}, "currency"),
        ({"currency": ""}, "currency"),
        ({"seed": "7"}, "seed must be an integer"),
        ({"seed": -1}, "seed must be within"),
        ({"seed": 2**31}, "seed must be within 0..2,147,483,647"),
        ({"commit_threshold": 120}, "commit_threshold"),
        ({"commit_threshold": "70"}, "commit_threshold"),
        ({"calibrated": "yes"}, "calibrated"),
        ({"backtest": -1}, "backtest"),
        ({"backtest": 61}, "backtest"),
        ({"currency": 3}, "currency"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        forecast([], None, {**OPTIONS, **options})


def test_options_must_be_a_dict():
    with pytest.raises(ValueError, match="options must be a dict"):
        forecast([], None, ["month"])


def test_none_means_default_and_false_is_a_value_for_calibrated():
    defaults = parse_options({"as_of": AS_OF})
    keys = ("date_from", "date_to", "granularity", "method", "trials", "seed", "commit_threshold", "calibrated",
            "backtest", "currency")  # fmt: skip
    nones = dict.fromkeys(keys)
    assert parse_options({"as_of": AS_OF, **nones}) == defaults
    assert parse_options({"as_of": AS_OF, "calibrated": False}) == defaults
    assert parse_options({"as_of": AS_OF, "calibrated": True}).calibrated is True
    assert defaults.currency is None and forecast([], None, {"as_of": AS_OF})["currency"] is None


def test_limits_are_accepted():
    assert parse_options({"trials": 1, "seed": 0, "commit_threshold": 0, "as_of": AS_OF}).trials == 1
    assert parse_options({"trials": 1_000_000, "seed": np.int64(2**31 - 1), "as_of": AS_OF}).seed == 2**31 - 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"amount": -1, "probability": 10}, "amount must not be negative"),
        ({"amount": float("inf"), "probability": 10}, "amount: infinite"),
        ({"amount": "lots", "probability": 10}, "amount: not a number"),
        ({"amount": 10, "probability": 100.5}, "probability must be within 0..100"),
        ({"amount": 10, "probability": -0.1}, "probability must be within 0..100"),
        ({"amount": 10, "probability": 10, "date_expected": "soon"}, "date_expected: not a date"),
        ({"amount": 10, "probability": 10, "won": "yes"}, "won: expected True, False or None"),
        ({"probability": 10}, "missing column 'amount'"),
    ],
)
def test_bad_opportunities(row, message):
    with pytest.raises(ValueError, match=message):
        forecast([row], None, OPTIONS)


def test_bad_rows_are_named_and_duplicates_refused():
    with pytest.raises(ValueError, match="opportunity 42"):
        forecast([{"id": 41, "amount": 1, "probability": 1}, {"id": 42, "amount": -5, "probability": 1}], None, OPTIONS)
    with pytest.raises(ValueError, match="more than once"):
        forecast([{"id": 1, "amount": 1, "probability": 1}] * 2, None, OPTIONS)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"lead_id": 1, "stage_to": "New", "date": "2025-01-01", "duration_days": -2}, "duration_days"),
        ({"lead_id": 1, "stage_to": "New", "date": "2025-01-01", "probability": 150}, "probability"),
        ({"lead_id": 1, "stage_to": "New"}, "columns lead_id, stage_to and date are required"),
    ],
)
def test_bad_history(row, message):
    with pytest.raises(ValueError, match=message):
        forecast([], [row], OPTIONS)


def test_calibrated_option_on_a_miscalibrated_team():
    """Stated 80 % but true 40 %: reliability and Brier show it, calibrated forecasts halve the mean."""
    opportunities, history = synthetic_history(4000, date(2025, 1, 10), levels=(80,), true_rates={80: 0.4}, seed=2)
    stated = forecast(opportunities, history, {"as_of": AS_OF})
    calibrated = forecast(opportunities, history, {"as_of": AS_OF, "calibrated": True})
    (level,) = stated["calibration"]["levels"]
    assert level["level"] == "80 %" and level["stated"] == 80
    assert level["observed"] == pytest.approx(40, abs=3) and level["calibrated"] == pytest.approx(40, abs=3)
    assert stated["calibration"]["brier"] == pytest.approx(0.4 * 0.2**2 + 0.6 * 0.8**2, abs=0.02)  # 0.40
    assert stated["calibration"]["brier_calibrated"] == pytest.approx(0.24, abs=0.01)
    assert stated["totals"]["mean"] == pytest.approx(stated["totals"]["weighted"], rel=0.01)
    assert calibrated["totals"]["mean"] == pytest.approx(stated["totals"]["weighted"] / 2, rel=0.05)
    assert calibrated["totals"]["weighted"] == stated["totals"]["weighted"]  # the plain pipeline stays stated
