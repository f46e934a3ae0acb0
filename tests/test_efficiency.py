"""Efficiency figures appear for models that run, never for replayed outputs."""

from __future__ import annotations

import time

import pytest
import torch

from mmeval.efficiency import EfficiencyTracker, _percentile, count_parameters
from mmeval.runner import run
from tests.test_suite import base_suite, write_suite


class TinyNet:
    def __init__(self):
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))


_NET = TinyNet()


def slow_upper(inputs):
    time.sleep(0.002 * len(inputs))
    _NET.net(torch.zeros(len(inputs), 4))
    return [str(x).upper() for x in inputs]


def test_efficiency_results_for_python_adapter_only(tmp_path):
    rows = [{"id": f"s{i}", "input": f"x{i}", "target": f"X{i}"} for i in range(12)]
    suite = base_suite(
        models={
            "candidate": {"use": "replay", "args": {"path": "out.jsonl"}},
            "live": {"use": "python", "args": {"callable": "tests.test_efficiency:slow_upper"}},
        },
        metrics=[{"use": "exact_match"}], thresholds=[], batch_size=4,
    )
    report = run(write_suite(tmp_path, suite, rows=rows), tmp_path / "run", progress=False).report
    eff = {r["key"]: r for r in report["results"] if r.get("kind") == "efficiency"}
    assert {r["model"] for r in eff.values()} == {"live"}
    assert set(eff) >= {"latency_p50_s", "latency_p95_s", "throughput_sps", "peak_memory_mb"}
    assert eff["latency_p50_s"]["value"] >= 0.002 and eff["latency_p50_s"]["n"] == 12
    assert eff["throughput_sps"]["value"] == pytest.approx(1 / eff["latency_p50_s"]["value"], rel=0.5)
    assert eff["peak_memory_mb"]["value"] > 10


def test_parameter_count_and_percentiles():
    assert count_parameters(TinyNet()) == 4 * 8 + 8 + 8 * 2 + 2
    assert count_parameters(object()) is None
    assert _percentile([1, 2, 3, 4], 0.5) == 2.5
    assert _percentile([5.0], 0.95) == 5.0
    tracker = EfficiencyTracker()
    with tracker.measure("m", 2):
        pass
    assert tracker.times["m"].samples == 2
