"""Fréchet Inception distance on pool3 features (`set_metric.py` for the state and features)."""

from __future__ import annotations

import math

from ..frechet import GaussianTarget, ReweightedFrechet, features_distance
from ..resampling import NotResampled, SetResampler
from .set_metric import FeatureState, InceptionSetMetric


class FID(InceptionSetMetric):
    """Fréchet Inception distance between the output set and the target (or `against:`) set.

    Example: `- use: fid` with `args: {weights: /models/pt_inception-2015-12-05-6726825d.pth}`
    (`weights: random` for smoke runs only).
    """

    name = "fid"
    higher_is_better = False
    value_range = (0.0, math.inf)

    def compute(self, state: FeatureState) -> dict[str, float]:
        outputs, targets = self._output_features(state), self._target_features(state)
        if len(outputs) < 2 or len(targets) < 2:
            return {self.name: float("nan")}
        # Fewer images than dimensions (the usual smoke and CI case): an n x n problem
        # instead of 2048 x 2048 factorizations, and exact where those lose up to ~1e-8.
        return {self.name: features_distance(outputs, targets)}

    def set_resampler(self, state: FeatureState) -> SetResampler | NotResampled:
        """Output feature rows resampled; the reference Gaussian fixed."""
        outputs, targets = self._output_features(state), self._target_features(state)
        if len(outputs) < 2 or len(targets) < 2:
            return NotResampled("fewer than 2 images on a side")
        return ReweightedFrechet(outputs, GaussianTarget.of_features(targets))
