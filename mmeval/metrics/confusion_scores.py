"""Label scores of many confusion tables at once, in numpy, equal to scikit-learn's.

A bootstrap needs the score of a thousand resampled confusion tables, and the records
need the score of every single sample; calling scikit-learn for each is what made a
100k-sample run spend most of its time there. Here each table is a row of counts over
the run's confusion cells, and every score is a few array operations over all rows.

    cells = [("cat", "cat"), ("cat", "dog"), ("dog", "dog")]   # (target, prediction)
    tables = Tables(cells, counts)                # counts: (R, len(cells))
    prf(tables, "f1", "macro")                    # (R,) == sklearn f1_score per row

The formulas are scikit-learn 1.x's (`precision_recall_fscore_support` with
zero_division 0, `matthews_corrcoef`, `cohen_kappa_score`), including which labels count:
those present in the row's targets or predictions. A row with no samples scores NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MATRIX_ELEMENTS = 2**22  # kappa builds (rows, L, L) confusion matrices this many floats at a time

class Tables:
    """Per-label sums of R confusion tables given as counts over `cells`."""

    def __init__(self, cells: Sequence[tuple[str, str]], counts: np.ndarray, order: Sequence[str] | None = None):
        self.labels = list(order) if order is not None else sorted({x for cell in cells for x in cell})
        index = {x: i for i, x in enumerate(self.labels)}
        counts = np.asarray(counts, dtype=np.float64)
        self.counts = counts[:, : len(cells)]
        self.cells = list(cells)[: self.counts.shape[1]]
        self.target = np.array([index[t] for t, _ in self.cells], dtype=np.intp)
        self.prediction = np.array([index[p] for _, p in self.cells], dtype=np.intp)
        n_labels = len(self.labels)
        self.true = self.counts @ _one_hot(self.target, n_labels)
        self.pred = self.counts @ _one_hot(self.prediction, n_labels)
        hit = self.target == self.prediction
        self.tp = self.counts[:, hit] @ _one_hot(self.target[hit], n_labels)
        self.n = self.counts.sum(axis=1)
        self.present = (self.true + self.pred) > 0

    def rows(self, start: int, stop: int) -> "Tables":
        """The tables of rows start..stop."""
        return Tables(self.cells, self.counts[start:stop], self.labels)

    def matrices(self) -> np.ndarray:
        """(R, L, L) confusion matrices, [target][prediction] as scikit-learn's."""
        n_labels = len(self.labels)
        flat = np.zeros((len(self.counts), n_labels * n_labels))
        np.add.at(flat.T, self.target * n_labels + self.prediction, self.counts.T)
        return flat.reshape(len(self.counts), n_labels, n_labels)


def _one_hot(index: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(index), width))
    out[np.arange(len(index)), index] = 1.0
    return out


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (zero_division=0)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _average(values: np.ndarray, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Mean of `values` over the labels in `mask`, per row (weighted by `weights`)."""
    w = mask.astype(np.float64) if weights is None else np.where(mask, weights, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (values * w).sum(axis=1) / w.sum(axis=1)


def _undefined_when_empty(tables: Tables, values: np.ndarray) -> np.ndarray:
    return np.where(tables.n > 0, values, np.nan)


def prf(tables: Tables, score: str, average: str, pos_label: str | None = None) -> np.ndarray:
    """precision | recall | f1 per row, with scikit-learn's `average` and zero_division 0."""
    tp, pred, true = tables.tp, tables.pred, tables.true
    if average == "micro":
        tp, pred, true = tp.sum(axis=1, keepdims=True), pred.sum(axis=1, keepdims=True), true.sum(axis=1, keepdims=True)
    elif average == "binary":
        column = [tables.labels.index(pos_label)] if pos_label in tables.labels else []
        tp, pred, true = (x[:, column] if column else np.zeros((len(x), 1)) for x in (tp, pred, true))
    values = {"precision": lambda: _divide(tp, pred), "recall": lambda: _divide(tp, true),
              "f1": lambda: _divide(2.0 * tp, true + pred)}[score]()
    if average in ("micro", "binary"):
        return _undefined_when_empty(tables, values[:, 0])
    weights = true if average == "weighted" else None
    return _undefined_when_empty(tables, _average(values, tables.present, weights))


def accuracy(tables: Tables, average: str) -> np.ndarray:
    """Plain accuracy (micro), or per-class recall over the classes in the targets
    averaged (macro: balanced accuracy) or weighted by support."""
    if average == "micro":
        with np.errstate(invalid="ignore"):
            return _undefined_when_empty(tables, tables.tp.sum(axis=1) / tables.n)
    recall = _divide(tables.tp, tables.true)
    weights = tables.true if average == "weighted" else None
    return _undefined_when_empty(tables, _average(recall, tables.true > 0, weights))


def mcc(tables: Tables) -> np.ndarray:
    """Matthews correlation coefficient (Gorodkin's R_K), 0 where undefined."""
    t_sum, p_sum, n = tables.true, tables.pred, tables.n
    correct = tables.tp.sum(axis=1)
    cov_ytyp = correct * n - (t_sum * p_sum).sum(axis=1)
    cov_ypyp = n**2 - (p_sum * p_sum).sum(axis=1)
    cov_ytyt = n**2 - (t_sum * t_sum).sum(axis=1)
    product = cov_ypyp * cov_ytyt
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(product == 0, 0.0, cov_ytyp / np.sqrt(np.where(product == 0, 1.0, product)))
    return _undefined_when_empty(tables, values)


def kappa(tables: Tables, weights: str, fixed_order: bool) -> np.ndarray:
    """Cohen's kappa, weights none | linear | quadratic; NaN where undefined. The weights
    of linear/quadratic kappa are distances between label positions: in `tables.labels`
    when the order is fixed (`labels:` given), else among the labels present in the row,
    as scikit-learn numbers the labels it is given."""
    n_labels = len(tables.labels)
    step = max(1, MATRIX_ELEMENTS // max(1, n_labels * n_labels))
    if len(tables.counts) > step:  # R x L x L floats at a time, not all of them
        return np.concatenate([kappa(tables.rows(i, i + step), weights, fixed_order) for i in range(0, len(tables.counts), step)])
    confusion = tables.matrices()
    sum0, sum1 = confusion.sum(axis=1), confusion.sum(axis=2)
    total = sum0.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = sum0[:, :, None] * sum1[:, None, :] / total[:, None, None]
    if weights == "none":
        w = np.ones((1, n_labels, n_labels)) - np.eye(n_labels)[None]
    else:
        position = np.arange(n_labels)[None].repeat(len(confusion), 0) if fixed_order else np.cumsum(tables.present, axis=1) - 1
        gap = position[:, :, None] - position[:, None, :]
        w = np.abs(gap).astype(np.float64) if weights == "linear" else (gap**2).astype(np.float64)
    numerator = (w * confusion).sum(axis=(1, 2))
    denominator = (w * expected).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where((total == 0) | (denominator == 0), np.nan, 1 - numerator / denominator)
    return values
