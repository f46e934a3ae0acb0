"""Label, score and number metrics against their references on generated data.

References: scikit-learn (accuracy, P/R/F1 every average, MCC, Cohen's kappa, top-k,
ROC-AUC, MAE/MSE, MAPE, R², MedAE, confusion matrix, per-class P/R/F1), torchmetrics
(sMAPE, ECE) and the ECE formula (Guo et al. 2017) written out in numpy. Every value is
folded in uneven batches, and merged from shards in a shuffled order: batching and
order never change a value.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from sklearn import metrics as skm

from mmeval.metrics.classification import F1, MCC, Accuracy, CohenKappa, Precision, Recall, per_class
from mmeval.metrics.regression import MAE, MAPE, MSE, R2, RMSE, SMAPE, MedAE
from mmeval.metrics.scores import ECE, RocAuc, TopKAccuracy


def folded(metric, outputs, targets, batch):
    state = metric.init()
    for i in range(0, len(outputs), batch):
        state = metric.update(state, outputs[i : i + batch], targets[i : i + batch])
    return state


def sharded(metric, outputs, targets, shards, seed):
    """Per-shard states merged in a shuffled order."""
    cuts = sorted(random.Random(seed).sample(range(1, len(outputs)), shards - 1))
    bounds = list(zip([0, *cuts], [*cuts, len(outputs)]))
    random.Random(seed + 1).shuffle(bounds)
    states = [metric.update(metric.init(), outputs[a:b], targets[a:b]) for a, b in bounds]
    state = states[0]
    for other in states[1:]:
        state = metric.merge(state, other)
    return state


def value(metric, outputs, targets, batch=37):
    """The metric's value, asserting that batching and sharding leave it unchanged: to the
    last bit, except MAE/MSE/RMSE, whose float sums are merged by plain addition."""
    same = pytest.approx if isinstance(metric, (MAE, MSE, RMSE)) else (lambda x: x)
    whole = metric.compute(folded(metric, outputs, targets, len(outputs)))[metric.name]
    for b in (1, batch):
        assert metric.compute(folded(metric, outputs, targets, b))[metric.name] == same(whole)
    assert metric.compute(sharded(metric, outputs, targets, 5, seed=batch))[metric.name] == same(whole)
    return whole


def labels_case(seed, n=600, k=5, hit=0.55):
    rng = random.Random(seed)
    names = [f"sku-{i}" for i in range(k)]
    weights = [rng.random() + 0.2 for _ in names]  # unbalanced classes
    targets = rng.choices(names, weights, k=n)
    outputs = [t if rng.random() < hit else rng.choice(names) for t in targets]
    return outputs, targets


# --- labels ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("average", ["micro", "macro", "weighted"])
def test_precision_recall_f1_every_average(seed, average):
    outputs, targets = labels_case(seed)
    p, r, f, _ = skm.precision_recall_fscore_support(targets, outputs, average=average, zero_division=0)
    for cls, expected in ((Precision, p), (Recall, r), (F1, f)):
        assert value(cls(average=average), outputs, targets) == pytest.approx(expected, abs=1e-12)


def test_binary_average_with_pos_label():
    outputs, targets = labels_case(2, k=2, hit=0.7)
    for pos in ("sku-0", "sku-1"):
        p, r, f, _ = skm.precision_recall_fscore_support(targets, outputs, average="binary", pos_label=pos)
        for cls, expected in ((Precision, p), (Recall, r), (F1, f)):
            assert value(cls(average="binary", pos_label=pos), outputs, targets) == pytest.approx(expected, abs=1e-12)


def test_accuracy_micro_and_balanced():
    outputs, targets = labels_case(3)
    assert value(Accuracy(), outputs, targets) == pytest.approx(skm.accuracy_score(targets, outputs), abs=1e-12)
    balanced = skm.balanced_accuracy_score(targets, outputs)
    assert value(Accuracy(average="macro"), outputs, targets) == pytest.approx(balanced, abs=1e-12)


@pytest.mark.parametrize("seed,k,hit", [(4, 2, 0.8), (5, 6, 0.5), (6, 4, 0.05)])
def test_mcc_matches_sklearn(seed, k, hit):
    outputs, targets = labels_case(seed, k=k, hit=hit)
    expected = skm.matthews_corrcoef(targets, outputs)
    assert value(MCC(), outputs, targets) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("weights", ["none", "linear", "quadratic"])
def test_cohen_kappa_on_numeric_grades(weights):
    rng = np.random.default_rng(7)
    targets = rng.integers(1, 11, 500)  # grades 1..10: text order would put 10 before 2
    outputs = np.clip(targets + rng.integers(-2, 3, 500), 1, 10)
    expected = skm.cohen_kappa_score(targets, outputs, weights=None if weights == "none" else weights)
    got = value(CohenKappa(weights=weights), outputs.tolist(), targets.tolist())
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_cohen_kappa_with_explicit_label_order(weights):
    order = ["bad", "poor", "ok", "good", "great"]
    rng = np.random.default_rng(8)
    t = rng.integers(0, 5, 400)
    o = np.clip(t + rng.integers(-1, 2, 400), 0, 4)
    expected = skm.cohen_kappa_score(t, o, weights=weights)  # integer ranks: the order given
    got = value(CohenKappa(weights=weights, labels=order), [order[i] for i in o], [order[i] for i in t])
    assert got == pytest.approx(expected, abs=1e-12)


def test_per_class_matches_confusion_matrix_and_report():
    outputs, targets = labels_case(9, k=6)
    outputs[:3] = ["unseen"] * 3  # a label only ever predicted
    state = folded(F1(), outputs, targets, 41)
    data = per_class(state)
    order = data["labels"]
    assert order == sorted(set(outputs) | set(targets))
    assert data["confusion_matrix"] == skm.confusion_matrix(targets, outputs, labels=order).tolist()
    p, r, f, s = skm.precision_recall_fscore_support(targets, outputs, labels=order, average=None, zero_division=0)
    np.testing.assert_allclose(data["precision"], p, atol=1e-12)
    np.testing.assert_allclose(data["recall"], r, atol=1e-12)
    np.testing.assert_allclose(data["f1"], f, atol=1e-12)
    assert data["support"] == s.tolist()
    report = skm.classification_report(targets, outputs, labels=order, output_dict=True, zero_division=0)
    for i, name in enumerate(order):
        assert data["f1"][i] == pytest.approx(report[name]["f1-score"], abs=1e-12)
    assert F1().details(sharded(F1(), outputs, targets, 4, seed=3)) == data


# --- scores ---------------------------------------------------------------------------


def scores_case(seed, n=500, k=5, sharp=0.6):
    """Dirichlet probabilities that lean toward the target, as {label: p} dicts."""
    rng = np.random.default_rng(seed)
    names = [f"cls-{i}" for i in range(k)]
    y = rng.integers(0, k, n)
    alpha = np.full((n, k), sharp)
    alpha[np.arange(n), y] += 1.5
    probs = np.array([rng.dirichlet(a) for a in alpha])
    outputs = [{names[j]: float(probs[i, j]) for j in range(k)} for i in range(n)]
    return outputs, [names[i] for i in y], probs, y


@pytest.mark.parametrize("k_top", [1, 2, 3])
def test_top_k_accuracy_matches_sklearn(k_top):
    outputs, targets, probs, y = scores_case(10, k=6)
    expected = skm.top_k_accuracy_score(y, probs, k=k_top)
    assert value(TopKAccuracy(k=k_top), outputs, targets) == pytest.approx(expected, abs=1e-12)


def test_top_1_with_two_classes_follows_sklearn_binary_rule():
    outputs, targets, probs, y = scores_case(11, k=2)
    expected = skm.top_k_accuracy_score(y, probs[:, 1], k=1)
    assert value(TopKAccuracy(k=1), outputs, targets) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("multi_class,average", [("ovr", "macro"), ("ovr", "weighted"), ("ovo", "macro")])
def test_multiclass_roc_auc_matches_sklearn(multi_class, average):
    outputs, targets, probs, y = scores_case(12, k=4)
    expected = skm.roc_auc_score(y, probs, multi_class=multi_class, average=average)
    got = value(RocAuc(multi_class=multi_class, average=average), outputs, targets)
    assert got == pytest.approx(expected, abs=1e-12)


def test_binary_roc_auc_with_pos_label_and_ties():
    outputs, targets, probs, y = scores_case(13, k=2)
    rounded = [{k: round(v, 1) for k, v in o.items()} for o in outputs]  # many tied scores
    for pos in (0, 1):
        expected = skm.roc_auc_score(y == pos, np.round(probs[:, pos], 1))
        assert value(RocAuc(pos_label=f"cls-{pos}"), rounded, targets) == pytest.approx(expected, abs=1e-12)
    # two classes without pos_label: scikit-learn's binary case, the later label positive
    assert value(RocAuc(), outputs, targets) == pytest.approx(skm.roc_auc_score(y, probs[:, 1]), abs=1e-12)


def ece_formula(probs, y, n_bins=15):
    """Guo et al. (2017) top-label ECE with torchmetrics' bins: (lo, hi] edges in float32."""
    conf = probs.max(axis=1).astype(np.float32)
    correct = (probs.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0, 1, n_bins + 1, dtype=np.float32)
    index = np.searchsorted(edges, conf, side="right") - 1
    total = 0.0
    for b in np.unique(index):
        members = index == b
        total += members.mean() * abs(correct[members].mean() - conf[members].astype(np.float64).mean())
    return total


@pytest.mark.parametrize("sharp", [0.2, 1.0])
def test_ece_matches_torchmetrics_and_formula(sharp):
    from mmeval._compat.torchvision import ensure_torchvision

    ensure_torchvision()
    import torch
    from torchmetrics.functional.classification import multiclass_calibration_error

    outputs, targets, probs, y = scores_case(14, k=5, sharp=sharp)
    reference = float(multiclass_calibration_error(torch.tensor(probs), torch.tensor(y), num_classes=5, n_bins=15, norm="l1"))
    got = value(ECE(), outputs, targets)
    assert got == pytest.approx(reference, abs=1e-6)  # torchmetrics sums in float32
    assert got == pytest.approx(ece_formula(probs, y), abs=1e-6)
    assert 0.0 <= got <= 1.0


# --- numbers --------------------------------------------------------------------------


def prices_case(seed, n=800):
    rng = np.random.default_rng(seed)
    targets = np.round(rng.lognormal(4, 1, n), 2)  # prices: positive, skewed, cents
    outputs = np.round(targets * rng.normal(1, 0.15, n) + rng.normal(0, 2, n), 2)
    return outputs.tolist(), targets.tolist()


@pytest.mark.parametrize("seed", [20, 21])
def test_number_metrics_match_sklearn_and_torchmetrics(seed):
    outputs, targets = prices_case(seed)
    o, t = np.array(outputs), np.array(targets)
    expected = {
        "mae": skm.mean_absolute_error(t, o),
        "mse": skm.mean_squared_error(t, o),
        "rmse": math.sqrt(skm.mean_squared_error(t, o)),
        "mape": skm.mean_absolute_percentage_error(t, o),
        "r2": skm.r2_score(t, o),
        "medae": skm.median_absolute_error(t, o),
    }
    for metric in (MAE(), MSE(), RMSE(), MAPE(), R2(), MedAE()):
        assert value(metric, outputs, targets) == pytest.approx(expected[metric.name], rel=1e-12)

    from mmeval._compat.torchvision import ensure_torchvision

    ensure_torchvision()
    import torch
    from torchmetrics.functional.regression import symmetric_mean_absolute_percentage_error

    smape = float(symmetric_mean_absolute_percentage_error(torch.tensor(o), torch.tensor(t)))
    assert value(SMAPE(), outputs, targets) == pytest.approx(smape, rel=1e-12)


def test_r2_exact_where_float_sums_cancel():
    # Large prices with a tiny spread: Σy² - (Σy)²/n in float64 loses every digit.
    rng = np.random.default_rng(22)
    t = 1e9 + rng.normal(0, 1, 300)
    o = t + rng.normal(0, 0.5, 300)
    assert value(R2(), o.tolist(), t.tolist()) == pytest.approx(skm.r2_score(t, o), rel=1e-9)


def test_mape_eps_convention_equals_sklearn_on_zero_targets():
    outputs, targets = prices_case(23, n=50)
    targets[::10] = [0.0] * 5
    expected = skm.mean_absolute_percentage_error(targets, outputs)
    assert value(MAPE(zero_target="eps"), outputs, targets) == pytest.approx(expected, rel=1e-12)
    keep = [i for i, x in enumerate(targets) if x != 0]
    skipped = skm.mean_absolute_percentage_error([targets[i] for i in keep], [outputs[i] for i in keep])
    assert value(MAPE(zero_target="skip"), outputs, targets) == pytest.approx(skipped, rel=1e-12)


# --- through a run: probability objects in a replay file ---------------------------------


def test_probability_objects_from_a_replay_file_score_as_sklearn(tmp_path):
    import json

    from mmeval.runner import run
    from tests.test_suite import base_suite, write_suite

    outputs, targets, probs, y = scores_case(15, n=60, k=3)
    rows = [{"id": f"s{i}", "input": "x", "target": t} for i, t in enumerate(targets)]
    replay = [{"id": f"s{i}", "output": o} for i, o in enumerate(outputs)]
    metrics = [{"use": "top_k_accuracy", "args": {"k": 2}}, {"use": "roc_auc"}, {"use": "ece"},
               {"use": "roc_auc", "name": "auc_cls0", "args": {"pos_label": "cls-0"}}]
    suite = write_suite(tmp_path, base_suite(metrics=metrics, thresholds=[], batch_size=7), rows=rows, outputs=replay)
    report = run(suite, tmp_path / "run", progress=False).report
    got = {r["key"]: r for r in report["results"]}
    assert got["top_k_accuracy"]["value"] == pytest.approx(skm.top_k_accuracy_score(y, probs, k=2), abs=1e-12)
    assert got["roc_auc"]["value"] == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr"), abs=1e-12)
    assert got["auc_cls0"]["value"] == pytest.approx(skm.roc_auc_score(y == 0, probs[:, 0]), abs=1e-12)
    assert 0 < got["ece"]["value"] < 1
    for key in got:  # bootstrap intervals from per-sample states, inside the value range
        assert got[key]["ci_low"] <= got[key]["value"] <= got[key]["ci_high"], key
    records = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    assert all(set(r["states"]) == set(got) for r in records)  # each sample's rows travel for `compare`
