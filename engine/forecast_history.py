"""Pipeline history: every opportunity as it stood on any past day.

Input — a ``pandas.DataFrame``, a dict of columns or an iterable of row dicts, one row per
change of an opportunity (``crm.lead.history`` on the Odoo side), with the values *after*
the change:

=========================  ======================================================  ========
column                     meaning                                                 required
=========================  ======================================================  ========
``lead_id``                the opportunity (same keys as the opportunities' id)    yes
``date``                   when the change happened (date or datetime)             yes
``amount``                 expected revenue in company currency, ``>= 0``          yes
``probability``            stated probability, ``0..100``                          yes
``automated_probability``  Odoo's predictive probability, ``0..100`` (or empty)    no
``date_expected``          expected closing date (or empty)                        no
``won``                    ``True`` won, ``False`` lost, ``None`` open (or 1, 0,   yes
                           NaN)
``type``, ``team``,        group keys (a ``user`` column is ignored: no statistic  no
``level``                  of the history groups by salesperson)
=========================  ======================================================  ========

Rows of one opportunity on the same day keep their given order (the last one is where the
day ended). An opportunity's first row is its creation. The values a row holds after a
closing (Odoo writes 100 % / 0 % then) are not used as stated probabilities: a closed
snapshot keeps the probability of its last open row (``probability`` is "the last
probability stated while open" for closed rows, as in ``forecast_data``).

Normalised frame (``prepare_pipeline``): ``lead_id, day, amount, probability, automated,
expected, status`` + group keys, sorted by lead then day (stable), dates as float day
numbers (NaN = empty), ``status`` one of ``OPEN`` / ``LOST`` / ``WON``.

``snapshot(pipeline, day)`` is the pipeline at the *start* of ``day``: for each opportunity
created before ``day``, its last row dated before ``day``. ``outcomes(pipeline)`` gives the
final state of each opportunity and the day its final closing began — the only facts a
statistic fitted "as of" a date may use, and only when that day is before it.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .forecast_data import OPEN, Table, _column, _keys, _numbers, _status, as_frame, to_days

PIPELINE_GROUPS = ("type", "team", "level")


def prepare_pipeline(table: Table | None) -> pd.DataFrame:
    """The normalised pipeline history (see the module docstring); ``ValueError`` on bad values."""
    frame = as_frame(table, ("lead_id", "date", "amount", "probability", "won"))
    count = len(frame)
    if count and not {"lead_id", "date", "amount", "probability"} <= set(frame.columns):
        raise ValueError("pipeline history: columns lead_id, date, amount and probability are required")
    amount = np.nan_to_num(_numbers(frame["amount"], "pipeline history: amount")) if count else np.zeros(0)
    if (amount < 0).any():
        raise ValueError("pipeline history: amount must not be negative")
    probability = (
        np.nan_to_num(_numbers(frame["probability"], "pipeline history: probability")) if count else np.zeros(0)
    )
    automated = (
        _numbers(frame["automated_probability"], "pipeline history: automated_probability")
        if "automated_probability" in frame
        else np.full(count, np.nan)
    )
    for name, values in (("probability", probability), ("automated_probability", automated)):
        if ((values < 0) | (values > 100)).any():
            raise ValueError(f"pipeline history: {name} must be within 0..100")
    day = to_days(frame["date"], "pipeline history: date") if count else np.zeros(0)
    if np.isnan(day).any():
        raise ValueError("pipeline history: every row needs a date")
    result = pd.DataFrame(
        {
            "lead_id": frame["lead_id"].to_numpy() if count else np.array([], dtype=object),
            "day": day,
            "amount": amount,
            "probability": probability,
            "automated": automated,
            "expected": to_days(_column(frame, "date_expected"), "pipeline history: date_expected"),
            "status": _status(_column(frame, "won")),
        }
    )
    for column in PIPELINE_GROUPS:
        result[column] = _keys(frame[column], column) if column in frame else None
    if not _sorted_by_lead_then_day(result["lead_id"].to_numpy(), day):
        result = result.sort_values(["lead_id", "day"], kind="stable", ignore_index=True)
    _keep_open_probability(result)
    return result


def _sorted_by_lead_then_day(leads: np.ndarray, days: np.ndarray) -> bool:
    """Whether the rows are already in the order ``prepare_pipeline`` gives them (as Odoo
    reads them): sorting half a million rows again costs more than this look."""
    if len(leads) < 2:
        return True
    try:
        following = leads[1:] > leads[:-1]
        same = leads[1:] == leads[:-1]
    except TypeError:  # keys of mixed kinds: only a sort can tell
        return False
    return bool((following | (same & (days[1:] >= days[:-1]))).all())


def _keep_open_probability(frame: pd.DataFrame) -> None:
    """A closed row's probability becomes the last one its opportunity had while open (the
    rows are sorted by lead)."""
    status = frame["status"].to_numpy()
    closed = status != OPEN
    if not closed.any():
        return
    leads = frame["lead_id"].to_numpy()
    first_rows = np.r_[True, leads[1:] != leads[:-1]]
    # each row takes the value of the last row of its lead that is open or the lead's first
    # (a lead closed from its first row has no open value: it keeps its own)
    source = np.maximum.accumulate(np.where(~closed | first_rows, np.arange(len(status)), 0))
    frame["probability"] = frame["probability"].to_numpy()[source]


def history_from_opportunities(opportunities: pd.DataFrame) -> pd.DataFrame:
    """A pipeline history made of today's values (``prepare_opportunities``' frame): a row at
    creation with the current amount, probability and expected date, and a closing row.

    This is hindsight — what the engine falls back on when no history is given; results
    computed from it say so (``"history": "current values"``).
    """
    created = opportunities["created"].to_numpy()
    closed = opportunities["closed"].to_numpy()
    status = opportunities["status"].to_numpy()
    has_closing = (status != OPEN) & ~np.isnan(closed)
    # opportunities without a creation date existed before anything: a day before the first known one
    known = np.concatenate([created[~np.isnan(created)], closed[~np.isnan(closed)]])
    origin = (known.min() if known.size else 0.0) - 1.0
    start = np.where(np.isnan(created), origin, created)
    opening = pd.DataFrame(
        {
            "lead_id": opportunities["id"].to_numpy(),
            "day": start,
            "amount": opportunities["amount"].to_numpy(),
            "probability": opportunities["probability"].to_numpy(),
            "automated": np.nan,
            "expected": opportunities["expected"].to_numpy(),
            "status": np.where(has_closing | (status == OPEN), OPEN, status).astype(np.int8),
        }
    )
    closing = opening[has_closing].copy()
    closing["day"] = np.maximum(closed[has_closing], start[has_closing])
    closing["status"] = status[has_closing]
    frame = pd.concat([opening, closing], ignore_index=True)
    for column in PIPELINE_GROUPS:
        values = opportunities[column].to_numpy()
        frame[column] = np.concatenate([values, values[has_closing]])
    return frame.sort_values(["lead_id", "day"], kind="stable", ignore_index=True)


@dataclass(frozen=True)
class PipelineIndex:
    """A normalised pipeline history prepared for fast snapshots (one running count each).

    Rows are sorted by lead then day, so the rows of a lead dated before a day are the first
    ones of its slice, and counting them finds each lead's last row before the day for all
    leads at once.
    """

    frame: pd.DataFrame
    starts: np.ndarray  # first row of each lead
    ends: np.ndarray  # one past the last row of each lead
    days: np.ndarray
    origin: float  # the first day of the history
    # ``rows_at`` by day: the models fitted at one day read the same snapshots
    snapshots: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, pipeline: pd.DataFrame) -> "PipelineIndex":
        days = pipeline["day"].to_numpy(dtype=np.float64)
        if not days.size:
            nothing = np.zeros(0, dtype=np.int64)
            return cls(pipeline, nothing, nothing, days, 0.0)
        codes, _uniques = pd.factorize(pipeline["lead_id"], sort=False)
        # prepare_pipeline sorts by lead: factorize numbers the leads in that order
        boundaries = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1], True])
        return cls(pipeline, boundaries[:-1], boundaries[1:], days, float(days.min()))

    def before(self, day: float) -> "PipelineIndex":
        """The index of the rows dated before ``day`` (itself when that is all of them)."""
        known = self.days < day
        if known.all():
            return self
        if not known.any():
            return PipelineIndex.build(self.frame.iloc[:0])
        # rows are sorted by lead then day: the known rows of a lead are a prefix of its own,
        # so the leads keep their order and their slices their starts (a lead may have none)
        kept = np.add.reduceat(known.astype(np.int64), self.starts)
        ends = np.cumsum(kept)
        present = kept > 0
        later = np.flatnonzero(~known)  # few, mostly: the rest is copied in blocks
        columns = {name: np.delete(self.frame[name].to_numpy(), later) for name in self.frame.columns}
        days = self.days[known]
        return PipelineIndex(
            pd.DataFrame(columns, copy=False), (ends - kept)[present], ends[present], days, float(days.min())
        )

    @property
    def lead_count(self) -> int:
        return len(self.starts)

    def rows_at(self, day: float) -> np.ndarray:
        """Per lead, the index of its last row dated before ``day`` (-1 when it did not exist
        yet); read-only (kept for the next call with the same day)."""
        if not self.lead_count:
            return np.zeros(0, dtype=np.int64)
        if (rows := self.snapshots.get(float(day))) is not None:
            return rows
        # a running count of the rows dated before ``day``: a slice's share is its leading rows
        before = np.concatenate(([0], np.cumsum(self.days < day)))
        count = before[self.ends] - before[self.starts]
        rows = np.where(count > 0, self.starts + count - 1, -1)
        rows.flags.writeable = False
        self.snapshots[float(day)] = rows
        return rows

    def last_open_rows(self) -> np.ndarray:
        """Per lead, the index of its last open row (-1 when it never was open)."""
        if not self.lead_count:
            return np.zeros(0, dtype=np.int64)
        status = self.frame["status"].to_numpy()
        return np.maximum.reduceat(np.where(status == OPEN, np.arange(len(status)), -1), self.starts)

    def snapshot(self, day: float) -> pd.DataFrame:
        """The opportunities as they stood at the start of ``day`` (those already created)."""
        rows = self.rows_at(day)
        return self.frame.iloc[rows[rows >= 0]].reset_index(drop=True)

    def outcomes(self) -> pd.DataFrame:
        """Per lead: ``lead_id, created, status`` (final), ``closed`` (day its final closing
        began, NaN while open) and ``amount`` (its last amount)."""
        frame = self.frame
        status = frame["status"].to_numpy()
        last = self.ends - 1
        final = status[last]
        # the final closed run starts after the last row whose state differs from the final one
        differs = status != np.repeat(final, self.ends - self.starts)
        row_numbers = np.where(differs, np.arange(len(status)), -1)
        last_differing = np.maximum.reduceat(row_numbers, self.starts) if len(status) else self.starts
        first_final = np.where(last_differing >= self.starts, last_differing + 1, self.starts)
        closed = np.where(final != OPEN, self.days[first_final], np.nan)
        return pd.DataFrame(
            {
                "lead_id": frame["lead_id"].to_numpy()[self.starts],
                "created": self.days[self.starts],
                "status": final,
                "closed": closed,
                "amount": frame["amount"].to_numpy()[last],
            }
        )
