"""audio_similarity behaves like a perceptual score on generated speech- and music-like audio."""

from __future__ import annotations

import numpy as np
import pytest

from mmeval.metrics.audio.similarity import AudioSimilarity, similarity

from .signals import RATE, add_noise, chirp, music_like, noise_bursts, speech_like

SIGNALS = {"speech": speech_like(0), "music": music_like(), "chirp": chirp()}


@pytest.mark.parametrize("name", SIGNALS)
def test_identical_is_one_and_noise_lowers_it_monotonically(name):
    x = SIGNALS[name]
    assert similarity((x, RATE), (x, RATE)) == 1.0
    scores = [similarity((add_noise(x, snr), RATE), (x, RATE)) for snr in (30, 20, 10, 0)]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores
    assert scores[0] > 0.9 and scores[-1] < 0.7


@pytest.mark.parametrize("name", SIGNALS)
def test_gain_and_short_delay_cost_little(name):
    x = SIGNALS[name]
    assert similarity((x * 10 ** (-6 / 20), RATE), (x, RATE)) >= 0.95
    delayed = np.concatenate([np.zeros(RATE // 100), x[: -RATE // 100]])  # 10 ms
    assert similarity((delayed, RATE), (x, RATE)) >= 0.95


def test_unrelated_clips_score_low():
    assert similarity((noise_bursts(), RATE), (chirp(), RATE)) < 0.3
    assert similarity((noise_bursts(), RATE), (speech_like(), RATE)) < 0.5
    assert similarity((music_like(), RATE), (speech_like(), RATE)) < similarity((add_noise(speech_like(), 20), RATE), (speech_like(), RATE))


def test_rates_and_files(tmp_path):
    from scipy.io import wavfile

    x = speech_like(1)
    wavfile.write(tmp_path / "ref.wav", RATE, (x * 32767).astype(np.int16))
    from scipy.signal import resample_poly

    wavfile.write(tmp_path / "out.wav", 44_100, np.stack([resample_poly(x, 441, 160)] * 2, axis=1).astype(np.float32))
    assert similarity(tmp_path / "out.wav", tmp_path / "ref.wav") > 0.95  # 44.1 kHz stereo float vs 16 kHz PCM


def test_metric_state_merges():
    metric = AudioSimilarity()
    outs = [(add_noise(speech_like(0), snr), RATE) for snr in (30, 10, 0)]
    tgts = [(speech_like(0), RATE)] * 3
    whole = metric.compute(metric.update(metric.init(), outs, tgts))
    merged = metric.merge(metric.update(metric.init(), outs[:1], tgts[:1]), metric.update(metric.init(), outs[1:], tgts[1:]))
    assert metric.compute(merged) == pytest.approx(whole)
