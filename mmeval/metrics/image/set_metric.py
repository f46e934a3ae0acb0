"""What FID, KID, the Inception Score and precision/recall share: a state of Inception
feature rows and the way images become rows.

Both sides arrive through `update(state, outputs, targets)`. Images go through the
network in full chunks of `CHUNK` as batches arrive; the few left over wait in the state
for the next batch (or `compute`), so the run's batch size never changes a feature and
never adds padded passes. Rows come from `feature_memo.shared_features`, so the metrics
of one process share one pass per image and both layers. Targets that are files (a
reference image set) are only hashed during the run; their pool3 features come from the
content-addressed cache at `compute`, under one key for every pool3 metric, so neither
a second metric nor a second run against the same reference set does reference-side
network work. `batch_size:` is still accepted (old suites pass it) and changes nothing.

The state keeps every output feature row (8 kB per image), so `set_resampler` can offer
a set-level bootstrap over the outputs with the reference features held fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...cache import ArrayCache, cache_key
from ...fsutil import sha256_file
from ..base import check_lengths, fingerprint
from .feature_memo import WIDTHS, Layer, shared_features
from .inception import CHUNK, FORWARD, PREPROCESS, RANDOM, resolve_weights, weights_tag


@dataclass
class FeatureState:
    outputs: list[np.ndarray] = field(default_factory=list)
    targets: list[np.ndarray] = field(default_factory=list)
    target_files: list[tuple[str, str]] = field(default_factory=list)  # (sha256, path), hashed only
    # Images that follow the feature rows above, not yet embedded (fewer than CHUNK a side).
    pending_outputs: list[Any] = field(default_factory=list)
    pending_targets: list[Any] = field(default_factory=list)


def features_fingerprint(name: str, layer: Layer, weights: str | None) -> str:
    """The features a row is: network, layer, weights, preprocessing and forward shape."""
    return fingerprint(name, net="pytorch-fid-inception-v3", layer="logits" if layer == "logits" else "pool3-2048",
                       weights=weights_tag(weights), preprocess=PREPROCESS, forward=FORWARD)


class InceptionSetMetric:
    modality = "image"
    set_level = True
    name = ""
    uses_targets = True
    logits = False  # True: the fc layer's class logits instead of pool3

    def __init__(self, weights: str | None = None, batch_size: int = CHUNK):
        # The published weights unless `weights: random` is asked for by name; a missing
        # file fails here, when the suite loads, before any model runs.
        if weights != RANDOM:
            resolve_weights(weights)
        self.weights = weights
        self.batch_size = batch_size  # accepted for old suites; every pass has CHUNK images
        self.cache = ArrayCache()

    @property
    def layer(self) -> Layer:
        return "logits" if self.logits else "pool3"

    @property
    def not_comparable(self) -> str | None:
        """Why the value must not be compared with published numbers, or None."""
        return "random weights" if self.weights == RANDOM else None

    def _features(self, images: Sequence[Any], digests: Sequence[str] | None = None) -> np.ndarray:
        return shared_features(list(images), self.weights, self.layer, digests)

    def _embedded(self, rows: list[np.ndarray], pending: list[Any], images: Sequence[Any]) -> tuple[list[np.ndarray], list[Any]]:
        """Feature rows and pending images after `images` join the side's pending ones:
        full chunks are embedded, the rest wait."""
        items = pending + list(images)
        full = len(items) - len(items) % CHUNK
        return (rows + [self._features(items[:full])] if full else rows), items[full:]

    def _joined(self, a: tuple[list, list], b: tuple[list, list]) -> tuple[list[np.ndarray], list[Any]]:
        """One side of a merge, rows kept in sample order: a's pending images come before
        b's rows, so they are embedded first unless b has only pending images too."""
        (rows_a, pending_a), (rows_b, pending_b) = a, b
        if not rows_b:
            return self._embedded(rows_a, pending_a, pending_b)
        return rows_a + ([self._features(pending_a)] if pending_a else []) + rows_b, pending_b

    def init(self) -> FeatureState:
        return FeatureState()

    def update(self, state: FeatureState, outputs: Sequence[Any], targets: Sequence[Any]) -> FeatureState:
        check_lengths(outputs, targets)
        new = FeatureState(target_files=list(state.target_files))
        new.outputs, new.pending_outputs = self._embedded(state.outputs, state.pending_outputs, outputs)
        new.targets, new.pending_targets = state.targets, state.pending_targets
        if self.uses_targets:
            if all(isinstance(t, Path) for t in targets):
                new.target_files += [(sha256_file(t), str(t)) for t in targets]
            else:
                new.targets, new.pending_targets = self._embedded(state.targets, state.pending_targets, targets)
        return new

    def merge(self, a: FeatureState, b: FeatureState) -> FeatureState:
        merged = FeatureState(target_files=a.target_files + b.target_files)
        merged.outputs, merged.pending_outputs = self._joined((a.outputs, a.pending_outputs), (b.outputs, b.pending_outputs))
        merged.targets, merged.pending_targets = self._joined((a.targets, a.pending_targets), (b.targets, b.pending_targets))
        return merged

    def settle(self, state: FeatureState) -> FeatureState:
        """Embed the pending images (a last, padded pass), in place: every later compute
        and resampler on this state sees the same rows."""
        if state.pending_outputs:
            state.outputs, state.pending_outputs = state.outputs + [self._features(state.pending_outputs)], []
        if state.pending_targets:
            state.targets, state.pending_targets = state.targets + [self._features(state.pending_targets)], []
        return state

    def _output_features(self, state: FeatureState) -> np.ndarray:
        self.settle(state)
        return np.concatenate(state.outputs) if state.outputs else np.zeros((0, WIDTHS[self.layer]))

    def _target_features(self, state: FeatureState) -> np.ndarray:
        parts = list(self.settle(state).targets)
        if state.target_files:
            files = sorted(state.target_files)  # a set: order does not matter
            key = cache_key(self._reference_fingerprint(), (sha for sha, _ in files))
            compute = lambda: {"features": self._features([Path(p) for _, p in files], [sha for sha, _ in files])}  # noqa: E731
            parts.append(self.cache.get_or_compute(key, compute)["features"])
        return np.concatenate(parts) if parts else np.zeros((0, WIDTHS[self.layer]))

    def _reference_fingerprint(self) -> str:
        """What the cached reference features are keyed by: the features alone, not the
        metric, so FID, KID and PRDC read one entry."""
        return features_fingerprint("inception-features", self.layer, self.weights)

    def fingerprint(self) -> str:
        return features_fingerprint(self.name, self.layer, self.weights)
