"""Label metrics equal scikit-learn on the raw labels, whatever the batching."""

from __future__ import annotations

import math
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


# --- normalize, MCC, kappa, per-class details ------------------------------------------


def test_normalize_options():
    from mmeval.metrics.classification import label, normalizers

    assert label("1.0") == "1.0" and label(1.0) == "1"  # default: numbers unify, strings stay
    numeric = normalizers("numeric")
    assert {label(x, numeric) for x in ("1.0", 1, "1", " 1 ", "1e0", "+1", 1.0)} == {"1"}
    assert label("1.50", numeric) == "1.5" and label("007", numeric) == "7"
    assert label("12345678901234567890", numeric) == "12345678901234567890"  # exact, not via float
    assert label("1_000", numeric) == "1_000" and label("nan", numeric) == "nan" and label("1e400", numeric) == "1e400"
    both = normalizers(["case", "whitespace"])
    assert label("  Red \t MUG ", both) == "red mug"
    assert label("Straße", normalizers("case")) == "strasse"  # casefold, not lower
    with pytest.raises(ValueError, match="unknown 'cases'"):
        normalizers(["cases"])


def test_normalize_changes_counts_and_fingerprint():
    outputs, targets = [" Cat", "DOG", "1.0", "bird"], ["cat", "dog", "1", "Bird "]
    assert fold(Accuracy(), outputs, targets, 2) == 0.0
    assert fold(Accuracy(normalize=["case", "whitespace"]), outputs, targets, 2) == 0.75
    assert fold(Accuracy(normalize=["case", "whitespace", "numeric"]), outputs, targets, 2) == 1.0
    assert Accuracy().fingerprint() != Accuracy(normalize="case").fingerprint()
    assert "normalize:whitespace+case" in F1(normalize=["case", "whitespace"]).fingerprint()
    # pos_label is normalised like the labels
    assert fold(F1(average="binary", pos_label="YES", normalize="case"), ["yes", "no"], ["Yes", "No"], 1) == 1.0


def test_mcc_and_kappa_against_sklearn_and_edge_cases():
    from sklearn.metrics import cohen_kappa_score, matthews_corrcoef

    from mmeval.metrics.classification import MCC, CohenKappa

    outputs, targets = random_labels(5, 300, 4)
    assert fold(MCC(), outputs, targets, 31) == pytest.approx(matthews_corrcoef(targets, outputs), abs=1e-12)
    assert fold(CohenKappa(), outputs, targets, 31) == pytest.approx(cohen_kappa_score(targets, outputs), abs=1e-12)
    assert fold(MCC(), ["a", "a"], ["a", "a"], 1) == 0.0  # scikit-learn: undefined -> 0
    assert math.isnan(fold(CohenKappa(), ["a", "a"], ["a", "a"], 1))  # chance agreement is total
    assert MCC.value_range == CohenKappa.value_range == (-1.0, 1.0)


def test_weighted_kappa_needs_ordered_labels():
    from mmeval.errors import InputError
    from mmeval.metrics.classification import CohenKappa

    with pytest.raises(InputError, match="needs ordered labels; 'cat' is not a number"):
        fold(CohenKappa(weights="linear"), ["cat", 1], [2, 1], 2)
    with pytest.raises(InputError, match="'huge' is not in labels"):
        fold(CohenKappa(weights="linear", labels=["small", "big"]), ["small", "huge"], ["big", "small"], 2)
    with pytest.raises(ValueError, match="weights"):
        CohenKappa(weights="cubic")
    with pytest.raises(ValueError, match="twice"):
        CohenKappa(labels=["a", "A"], normalize="case")
    a, b = CohenKappa(weights="linear", labels=["lo", "hi"]), CohenKappa(weights="linear", labels=["hi", "lo"])
    assert a.fingerprint() != b.fingerprint()
    # text order would put "10" before "2": numeric labels are ordered by value
    ranked = fold(CohenKappa(weights="quadratic"), [2, 10, 3], [3, 10, 2], 3)
    explicit = fold(CohenKappa(weights="quadratic", labels=[2, 3, 10]), [2, 10, 3], [3, 10, 2], 3)
    assert ranked == explicit


def test_details_per_class_and_label_order():
    from mmeval.metrics.classification import MAX_MATRIX_LABELS, MCC, CohenKappa, per_class

    metric = F1()
    assert metric.details(metric.init()) is None
    state = metric.update(metric.init(), [10, 2, 2, 1], [2, 2, 10, 1])
    data = metric.details(state)
    assert data["labels"] == ["1", "2", "10"]  # numeric labels in numeric order
    assert data["confusion_matrix"] == [[1, 0, 0], [0, 1, 1], [0, 1, 0]]  # [target][prediction]
    assert data["support"] == [1, 2, 1] and data["n"] == 4
    assert MCC().details(state) == data
    ordered = CohenKappa(labels=[10, 2, 1]).details(state)
    assert ordered["labels"] == ["10", "2", "1"] and ordered["confusion_matrix"][0] == [0, 1, 0]
    many = metric.update(metric.init(), [str(i) for i in range(MAX_MATRIX_LABELS + 1)], ["0"] * (MAX_MATRIX_LABELS + 1))
    big = metric.details(many)
    assert big["confusion_matrix"] is None and len(big["f1"]) == MAX_MATRIX_LABELS + 1
    assert per_class(many)["confusion_matrix"] is not None


def test_bad_average_is_a_value_error():
    with pytest.raises(ValueError, match="average"):
        F1(average="samples")
    with pytest.raises(ValueError, match="binary"):
        Accuracy(average="binary")


# --- score metrics: inputs, per-sample states ----------------------------------------------


def test_score_outputs_inputs_and_errors():
    from mmeval.errors import InputError
    from mmeval.metrics.scores import ECE, RocAuc, TopKAccuracy

    top = TopKAccuracy()
    as_text = top.update(top.init(), ['{"a": 0.9, "b": 0.1}'], ["a"])  # JSON text is read too
    assert top.compute(as_text)["top_k_accuracy"] == 1.0
    assert top.update(top.init(), [{1: 0.9, "2": 0.1}], [1.0]) == top.update(top.init(), [{"1": 0.9, "2": 0.1}], ["1"])
    for bad, match in ((["a"], "not a"), ([{}], "non-empty"), ([{"a": "high"}], "not a finite"),
                       ([{"a": float("nan")}], "not a finite"), ([{"a": True}], "not a finite"), ([[0.1, 0.9]], "not a")):
        with pytest.raises(InputError, match=match):
            top.update(top.init(), bad, ["a"])
    with pytest.raises(InputError, match="twice"):
        TopKAccuracy(normalize="case").update((), [{"A": 0.5, "a": 0.5}], ["a"])
    with pytest.raises(InputError, match="not a probability"):
        ECE().update((), [{"a": 1.2, "b": -0.2}], ["a"])
    with pytest.raises(InputError, match="sum to 0.9"):
        RocAuc().update((), [{"a": 0.3, "b": 0.3, "c": 0.3}], ["a"])
    with pytest.raises(InputError, match="sum to"):  # two keys each, three classes in all
        RocAuc().compute(RocAuc().update((), [{"a": 0.3, "b": 0.3}, {"b": 0.5, "c": 0.5}], ["a", "c"]))
    with pytest.raises(InputError, match="pos_label 'z'"):
        RocAuc(pos_label="z").compute(RocAuc(pos_label="z").update((), [{"a": 0.3}, {"a": 0.6}], ["a", "b"]))
    for bad in ({"k": 0}, {"k": 1.5}):
        with pytest.raises(ValueError):
            TopKAccuracy(**bad)
    with pytest.raises(ValueError):
        ECE(norm="l3")
    with pytest.raises(ValueError):
        RocAuc(multi_class="ova")


def test_score_metrics_undefined_and_missing_classes():
    from sklearn.metrics import top_k_accuracy_score

    from mmeval.metrics.scores import RocAuc, TopKAccuracy

    one = RocAuc(pos_label="a")
    assert math.isnan(one.compute(one.update((), [{"a": 0.7, "b": 0.3}], ["a"]))["roc_auc"])  # one sample
    # "c" is only a target: a class no output scores, so it scores 0 everywhere
    outputs, targets = [{"a": 0.6, "b": 0.4}, {"a": 0.2, "b": 0.8}, {"a": 0.5, "b": 0.5}], ["a", "c", "b"]
    expected = top_k_accuracy_score([0, 2, 1], [[0.6, 0.4, 0], [0.2, 0.8, 0], [0.5, 0.5, 0]], k=2, labels=[0, 1, 2])
    top2 = TopKAccuracy(k=2)
    assert top2.compute(top2.update((), outputs, targets))["top_k_accuracy"] == pytest.approx(expected)


def test_per_sample_states_survive_records_and_bootstrap():
    from mmeval.metrics.classification import MCC, CohenKappa
    from mmeval.metrics.regression import MAPE, R2, SMAPE, MedAE
    from mmeval.metrics.scores import ECE, RocAuc, TopKAccuracy
    from mmeval.report.bootstrap import bootstrap_interval
    from mmeval.report.records import record_state
    from mmeval.report.state_codec import decode_state

    rng = random.Random(4)
    labels = [{"a": p, "b": 1 - p} for p in (rng.random() for _ in range(60))]
    targets = [rng.choice("ab") for _ in range(60)]
    numbers = [rng.uniform(5, 50) for _ in range(60)]
    cases = [
        (MCC(), [max(o, key=o.get) for o in labels], targets),
        (CohenKappa(), [max(o, key=o.get) for o in labels], targets),
        (TopKAccuracy(), labels, targets), (RocAuc(pos_label="a"), labels, targets), (ECE(), labels, targets),
        (MAPE(), [x * rng.uniform(0.8, 1.2) for x in numbers], numbers), (SMAPE(), numbers[::-1], numbers),
        (R2(), [x + rng.gauss(0, 3) for x in numbers], numbers), (MedAE(), numbers[::-1], numbers),
    ]
    for metric, outputs, tgts in cases:
        states = [metric.update(metric.init(), [o], [t]) for o, t in zip(outputs, tgts)]
        for state in states[:3]:  # the record of one sample carries its state, and it decodes back
            encoded = record_state(state)
            assert encoded is not None, metric.name
            assert decode_state(encoded, metric.init()) == state
        whole = metric.compute(metric.update(metric.init(), outputs, tgts))[metric.name]
        merged = states[0]
        for s in states[1:]:
            merged = metric.merge(merged, s)
        assert metric.compute(merged)[metric.name] == whole, metric.name
        ci = bootstrap_interval(metric, states, resamples=60, seed=0)
        low, high = metric.value_range
        assert ci is not None and low <= ci[0] <= whole <= ci[1] <= high, (metric.name, ci, whole)
