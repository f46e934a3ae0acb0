"""`python`: a Python callable that maps a batch of inputs to a batch of outputs."""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import InputError, SpecError
from ..plugins import ArgumentError
from ..registry import load_object

# Folders `importable_from` made importable, innermost last: what an import error names.
_SUITE_FOLDERS: list[Path] = []


@contextmanager
def importable_from(folder: Path) -> Iterator[None]:
    """Make `folder` (a suite's) importable first while the block runs; sys.path is then
    restored exactly, so one suite's modules do not shadow another's imports later."""
    saved = list(sys.path)
    sys.path.insert(0, str(folder))
    _SUITE_FOLDERS.append(Path(folder))
    try:
        yield
    finally:
        _SUITE_FOLDERS.pop()
        sys.path[:] = saved


class FunctionAdapter:
    """A function of a batch of inputs as an adapter: `fn(inputs, **options)` per batch,
    plus `seed=` if it accepts one. `label` names it in errors. The Python API wraps
    notebook functions in it; `use: python` loads one by name (PythonCallable)."""

    runs_model = True

    def __init__(self, fn: Any, label: str, options: dict[str, Any] | None = None):
        self.fn, self.target, self.options = fn, label, dict(options or {})
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):  # a builtin without a signature
            params = {}
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


class PythonCallable(FunctionAdapter):
    """Calls `callable(inputs, **options)` per batch (plus `seed=` if it accepts one).

    The suite's folder, then the current directory, are importable, so a suite can name a
    module next to it. Example: `use: python` with
    `args: {callable: "mypkg.gen:describe", options: {temperature: 0.7}}`.
    """

    def __init__(self, callable: str, options: dict[str, Any] | None = None):
        if os.getcwd() not in sys.path:
            sys.path.append(os.getcwd())
        fn = _load_callable(callable)
        if not callable_(fn):
            raise ArgumentError("callable", f"{callable!r} is not callable")
        super().__init__(fn, callable, options)


def _load_callable(target: str) -> Any:
    """`load_object(target)`; a module not found names the folders searched, for `build`
    to prefix with the suite key (`models.NAME.args.callable: ...`)."""
    try:
        return load_object(target)
    except SpecError as exc:
        missing = exc.__cause__
        module = target.partition(":")[0]
        if not isinstance(missing, ModuleNotFoundError) or not _is_part_of(missing.name, module):
            raise ArgumentError("callable", str(exc)) from None  # an import inside the module failed: say so as is
        folders = ", ".join(dict.fromkeys([*map(str, reversed(_SUITE_FOLDERS)), os.getcwd()]))
        raise ArgumentError("callable", f"cannot import module {module!r} (looked in {folders})") from None


def _is_part_of(name: str | None, module: str) -> bool:
    """True when `name` is `module` or one of its parent packages (`pkg` of `pkg.gen`)."""
    return name is not None and (module == name or module.startswith(name + "."))


callable_ = callable
