"""BLEU and chrF equal sacrebleu's corpus functions, whatever the batching."""

from __future__ import annotations

import random

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st

from mmeval.errors import InputError
from mmeval.metrics.text import BLEU, CHRF

WORDS = "the a red blue mug shirt linen soft cotton oak table lamp with and for warm days size".split()


def corpus(seed: int, n: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    refs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 15))) + "." for _ in range(n)]
    hyps = [" ".join(w if rng.random() < 0.7 else rng.choice(WORDS) for w in r.split()) for r in refs]
    return hyps, refs


def fold(metric, hyps, refs, batch):
    state = metric.init()
    for i in range(0, len(hyps), batch):
        state = metric.update(state, hyps[i : i + batch], refs[i : i + batch])
    return metric.compute(state)[metric.name]


@pytest.mark.parametrize("batch", [1, 7, 200])
def test_bleu_matches_sacrebleu(batch):
    hyps, refs = corpus(0, 200)
    assert fold(BLEU(), hyps, refs, batch) == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)


@pytest.mark.parametrize("batch", [1, 13, 200])
def test_chrf_matches_sacrebleu(batch):
    hyps, refs = corpus(1, 200)
    assert fold(CHRF(), hyps, refs, batch) == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-9)
    chrf_pp = sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score
    assert fold(CHRF(word_order=2), hyps, refs, batch) == pytest.approx(chrf_pp, abs=1e-9)


def test_options_reach_sacrebleu():
    hyps, refs = corpus(2, 50)
    hyps = [h.upper() for h in hyps]
    expected = sacrebleu.corpus_bleu(hyps, [refs], lowercase=True, tokenize="intl").score
    assert fold(BLEU(lowercase=True, tokenize="intl"), hyps, refs, 9) == pytest.approx(expected, abs=1e-9)


def test_fingerprint_carries_sacrebleu_signature():
    fp = BLEU().fingerprint()
    assert "tok:13a" in fp and f"version:{sacrebleu.__version__}" in fp and "nrefs:1" in fp


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 29))
def test_merged_states_equal_one_pass(seed, cut):
    hyps, refs = corpus(seed, 30)
    for metric in (BLEU(), CHRF()):
        a = metric.update(metric.init(), hyps[:cut], refs[:cut])
        b = metric.update(metric.init(), hyps[cut:], refs[cut:])
        whole = metric.compute(metric.update(metric.init(), hyps, refs))
        assert metric.compute(metric.merge(a, b)) == pytest.approx(whole, abs=1e-9)


def test_non_text_is_input_error():
    with pytest.raises(InputError):
        BLEU().update(BLEU().init(), [3], ["x"])
