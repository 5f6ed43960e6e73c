"""Forecast engine of crm_opportunity_management: pure Python (pandas / numpy / scipy), no Odoo.

Entry point: ``forecast(opportunities, history, options) -> dict``, the numbers behind
``crm.lead.get_forecast``. Input tables are described in ``engine.forecast_data``;
``options`` (a dict; unknown keys are ignored; a missing key or ``None`` means
"default"; ``False`` and ``""`` are not empty values but bad ones — a date, a choice or a
number — except for the boolean ``calibrated``):

====================  ====================================================  ============
key                   meaning                                               default
====================  ====================================================  ============
``as_of``             reference date: open opportunities close on or after  today
                      it (``date`` or ISO string)
``date_from``         first day covered (widened to its whole period)       period of as_of
``date_to``           last day covered (widened to its whole period)        12 periods on
``granularity``       ``"month"`` (``YYYY-MM``) or ``"quarter"`` (``YYYY-Qn``)  ``"month"``
``method``            ``"auto"``, ``"analytic"`` or ``"monte_carlo"``       ``"auto"``
``trials``            Monte Carlo trials, integer 1..1,000,000              10,000
``seed``              integer 0..2**31-1 (the XML-RPC integer range) for    0
                      ``numpy.random.default_rng``
``commit_threshold``  "commit" = open amount with probability >= this (%)    70
``calibrated``        use isotonic-calibrated probabilities for the         False
                      distribution (``mean``, ``p10``, ``p50``, ``p90``)
``backtest``          number of past periods to backtest (0..60)            0
``currency``          company currency code, echoed as ``"currency"``       ``None``
====================  ====================================================  ============

The result (see ``forecast``) holds only str, int, float, bool, ``None``, lists and dicts
with str keys — JSON ready; an empty value (a group key, the currency when none was
given) is ``None``, never ``False``, so a caller whose protocol has no ``None`` (XML-RPC
without ``allow_none``) translates it. Money is rounded to cents, percentages to 2
decimals. Bad input raises ``ValueError`` with a message fit for a ``UserError``.

Per period: ``weighted`` = sum of amount x stated probability, ``commit`` = sum of the
amounts with probability >= the threshold, ``best_case`` = sum of all open amounts (all
three by expected close date, overdue or empty dates counted on the as-of date, no
slip), ``won`` = closed-won amounts by closing date, and the distribution of what the
open pipeline will still win (slip and method: ``engine.forecast_distribution``):
``mean`` (exact), ``p10``, ``p50``, ``p90``. A period's expected total is ``won + mean``.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from .forecast_backtest import backtest
from .forecast_data import OPEN, WON, Table, prepare_history, prepare_opportunities
from .forecast_distribution import (
    METHODS,
    RevenueForecast,
    due_days,
    historical_slips,
    pipeline_weights,
    revenue_forecast,
)
from .forecast_periods import (
    GRANULARITIES,
    Period,
    add_periods,
    day_number,
    period_boundaries,
    period_count,
    period_index,
    periods_between,
)
from .forecast_stats import (
    IDENTITY,
    Calibrator,
    calibration_report,
    closed_outcomes,
    fit_calibration,
    historical_statistics,
)

DEFAULT_TRIALS = 10_000
MAX_TRIALS = 1_000_000
MAX_SEED = 2**31 - 1  # echoed in the result: it must fit an XML-RPC integer
DEFAULT_PERIODS = 12
MAX_PERIODS = 240
MAX_BACKTEST = 60
COMMIT_THRESHOLD = 70.0

__all__ = [
    "ForecastOptions",
    "forecast",
    "open_pipeline_forecast",
    "open_pipeline_weights",
    "parse_options",
    "pipeline_totals",
]


@dataclass(frozen=True)
class ForecastOptions:
    """Validated options of ``forecast`` (see the module docstring)."""

    as_of: date
    date_from: date
    date_to: date
    granularity: str = "month"
    method: str = "auto"
    trials: int = DEFAULT_TRIALS
    seed: int = 0
    commit_threshold: float = COMMIT_THRESHOLD
    calibrated: bool = False
    backtest: int = 0
    currency: str | None = None


def _date(value: object, name: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip()).date()
        except ValueError as error:
            raise ValueError(f"{name}: not a date: {value!r}") from error
    raise ValueError(f"{name}: not a date: {value!r}")


def _integer(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be within {low:,}..{high:,}, got {value!r}")
    return int(value)


def _choice(value: object, name: str, choices: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}: expected one of {', '.join(choices)}")
    return str(value)


def parse_options(options: Mapping | None = None, today: date | None = None) -> ForecastOptions:
    """Validate RPC-style ``options`` into ``ForecastOptions``; ``ValueError`` says what is wrong.

    ``today`` replaces ``date.today()`` as the default ``as_of`` (tests, reproducibility).
    """
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ValueError(f"options must be a dict, got {type(options).__name__}")
    granularity = _choice(options.get("granularity"), "granularity", GRANULARITIES, "month")
    method = _choice(options.get("method"), "method", METHODS, "auto")
    as_of = _date(options.get("as_of"), "as_of") or today or date.today()
    date_from = _date(options.get("date_from"), "date_from") or add_periods(as_of, 0, granularity)
    date_to = _date(options.get("date_to"), "date_to") or (
        add_periods(date_from, DEFAULT_PERIODS, granularity) - timedelta(days=1)
    )
    if date_from > date_to:
        raise ValueError(f"date_from {date_from.isoformat()} is after date_to {date_to.isoformat()}")
    if period_count(date_from, date_to, granularity) > MAX_PERIODS:
        raise ValueError(f"at most {MAX_PERIODS} periods can be forecast at once")
    trials, seed, backtest = options.get("trials"), options.get("seed"), options.get("backtest")
    threshold = options.get("commit_threshold")
    if threshold is None:
        threshold = COMMIT_THRESHOLD
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 100:
        raise ValueError(f"commit_threshold must be a number within 0..100, got {threshold!r}")
    calibrated = options.get("calibrated")
    if calibrated is None:
        calibrated = False
    if not isinstance(calibrated, bool):
        raise ValueError(f"calibrated must be true or false, got {calibrated!r}")
    currency = options.get("currency")
    if currency is not None and not (isinstance(currency, str) and currency.strip()):
        raise ValueError(f"currency must be a currency code or None, got {currency!r}")
    return ForecastOptions(
        as_of=as_of,
        date_from=date_from,
        date_to=date_to,
        granularity=granularity,
        method=method,
        trials=DEFAULT_TRIALS if trials is None else _integer(trials, "trials", 1, MAX_TRIALS),
        seed=0 if seed is None else _integer(seed, "seed", 0, MAX_SEED),
        commit_threshold=float(threshold),
        calibrated=calibrated,
        backtest=0 if backtest is None else _integer(backtest, "backtest", 0, MAX_BACKTEST),
        currency=currency,
    )


def pipeline_totals(
    opportunities: pd.DataFrame, boundaries: np.ndarray, as_of: int, commit_threshold: float = COMMIT_THRESHOLD
) -> dict[str, np.ndarray]:
    """Per period: ``weighted``, ``commit``, ``best_case``, ``count`` (open) and ``won`` (closed).

    Open opportunities count in the period of their expected close date, moved to
    ``as_of`` when overdue or empty; won ones in the period of their closing date.
    """
    size = len(boundaries) - 1
    status = opportunities["status"].to_numpy()
    amount = opportunities["amount"].to_numpy()
    probability = opportunities["probability"].to_numpy()
    is_open = status == OPEN
    index = period_index(due_days(opportunities["expected"].to_numpy()[is_open], as_of), boundaries)
    inside = (index >= 0) & (index < size)

    def per_period(values: np.ndarray) -> np.ndarray:
        return np.bincount(index[inside], weights=values[inside], minlength=size)

    closed = opportunities["closed"].to_numpy()
    won = (status == WON) & ~np.isnan(closed)
    won_index = period_index(closed[won], boundaries)
    won_inside = (won_index >= 0) & (won_index < size)
    return {
        "weighted": per_period(amount[is_open] * probability[is_open] / 100.0),
        "commit": per_period(amount[is_open] * (probability[is_open] >= commit_threshold)),
        "best_case": per_period(amount[is_open]),
        "count": np.bincount(index[inside], minlength=size),
        "won": np.bincount(won_index[won_inside], weights=amount[won][won_inside], minlength=size),
    }


def _money(value: float) -> float:
    return round(float(value), 2) + 0.0


def _periods_rows(
    periods: list[Period], totals: dict[str, np.ndarray], mean: np.ndarray, quantiles: np.ndarray
) -> list:
    return [
        {
            "period": period.label,
            "date_from": period.start.isoformat(),
            "date_to": period.end.isoformat(),
            "count": int(totals["count"][k]),
            "weighted": _money(totals["weighted"][k]),
            "commit": _money(totals["commit"][k]),
            "best_case": _money(totals["best_case"][k]),
            "won": _money(totals["won"][k]),
            "mean": _money(mean[k]),
            "p10": _money(quantiles[0, k]),
            "p50": _money(quantiles[1, k]),
            "p90": _money(quantiles[2, k]),
        }
        for k, period in enumerate(periods)
    ]


def _slip_summary(slips: np.ndarray) -> dict:
    if not slips.size:
        return {"count": 0, "median_days": 0.0, "p10_days": 0.0, "p90_days": 0.0}
    low, middle, high = np.quantile(slips, [0.1, 0.5, 0.9])
    return {"count": int(slips.size), "median_days": float(middle), "p10_days": float(low), "p90_days": float(high)}


def forecast(
    opportunities: Table | None, history: Table | None = None, options: Mapping | None = None, today: date | None = None
) -> dict:
    """The whole forecast as a JSON / XML-RPC-ready dict.

    Keys: ``currency``, ``as_of``, ``date_from``, ``date_to``, ``granularity``,
    ``method`` (the one used: ``"analytic"`` or ``"monte_carlo"``), ``trials``, ``seed``,
    ``calibrated``, ``commit_threshold``, ``open_count``, ``overdue_count``,
    ``undated_count``, ``periods`` (``[{"period", "date_from", "date_to", "count",
    "weighted", "commit", "best_case", "won", "mean", "p10", "p50", "p90"}]``),
    ``totals`` (sums of the additive columns), ``accuracy`` (``{"cdf_error",
    "amount_error", "confidence"}``: the quantiles are those of a law within
    ``cdf_error`` in probability after shifting amounts by ``amount_error``, with
    probability ``confidence``), ``slip`` (historical slips in days), ``calibration``
    (``engine.forecast_stats.calibration_report``), ``statistics``
    (``engine.forecast_stats.historical_statistics``) and, when asked, ``backtest``
    (``engine.forecast_backtest.backtest``).
    """
    settings = parse_options(options, today)
    frame = prepare_opportunities(opportunities)
    stages = prepare_history(history)
    periods = periods_between(settings.date_from, settings.date_to, settings.granularity)
    calibrator = fit_calibration(*closed_outcomes(frame))
    distribution, slips = open_pipeline_forecast(frame, settings, periods, calibrator)
    totals = pipeline_totals(frame, period_boundaries(periods), day_number(settings.as_of), settings.commit_threshold)
    rows = _periods_rows(periods, totals, distribution.mean, distribution.quantiles)
    expected = frame["expected"].to_numpy()[frame["status"].to_numpy() == OPEN]
    result = {
        "currency": settings.currency,
        "as_of": settings.as_of.isoformat(),
        "date_from": periods[0].start.isoformat(),
        "date_to": periods[-1].end.isoformat(),
        "granularity": settings.granularity,
        "method": distribution.method,
        "trials": settings.trials,
        "seed": settings.seed,
        "calibrated": settings.calibrated,
        "commit_threshold": settings.commit_threshold,
        "open_count": len(expected),
        "overdue_count": int(np.count_nonzero(expected < day_number(settings.as_of))),
        "undated_count": int(np.count_nonzero(np.isnan(expected))),
        "periods": rows,
        "totals": {
            key: _money(sum(row[key] for row in rows)) for key in ("weighted", "commit", "best_case", "won", "mean")
        },
        "accuracy": {
            "cdf_error": round(distribution.cdf_error, 6),
            "amount_error": _money(distribution.amount_error),
            "confidence": distribution.confidence,
        },
        "slip": _slip_summary(slips),
        "calibration": calibration_report(frame, calibrator),
        "statistics": historical_statistics(frame, stages),
    }
    if settings.backtest:
        result["backtest"] = backtest(
            frame,
            stages,
            settings.as_of,
            settings.granularity,
            settings.backtest,
            settings.method,
            settings.trials,
            settings.seed,
            settings.calibrated,
        )
    return _finite(result)


def open_pipeline_weights(
    frame: pd.DataFrame, settings: ForecastOptions, periods: list[Period], calibrator: Calibrator = IDENTITY
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Amounts and weights ``(n, P)`` of the open rows of ``frame``, and the slips behind them.

    Slips come from every closed-won row; probabilities go through ``calibrator`` when
    ``settings.calibrated``.
    """
    status = frame["status"].to_numpy()
    pipeline = frame[status == OPEN]
    slips = historical_slips(frame["expected"].to_numpy(), frame["closed"].to_numpy(), status == WON)
    probability = pipeline["probability"].to_numpy()
    if settings.calibrated:
        probability = calibrator(probability)
    weights = pipeline_weights(
        probability, pipeline["expected"].to_numpy(), day_number(settings.as_of), slips, period_boundaries(periods)
    )
    return pipeline["amount"].to_numpy(), weights, slips


def open_pipeline_forecast(
    frame: pd.DataFrame, settings: ForecastOptions, periods: list[Period], calibrator: Calibrator = IDENTITY
) -> tuple[RevenueForecast, np.ndarray]:
    """Distribution of what the open rows of ``frame`` will win per period, and the slips used."""
    amounts, weights, slips = open_pipeline_weights(frame, settings, periods, calibrator)
    return revenue_forecast(amounts, weights, settings.method, settings.trials, settings.seed), slips


def _finite(value: object) -> object:
    """Guarantee of the contract: no NaN or infinity anywhere in the result (replaced by 0.0)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else 0.0
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
