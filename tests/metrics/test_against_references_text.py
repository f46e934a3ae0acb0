"""Every text row of issue #16, checked against the field's reference implementation on
generated data: sacrebleu (BLEU with `tokenize='zh'`, chrF, TER, several references),
Li et al.'s distinct-n written out, Texygen's self-BLEU through nltk, rouge-score."""

from __future__ import annotations

import random
import warnings

import pytest
import sacrebleu

from mmeval.metrics.diversity import DistinctN, SelfBLEU
from mmeval.metrics.text import BLEU, CHRF, TER, RougeL
from tests.metrics.test_text import fold

PIECES = "红色 蓝色 黑色 羊毛 棉质 皮革 帽子 围巾 钱包 花瓶 保暖 舒适 经典款 新款 包邮 ， 。 XL 2024".split()
WORDS = "the a red blue mug shirt linen soft cotton oak table lamp with and for warm days size".split()


def zh_copy(seed: int, n: int) -> tuple[list[str], list[str]]:
    """Chinese product copy without spaces (a Latin size or year now and then), and noisy copies."""
    rng = random.Random(seed)
    refs = ["".join(rng.choice(PIECES) for _ in range(rng.randint(3, 12))) for _ in range(n)]
    hyps = ["".join(c if rng.random() < 0.75 else rng.choice("红蓝帽巾暖款") for c in r) for r in refs]
    return hyps, refs


def en_corpus(seed: int, n: int, counts: tuple[int, ...] = (1,)) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)
    hyps, targets = [], []
    for i in range(n):
        ref = [rng.choice(WORDS) for _ in range(rng.randint(3, 14))]
        refs = [" ".join(w if k == 0 or rng.random() < 0.6 else rng.choice(WORDS) for w in ref) for k in range(counts[i % len(counts)])]
        hyps.append(" ".join(w if rng.random() < 0.7 else rng.choice(WORDS) for w in ref))
        targets.append(refs)
    return hyps, targets


def padded(targets: list[list[str]]) -> list[list[str | None]]:
    width = max(len(t) for t in targets)
    return [[t[k] if k < len(t) else None for t in targets] for k in range(width)]


def test_bleu_on_chinese_copy_equals_sacrebleu_zh():
    hyps, refs = zh_copy(0, 150)
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score
    assert fold(BLEU(tokenize="zh"), hyps, refs, 7) == pytest.approx(expected, abs=1e-9)
    assert abs(fold(BLEU(), hyps, refs, 7) - expected) > 1  # 13a sees one word per sentence
    assert "tok:zh" in BLEU(tokenize="zh").fingerprint()


def test_chrf_on_chinese_copy_equals_sacrebleu():
    hyps, refs = zh_copy(1, 150)
    assert fold(CHRF(), hyps, refs, 11) == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-9)


def li_counts(outputs: list[str], n: int, split) -> tuple[int, int, int]:
    """Li et al. (2016) written out: distinct n-grams, all n-grams, all generated tokens."""
    words = [split(t) for t in outputs]
    grams = [tuple(w[i : i + n]) for w in words for i in range(len(w) - n + 1)]
    return len(set(grams)), len(grams), sum(len(w) for w in words)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_distinct_n_both_conventions_equal_a_direct_count(n):
    outs = en_corpus(2, 120)[0]
    distinct, grams, words = li_counts(outs, n, str.split)
    assert fold(DistinctN(n=n), outs, [None] * 120, 9) == pytest.approx(distinct / words, abs=1e-12)  # Li et al.
    assert fold(DistinctN(n=n, per="ngrams"), outs, [None] * 120, 9) == pytest.approx(distinct / grams, abs=1e-12)
    zh = zh_copy(3, 120)[0]
    split = lambda t: sacrebleu.tokenizers.tokenizer_zh.TokenizerZh()(t).split()  # noqa: E731
    distinct, grams, words = li_counts(zh, n, split)
    assert fold(DistinctN(n=n, tokenize="zh"), zh, [None] * 120, 9) == pytest.approx(distinct / words, abs=1e-12)


def texygen(outputs: list[str], gram: int = 3) -> float:
    """Texygen's SelfBleu.get_bleu_parallel through nltk, x100 (whitespace words)."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    words = [t.split() for t in outputs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = [sentence_bleu(words[:i] + words[i + 1 :], h, tuple(1.0 / gram for _ in range(gram)),
                                smoothing_function=SmoothingFunction().method1) for i, h in enumerate(words)]
    return 100.0 * sum(scores) / len(scores)


def test_self_bleu_on_short_and_empty_outputs_is_texygen_not_sacrebleu():
    outs = ["mug", "red", "hat", "mug", "", "red mug", "hat red"]  # the case: short and empty outputs
    none = [None] * len(outs)
    value = fold(SelfBLEU(), outs, none, 3)
    assert value == pytest.approx(texygen(outs), abs=1e-9)
    bleu = sacrebleu.metrics.BLEU(effective_order=True)
    sacre = sum(bleu.sentence_score(t, outs[:i] + outs[i + 1 :]).score for i, t in enumerate(outs)) / len(outs)
    assert fold(SelfBLEU(bleu="sacrebleu"), outs, none, 3) == pytest.approx(sacre, abs=1e-9)
    assert value < 25 < 60 < sacre  # effective order scores one-word outputs on unigrams alone


def test_self_bleu_on_2000_outputs_scores_a_seeded_sample_of_500():
    rng = random.Random(4)
    outs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16))) for _ in range(2000)]
    metric = SelfBLEU()
    value = fold(metric, outs, [None] * 2000, 250)
    assert value == pytest.approx(texygen(random.Random(0).sample(sorted(outs), 500)), abs=1e-9)
    assert metric.note.startswith("500 of 2000 outputs sampled")


@pytest.mark.parametrize("counts", [(2,), (1, 3, 2)])
def test_multi_reference_bleu_chrf_ter_equal_sacrebleu(counts):
    hyps, targets = en_corpus(5, 90, counts)
    refs = padded(targets)  # sacrebleu's own way to give samples different reference counts
    for metric, expected in ((BLEU(), sacrebleu.corpus_bleu(hyps, refs).score),
                             (CHRF(), sacrebleu.corpus_chrf(hyps, refs).score),
                             (TER(), sacrebleu.corpus_ter(hyps, refs).score)):
        assert fold(metric, hyps, targets, 8) == pytest.approx(expected, abs=1e-9)


def test_ter_equals_sacrebleu_on_english_and_chinese():
    hyps, targets = en_corpus(6, 100)
    refs = [t[0] for t in targets]
    assert fold(TER(), hyps, refs, 9) == pytest.approx(sacrebleu.corpus_ter(hyps, [refs]).score, abs=1e-9)
    zh_hyps, zh_refs = zh_copy(7, 60)
    expected = sacrebleu.corpus_ter(zh_hyps, [zh_refs], asian_support=True).score
    assert fold(TER(asian_support=True), zh_hyps, zh_refs, 9) == pytest.approx(expected, abs=1e-9)


def test_rouge_l_equals_rouge_score_and_works_on_chinese():
    from rouge_score.rouge_scorer import RougeScorer

    from mmeval.metrics.tokenize import TokenizerObject

    hyps, targets = en_corpus(8, 100, (1, 2))
    scorer = RougeScorer(["rougeL"])
    expected = sum(scorer.score_multi(t, h)["rougeL"].fmeasure for h, t in zip(hyps, targets)) / len(hyps)
    assert fold(RougeL(), hyps, targets, 7) == pytest.approx(expected, abs=1e-12)
    zh_hyps, zh_refs = zh_copy(9, 80)
    zh_scorer = RougeScorer(["rougeL"], tokenizer=TokenizerObject("zh"))
    expected = sum(zh_scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(zh_hyps, zh_refs)) / len(zh_hyps)
    assert fold(RougeL(tokenize="zh"), zh_hyps, zh_refs, 7) == pytest.approx(expected, abs=1e-12)
    assert 0.3 < expected < 1.0
