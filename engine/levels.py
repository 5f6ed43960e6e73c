"""Probability-of-success levels: which level a probability falls in."""

from collections.abc import Iterable, Sequence
from typing import TypeVar

Level = TypeVar("Level")


def level_for_probability(probability: float, levels: Sequence[tuple[float, Level]]) -> Level | None:
    """Return the level of ``probability``: the one with the highest percentage not above it.

    ``levels`` holds ``(percentage, level)`` pairs in any order; ``None`` when every
    percentage is above the probability (or there are no levels).
    """
    best = None
    for percentage, level in levels:
        if percentage <= (probability or 0.0) and (best is None or percentage > best[0]):
            best = (percentage, level)
    return best[1] if best else None


def levels_for_probabilities(
    probabilities: Iterable[float], levels: Sequence[tuple[float, Level]]
) -> dict[float, Level | None]:
    """The level of each distinct probability (one pass over the levels per value)."""
    ordered = sorted(levels, key=lambda pair: pair[0], reverse=True)
    return {
        probability: next((level for percentage, level in ordered if percentage <= (probability or 0.0)), None)
        for probability in set(probabilities)
    }
