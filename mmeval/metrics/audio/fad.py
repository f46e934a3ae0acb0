"""`fad`: Fréchet audio distance between the output set and the target (or `against:`) set.

The default embedding needs no weights: 64-band log-mel magnitude frames (32 ms,
10 ms hop, log offset 0.01 as in VGGish's front end) of 16 kHz audio, each frame one vector, as VGGish-style FAD treats per-frame embeddings; the
fingerprint says `embedding:logmel64-v1`, so it is never mistaken for VGGish FAD. A
pretrained embedding is a TorchScript file given as `embedding: PATH` with its
`embedding_sha256`; it maps a (samples,) 16 kHz waveform to (frames, dim) and is never
downloaded. Reference-set statistics are cached by content, like FID's.

For the set-level bootstrap the state also keeps each output clip's statistics (its
frames are one unit: resampling frames would treat a clip's correlated frames as
independent draws), up to `MAX_SET_FLOATS`; the reference statistics stay fixed.

`audio_prdc`: generative precision / recall / density / coverage (`mmeval.metrics.prdc`)
on the same embedding, one vector per clip (the mean of its frames): a clip's frames
are each other's nearest neighbours, so k-NN balls of frames would measure a clip's
smoothness, not how well the set covers the reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...cache import ArrayCache, cache_key
from ...fsutil import sha256_file
from ...errors import InputError, IntegrityError
from ...media.audio import load_audio
from ..base import check_lengths, fingerprint
from ..frechet import GaussianStats, ReweightedStatsFrechet, stats_distance
from ..prdc import DEFAULT_K, check_nearest_k, precision_resampler, prdc_result
from ..resampling import MAX_SET_FLOATS, NotResampled, SetResampler
from .dsp import mel_spectrum

RATE = 16_000


@dataclass
class FadState:
    outputs: GaussianStats | None = None
    targets: GaussianStats | None = None
    target_files: list[tuple[str, str]] = field(default_factory=list)
    # One GaussianStats per output clip, for the set bootstrap; None once past the cap.
    output_clips: list[GaussianStats] | None = field(default_factory=list)


def _merge_clips(a: list[GaussianStats] | None, b: list[GaussianStats] | None) -> list[GaussianStats] | None:
    if a is None or b is None:
        return None
    clips = a + b
    dim = clips[0].total.size if clips else 0
    return clips if len(clips) * (dim * dim + dim) <= MAX_SET_FLOATS else None


def _merge(a: GaussianStats | None, b: GaussianStats | None) -> GaussianStats | None:
    return b if a is None else (a if b is None else a.merge(b))


class FAD:
    """Fréchet audio distance on a weight-free log-mel embedding (or a local TorchScript one).

    Example: `- use: fad`.
    """

    name = "fad"
    modality = "audio"
    higher_is_better = False
    value_range = (0.0, math.inf)
    set_level = True

    def __init__(self, embedding: str = "logmel", embedding_sha256: str | None = None):
        self.embedding = embedding
        self._model = None
        self._tag = "logmel64-v1"  # bump when the frames change
        if embedding != "logmel":
            path = Path(embedding)
            if not path.is_file():
                raise InputError(f"FAD embedding file {path} not found; give a TorchScript file or use `embedding: logmel`")
            digest = sha256_file(path)
            if embedding_sha256 is None:
                raise InputError(f"FAD embedding {path} needs `embedding_sha256` (its sha256 is {digest})")
            if digest != embedding_sha256.lower():
                raise IntegrityError(f"{path}: sha256 does not match embedding_sha256")
            import torch

            self._model = torch.jit.load(str(path), map_location="cpu").eval()
            self._tag = f"torchscript-sha256:{digest[:16]}"
        self.cache = ArrayCache()

    def _frames(self, clips: Sequence[Any]) -> np.ndarray:
        return np.concatenate(self._clip_frames(clips))

    def _clip_frames(self, clips: Sequence[Any]) -> list[np.ndarray]:
        vectors = []
        for clip in clips:
            wave = load_audio(clip, RATE)
            if self._model is None:
                # VGGish's log offset: silence and faint noise stay close, as they sound.
                vectors.append(np.log(mel_spectrum(wave, RATE, bands=64, power=1.0) + 0.01))
            else:
                import torch

                with torch.inference_mode():
                    vectors.append(np.asarray(self._model(torch.from_numpy(wave).float()), dtype=np.float64))
        return vectors

    def init(self) -> FadState:
        return FadState()

    def update(self, state: FadState, outputs: Sequence[Any], targets: Sequence[Any]) -> FadState:
        check_lengths(outputs, targets)
        clips = [GaussianStats.of(frames) for frames in self._clip_frames(outputs)]
        pooled = clips[0] if clips else None
        for clip in clips[1:]:
            pooled = pooled.merge(clip)
        new = FadState(outputs=pooled, output_clips=clips)
        if all(isinstance(t, Path) for t in targets):
            new.target_files = [(sha256_file(t), str(t)) for t in targets]
        else:
            new.targets = GaussianStats.of(self._frames(targets))
        return self.merge(state, new)

    def merge(self, a: FadState, b: FadState) -> FadState:
        return FadState(
            _merge(a.outputs, b.outputs), _merge(a.targets, b.targets), a.target_files + b.target_files, _merge_clips(a.output_clips, b.output_clips)
        )

    def _target_stats(self, state: FadState) -> GaussianStats | None:
        stats = state.targets
        if state.target_files:
            files = sorted(state.target_files)
            key = cache_key(self.fingerprint(), (sha for sha, _ in files))
            arrays = self.cache.get_or_compute(key, lambda: _stats_arrays(GaussianStats.of(self._frames([Path(p) for _, p in files]))))
            stats = _merge(stats, GaussianStats(arrays["total"], arrays["outer"], int(arrays["count"])))
        return stats

    def compute(self, state: FadState) -> dict[str, float]:
        targets = self._target_stats(state)
        if state.outputs is None or targets is None or state.outputs.count < 2 or targets.count < 2:
            return {self.name: float("nan")}
        return {self.name: stats_distance(state.outputs, targets)}

    def set_resampler(self, state: FadState) -> SetResampler | NotResampled:
        """Output clips resampled (each with all its frames); the reference statistics fixed."""
        targets = self._target_stats(state)
        if state.outputs is None or targets is None or state.outputs.count < 2 or targets.count < 2:
            return NotResampled("fewer than 2 frames on a side")
        if state.output_clips is None:
            return NotResampled(f"per-clip statistics passed the {MAX_SET_FLOATS * 8 // 2**20} MiB resampling cap")
        return ReweightedStatsFrechet(state.output_clips, targets)

    def fingerprint(self) -> str:
        return fingerprint(self.name, embedding=self._tag, rate=RATE)


def _stats_arrays(stats: GaussianStats) -> dict[str, np.ndarray]:
    return {"total": stats.total, "outer": stats.outer, "count": np.array(stats.count)}


@dataclass
class ClipVectorState:
    outputs: list[np.ndarray] = field(default_factory=list)  # one (clips, dim) block per batch, in order
    targets: list[np.ndarray] = field(default_factory=list)
    target_files: list[tuple[str, str]] = field(default_factory=list)  # (sha256, path), hashed only


class AudioPRDC:
    """Generative precision (headline), recall, density and coverage of the output clips
    against the target (or `against:`) clips: Kynkäänniemi et al. 2019 / Naeem et al. 2020
    with the `prdc` package's conventions (`mmeval.metrics.prdc`), `nearest_k` (default 5)
    neighbours, on FAD's embedding (`embedding:` as for `fad`) averaged over each clip's
    frames. Reported as `audio_prdc` (precision), `audio_prdc_recall`, `audio_prdc_density`
    (unbounded above) and `audio_prdc_coverage`. Needs more than `nearest_k` clips a side.

    Example: `- use: audio_prdc` with `args: {nearest_k: 5}`.
    """

    name = "audio_prdc"
    modality = "audio"
    higher_is_better = True
    value_range = (0.0, 1.0)
    extra_directions = {"recall": True, "density": True, "coverage": True}
    set_level = True

    def __init__(self, embedding: str = "logmel", embedding_sha256: str | None = None, nearest_k: int = DEFAULT_K):
        self._embedding = FAD(embedding, embedding_sha256)  # the same embedding, checked the same way
        self.nearest_k = check_nearest_k(nearest_k)
        self.cache = ArrayCache()
        self.note: str | None = None

    def _vectors(self, clips: Sequence[Any]) -> np.ndarray:
        vectors = []
        for clip, frames in zip(clips, self._embedding._clip_frames(clips)):
            if len(frames) == 0:
                raise InputError(f"audio {clip if isinstance(clip, (str, Path)) else '(array)'} gives no embedding frames")
            vectors.append(np.asarray(frames, np.float64).mean(axis=0))
        return np.stack(vectors) if vectors else np.zeros((0, 0))

    def init(self) -> ClipVectorState:
        return ClipVectorState()

    def update(self, state: ClipVectorState, outputs: Sequence[Any], targets: Sequence[Any]) -> ClipVectorState:
        check_lengths(outputs, targets)
        new = ClipVectorState(outputs=[self._vectors(outputs)] if len(outputs) else [])
        if all(isinstance(t, Path) for t in targets):
            new.target_files = [(sha256_file(t), str(t)) for t in targets]
        else:
            new.targets = [self._vectors(targets)]
        return self.merge(state, new)

    def merge(self, a: ClipVectorState, b: ClipVectorState) -> ClipVectorState:
        return ClipVectorState(a.outputs + b.outputs, a.targets + b.targets, a.target_files + b.target_files)

    def _sides(self, state: ClipVectorState) -> tuple[np.ndarray, np.ndarray]:
        parts = [t for t in state.targets if len(t)]
        if state.target_files:
            files = sorted(state.target_files)  # a set: order does not matter
            key = cache_key(self._cache_fingerprint(), (sha for sha, _ in files))
            parts.append(self.cache.get_or_compute(key, lambda: {"vectors": self._vectors([Path(p) for _, p in files])})["vectors"])
        outputs = [o for o in state.outputs if len(o)]
        empty = np.zeros((0, 1))
        return (np.concatenate(outputs) if outputs else empty), (np.concatenate(parts) if parts else empty)

    def compute(self, state: ClipVectorState) -> dict[str, float]:
        outputs, targets = self._sides(state)
        values, self.note = prdc_result(self.name, targets, outputs, self.nearest_k, "clips")
        return values

    def set_resampler(self, state: ClipVectorState) -> SetResampler | NotResampled:
        """Output clips resampled, the reference fixed: precision only (`precision_resampler`)."""
        outputs, targets = self._sides(state)
        return precision_resampler(targets, outputs, self.nearest_k, "clips")

    def _cache_fingerprint(self) -> str:
        return fingerprint("audio-clip-mean", embedding=self._embedding._tag, rate=RATE)

    def fingerprint(self) -> str:
        return fingerprint(self.name, embedding=self._embedding._tag, rate=RATE, pool="clip-mean",
                           nearest_k=self.nearest_k, prdc="naver-0.2-conventions")
