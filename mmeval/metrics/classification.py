"""Label metrics: accuracy, precision, recall, F1, MCC, Cohen's kappa and exact match.

The state is a confusion table {(target, prediction): count}, so it is tiny, merges by
addition and does not depend on batching. `compute` hands the table to scikit-learn as
weighted samples, so values equal scikit-learn's (and torchmetrics') on the raw labels.
Labels may be strings or numbers; the numbers `1` and `1.0` are the same label (the
string "1.0" is not, unless `normalize: numeric`). Per-sample values and the bootstrap
score many tables at once in numpy (`confusion_scores.py`, equal to scikit-learn's).

`normalize:` (one name or a list; default none) maps labels before counting, in this
order whatever the order given: `whitespace` (strip, collapse runs to one space), `case`
(casefold), `numeric` (a label that reads as a decimal number becomes its canonical
form: "1.0", " 1 ", "1e0" and 1 are all "1"; "1.50" is "1.5").

`per_class(state)` gives the confusion matrix and per-class precision/recall/F1/support
(scikit-learn's `classification_report`); label metrics expose it as `details(state)`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from ..errors import InputError
from .base import check_lengths, fingerprint, package_version

Average = Literal["micro", "macro", "weighted", "binary"]
Normalizer = Literal["whitespace", "case", "numeric"]
NORMALIZERS: tuple[str, ...] = ("whitespace", "case", "numeric")  # applied in this order
# A confusion matrix in `details` is left out past this many labels (it grows as labels²).
MAX_MATRIX_LABELS = 100
MAX_STAT_CELLS = 256  # confusion cells a per-sample statistics row may have (see sample_stats)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def normalizers(normalize: str | Sequence[str] | None) -> tuple[str, ...]:
    """The `normalize:` argument as a tuple in application order; ValueError if unknown."""
    if normalize is None:
        return ()
    items = [normalize] if isinstance(normalize, str) else list(normalize)
    unknown = [n for n in items if n not in NORMALIZERS]
    if unknown:
        raise ValueError(f"normalize: unknown {unknown[0]!r}; use any of {', '.join(NORMALIZERS)}")
    return tuple(n for n in NORMALIZERS if n in items)


def label(value: Any, normalize: tuple[str, ...] = ()) -> str:
    """A label as the text it is counted under (see the module docstring)."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        raise InputError(f"label {value!r} is not a string or number")
    if "whitespace" in normalize:
        text = " ".join(text.split())
    if "case" in normalize:
        text = text.casefold()
    if "numeric" in normalize:
        text = _canonical_number(text)
    return text


def _canonical_number(text: str) -> str:
    stripped = text.strip()
    if _INTEGER.fullmatch(stripped):
        return str(int(stripped))  # exact, however many digits
    if _DECIMAL.fullmatch(stripped):
        number = float(stripped)
        if math.isfinite(number):
            return label(number)
    return text


def label_order(labels: Sequence[str] | set[str]) -> list[str]:
    """Labels in report order: numerically when every label reads as a number, else as text."""
    try:
        numbers = {x: float(x) for x in labels}
    except ValueError:
        return sorted(labels)
    if all(math.isfinite(v) for v in numbers.values()):
        return sorted(labels, key=lambda x: (numbers[x], x))
    return sorted(labels)


def _weighted_samples(state: Counter) -> tuple[list[str], list[str], list[int]]:
    cells = sorted((k, n) for k, n in state.items() if n)
    return [t for (t, _), _ in cells], [p for (_, p), _ in cells], [n for _, n in cells]


def per_class(state: Counter, labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Per-class data of a confusion-table state: `labels` (in `label_order`, or as given),
    `confusion_matrix` ([target][prediction] counts, as scikit-learn's `confusion_matrix`),
    and parallel lists `precision`, `recall`, `f1`, `support` (scikit-learn's
    `precision_recall_fscore_support(average=None)`, zero_division 0), plus `n`."""
    from sklearn.metrics import precision_recall_fscore_support

    seen = {t for t, _ in state} | {p for _, p in state}
    order = list(labels) if labels is not None else label_order(seen)
    matrix = [[int(state.get((t, p), 0)) for p in order] for t in order]
    n = int(sum(state.values()))
    if not n:
        zeros = [0.0] * len(order)
        return {"labels": order, "confusion_matrix": matrix, "precision": zeros, "recall": zeros, "f1": zeros,
                "support": [0] * len(order), "n": 0}
    y_true, y_pred, weights = _weighted_samples(state)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=order, average=None, sample_weight=weights, zero_division=0
    )
    return {
        "labels": order,
        "confusion_matrix": matrix,
        "precision": [float(x) for x in precision],
        "recall": [float(x) for x in recall],
        "f1": [float(x) for x in f1],
        "support": [sum(row) for row in matrix],
        "n": n,
    }


class _ConfusionMetric:
    value_range: tuple[float, float] = (0.0, 1.0)
    modality = "label"
    higher_is_better = True
    name = ""

    def __init__(self, average: Average = "macro", pos_label: str | int | None = None,
                 normalize: Normalizer | Sequence[Normalizer] | None = None):
        if average not in ("micro", "macro", "weighted", "binary"):
            raise ValueError(f"average must be micro, macro, weighted or binary, not {average!r}")
        if (average == "binary") != (pos_label is not None):
            raise ValueError("average: binary needs pos_label (the positive class), and pos_label needs average: binary")
        self.average = average
        self.normalize = normalizers(normalize)
        # 1 and "1" are one label; pos_label is normalised as the labels are
        self.pos_label = None if pos_label is None else label(pos_label, self.normalize)
        self._cells: dict[tuple[str, str], int] = {}  # (target, prediction) -> column of `sample_stats`

    def init(self) -> Counter:
        return Counter()

    def update(self, state: Counter, outputs: Sequence[Any], targets: Sequence[Any]) -> Counter:
        check_lengths(outputs, targets)
        state = Counter(state)
        norm = self.normalize
        state.update((label(t, norm), label(o, norm)) for o, t in zip(outputs, targets))
        return state

    # Per-sample statistics (see metrics/base.py): a sample is a one-hot row over the
    # confusion cells seen so far by this metric object, in order of first appearance.
    # Past MAX_STAT_CELLS cells (free-text labels) the rows would grow with the data:
    # the run then goes back to confusion-table states for the later batches.
    def stats_ready(self) -> bool:
        return len(self._cells) <= MAX_STAT_CELLS

    def sample_stats(self, outputs: Sequence[Any], targets: Sequence[Any]) -> Any:
        import numpy as np

        check_lengths(outputs, targets)
        cells, norm = self._cells, self.normalize
        columns = [cells.setdefault((label(t, norm), label(o, norm)), len(cells)) for o, t in zip(outputs, targets)]
        rows = np.zeros((len(columns), len(cells)))
        rows[np.arange(len(columns)), columns] = 1.0
        return rows

    def state_stats(self, state: Counter) -> Any:
        """The row of a state (its cells' counts): `stats_state`'s inverse, for `compare`."""
        import numpy as np

        columns = {self._cells.setdefault(cell, len(self._cells)): k for cell, k in state.items()}
        row = np.zeros(len(self._cells))
        row[list(columns)] = list(columns.values())
        return row

    def stats_state(self, total: Any) -> Counter:
        cells = list(self._cells)
        return Counter({cell: int(k) for cell, k in zip(cells, total.tolist()) if k})

    def stats_values(self, totals: Any) -> Any:
        from .confusion_scores import Tables

        cells = list(self._cells)
        if self.average == "binary":
            self._check_binary({x for cell in cells for x in cell})
        return self._scores(Tables(cells, totals, self._table_order(cells)))

    def _table_order(self, cells: list[tuple[str, str]]) -> list[str] | None:
        return None

    def _scores(self, tables: Any) -> Any:
        from .confusion_scores import prf

        return prf(tables, self.name, self.average, self.pos_label)

    def merge(self, a: Counter, b: Counter) -> Counter:
        return a + b

    def compute(self, state: Counter) -> dict[str, float]:
        if not state:
            return {self.name: float("nan")}
        import warnings

        y_true, y_pred, weights = _weighted_samples(state)
        with warnings.catch_warnings():  # one sample's state has one label: scikit-learn warns
            warnings.simplefilter("ignore", UserWarning)
            return {self.name: float(self._score(y_true, y_pred, weights))}

    def details(self, state: Counter) -> dict[str, Any] | None:
        """Confusion matrix and per-class P/R/F1 (`per_class`); None without samples. Past
        `MAX_MATRIX_LABELS` labels the matrix is None (the per-class lists stay)."""
        if not state:
            return None
        data = per_class(state)
        if len(data["labels"]) > MAX_MATRIX_LABELS:
            data["confusion_matrix"] = None
        return data

    def _score(self, y_true: list[str], y_pred: list[str], weights: list[int]) -> float:
        from sklearn.metrics import precision_recall_fscore_support

        binary = {"pos_label": self.pos_label} if self.average == "binary" else {}
        if binary:
            self._check_binary(set(y_true) | set(y_pred))
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, average=self.average, sample_weight=weights, zero_division=0, **binary
        )
        return {"precision": precision, "recall": recall, "f1": f1}[self.name]

    def _check_binary(self, labels: set[str]) -> None:
        if len(labels) > 2 or (len(labels) == 2 and self.pos_label not in labels):
            raise InputError(f"{self.name}: average: binary needs at most two labels, one of them pos_label "
                             f"{self.pos_label!r}; got {', '.join(sorted(labels))}")

    def _fingerprint_parts(self) -> dict[str, Any]:
        return {"average": self.average, "pos_label": self.pos_label}

    def fingerprint(self) -> str:
        norm = "+".join(self.normalize) if self.normalize else None
        return fingerprint(self.name, **self._fingerprint_parts(), normalize=norm,
                           impl=f"sklearn-{package_version('scikit-learn')}")


class Precision(_ConfusionMetric):
    """Precision over labels; `average` micro, macro (default) or weighted, or `binary`
    with `pos_label` (scikit-learn's score of the positive class alone); `normalize`
    as in the module docstring.

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
    per-class recall by support, which equals micro. `normalize` as in the module docstring.

    Example: `- use: accuracy` with `args: {normalize: [case, whitespace]}`.
    """

    name = "accuracy"

    def __init__(self, average: Literal["micro", "macro", "weighted"] = "micro",
                 normalize: Normalizer | Sequence[Normalizer] | None = None):
        if average == "binary":
            raise ValueError("accuracy takes average micro, macro or weighted (binary is for precision/recall/f1)")
        super().__init__(average, normalize=normalize)

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

    def _scores(self, tables: Any) -> Any:
        from .confusion_scores import accuracy

        return accuracy(tables, self.average)


class MCC(_ConfusionMetric):
    """Matthews correlation coefficient in [-1, 1], scikit-learn's `matthews_corrcoef`
    (its multiclass generalisation, Gorodkin's R_K); 0 when undefined (one label only).

    Example: `- use: mcc` with `args: {normalize: case}`.
    """

    name = "mcc"
    value_range = (-1.0, 1.0)

    def __init__(self, normalize: Normalizer | Sequence[Normalizer] | None = None):
        super().__init__(normalize=normalize)

    def _score(self, y_true: list[str], y_pred: list[str], weights: list[int]) -> float:
        from sklearn.metrics import matthews_corrcoef

        return matthews_corrcoef(y_true, y_pred, sample_weight=weights)

    def _scores(self, tables: Any) -> Any:
        from .confusion_scores import mcc

        return mcc(tables)

    def _fingerprint_parts(self) -> dict[str, Any]:
        return {}


KappaWeights = Literal["none", "linear", "quadratic"]


class CohenKappa(_ConfusionMetric):
    """Cohen's kappa in [-1, 1] between outputs and targets, scikit-learn's
    `cohen_kappa_score` with `weights` none (default), linear or quadratic.

    Weighted kappa needs ordered labels: `labels:` gives the order (every label seen must
    be in it), or else all labels must be numbers (ordered by value). Undefined (NaN,
    reported as null) when chance agreement is total, e.g. a single label.
    Example: `- use: cohen_kappa` with `args: {weights: quadratic, labels: [bad, ok, good]}`.
    """

    name = "cohen_kappa"
    value_range = (-1.0, 1.0)

    def __init__(self, weights: KappaWeights | None = "none", labels: Sequence[str | int | float] | None = None,
                 normalize: Normalizer | Sequence[Normalizer] | None = None):
        super().__init__(normalize=normalize)
        weights = weights or "none"
        if weights not in ("none", "linear", "quadratic"):
            raise ValueError(f"weights must be none, linear or quadratic, not {weights!r}")
        self.weights = weights
        self.labels: list[str] | None = None
        if labels is not None:
            if isinstance(labels, str) or not labels:
                raise ValueError("labels must be a non-empty list of labels, in order")
            self.labels = [label(x, self.normalize) for x in labels]
            if len(set(self.labels)) != len(self.labels):
                raise ValueError("labels has a label twice (after normalize)")

    def _order(self, seen: set[str]) -> list[str]:
        if self.labels is not None:
            extra = sorted(seen - set(self.labels))
            if extra:
                raise InputError(f"cohen_kappa: label {extra[0]!r} is not in labels: {self.labels}")
            return self.labels
        if self.weights == "none":
            return sorted(seen)
        bad = [x for x in sorted(seen) if not _is_number(x)]
        if bad:
            raise InputError(f"cohen_kappa: weights: {self.weights} needs ordered labels; {bad[0]!r} is not a number "
                             "(give labels: [...] in order)")
        return sorted(seen, key=lambda x: (float(x), x))

    def _score(self, y_true: list[str], y_pred: list[str], weights: list[int]) -> float:
        import warnings

        from sklearn.metrics import cohen_kappa_score

        order = self._order(set(y_true) | set(y_pred))
        index = {x: i for i, x in enumerate(order)}
        with warnings.catch_warnings():  # undefined kappa: NaN is the answer, not a warning
            warnings.simplefilter("ignore")
            return cohen_kappa_score(
                [index[x] for x in y_true], [index[x] for x in y_pred], labels=list(range(len(order))),
                weights=None if self.weights == "none" else self.weights, sample_weight=weights,
            )

    def _table_order(self, cells: list[tuple[str, str]]) -> list[str] | None:
        return self._order({x for cell in cells for x in cell})

    def _scores(self, tables: Any) -> Any:
        from .confusion_scores import kappa

        return kappa(tables, self.weights, fixed_order=self.labels is not None)

    def details(self, state: Counter) -> dict[str, Any] | None:
        if not state or self.labels is None:
            return super().details(state)
        seen = {t for t, _ in state} | {p for _, p in state}
        return per_class(state, self._order(seen))

    def _fingerprint_parts(self) -> dict[str, Any]:
        return {"weights": self.weights, "labels": ",".join(self.labels) if self.labels else None}


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


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

    # Per-sample statistics (see metrics/base.py): (hit, 1).
    def sample_stats(self, outputs: Sequence[Any], targets: Sequence[Any]) -> Any:
        import numpy as np

        check_lengths(outputs, targets)
        return np.array([(self._text(o) == self._text(t), 1) for o, t in zip(outputs, targets)], dtype=np.float64).reshape(-1, 2)

    def state_stats(self, state: tuple[int, int]) -> Any:
        import numpy as np

        return np.array(state, dtype=np.float64)

    def stats_state(self, total: Any) -> tuple[int, int]:
        return (int(total[0]), int(total[1]))

    def stats_values(self, totals: Any) -> Any:
        from .mean import mean_values

        return mean_values(totals)

    def merge(self, a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        return (a[0] + b[0], a[1] + b[1])

    def compute(self, state: tuple[int, int]) -> dict[str, float]:
        return {self.name: state[0] / state[1] if state[1] else float("nan")}

    def fingerprint(self) -> str:
        return fingerprint(self.name, normalize=str(self.normalize).lower())
