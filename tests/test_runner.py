"""The runner: python adapters, `against`, `where`, streaming memory, gates, atomic output."""

from __future__ import annotations

import json
import tracemalloc


from mmeval.gates.base import Decision
from mmeval.registry import GATES
from mmeval.runner import run
from tests.test_suite import base_suite, write_suite


def shout(inputs, seed):  # used through the `python` adapter
    return [str(x).upper() for x in inputs]


def echo(inputs):
    return list(inputs)


def test_python_adapter_and_against(tmp_path):
    rows = [{"id": f"s{i}", "input": f"item {i}", "target": f"ITEM {i}"} for i in range(10)]
    suite = base_suite(
        models={
            "reference": {"use": "python", "args": {"callable": "tests.test_runner:shout"}},
            "candidate": {"use": "python", "args": {"callable": "tests.test_runner:echo"}},
        },
        metrics=[{"use": "exact_match"}, {"use": "exact_match", "name": "agreement", "against": "reference"}],
        thresholds=[],
    )
    result = run(write_suite(tmp_path, suite, rows=rows), tmp_path / "run", progress=False)
    values = {(r["model"], r["key"]): r["value"] for r in result.report["results"]}
    assert values[("reference", "exact_match")] == 1.0
    assert values[("candidate", "exact_match")] == 0.0
    assert values[("candidate", "agreement")] == 0.0
    assert ("reference", "agreement") not in values  # a model is not compared with itself


def test_where_filters_samples(tmp_path):
    rows = [{"id": "a", "task": "t1", "input": "x", "target": 1.0}, {"id": "b", "task": "t2", "input": "x", "target": "lbl"}]
    outputs = [{"id": "a", "output": 3.0}, {"id": "b", "output": "lbl"}]
    suite = base_suite(metrics=[{"use": "mae", "where": {"task": "t1"}}, {"use": "accuracy", "where": {"task": "t2"}}], thresholds=[])
    report = run(write_suite(tmp_path, suite, rows=rows, outputs=outputs), tmp_path / "run", progress=False).report
    values = {r["key"]: (r["value"], r["n"]) for r in report["results"]}
    assert values == {"mae": (2.0, 1), "accuracy": (1.0, 1)}


def test_results_do_not_depend_on_batch_size(tmp_path):
    rows = [{"id": f"s{i}", "input": "x", "target": ["a", "b", "c"][i % 3]} for i in range(50)]
    outputs = [{"id": f"s{i}", "output": ["a", "b", "c"][(i * 7) % 3]} for i in range(50)]
    reports = []
    for bs in (1, 7, 64):
        path = write_suite(tmp_path, base_suite(batch_size=bs, thresholds=[]), rows=rows, outputs=outputs)
        reports.append(run(path, tmp_path / f"run{bs}", progress=False).report["results"])
    assert reports[0] == reports[1] == reports[2]


def test_memory_does_not_grow_with_samples(tmp_path):
    def peak(n: int) -> int:
        folder = tmp_path / str(n)
        folder.mkdir()
        rows = [{"id": f"s{i}", "input": "x" * 4000, "target": float(i % 10)} for i in range(n)]
        outputs = [{"id": f"s{i}", "output": float(i % 7)} for i in range(n)]
        path = write_suite(folder, base_suite(metrics=[{"use": "mae"}], thresholds=[], batch_size=100), rows=rows, outputs=outputs)
        tracemalloc.start()
        run(path, folder / "run", progress=False)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(2_000), peak(20_000)
    # Ten times the samples: only the id index grows (a few hundred bytes per sample),
    # never the 4 kB inputs or the outputs, which would add ~80 MB here.
    assert large < small + 18_000 * 600, (small, large)


class _BlockEmails:
    name = "block-emails"

    def __call__(self, items, ctx):
        bad = [i for i in items if "@" in str(i.output)]
        if bad:
            return Decision("block", items, reason=f"{len(bad)} outputs contain an address")
        return Decision("allow", items)


def test_blocking_gate_gives_blocked_status(tmp_path):
    GATES.register("test-block-emails", _BlockEmails)
    rows = [{"id": f"s{i}", "input": "x", "target": "a"} for i in range(5)]
    outputs = [{"id": f"s{i}", "output": "mail me at x@example.com" if i == 3 else "a"} for i in range(5)]
    suite = base_suite(gates=[{"use": "test-block-emails"}], thresholds=[])
    result = run(write_suite(tmp_path, suite, rows=rows, outputs=outputs), tmp_path / "run", progress=False)
    assert result.status == "blocked" and result.exit_code == 1
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["reason"] == "1 outputs contain an address"
    assert report["results"] == []
    assert "example.com" not in (tmp_path / "run" / "report.json").read_text()


def test_rerun_into_same_out_replaces_atomically_with_force(tmp_path):
    path = write_suite(tmp_path, base_suite())
    first = run(path, tmp_path / "run", progress=False).report["run_id"]
    second = run(path, tmp_path / "run", progress=False, force=True).report["run_id"]
    assert first != second
    assert json.loads((tmp_path / "run" / "report.json").read_text())["run_id"] == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "out.jsonl", "run", "suite.yaml"]
