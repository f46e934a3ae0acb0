"""The Inception Score on the network's class logits, in torch-fidelity's or torchmetrics'
split convention."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from ..resampling import NotResampled, ResampledRows, SetResampler
from .inception import CHUNK
from .set_metric import FeatureState, InceptionSetMetric

ISConvention = Literal["torch-fidelity", "torchmetrics"]
TORCH_FIDELITY_SEED = 2020  # torch-fidelity's fixed `rng_seed` for the split order


def inception_score_from_logits(logits: np.ndarray, splits: int = 10, convention: ISConvention = "torch-fidelity") -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) per split; (mean, std) over splits.

    `torch-fidelity` (the default, the field's reference): rows permuted by
    `RandomState(2020)`, split at `i * N // splits`, population std (ddof 0).
    `torchmetrics`: rows in the given order, `np.array_split`, unbiased std (ddof 1), i.e.
    torchmetrics' math on the order it would have shuffled them into.
    """
    if convention == "torch-fidelity":
        n = len(logits)
        logits = logits[np.random.RandomState(TORCH_FIDELITY_SEED).permutation(n)]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    if convention == "torch-fidelity":
        chunks, ddof = [log_prob[i * n // splits : (i + 1) * n // splits] for i in range(splits)], 0
    else:
        chunks, ddof = np.array_split(log_prob, splits), 1
    scores = []
    for chunk in chunks:
        prob = np.exp(chunk)
        # log of the marginal in log space: averaging tiny probabilities would underflow to 0.
        peak = chunk.max(axis=0, keepdims=True)
        log_marginal = peak + np.log(np.exp(chunk - peak).sum(axis=0, keepdims=True)) - math.log(len(chunk))
        scores.append(math.exp(float((prob * (chunk - log_marginal)).sum(axis=1).mean())))
    std = float(np.std(scores, ddof=ddof)) if len(scores) > ddof else 0.0
    return float(np.mean(scores)), std


class InceptionScore(InceptionSetMetric):
    """Inception Score of the output set (targets are ignored): mean and std over `splits`,
    split as `convention` says (see `inception_score_from_logits`; default torch-fidelity's).

    Example: `- use: inception_score` with `args: {splits: 10}`.
    """

    name = "inception_score"
    higher_is_better = True
    value_range = (1.0, 1008.0)  # exp(KL) over Inception's 1008 classes
    uses_targets = False
    logits = True

    def __init__(self, weights: str | None = None, batch_size: int = CHUNK, splits: int = 10,
                 convention: ISConvention = "torch-fidelity"):
        super().__init__(weights, batch_size)
        if convention not in ("torch-fidelity", "torchmetrics"):
            raise ValueError("convention must be 'torch-fidelity' or 'torchmetrics'")
        self.splits, self.convention = splits, convention

    def compute(self, state: FeatureState) -> dict[str, float]:
        logits = self._output_features(state)
        if not len(logits):
            return {self.name: float("nan"), "std": float("nan")}
        mean, std = inception_score_from_logits(logits, min(self.splits, len(logits)), self.convention)
        return {self.name: mean, "std": std}

    def set_resampler(self, state: FeatureState) -> SetResampler | NotResampled:
        """Class logits resampled, nothing fixed; each replicate is split as `convention` says."""
        logits = self._output_features(state)
        if not len(logits):
            return NotResampled("no outputs")

        def score(rows: np.ndarray) -> float:
            return inception_score_from_logits(rows, min(self.splits, len(rows)), self.convention)[0]

        return ResampledRows(logits, score, flops=6.0 * logits.size)

    def fingerprint(self) -> str:
        return super().fingerprint() + f"|splits:{self.splits}|convention:{self.convention}"
