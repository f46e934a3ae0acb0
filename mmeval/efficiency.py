"""Generation efficiency of every model that runs (not `replay`): latency, throughput,
peak memory and parameter count, reported as results like any metric.

Latency is per sample: a batch's wall time divided by its size (samples in a batch wait
for each other, so this is the amortised cost, not a request latency). Peak memory is
CUDA's peak allocation during generation on a GPU, else the process's peak RSS (which
includes everything mmeval itself holds, so compare it between runs of one suite).
Only what a model generated in this run is timed (`n` is that count). A model whose
outputs were all reused from the resume cache gets its entries with `value: null` and
`note: "not measured: outputs reused"`, so a reused run never hides that it measured
nothing. The tracker also counts outputs generated and reused per model for the report.

Distributed runs (torchrun): each rank times its shard; the report's figures are the
whole run's (latencies over every sample, throughput = all samples over the longest
rank's generation time, since ranks generate at once, peak memory the largest rank's),
and its `ranks` section has each rank's own (`rank_figures`).
"""

from __future__ import annotations

import copy
import math
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .metrics.base import fingerprint

# The figures every model that runs reports (thresholds may name them).
FIGURES = ("latency_p50_s", "latency_p95_s", "throughput_sps", "peak_memory_mb", "parameters")


@dataclass
class _ModelTimes:
    per_sample: list[float] = field(default_factory=list)
    samples: int = 0
    seconds: float = 0.0
    peak_bytes: int = 0
    reused: int = 0


def _percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _cuda() -> Any:
    """torch.cuda when the run's models are on a GPU (not with `--device cpu`)."""
    from .runinfo import chosen_device

    torch = sys.modules.get("torch")  # only if something already imported torch
    return torch.cuda if torch is not None and chosen_device() != "cpu" and torch.cuda.is_available() else None


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def count_parameters(adapter: Any, depth: int = 3) -> int | None:
    """Parameters of every torch module reachable from the adapter's attributes."""
    modules = module_parameters(adapter, depth)
    return sum(modules.values()) if modules else None


def module_parameters(adapter: Any, depth: int = 3) -> dict[str, int]:
    """Parameters of each torch module reachable from the adapter's attributes, by the
    attribute path it was found at (a parameter two modules share is counted once)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    seen: dict[int, tuple[str, Any]] = {}

    def walk(obj: Any, path: str, level: int) -> None:
        if isinstance(obj, torch.nn.Module):
            seen.setdefault(id(obj), (path, obj))
        elif level > 0 and isinstance(obj, dict):
            for key, value in obj.items():
                walk(value, f"{path}[{key!r}]", level - 1)
        elif level > 0 and hasattr(obj, "__dict__") and not isinstance(obj, type):
            for key, value in vars(obj).items():
                walk(value, f"{path}.{key}", level - 1)

    walk(adapter, "", depth)
    counted: set[int] = set()
    modules: dict[str, int] = {}
    for path, module in seen.values():
        fresh = [p for p in module.parameters() if id(p) not in counted]
        counted.update(id(p) for p in fresh)
        modules[path] = sum(p.numel() for p in fresh)
    return modules


def _merged_requests(a: Any, b: Any) -> Any:
    """Two ranks' request figures (openai adapter's `request_stats()`) as one run's:
    latencies join, counts add, the wall time is the longer (ranks ask at once)."""
    merged = copy.deepcopy(a)
    for name, value in vars(b).items():
        mine = getattr(merged, name)
        setattr(merged, name, mine + value if not isinstance(value, float) else max(mine, value))
    return merged


class EfficiencyTracker:
    """`with tracker.measure(model, n): generate(...)`, then `results(adapters)`."""

    def __init__(self) -> None:
        self.times: dict[str, _ModelTimes] = {}
        self.processes = 1  # ranks folded in (absorb)
        self.modules: dict[str, dict[str, int]] = {}  # model -> module path -> parameters (note_adapters)
        self.requests: dict[str, Any] = {}  # model -> request figures (note_adapters)

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

    def note_adapters(self, adapters: dict[str, Any]) -> None:
        """What this rank's adapters hold at the end of its shard, for rank 0's tracker: the
        modules they loaded (a rank may load only some, e.g. one per modality) and their
        request figures."""
        for model, adapter in adapters.items():
            self.modules[model] = module_parameters(adapter)
            stats_of = getattr(adapter, "request_stats", None)
            if stats_of is not None:
                self.requests[model] = copy.deepcopy(stats_of())

    def absorb(self, other: EfficiencyTracker, adapters: dict[str, Any]) -> None:
        """Fold in another rank's times, which ran at the same time as these; `adapters`
        are this rank's (noted first, then merged with the other's)."""
        if not self.modules:
            self.note_adapters(adapters)
        for model, modules in other.modules.items():
            self.modules[model] = {**modules, **self.modules.get(model, {})}
        for model, stats in other.requests.items():
            self.requests[model] = _merged_requests(self.requests[model], stats) if model in self.requests else stats
        for model, theirs in other.times.items():
            mine = self.times.setdefault(model, _ModelTimes())
            mine.per_sample += theirs.per_sample
            mine.samples += theirs.samples
            mine.seconds = max(mine.seconds, theirs.seconds)
            mine.peak_bytes = max(mine.peak_bytes, theirs.peak_bytes)
            mine.reused += theirs.reused
        self.processes += other.processes

    def rank_figures(self) -> dict[str, dict[str, Any]]:
        """Per model: outputs generated and reused, generation seconds, throughput and peak memory."""
        return {model: {"generated": t.samples, "reused": t.reused, "seconds": t.seconds,
                        "throughput_sps": t.samples / t.seconds if t.seconds > 0 else None,
                        "peak_memory_mb": t.peak_bytes / 2**20 if t.samples else None}
                for model, t in self.times.items()}

    def note_reused(self, model: str, samples: int) -> None:
        self.times.setdefault(model, _ModelTimes()).reused += samples

    def counts(self, model: str) -> dict[str, int]:
        """Outputs the adapter produced in this run and outputs taken from the resume cache."""
        times = self.times.get(model, _ModelTimes())
        return {"generated": times.samples, "reused": times.reused}

    def results(self, adapters: dict[str, Any]) -> list[dict[str, Any]]:
        """One entry per figure for every model that runs (`runs_model`), measured or null with a note."""
        out = []
        device = "cuda" if _cuda() is not None else "cpu"
        ranks = {"processes": self.processes} if self.processes > 1 else {}  # figures of 2 ranks are not one process's
        fp = fingerprint("efficiency", device=device, memory="cuda-peak-allocated" if device == "cuda" else "process-peak-rss",
                         latency="batch-time-per-sample", **ranks)
        for model, adapter in adapters.items():
            if not getattr(adapter, "runs_model", True):
                continue
            times = self.times.get(model, _ModelTimes())
            parameters = (sum(self.modules[model].values()) or None) if model in self.modules else count_parameters(adapter)
            for key, (value, note) in _figures(times, parameters).items():
                entry = {"model": model, "metric": key, "key": key, "value": value, "n": times.samples,
                         "fingerprint": fp, "higher_is_better": key == "throughput_sps", "kind": "efficiency"}
                if value is None:
                    entry["note"] = note
                out.append(entry)
            out += _request_results(model, adapter, self.requests.get(model))
        return out


def _request_results(model: str, adapter: Any, stats: Any = None) -> list[dict[str, Any]]:
    """Extra figures of an adapter that makes requests to a server (`request_stats()`: the
    latency of each answered request, `usage` output tokens, retries, wall time): request
    latency percentiles, output tokens/s over the wall time of generation (requests run
    concurrently, so not over the summed latencies) and the count of retried requests."""
    stats_of = getattr(adapter, "request_stats", None)
    if stats_of is None:
        return []
    stats = stats if stats is not None else stats_of()  # merged over the ranks, or this process's
    n = len(stats.latencies)
    none = "not measured: no requests in this run (outputs reused)" if not n else ""
    tokens: tuple[float | None, str] = (None, none or "not reported: the server sent no usage")
    if stats.with_usage and stats.seconds > 0:
        tokens = (stats.output_tokens / stats.seconds, "")
    figures: dict[str, tuple[float | int | None, str]] = {
        "request_latency_p50_s": (_percentile(stats.latencies, 0.5), "") if n else (None, none),
        "request_latency_p95_s": (_percentile(stats.latencies, 0.95), "") if n else (None, none),
        "output_tokens_per_s": tokens,
        "request_retries": (stats.retries, ""),
    }
    fp = fingerprint("efficiency", latency="request-wall-time", tokens="usage.completion_tokens")
    out = []
    for key, (value, note) in figures.items():
        entry = {"model": model, "metric": key, "key": key, "value": value,
                 "n": stats.with_usage if key == "output_tokens_per_s" else n, "fingerprint": fp,
                 "higher_is_better": key == "output_tokens_per_s", "kind": "efficiency"}
        if value is None:
            entry["note"] = note
        out.append(entry)
    return out


def _figures(times: _ModelTimes, parameters: int | None) -> dict[str, tuple[float | int | None, str]]:
    """Each figure as (value, why it is None)."""
    if times.samples:
        unmeasured = ""
        figures: dict[str, tuple[float | int | None, str]] = {
            "latency_p50_s": (_percentile(times.per_sample, 0.5), ""),
            "latency_p95_s": (_percentile(times.per_sample, 0.95), ""),
            "throughput_sps": (times.samples / times.seconds, "") if times.seconds > 0 else (None, "not measured: zero elapsed time"),
            "peak_memory_mb": (times.peak_bytes / 2**20, ""),
        }
    else:
        unmeasured = "not measured: outputs reused" if times.reused else "not measured: no outputs generated"
        figures = {key: (None, unmeasured) for key in ("latency_p50_s", "latency_p95_s", "throughput_sps", "peak_memory_mb")}
    # Adapters load weights lazily: with every output reused there may be no module to count.
    why = f"not counted: {unmeasured.removeprefix('not measured: ')}, model not loaded" if unmeasured else "not counted: no torch module reachable from the adapter"
    figures["parameters"] = (parameters, "" if parameters is not None else why)
    return figures
