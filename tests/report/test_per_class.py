"""Label metrics carry a confusion matrix and per-class scores into report.json and
report.html, equal to scikit-learn's, and the page escapes labels."""

from __future__ import annotations

import json

from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from mmeval.report.per_class import MAX_HEATMAP_LABELS, per_class_section
from mmeval.runner import run
from tests.test_suite import base_suite, write_suite

TARGETS = ["mug", "mug", "hat", "vase", "hat", "mug", "vase", "<b>lamp</b>"]
OUTPUTS = ["mug", "hat", "hat", "mug", "hat", "mug", "vase", "mug"]


def test_report_carries_per_class_data_equal_to_scikit_learn(tmp_path):
    rows = [{"id": f"s{i}", "input": "x", "target": t} for i, t in enumerate(TARGETS)]
    outputs = [{"id": f"s{i}", "output": o} for i, o in enumerate(OUTPUTS)]
    suite = base_suite(metrics=[{"use": "accuracy"}, {"use": "f1"}, {"use": "bleu"}], thresholds=[])
    result = run(write_suite(tmp_path, suite, rows, outputs), tmp_path / "run", progress=False)

    by_metric = {r["metric"]: r for r in result.report["results"]}
    assert "per_class" not in by_metric["bleu"]  # only label metrics have classes
    table = by_metric["f1"]["per_class"]
    assert table == by_metric["accuracy"]["per_class"]
    labels = table["labels"]
    assert sorted(labels) == sorted(set(TARGETS) | set(OUTPUTS))
    assert table["confusion_matrix"] == confusion_matrix(TARGETS, OUTPUTS, labels=labels).tolist()
    precision, recall, f1, support = precision_recall_fscore_support(TARGETS, OUTPUTS, labels=labels, average=None, zero_division=0)
    assert table["precision"] == list(precision) and table["recall"] == list(recall)
    assert table["f1"] == list(f1) and table["support"] == list(support)

    page = (tmp_path / "run" / "report.html").read_text()
    assert "<h2>Per class</h2>" in page and "candidate · accuracy, f1" in page  # one table, both metrics
    assert "&lt;b&gt;lamp&lt;/b&gt;" in page and "<b>lamp</b>" not in page
    on_disk = json.loads((tmp_path / "run" / "report.json").read_text())
    assert on_disk["results"][1]["per_class"] == table


def test_many_labels_keep_per_class_rows_but_draw_no_matrix():
    labels = [f"c{i}" for i in range(MAX_HEATMAP_LABELS + 1)]
    zeros = [0.0] * len(labels)
    table = {"labels": labels, "confusion_matrix": None, "precision": zeros, "recall": zeros, "f1": zeros, "support": [1] * len(labels)}
    page = per_class_section([{"model": "m", "metric": "f1", "value": 0.5, "per_class": table}])
    assert "no confusion matrix drawn" in page and page.count("<tr>") == len(labels) + 1


def test_unmeasured_results_draw_nothing():
    assert per_class_section([{"model": "m", "metric": "f1", "value": None, "per_class": {"labels": []}}]) == ""
