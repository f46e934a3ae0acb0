"""Metrics whose value is the mean of one score per sample (SSIM, PSNR, ROUGE-L, cosine
similarity): the state is (sum of scores, count), and the per-sample statistics of
metrics/base.py are the rows (score, 1), so a run scores each sample once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

MeanState = tuple[float, int]


class MeanOfScores:
    """Subclasses give `sample_scores(outputs, targets)`: one score per sample, one call per batch."""

    name = ""

    def sample_scores(self, outputs: Sequence[Any], targets: Sequence[Any]) -> list[float]:
        raise NotImplementedError

    def init(self) -> MeanState:
        return (0.0, 0)

    def update(self, state: MeanState, outputs: Sequence[Any], targets: Sequence[Any]) -> MeanState:
        scores = self.sample_scores(outputs, targets)
        return (state[0] + math.fsum(scores), state[1] + len(scores))

    def merge(self, a: MeanState, b: MeanState) -> MeanState:
        return (a[0] + b[0], a[1] + b[1])

    def compute(self, state: MeanState) -> dict[str, float]:
        return {self.name: state[0] / state[1] if state[1] else float("nan")}

    def sample_stats(self, outputs: Sequence[Any], targets: Sequence[Any]) -> np.ndarray:
        scores = np.asarray(self.sample_scores(outputs, targets), dtype=np.float64)
        return np.stack([scores, np.ones_like(scores)], axis=1).reshape(-1, 2)

    def state_stats(self, state: MeanState) -> np.ndarray:
        return np.array(state, dtype=np.float64)

    def stats_state(self, total: np.ndarray) -> MeanState:
        return (float(total[0]), int(total[1]))

    def stats_values(self, totals: np.ndarray) -> np.ndarray:
        return mean_values(totals)


def mean_values(totals: np.ndarray) -> np.ndarray:
    """Column 0 over column 1 of each summed row (a mean of scores), NaN for no samples."""
    count = totals[:, 1]
    return np.where(count > 0, totals[:, 0] / np.where(count > 0, count, 1), np.nan)
