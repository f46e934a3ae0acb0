"""Set-level bootstrap of FID: the nuclear-norm route vs recomputing frechet_distance.

One replicate = a resample of the output features with replacement, FID against a fixed
reference. Both routes run in this script on the same features and picks, one BLAS
thread each (what `report/set_bootstrap.py` uses), and must agree.

    python bench/bench_set_bootstrap.py [--n 200] [--d 2048] [--replicates 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmeval.metrics.frechet import GaussianTarget, ReweightedFrechet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="outputs (and reference samples)")
    parser.add_argument("--d", type=int, default=2048, help="feature dimension (Inception: 2048)")
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--frechet-replicates", type=int, default=5, help="the slow route is timed on fewer")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(size=(args.n, args.d)))
    y = np.abs(rng.normal(0.1, 1.1, size=(args.n, args.d)))
    target = GaussianTarget.of_features(y)
    picks = [rng.integers(0, args.n, args.n) for _ in range(args.replicates)]
    with threadpool_limits(limits=1, user_api="blas"):
        nuclear = ReweightedFrechet(x, target, route="nuclear")
        began = time.perf_counter()
        fast = [nuclear.value(p) for p in picks]
        t_fast = (time.perf_counter() - began) / args.replicates
        slow_route = ReweightedFrechet(x, target, route="frechet")
        began = time.perf_counter()
        slow = [slow_route.value(p) for p in picks[: args.frechet_replicates]]
        t_slow = (time.perf_counter() - began) / args.frechet_replicates
    rel = max(abs(a - b) / abs(b) for a, b in zip(fast, slow))
    print(f"n={args.n} d={args.d}: nuclear {t_fast * 1e3:.2f} ms/replicate, frechet_distance {t_slow:.2f} s/replicate, "
          f"ratio {t_slow / t_fast:.0f}x; {args.replicates} replicates: {t_fast * args.replicates:.2f} s vs "
          f"~{t_slow * args.replicates:.0f} s; max rel. diff {rel:.1e}")


if __name__ == "__main__":
    main()
