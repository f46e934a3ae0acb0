"""Attribute fidelity of product text, by the catalogue's rule-based extractor.

`attribute_f1` extracts category, colour and material from each output and from its
target (the reference description) and scores the (attribute, value) pairs: micro
precision/recall/F1, plus accuracy = share of the target's attributes the output states
correctly. `price_mae` compares the first stated price, over samples where the target
states one; a missing price in the output counts toward `coverage`, not the error.
States are integer/float sums merged by addition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..catalog.extract import extract
from ..catalog.vocab import ATTRIBUTES
from .base import check_lengths, fingerprint
from .text import as_text


class AttributeF1:
    """Micro F1 of extracted (attribute, value) pairs against the target's.

    Example: `- use: attribute_f1` → `attribute_f1`, `attribute_f1_accuracy`, `_precision`, `_recall`.
    """

    name = "attribute_f1"
    modality = "text"
    higher_is_better = True
    value_range = (0.0, 1.0)
    extra_directions = {"accuracy": True, "precision": True, "recall": True}

    def init(self) -> tuple[int, int, int]:
        return (0, 0, 0)  # true positives, predicted pairs, target pairs

    def update(self, state: tuple[int, int, int], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[int, int, int]:
        check_lengths(outputs, targets)
        tp, predicted, expected = state
        for output, target in zip(outputs, targets):
            got, want = extract(as_text(output, "output")), extract(as_text(target, "target"))
            for key in ATTRIBUTES:
                predicted += got[key] is not None
                expected += want[key] is not None
                tp += got[key] is not None and got[key] == want[key]
        return (tp, predicted, expected)

    def merge(self, a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int]:
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2])

    def compute(self, state: tuple[int, int, int]) -> dict[str, float]:
        tp, predicted, expected = state
        precision = tp / predicted if predicted else float("nan")
        recall = tp / expected if expected else float("nan")
        f1 = 2 * tp / (predicted + expected) if predicted + expected else float("nan")
        # Accuracy over the target's attributes equals recall; reported by name for readers.
        return {"attribute_f1": f1, "attribute_f1_accuracy": recall, "attribute_f1_precision": precision,
                "attribute_f1_recall": recall}

    def fingerprint(self) -> str:
        return fingerprint(self.name, extractor="catalog-vocab-v1", attributes="+".join(ATTRIBUTES), average="micro")


class PriceMAE:
    """Mean absolute error of the stated price, in the text's currency units.

    Example: `- use: price_mae` → `price_mae`, `price_mae_coverage` (share of priced targets
    whose output states a price).
    """

    name = "price_mae"
    modality = "text"
    higher_is_better = False
    value_range = (0.0, math.inf)
    extra_directions = {"coverage": True}  # a larger share of stated prices is better

    def init(self) -> tuple[float, int, int]:
        return (0.0, 0, 0)  # sum |error|, outputs with a price, targets with a price

    def update(self, state: tuple[float, int, int], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[float, int, int]:
        check_lengths(outputs, targets)
        total, stated, priced = state
        errors = []
        for output, target in zip(outputs, targets):
            want = extract(as_text(target, "target"))["price"]
            if want is None:
                continue
            priced += 1
            got = extract(as_text(output, "output"))["price"]
            if got is not None:
                stated += 1
                errors.append(abs(got - want))
        return (total + math.fsum(errors), stated, priced)

    def merge(self, a: tuple[float, int, int], b: tuple[float, int, int]) -> tuple[float, int, int]:
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2])

    def compute(self, state: tuple[float, int, int]) -> dict[str, float]:
        total, stated, priced = state
        return {"price_mae": total / stated if stated else float("nan"),
                "price_mae_coverage": stated / priced if priced else float("nan")}

    def fingerprint(self) -> str:
        return fingerprint(self.name, extractor="catalog-vocab-v1", price="first-dollar-amount")
