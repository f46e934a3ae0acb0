"""One `mmeval run` process against the same suite over `torchrun` ranks, on this machine.

    python bench/bench_distributed.py [--suite suites/ecommerce-image.yaml] [--nproc 2] [--repeat 3] [--threads 2]
                                      [--batch-size N]

Both sides run the suite through the CLI in fresh processes, as a user sees it (imports,
weights, signing included), each time into a fresh `--out` and a fresh, empty
`$MMEVAL_CACHE_DIR` (cold: nothing resumed, no cached statistics):

- single:      `python -m mmeval run SUITE --out OUT --quiet --threads T`
- distributed: `python -m torch.distributed.run --standalone --nproc-per-node N
                -m mmeval run SUITE --out OUT --quiet --threads T/N`

T (`--threads`, default N) is the thread budget of the whole side: one process uses all
of it, each rank gets T/N. `OMP_NUM_THREADS` matches `--threads` in every process, and
nothing is downloaded (`HF_HUB_OFFLINE=1`, `TRANSFORMERS_OFFLINE=1`, `HF_DATASETS_OFFLINE=1`).
A run that exits non-zero stops the bench with its exit code and the tail of its stderr.
The default suite runs the reference generators (`use: reference`), so generation is
real work that the ranks split. Prints min and median of each side (`--repeat` rounds,
interleaved, after one untimed run of each) and the ratio of medians (single /
distributed; > 1 means the distributed run is faster).

Ranks take whole batches, so a suite of few batches splits unevenly (ecommerce-image: 48
samples in 3 batches of 16, so 16 and 32). `--batch-size N` runs a copy of the suite (and
its data, in the temporary folder) with that batch size on both sides.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import MIN_REPEATS, add_timing_options, interleaved, line, ratio

ROOT = Path(__file__).resolve().parent.parent
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


class Runs:
    """Numbered fresh output and cache folders under one temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root, self.count = root, 0

    def __call__(self, name: str, prefix: list[str], suite: Path, threads: int) -> None:
        self.count += 1
        out, cache = self.root / f"{name}-{self.count}", self.root / f"cache-{self.count}"
        env = dict(os.environ, **OFFLINE, OMP_NUM_THREADS=str(threads), MMEVAL_THREADS=str(threads),
                   MMEVAL_CACHE_DIR=str(cache))
        command = [*prefix, "-m", "mmeval", "run", str(suite), "--out", str(out), "--quiet", "--threads", str(threads)]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()  # torchrun's summary ends it: show the ranks' errors too
            tail = "\n".join([x for x in lines[:-12] if x.startswith("error:")][-5:] + lines[-12:])
            sys.exit(f"error: {name} run exited {done.returncode}: {' '.join(command)}\n{tail}")
        if not (out / "report.json").is_file():
            sys.exit(f"error: {name} run exited 0 but wrote no {out / 'report.json'}")


def with_batch_size(suite: Path, size: int, folder: Path) -> Path:
    """A copy of `suite` (and the data folder beside it) whose batch_size is `size`."""
    shutil.copytree(suite.parent / "data", folder / "data")
    lines = [line for line in suite.read_text().splitlines() if not line.startswith("batch_size:")]
    at = next(i for i, line in enumerate(lines) if line.startswith("seed:"))
    copy = folder / suite.name
    copy.write_text("\n".join([*lines[: at + 1], f"batch_size: {size}", *lines[at + 1:]]) + "\n")
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "suites" / "ecommerce-image.yaml")
    parser.add_argument("--nproc", type=int, default=2, help="torchrun processes (--nproc-per-node)")
    parser.add_argument("--batch-size", type=int, help="run a copy of the suite with this batch_size (both sides)")
    add_timing_options(parser)
    threads = next(a for a in parser._actions if a.dest == "threads")
    threads.help = "threads per side in all (default: --nproc): the single process uses them all, each rank its share"
    args = parser.parse_args()
    if args.repeat < MIN_REPEATS:
        sys.exit(f"error: --repeat must be at least {MIN_REPEATS}, got {args.repeat}")
    if args.nproc < 2:
        sys.exit(f"error: --nproc must be at least 2, got {args.nproc}")
    try:
        total = int(args.threads) if args.threads else args.nproc
    except ValueError:
        sys.exit(f"error: --threads must be a whole number, got {args.threads!r}")
    if total < args.nproc:
        sys.exit(f"error: --threads {total} leaves a rank of --nproc {args.nproc} without a thread")
    per_rank = total // args.nproc
    suite = args.suite.resolve()
    if not suite.is_file():
        sys.exit(f"error: no suite {suite}")
    python = [sys.executable]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.nproc)]
    with tempfile.TemporaryDirectory(prefix="mmeval-bench-dist-") as tmp:
        if args.batch_size:
            suite = with_batch_size(suite, args.batch_size, Path(tmp) / "suite")
        runs = Runs(Path(tmp))
        times = interleaved({"single": lambda: runs("single", python, suite, total),
                             "distributed": lambda: runs("distributed", torchrun, suite, per_rank)}, args.repeat)
    sized = f", batch_size {args.batch_size}" if args.batch_size else ""
    print(f"{suite.name}{sized}, `mmeval run` in fresh processes, cold, {args.repeat} rounds after a warm-up, {os.cpu_count()} CPUs")
    each = f"{per_rank} thread{'s' if per_rank > 1 else ''} each"
    print(f"  {line(f'single (1 process, {total} threads)', times['single'])}")
    print(f"  {line(f'distributed ({args.nproc} ranks, {each})', times['distributed'])}")
    print(f"  {ratio(times['single'], times['distributed'])} (single / distributed; > 1: the {args.nproc}-rank run is faster)")
    print(f"  bounds: every rank pays process start-up (imports) and its own model/weights load; rank 0 alone "
          f"computes the set-level metrics and merges, signs and writes the report; "
          f"the ranks share {os.cpu_count()} CPUs, so only the generation and per-sample scoring they split can speed up")


if __name__ == "__main__":
    main()
