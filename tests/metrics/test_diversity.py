"""Diversity metrics equal direct computations; Vendi has its defining extremes."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import sacrebleu

from mmeval.metrics.diversity import DistinctN, SelfBLEU, Vendi, vendi_score

WORDS = "soft linen shirt blue mug oak table warm lamp steel bottle".split()


def texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))) for _ in range(n)]


def fold(metric, outputs, batch):
    state = metric.init()
    for i in range(0, len(outputs), batch):
        state = metric.update(state, outputs[i : i + batch], [None] * len(outputs[i : i + batch]))
    return metric.compute(state)[metric.name]


def li_distinct(outs: list[str], n: int, split) -> float:
    """Li et al. (2016): distinct n-grams / total generated tokens, written out directly."""
    words = [split(t) for t in outs]
    grams = {tuple(w[i : i + n]) for w in words for i in range(len(w) - n + 1)}
    return len(grams) / sum(len(w) for w in words)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_distinct_n_equals_direct_count(n):
    outs = texts(n, 80)
    grams = [tuple(t.split()[i : i + n]) for t in outs for i in range(len(t.split()) - n + 1)]
    assert fold(DistinctN(n=n), outs, 7) == pytest.approx(li_distinct(outs, n, str.split), abs=1e-12)  # the default
    per_ngram = len(set(grams)) / len(grams)
    assert fold(DistinctN(n=n, per="ngrams"), outs, 7) == pytest.approx(per_ngram, abs=1e-12)
    metric = DistinctN(n=n, per="ngrams")
    a = metric.update(metric.init(), outs[:30], [None] * 30)
    b = metric.update(metric.init(), outs[30:], [None] * 50)
    assert metric.compute(metric.merge(a, b))["distinct_n"] == pytest.approx(per_ngram, abs=1e-12)


ZH = ["红色羊毛帽，保暖舒适", "蓝色棉质花瓶 经典款", "红色羊毛围巾，保暖舒适", "黑色皮革钱包"]


def test_distinct_n_on_chinese_copy_is_defined_and_counts_characters():
    from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh

    zh = TokenizerZh()
    for n in (1, 2):
        assert fold(DistinctN(n=n, tokenize="zh"), ZH, 3) == pytest.approx(li_distinct(ZH, n, lambda t: zh(t).split()), abs=1e-12)
        chars = lambda t: [c for c in t if not c.isspace()]  # noqa: E731
        assert fold(DistinctN(n=n, tokenize="char"), ZH, 2) == pytest.approx(li_distinct(ZH, n, chars), abs=1e-12)
    assert 0 < fold(DistinctN(n=2, tokenize="zh"), ZH, 4) < 1
    assert fold(DistinctN(n=2), ["红色羊毛帽"], 1) == 0.0  # one whitespace token: no bigram, yet defined
    assert DistinctN(n=2, tokenize="zh").fingerprint() != DistinctN(n=2).fingerprint() != DistinctN(n=2, per="ngrams").fingerprint()
    with pytest.raises(ValueError, match="tokenize"):
        DistinctN(tokenize="jieba")


def texygen_self_bleu(outs: list[str], gram: int = 3, split=str.split) -> float:
    """Texygen's SelfBleu (Zhu et al. 2018), x100: nltk sentence_bleu of each output against
    all the others, uniform weights up to `gram`, smoothing method1."""
    import warnings

    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    words = [split(t) for t in outs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = [sentence_bleu(words[:i] + words[i + 1 :], h, tuple(1.0 / gram for _ in range(gram)),
                                smoothing_function=SmoothingFunction().method1) for i, h in enumerate(words)]
    return 100.0 * sum(scores) / len(scores)


@pytest.mark.parametrize("gram", [2, 3, 4])
def test_self_bleu_equals_texygen_by_default(gram):
    outs = texts(gram, 40)
    assert fold(SelfBLEU(n=gram), outs, 7) == pytest.approx(texygen_self_bleu(outs, gram), abs=1e-9)
    assert fold(SelfBLEU(), outs, 40) == pytest.approx(texygen_self_bleu(outs), abs=1e-9)  # n defaults to 3
    assert fold(SelfBLEU(), ["same words here"] * 4, 2) == pytest.approx(100.0)
    zh = lambda t: [c for c in t if not c.isspace()]  # noqa: E731  (ZH has no Latin runs: zh = char)
    assert fold(SelfBLEU(tokenize="zh"), ZH, 3) == pytest.approx(texygen_self_bleu(ZH, 3, zh), abs=1e-9)
    assert fold(SelfBLEU(tokenize="char"), ZH, 1) == pytest.approx(texygen_self_bleu(ZH, 3, zh), abs=1e-9)


def test_self_bleu_sacrebleu_option_equals_sacrebleu_sentence_bleu():
    outs = texts(0, 12)
    bleu = sacrebleu.metrics.BLEU(effective_order=True)
    expected = np.mean([bleu.sentence_score(t, outs[:i] + outs[i + 1 :]).score for i, t in enumerate(outs)])
    assert fold(SelfBLEU(bleu="sacrebleu"), outs, 5) == pytest.approx(expected, abs=1e-9)
    zh = sacrebleu.metrics.BLEU(effective_order=True, tokenize="zh", max_ngram_order=2)
    expected = np.mean([zh.sentence_score(t, ZH[:i] + ZH[i + 1 :]).score for i, t in enumerate(ZH)])
    assert fold(SelfBLEU(bleu="sacrebleu", tokenize="zh", n=2), ZH, 3) == pytest.approx(expected, abs=1e-9)


def test_self_bleu_samples_above_max_outputs_whatever_the_order():
    outs = texts(5, 60)
    metric = SelfBLEU(max_outputs=20, seed=3)
    value = fold(metric, outs, 7)
    assert metric.note and "20 of 60 outputs sampled" in metric.note
    assert value == pytest.approx(texygen_self_bleu(random.Random(3).sample(sorted(outs), 20)), abs=1e-9)
    assert fold(metric, random.Random(1).sample(outs, 60), 13) == value  # batches and order do not matter
    assert fold(SelfBLEU(max_outputs=None), outs, 60) == pytest.approx(texygen_self_bleu(outs), abs=1e-9)
    unsampled = SelfBLEU()
    fold(unsampled, outs, 9)
    assert unsampled.note is None
    assert SelfBLEU(max_outputs=20).fingerprint() != SelfBLEU().fingerprint() != SelfBLEU(bleu="sacrebleu").fingerprint()


@pytest.mark.parametrize("args", [{"bleu": "nltk"}, {"n": 0}, {"tokenize": "13a"}, {"max_outputs": 1}, {"bleu": "sacrebleu", "tokenize": "jieba"}])
def test_self_bleu_bad_args(args):
    with pytest.raises(ValueError):
        SelfBLEU(**args)


def test_vendi_extremes():
    assert vendi_score(np.ones((7, 5))) == pytest.approx(1.0)
    assert vendi_score(np.eye(9)) == pytest.approx(9.0)
    assert vendi_score(np.eye(40)[:, :40]) == pytest.approx(40.0)
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(64, 64)))
    assert vendi_score(q[:10]) == pytest.approx(10.0)  # orthogonal but not one-hot


def test_vendi_on_text_images_and_audio(tmp_path):
    from PIL import Image
    from scipy.io import wavfile

    assert fold(Vendi(), ["a red mug"] * 6, 4) == pytest.approx(1.0)
    assert fold(Vendi(), texts(1, 30), 4) > fold(Vendi(), texts(1, 3) * 10, 4)
    paths = []
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 0, 0)]):
        img = np.zeros((32, 32, 3), np.uint8)
        img[: 8 * (i + 1)] = colour
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(img).save(paths[-1])
    metric = Vendi()
    value = fold(metric, paths, 3)
    assert 1.0 < value <= 4.0 and "pixels16-v1" in metric.fingerprint()
    clips = []
    t = np.arange(8000) / 8000
    for f in (220, 220, 880):
        clips.append(tmp_path / f"{f}-{len(clips)}.wav")
        wavfile.write(clips[-1], 8000, (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32))
    metric = Vendi()
    assert 1.0 < fold(metric, clips, 2) < 2.1 and "logbands32-v1" in metric.fingerprint()


@pytest.mark.parametrize("n, d", [(30, 8), (8, 30), (50, 50)])
def test_vendi_equals_the_authors_package(n, d):
    from vendi_score import vendi

    x = np.random.default_rng(n * d).normal(size=(n, d))
    assert vendi_score(x) == pytest.approx(vendi.score_X(x), rel=1e-9)


def test_vendi_metric_on_text_equals_the_authors_package_on_its_embedding():
    from vendi_score import vendi

    from mmeval.metrics.embeddings import text_embedding

    outs = texts(3, 40)
    assert fold(Vendi(), outs, 7) == pytest.approx(vendi.score_X(text_embedding(outs)), rel=1e-9)


def test_distinct_n_state_stays_log_structured_and_merges_exactly():
    outs = texts(11, 3000)
    metric = DistinctN(n=2)
    state = metric.init()
    for i in range(0, len(outs), 8):
        state = metric.update(state, outs[i : i + 8], [None] * len(outs[i : i + 8]))
    assert len(state[0]) <= 2 * math.log2(len(outs) / 8) + 2  # O(log n) runs, not one per batch
    expected = li_distinct(outs, 2, str.split)
    assert metric.compute(state)["distinct_n"] == pytest.approx(expected, abs=1e-12)
    halves = [metric.update(metric.init(), part, [None] * len(part)) for part in (outs[:1234], outs[1234:])]
    assert metric.compute(metric.merge(*halves))["distinct_n"] == pytest.approx(expected, abs=1e-12)
