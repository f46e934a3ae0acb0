"""A replay text suite at scale against the same metrics computed directly, in one run.

    python bench/bench_scale.py [--samples 100000] [--repeat 3] [--threads 1]

The suite has two replay models over `--samples` samples in three tasks (sentiment
labels, prices, product descriptions) and scores accuracy, macro F1, MAE, BLEU and chrF
with mmeval's default 95% bootstrap (1,000 resamples). The direct side computes the same
values for both models with scikit-learn (`accuracy_score`, `f1_score`), numpy (MAE) and
sacrebleu (`corpus_score(..., n_bootstrap=1000)`, its own bootstrap intervals), plus a
numpy bootstrap of the accuracy and MAE means; F1 has no interval on the direct side.

Prints the wall time of each side (min and median of `--repeat` interleaved rounds, after
one untimed run of each), their ratio (mmeval / direct; > 1 means mmeval is slower),
mmeval's peak RSS after a run at 1/10 of the size and at the full size, and where mmeval's time went: generation and gates, per-sample
records and previews, scoring, intervals, and writing the report.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import add_timing_options, interleaved, line, ratio, threads_line, use_threads  # noqa: E402

WORDS = "soft cotton shirt blue red fast cheap durable leather bag shoe with for the a and strap zip".split()
LABELS = ["positive", "negative", "neutral"]


def write_suite(folder: Path, n: int) -> Path:
    rng = random.Random(0)
    rows, outputs = [], {"candidate": [], "baseline": []}
    for i in range(n):
        task = ("sentiment", "price", "description")[i % 3]
        if task == "sentiment":
            target = rng.choice(LABELS)
            outs = {m: target if rng.random() < p else rng.choice(LABELS) for m, p in (("candidate", 0.85), ("baseline", 0.6))}
        elif task == "price":
            target = round(rng.uniform(5, 500), 2)
            outs = {m: round(target + rng.gauss(0, s), 2) for m, s in (("candidate", 5.0), ("baseline", 20.0))}
        else:
            words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
            target = " ".join(words)
            outs = {m: " ".join(w if rng.random() < p else rng.choice(WORDS) for w in words) for m, p in (("candidate", 0.8), ("baseline", 0.4))}
        rows.append({"id": f"s{i:06d}", "task": task, "input": f"item {i}", "target": target})
        for m in outputs:
            outputs[m].append({"id": f"s{i:06d}", "output": outs[m]})
    for name, lines in (("dataset", rows), *outputs.items()):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    suite = folder / "suite.yaml"
    suite.write_text(f"""version: 1
name: scale
seed: 0
batch_size: 256
dataset: {{path: dataset.jsonl}}
models:
  candidate: {{use: replay, args: {{path: candidate.jsonl}}}}
  baseline: {{use: replay, args: {{path: baseline.jsonl}}}}
metrics:
  - {{use: accuracy, where: {{task: sentiment}}}}
  - {{use: f1, args: {{average: macro}}, where: {{task: sentiment}}}}
  - {{use: mae, where: {{task: price}}}}
  - {{use: bleu, where: {{task: description}}}}
  - {{use: chrf, where: {{task: description}}}}
thresholds:
  - {{model: candidate, metric: accuracy, min: 0.5}}
""")
    return suite


def direct(folder: Path) -> dict[str, float]:
    import numpy as np
    from sacrebleu.metrics import BLEU, CHRF
    from sklearn.metrics import accuracy_score, f1_score

    rows = [json.loads(line) for line in (folder / "dataset.jsonl").open()]
    values = {}
    for model in ("candidate", "baseline"):
        outs = {r["id"]: r["output"] for r in map(json.loads, (folder / f"{model}.jsonl").open())}
        by_task = defaultdict(lambda: ([], []))
        for r in rows:
            by_task[r["task"]][0].append(outs[r["id"]])
            by_task[r["task"]][1].append(r["target"])
        pred, true = by_task["sentiment"]
        values[f"{model}/accuracy"] = accuracy_score(true, pred)
        values[f"{model}/f1"] = f1_score(true, pred, average="macro")
        errors = np.abs(np.array(by_task["price"][0]) - np.array(by_task["price"][1]))
        values[f"{model}/mae"] = float(errors.mean())
        rng = np.random.default_rng(0)
        correct = np.array(pred, dtype=object) == np.array(true, dtype=object)
        for name, per_sample in (("accuracy", correct.astype(float)), ("mae", errors)):
            means = [per_sample[rng.integers(0, len(per_sample), len(per_sample))].mean() for _ in range(1000)]
            values[f"{model}/{name}_ci"] = tuple(np.quantile(means, [0.025, 0.975]))
        hyps, refs = by_task["description"]
        for name, metric in (("bleu", BLEU()), ("chrf", CHRF())):
            values[f"{model}/{name}"] = metric.corpus_score(hyps, [refs], n_bootstrap=1000).score
    return values


PHASES = [  # (object, function name, phase)
    ("shard", "_generate", "generate"),
    ("shard", "_apply_gates", "gates"),
    ("recorder", "on_outputs", "records: digests and previews"),
    ("recorder", "flush", "records: write"),
    ("shard", "_score_batch", "score (incl. per-sample values)"),
    ("recorder", "interval_fields", "intervals"),
    ("runner", "write_report_files", "report files and signature"),
]


def timed_phases() -> dict[str, float]:
    """Wrap the run's phase functions with timers (no profiler: its overhead would skew)."""
    import mmeval.runner
    import mmeval.runner.shard
    from mmeval.report.records import SampleRecorder

    owners = {"runner": mmeval.runner, "shard": mmeval.runner.shard, "recorder": SampleRecorder}
    spent: dict[str, float] = defaultdict(float)
    for owner, name, phase in PHASES:
        original = getattr(owners[owner], name)

        def wrapper(*args, _original=original, _phase=phase, **kwargs):
            began = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_phase] += time.perf_counter() - began

        setattr(owners[owner], name, wrapper)
    return spent


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mmeval_run(suite: Path, out: Path) -> float:
    from mmeval.runner import run

    began = time.perf_counter()
    result = run(suite, out, progress=False, force=True)
    assert result.status == "pass", result.report["reason"]
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    add_timing_options(parser)
    args = parser.parse_args()
    use_threads(args)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = max(30, args.samples // 10)
        for size in (small, args.samples):
            (root / str(size)).mkdir()
            write_suite(root / str(size), size)
        folder = root / str(args.samples)
        # Memory first, before the direct side (sacrebleu's bootstrap holds R x n rows) raises the peak.
        mmeval_run(root / str(small) / "suite.yaml", root / str(small) / "run")
        rss = [peak_rss_mib()]
        spent = timed_phases()
        mmeval_run(folder / "suite.yaml", folder / "run")  # also the warm-up of the timed rounds
        rss.append(peak_rss_mib())
        phases = dict(spent)
        direct(root / str(small))  # the direct side's warm-up
        times = interleaved({"mmeval run": lambda: mmeval_run(folder / "suite.yaml", folder / "run"),
                             "direct": lambda: direct(folder)}, args.repeat, warmup=0)
        report = json.loads((folder / "run" / "report.json").read_text())
    print(f"{args.samples} samples, {args.repeat} interleaved rounds")
    for name, timing in times.items():
        print(f"  {line(f'{name:10s}', timing, digits=2)}")
    print(f"  {ratio(times['mmeval run'], times['direct'])} (mmeval / direct; the issue's target is at most 2)")
    print(f"  mmeval peak RSS: {rss[0]:.0f} MiB after a {small}-sample run, {rss[1]:.0f} MiB after the {args.samples}-sample one")
    print("  mmeval's time by phase (its first run):")
    for phase, seconds in sorted(phases.items(), key=lambda kv: -kv[1]):
        print(f"    {phase:36s} {seconds:7.2f} s")
    values = times["direct"].value
    mine = {f"{r['model']}/{r['key']}": r["value"] for r in report["results"] if "ci_low" in r or r["key"] in ("f1",)}
    worst = max(abs(mine[k] - values[k]) / max(1.0, abs(values[k])) for k in mine if k in values)
    print(f"  largest relative difference of a value from the direct side: {worst:.1e}")
    print(threads_line())


if __name__ == "__main__":
    main()
