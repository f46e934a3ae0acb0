"""Error metrics on numbers and on paired images: MAE, MSE, RMSE.

The state is (sum of |error|, sum of error², count) in float64, merged by addition;
on numbers, values equal scikit-learn's `mean_absolute_error` / `mean_squared_error`.
On images (PNG/JPEG paths, blobs or arrays) values are read at their source bit depth and
divided by its range (255 for 8-bit, 65535 for 16-bit), channels as stored; `alpha:
composite` (default) blends an alpha channel onto white first, `compare` keeps it as a
channel (see `media.image.load_exact_pair`). Every value of every pair is one error term:
the result is the mean over all pixel values of all pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ..data import media_kind
from ..errors import InputError
from .base import check_lengths, fingerprint

State = tuple[float, float, int]


def _is_image(value: Any) -> bool:
    return media_kind(value) == "image" or (isinstance(value, np.ndarray) and value.ndim >= 2)


def as_number(value: Any, role: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"{role} {value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{role} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"{role} {value!r} is not a finite number")
    return number


class _ErrorMetric:
    modality = "number"  # or paired images
    higher_is_better = False
    value_range = (0.0, math.inf)
    name = ""

    def __init__(self, alpha: Literal["composite", "compare"] = "composite"):
        if alpha not in ("composite", "compare"):
            raise ValueError("alpha must be 'composite' (blend onto white) or 'compare' (keep it as a channel)")
        self.alpha = alpha

    def init(self) -> State:
        return (0.0, 0.0, 0)

    def update(self, state: State, outputs: Sequence[Any], targets: Sequence[Any]) -> State:
        check_lengths(outputs, targets)
        total_abs, total_sq, count = state
        numbers = []
        for o, t in zip(outputs, targets):
            if _is_image(o) or _is_image(t):
                from ..media.image import load_pair

                a, b = load_pair(o, t, self.alpha)
                diff = (a - b).ravel()
                total_abs += math.fsum(np.abs(diff))
                total_sq += math.fsum(diff * diff)
                count += diff.size
            else:
                numbers.append(as_number(o, "output") - as_number(t, "target"))
        return (
            total_abs + math.fsum(abs(e) for e in numbers),
            total_sq + math.fsum(e * e for e in numbers),
            count + len(numbers),
        )

    def merge(self, a: State, b: State) -> State:
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2])

    def fingerprint(self) -> str:
        return fingerprint(self.name, dtype="float64", images="source-range-per-value-v2", alpha=self.alpha)

    def compute(self, state: State) -> dict[str, float]:
        if state[2] == 0:
            return {self.name: float("nan")}
        return {self.name: self._value(state)}

    def _value(self, state: State) -> float:
        raise NotImplementedError


class MAE(_ErrorMetric):
    """Mean absolute error. Example: `- use: mae`."""

    name = "mae"

    def _value(self, state: State) -> float:
        return state[0] / state[2]


class MSE(_ErrorMetric):
    """Mean squared error. Example: `- use: mse`."""

    name = "mse"

    def _value(self, state: State) -> float:
        return state[1] / state[2]


class RMSE(_ErrorMetric):
    """Root mean squared error. Example: `- use: rmse`."""

    name = "rmse"

    def _value(self, state: State) -> float:
        return math.sqrt(state[1] / state[2])
