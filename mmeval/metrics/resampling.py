"""What a set-level metric offers a set-level bootstrap: its output set, ready to resample.

FID, KID, FAD, Vendi and the Inception Score have no per-sample value, so their
intervals come from resampling the output set with replacement and recomputing the
metric (`mmeval.report.set_bootstrap`). The reference (target) side stays fixed: the
interval says how much the number depends on which outputs were drawn, not on which
reference samples were.

A metric offers this with `set_resampler(state) -> SetResampler | NotResampled`. The
resampler keeps per-output units (a feature row, one clip's statistics) rather than
per-sample outer products, and does its expensive preparation lazily, so the caller
can check the caps below before any of it runs.

    resampler = metric.set_resampler(state)
    replicate = resampler.value(rng.integers(0, resampler.size, resampler.size))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

# Beyond these a set-level result gets no interval and says why (`ci_note`); the work
# budget is `mmeval.report.set_bootstrap.MAX_SET_FLOPS`.
MAX_SET_SAMPLES = 20_000
MAX_SET_FLOATS = 2**25  # 256 MiB of float64 kept or precomputed for resampling (KID's kernel matrix)


@runtime_checkable
class SetResampler(Protocol):
    size: int  # output units resampled (images, clips, texts)
    flops: float  # rough floating-point work of one replicate, for the caller's budget
    fixed_reference: bool  # a reference/target side exists and is held fixed
    # Optional `reported: float`: the metric's reported value when it is not
    # `value(all units)` (KID's subset mean); the interval is centred on it.

    def value(self, picks: np.ndarray) -> float:
        """The metric's headline value for the output multiset `units[picks]`."""
        ...


@dataclass(frozen=True)
class NotResampled:
    """Why a metric offers no set-level bootstrap for this state."""

    reason: str


def memory_limit(floats: float) -> NotResampled | None:
    """A `NotResampled` when resampling would hold more than `MAX_SET_FLOATS`, else None."""
    if floats > MAX_SET_FLOATS:
        return NotResampled(f"resampling would hold {floats * 8 / 2**20:,.0f} MiB (cap {MAX_SET_FLOATS * 8 // 2**20} MiB)")
    return None


class ResampledRows:
    """A set function of the output rows recomputed on `rows[picks]`, duplicates included
    (Inception Score on class logits, Vendi on embeddings)."""

    def __init__(self, rows: np.ndarray, function: Callable[[np.ndarray], float], flops: float, fixed_reference: bool = False):
        self.rows = rows
        self.size = rows.shape[0]
        self.flops = flops
        self.fixed_reference = fixed_reference
        self._function = function

    def value(self, picks: np.ndarray) -> float:
        return float(self._function(self.rows[picks]))
