"""The seeded, stratified choice of samples to rate."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from mmeval.review.choose import choose_samples


def test_shares_follow_the_strata_and_the_seed():
    ids = [f"s{i:03d}" for i in range(100)]
    strata = ["vase"] * 50 + ["cap"] * 30 + ["mug"] * 20
    chosen = choose_samples(ids, strata, 10, seed=3)
    by = Counter(strata[ids.index(s)] for s in chosen)
    assert by == {"vase": 5, "cap": 3, "mug": 2}
    assert chosen == sorted(chosen)  # dataset order
    assert choose_samples(ids, strata, 10, seed=3) == chosen
    assert choose_samples(ids, strata, 10, seed=4) != chosen


def test_a_small_stratum_is_not_left_out_and_no_strata_spreads_over_the_order():
    ids = [str(i) for i in range(101)]
    strata = ["big"] * 100 + ["rare"]
    assert "100" in choose_samples(ids, strata, 5, seed=0)
    spread = [int(s) for s in choose_samples(ids, None, 10, seed=0)]
    assert [i * 10 // 101 for i in spread] == list(range(10))  # one from each tenth of the file


def test_asking_for_more_than_there_are_takes_all():
    assert choose_samples(["a", "b"], None, 5, seed=0) == ["a", "b"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from("abcd"), min_size=1, max_size=60), st.integers(1, 70), st.integers(0, 2**32))
def test_always_n_distinct_samples_from_the_dataset(strata, n, seed):
    ids = [f"id{i}" for i in range(len(strata))]
    chosen = choose_samples(ids, strata, n, seed)
    assert len(chosen) == min(n, len(ids)) == len(set(chosen))
    assert set(chosen) <= set(ids)
