"""Set-level bootstrap of FID: the nuclear-norm route vs recomputing frechet_distance.

One replicate = a resample of the output features with replacement, FID against a fixed
reference. Both routes run in this script on the same features and the same
`--replicates` picks, one BLAS thread each (what `report/set_bootstrap.py` uses), and must
agree. Each route gets one warm-up replicate, then `--repeat` interleaved rounds over the
picks (bench/timing.py); prints min and median per replicate and the ratio of medians.

    python bench/bench_set_bootstrap.py [--n 200] [--d 2048] [--replicates 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmeval.metrics.frechet import GaussianTarget, ReweightedFrechet  # noqa: E402
from timing import MIN_REPEATS, interleaved, threads_line  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="outputs (and reference samples)")
    parser.add_argument("--d", type=int, default=2048, help="feature dimension (Inception: 2048)")
    parser.add_argument("--replicates", type=int, default=5, help="picks timed on both routes (the frechet one is slow)")
    parser.add_argument("--repeat", type=int, default=MIN_REPEATS)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(size=(args.n, args.d)))
    y = np.abs(rng.normal(0.1, 1.1, size=(args.n, args.d)))
    target = GaussianTarget.of_features(y)
    picks = [rng.integers(0, args.n, args.n) for _ in range(args.replicates)]
    with threadpool_limits(limits=1, user_api="blas"):
        routes = {route: ReweightedFrechet(x, target, route=route) for route in ("nuclear", "frechet")}
        for route in routes.values():
            route.value(picks[0])  # warm-up outside the rounds: one replicate, not all of them
        times = interleaved({name: (lambda r=route: [r.value(p) for p in picks]) for name, route in routes.items()},
                            args.repeat, warmup=0)
        info = threads_line()
    fast, slow = times["nuclear"], times["frechet"]
    rel = max(abs(a - b) / abs(b) for a, b in zip(fast.value, slow.value))
    k = args.replicates
    print(f"n={args.n} d={args.d}, {k} replicates x {args.repeat} rounds: nuclear min {fast.min / k * 1e3:.2f} "
          f"median {fast.median / k * 1e3:.2f} ms/replicate, frechet_distance min {slow.min / k:.2f} median "
          f"{slow.median / k:.2f} s/replicate, ratio {slow.median / fast.median:.0f}x; max rel. diff {rel:.1e}")
    print(info)


if __name__ == "__main__":
    main()
