"""Worlds with a known truth for the history-based forecast tests, generated without the engine.

A world is a list of deals, each with the list of its changes (day, amount, probability,
automated probability, expected closing day, state). ``Deal.at(day)`` says in plain Python
how the deal stood at the start of ``day`` — the truth the engine's snapshots and backtest
are compared with. ``history_rows`` writes the changes in the engine's pipeline-history
input format (``engine.forecast_history``), dates as ISO strings.

``edited_deadline_world`` is the world the issue measured the old backtest's leak on: half of
the deadlines are reset to the closing date at closing and won amounts are renegotiated
(lognormal sigma 0.4), so today's values lie about the past.

Not part of the add-on: only tests/engine and bench/ import it.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

EPOCH = date(1970, 1, 1)
OPEN, LOST, WON = "open", "lost", "won"


def iso(day: int) -> str:
    return (EPOCH + timedelta(days=int(day))).isoformat()


def day_of(value: date) -> int:
    return (value - EPOCH).days


@dataclass
class Deal:
    key: int
    created: int
    # (day, amount, probability, automated, expected, state), in order; the first is the creation
    changes: list = field(default_factory=list)
    team: str = "team_a"
    kind: str = "new_business"

    def at(self, day: int):
        """The last change dated before ``day`` (the deal at the start of that day), or None."""
        current = None
        for change in self.changes:
            if change[0] < day:
                current = change
        return current

    @property
    def final(self):
        return self.changes[-1]

    @property
    def closed_day(self):
        """Day of the final closing (None while open)."""
        return self.final[0] if self.final[5] != OPEN else None

    def last_open(self, day: int):
        """The deal's last open change before ``day`` (what was stated while open)."""
        found = None
        for change in self.changes:
            if change[0] < day and change[5] == OPEN:
                found = change
        return found


def history_rows(deals: list[Deal]) -> list[dict]:
    """Every change of every deal as a pipeline-history row (``engine.forecast_history``)."""
    won = {OPEN: None, LOST: False, WON: True}
    return [
        {
            "lead_id": deal.key,
            "date": iso(day),
            "amount": amount,
            "probability": probability,
            "automated_probability": automated,
            "date_expected": iso(expected) if expected is not None else None,
            "won": won[state],
            "team": deal.team,
            "type": deal.kind,
        }
        for deal in deals
        for day, amount, probability, automated, expected, state in deal.changes
    ]


def current_rows(deals: list[Deal]) -> list[dict]:
    """Today's opportunities (``engine.forecast_data`` format): final values, the closed
    ones with the last probability they had while open."""
    rows = []
    for deal in deals:
        day, amount, probability, _automated, expected, state = deal.final
        stated = deal.last_open(day + 1)
        rows.append(
            {
                "id": deal.key,
                "amount": amount,
                "probability": stated[2] if state != OPEN and stated else probability,
                "date_expected": iso(expected) if expected is not None else None,
                "date_created": iso(deal.created),
                "date_closed": iso(day) if state != OPEN else None,
                "won": {OPEN: None, LOST: False, WON: True}[state],
                "team": deal.team,
                "type": deal.kind,
            }
        )
    return rows


def edited_deadline_world(
    count: int, first_day: int, last_day: int, seed: int = 0, reset_share: float = 0.5, sigma: float = 0.4
) -> list[Deal]:
    """Deals created uniformly over ``first_day..last_day``; stated probability one of
    10..90 and true; expected close 20..120 days after creation, actual close that plus a
    slip uniform on -20..60 days; a probability update half way; at closing half of the
    deadlines are reset to the closing day and won amounts renegotiated (lognormal
    ``sigma``). Deals closing after ``last_day`` stay open (their changes after it are cut)."""
    rng = np.random.default_rng(seed)
    deals = []
    for key in range(1, count + 1):
        created = int(rng.integers(first_day, last_day))
        stated = float(rng.choice([10, 30, 50, 70, 90]))
        amount = round(float(rng.lognormal(np.log(10_000), 0.8)), 2)
        expected = created + int(rng.integers(20, 121))
        close = max(expected + int(rng.integers(-20, 61)), created + 1)
        won = rng.random() < stated / 100
        automated = float(np.clip(stated + rng.normal(0, 15), 1, 99))
        deal = Deal(key, created, team=str(rng.choice(["team_a", "team_b"])), kind="new_business")
        deal.changes.append((created, amount, stated, automated, expected, OPEN))
        middle = created + (close - created) // 2
        if created < middle < close:
            moved = float(np.clip(stated + rng.choice([-20, 0, 20]), 10, 90))
            deal.changes.append((middle, amount, moved, automated, expected, OPEN))
        final_amount = round(amount * float(rng.lognormal(0, sigma)), 2) if won else amount
        final_expected = close if rng.random() < reset_share else expected
        deal.changes.append((close, final_amount, 100.0 if won else 0.0, automated, final_expected,
                             WON if won else LOST))  # fmt: skip
        deal.changes = [change for change in deal.changes if change[0] <= last_day]
        deals.append(deal)
    return deals


def model_world(rate: float, first_day: int, last_day: int, seed: int = 0, levels=(10, 30, 50, 70, 90)) -> list[Deal]:
    """A world where the forecast's model is true: deals arrive as a Poisson process of
    ``rate`` a day; each is stated at one of ``levels`` %, which is its true chance; expected
    close 20..120 days after creation, actual close that plus a slip uniform on -20..60
    days, whatever the outcome; lognormal amounts; no edits. Changes after ``last_day`` are
    cut (those deals are still open)."""
    rng = np.random.default_rng(seed)
    count = rng.poisson(rate * (last_day - first_day))
    created = np.sort(rng.integers(first_day, last_day, count))
    stated = rng.choice(np.asarray(levels, dtype=np.float64), count)
    expected = created + rng.integers(20, 121, count)
    close = np.maximum(expected + rng.integers(-20, 61, count), created + 1)
    won = rng.random(count) < stated / 100
    amounts = np.round(rng.lognormal(np.log(8_000), 0.7, count), 2)
    deals = []
    for key in range(count):
        deal = Deal(key + 1, int(created[key]))
        deal.changes.append((int(created[key]), float(amounts[key]), float(stated[key]), float(stated[key]),
                             int(expected[key]), OPEN))  # fmt: skip
        if close[key] <= last_day:
            deal.changes.append((int(close[key]), float(amounts[key]), 100.0 if won[key] else 0.0,
                                 float(stated[key]), int(expected[key]), WON if won[key] else LOST))  # fmt: skip
        deals.append(deal)
    return deals
