"""`python`: a Python callable that maps a batch of inputs to a batch of outputs."""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import InputError, SpecError
from ..registry import load_object


class PythonCallable:
    """Calls `callable(inputs, **options)` per batch (plus `seed=` if it accepts one).

    The current directory is importable, so a suite can name a module next to it.
    Example: `use: python` with `args: {callable: "mypkg.gen:describe", options: {temperature: 0.7}}`.
    """

    runs_model = True

    def __init__(self, callable: str, options: dict[str, Any] | None = None):
        if os.getcwd() not in sys.path:
            sys.path.append(os.getcwd())
        self.target = callable
        self.fn = load_object(callable)
        if not callable_(self.fn):
            raise SpecError(f"{callable!r} is not callable")
        self.options = dict(options or {})
        params = inspect.signature(self.fn).parameters
        self._takes_seed = "seed" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())

    def generate(self, inputs: Sequence[Any], *, seed: int, ids: Sequence[str]) -> list[Any]:
        kwargs = dict(self.options)
        if self._takes_seed:
            kwargs["seed"] = seed
        outputs = self.fn(list(inputs), **kwargs)
        try:
            outputs = list(outputs)
        except TypeError:
            raise InputError(f"{self.target} returned {type(outputs).__name__}, expected a list of outputs") from None
        if len(outputs) != len(inputs):
            raise InputError(f"{self.target} returned {len(outputs)} outputs for {len(inputs)} inputs")
        return outputs


callable_ = callable
