"""Interleaved timing for the benches: warm-up, repeats, min and median, and the threads used.

Every side of a comparison runs once untimed (imports, caches, allocator), then the sides
take turns for `repeat` rounds, the order reversed every other round (A B, B A, A B, ...)
so that a machine getting busier or quieter during the run does not favour one side.
Ratios are of medians; the min is printed too, as the least disturbed run.

    parser = argparse.ArgumentParser(); add_timing_options(parser); args = parser.parse_args()
    use_threads(args)                            # before numpy's BLAS and torch start
    times = interleaved({"mmeval": ours, "peer": peer}, args.repeat)
    print(line("mmeval", times["mmeval"]), ratio(times["peer"], times["mmeval"]))
    print(threads_line())                        # at the end: every pool loaded by then
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MIN_REPEATS = 3


@dataclass
class Timing:
    """Seconds of each timed call of one side, and what its last call returned."""

    seconds: list[float] = field(default_factory=list)
    value: Any = None

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def interleaved(sides: dict[str, Callable[[], Any]], repeat: int = MIN_REPEATS, warmup: int = 1) -> dict[str, Timing]:
    """Time each side `repeat` times after `warmup` untimed calls, the sides taking turns."""
    if repeat < MIN_REPEATS:
        raise ValueError(f"at least {MIN_REPEATS} repeats, got {repeat}")
    names = list(sides)
    for _ in range(warmup):
        for name in names:
            sides[name]()
    timings = {name: Timing() for name in names}
    for round_ in range(repeat):
        for name in names if round_ % 2 == 0 else reversed(names):
            began = time.perf_counter()
            timings[name].value = sides[name]()
            timings[name].seconds.append(time.perf_counter() - began)
    return timings


def line(name: str, timing: Timing, items: int | None = None, unit: str = "items", digits: int = 3) -> str:
    """`name: min 0.123s median 0.130s` and, given `items`, the rate at the median."""
    text = f"{name}: min {timing.min:.{digits}f}s median {timing.median:.{digits}f}s"
    return text + (f" ({items / timing.median:,.1f} {unit}/s)" if items else "")


def ratio(top: Timing, bottom: Timing) -> str:
    """`ratio 2.50x`: the median of `top` over the median of `bottom`."""
    return f"ratio {top.median / bottom.median:.2f}x"


def add_timing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeat", type=int, default=MIN_REPEATS, help=f"timed rounds per side (at least {MIN_REPEATS})")
    parser.add_argument("--threads", help="torch and BLAS threads, as `mmeval run --threads` (default: $MMEVAL_THREADS, else one per core)")


def use_threads(args: argparse.Namespace) -> None:
    """Apply `--threads` the way `mmeval run` does (exits on a bad value or `--repeat`)."""
    from mmeval.errors import SpecError
    from mmeval.threads import configure_threads

    if args.repeat < MIN_REPEATS:
        sys.exit(f"error: --repeat must be at least {MIN_REPEATS}, got {args.repeat}")
    try:
        configure_threads(args.threads)
    except SpecError as exc:
        sys.exit(f"error: {exc}")


def threads_line() -> str:
    """What torch and each loaded BLAS/OpenMP pool use now, and where the count came from."""
    from mmeval.threads import threads_in_effect

    info = threads_in_effect()
    pools = ", ".join(f"{api} {n}" for api, n in info["blas"].items()) or "no BLAS loaded"
    torch = "not loaded" if info["torch"] is None else info["torch"]
    return f"threads: {info['count'] or 'not set'} ({info['source']}); torch {torch}, {pools}"
