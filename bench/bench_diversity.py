"""distinct-n and self-BLEU against plain loops giving the same values, measured in one run.

    python bench/bench_diversity.py [--texts 10000 20000 40000] [--self-bleu 2000] [--repeat 3]

self-BLEU: mmeval's default (Texygen, capped at a seeded sample of 500 outputs) on
`--self-bleu` outputs against nltk's `sentence_bleu` called directly on the same 500.

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


def self_bleu_value(outs: list[str]) -> float:
    from mmeval.metrics.diversity import SelfBLEU

    metric = SelfBLEU()
    return metric.compute(metric.update(metric.init(), outs, [None] * len(outs)))["self_bleu"]


def nltk_self_bleu(outs: list[str]) -> float:
    """Texygen's loop on the same seeded sample of 500 that mmeval scores."""
    import warnings

    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    sample = [t.split() for t in random.Random(0).sample(sorted(outs), min(500, len(outs)))]
    smooth = SmoothingFunction().method1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = [sentence_bleu(sample[:i] + sample[i + 1:], h, (1 / 3,) * 3, smoothing_function=smooth) for i, h in enumerate(sample)]
    return 100 * sum(scores) / len(scores)


def timed(fn, outs):
    start = time.perf_counter()
    value = fn(outs)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    parser.add_argument("--self-bleu", type=int, default=2000)
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
    outs = [" ".join(t.split()[:12]) for t in texts(args.self_bleu)]
    timed(self_bleu_value, outs[:50])  # warm-up (imports)
    ours, peer = [], []
    for _ in range(args.repeat):
        (t, v_ours), (u, v_peer) = timed(self_bleu_value, outs), timed(nltk_self_bleu, outs)
        ours.append(t)
        peer.append(u)
    print(f"self-BLEU, {len(outs)} outputs (500 sampled): mmeval min {min(ours):.2f}s median {statistics.median(ours):.2f}s, "
          f"nltk loop min {min(peer):.2f}s median {statistics.median(peer):.2f}s, "
          f"ratio {statistics.median(ours) / statistics.median(peer):.2f}x; |difference| {abs(v_ours - v_peer):.1e}")


if __name__ == "__main__":
    main()
