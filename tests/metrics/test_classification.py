"""Label metrics equal scikit-learn on the raw labels, whatever the batching."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, balanced_accuracy_score, precision_recall_fscore_support

from mmeval.metrics.classification import F1, Accuracy, ExactMatch, Precision, Recall

LABELS = ["cat", "dog", "bird", 3, "3.0"]


def fold(metric, outputs, targets, batch):
    state = metric.init()
    for i in range(0, len(outputs), batch):
        state = metric.update(state, outputs[i : i + batch], targets[i : i + batch])
    return metric.compute(state)[metric.name]


def random_labels(seed: int, n: int, k: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    labels = [f"class-{i}" for i in range(k)]
    targets = [rng.choice(labels) for _ in range(n)]
    outputs = [t if rng.random() < 0.6 else rng.choice(labels) for t in targets]
    return outputs, targets


@pytest.mark.parametrize("average", ["micro", "macro", "weighted"])
@pytest.mark.parametrize("cls", [Precision, Recall, F1])
def test_matches_sklearn(cls, average):
    outputs, targets = random_labels(1, 500, 7)
    p, r, f, _ = precision_recall_fscore_support(targets, outputs, average=average, zero_division=0)
    expected = {"precision": p, "recall": r, "f1": f}[cls.name]
    assert fold(cls(average=average), outputs, targets, 64) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("cls", [Precision, Recall, F1])
def test_binary_with_pos_label_matches_sklearn(cls):
    outputs, targets = random_labels(2, 400, 2)  # class-0 / class-1
    for pos in ("class-0", "class-1"):
        p, r, f, _ = precision_recall_fscore_support(targets, outputs, average="binary", pos_label=pos, zero_division=0)
        expected = {"precision": p, "recall": r, "f1": f}[cls.name]
        assert fold(cls(average="binary", pos_label=pos), outputs, targets, 37) == pytest.approx(expected, abs=1e-12)
    assert fold(cls(average="binary", pos_label=1), [1, 0, 1.0], [1, 1, 0], 2) == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5}[cls.name])  # 1 and 1.0 are one label


def test_binary_needs_pos_label_and_two_labels():
    from mmeval.errors import InputError

    with pytest.raises(ValueError, match="pos_label"):
        F1(average="binary")
    with pytest.raises(ValueError, match="pos_label"):
        F1(pos_label="yes")
    with pytest.raises(InputError, match="at most two labels"):
        fold(F1(average="binary", pos_label="cat"), ["cat", "dog", "bird"], ["dog", "cat", "cat"], 3)
    with pytest.raises(InputError, match="one of them pos_label"):
        fold(F1(average="binary", pos_label="yes"), ["cat", "dog"], ["dog", "cat"], 3)
    assert F1(average="binary", pos_label="a").fingerprint() != F1(average="binary", pos_label="b").fingerprint()


def test_accuracy_micro_and_macro():
    outputs, targets = random_labels(2, 400, 5)
    assert fold(Accuracy(), outputs, targets, 33) == pytest.approx(accuracy_score(targets, outputs), abs=1e-12)
    balanced = balanced_accuracy_score(targets, outputs)
    assert fold(Accuracy(average="macro"), outputs, targets, 33) == pytest.approx(balanced, abs=1e-12)


def test_torchmetrics_agrees_on_integer_labels():
    torch = pytest.importorskip("torch")
    from torchmetrics.functional.classification import multiclass_f1_score

    outputs, targets = random_labels(3, 300, 4)
    to_int = {f"class-{i}": i for i in range(4)}
    tm = multiclass_f1_score(
        torch.tensor([to_int[o] for o in outputs]), torch.tensor([to_int[t] for t in targets]), num_classes=4, average="macro"
    )
    assert fold(F1(), outputs, targets, 50) == pytest.approx(float(tm), abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS)), min_size=1, max_size=60),
    cut=st.integers(min_value=0, max_value=60),
    batch=st.integers(min_value=1, max_value=17),
)
def test_batch_split_and_merge_are_exact(pairs, cut, batch):
    outputs = [o for o, _ in pairs]
    targets = [t for _, t in pairs]
    for metric in (Accuracy(), F1(average="macro"), Precision(average="weighted"), ExactMatch()):
        whole = metric.compute(metric.update(metric.init(), outputs, targets))
        cut = min(cut, len(pairs))
        a = metric.update(metric.init(), outputs[:cut], targets[:cut])
        b = metric.update(metric.init(), outputs[cut:], targets[cut:])
        assert metric.compute(metric.merge(a, b)) == whole
        assert fold(metric, outputs, targets, batch) == whole[metric.name]


def test_numeric_labels_unify():
    metric = Accuracy()
    assert fold(metric, [1, 2.0, "3"], [1.0, 2, 3], 2) == 1.0


def test_exact_match_normalize():
    assert fold(ExactMatch(), ["Red  Mug", "x"], ["red mug", "x"], 1) == 0.5
    assert fold(ExactMatch(normalize=True), ["Red  Mug", "x"], ["red mug", "x"], 1) == 1.0
