"""Error metrics on numbers: MAE, MSE, RMSE.

The state is (sum of |error|, sum of error², count) in float64, merged by addition;
values equal scikit-learn's `mean_absolute_error` / `mean_squared_error`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import InputError
from .base import check_lengths, fingerprint

State = tuple[float, float, int]


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
    modality = "number"
    higher_is_better = False
    name = ""

    def init(self) -> State:
        return (0.0, 0.0, 0)

    def update(self, state: State, outputs: Sequence[Any], targets: Sequence[Any]) -> State:
        check_lengths(outputs, targets)
        errors = [as_number(o, "output") - as_number(t, "target") for o, t in zip(outputs, targets)]
        return (
            state[0] + math.fsum(abs(e) for e in errors),
            state[1] + math.fsum(e * e for e in errors),
            state[2] + len(errors),
        )

    def merge(self, a: State, b: State) -> State:
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2])

    def fingerprint(self) -> str:
        return fingerprint(self.name, dtype="float64")

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
