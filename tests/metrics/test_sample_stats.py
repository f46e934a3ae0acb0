"""Per-sample statistics (`sample_stats`, `stats_state`, `stats_values`) give exactly what the
metric's own update and compute give: per sample, per batch and on resampled sums."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmeval.errors import InputError
from mmeval.metrics.base import has_sample_stats
from mmeval.metrics.classification import F1, MCC, Accuracy, CohenKappa, Precision, Recall
from mmeval.metrics.regression import MAE, MSE, RMSE
from mmeval.metrics.text import BLEU, CHRF, TER

# (name, factory): each example gets a fresh metric, as each run does
LABEL_METRICS = [
    *((f"{cls.name}-{avg}", lambda cls=cls, avg=avg: cls(average=avg)) for cls in (Precision, Recall, F1, Accuracy)
      for avg in ("micro", "macro", "weighted")),
    *((f"{cls.name}-binary", lambda cls=cls: cls(average="binary", pos_label="1")) for cls in (Precision, Recall, F1)),
    ("mcc", MCC),
    *((f"kappa-{w}", lambda w=w: CohenKappa(weights=w)) for w in ("none", "linear", "quadratic")),
    ("kappa-linear-ordered", lambda: CohenKappa(weights="linear", labels=["5", "3", "2", "1"])),
]


def headline(metric, state) -> float:
    return next(iter(metric.compute(state).values()))


def same(a, b) -> bool:
    return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-12, atol=1e-12, equal_nan=True)


def check_against_update(metric, outputs, targets, draws) -> None:
    rows = metric.sample_stats(outputs, targets)
    assert rows.shape[0] == len(outputs)
    # the batch: one call gives the state update() gives
    assert same(headline(metric, metric.stats_state(rows.sum(axis=0))), headline(metric, metric.update(metric.init(), outputs, targets)))
    # every sample: the value of its own one-sample state
    singles = [headline(metric, metric.update(metric.init(), [o], [t])) for o, t in zip(outputs, targets)]
    assert same(metric.stats_values(rows), singles)
    # resampled sums: the value of the merged resampled states, as the old bootstrap merged them
    counts = np.array([np.bincount(d, minlength=len(rows)) for d in draws], dtype=float)
    states = [metric.update(metric.init(), [o], [t]) for o, t in zip(outputs, targets)]
    merged = []
    for d in draws:
        state = metric.init()
        for i in d:
            state = metric.merge(state, states[i])
        merged.append(headline(metric, state))
    assert same(metric.stats_values(counts @ rows), merged)


labels = st.sampled_from(["1", "2", "3", "5"])
draws = st.lists(st.lists(st.integers(0, 10_000), min_size=1, max_size=12), min_size=1, max_size=8)


@pytest.mark.parametrize("make", [f for _, f in LABEL_METRICS], ids=[name for name, _ in LABEL_METRICS])
@settings(max_examples=25, deadline=None)
@given(pairs=st.lists(st.tuples(labels, labels), min_size=1, max_size=30), picks=draws)
def test_label_metrics_equal_scikit_learn_per_sample_and_resampled(make, pairs, picks) -> None:
    metric = make()
    outputs, targets = [o for o, _ in pairs], [t for _, t in pairs]
    if metric.average == "binary" and len({*outputs, *targets} - {"1"}) > 1:
        outputs = [o if o == "1" else "2" for o in outputs]
        targets = [t if t == "1" else "2" for t in targets]
    check_against_update(metric, outputs, targets, [[i % len(pairs) for i in d] for d in picks])


def test_cells_seen_later_widen_the_rows_and_old_rows_still_score() -> None:
    metric = F1()
    first = metric.sample_stats(["a"], ["a"])
    second = metric.sample_stats(["b", "a"], ["a", "c"])
    assert first.shape == (1, 1) and second.shape == (2, 3)
    total = np.pad(first, [(0, 0), (0, 2)]).sum(axis=0) + second.sum(axis=0)
    assert same(headline(metric, metric.stats_state(total)),
                headline(metric, metric.update(metric.init(), ["a", "b", "a"], ["a", "a", "c"])))
    assert same(metric.stats_values(first), [1.0])


@pytest.mark.parametrize("normalize", [False, True])
@settings(max_examples=20, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(["Red", "red ", "blue", 3, "3"]), st.sampled_from(["red", "Blue", "3"])), min_size=1, max_size=20), picks=draws)
def test_exact_match_per_sample_and_resampled(normalize, pairs, picks) -> None:
    from mmeval.metrics.classification import ExactMatch

    check_against_update(ExactMatch(normalize=normalize), [o for o, _ in pairs], [t for _, t in pairs],
                         [[i % len(pairs) for i in d] for d in picks])


def test_binary_with_three_labels_is_the_same_error_as_compute() -> None:
    metric = F1(average="binary", pos_label="yes")
    rows = metric.sample_stats(["yes", "no", "maybe"], ["yes", "no", "no"])
    with pytest.raises(InputError, match="binary needs at most two labels"):
        metric.stats_values(rows)


@pytest.mark.parametrize("metric", [MAE(), MSE(), RMSE()], ids=lambda m: m.name)
@settings(max_examples=25, deadline=None)
@given(pairs=st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=30), picks=draws)
def test_error_metrics_per_sample_and_resampled(metric, pairs, picks) -> None:
    outputs, targets = [o for o, _ in pairs], [t for _, t in pairs]
    check_against_update(metric, outputs, targets, [[i % len(pairs) for i in d] for d in picks])


def test_error_metrics_on_images_sum_every_pixel(tmp_path) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8) for _ in range(4)]
    metric = MAE()
    rows = metric.sample_stats(images[:2], images[2:])
    assert rows[:, 2].tolist() == [60.0, 60.0]
    assert same(headline(metric, metric.stats_state(rows.sum(axis=0))), headline(metric, metric.update(metric.init(), images[:2], images[2:])))


words = st.sampled_from("red shoe bag soft 好 的 cotton a the".split())
texts = st.lists(words, max_size=9).map(" ".join)
TEXT_METRICS = [BLEU(), BLEU(tokenize="zh"), BLEU(smooth_method="floor"), CHRF(), CHRF(word_order=2), TER()]


@pytest.mark.parametrize("metric", TEXT_METRICS, ids=lambda m: m.fingerprint().split("|")[1][:40])
@settings(max_examples=20, deadline=None)
@given(pairs=st.lists(st.tuples(texts, st.one_of(texts, st.lists(texts, min_size=1, max_size=3))), min_size=1, max_size=12), picks=draws)
def test_sacrebleu_metrics_per_sample_and_resampled(metric, pairs, picks) -> None:
    outputs, targets = [o for o, _ in pairs], [t for _, t in pairs]
    check_against_update(metric, outputs, targets, [[i % len(pairs) for i in d] for d in picks])


def test_sacrebleu_state_keeps_integer_statistics_and_reference_counts() -> None:
    metric = BLEU()
    rows = metric.sample_stats(["a red shoe"], [["a red shoe", "red shoes"]])
    stats, n, counts = metric.stats_state(rows[0])
    assert n == 1 and counts == frozenset({2}) and all(isinstance(x, int) for x in stats)
    assert stats == metric.update(metric.init(), ["a red shoe"], [["a red shoe", "red shoes"]])[0]


def test_which_metrics_have_sample_stats() -> None:
    assert all(has_sample_stats(m) for m in [*(make() for _, make in LABEL_METRICS), MAE(), BLEU(), TER()])
    from mmeval.metrics.regression import MAPE

    assert not has_sample_stats(MAPE())  # exact partial sums: its own state
    assert math.isnan(MAE().stats_values(np.zeros((1, 3)))[0])


def test_a_run_scores_each_sample_once_and_records_the_same_values(tmp_path, repo, monkeypatch) -> None:
    """Paired image and audio metrics run their library once per sample and model: the
    records take the per-sample values from the batch, never scoring a sample again."""
    import json

    from mmeval.metrics.audio.paired import PairedAudio
    from mmeval.metrics.image.paired import PSNR, SSIM
    from mmeval.runner import run

    calls: dict[str, int] = {}

    def counted(cls, name):
        real = getattr(cls, name)

        def spy(self, *args, **kwargs):
            calls[self.name] = calls.get(self.name, 0) + 1
            return real(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, spy)

    counted(SSIM, "_score"), counted(PSNR, "_score"), counted(PairedAudio, "score_pair")
    data = repo / "suites" / "data" / "media-smoke"
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"""version: 1
name: once
seed: 0
batch_size: 8
dataset: {{path: {data}/image.jsonl}}
models:
  candidate: {{use: replay, args: {{path: {data}/image/candidate.jsonl}}}}
  degraded: {{use: replay, args: {{path: {data}/image/degraded.jsonl}}}}
metrics: [{{use: ssim}}, {{use: psnr}}]
thresholds: [{{model: candidate, metric: ssim, min: 0.5}}]
""")
    audio = tmp_path / "audio.yaml"
    audio.write_text(suite.read_text().replace("image", "audio").replace("ssim, min: 0.5", "stoi, min: 0.1")
                     .replace("[{use: ssim}, {use: psnr}]", "[{use: stoi}, {use: si_sdr}]"))
    for path, metrics in ((suite, ("ssim", "psnr")), (audio, ("stoi", "si_sdr"))):
        result = run(path, tmp_path / path.stem, progress=False)
        assert result.status == "pass"
        rows = [json.loads(line) for line in (tmp_path / path.stem / "records.jsonl").read_text().splitlines()]
        assert len(rows) == 32
        for name in metrics:
            assert calls.pop(name) == 32  # 16 samples x 2 models, once each
            values = [r["metrics"][name] for r in rows]
            assert all(v is None or isinstance(v, float) for v in values) and any(values)
