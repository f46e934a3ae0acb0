"""A cold run of `suites/ecommerce-image.yaml` against its unavoidable work, in one process.

    python bench/bench_image_suite.py [--suite suites/ecommerce-image.yaml] [--repeat 3] [--threads 1]

Each round runs the suite cold (an empty feature cache, a fresh per-process feature memo)
and splits its wall time into generation (every model's `generate`), the Inception
network (every forward pass, counted with the images in it) and everything else. The
budget is generation plus one Inception pass per distinct image: the issue's target is
a cold run in at most 2x that. Prints min and median of each part and the ratio of
medians (wall / budget).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from timing import add_timing_options, threads_line, use_threads

ROOT = Path(__file__).resolve().parent.parent


def timed(owner, name: str, spent: dict[str, float], phase: str) -> None:
    real = getattr(owner, name)

    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[phase] += time.perf_counter() - began

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "suites" / "ecommerce-image.yaml")
    add_timing_options(parser)
    args = parser.parse_args()
    use_threads(args)
    import mmeval.runner
    import mmeval.runner.shard
    from mmeval.metrics.image import feature_memo
    from mmeval.metrics.image.inception import NETWORK

    spent: dict[str, float] = defaultdict(float)
    timed(mmeval.runner.shard, "_generate", spent, "generation")
    timed(feature_memo, "inception_layers", spent, "inception")
    rounds: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat + 1):  # the first round is the warm-up (imports, weights)
            os.environ["MMEVAL_CACHE_DIR"] = str(Path(tmp) / f"cache{r}")
            feature_memo.MEMO.clear()
            spent.clear()
            images, passes = NETWORK.images, NETWORK.passes
            began = time.perf_counter()
            result = mmeval.runner.run(args.suite, Path(tmp) / f"run{r}", progress=False)
            wall = time.perf_counter() - began
            if r == 0:
                continue
            rounds["wall"].append(wall)
            rounds["generation"].append(spent["generation"])
            rounds["inception"].append(spent["inception"])
            rounds["everything else"].append(wall - spent["generation"] - spent["inception"])
            counted = (NETWORK.images - images, NETWORK.passes - passes)
    median = {k: statistics.median(v) for k, v in rounds.items()}
    print(f"{args.suite.name}, cold, {args.repeat} rounds after a warm-up; status {result.status}; "
          f"{counted[0]} images through Inception in {counted[1]} passes per run")
    for part, values in rounds.items():
        print(f"  {part:16s} min {min(values):7.2f}s median {median[part]:7.2f}s")
    budget = median["generation"] + median["inception"]
    print(f"  ratio {median['wall'] / budget:.2f}x (wall / (generation + one Inception pass per image); target <= 2)")
    print(threads_line())


if __name__ == "__main__":
    main()
