"""Seeded bootstrap 95% intervals from per-sample metric states.

Every metric folds samples into a state that merges exactly, so a bootstrap replicate
is the merge of resampled per-sample states followed by `compute`: for per-sample
metrics (accuracy, F1, BLEU, MAE) the classic bootstrap of the corpus score. Set-level
metrics (FID, KID, FAD, Vendi) resample their output set instead (`set_bootstrap.py`),
with fewer replicates (`resamples_for`) because each one is a set-level computation.

    states = [m.update(m.init(), [o], [t]) for o, t in zip(outputs, targets)]
    low, high = bootstrap_interval(m, states, resamples=1000, seed=0)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

# Metrics whose compute is costly (a matrix square root, a kernel eigendecomposition).
SET_LEVEL = {"fid", "kid", "fad", "vendi", "self_bleu", "distinct_n", "clip_fid"}
DEFAULT_RESAMPLES = 1000
SET_LEVEL_RESAMPLES = 50
# A per-sample state bigger than this (FID's 2048x2048 outer products) is not kept.
MAX_STATE_BYTES = 256 * 1024


def resamples_for(metric: Any, configured: int | None) -> int:
    if getattr(metric, "name", "") in SET_LEVEL or getattr(metric, "set_level", False):
        return min(configured or SET_LEVEL_RESAMPLES, SET_LEVEL_RESAMPLES * 4)
    return configured or DEFAULT_RESAMPLES


def state_bytes(state: Any, _depth: int = 0) -> int:
    """A rough size of a metric state: array payloads plus 64 bytes per scalar/container."""
    if _depth > 6:
        return 0
    nbytes = getattr(state, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        return sum(state_bytes(getattr(state, f.name), _depth + 1) for f in dataclasses.fields(state))
    if isinstance(state, dict):
        return 64 + sum(state_bytes(v, _depth + 1) for v in state.values())
    if isinstance(state, (list, tuple, set, frozenset)):
        return 64 + sum(state_bytes(v, _depth + 1) for v in state)
    if isinstance(state, (str, bytes)):
        return len(state) + 48
    return 64


def _merge_all(metric: Any, states: Sequence[Any]) -> Any:
    # Pairwise tree merge: same result as a left fold, fewer large intermediate states.
    layer = list(states)
    while len(layer) > 1:
        layer = [metric.merge(layer[i], layer[i + 1]) if i + 1 < len(layer) else layer[i] for i in range(0, len(layer), 2)]
    return layer[0] if layer else metric.init()


def headline(metric: Any, state: Any) -> float:
    values = metric.compute(state)
    return float(next(iter(values.values()))) if values else math.nan


def bootstrap_interval(
    metric: Any, states: Sequence[Any], *, resamples: int, seed: int, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile interval of the headline value over `resamples` replicates; None if undefined."""
    import numpy as np

    n = len(states)
    if n < 2 or resamples < 10:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        picks = rng.integers(0, n, size=n)
        value = headline(metric, _merge_all(metric, [states[i] for i in picks]))
        if math.isfinite(value):
            values.append(value)
    if len(values) < max(10, resamples // 2):
        return None
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def paired_delta_interval(
    baseline: Sequence[float], candidate: Sequence[float], *, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean of (candidate - baseline) over paired samples and its percentile bootstrap interval."""
    import numpy as np

    diff = np.asarray(candidate, dtype=float) - np.asarray(baseline, dtype=float)
    if diff.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, diff.size, size=(resamples, diff.size))
    means = diff[picks].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(diff.mean()), float(low), float(high)
