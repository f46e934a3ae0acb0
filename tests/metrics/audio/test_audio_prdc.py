"""`audio_prdc`: generative precision / recall / density / coverage on FAD's embedding (one
clip-mean vector per clip) equal the authors' `prdc` package, whatever the batching, with
a cached reference set like FAD's."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
from scipy.io import wavfile

from mmeval.media.audio import load_audio
from mmeval.metrics.audio.dsp import mel_spectrum
from mmeval.metrics.audio.fad import FAD, RATE, AudioPRDC

from .signals import chirp, music_like, noise_bursts, speech_like

prdc_package = pytest.importorskip("prdc")  # dev-only reference (NAVER's implementation)


def reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    with contextlib.redirect_stdout(io.StringIO()):
        return {key: float(v) for key, v in prdc_package.compute_prdc(real, fake, k).items()}


def clip_vector(wave: np.ndarray) -> np.ndarray:
    """FAD's log-mel frames (VGGish's log offset), averaged over the clip."""
    return np.log(mel_spectrum(wave, RATE, bands=64, power=1.0) + 0.01).mean(axis=0)


def mixture(rng: np.random.Generator) -> np.ndarray:
    w = rng.random(4)
    return (w[0] * speech_like(int(rng.integers(100)), 0.4) + w[1] * music_like(0.4) + w[2] * chirp(0.4)
            + w[3] * noise_bursts(int(rng.integers(100)), 0.4))


@pytest.fixture(scope="module")
def clips():
    """12 outputs, 4 of them bare noise far from the reference; 12 reference mixtures."""
    rng = np.random.default_rng(0)
    outputs = [mixture(rng) for _ in range(8)] + [noise_bursts(i, 0.4) * (1 + i) for i in range(4)]
    return outputs, [mixture(rng) for _ in range(12)]


def run(metric, outputs, targets, split):
    state = metric.init()
    for i in range(0, len(outputs), split):
        state = metric.update(state, outputs[i : i + split], targets[i : i + split])
    return state, metric.compute(state)


def test_equals_the_prdc_package_on_clip_mean_embeddings_whatever_the_batching(clips):
    outputs, targets = clips
    metric = AudioPRDC(nearest_k=3)
    ref = reference(np.stack([clip_vector(t) for t in targets]), np.stack([clip_vector(o) for o in outputs]), 3)
    states = {}
    for split in (1, 5, 12):
        states[split], values = run(metric, outputs, targets, split)
        assert list(values) == ["audio_prdc", "recall", "density", "coverage"]
        assert values["audio_prdc"] == pytest.approx(ref["precision"], abs=1e-12)
        for key in ("recall", "density", "coverage"):
            assert values[key] == pytest.approx(ref[key], abs=1e-12), key
    assert 0 < values["audio_prdc"] < 1 and 0 < values["coverage"] < 1  # a case that tells values apart
    a, b = (metric.update(metric.init(), outputs[s], targets[s]) for s in (slice(0, 7), slice(7, 12)))
    assert metric.compute(metric.merge(a, b)) == metric.compute(states[12])
    # one vector per clip, from the same frames FAD uses
    frames = FAD()._clip_frames(outputs[:1])[0]
    assert np.array_equal(np.concatenate(states[1].outputs)[0], frames.mean(axis=0))


def test_precision_resampler_holds_the_reference_fixed(clips):
    outputs, targets = clips
    metric = AudioPRDC(nearest_k=3)
    state, values = run(metric, outputs, targets, 12)
    resampler = metric.set_resampler(state)
    assert resampler.fixed_reference and resampler.value(np.arange(12)) == values["audio_prdc"]


def test_reference_files_are_cached_by_content(clips, tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    outputs, targets = clips
    paths = []
    for i, t in enumerate(targets):
        paths.append(tmp_path / f"t{i}.wav")
        wavfile.write(paths[-1], RATE, t.astype(np.float32))
    first = AudioPRDC(nearest_k=3)
    _, values = run(first, outputs, paths, 5)
    loaded = [load_audio(p, RATE) for p in paths]
    _, from_arrays = run(AudioPRDC(nearest_k=3), outputs, loaded, 12)
    assert values == pytest.approx(from_arrays, abs=1e-12) and first.cache.misses == 1
    second = AudioPRDC(nearest_k=3)
    assert run(second, outputs, paths, 12)[1] == values and second.cache.hits == 1


def test_too_few_clips_bad_args_and_registry(clips):
    from mmeval.registry import METRICS

    outputs, targets = clips
    metric = AudioPRDC()
    _, values = run(metric, outputs[:5], targets[:5], 5)
    assert all(math.isnan(v) for v in values.values()) and "more than nearest_k=5 clips" in metric.note
    with pytest.raises(ValueError, match="positive integer"):
        AudioPRDC(nearest_k=0)
    assert METRICS.get("audio_prdc") is AudioPRDC and AudioPRDC.set_level and AudioPRDC.value_range == (0.0, 1.0)
    fp = AudioPRDC(nearest_k=4).fingerprint()
    assert "embedding:logmel64-v1" in fp and "pool:clip-mean" in fp and "nearest_k:4" in fp
