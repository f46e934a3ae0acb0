"""Label metrics: accuracy, precision, recall, F1 and exact match.

The state is a confusion table {(target, prediction): count}, so it is tiny, merges by
addition and does not depend on batching. `compute` hands the table to scikit-learn as
weighted samples, so values equal scikit-learn's (and torchmetrics') on the raw labels.
Labels may be strings or numbers; `1` and `1.0` are the same label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from ..errors import InputError
from .base import check_lengths, fingerprint, package_version

Average = Literal["micro", "macro", "weighted", "binary"]


def label(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    raise InputError(f"label {value!r} is not a string or number")


class _ConfusionMetric:
    value_range = (0.0, 1.0)
    modality = "label"
    higher_is_better = True
    name = ""

    def __init__(self, average: Average = "macro", pos_label: str | int | None = None):
        if (average == "binary") != (pos_label is not None):
            raise ValueError("average: binary needs pos_label (the positive class), and pos_label needs average: binary")
        self.average = average
        self.pos_label = None if pos_label is None else label(pos_label)  # 1 and "1" are one label

    def init(self) -> Counter:
        return Counter()

    def update(self, state: Counter, outputs: Sequence[Any], targets: Sequence[Any]) -> Counter:
        check_lengths(outputs, targets)
        state = Counter(state)
        state.update((label(t), label(o)) for o, t in zip(outputs, targets))
        return state

    def merge(self, a: Counter, b: Counter) -> Counter:
        return a + b

    def _weighted_samples(self, state: Counter) -> tuple[list[str], list[str], list[int]]:
        cells = sorted(state.items())
        return [t for (t, _), _ in cells], [p for (_, p), _ in cells], [n for _, n in cells]

    def compute(self, state: Counter) -> dict[str, float]:
        if not state:
            return {self.name: float("nan")}
        y_true, y_pred, weights = self._weighted_samples(state)
        return {self.name: float(self._score(y_true, y_pred, weights))}

    def _score(self, y_true: list[str], y_pred: list[str], weights: list[int]) -> float:
        from sklearn.metrics import precision_recall_fscore_support

        binary = {"pos_label": self.pos_label} if self.average == "binary" else {}
        labels = set(y_true) | set(y_pred)
        if binary and (len(labels) > 2 or (len(labels) == 2 and self.pos_label not in labels)):
            raise InputError(f"{self.name}: average: binary needs at most two labels, one of them pos_label "
                             f"{self.pos_label!r}; got {', '.join(sorted(labels))}")
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, average=self.average, sample_weight=weights, zero_division=0, **binary
        )
        return {"precision": precision, "recall": recall, "f1": f1}[self.name]

    def fingerprint(self) -> str:
        extra = {"pos_label": self.pos_label} if self.pos_label is not None else {}
        return fingerprint(self.name, average=self.average, impl=f"sklearn-{package_version('scikit-learn')}", **extra)


class Precision(_ConfusionMetric):
    """Precision over labels; `average` micro, macro (default) or weighted, or `binary`
    with `pos_label` (scikit-learn's score of the positive class alone).

    Example: `- use: precision` with `args: {average: weighted}`.
    """

    name = "precision"


class Recall(_ConfusionMetric):
    """Recall over labels; `average` micro, macro (default), weighted, or binary with `pos_label`."""

    name = "recall"


class F1(_ConfusionMetric):
    """F1 over labels; `average` micro, macro (default), weighted, or binary with `pos_label`.

    Example: `- use: f1` with `args: {average: binary, pos_label: "defect"}`.
    """

    name = "f1"


class Accuracy(_ConfusionMetric):
    """Fraction of outputs equal to their target.

    `average: micro` (default) is plain accuracy; `macro` is the mean per-class recall
    (balanced accuracy, torchmetrics' multiclass macro accuracy); `weighted` weights
    per-class recall by support, which equals micro.
    """

    name = "accuracy"

    def __init__(self, average: Literal["micro", "macro", "weighted"] = "micro"):
        super().__init__(average)

    def _score(self, y_true: list[str], y_pred: list[str], weights: list[int]) -> float:
        if self.average == "micro":
            from sklearn.metrics import accuracy_score

            return accuracy_score(y_true, y_pred, sample_weight=weights)
        from sklearn.metrics import recall_score

        # Per-class recall over classes present in the targets, as balanced accuracy does.
        classes = sorted(set(y_true))
        return recall_score(
            y_true, y_pred, labels=classes, average=self.average, sample_weight=weights, zero_division=0
        )


class ExactMatch:
    """Fraction of outputs exactly equal to their target (as text).

    `normalize: true` compares after trimming and collapsing whitespace and lowercasing.
    """

    name = "exact_match"
    modality = "text"
    higher_is_better = True
    value_range = (0.0, 1.0)

    def __init__(self, normalize: bool = False):
        self.normalize = normalize

    def _text(self, value: Any) -> str:
        text = label(value) if not isinstance(value, str) else value
        return " ".join(text.split()).lower() if self.normalize else text

    def init(self) -> tuple[int, int]:
        return (0, 0)

    def update(self, state: tuple[int, int], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[int, int]:
        check_lengths(outputs, targets)
        hits = sum(self._text(o) == self._text(t) for o, t in zip(outputs, targets))
        return (state[0] + hits, state[1] + len(outputs))

    def merge(self, a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        return (a[0] + b[0], a[1] + b[1])

    def compute(self, state: tuple[int, int]) -> dict[str, float]:
        return {self.name: state[0] / state[1] if state[1] else float("nan")}

    def fingerprint(self) -> str:
        return fingerprint(self.name, normalize=str(self.normalize).lower())
