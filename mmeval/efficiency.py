"""Generation efficiency of every model that runs (not `replay`): latency, throughput,
peak memory and parameter count, reported as results like any metric.

Latency is per sample: a batch's wall time divided by its size (samples in a batch wait
for each other, so this is the amortised cost, not a request latency). Peak memory is
CUDA's peak allocation during generation on a GPU, else the process's peak RSS (which
includes everything mmeval itself holds, so compare it between runs of one suite).
Batches served entirely from the resume cache are not timed.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .metrics.base import fingerprint


@dataclass
class _ModelTimes:
    per_sample: list[float] = field(default_factory=list)
    samples: int = 0
    seconds: float = 0.0
    peak_bytes: int = 0


def _percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _cuda() -> Any:
    torch = sys.modules.get("torch")  # only if something already imported torch
    return torch.cuda if torch is not None and torch.cuda.is_available() else None


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def count_parameters(adapter: Any, depth: int = 3) -> int | None:
    """Parameters of every torch module reachable from the adapter's attributes."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    seen: dict[int, Any] = {}

    def walk(obj: Any, level: int) -> None:
        if isinstance(obj, torch.nn.Module):
            seen.setdefault(id(obj), obj)
        elif level > 0 and isinstance(obj, dict):
            for value in obj.values():
                walk(value, level - 1)
        elif level > 0 and hasattr(obj, "__dict__") and not isinstance(obj, type):
            for value in vars(obj).values():
                walk(value, level - 1)

    walk(adapter, depth)
    if not seen:
        return None
    unique = {id(p): p for m in seen.values() for p in m.parameters()}
    return sum(p.numel() for p in unique.values())


class EfficiencyTracker:
    """`with tracker.measure(model, n): generate(...)`, then `results(adapters)`."""

    def __init__(self) -> None:
        self.times: dict[str, _ModelTimes] = {}

    @contextmanager
    def measure(self, model: str, samples: int) -> Iterator[None]:
        cuda = _cuda()
        if cuda is not None:
            cuda.reset_peak_memory_stats()
        began = time.perf_counter()
        yield
        seconds = time.perf_counter() - began
        times = self.times.setdefault(model, _ModelTimes())
        times.per_sample.extend([seconds / samples] * samples)
        times.samples += samples
        times.seconds += seconds
        peak = cuda.max_memory_allocated() if cuda is not None else _peak_rss_bytes()
        times.peak_bytes = max(times.peak_bytes, peak)

    def results(self, adapters: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        device = "cuda" if _cuda() is not None else "cpu"
        fp = fingerprint("efficiency", device=device, memory="cuda-peak-allocated" if device == "cuda" else "process-peak-rss", latency="batch-time-per-sample")
        for model, times in self.times.items():
            if not getattr(adapters[model], "runs_model", True) or not times.samples:
                continue
            values = {
                "latency_p50_s": _percentile(times.per_sample, 0.5),
                "latency_p95_s": _percentile(times.per_sample, 0.95),
                "throughput_sps": times.samples / times.seconds if times.seconds > 0 else None,
                "peak_memory_mb": times.peak_bytes / 2**20,
                "parameters": count_parameters(adapters[model]),
            }
            for key, value in values.items():
                if value is not None:
                    out.append({"model": model, "metric": key, "key": key, "value": value, "n": times.samples,
                                "fingerprint": fp, "higher_is_better": key == "throughput_sps", "kind": "efficiency"})
        return out
