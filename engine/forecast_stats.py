"""Historical statistics of the closed opportunities and the stage history.

Win rates (by stage gone through, level, salesperson, type, team), stage conversion and
time in stage (``historical_statistics``), from the normalised frames of
``forecast_data`` (``prepare_opportunities`` / ``prepare_history``). Rates are
percentages (0..100), like Odoo's probability. Group keys are returned as given (ids or
names); an empty key (``None``, NaN, ``NaT``) becomes ``None``, so every output is plain
JSON data.

Calibration of the stated probabilities is learnt in ``forecast_calibration``; this
module keeps the small pieces it is built from: the probability map ``Calibrator`` (and
``IDENTITY``), the Brier score (a fraction, 0..1) and the grouping helpers.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .forecast_data import OPEN, WON

BITMAP_LIMIT = 50_000_000  # stages x opportunities up to which visits are deduplicated with a bitmap


def plain(value: object) -> object:
    """A numpy / pandas scalar as a plain Python value; empty (None, NaN, NaT, NA) as ``None``."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _percent(part: float, whole: float) -> float:
    return round(100.0 * float(part) / float(whole), 2) if whole else 0.0


# --- win rates, conversion, time in stage -------------------------------------------


def win_rates(opportunities: pd.DataFrame, by: str) -> list[dict]:
    """Win rate of closed opportunities grouped by the column ``by`` (stage, level, user, type, team).

    One ``{"key", "count", "won", "rate"}`` per key, most frequent first.
    """
    closed = opportunities["status"].to_numpy() != OPEN
    return _rates(opportunities[by].to_numpy()[closed], opportunities["status"].to_numpy()[closed] == WON)


def group_keys(keys: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Group number of each key (empty keys form one group) and the distinct keys."""
    keys = np.asarray(keys)
    if keys.dtype.kind not in "biuf":  # numbers are grouped as they are, much faster
        keys = pd.Series(keys, dtype=object)  # the others as objects, where None and NaN are one
    codes, uniques = pd.factorize(keys, use_na_sentinel=False)
    return codes, pd.Index(uniques, dtype=object)


def _rates(keys: np.ndarray, won: np.ndarray) -> list[dict]:
    codes, uniques = group_keys(keys)
    return _rate_rows(
        uniques, np.bincount(codes, minlength=len(uniques)), np.bincount(codes, weights=won, minlength=len(uniques))
    )


def _rate_rows(keys: Iterable, sizes: np.ndarray, wins: np.ndarray) -> list[dict]:
    rows = [
        {"key": plain(key), "count": int(size), "won": int(won_count), "rate": _percent(won_count, size)}
        for key, size, won_count in zip(keys, sizes, wins, strict=True)
    ]
    return sorted(rows, key=lambda row: (-row["count"], str(row["key"])))


def stage_win_rates(opportunities: pd.DataFrame, history: pd.DataFrame) -> list[dict]:
    """Win rate of closed opportunities by every stage they went through.

    A closed opportunity counts once for each stage it entered or left in the stage
    history and for its current stage (so, without history, by current stage).
    """
    status = opportunities["status"].to_numpy()
    closed = status != OPEN
    rows = np.flatnonzero(closed)
    position = pd.Index(opportunities["id"]).get_indexer(history["lead_id"])
    known = position >= 0
    known[known] = closed[position[known]]
    owners = np.concatenate([rows, position[known], position[known]])
    stages = np.concatenate(
        [
            opportunities["stage"].to_numpy()[rows],
            history["stage_from"].to_numpy()[known],
            history["stage_to"].to_numpy()[known],
        ]
    )
    codes, uniques = pd.factorize(pd.Series(stages, dtype=object))
    codes, owners = codes[codes >= 0], owners[codes >= 0]
    if len(uniques) * len(status) <= BITMAP_LIMIT:  # stages are few: a bitmap removes repeated visits fastest
        visited = np.zeros((len(uniques), len(status)), dtype=bool)
        visited[codes, owners] = True
        return _rate_rows(uniques, visited.sum(axis=1), visited[:, status == WON].sum(axis=1))
    codes, owners = np.divmod(np.unique(codes.astype(np.int64) * len(status) + owners), len(status))
    return _rates(np.asarray(uniques, dtype=object)[codes], status[owners] == WON)


def stage_conversion(history: pd.DataFrame) -> list[dict]:
    """Share of the moves out of each stage that went to each next stage.

    One ``{"stage_from", "stage_to", "count", "rate"}`` per observed move; ``rate`` is the
    percentage of the moves out of ``stage_from``.
    """
    moves = history[history["stage_from"].notna() & history["stage_to"].notna()]
    if moves.empty:
        return []
    counts = moves.groupby(["stage_from", "stage_to"], sort=False).size()
    totals = counts.groupby(level=0, sort=False).transform("sum")
    rows = [
        {"stage_from": plain(origin), "stage_to": plain(target), "count": int(count), "rate": _percent(count, total)}
        for (origin, target), count, total in zip(counts.index, counts, totals, strict=True)
    ]
    return sorted(rows, key=lambda row: (str(row["stage_from"]), -row["count"], str(row["stage_to"])))


def time_in_stage(history: pd.DataFrame, opportunities: pd.DataFrame | None = None) -> list[dict]:
    """Median (and mean) days spent in each stage, from the moves out of it.

    ``duration`` is used when given; otherwise it is the time since the lead's previous
    move, or since its creation (``opportunities``) for its first move. One
    ``{"stage", "count", "median_days", "mean_days"}`` per stage.
    """
    if history.empty:
        return []
    frame = history.sort_values(["day"], kind="stable")
    previous = frame.groupby("lead_id", sort=False)["day"].shift()
    if opportunities is not None and not opportunities.empty:
        created = pd.Series(opportunities["created"].to_numpy(), index=opportunities["id"].to_numpy())
        created = created[~created.index.duplicated()]
        previous = previous.fillna(frame["lead_id"].map(created))
    duration = frame["duration"].fillna(frame["day"] - previous)
    usable = frame["stage_from"].notna() & duration.notna() & (duration >= 0)
    table = duration[usable].groupby(frame.loc[usable, "stage_from"], sort=False).agg(["size", "median", "mean"])
    rows = [
        {
            "stage": plain(stage),
            "count": int(size),
            "median_days": round(float(median), 2),
            "mean_days": round(float(mean), 2),
        }
        for stage, size, median, mean in zip(table.index, table["size"], table["median"], table["mean"], strict=True)
    ]
    return sorted(rows, key=lambda row: (-row["count"], str(row["stage"])))


def historical_statistics(opportunities: pd.DataFrame, history: pd.DataFrame) -> dict:
    """Every statistic of this module in one JSON-ready dict."""
    return {
        "closed_count": int(np.count_nonzero(opportunities["status"].to_numpy() != OPEN)),
        "win_rate": {
            "stage": stage_win_rates(opportunities, history),
            **{column: win_rates(opportunities, column) for column in ("level", "user", "type", "team")},
        },
        "conversion": stage_conversion(history),
        "time_in_stage": time_in_stage(history, opportunities),
    }


# --- calibration's building blocks (forecast_calibration) ---------------------------


@dataclass(frozen=True)
class Calibrator:
    """Non-decreasing map stated probability (%) -> calibrated probability (%).

    Linear between its ``knots`` (the curve ``forecast_calibration`` fits, isotonic or
    logistic), constant beyond them; the identity when it has none (``IDENTITY``).
    """

    knots: np.ndarray
    values: np.ndarray

    def __call__(self, probabilities: np.ndarray) -> np.ndarray:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if self.knots.size == 0:
            return probabilities
        return np.interp(probabilities, self.knots, self.values)

    def curve(self) -> list[dict]:
        """The fitted points, ``[{"probability", "calibrated"}]`` in percent."""
        return [
            {"probability": round(float(knot), 2), "calibrated": round(float(value), 2)}
            for knot, value in zip(self.knots, self.values, strict=True)
        ]


IDENTITY = Calibrator(np.zeros(0), np.zeros(0))


def brier_score(probabilities: np.ndarray, won: np.ndarray) -> float:
    """Mean of ``(probability / 100 - outcome) ** 2``; 0.0 when there is nothing to score."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.size == 0:
        return 0.0
    return float(np.mean((probabilities / 100.0 - np.asarray(won, dtype=np.float64)) ** 2))
