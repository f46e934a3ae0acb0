"""Aggregation of human ratings against hand-computed Bradley–Terry, choix, and Krippendorff's
published example (Krippendorff 2011, "Computing Krippendorff's alpha-reliability", the
4 coders x 12 units table)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmeval.errors import InputError
from mmeval.review.aggregate import Answer, agreement, bradley_terry, criterion_means, preference


def test_two_models_bradley_terry_is_the_log_odds_of_the_win_rate() -> None:
    # a wins 6, loses 2, ties 2 of 10: 7 points of 10 (ties half); by hand, p_a/p_b = 7/3.
    choices = ["a"] * 6 + ["b"] * 2 + ["tie"] * 2
    answers = [Answer(f"s{i}", "ann", c) for i, c in enumerate(choices)]
    result = preference(answers, seed=1)
    assert result.win_rate.value == pytest.approx(0.7) and result.strength.value == pytest.approx(math.log(7 / 3))
    wins = np.array([[0, 7.0], [3.0, 0]])
    strengths = bradley_terry(2, wins)
    assert strengths[0] - strengths[1] == pytest.approx(math.log(7 / 3), rel=1e-9)
    assert 0 <= result.win_rate.ci_low <= 0.7 <= result.win_rate.ci_high <= 1
    assert result.win_rate.n == 10 and result.agreement is None  # one rater: no agreement to measure


def test_bradley_terry_matches_choix_on_three_models() -> None:
    import choix

    games = [(0, 1)] * 5 + [(1, 0)] * 2 + [(1, 2)] * 4 + [(2, 1)] * 3 + [(0, 2)] * 3 + [(2, 0)] * 1
    wins = np.zeros((3, 3))
    for winner, loser in games:
        wins[winner, loser] += 1
    ours = bradley_terry(3, wins)
    theirs = choix.mm_pairwise(3, games, tol=1e-12)
    assert ours == pytest.approx(theirs - theirs.mean(), abs=1e-6)


def test_bradley_terry_refuses_a_model_that_never_lost() -> None:
    with pytest.raises(InputError, match="win and lose"):
        bradley_terry(2, np.array([[0, 3.0], [0, 0]]))


# Krippendorff (2011), section A: 4 observers, 12 units, values 1-5, '*' missing.
RELIABILITY = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _answers_from_table(table) -> list[Answer]:
    return [Answer(f"u{j}", f"r{i}", "tie", {"fits": v}) for i, row in enumerate(table) for j, v in enumerate(row) if v is not None]


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_agreement_reproduces_krippendorffs_published_example(level, expected) -> None:
    alpha = agreement(_answers_from_table(RELIABILITY), lambda a: a.scores["fits"], level)
    assert alpha == pytest.approx(expected, abs=5e-4)


def test_criterion_means_and_refusals() -> None:
    answers = _answers_from_table(RELIABILITY)
    means = criterion_means(answers, {"fits": 5}, seed=3)
    values = [v for row in RELIABILITY for v in row if v is not None]
    assert means["fits"].value == pytest.approx(sum(values) / len(values)) and means["fits"].n == len(values)
    assert 1 <= means["fits"].ci_low <= means["fits"].value <= means["fits"].ci_high <= 5
    with pytest.raises(InputError, match="outside 1..5"):
        criterion_means([Answer("s", "ann", "a", {"fits": 6})], {"fits": 5})
    with pytest.raises(InputError, match="not one of"):
        preference([Answer("s", "ann", "left")])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.sampled_from(["ann", "bob", "cy"]), st.sampled_from(["a", "b", "tie"])),
                min_size=1, max_size=40))
def test_intervals_lie_in_range_and_hold_the_value(rows) -> None:
    answers = [Answer(f"s{s}", r, c) for s, r, c in rows]
    result = preference(answers, resamples=200, seed=0)
    rate = result.win_rate
    assert 0 <= rate.ci_low <= rate.ci_high <= 1 and rate.ci_low - 1e-12 <= rate.value <= rate.ci_high + 1e-12
    if 0 < rate.value < 1:
        assert result.strength.value == pytest.approx(math.log(rate.value / (1 - rate.value)))
    strength = result.strength  # the rate's interval through log-odds: an end at 0 or 1 is unbounded, not dropped
    assert strength.ci_low <= strength.value <= strength.ci_high
    assert (strength.ci_high == math.inf) == (rate.ci_high == 1.0) and (strength.ci_low == -math.inf) == (rate.ci_low == 0.0)
    if result.agreement is not None:
        assert -1 <= result.agreement <= 1
