"""BLEU and chrF equal sacrebleu's corpus functions, whatever the batching."""

from __future__ import annotations

import random
import re

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st

from mmeval.errors import InputError
from mmeval.metrics.text import BLEU, CHRF, TER, RougeL

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


def multi_ref_corpus(seed: int, n: int, counts: tuple[int, ...]) -> tuple[list[str], list[list[str]]]:
    """Hypotheses and, per sample, a list of references whose length cycles through `counts`."""
    rng = random.Random(seed)
    hyps, refs = corpus(seed, n)
    targets = []
    for i, ref in enumerate(refs):
        extra = [" ".join(w if rng.random() < 0.6 else rng.choice(WORDS) for w in ref.split()) for _ in range(counts[i % len(counts)] - 1)]
        targets.append([ref, *extra])
    return hyps, targets


def streams(targets: list[list[str]]) -> list[list[str | None]]:
    """sacrebleu's reference streams, padded with None where a sample has fewer references."""
    width = max(len(t) for t in targets)
    return [[t[k] if k < len(t) else None for t in targets] for k in range(width)]


@pytest.mark.parametrize("metric, reference", [
    (BLEU(), lambda h, r: sacrebleu.corpus_bleu(h, r).score),
    (CHRF(), lambda h, r: sacrebleu.corpus_chrf(h, r).score),
    (TER(), lambda h, r: sacrebleu.corpus_ter(h, r).score),
])
@pytest.mark.parametrize("counts", [(3,), (1, 2, 4)])
def test_list_targets_are_several_references(metric, reference, counts):
    hyps, targets = multi_ref_corpus(3, 60, counts)
    expected = reference(hyps, streams(targets))
    for batch in (1, 7, 60):
        assert fold(metric, hyps, targets, batch) == pytest.approx(expected, abs=1e-9)
    assert ("nrefs:3" if counts == (3,) else "nrefs:var") in metric.fingerprint()


def test_one_reference_list_equals_the_plain_string():
    hyps, refs = corpus(4, 40)
    assert fold(BLEU(), hyps, [[r] for r in refs], 6) == fold(BLEU(), hyps, refs, 6)
    assert "nrefs:1" in BLEU().fingerprint()


@pytest.mark.parametrize("options", [{}, {"case_sensitive": True}, {"normalized": True, "no_punct": True}, {"asian_support": True}])
def test_ter_matches_sacrebleu(options):
    hyps, refs = corpus(5, 120)
    hyps = [h.capitalize() if i % 3 else h for i, h in enumerate(hyps)]
    expected = sacrebleu.corpus_ter(hyps, [refs], **options).score
    for batch in (1, 11, 120):
        assert fold(TER(**options), hyps, refs, batch) == pytest.approx(expected, abs=1e-9)


def test_ter_can_exceed_100_and_is_lower_is_better():
    value = fold(TER(), ["a b c d e f g h"], ["x"], 1)
    assert value == pytest.approx(sacrebleu.corpus_ter(["a b c d e f g h"], [["x"]]).score) and value > 100
    assert TER.higher_is_better is False and TER.value_range == (0.0, float("inf"))


def lcs_f(hyp: list[str], ref: list[str]) -> float:
    """ROUGE-L F1 from the longest common subsequence, written out (Lin 2004)."""
    table = [[0] * (len(ref) + 1) for _ in range(len(hyp) + 1)]
    for i, h in enumerate(hyp):
        for j, r in enumerate(ref):
            table[i + 1][j + 1] = table[i][j] + 1 if h == r else max(table[i][j + 1], table[i + 1][j])
    lcs = table[-1][-1]
    if not lcs:
        return 0.0
    p, r = lcs / len(hyp), lcs / len(ref)
    return 2 * p * r / (p + r)


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_l_is_the_mean_of_rouge_score_sentence_f(use_stemmer):
    from rouge_score.rouge_scorer import RougeScorer

    hyps, refs = corpus(6, 80)
    hyps = [h.replace("days", "day").upper() for h in hyps]
    scorer = RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    expected = sum(scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs)) / len(hyps)
    for batch in (1, 9, 80):
        assert fold(RougeL(use_stemmer=use_stemmer), hyps, refs, batch) == pytest.approx(expected, abs=1e-12)
    recall = sum(scorer.score(r, h)["rougeL"].recall for h, r in zip(hyps, refs)) / len(hyps)
    assert fold(RougeL(use_stemmer=use_stemmer, measure="recall"), hyps, refs, 9) == pytest.approx(recall, abs=1e-12)
    if not use_stemmer:  # rouge-score's tokens: lowercase ASCII letters and digits
        words = lambda t: re.sub(r"[^a-z0-9]+", " ", t.lower()).split()  # noqa: E731
        own = sum(lcs_f(words(h), words(r)) for h, r in zip(hyps, refs)) / len(hyps)
        assert fold(RougeL(), hyps, refs, 9) == pytest.approx(own, abs=1e-12)


def test_rouge_l_multi_reference_takes_the_best_reference():
    from rouge_score.rouge_scorer import RougeScorer

    hyps, targets = multi_ref_corpus(7, 50, (1, 3))
    scorer = RougeScorer(["rougeL"])
    expected = sum(scorer.score_multi(t, h)["rougeL"].fmeasure for h, t in zip(hyps, targets)) / len(hyps)
    assert fold(RougeL(), hyps, targets, 4) == pytest.approx(expected, abs=1e-12)
    best = sum(max(lcs_f(h.lower().split(), r.lower().split()) for r in t) for h, t in zip(hyps, targets)) / len(hyps)
    assert fold(RougeL(tokenize="whitespace"), [h.lower() for h in hyps], [[r.lower() for r in t] for t in targets], 4) == pytest.approx(best, abs=1e-12)


def test_rouge_l_on_chinese_needs_a_tokenizer():
    hyp, ref = "红色羊毛帽，保暖舒适", "红色羊毛围巾，保暖"
    assert fold(RougeL(), [hyp], [ref], 1) == 0.0  # rouge-score's own tokenizer drops every CJK character
    chars = [c for c in hyp if not c.isspace()], [c for c in ref if not c.isspace()]
    assert fold(RougeL(tokenize="char"), [hyp], [ref], 1) == pytest.approx(lcs_f(*chars), abs=1e-12)
    assert fold(RougeL(tokenize="zh"), [hyp], [ref], 1) == pytest.approx(lcs_f(*chars), abs=1e-12)  # no Latin runs: same tokens
    with pytest.raises(ValueError, match="use_stemmer"):
        RougeL(tokenize="zh", use_stemmer=True)
    with pytest.raises(ValueError, match="tokenize"):
        RougeL(tokenize="jieba")
    assert RougeL(tokenize="zh").fingerprint() != RougeL().fingerprint() != RougeL(use_stemmer=True).fingerprint()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 29))
def test_new_metrics_merge_exactly(seed, cut):
    hyps, targets = multi_ref_corpus(seed, 30, (1, 2))
    for metric in (TER(), RougeL(), CHRF()):
        a = metric.update(metric.init(), hyps[:cut], targets[:cut])
        b = metric.update(metric.init(), hyps[cut:], targets[cut:])
        whole = metric.compute(metric.update(metric.init(), hyps, targets))
        assert metric.compute(metric.merge(a, b)) == pytest.approx(whole, abs=1e-12)


@pytest.mark.parametrize("target", [[], [3], None, ["ok", None]])
def test_bad_targets_are_input_errors(target):
    for metric in (BLEU(), TER(), RougeL()):
        with pytest.raises(InputError):
            metric.update(metric.init(), ["x"], [target])


def test_bad_sacrebleu_arguments_are_value_errors():
    with pytest.raises(ValueError, match="sacrebleu"):
        BLEU(tokenize="jieba")
    with pytest.raises(ValueError, match="sacrebleu"):
        BLEU(smooth_method="nope")
