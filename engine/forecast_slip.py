"""When an open opportunity will close, and how being overdue changes its odds.

The slip of an opportunity is ``close - expected`` in days. ``SlipModel.fit`` learns it from
the *history of expected closing dates* (``engine.forecast_history``), standing at a date
``as_of`` and using only the rows dated before it (the backtest fits it at past dates).

Observations. At each snapshot day ``s < as_of`` (default: the first day of every month),
every opportunity open at the start of ``s`` with an expected date ``E_s`` gives one
observation on the *slip axis* ``t = day - E_s``, covering the days ``[s, s')`` up to the
next snapshot ``s'`` (``as_of`` after the last one):

* it enters at ``t = s - E_s`` (delayed entry: it was known open at ``s``, so its slip is
  at least that — the left truncation);
* it ends with an event when its final closing (as of ``as_of``: the first of the closed
  rows after the last open one; won or lost as the last row says) falls in ``[s, s')``, at
  ``t = close - E_s``;
* otherwise it leaves at ``t = s' - 1 - E_s``, still open: handed over to the next
  snapshot's observation (which uses the expected date stated then), or right-censored
  at ``as_of - 1 - E_s`` when ``s'`` is ``as_of``.

While the expected date stays the same, a lead's observations tile the slip axis, so a
lead counts once at each slip; a lead whose date was pushed back is at risk again over the
slips it re-lives (each observation is a true statement "open at that slip, under the
date stated then"). Slips are kept within ``±SLIP_LIMIT`` days (later entry and earlier
censoring are both valid; only absurd dates are affected).

Estimator: product-limit (Kaplan-Meier / Aalen-Johansen) with delayed entry, for two
competing outcomes. On each day ``t``: ``r(t)`` observations at risk, ``e_w(t)`` won and
``e_l(t)`` lost closings; a lost closing leaves the risk set at its closing (a competing
event for winning). The slip law *of a won deal* is read through its own daily hazard
``l(t) = e_w(t) / r_w(t)``, where ``r_w(t)`` counts the observations at risk that are to
be won: 1 for a lead won by ``as_of``, 0 for one lost, and for one still open its chance
``pi`` of being won given open where it was censored (``won_share``: Aalen-Johansen,
``pi(t) = P(won | open at t)``). Not the plain Kaplan-Meier of wins with losses censored:
that is the law of a world without losses, and it stretches slips whenever losing is
possible. Assumptions: the slip, counted from the date stated at a snapshot, follows one
law whatever the day and the stated probability (a won deal's slip law does not depend on
how likely it was to be won), and being still open at ``as_of`` says nothing more than
"slip at least that".

Shrinkage. Each day's hazard is shrunk towards the *no slip* prior — a deal closes on its
expected date, or at once when already past it — with ``K**2 / (K + m(t))``
pseudo-observations that close on every day ``t >= 0`` and never before (``K =
PSEUDO_LEADS = 7``), ``m(t)`` being the won deals the data rest on (those at risk known
to be won, at most the wins seen on day ``t`` or later); the ``pi`` credited to open deals is
likewise scaled by ``n_w / (n_w + K)``: a tail of open deals that no win supports counts
as abandoned. With no history this is exactly "close on ``max(expected, as_of)``". One
won deal holds at most ``1 / (1 + K**2 / (K + 1)) = 8/57 ≈ 14 %`` of any day's hazard;
the margin up to 20 % absorbs its indirect effect (a win also raises the ``pi`` of the
open deals around it), so that no single historical deal moves more than a fifth of any
deal's landing (checked by leaving each deal out of small random histories). With plenty
of data the pseudo weight fades as ``K**2 / m`` (a second-order bias). A lead whose date
was pushed back counts once per observation where they overlap.

Undated deals. An open deal without an expected date is placed on the *age axis*
``close - created`` with exactly the same estimator, fitted on every open lead at every
snapshot (the age does not need an expected date), and conditioned on its age at
``as_of``; the prior is "closes at once" (an undated deal used to be "due today"). A deal
with neither date closes on ``as_of``.

Overdue deals (``win_factor``, ``adjusted_probability``). A deal with stated probability
``p`` (the share of such deals won) still open at slip ``d`` is won with

    p' = p * S_w(d) / (p * S_w(d) + (1 - p) * S_l(d))          (Bayes)

where ``S_w(d)`` / ``S_l(d)`` are the probabilities that a deal to be won / lost is still
open at slip ``d`` — from the Aalen-Johansen incidences of winning and losing on the same
observations (before slip 0 with the prior's pseudo-observations, so that the few deals
seen long before their date do not decide alone; deals still open at the end of the data
count with the lost: a deal nobody ever closed is abandoned). Each is shrunk with ``K``
pseudo-deals (``n`` being the class's closings): ``S_l^ = (n_l * S_l + K) / (n_l + K)``
(pseudo-lost deals may stay open for ever) and ``S_w^ = (n_w * S_w + K * A) / (n_w + K)``
where ``A(d) = prod_{t<d} (1 - e(t) / (r(t) + K))`` is the share of history's deals still
open at ``d`` (with ``K`` that never close). With little history both stay near 1 and
``p' ≈ p``; within the history's range the data speak (for a deal not yet due the factor
is near 1); far beyond anything ever seen closing, ``S_w^`` falls to about ``K / n``
while ``S_l^`` stays at least ``K / (n_l + K)``: such a deal tends to a low probability (a
won deal gets booked; one open far longer than any ever won is a forgotten one) rather
than landing its full amount in the current month. The same factor applies on the age
axis to undated deals.
"""

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from .forecast_data import LOST, OPEN, WON
from .forecast_history import PipelineIndex
from .forecast_periods import day_number

PSEUDO_LEADS = 7.0  # K: strength of the "no slip" prior (see the module docstring)
SLIP_LIMIT = 3660  # days: slips and ages are kept within +- ten years
HARD_STOP = -800.0  # log(1 - h) when h = 1: exp(-800) is 0 in float64, and sums stay finite
QUANTILES = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class Observations:
    """Observations on one axis (slip or age): entry, exit (inclusive, in axis days) and
    how each ends — ``WON``, ``LOST`` or ``OPEN`` (no event); ``censored`` marks those still
    open at ``as_of``; ``lead`` is the lead number of each, ``final`` its lead's state at
    ``as_of`` (``OPEN`` when still open)."""

    entry: np.ndarray
    exit: np.ndarray
    outcome: np.ndarray
    censored: np.ndarray
    lead: np.ndarray
    final: np.ndarray

    @classmethod
    def empty(cls) -> "Observations":
        nothing = np.zeros(0, dtype=np.int64)
        return cls(nothing, nothing, nothing.astype(np.int8), nothing.astype(bool), nothing, nothing.astype(np.int8))


@dataclass(frozen=True)
class Axis:
    """The competing-risks estimate on one axis, on the day grid ``start .. start + n - 1``.

    ``risk``, ``won``, ``lost``: observations at risk and closings on each day (the grid
    covers 0 and ends one day past the last observation: nothing is at risk there). The
    other arrays are derived once by ``build``: ``log_tail[t]`` = log of P(slip >= t | won)
    up to a constant (shrunk hazards, ``_log_won_tail``), ``evidence`` (``m(t)``, the won
    deals a day's hazard rests on), ``won_survival`` / ``lost_survival`` (``S_w^``, ``S_l^``
    per grid day).
    """

    start: int
    risk: np.ndarray
    won: np.ndarray
    lost: np.ndarray
    log_tail: np.ndarray
    evidence: np.ndarray
    won_survival: np.ndarray
    lost_survival: np.ndarray
    observations: int
    censored: int
    leads: int

    @classmethod
    def build(cls, observations: Observations) -> "Axis":
        entry, exit_, outcome = observations.entry, observations.exit, observations.outcome
        start = int(min(entry.min(), 0)) if entry.size else 0
        end = int(max(exit_.max() + 1, 0)) if exit_.size else 0
        size = end - start + 1
        moves = np.bincount(entry - start, minlength=size + 1) - np.bincount(exit_ + 1 - start, minlength=size + 1)
        risk = np.cumsum(moves)[:size].astype(np.float64)
        won = np.bincount(exit_[outcome == WON] - start, minlength=size).astype(np.float64)
        lost = np.bincount(exit_[outcome == LOST] - start, minlength=size).astype(np.float64)
        won_survival, lost_survival = _class_survivals(start, risk, won, lost)
        winners, known = _winners_at_risk(observations, start, risk, won, lost)
        evidence = np.minimum(known, np.cumsum(won[::-1])[::-1])  # m(t), see _log_won_tail
        return cls(
            start=start,
            risk=risk,
            won=won,
            lost=lost,
            log_tail=_log_won_tail(start, won, winners, evidence),
            evidence=evidence,
            won_survival=won_survival,
            lost_survival=lost_survival,
            observations=int(entry.size),
            censored=int(np.count_nonzero(observations.censored)),
            leads=_distinct_count(observations.lead),
        )

    @property
    def end(self) -> int:
        return self.start + len(self.risk) - 1

    def landing(self, position: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """``P(t >= position + offsets[j] | t >= position, won)`` per unique ``position``
        (axis day at ``as_of``) and offset (``boundary - as_of``, clipped below at 0)."""
        edges = position[:, None] + np.maximum(offsets, 0)[None, :]
        tail = np.append(self.log_tail, -np.inf)
        size = len(self.log_tail)
        here = tail[np.clip(position - self.start, 0, size)]
        with np.errstate(invalid="ignore"):
            result = np.exp(tail[np.clip(edges - self.start, 0, size)] - here[:, None])
        # beyond the grid nothing is known: the prior closes the deal at once (on as_of)
        far = position > self.end
        result[far] = (offsets[None, :] <= 0).astype(np.float64)
        return np.minimum(result, 1.0)

    def factor(self, position: np.ndarray) -> np.ndarray:
        """Bayes factor ``S_w^(d) / S_l^(d)`` on the odds of winning at axis day ``d``."""
        index = np.clip(position - self.start, 0, len(self.risk) - 1)
        return self.won_survival[index] / self.lost_survival[index]

    def won_quantiles(self, levels: tuple[float, ...]) -> list[float]:
        """Lower quantiles of a won deal's slip (shrunk law, from the first day observed): the
        first day ``t`` with ``P(slip <= t | won) >= level``."""
        first = int(np.argmax(self.risk > 0))
        later = np.exp(np.append(self.log_tail[first + 1 :], -np.inf) - self.log_tail[first])  # P(slip > t | won)
        days = self.start + first + np.arange(len(later))
        return [float(days[int(np.argmax(later <= 1.0 - level + 1e-12))]) for level in levels]


def _distinct_count(numbers: np.ndarray) -> int:
    """How many distinct values ``numbers`` (small non-negative integers: lead numbers) hold."""
    if not numbers.size:
        return 0
    seen = np.zeros(int(numbers.max()) + 1, dtype=bool)
    seen[numbers] = True
    return int(np.count_nonzero(seen))


def won_share(risk: np.ndarray, won: np.ndarray, lost: np.ndarray) -> np.ndarray:
    """``pi(t)`` = P(to be won | open at ``t``), from the data alone (Aalen-Johansen, backwards):
    ``pi(t) = h_w(t) + (1 - h(t)) * pi(t + 1)``, ``h = e / r``; nothing is won after the data
    (a deal still open at its end is abandoned)."""
    won_rate = np.divide(won, risk, out=np.zeros_like(risk), where=risk > 0).tolist()
    stay = (1.0 - np.divide(won + lost, risk, out=np.zeros_like(risk), where=risk > 0)).tolist()
    share, following = [0.0] * len(risk), 0.0
    for day in range(len(risk) - 1, -1, -1):
        following = won_rate[day] + stay[day] * following
        share[day] = following
    return np.asarray(share)


def _winners_at_risk(
    observations: Observations, start: int, risk: np.ndarray, won: np.ndarray, lost: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(r_w, k_w)`` per day ``t``: the observations at risk that are to be won, and those
    known to be (their lead won by ``as_of``).

    ``r_w`` counts 1 for a lead won by ``as_of``, 0 for one lost, and for one still open its
    ``pi(exit + 1)`` (``won_share``) scaled by ``n_w / (n_w + K)``, ``n_w`` the wins seen at
    ``exit + 1`` or later (a tail of open deals that no win supports counts as abandoned).
    """
    later_wins = np.cumsum(won[::-1])[::-1]
    share = np.append(won_share(risk, won, lost) * later_wins / (later_wins + PSEUDO_LEADS), 0.0)
    known = (observations.final == WON).astype(np.float64)
    expected = np.where(observations.final == OPEN, share[np.minimum(observations.exit + 1 - start, len(risk))], known)
    size = len(risk)

    def at_risk(weight: np.ndarray) -> np.ndarray:
        moves = np.bincount(observations.entry - start, weights=weight, minlength=size + 1) - np.bincount(
            observations.exit + 1 - start, weights=weight, minlength=size + 1
        )
        return np.maximum(np.cumsum(moves)[:size], won)  # rounding: never fewer than the day's wins

    return at_risk(expected), at_risk(known)


def _log_won_tail(start: int, won: np.ndarray, winners: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """``log sum_{u >= t} S_w(u) l(u)``: the log of P(slip >= t | won), up to a constant.

    ``l(t)`` is the daily closing hazard of a deal to be won. The data say ``e_w(t) / r_w(t)``
    (closings won among the observations at risk that are to be won, ``_winners_at_risk``)
    on the evidence of ``m(t) = min(k_w(t), n_w(t))`` won deals — those at risk known to be
    won, each counted once (``n_w(t)``: wins seen on day ``t`` or later). It is shrunk with
    ``K**2 / (K + m)`` pseudo-observations of the "no slip" prior (never before day 0, at
    once from day 0 on): ``l = (m * e_w / r_w + K**2 / (K + m) * prior) / (m + K**2 / (K +
    m))``, so one won deal weighs at most ``1 / (1 + K**2 / (K + 1)) = 8/57`` of a day's
    hazard, however many lost or open deals surround it. ``S_w(u) = prod_{v < u} (1 -
    l(v))`` from the grid start, in logs, so that long runs of near-certain closings cannot
    underflow; a certain closing (``l = 1``) counts as ``HARD_STOP``: what lies beyond it
    is below float range, exactly 0.
    """
    prior = (start + np.arange(len(won)) >= 0).astype(np.float64)
    rate = np.divide(won, winners, out=np.zeros_like(winners), where=winners > 0)
    pseudo = PSEUDO_LEADS**2 / (PSEUDO_LEADS + evidence)
    hazard = np.minimum((evidence * rate + pseudo * prior) / (evidence + pseudo), 1.0)
    with np.errstate(divide="ignore"):
        stay = np.maximum(np.log1p(-hazard), HARD_STOP)
        before = np.concatenate([[0.0], np.cumsum(stay)[:-1]])
        terms = before + np.log(hazard)
    return np.logaddexp.accumulate(terms[::-1])[::-1]


def _class_survivals(start: int, risk: np.ndarray, won: np.ndarray, lost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``S_w^`` and ``S_l^`` on the grid (module docstring): survivals from the grid start.

    Aalen-Johansen from the first day: ``S(t)`` the share still open, ``W(t)`` / ``L(t)``
    the shares to be won / lost on or after ``t`` (the share never closed within the data
    counts with the lost). Before day 0 the hazards take the ``K**2 / (K + r)``
    pseudo-observations of the prior (no closing before the expected date), so that the
    few deals observed long before their date cannot decide alone.
    """
    days = start + np.arange(len(risk))
    pseudo = np.where(days < 0, PSEUDO_LEADS**2 / (PSEUDO_LEADS + risk), 0.0)
    at_risk = risk + pseudo
    won_rate = np.divide(won, at_risk, out=np.zeros_like(risk), where=at_risk > 0)
    lost_rate = np.divide(lost, at_risk, out=np.zeros_like(risk), where=at_risk > 0)
    survival = np.concatenate([[1.0], np.cumprod(np.maximum(1.0 - won_rate - lost_rate, 0.0))[:-1]])
    won_tail = np.cumsum((survival * won_rate)[::-1])[::-1]
    lost_tail = np.cumsum((survival * lost_rate)[::-1])[::-1] + survival[-1]  # + never closed: abandoned
    won_data = won_tail / won_tail[0] if won_tail[0] > 0 else np.zeros_like(won_tail)
    lost_data = lost_tail / lost_tail[0] if lost_tail[0] > 0 else np.ones_like(lost_tail)
    still = np.concatenate([[1.0], np.cumprod(1.0 - (won + lost) / (risk + PSEUDO_LEADS))[:-1]])  # A(t)
    won_count, lost_count = float(won.sum()), float(lost.sum())
    won_shrunk = (won_count * won_data + PSEUDO_LEADS * still) / (won_count + PSEUDO_LEADS)
    lost_shrunk = (lost_count * lost_data + PSEUDO_LEADS) / (lost_count + PSEUDO_LEADS)
    return won_shrunk, lost_shrunk


def _as_day(value: float | date) -> int:
    """A day number from a day number or a date (a datetime counts by its date)."""
    if isinstance(value, datetime):
        value = value.date()
    return day_number(value) if isinstance(value, date) else round(float(value))


def default_snapshots(first_day: float, as_of: float) -> np.ndarray:
    """First day of every month after ``first_day`` and before ``as_of`` (day numbers)."""
    if not np.isfinite(first_day) or first_day >= as_of - 1:
        return np.zeros(0, dtype=np.int64)
    first = np.datetime64(int(first_day), "D").astype("datetime64[M]") + 1
    last = np.datetime64(int(as_of) - 1, "D").astype("datetime64[M]")
    days = np.arange(first, last + 1).astype("datetime64[D]").astype(np.int64)
    return days[days < as_of]


def observations(index: PipelineIndex, as_of: float, snapshot_days=None) -> tuple[Observations, Observations, int]:
    """Slip and age observations of a pipeline history standing at ``as_of`` (module
    docstring), and the number of snapshots used. Rows dated on or after ``as_of`` are
    dropped first: nothing later can leak in."""
    as_of = _as_day(as_of)
    frame = index.frame
    known = index.days < as_of
    if not known.any():
        return Observations.empty(), Observations.empty(), 0
    if not known.all():
        index = index.before(as_of)
        frame = index.frame
    if snapshot_days is None:
        snapshots = default_snapshots(float(np.nanmin(index.days)), as_of)
    else:
        snapshots = np.unique(np.asarray([_as_day(day) for day in snapshot_days], dtype=np.int64))
        snapshots = snapshots[snapshots < as_of]
    status = frame["status"].to_numpy()
    created, closed, final = _closings(index, status)
    expected = frame["expected"].to_numpy()
    ends = np.append(snapshots[1:], as_of)[: len(snapshots)]
    slips, ages = [], []
    for day, following in zip(snapshots.tolist(), ends.tolist(), strict=True):
        rows = index.rows_at(day)
        present = rows >= 0
        open_now = np.zeros(len(rows), dtype=bool)
        open_now[present] = status[rows[present]] == OPEN
        leads = np.flatnonzero(open_now)
        closing = closed[leads]
        event = (closing >= day) & (closing < following)  # NaN (still open) compares False
        last = np.where(event, closing, following - 1)
        result = np.where(event, final[leads], OPEN).astype(np.int8)
        censored = ~event & (following == as_of)
        ages.append((day - created[leads], last - created[leads], result, censored, leads, final[leads]))
        stated = expected[rows[leads]]
        dated = ~np.isnan(stated)
        slips.append(
            (
                day - stated[dated],
                last[dated] - stated[dated],
                result[dated],
                censored[dated],
                leads[dated],
                final[leads[dated]],
            )
        )
    return _clipped(slips), _clipped(ages), len(snapshots)


def _closings(index: PipelineIndex, status: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per lead: creation day, day its final closing began (NaN while open) and final state.

    The final closing begins with the first of the closed rows after the last open one: a
    deal marked lost, then corrected to won, stopped being open on the first of those days.
    """
    last_open = index.last_open_rows()
    first_closed = np.where(last_open >= index.starts, last_open + 1, index.starts)
    final = status[index.ends - 1]
    closed = np.where(final != OPEN, index.days[np.minimum(first_closed, index.ends - 1)], np.nan)
    return index.days[index.starts], closed, final


def _clipped(parts: list) -> Observations:
    if not parts:
        return Observations.empty()
    entry, exit_, outcome, censored, lead, final = (np.concatenate(column) for column in zip(*parts, strict=True))
    entry = np.maximum(np.rint(entry), -SLIP_LIMIT).astype(np.int64)
    exit_ = np.rint(exit_).astype(np.int64)
    too_late = exit_ > SLIP_LIMIT  # censored at the limit instead
    outcome = np.where(too_late, OPEN, outcome).astype(np.int8)
    censored = censored & ~too_late
    exit_ = np.minimum(exit_, SLIP_LIMIT)
    keep = exit_ >= entry
    return Observations(entry[keep], exit_[keep], outcome[keep], censored[keep], lead[keep], final[keep])


@dataclass(frozen=True)
class SlipModel:
    """Slip law of open deals learnt from the history of expected dates (module docstring).

    ``slip``: the estimate on the slip axis (``close - expected``); ``age``: on the age axis
    (``close - created``) for undated deals; ``as_of``: the day it stands at;
    ``snapshots``: number of snapshot days used.
    """

    slip: Axis
    age: Axis
    as_of: int
    snapshots: int

    @classmethod
    def fit(cls, index: PipelineIndex, as_of: float | date, snapshot_days=None) -> "SlipModel":
        """Fit on the rows of ``index`` dated before ``as_of`` (a day number or a date).

        ``snapshot_days``: the days to read the pipeline at (day numbers or dates; those
        on or after ``as_of`` are ignored); default: the first day of each month.
        """
        slips, ages, count = observations(index, as_of, snapshot_days)
        return cls(Axis.build(slips), Axis.build(ages), _as_day(as_of), count)

    @classmethod
    def empty(cls, as_of: float | date) -> "SlipModel":
        """No history: deals close on ``max(expected, as_of)`` (undated: on ``as_of``), ``p' = p``."""
        nothing = Axis.build(Observations.empty())
        return cls(nothing, nothing, _as_day(as_of), 0)

    def _positions(self, expected, created, as_of) -> tuple[np.ndarray, np.ndarray, int]:
        """Per deal: its axis (0 slip, 1 age, 2 none) and its position there at ``as_of``."""
        as_of = _as_day(as_of)
        expected = np.asarray(expected, dtype=np.float64)
        created = np.broadcast_to(
            np.asarray(created if created is not None else np.nan, dtype=np.float64), expected.shape
        )
        dated = ~np.isnan(expected)
        aged = ~dated & ~np.isnan(created)
        axis = np.where(dated, 0, np.where(aged, 1, 2))
        position = np.where(dated, as_of - np.nan_to_num(expected), as_of - np.nan_to_num(created))
        return axis, np.rint(position).astype(np.int64), as_of

    def landing(
        self, expected: np.ndarray, created: np.ndarray | None, as_of: float | date, boundaries: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(q, beyond)``: ``q[i, k]`` = P(deal ``i`` closes in period ``k`` | open at ``as_of``, won).

        ``expected`` and ``created`` are day numbers (NaN = empty), ``boundaries`` the period
        edges (``forecast_periods.period_boundaries``): period ``k`` is ``[b[k], b[k + 1])``.
        A deal closes on or after ``as_of``: periods (or parts of them) before it get nothing.
        ``beyond[i]`` is the mass outside ``[b[0], b[-1])`` — after the last boundary (past
        ``date_to``) and, only when the first period starts after ``as_of``, before it; pass
        boundaries starting with ``as_of`` to read the latter apart (column 0). Rows of ``q``
        plus ``beyond`` sum to 1. Work is per distinct (axis, position): 100,000 deals in
        12 periods take about 0.05 s.
        """
        boundaries = np.asarray(boundaries, dtype=np.int64)
        axis, position, as_of = self._positions(expected, created, as_of)
        offsets = boundaries - as_of
        tails = np.empty((len(position), len(boundaries)))
        for number, model in ((0, self.slip), (1, self.age)):
            chosen = axis == number
            if chosen.any():
                days, inverse = np.unique(position[chosen], return_inverse=True)
                tails[chosen] = model.landing(days, offsets)[inverse]
        tails[axis == 2] = (offsets <= 0).astype(np.float64)  # neither date: closes on as_of
        tails = np.maximum.accumulate(tails[:, ::-1], axis=1)[:, ::-1]  # monotone against rounding
        q = tails[:, :-1] - tails[:, 1:]
        beyond = np.clip(tails[:, -1] + (1.0 - tails[:, 0]), 0.0, 1.0)
        return q, beyond

    def win_factor(self, expected: np.ndarray, created: np.ndarray | None, as_of: float | date) -> np.ndarray:
        """Odds multiplier ``S_w^(d) / S_l^(d)`` of each deal, ``d = as_of - expected`` (the age
        ``as_of - created`` for undated deals); 1 with neither date."""
        axis, position, _as_of = self._positions(expected, created, as_of)
        factor = np.ones(len(position))
        for number, model in ((0, self.slip), (1, self.age)):
            chosen = axis == number
            if chosen.any():
                factor[chosen] = model.factor(position[chosen])
        return factor

    def adjusted_probability(
        self, probability: np.ndarray, expected: np.ndarray, created: np.ndarray | None, as_of: float | date
    ) -> np.ndarray:
        """``p'`` (percent, as ``probability``): P(won | still open ``d = as_of - expected`` days
        past the expected date), ``p = probability``."""
        chance = np.asarray(probability, dtype=np.float64) / 100.0
        factor = self.win_factor(expected, created, as_of)
        won = chance * factor
        denominator = won + (1.0 - chance)
        return 100.0 * np.divide(won, denominator, out=np.zeros_like(won), where=denominator > 0)

    def weights(
        self,
        probability: np.ndarray,
        expected: np.ndarray,
        created: np.ndarray | None,
        as_of: float | date,
        boundaries: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(w, beyond)``: ``w[i, k] = p'_i * q[i, k]`` (P(won and closing in period k)) and
        ``beyond[i] = p'_i * beyond_i`` (won, outside the range); ``probability`` in percent."""
        q, beyond = self.landing(expected, created, as_of, boundaries)
        chance = self.adjusted_probability(probability, expected, created, as_of) / 100.0
        return chance[:, None] * q, chance * beyond

    def summary(self) -> dict:
        """JSON-ready description for the forecast result.

        ``count`` (won closings observed), ``median_days``, ``p10_days``, ``p90_days`` (a
        won deal's slip, shrunk law from the first day observed) as before, plus
        ``observations`` (snapshot observations on the slip axis), ``leads``, ``won``,
        ``lost``, ``censored`` (still open at as_of), ``snapshots``, ``shrinkage`` (``K``,
        and for a deal due today the won deals its hazard rests on and the prior's share
        of it) and ``undated`` (the age axis: ``observations``, ``won``, ``median_days``).
        """
        slip, age = self.slip, self.age
        if slip.won.sum() > 0:
            low, middle, high = slip.won_quantiles(QUANTILES)
        else:
            low = middle = high = 0.0
        evidence = slip.evidence[-slip.start]
        pseudo = PSEUDO_LEADS**2 / (PSEUDO_LEADS + evidence)
        return {
            "count": int(slip.won.sum()),
            "median_days": middle,
            "p10_days": low,
            "p90_days": high,
            "observations": slip.observations,
            "leads": slip.leads,
            "won": int(slip.won.sum()),
            "lost": int(slip.lost.sum()),
            "censored": slip.censored,
            "snapshots": self.snapshots,
            "shrinkage": {
                "pseudo_observations": PSEUDO_LEADS,
                "won_evidence_due_today": float(round(evidence, 2)),
                "prior_share_due_today": float(f"{pseudo / (pseudo + evidence):.3g}"),
            },
            "undated": {
                "observations": age.observations,
                "won": int(age.won.sum()),
                "median_days": age.won_quantiles((0.5,))[0] if age.won.sum() > 0 else 0.0,
            },
        }


def fit_slip_model(pipeline: pd.DataFrame, as_of: float | date, snapshot_days=None) -> SlipModel:
    """``SlipModel.fit`` on a normalised pipeline history (``prepare_pipeline``'s frame)."""
    return SlipModel.fit(PipelineIndex.build(pipeline), as_of, snapshot_days)
