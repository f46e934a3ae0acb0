"""Seeded bootstrap 95% intervals from per-sample metric states.

Every metric folds samples into a state that merges exactly, so a bootstrap replicate
is the merge of resampled per-sample states followed by `compute`: for per-sample
metrics (accuracy, F1, BLEU, MAE) the classic bootstrap of the corpus score. Set-level
metrics (FID, KID, FAD, Vendi) resample their output set instead (`set_bootstrap.py`),
with fewer replicates (`resamples_for`) because each one is a set-level computation.

    states = [m.update(m.init(), [o], [t]) for o, t in zip(outputs, targets)]
    low, high = bootstrap_interval(m, states, resamples=1000, seed=0)

Metrics with per-sample statistics (accuracy, F1, BLEU, chrF, MAE: `sample_stats` in
metrics/base.py) skip the merging: `stats_interval` multiplies an (R, n) matrix of draw
counts by the (n, k) statistics and scores the R rows at once, on the same draws.

Every interval lies in the metric's declared `value_range` and contains the reported
value (`fit_to_range`); its `note` says when a bound was clipped or extended.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterator, Sequence
from typing import Any

# Metrics whose compute is costly (a matrix square root, a kernel eigendecomposition).
SET_LEVEL = {"fid", "kid", "fad", "vendi", "self_bleu", "distinct_n", "clip_fid"}
DEFAULT_RESAMPLES = 1000
SET_LEVEL_RESAMPLES = 50
# A per-sample state bigger than this (FID's 2048x2048 outer products) is not kept.
MAX_STATE_BYTES = 256 * 1024
COUNT_ELEMENTS = 2**23  # draw counts held at once by the paired bootstrap (64 MiB of float64)


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


class Interval(tuple):
    """(low, high) of a bootstrap interval; `note` says when it was clipped or extended."""

    note: str

    def __new__(cls, low: float, high: float, note: str = "") -> "Interval":
        interval = super().__new__(cls, (float(low), float(high)))
        interval.note = note
        return interval


def fit_to_range(low: float, high: float, value: float, value_range: tuple[float, float]) -> Interval:
    """An interval that lies in the metric's range and contains its value.

    Bounds past the range are clipped to it; a value outside the interval (percentiles of
    a skewed statistic at a handful of samples can miss it) extends the nearer bound to
    the value. `note` names each step taken, so a reader sees the interval was adjusted.
    """
    lo, hi = value_range
    notes = []
    if low < lo:
        low, notes = lo, [*notes, f"lower bound clipped to the metric's range ({lo:g})"]
    if high > hi:
        high, notes = hi, [*notes, f"upper bound clipped to the metric's range ({hi:g})"]
    if math.isfinite(value) and not low <= value <= high:
        low, high = min(low, value), max(high, value)
        notes.append("extended to contain the value (the percentiles missed it)")
    return Interval(low, high, "; ".join(notes))


def bootstrap_interval(
    metric: Any, states: Sequence[Any], *, resamples: int, seed: int, level: float = 0.95,
    value_range: tuple[float, float] | None = None,
) -> Interval | None:
    """Percentile interval of the headline value over `resamples` replicates, fitted to the
    metric's `value_range` and made to contain the full-sample value (`fit_to_range`);
    None if undefined (fewer than 2 samples, too few finite replicates, a non-finite value)."""
    n = len(states)
    if n < 2 or resamples < 10:
        return None
    point = headline(metric, _merge_all(metric, states))
    if not math.isfinite(point):  # e.g. PSNR +inf: no finite interval contains it
        return None
    values = [headline(metric, _merge_all(metric, [states[i] for i in picks])) for picks in _draws(n, resamples, seed)]
    return _fitted(metric, values, point, resamples, level, value_range)


def stats_interval(
    metric: Any, rows: Any, *, resamples: int, seed: int, level: float = 0.95, value_range: tuple[float, float] | None = None,
) -> Interval | None:
    """`bootstrap_interval` for a metric with per-sample statistics (metrics/base.py), the
    sacrebleu way: the resampled rows' sums are `counts @ rows` for an (R, n) matrix of
    draw counts, and `stats_values` scores all R sums at once. The draws are the same as
    `bootstrap_interval`'s for the same seed, so the intervals are the same."""
    import numpy as np

    n = len(rows)
    if n < 2 or resamples < 10:
        return None
    point = float(metric.stats_values(rows.sum(axis=0, keepdims=True))[0])
    if not math.isfinite(point):
        return None
    values = metric.stats_values(resample_counts(n, resamples, seed) @ rows)
    return _fitted(metric, np.asarray(values).tolist(), point, resamples, level, value_range)


def paired_stats_replicates(metric: Any, baseline: Any, candidate: Any, *, resamples: int, seed: int) -> list[float]:
    """`paired_replicates` from per-sample statistic rows (`baseline[i]`, `candidate[i]`:
    one sample's rows in the two runs, (n, k) each): the same draws, each replicate's sums
    as `counts @ rows`, a block of replicates at a time so memory stays bounded."""
    import numpy as np

    n = len(baseline)
    if n != len(candidate):
        raise ValueError(f"{n} baseline rows but {len(candidate)} candidate rows")
    if n < 2 or resamples < 1:
        return []
    out: list[float] = []
    draws = _draws(n, resamples, seed)
    block = max(1, COUNT_ELEMENTS // n)
    for start in range(0, resamples, block):
        counts = _counts(draws, n, min(block, resamples - start))
        with np.errstate(invalid="ignore"):
            diffs = metric.stats_values(counts @ candidate) - metric.stats_values(counts @ baseline)
        out.extend(d for d in diffs.tolist() if math.isfinite(d))
    return out


@functools.lru_cache(maxsize=4)
def resample_counts(n: int, resamples: int, seed: int) -> Any:
    """(resamples, n) float64, read-only: how often each of n units is drawn in each
    replicate. Cached: every metric and model scored on the same samples shares them."""
    counts = _counts(_draws(n, resamples, seed), n, resamples)
    counts.flags.writeable = False
    return counts


def _counts(draws: Iterator[Any], n: int, rows: int) -> Any:
    """(rows, n) float64: how often each unit is drawn in each of the next `rows` draws."""
    import numpy as np

    return np.array([np.bincount(next(draws), minlength=n) for _ in range(rows)], dtype=np.float64).reshape(rows, n)


def _draws(n: int, resamples: int, seed: int) -> Iterator[Any]:
    """Each replicate's n unit indices drawn with replacement, seeded: the one resampler
    of every per-sample interval."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield rng.integers(0, n, size=n)


def _fitted(metric: Any, values: Sequence[float], point: float, resamples: int, level: float,
            value_range: tuple[float, float] | None) -> Interval | None:
    from ..metrics.base import value_range as declared_range

    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < max(10, resamples // 2):
        return None
    low, high = percentile_interval(finite, level)
    return fit_to_range(low, high, point, value_range or declared_range(metric))


def paired_replicates(
    metric: Any,
    baseline: Sequence[Any],
    candidate: Sequence[Any],
    *,
    resamples: int,
    seed: int,
    groups: Sequence[Any] | None = None,
) -> list[float]:
    """Finite replicates of headline(candidate) - headline(baseline), both recomputed on
    the same resample of sample ids: `baseline[i]` and `candidate[i]` are one sample's
    states in the two runs. This is the paired bootstrap of the reported statistic itself
    (corpus BLEU, RMSE), not of a mean of per-sample differences.

    `groups[i]` (optional) is equal for samples whose state pairs are equal (e.g. the
    same confusion cell in both runs); a replicate then merges each group's state scaled
    by its count (by doubling), not every drawn sample, with the same result.
    """
    import warnings

    import numpy as np

    n = len(baseline)
    if n != len(candidate):
        raise ValueError(f"{n} baseline states but {len(candidate)} candidate states")
    if n < 2 or resamples < 1:
        return []
    index: dict[Any, int] = {}
    of_sample = np.array([index.setdefault(g, len(index)) for g in (groups if groups is not None else range(n))])
    first = {g: i for i, g in reversed(list(enumerate(of_sample.tolist())))}
    base = _ScaledStates(metric, [baseline[first[g]] for g in range(len(index))])
    cand = _ScaledStates(metric, [candidate[first[g]] for g in range(len(index))])
    rng = np.random.default_rng(seed)
    out = []
    seen: dict[bytes, float] = {}  # group counts fix both merged states: small or repetitive sets repeat them
    with warnings.catch_warnings():  # a replicate may lack a class: library warnings are noise here
        warnings.simplefilter("ignore")
        for _ in range(resamples):
            counts = np.bincount(of_sample[rng.integers(0, n, size=n)], minlength=len(index))
            key = counts.tobytes()
            if key not in seen:
                seen[key] = headline(metric, cand.total(counts)) - headline(metric, base.total(counts))
            if math.isfinite(seen[key]):
                out.append(seen[key])
    return out


class _ScaledStates:
    """One state per group and its doublings (s, s+s, 4s, ...), built on demand."""

    def __init__(self, metric: Any, states: list[Any]):
        self.metric = metric
        self.powers = [[s] for s in states]

    def scaled(self, group: int, count: int) -> list[Any]:
        powers, parts, bit = self.powers[group], [], 0
        while count:
            if bit == len(powers):
                powers.append(self.metric.merge(powers[-1], powers[-1]))
            if count & 1:
                parts.append(powers[bit])
            count >>= 1
            bit += 1
        return parts

    def total(self, counts: Any) -> Any:
        return _merge_all(self.metric, [p for g, k in enumerate(counts.tolist()) if k for p in self.scaled(g, k)])


def percentile_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    import numpy as np

    alpha = (1 - level) / 2
    low, high = np.quantile(np.asarray(values, dtype=float), [alpha, 1 - alpha])
    return float(low), float(high)


def independent_difference_replicates(
    baseline: Sequence[float], baseline_value: float, candidate: Sequence[float], candidate_value: float
) -> list[float]:
    """Replicates of candidate - baseline from two independent set-level bootstraps
    (`ci_replicates` of each run): every pair of one replicate from each run, after each
    run's replicates are centred on its reported value (the same bias correction as
    `set_bootstrap.set_interval_fields`; a no-op on already centred replicates)."""
    import numpy as np

    b = np.asarray([v for v in baseline if math.isfinite(v)], dtype=float)
    c = np.asarray([v for v in candidate if math.isfinite(v)], dtype=float)
    if b.size == 0 or c.size == 0:
        return []
    b = b - (np.median(b) - baseline_value)
    c = c - (np.median(c) - candidate_value)
    return (c[:, None] - b[None, :]).ravel().tolist()
