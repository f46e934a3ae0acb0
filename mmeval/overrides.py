"""`--set KEY=VALUE`: change one suite value for a run without editing the file.

    --set models.candidate.args.temperature=0.7
    --set metrics[1].args.average=micro     --set seed=3     --set thresholds[0].min=0.85

KEY is a dotted path into the suite's YAML (`[i]` indexes a list); VALUE is read as a
YAML scalar or flow value (`0.7`, `true`, `[a, b]`, `{x: 1}`, `"0.7"` for text). The
path must exist up to its last key (a missing `args:` excepted), so a typo fails here,
naming the flag, instead of adding a key the schema would refuse far from it. Every override is recorded in the report
(`suite.overrides`), next to the sha256 of the file as written.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import SpecError
from .yamlio import load_yaml

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def apply_overrides(raw: Any, overrides: list[str], where: str) -> Any:
    """`raw` (the parsed suite) with each `KEY=VALUE` applied in order."""
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set {override!r}: expected KEY=VALUE, e.g. models.candidate.args.temperature=0.7")
        steps = _steps(key.strip(), override)
        value = load_yaml(text, f"--set {key}") if text.strip() else ""
        node = raw
        for i, step in enumerate(steps[:-1]):
            node = _child(node, step, steps[: i + 1], override, where)
        _assign(node, steps[-1], value, override, where)
    return raw


def _steps(key: str, override: str) -> list[str | int]:
    steps: list[str | int] = []
    at = 0
    for match in _STEP.finditer(key):
        if match.start() != at and key[at:match.start()] != ".":
            break
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        at = match.end()
    if at != len(key) or not steps:
        raise SpecError(f"--set {override!r}: {key!r} is not a key path (dotted names, [i] for list items)")
    return steps


def _child(node: Any, step: str | int, path: list[str | int], override: str, where: str) -> Any:
    try:
        if isinstance(step, int) and isinstance(node, list):
            return node[step]
        if isinstance(step, str) and isinstance(node, dict):
            if step not in node and step == "args":
                node[step] = {}  # a model or metric written without args
            if step in node:
                return node[step]
    except IndexError:
        pass
    raise SpecError(f"--set {override!r}: {where} has no {_shown(path)}")


def _assign(node: Any, step: str | int, value: Any, override: str, where: str) -> None:
    if isinstance(step, int) and isinstance(node, list) and step < len(node):
        node[step] = value
    elif isinstance(step, str) and isinstance(node, dict):
        node[step] = value
    else:
        raise SpecError(f"--set {override!r}: cannot set {step!r} in {where} (not a mapping key or list item there)")


def _shown(path: list[str | int]) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path).lstrip(".")
