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
``calibrated``        use the calibrated probabilities for the distribution  False
                      when calibration helps (``engine.forecast_calibration``)
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
slip), ``won`` = closed-won amounts by closing date; then the distributions, learnt from
the pipeline history before the as-of date (``engine.forecast_model``): what the open
pipeline will still win (``mean``, ``p10``, ``p50``, ``p90``, also as ``open_*``: slips,
overdue decay and calibration), what opportunities not created yet will win (``new_*``)
and the period's total, won + open + new (``total_*``). Means are exact; the backtest
(``engine.forecast_backtest``) scores the same code standing on past dates.
"""

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from .forecast_backtest import backtest
from .forecast_calibration import calibration_summary
from .forecast_data import OPEN, WON, OptionError, Table, prepare_history, prepare_opportunities
from .forecast_distribution import METHODS, due_days
from .forecast_history import PipelineIndex, history_from_opportunities, prepare_pipeline
from .forecast_model import Learnt, StandingForecast, standing_forecast
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
from .forecast_stats import historical_statistics

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
            raise OptionError(f"{name}: not a date: {value!r}", name, "date", value) from error
    raise OptionError(f"{name}: not a date: {value!r}", name, "date", value)


def _integer(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= value <= high:
        wrong = "be within" if isinstance(value, int | np.integer) and not isinstance(value, bool) else "be an integer"
        raise OptionError(
            f"{name} must {wrong} {low:,}..{high:,}, got {value!r}", name, "integer", value, low=low, high=high
        )
    return int(value)


def _choice(value: object, name: str, choices: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if value not in choices:
        raise OptionError(
            f"unknown {name} {value!r}: expected one of {', '.join(choices)}", name, "choice", value, choices=choices
        )
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
        raise OptionError(
            f"date_from {date_from.isoformat()} is after date_to {date_to.isoformat()}", "date_from", "order",
            date_from, start=date_from, end=date_to,
        )  # fmt: skip
    if period_count(date_from, date_to, granularity) > MAX_PERIODS:
        raise OptionError(
            f"at most {MAX_PERIODS} periods can be forecast at once", "date_to", "periods", date_to, limit=MAX_PERIODS
        )
    trials, seed, backtest = options.get("trials"), options.get("seed"), options.get("backtest")
    threshold = options.get("commit_threshold")
    if threshold is None:
        threshold = COMMIT_THRESHOLD
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 100:
        raise OptionError(
            f"commit_threshold must be a number within 0..100, got {threshold!r}", "commit_threshold", "number",
            threshold, low=0, high=100,
        )  # fmt: skip
    calibrated = options.get("calibrated")
    if calibrated is None:
        calibrated = False
    if not isinstance(calibrated, bool):
        raise OptionError(f"calibrated must be true or false, got {calibrated!r}", "calibrated", "boolean", calibrated)
    currency = options.get("currency")
    if currency is not None and not (isinstance(currency, str) and currency.strip()):
        raise OptionError(
            f"currency must be a currency code or None, got {currency!r}", "currency", "currency", currency
        )
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


def _periods_rows(periods: list[Period], totals: dict[str, np.ndarray], standing: StandingForecast) -> list:
    opened = standing.open
    # what the open pipeline will win is both the historical ``mean`` .. ``p90`` and ``open_*``
    laws = {
        "": (opened.mean, opened.quantiles),
        "open_": (opened.mean, opened.quantiles),
        "new_": (standing.new_mean, standing.new_quantiles),
        "total_": (standing.total_mean, standing.total_quantiles),
    }
    rows = []
    for k, period in enumerate(periods):
        row = {
            "period": period.label,
            "date_from": period.start.isoformat(),
            "date_to": period.end.isoformat(),
            "count": int(totals["count"][k]),
            **{key: _money(totals[key][k]) for key in ("weighted", "commit", "best_case", "won")},
        }
        for prefix, (mean, quantiles) in laws.items():
            row[f"{prefix}mean"] = _money(mean[k])
            row.update({f"{prefix}p{level}": _money(quantiles[j, k]) for j, level in enumerate((10, 50, 90))})
        rows.append(row)
    return rows


def forecast(
    opportunities: Table | None,
    history: Table | None = None,
    options: Mapping | None = None,
    today: date | None = None,
    pipeline: Table | None = None,
) -> dict:
    """The whole forecast as a JSON / XML-RPC-ready dict.

    ``opportunities`` are today's (``forecast_data``), ``history`` the stage history behind
    the statistics, ``pipeline`` the pipeline history (``forecast_history``) every
    statistic that looks back learns from. Without it the engine falls back on a history
    made of today's values (hindsight: ``"history": "current values"`` says so). With it, a
    closed opportunity is scored at the probability and level of its last open row.

    Keys: ``currency``, ``as_of``, ``date_from``, ``date_to``, ``granularity``,
    ``method`` (the one used: ``"analytic"`` or ``"monte_carlo"``), ``trials``, ``seed``,
    ``calibrated`` (as asked; ``calibration.used`` says whether it applied), ``commit_threshold``,
    ``open_count``, ``overdue_count``, ``undated_count``, ``history``, ``periods``
    (``[{"period", "date_from", "date_to", "count", "weighted", "commit", "best_case", "won",
    "mean", "p10", "p50", "p90"}]`` — ``mean`` .. ``p90`` are what the open pipeline will
    win, also as ``open_*``; ``new_*`` what opportunities not created yet will win;
    ``total_*`` won + open + new), ``totals`` (sums of the additive columns), ``beyond``
    (``{"amount", "share"}``: what the open pipeline is expected to win after ``date_to``),
    ``accuracy`` (``{"cdf_error", "amount_error", "confidence", "cdf_bound",
    "amount_bound"}``: the open pipeline's quantiles are those of a law within ``cdf_error``
    in probability after shifting amounts by ``amount_error`` — estimates of the real error
    for the analytic method, the sampling error for Monte Carlo — and surely within the
    ``*_bound`` ones, with probability ``confidence``), ``slip``
    (``forecast_slip.SlipModel.summary``), ``calibration``
    (``forecast_calibration.calibration_summary``), ``new_pipeline`` (arrivals, win rate and
    amount of new opportunities), ``statistics``
    (``forecast_stats.historical_statistics``) and, when asked, ``backtest``
    (``forecast_backtest.backtest``).
    """
    # One BLAS thread: the engine's products are small, and on a busy server (Odoo's workers)
    # a pool of BLAS threads waits for CPUs it cannot get — a dot product of 100,000
    # numbers measured 14 ms instead of 0.06 ms on the loaded bench machine.
    with _thread_pools().limit(limits=1, user_api="blas"):
        return _forecast(opportunities, history, options, today, pipeline)


@functools.cache
def _thread_pools() -> ThreadpoolController:
    """The thread pools of the loaded libraries, looked up once (each lookup costs ~5 ms)."""
    return ThreadpoolController()


def _forecast(opportunities, history, options, today, pipeline) -> dict:
    settings = parse_options(options, today)
    frame = prepare_opportunities(opportunities)
    stages = prepare_history(history)
    if pipeline is None:
        source, index = "current values", PipelineIndex.build(history_from_opportunities(frame))
        # arrivals are learnt from creation days: not from the ones made up for missing dates
        learn_new = bool(frame["created"].notna().all())
    else:
        source, index, learn_new = "pipeline", PipelineIndex.build(prepare_pipeline(pipeline)), True
        frame = _stated_while_open(frame, index)
    periods = periods_between(settings.date_from, settings.date_to, settings.granularity)
    boundaries = period_boundaries(periods)
    as_of = day_number(settings.as_of)
    learnt = Learnt.fit(index, as_of, learn_new)
    totals = pipeline_totals(frame, boundaries, as_of, settings.commit_threshold)
    is_open = frame["status"].to_numpy() == OPEN
    standing = standing_forecast(
        frame[is_open], learnt, as_of, boundaries, settings.method, settings.trials, settings.seed,
        calibrated=settings.calibrated, won=totals["won"],
    )  # fmt: skip
    rows = _periods_rows(periods, totals, standing)
    expected = frame["expected"].to_numpy()[is_open]
    open_total = float(standing.open.mean.sum())
    result = {
        "currency": settings.currency,
        "as_of": settings.as_of.isoformat(),
        "date_from": periods[0].start.isoformat(),
        "date_to": periods[-1].end.isoformat(),
        "granularity": settings.granularity,
        "method": standing.open.method,
        "trials": settings.trials,
        "seed": settings.seed,
        "calibrated": settings.calibrated,
        "commit_threshold": settings.commit_threshold,
        "open_count": len(expected),
        "overdue_count": int(np.count_nonzero(expected < as_of)),
        "undated_count": int(np.count_nonzero(np.isnan(expected))),
        "history": source,
        "periods": rows,
        "totals": {
            key: _money(sum(row[key] for row in rows))
            for key in ("weighted", "commit", "best_case", "won", "mean", "open_mean", "new_mean", "total_mean")
        },
        "beyond": {
            "amount": _money(standing.beyond),
            "share": round(standing.beyond / (standing.beyond + open_total), 4) if standing.beyond > 0 else 0.0,
        },
        "accuracy": {
            "cdf_error": round(standing.open.cdf_error, 6),
            "amount_error": _money(standing.open.amount_error),
            "confidence": standing.open.confidence,
            "cdf_bound": round(standing.open.cdf_bound, 6),
            "amount_bound": _money(standing.open.amount_bound),
        },
        "slip": learnt.slip.summary(),
        "calibration": calibration_summary(learnt.calibration, learnt.pairs),
        "new_pipeline": _new_pipeline_summary(learnt),
        "statistics": historical_statistics(frame, stages),
    }
    if settings.backtest:
        result["backtest"] = backtest(
            index,
            settings.as_of,
            settings.granularity,
            settings.backtest,
            settings.method,
            settings.trials,
            settings.seed,
            settings.calibrated,
            learn_new=learn_new,
        )
    return _finite(result)


def _stated_while_open(frame: pd.DataFrame, index: PipelineIndex) -> pd.DataFrame:
    """``frame`` with each closed opportunity's probability and level those of its last
    open row in the pipeline history (Odoo writes 100 % / 0 % on closing)."""
    closed = frame["status"].to_numpy() != OPEN
    if not closed.any() or not index.lead_count:
        return frame
    history = index.frame
    last_open = index.last_open_rows()
    lead = pd.Index(history["lead_id"].to_numpy()[index.starts]).get_indexer(frame["id"].to_numpy()[closed])
    row = np.where(lead >= 0, last_open[lead], -1)
    found = row >= 0
    if not found.any():
        return frame
    frame = frame.copy()
    rows = np.flatnonzero(closed)[found]
    frame.loc[rows, "probability"] = history["probability"].to_numpy()[row[found]]
    frame["level"] = frame["level"].astype(object)
    frame.loc[rows, "level"] = history["level"].to_numpy()[row[found]]
    return frame


def _new_pipeline_summary(learnt: Learnt) -> dict:
    """Arrivals a month, the share of new opportunities won and their mean won amount."""
    model = learnt.new
    rates = model.rates
    if not rates.size or not model.amounts.size:
        return {"arrivals_per_month": 0.0, "win_rate": 0.0, "mean_amount": 0.0, "count": 0}
    share = rates / rates.sum() if rates.sum() > 0 else np.full(rates.size, 1.0 / rates.size)
    won_eventually = model.won_by_age[:, -1]
    amount = model.amount_weights @ model.amounts
    return {
        "arrivals_per_month": round(float(rates.sum()) * 365.25 / 12, 2),
        "win_rate": round(100.0 * float(share @ won_eventually), 2),
        "mean_amount": _money(share @ amount),
        "count": int(model.arrivals.sum()),
    }


def _finite(value: object) -> object:
    """Guarantee of the contract: no NaN or infinity anywhere in the result (replaced by 0.0)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else 0.0
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
