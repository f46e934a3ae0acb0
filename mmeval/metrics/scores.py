"""Score metrics on per-class probabilities: top-k accuracy, ROC-AUC, expected calibration error.

An output is an object `{label: score}` (a JSON object in a replay file, or its JSON
text); the target is a label. Labels are counted as by the label metrics (`1` and `1.0`
are one label; `normalize:` as in `classification`). The classes are every label seen in
an output or a target, in `label_order` (numeric when all labels are numbers, else
text); a class missing from an output scores 0 there.

The state keeps one row (target, labels, scores) per sample: ranking metrics need every
score. Rows merge by concatenation; values do not depend on batching or order (ECE sorts
the rows before its float32 sums); memory grows with samples x classes.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

from ..errors import InputError
from .base import check_lengths, fingerprint, package_version
from .classification import Normalizer, label, label_order, normalizers

Row = tuple[str, tuple[str, ...], tuple[float, ...]]
State = tuple[Row, ...]


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def score_row(output: Any, target: Any, normalize: tuple[str, ...] = ()) -> Row:
    """One sample as (target label, sorted labels, their scores); InputError if malformed."""
    if isinstance(output, str):
        try:
            output = json.loads(output)
        except ValueError:
            raise InputError(f"output {_preview(output)} is not a {{label: score}} object") from None
    if not isinstance(output, dict) or not output:
        raise InputError(f"output {_preview(output)} is not a non-empty {{label: score}} object")
    scores: dict[str, float] = {}
    for key, value in output.items():
        name = label(key, normalize)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"score {value!r} of label {key!r} is not a finite number")
        if name in scores:
            raise InputError(f"output {_preview(output)} gives label {name!r} twice (after normalize)")
        scores[name] = float(value)
    labels = tuple(sorted(scores))
    return (label(target, normalize), labels, tuple(scores[x] for x in labels))


def _check_probabilities(labels: Sequence[str], scores: Sequence[float]) -> None:
    total = math.fsum(scores)
    if abs(1 - total) > 1e-8 + 1e-5 * abs(total):  # numpy's isclose(1, total), as scikit-learn tests
        raise _not_probabilities(labels, total)


def _not_probabilities(labels: Sequence[str], total: float) -> InputError:
    return InputError(f"roc_auc: scores of {', '.join(list(labels)[:5])} sum to {total:g}, not 1 "
                      "(multiclass ROC-AUC needs probabilities; or give pos_label)")


class _ScoreMetric:
    modality = "label"
    higher_is_better = True
    value_range = (0.0, 1.0)
    name = ""

    def __init__(self, normalize: Normalizer | Sequence[Normalizer] | None = None):
        self.normalize = normalizers(normalize)

    def init(self) -> State:
        return ()

    def _check(self, row: Row) -> None:
        """Further checks on one row (probabilities where the metric needs them)."""

    def update(self, state: State, outputs: Sequence[Any], targets: Sequence[Any]) -> State:
        check_lengths(outputs, targets)
        rows = tuple(score_row(o, t, self.normalize) for o, t in zip(outputs, targets))
        for row in rows:
            self._check(row)
        return tuple(state) + rows

    def merge(self, a: State, b: State) -> State:
        return tuple(a) + tuple(b)

    # Only sums whose order changes their last bits (ECE's float32 bins) need sorted rows;
    # top-k counts and ROC curves do not depend on the row order.
    sort_rows = False

    def matrix(self, state: State) -> tuple[list[str], Any, Any]:
        """(classes, target index per row, scores of shape rows x classes)."""
        import numpy as np

        groups: dict[tuple[str, ...], list[int]] = {}
        for i, row in enumerate(state):
            groups.setdefault(row[1], []).append(i)
        targets = [row[0] for row in state]
        classes = label_order(set(targets).union(*groups))
        index = {x: i for i, x in enumerate(classes)}
        scores = np.zeros((len(state), len(classes)), dtype=np.float64)
        for labels, members in groups.items():  # usually one group: every output has the same labels
            scores[np.ix_(members, [index[x] for x in labels])] = [state[i][2] for i in members]
        y_true = np.array([index[t] for t in targets], dtype=np.int64)
        if self.sort_rows:
            order = np.lexsort((*scores.T[::-1], y_true))
            scores, y_true = scores[order], y_true[order]
        return classes, y_true, scores

    def compute(self, state: State) -> dict[str, float]:
        if not state:
            return {self.name: float("nan")}
        classes, y_true, scores = self.matrix(state)
        with warnings.catch_warnings():  # an undefined value is NaN (reported null), not a warning
            warnings.simplefilter("ignore")
            return {self.name: float(self._score(classes, y_true, scores))}

    def _score(self, classes: list[str], y_true: Any, scores: Any) -> float:
        raise NotImplementedError

    def _parts(self) -> dict[str, Any]:
        return {}

    def fingerprint(self) -> str:
        norm = "+".join(self.normalize) if self.normalize else None
        return fingerprint(self.name, **self._parts(), normalize=norm, impl=self._impl())

    def _impl(self) -> str:
        return f"sklearn-{package_version('scikit-learn')}"


class TopKAccuracy(_ScoreMetric):
    """Share of samples whose target is among the k highest scores: scikit-learn's
    `top_k_accuracy_score` (ties as it breaks them; with two classes, scikit-learn's
    binary rule on the score of the later class: above 0.5 predicts it).

    Example: `- use: top_k_accuracy` with `args: {k: 3}`.
    """

    name = "top_k_accuracy"

    def __init__(self, k: int = 1, normalize: Normalizer | Sequence[Normalizer] | None = None):
        super().__init__(normalize)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, not {k!r}")
        self.k = k

    def _score(self, classes: list[str], y_true: Any, scores: Any) -> float:
        from sklearn.metrics import top_k_accuracy_score

        if len(classes) == 1:
            return 1.0  # one class: every target is it
        if len(classes) == 2:
            return top_k_accuracy_score(y_true, scores[:, 1], k=self.k, labels=[0, 1])
        return top_k_accuracy_score(y_true, scores, k=self.k, labels=list(range(len(classes))))

    def _parts(self) -> dict[str, Any]:
        return {"k": self.k}


class RocAuc(_ScoreMetric):
    """Area under the ROC curve, scikit-learn's `roc_auc_score`.

    With `pos_label`: binary, the score of `pos_label` ranks targets equal to it against all
    others. Without: `multi_class` ovr (default) or ovo with `average` macro (default) or
    weighted over the classes; scores must then be probabilities summing to 1 per output
    (as scikit-learn requires); with two classes, the score of the later one (scikit-learn's
    binary case). Undefined (null) where scikit-learn's is, e.g. a class that is never a
    target under ovr, or a single target class.
    Example: `- use: roc_auc` with `args: {pos_label: defect}`.
    """

    name = "roc_auc"

    def __init__(self, pos_label: str | int | None = None, multi_class: Literal["ovr", "ovo"] = "ovr",
                 average: Literal["macro", "weighted"] = "macro",
                 normalize: Normalizer | Sequence[Normalizer] | None = None):
        super().__init__(normalize)
        if multi_class not in ("ovr", "ovo"):
            raise ValueError(f"multi_class must be ovr or ovo, not {multi_class!r}")
        if average not in ("macro", "weighted"):
            raise ValueError(f"average must be macro or weighted, not {average!r}")
        self.pos_label = None if pos_label is None else label(pos_label, self.normalize)
        self.multi_class, self.average = multi_class, average

    def _check(self, row: Row) -> None:
        if self.pos_label is None and len(row[1]) > 2:  # certainly multiclass: fail early
            _check_probabilities(row[1], row[2])

    def _score(self, classes: list[str], y_true: Any, scores: Any) -> float:
        import numpy as np
        from sklearn.metrics import roc_auc_score

        if self.pos_label is not None:
            if self.pos_label not in classes:
                raise InputError(f"roc_auc: pos_label {self.pos_label!r} is no output's or target's label")
            pos = classes.index(self.pos_label)
            return roc_auc_score(y_true == pos, scores[:, pos])
        if len(classes) < 2:
            return math.nan
        if len(classes) == 2:
            return roc_auc_score(y_true, scores[:, 1])
        sums = scores.sum(axis=1)
        bad = np.flatnonzero(~np.isclose(1.0, sums))  # scikit-learn's test, np.allclose(1, sums)
        if bad.size:
            raise _not_probabilities([classes[j] for j in np.flatnonzero(scores[bad[0]])], float(sums[bad[0]]))
        return roc_auc_score(y_true, scores, multi_class=self.multi_class, average=self.average,
                             labels=list(range(len(classes))))

    def _parts(self) -> dict[str, Any]:
        if self.pos_label is not None:
            return {"pos_label": self.pos_label}
        return {"multi_class": self.multi_class, "average": self.average}


class ECE(_ScoreMetric):
    """Expected calibration error in [0, 1], lower is better: torchmetrics'
    `multiclass_calibration_error` (top-label: confidence = the highest probability,
    correct when its class is the target; `n_bins` equal bins, default 15; `norm` l1
    (default), l2 or max). Scores must be probabilities in [0, 1]; torchmetrics bins
    in float32. Example: `- use: ece` with `args: {n_bins: 10}`.
    """

    name = "ece"
    higher_is_better = False
    sort_rows = True

    def __init__(self, n_bins: int = 15, norm: Literal["l1", "l2", "max"] = "l1",
                 normalize: Normalizer | Sequence[Normalizer] | None = None):
        super().__init__(normalize)
        if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
            raise ValueError(f"n_bins must be a positive integer, not {n_bins!r}")
        if norm not in ("l1", "l2", "max"):
            raise ValueError(f"norm must be l1, l2 or max, not {norm!r}")
        self.n_bins, self.norm = n_bins, norm

    def _check(self, row: Row) -> None:
        bad = [(x, p) for x, p in zip(row[1], row[2]) if not 0.0 <= p <= 1.0]
        if bad:
            raise InputError(f"ece: score {bad[0][1]!r} of label {bad[0][0]!r} is not a probability in [0, 1]")

    def _score(self, classes: list[str], y_true: Any, scores: Any) -> float:
        import numpy as np
        import torch

        from .._compat.torchvision import ensure_torchvision

        ensure_torchvision()  # torchmetrics' package import pulls torchvision in
        from torchmetrics.functional.classification import multiclass_calibration_error

        if len(classes) == 1:  # torchmetrics needs two classes; an all-zero one changes nothing
            scores = np.hstack([scores, np.zeros((len(scores), 1))])
        value = multiclass_calibration_error(torch.from_numpy(scores), torch.from_numpy(y_true),
                                             num_classes=scores.shape[1], n_bins=self.n_bins, norm=self.norm)
        return float(value)

    def _parts(self) -> dict[str, Any]:
        return {"n_bins": self.n_bins, "norm": self.norm}

    def _impl(self) -> str:
        return f"torchmetrics-{package_version('torchmetrics')}"
