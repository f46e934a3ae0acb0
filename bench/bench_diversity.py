"""distinct-n against a plain Python loop giving the same value, measured in one run.

    python bench/bench_diversity.py [--texts 10000 20000 40000] [--repeat 3]

Both sides count distinct bigrams of whitespace tokens over the same seeded texts; mmeval
folds them in batches of 32 as a run does. Each size gets one warm-up, then `--repeat`
interleaved timings; prints min and median seconds and the ratio of medians (mmeval /
loop, > 1 means mmeval is slower). No torch is involved, so threads do not matter.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mmeval.metrics.diversity import DistinctN  # noqa: E402


def texts(n: int) -> list[str]:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(3000)]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(8, 30))) for _ in range(n)]


def mmeval_value(outs: list[str]) -> float:
    metric, state = DistinctN(n=2), DistinctN(n=2).init()
    for i in range(0, len(outs), 32):
        state = metric.update(state, outs[i : i + 32], [None] * len(outs[i : i + 32]))
    return metric.compute(state)["distinct_n"]


def loop_value(outs: list[str]) -> float:
    seen, tokens = set(), 0
    for text in outs:
        words = text.split()
        tokens += len(words)
        seen.update(zip(words, words[1:]))
    return len(seen) / tokens


def timed(fn, outs):
    start = time.perf_counter()
    value = fn(outs)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for n in args.texts:
        outs = texts(n)
        timed(mmeval_value, outs), timed(loop_value, outs)  # warm-up
        ours, peer = [], []
        for _ in range(args.repeat):
            (t, v_ours), (u, v_peer) = timed(mmeval_value, outs), timed(loop_value, outs)
            ours.append(t)
            peer.append(u)
        print(f"distinct-2, {n} texts: mmeval min {min(ours):.3f}s median {statistics.median(ours):.3f}s, "
              f"loop min {min(peer):.3f}s median {statistics.median(peer):.3f}s, "
              f"ratio {statistics.median(ours) / statistics.median(peer):.2f}x; |difference| {abs(v_ours - v_peer):.1e}")


if __name__ == "__main__":
    main()
