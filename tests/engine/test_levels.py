import pytest

from engine.levels import level_for_probability, levels_for_probabilities

LEVELS = [(50, "L50"), (0, "L0"), (100, "L100"), (10, "L10"), (25, "L25"), (75, "L75"), (90, "L90")]


@pytest.mark.parametrize(
    ("probability", "expected"),
    [
        (0, "L0"),
        (9.99, "L0"),
        (10, "L10"),
        (24.9, "L10"),
        (25, "L25"),
        (74.99, "L50"),
        (90, "L90"),
        (99.99, "L90"),
        (100, "L100"),
        (None, "L0"),
    ],
)
def test_highest_level_not_above_the_probability(probability, expected):
    assert level_for_probability(probability, LEVELS) == expected
    assert levels_for_probabilities([probability], LEVELS)[probability] == expected


def test_no_level_below_the_probability():
    assert level_for_probability(5, [(10, "L10"), (50, "L50")]) is None
    assert level_for_probability(5, []) is None


def test_many_probabilities_at_once():
    result = levels_for_probabilities([0, 30, 30, 100, 60], LEVELS)
    assert result == {0: "L0", 30: "L25", 100: "L100", 60: "L50"}
