"""The metric contract and small helpers shared by metric implementations.

A metric folds batches into an explicit state, states merge across shards, and
`compute` turns a state into named values:

    state = m.init()
    state = m.update(state, outputs, targets)   # per batch, in any split
    state = m.merge(state_a, state_b)           # shards combine exactly
    m.compute(state) -> {"bleu": 31.2, ...}     # first key is the headline value

`targets` are the dataset targets or, with `against:`, another model's outputs.

Optional class attributes the report uses (absent means the default):

    value_range = (0.0, math.inf)      # where the headline value can lie; intervals are
                                        # clipped to it (default: unbounded)
    extra_directions = {"coverage": True}  # direction of a named extra value (key after
                                        # the metric-name prefix); extras not listed have none
    not_comparable -> str | None        # e.g. "random weights": the number must not be
                                        # compared with published values

Optional method: `m.settle(state) -> state` finishes work a state still defers (FID's
images waiting for a full network pass), so the state holds no media of the process
that made it: it can travel to rank 0 of a distributed run, and media files may go.

Per-sample statistics (optional; accuracy/F1, MAE, BLEU/chrF have them). When a metric's
state is a sum of per-sample statistic vectors, it can say so with three methods, and the
run then scores each batch once, gets every sample's value and the bootstrap from arrays:

    rows = m.sample_stats(outputs, targets)   # (n, k) float64: one row per sample, one call
    m.stats_state(rows.sum(axis=0))           # the state of those samples
    m.stats_values(totals)                    # (R, k) sums -> (R,) headline values, vectorised
    m.stats_ready() -> bool                   # optional: False once rows would grow too wide
    m.state_stats(state)                      # optional: a state's row (compare reads states)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from .. import __version__


@runtime_checkable
class Metric(Protocol):
    name: ClassVar[str]
    modality: ClassVar[str]  # text | image | audio | label | number | any
    higher_is_better: ClassVar[bool]

    def init(self) -> Any: ...

    def update(self, state: Any, outputs: Sequence[Any], targets: Sequence[Any]) -> Any: ...

    def merge(self, a: Any, b: Any) -> Any: ...

    def compute(self, state: Any) -> dict[str, float]: ...

    def fingerprint(self) -> str: ...


UNBOUNDED = (-math.inf, math.inf)


def value_range(metric: Any) -> tuple[float, float]:
    """The (low, high) range a metric's headline value lies in; unbounded when undeclared."""
    low, high = getattr(metric, "value_range", UNBOUNDED)
    return float(low), float(high)


def fingerprint(name: str, **parts: Any) -> str:
    """A sacrebleu-style signature: `name|key:value|...|mmeval:VERSION`."""
    fields = [name] + [f"{k}:{v}" for k, v in parts.items() if v is not None]
    fields.append(f"mmeval:{__version__}")
    return "|".join(fields)


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def check_lengths(outputs: Sequence[Any], targets: Sequence[Any]) -> None:
    if len(outputs) != len(targets):
        raise ValueError(f"{len(outputs)} outputs but {len(targets)} targets")


def settled(metric: Any, state: Any) -> Any:
    """`state` with nothing deferred (the metric's optional `settle`, see the module docstring)."""
    settle = getattr(metric, "settle", None)
    return state if settle is None else settle(state)


def has_sample_stats(metric: Any) -> bool:
    """Whether `metric` gives per-sample statistics now (see the module docstring). A metric
    whose rows grow with the data (a confusion table's cells) may stop, with `stats_ready()`
    False; the run then scores its later batches through update, as for any other metric."""
    methods = all(callable(getattr(metric, m, None)) for m in ("sample_stats", "stats_state", "stats_values"))
    return methods and getattr(metric, "stats_ready", lambda: True)()
