"""FID, KID, Inception Score and generative precision/recall/density/coverage: set-level
metrics on Inception features, one module each.

This module re-exports them, as the one import for code that uses several:

- `set_metric.py`: the state, the pending-image chunks, the reference-side cache;
- `feature_memo.py`: one network pass per image and process, both layers;
- `fid.py`, `kid.py`, `inception_score.py`, `precision_recall.py`: the metrics.
"""

from __future__ import annotations

from ...fsutil import sha256_file
from .fid import FID
from .inception import image_features
from .inception_score import ISConvention, InceptionScore, TORCH_FIDELITY_SEED, inception_score_from_logits
from .kid import KID, ResampledPolyMMD, kid_subset_size, poly_kernel, poly_mmd
from .precision_recall import PRDC
from .set_metric import FeatureState, InceptionSetMetric

__all__ = [
    "FID", "KID", "PRDC", "FeatureState", "ISConvention", "InceptionScore", "InceptionSetMetric", "ResampledPolyMMD",
    "TORCH_FIDELITY_SEED", "image_features", "inception_score_from_logits", "kid_subset_size", "poly_kernel", "poly_mmd",
    "sha256_file",
]
