"""Issue 16, audio rows: PESQ, STOI and SI-SDR equal their references at the clips' own
rate (the `pesq` package, pystoi, the SI-SDR formula in numpy); a rate mismatch, or wb on
8 kHz, is a clear InputError; a silent output clip is a counted invalid pair, not a crash."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from scipy.io import wavfile

from mmeval.errors import InputError
from mmeval.media.audio import load_pair_native
from mmeval.metrics.audio.intelligibility import PESQ, PESQ_INVALID_SCORE, SISDR, STOI


def speech_at(rate: int, seed: int = 0, seconds: float = 2.0) -> np.ndarray:
    """A speech-like clip (harmonics, vibrato, syllables) generated at `rate`."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 3 * t + seed)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    harmonics = sum(np.sin(k * phase) / k for k in range(1, 15))
    return 0.3 * harmonics * (np.sin(2 * np.pi * 4 * t + seed) > 0)


def white_noise_at_snr(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(size=x.size)
    return x + noise * np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))


def si_sdr_numpy(output: np.ndarray, target: np.ndarray) -> float:
    o, t = output - output.mean(), target - target.mean()
    projection = (o @ t) / (t @ t) * t
    return float(10 * np.log10((projection @ projection) / ((o - projection) @ (o - projection))))


def values(metric, outs, tgts) -> dict[str, float]:
    return metric.compute(metric.update(metric.init(), outs, tgts))


def score(metric, outs, tgts) -> float:
    return values(metric, outs, tgts)[metric.name]


def wav(path, wave, rate):
    wavfile.write(path, rate, wave.astype(np.float32))
    return path


@pytest.mark.parametrize("snr_db", [0, 10, 20])
def test_pesq_nb_at_16k_equals_the_pesq_package_at_16k(snr_db):
    from pesq import pesq

    ref = speech_at(16_000, 1)
    deg = white_noise_at_snr(ref, snr_db, seed=snr_db)
    assert score(PESQ(mode="nb"), [(deg, 16_000)], [(ref, 16_000)]) == pytest.approx(pesq(16_000, ref, deg, "nb"), abs=1e-9)


def test_pesq_wb_on_8k_files_is_an_error_naming_the_file_and_rate(tmp_path):
    ref = speech_at(8_000)
    out, tgt = wav(tmp_path / "out.wav", white_noise_at_snr(ref, 10), 8_000), wav(tmp_path / "ref.wav", ref, 8_000)
    with pytest.raises(InputError, match=r"wb needs 16 kHz.*out\.wav.*8000 Hz"):
        score(PESQ(), [out], [tgt])
    assert np.isfinite(score(PESQ(mode="nb"), [out], [tgt]))


def test_pesq_above_16k_is_scored_at_16k():
    from pesq import pesq
    from scipy.signal import resample_poly

    ref = speech_at(48_000, 2)
    deg = white_noise_at_snr(ref, 10)
    expected = pesq(16_000, resample_poly(ref, 1, 3), resample_poly(deg, 1, 3), "wb")
    assert score(PESQ(), [(deg, 48_000)], [(ref, 48_000)]) == pytest.approx(expected, abs=1e-9)


def test_pesq_silent_output_is_a_counted_invalid_pair_and_the_mean_goes_on():
    from pesq import pesq

    ref = speech_at(16_000, 3)
    deg = white_noise_at_snr(ref, 15)
    silent = np.zeros_like(ref)
    metric = PESQ()
    result = values(metric, [(deg, 16_000), (silent, 16_000)], [(ref, 16_000), (ref, 16_000)])
    assert result["pesq_invalid"] == 1
    assert result["pesq"] == pytest.approx((pesq(16_000, ref, deg, "wb") + PESQ_INVALID_SCORE) / 2, abs=1e-9)
    assert "1 of 2 pairs" in metric.note
    # a silent target (no utterance) is invalid too; batch splits and merges give the same state
    pairs = [((deg, 16_000), (ref, 16_000)), ((silent, 16_000), (ref, 16_000)), ((deg, 16_000), (silent, 16_000))]
    whole = metric.update(metric.init(), [p[0] for p in pairs], [p[1] for p in pairs])
    split = metric.merge(metric.update(metric.init(), [pairs[0][0]], [pairs[0][1]]),
                         metric.update(metric.init(), [p[0] for p in pairs[1:]], [p[1] for p in pairs[1:]]))
    assert metric.compute(whole) == pytest.approx(metric.compute(split), abs=1e-12)
    assert metric.compute(whole)["pesq_invalid"] == 2
    assert values(metric, [(deg, 16_000)], [(ref, 16_000)])["pesq_invalid"] == 0 and metric.note is None


def test_a_run_with_a_silent_output_clip_completes(tmp_path):
    from mmeval.runner import run

    ref = speech_at(16_000, 4)
    rows, outputs = [], []
    for i, out in enumerate([white_noise_at_snr(ref, 10), np.zeros_like(ref)]):
        wav(tmp_path / f"t{i}.wav", ref, 16_000)
        wav(tmp_path / f"o{i}.wav", out, 16_000)
        rows.append({"id": f"s{i}", "input": "x", "target": f"t{i}.wav"})
        outputs.append({"id": f"s{i}", "output": f"o{i}.wav"})
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "out.jsonl").write_text("".join(json.dumps(o) + "\n" for o in outputs))
    suite = {"version": 1, "name": "silent", "dataset": {"path": "data.jsonl"},
             "models": {"candidate": {"use": "replay", "args": {"path": "out.jsonl"}}}, "metrics": [{"use": "pesq"}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    report = run(tmp_path / "suite.yaml", tmp_path / "run", progress=False).report
    by_key = {r["key"]: r for r in report["results"]}
    assert by_key["pesq_invalid"]["value"] == 1 and by_key["pesq_invalid"]["higher_is_better"] is False
    assert 1.0 <= by_key["pesq"]["value"] < 4.64 and "could not be scored" in by_key["pesq"]["note"]


@pytest.mark.parametrize("rate", [8_000, 16_000, 44_100, 48_000])
def test_si_sdr_is_the_formula_at_the_clip_rate(rate):
    ref = speech_at(rate, 5)
    deg = white_noise_at_snr(ref, 10, seed=rate)
    expected = si_sdr_numpy(deg, ref)
    assert expected == pytest.approx(10.0, abs=0.05)  # white noise at 10 dB SNR
    assert score(SISDR(), [(deg, rate)], [(ref, rate)]) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("snr_db", [0, 5, 15])
def test_stoi_at_8k_equals_pystoi_on_the_native_signal(snr_db):
    from pystoi import stoi

    ref = speech_at(8_000, 6)
    deg = white_noise_at_snr(ref, snr_db, seed=snr_db)
    for extended in (False, True):
        got = score(STOI(extended=extended), [(deg, 8_000)], [(ref, 8_000)])
        assert got == pytest.approx(stoi(ref, deg, 8_000, extended), abs=1e-9)


@pytest.mark.parametrize("metric", [PESQ(), STOI(), SISDR()], ids=lambda m: m.name)
def test_differing_rates_are_an_error_not_a_resample(tmp_path, metric):
    out = wav(tmp_path / "out.wav", speech_at(48_000), 48_000)
    tgt = wav(tmp_path / "ref.wav", speech_at(16_000), 16_000)
    with pytest.raises(InputError, match=r"different sample rates: .*out\.wav is 48000 Hz, .*ref\.wav is 16000 Hz"):
        score(metric, [out], [tgt])


def test_load_pair_native_keeps_the_rate_and_trims():
    a, b, rate = load_pair_native((np.ones(44_100), 44_100), (np.ones(44_000), 44_100))
    assert rate == 44_100 and len(a) == len(b) == 44_000


def test_fingerprints_record_the_native_rate():
    for metric in (PESQ(), STOI(), SISDR()):
        assert "rate:native" in metric.fingerprint() and "version:2" in metric.fingerprint()
    assert "invalid:1.0" in PESQ().fingerprint()
