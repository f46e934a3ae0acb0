"""What the default bootstrap adds to a run: `mmeval run` with and without intervals.

    python bench/bench_bootstrap.py [--suite suites/smoke.yaml] [--repeat 3] [--threads 1]

Both sides run the same suite through the CLI in a fresh process (imports, detector
start-up and signing included, as a user sees it); the second side's copy of the suite
only adds `bootstrap: {resamples: 0}`. Prints min and median wall seconds of each, the
ratio (with / without; the issue's target is at most 1.10), and the in-process time of
the intervals alone on the same suite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from timing import add_timing_options, interleaved, line, ratio

ROOT = Path(__file__).resolve().parent.parent


def cli_run(suite: Path, out: Path, threads: str | None) -> None:
    env = dict(os.environ, **({"MMEVAL_THREADS": threads} if threads else {}))
    done = subprocess.run([sys.executable, "-m", "mmeval", "run", str(suite), "--out", str(out), "--force", "--quiet"],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: mmeval run {suite} exited {done.returncode}: {done.stderr.strip()[-300:]}")


def interval_seconds(suite: Path, out: Path) -> float:
    """In-process seconds spent in the recorder's interval fields on one run."""
    from mmeval.report.records import SampleRecorder
    from mmeval.runner import run

    spent, real = [0.0], SampleRecorder.interval_fields

    def timed(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return real(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - began

    SampleRecorder.interval_fields = timed
    try:
        run(suite, out, progress=False, force=True)
    finally:
        SampleRecorder.interval_fields = real
    return spent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "suites" / "smoke.yaml")
    add_timing_options(parser)
    args = parser.parse_args()
    suite = args.suite.resolve()
    spec = yaml.safe_load(suite.read_text())
    spec["bootstrap"] = {"resamples": 0}
    off = suite.with_name(f".{suite.stem}-no-bootstrap.yaml")  # beside it: data paths stay relative
    off.write_text(yaml.safe_dump(spec, sort_keys=False))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs = Path(tmp)
            times = interleaved({"with bootstrap": lambda: cli_run(suite, runs / "on", args.threads),
                                 "without": lambda: cli_run(off, runs / "off", args.threads)}, args.repeat)
            inside = interval_seconds(suite, runs / "inside")
    finally:
        off.unlink()
    print(f"{suite.name}, `mmeval run` in a fresh process, {args.repeat} rounds, threads {args.threads or 'default'}")
    for name, timing in times.items():
        print(f"  {line(name, timing)}")
    print(f"  {ratio(times['with bootstrap'], times['without'])} (with / without)")
    print(f"  intervals alone, in process: {inside:.3f}s")


if __name__ == "__main__":
    main()
