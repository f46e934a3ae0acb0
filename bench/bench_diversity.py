"""distinct-n and self-BLEU against plain loops giving the same values, measured in one run.

    python bench/bench_diversity.py [--texts 10000 20000 40000] [--self-bleu 2000] [--repeat 3] [--threads 1]

self-BLEU: mmeval's default (Texygen, capped at a seeded sample of 500 outputs) on
`--self-bleu` outputs against nltk's `sentence_bleu` called directly on the same 500.

Both sides count distinct bigrams of whitespace tokens over the same seeded texts; mmeval
folds them in batches of 32 as a run does. Each size gets one warm-up, then `--repeat`
interleaved rounds (bench/timing.py); prints min and median seconds and the ratio of
medians (mmeval / loop, > 1 means mmeval is slower).
"""

from __future__ import annotations

import argparse
import random

from timing import add_timing_options, interleaved, line, ratio, threads_line, use_threads

from mmeval.metrics.diversity import DistinctN


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


def compare(name: str, ours, peer, outs: list[str], warm: list[str], repeat: int) -> None:
    ours(warm), peer(warm)  # warm-up (imports, caches)
    times = interleaved({"mmeval": lambda: ours(outs), "peer": lambda: peer(outs)}, repeat, warmup=0)
    difference = abs(times["mmeval"].value - times["peer"].value)
    print(f"{name}: {line('mmeval', times['mmeval'])}, {line('loop', times['peer'])}, "
          f"{ratio(times['mmeval'], times['peer'])} (mmeval / loop); |difference| {difference:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    parser.add_argument("--self-bleu", type=int, default=2000)
    add_timing_options(parser)
    args = parser.parse_args()
    use_threads(args)
    for n in args.texts:
        outs = texts(n)
        compare(f"distinct-2, {n} texts", mmeval_value, loop_value, outs, outs, args.repeat)
    outs = [" ".join(t.split()[:12]) for t in texts(args.self_bleu)]
    compare(f"self-BLEU, {len(outs)} outputs (500 sampled; loop: nltk)", self_bleu_value, nltk_self_bleu, outs, outs[:50], args.repeat)
    print(threads_line())


if __name__ == "__main__":
    main()
