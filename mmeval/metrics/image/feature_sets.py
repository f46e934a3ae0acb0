"""FID, KID, Inception Score and generative precision/recall/density/coverage: set-level
metrics on Inception features.

Both sides arrive through `update(state, outputs, targets)`. Images go through the
network in full chunks of `CHUNK` as batches arrive; the few left over wait in the state
for the next batch (or `compute`), so the run's batch size never changes a feature and
never adds padded passes. Targets that are files (a reference image set) are only hashed
during the run; their features come from the content-addressed cache at `compute`, so a
second run against the same reference set does no reference-side network work.
`batch_size:` is still accepted (old suites pass it) and changes nothing.

The state keeps every output feature row (8 kB per image), so `set_resampler` can offer
a set-level bootstrap over the outputs with the reference features held fixed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ...cache import ArrayCache, cache_key
from ...fsutil import sha256_file
from ..base import check_lengths, fingerprint
from ..frechet import GaussianTarget, ReweightedFrechet, features_distance
from ..prdc import DEFAULT_K, check_nearest_k, precision_resampler, prdc_result
from ..resampling import NotResampled, ResampledRows, SetResampler, memory_limit
from .inception import CHUNK, FORWARD, PREPROCESS, RANDOM, image_features, resolve_weights, weights_tag


@dataclass
class FeatureState:
    outputs: list[np.ndarray] = field(default_factory=list)
    targets: list[np.ndarray] = field(default_factory=list)
    target_files: list[tuple[str, str]] = field(default_factory=list)  # (sha256, path), hashed only
    # Images that follow the feature rows above, not yet embedded (fewer than CHUNK a side).
    pending_outputs: list[Any] = field(default_factory=list)
    pending_targets: list[Any] = field(default_factory=list)


class _InceptionSetMetric:
    modality = "image"
    set_level = True
    name = ""
    uses_targets = True
    logits = False

    def __init__(self, weights: str | None = None, batch_size: int = CHUNK):
        # The published weights unless `weights: random` is asked for by name; a missing
        # file fails here, when the suite loads, before any model runs.
        if weights != RANDOM:
            resolve_weights(weights)
        self.weights = weights
        self.batch_size = batch_size  # accepted for old suites; every pass has CHUNK images
        self.cache = ArrayCache()

    @property
    def not_comparable(self) -> str | None:
        """Why the value must not be compared with published numbers, or None."""
        return "random weights" if self.weights == RANDOM else None

    def _features(self, images: Sequence[Any]) -> np.ndarray:
        return image_features(list(images), self.weights, logits=self.logits)

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

    def _settle(self, state: FeatureState) -> FeatureState:
        """Embed the pending images (a last, padded pass), in place: every later compute
        and resampler on this state sees the same rows."""
        if state.pending_outputs:
            state.outputs, state.pending_outputs = state.outputs + [self._features(state.pending_outputs)], []
        if state.pending_targets:
            state.targets, state.pending_targets = state.targets + [self._features(state.pending_targets)], []
        return state

    def _output_features(self, state: FeatureState) -> np.ndarray:
        self._settle(state)
        return np.concatenate(state.outputs) if state.outputs else np.zeros((0, 2048))

    def _target_features(self, state: FeatureState) -> np.ndarray:
        parts = list(self._settle(state).targets)
        if state.target_files:
            files = sorted(state.target_files)  # a set: order does not matter
            key = cache_key(self._cache_fingerprint(), (sha for sha, _ in files))
            cached = self.cache.get_or_compute(key, lambda: {"features": self._features([Path(p) for _, p in files])})
            parts.append(cached["features"])
        return np.concatenate(parts) if parts else np.zeros((0, 2048))

    def _cache_fingerprint(self) -> str:
        """What the cached reference features are keyed by: fixed at construction."""
        return self.fingerprint()

    def fingerprint(self) -> str:
        return self._features_fingerprint(self.name)

    def _features_fingerprint(self, name: str) -> str:
        return fingerprint(name, net="pytorch-fid-inception-v3", layer="logits" if self.logits else "pool3-2048",
                           weights=weights_tag(self.weights), preprocess=PREPROCESS, forward=FORWARD)


class FID(_InceptionSetMetric):
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


def poly_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0) -> np.ndarray:
    """KID's kernel matrix (x·y/d + coef)^degree."""
    return (x @ y.T / x.shape[1] + coef) ** degree


def poly_mmd(x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0) -> float:
    """Unbiased MMD² with the polynomial kernel (x·y/d + coef)^degree, as in KID."""
    kxx, kyy, kxy = poly_kernel(x, x, degree, coef), poly_kernel(y, y, degree, coef), poly_kernel(x, y, degree, coef)
    m = x.shape[0]
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
    )


class ResampledPolyMMD:
    """Unbiased polynomial MMD² of a resampled output set against the fixed target set.

    With counts w (row i drawn w_i times, n draws) the within-output term is
    sum_{i != j} w_i w_j K_ij / (n² - sum w_i²): a duplicated output is never paired with
    its own copy, just as the unbiased estimate never pairs a sample with itself, so
    duplicates do not inflate the replicate. All-ones counts give `poly_mmd(x, y)`
    (for equal set sizes). The kernel matrices are built on the first replicate.
    """

    fixed_reference = True

    def __init__(self, outputs: np.ndarray, targets: np.ndarray):
        self.outputs, self.targets = outputs, targets
        self.size = len(outputs)
        self.flops = 2.0 * self.size**2

    @cached_property
    def _kernel_terms(self) -> tuple[np.ndarray, np.ndarray, float]:
        x, y = self.outputs, self.targets
        kxx = poly_kernel(x, x)
        # The target side is fixed: only its within-set mean and the row sums of the
        # cross kernel are needed, built a block at a time so no n x m matrix is kept.
        cross, within_targets = np.zeros(len(x)), 0.0
        for start in range(0, len(y), 1024):
            block = y[start : start + 1024]
            cross += poly_kernel(x, block).sum(axis=1)
            kyy = poly_kernel(block, y)
            within_targets += kyy.sum() - np.trace(kyy, offset=start)
        m = len(y)
        return kxx, cross / m, within_targets / (m * (m - 1))

    def value(self, picks: np.ndarray) -> float:
        kxx, cross, within_targets = self._kernel_terms
        w = np.bincount(picks, minlength=self.size).astype(np.float64)
        n = w.sum()
        pairs = n * n - w @ w
        if pairs <= 0:  # every draw the same output: no distinct pair
            return float("nan")
        within_outputs = (w @ kxx @ w - (w * w) @ np.diag(kxx)) / pairs
        return float(within_outputs + within_targets - 2.0 * (w @ cross) / n)


def kid_subset_size(requested: int, smaller_set: int) -> int:
    """The subset size KID uses: `requested`, or half the smaller set when `requested` would
    take the whole set. Subsets as large as the set are all the same set (the permutation
    changes only the order), so `kid_std` would be 0 and say nothing; torchmetrics takes
    such a size silently, and the KID paper (Bińkowski et al. 2018) draws subsets far
    smaller than the set (1000 of 10000+)."""
    if requested < smaller_set:
        return requested
    return max(2, smaller_set // 2)


class KID(_InceptionSetMetric):
    """Kernel Inception distance: mean and std of unbiased polynomial MMD² over random subsets.

    Keeps every feature vector (8 kB per image and side). Example: `- use: kid` with
    `args: {subsets: 100, subset_size: 1000}`; a `subset_size` at least the smaller set's
    size becomes half of it (`kid_subset_size`), with a warning and a `note` on the result.
    The unbiased estimate can be negative, so its range is unbounded.
    """

    name = "kid"
    higher_is_better = False

    def __init__(self, weights: str | None = None, batch_size: int = CHUNK, subsets: int = 100, subset_size: int = 1000, seed: int = 0):
        super().__init__(weights, batch_size)
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed
        self.note: str | None = None  # set by compute when the subset size was changed
        self._used_size = subset_size
        self._warned = False

    def compute(self, state: FeatureState) -> dict[str, float]:
        outputs = self._output_features(state)
        targets = self._target_features(state)
        smaller = min(len(outputs), len(targets))
        size = kid_subset_size(self.subset_size, smaller)
        self.note = None
        if smaller >= 2:
            self._used_size = size
        if size != self.subset_size and smaller >= 2:
            self.note = (f"subset_size {self.subset_size} >= {smaller} images would make every subset the whole set; "
                         f"used {size} (half the smaller set)")
            if not self._warned:  # once per metric, not once per model
                sys.stderr.write(f"warning: kid: {self.note}\n")
                self._warned = True
        if smaller < 2 or size < 2:
            return {self.name: float("nan"), "std": float("nan")}
        rng = np.random.default_rng(self.seed)
        values = [
            poly_mmd(outputs[rng.permutation(len(outputs))[:size]], targets[rng.permutation(len(targets))[:size]])
            for _ in range(self.subsets)
        ]
        result = {self.name: float(np.mean(values)), "std": float(np.std(values))}
        self._computed = (state, result[self.name])
        return result

    def set_resampler(self, state: FeatureState) -> SetResampler | NotResampled:
        """Output features resampled, targets fixed. A replicate is the full-set unbiased
        MMD², which the subset mean estimates."""
        outputs, targets = self._output_features(state), self._target_features(state)
        if len(outputs) < 2 or len(targets) < 2:
            return NotResampled("fewer than 2 images on a side")
        kernel_floats = len(outputs) ** 2 + 1024 * (len(outputs) + len(targets))  # n x n kept, 1024-row blocks
        limited = memory_limit(kernel_floats)
        if limited:
            return limited
        resampler = ResampledPolyMMD(outputs, targets)
        # The reported KID is a subset mean, not the full-set replicate statistic: the
        # interval is centred on what the report shows (compute just ran on this state).
        computed = getattr(self, "_computed", None)
        resampler.reported = computed[1] if computed and computed[0] is state else self.compute(state)[self.name]
        return resampler

    def fingerprint(self) -> str:
        # After compute: the size it used (a shrunk subset size is a different statistic).
        return super().fingerprint() + f"|subsets:{self.subsets}|subset_size:{self._used_size}|seed:{self.seed}"

    def _cache_fingerprint(self) -> str:
        return super().fingerprint() + f"|subsets:{self.subsets}|subset_size:{self.subset_size}|seed:{self.seed}"


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


class InceptionScore(_InceptionSetMetric):
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


class PRDC(_InceptionSetMetric):
    """Generative precision (headline), recall, density and coverage of the output set
    against the target (or `against:`) set, on FID's pool3 features: Kynkäänniemi et al.
    2019 and Naeem et al. 2020 with the `prdc` package's conventions (`mmeval.metrics.prdc`),
    k-nearest-neighbour balls with `nearest_k` (default 5) around the reference features.
    Reported as `prdc` (precision) and `prdc_recall`, `prdc_density`, `prdc_coverage`;
    density is unbounded above (1 when outputs sit in the reference as its own points do).
    Reference features come from FID's cache entry. Needs more than `nearest_k` images a side.

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

    def _cache_fingerprint(self) -> str:
        return self._features_fingerprint(FID.name)  # the same pool3 features as FID: one cache entry

    def fingerprint(self) -> str:
        return super().fingerprint() + f"|nearest_k:{self.nearest_k}|prdc:naver-0.2-conventions"
