"""Generative precision, recall, density and coverage of an image set on pool3 features
(the math is `mmeval.metrics.prdc`)."""

from __future__ import annotations

from ..prdc import DEFAULT_K, check_nearest_k, precision_resampler, prdc_result
from ..resampling import NotResampled, SetResampler
from .inception import CHUNK
from .set_metric import FeatureState, InceptionSetMetric


class PRDC(InceptionSetMetric):
    """Generative precision (headline), recall, density and coverage of the output set
    against the target (or `against:`) set, on FID's pool3 features: Kynkäänniemi et al.
    2019 and Naeem et al. 2020 with the `prdc` package's conventions (`mmeval.metrics.prdc`),
    k-nearest-neighbour balls with `nearest_k` (default 5) around the reference features.
    Reported as `prdc` (precision) and `prdc_recall`, `prdc_density`, `prdc_coverage`;
    density is unbounded above (1 when outputs sit in the reference as its own points do).
    Reference features come from the pool3 cache entry FID and KID read. Needs more than
    `nearest_k` images a side.

    Example: `- use: prdc` with `args: {weights: /models/pt_inception-2015-12-05-6726825d.pth, nearest_k: 5}`.
    """

    name = "prdc"
    higher_is_better = True
    value_range = (0.0, 1.0)
    extra_directions = {"recall": True, "density": True, "coverage": True}

    def __init__(self, weights: str | None = None, batch_size: int = CHUNK, nearest_k: int = DEFAULT_K):
        super().__init__(weights, batch_size)
        self.nearest_k = check_nearest_k(nearest_k)
        self.note: str | None = None

    def compute(self, state: FeatureState) -> dict[str, float]:
        outputs, targets = self._output_features(state), self._target_features(state)
        values, self.note = prdc_result(self.name, targets, outputs, self.nearest_k, "images")
        return values

    def set_resampler(self, state: FeatureState) -> SetResampler | NotResampled:
        """Output images resampled, the reference fixed: precision only (`precision_resampler`)."""
        outputs, targets = self._output_features(state), self._target_features(state)
        return precision_resampler(targets, outputs, self.nearest_k, "images")

    def fingerprint(self) -> str:
        return super().fingerprint() + f"|nearest_k:{self.nearest_k}|prdc:naver-0.2-conventions"
