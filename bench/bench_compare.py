"""`mmeval compare`'s paired bootstrap: statistic rows against merging paired states.

    python bench/bench_compare.py [--samples 6000] [--repeat 3] [--threads 1]

Makes two runs of bench_scale.py's replay suite (the second with a fifth of the
candidate's outputs changed), then times the comparison of them both ways on the same
draws: the rows path compare uses for metrics with per-sample statistics, and the
state-merging path it used before (and still uses for other metrics). Prints min and
median seconds, the ratio (states / rows, > 1 means the rows path is faster) and the
largest difference between the two paths' intervals.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

from timing import add_timing_options, interleaved, line, ratio, threads_line, use_threads

from bench_scale import write_suite


def changed_candidate(folder: Path) -> None:
    rng = random.Random(5)
    rows = [json.loads(line) for line in (folder / "candidate.jsonl").open()]
    for row in rows:
        if rng.random() < 0.2:
            out = row["output"]
            row["output"] = out + rng.gauss(0, 10) if isinstance(out, float) else (" ".join(reversed(out.split())) if " " in out else "neutral")
    (folder / "candidate.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=6000)
    add_timing_options(parser)
    args = parser.parse_args()
    use_threads(args)
    from mmeval.cli import compare
    from mmeval.runner import run

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_suite(folder, args.samples)
        run(folder / "suite.yaml", folder / "base", progress=False)
        changed_candidate(folder)
        run(folder / "suite.yaml", folder / "changed", progress=False)
        rows_path = compare._stat_rows

        def intervals(use_rows: bool) -> dict:
            compare._stat_rows = rows_path if use_rows else (lambda *a: None)
            try:
                rows = compare.compare_runs(folder / "base", folder / "changed")
            finally:
                compare._stat_rows = rows_path
            return {(r["model"], r["metric"]): (r.get("ci_low"), r.get("ci_high")) for r in rows}

        times = interleaved({"rows": lambda: intervals(True), "states": lambda: intervals(False)}, args.repeat)
    a, b = times["rows"].value, times["states"].value
    worst = max(abs(x - y) for key in a for x, y in zip(a[key], b[key]) if x is not None and y is not None)
    print(f"compare of two {args.samples}-sample runs ({args.samples // 3} samples per metric), {args.repeat} rounds")
    print(f"  {line('rows  ', times['rows'])}")
    print(f"  {line('states', times['states'])}")
    print(f"  {ratio(times['states'], times['rows'])} (states / rows); largest interval difference {worst:.1e}")
    print(threads_line())


if __name__ == "__main__":
    main()
