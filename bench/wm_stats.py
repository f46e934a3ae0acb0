"""TPR at a fixed FPR with exact (Clopper-Pearson) bounds, for the watermark benches.

The threshold is the empirical (1 - FPR) quantile of the unmarked items' scores under
the same attack, so the FPR is what was measured, not what a p-value promised; with n
negatives, an FPR of 0.1% needs n >= 1000 to mean anything.
"""

from __future__ import annotations

import argparse

import numpy as np


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """The options every watermark bench takes: how many marked/unmarked items, and the seed."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--marked", type=int, default=200)
    parser.add_argument("--unmarked", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy.stats import beta

    a = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return low, high


def tpr_at_fpr(positives: np.ndarray, negatives: np.ndarray, fpr: float) -> tuple[float, int, float]:
    """(TPR, true positives, realised FPR) with threshold = the strictest that keeps FPR <= fpr."""
    neg = np.sort(np.asarray(negatives, dtype=float))[::-1]
    allowed = int(np.floor(fpr * len(neg)))  # negatives that may score above the threshold
    threshold = neg[allowed] if allowed < len(neg) else -np.inf
    hits = int((np.asarray(positives) > threshold).sum())
    return hits / len(positives), hits, float((neg > threshold).mean())


def print_table(title: str, scores: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    rows = []
    print(f"\n{title}")
    print(f"{'attack':<18} {'n+':>5} {'n-':>5}  {'TPR@1%FPR':>10} {'95% CI':>15}  {'TPR@0.1%FPR':>11} {'95% CI':>15}")
    for attack, (pos, neg) in scores.items():
        row = {"attack": attack, "n_pos": len(pos), "n_neg": len(neg)}
        cells = []
        for fpr in (0.01, 0.001):
            tpr, hits, real = tpr_at_fpr(pos, neg, fpr)
            low, high = clopper_pearson(hits, len(pos))
            row[f"tpr@{fpr}"], row[f"ci@{fpr}"], row[f"fpr@{fpr}"] = tpr, (low, high), real
            cells.append(f"{tpr:>10.3f} [{low:.3f}, {high:.3f}]")
        print(f"{attack:<18} {len(pos):>5} {len(neg):>5}  {cells[0]}  {cells[1]}")
        rows.append(row)
    return rows
