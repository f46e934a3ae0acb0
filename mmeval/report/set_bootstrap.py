"""Set-level bootstrap 95% intervals for FID, KID, FAD, Vendi and the Inception Score.

A set-level metric has no per-sample value to resample, and its per-sample states
(FID's 2048 x 2048 outer products) are too big to keep. Instead the metric offers its
output set (`set_resampler`, see `mmeval.metrics.resampling`): each replicate draws the
outputs with replacement, seeded, recomputes the metric against the *fixed* reference
side. It covers the sampling of the outputs only, not of the reference set.

Replicates of these statistics are not centred on the point estimate: a resample holds
~63% distinct outputs, so FID (biased upward at small n) comes out higher and Vendi lower
than on the full set; with Inception features (d = 2048) and a few hundred images the
raw 2.5/97.5 percentiles lie wholly above the full-set FID (n=200: value 1042,
percentiles 1133-1153 on synthetic features). So the interval is bias-corrected: the
percentiles are shifted by the bootstrap's bias estimate (median replicate minus the
full-set value), which keeps the spread the resampling measured and centres it on the
reported value. The raw shift is reported in `ci_note`.

A shifted bound can pass the metric's range (FID >= 0: with 16 images in 2048
dimensions the shift is larger than the value, and the lower bound went to -2.6e4).
Such a bound is clipped to the range the metric declares (`value_range`), which keeps
the interval inside the range and around the value, and `ci_note` says it was clipped.
The interval still contains the value: the shift centres the percentiles' median on it.

    fields = set_interval_fields(metric, state, resamples=50, seed=0)
    # {"ci_low": ..., "ci_high": ..., "ci_method": "set-bootstrap", "ci_resamples": 50, "ci_note": ...}
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any

from ..metrics.base import value_range
from ..metrics.resampling import MAX_SET_SAMPLES, NotResampled, SetResampler
from .bootstrap import fit_to_range

METHOD = "set-bootstrap"
# Work budget of one interval (all replicates), about a minute on one core of the shared
# 2-core machines (FID, n=1000: 0.24 s per 4e9-flop replicate); beyond it the result says
# so instead of stalling a run.
MAX_SET_FLOPS = 1e12


def set_replicates(resampler: SetResampler, *, resamples: int, seed: int) -> list[float] | NotResampled:
    """The finite values of `resampler.value` over seeded resamples of its output units."""
    import numpy as np

    n = resampler.size
    if n < 2:
        return NotResampled("fewer than 2 outputs")
    if resamples < 10:
        return NotResampled(f"{resamples} replicates requested (at least 10 needed)")
    if n > MAX_SET_SAMPLES:
        return NotResampled(f"{n:,} outputs exceed the set-bootstrap cap of {MAX_SET_SAMPLES:,}")
    work = resampler.flops * resamples
    if work > MAX_SET_FLOPS:
        return NotResampled(
            f"{resamples} replicates would take ~{work:.1e} floating-point operations (cap {MAX_SET_FLOPS:.0e}); "
            "lower bootstrap.resamples or the number of samples"
        )
    rng = np.random.default_rng(seed)
    with _one_blas_thread():
        values = [resampler.value(rng.integers(0, n, size=n)) for _ in range(resamples)]
    finite = [float(v) for v in values if math.isfinite(v)]
    if len(finite) < max(10, resamples // 2):
        return NotResampled(f"only {len(finite)} of {resamples} replicates gave a finite value")
    return finite


def set_bootstrap(
    resampler: SetResampler, *, resamples: int, seed: int, level: float = 0.95
) -> tuple[float, float, float] | NotResampled:
    """(low, high, median) percentiles of `resampler.value` over seeded resamples of its output units."""
    import numpy as np

    finite = set_replicates(resampler, resamples=resamples, seed=seed)
    if isinstance(finite, NotResampled):
        return finite
    alpha = (1 - level) / 2
    low, high, median = np.quantile(finite, [alpha, 1 - alpha, 0.5])
    return float(low), float(high), float(median)


def set_interval_fields(metric: Any, state: Any, *, resamples: int, seed: int, level: float = 0.95) -> dict[str, Any]:
    """The interval fields of a set-level result: `ci_low`/`ci_high` as per-sample results
    have them, `ci_method`, `ci_resamples`, `ci_replicates` (the finite replicate values,
    unshifted) and a `ci_note` on what was resampled and how the interval was formed, or
    only `ci_method` and a `ci_note` saying why there is no interval."""
    import numpy as np

    offer = getattr(metric, "set_resampler", None)
    if offer is None:
        return {"ci_method": METHOD, "ci_note": f"no interval: {getattr(metric, 'name', 'this metric')} has no set-level bootstrap"}
    resampler = offer(state)
    replicates = resampler if isinstance(resampler, NotResampled) else set_replicates(resampler, resamples=resamples, seed=seed)
    if isinstance(replicates, NotResampled):
        return {"ci_method": METHOD, "ci_note": f"no interval: {replicates.reason}"}
    with _one_blas_thread():
        point = getattr(resampler, "reported", None)
        point = resampler.value(np.arange(resampler.size)) if point is None else point
    if not math.isfinite(point):
        return {"ci_method": METHOD, "ci_note": "no interval: the value is not finite"}
    alpha = (1 - level) / 2
    low, high, median = (float(q) for q in np.quantile(replicates, [alpha, 1 - alpha, 0.5]))
    bias = median - point  # duplicates in a resample shift these statistics (module docstring)
    interval = fit_to_range(low - bias, high - bias, point, value_range(metric))
    note = ("outputs resampled with replacement" + ("; reference set fixed" if resampler.fixed_reference else "")
            + f"; percentiles shifted by the bootstrap bias estimate {bias:+.4g}" + (f"; {interval.note}" if interval.note else ""))
    return {"ci_low": interval[0], "ci_high": interval[1], "ci_method": METHOD, "ci_resamples": resamples,
            "ci_replicates": replicates, "ci_note": note}


def _one_blas_thread() -> Any:
    """Replicates are many small-to-mid-size problems, where BLAS threads mostly wait on
    each other: on the loaded 2-core machine 200 FID replicates at n=200, d=2048 took
    18 s with two threads and 0.4 s with one; at n=1000, 0.95 s vs 0.24 s each."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it, run with the default threads
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
