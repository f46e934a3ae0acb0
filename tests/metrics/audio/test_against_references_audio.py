"""Issue 16, audio rows: PESQ, STOI and SI-SDR equal their references at the clips' own
rate (the `pesq` package, pystoi, the SI-SDR formula in numpy and torchmetrics); a rate
mismatch, or wb on 8 kHz, is a clear InputError; a silent or constant clip is a counted
invalid pair with a defined score, not a crash or a NaN; different lengths follow `length:`
(trim by default, pad, error) and equal the references on the pair trimmed or padded by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from scipy.io import wavfile

from mmeval.errors import InputError
from mmeval.media.audio import fit_lengths
from mmeval.metrics.audio.intelligibility import PESQ, PESQ_INVALID_SCORE, SISDR, STOI
from mmeval.metrics.audio.similarity import AudioSimilarity


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


def si_sdr_torchmetrics(output: np.ndarray, target: np.ndarray, zero_mean: bool = True) -> float:
    import torch
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

    return float(scale_invariant_signal_distortion_ratio(torch.from_numpy(output), torch.from_numpy(target), zero_mean=zero_mean))


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


@pytest.mark.parametrize("rate", [8_000, 16_000, 44_100, 48_000])
def test_si_sdr_is_the_formula_at_the_clip_rate(rate):
    ref = speech_at(rate, 5)
    deg = white_noise_at_snr(ref, 10, seed=rate)
    expected = si_sdr_numpy(deg, ref)
    assert expected == pytest.approx(10.0, abs=0.05)  # white noise at 10 dB SNR
    assert score(SISDR(), [(deg, rate)], [(ref, rate)]) == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(si_sdr_torchmetrics(deg, ref), abs=1e-9)


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




def test_pesq_wb_at_8k_is_refused_even_for_a_silent_clip():
    with pytest.raises(InputError, match="wb needs 16 kHz"):
        score(PESQ(), [(np.zeros(16_000), 8_000)], [(speech_at(8_000), 8_000)])


# --- silent and constant clips -------------------------------------------------------------

REF16 = speech_at(16_000, 7)
DEG16 = white_noise_at_snr(REF16, 10, seed=7)
SILENT, CONSTANT = np.zeros_like(REF16), np.full_like(REF16, 0.25)
FLAT_PAIRS = {  # (output, target)
    "silent output": (SILENT, REF16),
    "constant output": (CONSTANT, REF16),
    "silent target": (DEG16, SILENT),
    "constant target": (DEG16, CONSTANT),
    "both silent": (SILENT, SILENT),
}


def test_what_the_references_do_on_flat_clips():
    """The facts the metrics' choices rest on (see their docstrings)."""
    from pystoi import stoi

    assert si_sdr_torchmetrics(SILENT, REF16) == 0.0 and si_sdr_torchmetrics(SILENT, SILENT) == 0.0
    assert si_sdr_torchmetrics(DEG16, SILENT) < -150  # eps over the output's energy
    assert np.isnan(si_sdr_numpy(SILENT, REF16))  # the formula itself is 0/0
    assert stoi(REF16, SILENT, 16_000) == 0.0
    assert stoi(REF16, CONSTANT, 16_000) > 0.5  # a DC output "intelligible": why flat clips are not scored
    with pytest.warns(RuntimeWarning, match="Not enough STFT frames"):
        assert stoi(REF16[:3_000], DEG16[:3_000], 16_000) == 1e-5


@pytest.mark.parametrize("case", FLAT_PAIRS)
@pytest.mark.parametrize("metric, expected", [(PESQ(), PESQ_INVALID_SCORE), (STOI(), 0.0), (STOI(extended=True), 0.0),
                                              (SISDR(), 0.0), (AudioSimilarity(), 0.0)],
                         ids=["pesq", "stoi", "estoi", "si_sdr", "audio_similarity"])
def test_a_flat_clip_scores_a_defined_value_and_is_counted(case, metric, expected):
    out, tgt = FLAT_PAIRS[case]
    if isinstance(metric, AudioSimilarity) and case == "both silent":
        expected = 1.0  # nothing audible in either clip: identical
    result = values(metric, [(out, 16_000)], [(tgt, 16_000)])
    assert result[metric.name] == expected and result[f"{metric.name}_invalid"] == 1
    assert metric.note.startswith("1 of 1 pairs have a silent or constant clip")


def test_flat_pairs_keep_the_mean_defined_and_merge_exactly():
    from pystoi import stoi

    pairs = [((DEG16, 16_000), (REF16, 16_000))] + [((o, 16_000), (t, 16_000)) for o, t in FLAT_PAIRS.values()]
    outs, tgts = [p[0] for p in pairs], [p[1] for p in pairs]
    for metric, good, bad in [(SISDR(), si_sdr_numpy(DEG16, REF16), 0.0), (STOI(), stoi(REF16, DEG16, 16_000), 0.0)]:
        whole = values(metric, outs, tgts)
        assert whole[metric.name] == pytest.approx((good + bad * len(FLAT_PAIRS)) / len(pairs), abs=1e-9)
        assert whole[f"{metric.name}_invalid"] == len(FLAT_PAIRS)
        split = metric.merge(metric.update(metric.init(), outs[:2], tgts[:2]), metric.update(metric.init(), outs[2:], tgts[2:]))
        assert metric.compute(split) == whole
        assert values(metric, outs[:1], tgts[:1])[f"{metric.name}_invalid"] == 0 and metric.note is None


def test_stoi_with_too_little_speech_is_invalid_not_pystois_sentinel():
    short = values(STOI(), [(DEG16[:3_000], 16_000)], [(REF16[:3_000], 16_000)])
    assert short == {"stoi": 0.0, "stoi_invalid": 1.0}


def test_audio_similarity_flat_at_another_rate_is_still_flat():
    # resampling a constant 44.1 kHz clip to 16 kHz rings at its edges; the check runs before
    assert values(AudioSimilarity(), [(np.full(44_100, 0.3), 44_100)], [(REF16, 16_000)])["audio_similarity_invalid"] == 1


# --- different lengths ---------------------------------------------------------------------

LONG_REF = speech_at(16_000, 8, seconds=2.0)
SHORT_DEG = white_noise_at_snr(LONG_REF, 10, seed=8)[:28_800]  # 1.8 s against 2 s


def test_what_the_peers_do_on_different_lengths():
    from pesq import pesq
    from pystoi import stoi

    assert np.isfinite(pesq(16_000, LONG_REF, SHORT_DEG, "wb"))  # the package takes them as they are
    with pytest.raises(Exception, match="same length"):
        stoi(LONG_REF, SHORT_DEG, 16_000)
    with pytest.raises(RuntimeError, match="same shape"):
        si_sdr_torchmetrics(SHORT_DEG, LONG_REF)


def _by_hand(length: str) -> tuple[np.ndarray, np.ndarray]:
    if length == "trim":
        return SHORT_DEG, LONG_REF[: len(SHORT_DEG)]
    return np.concatenate([SHORT_DEG, np.zeros(len(LONG_REF) - len(SHORT_DEG))]), LONG_REF


@pytest.mark.parametrize("length", ["trim", "pad"])
def test_lengths_equal_the_references_on_the_pair_trimmed_or_padded_by_hand(length):
    from pesq import pesq
    from pystoi import stoi

    out, tgt = _by_hand(length)
    pair = ([(SHORT_DEG, 16_000)], [(LONG_REF, 16_000)])
    assert score(PESQ(length=length), *pair) == pytest.approx(pesq(16_000, tgt, out, "wb"), abs=1e-9)
    assert score(STOI(length=length), *pair) == pytest.approx(stoi(tgt, out, 16_000), abs=1e-9)
    assert score(SISDR(length=length), *pair) == pytest.approx(si_sdr_torchmetrics(out, tgt), abs=1e-9)
    assert score(SISDR(length=length), *pair) == pytest.approx(si_sdr_numpy(out, tgt), abs=1e-6)
    similarity = AudioSimilarity(length=length)
    assert score(similarity, *pair) == pytest.approx(score(AudioSimilarity(), [(out, 16_000)], [(tgt, 16_000)]), abs=1e-12)
    how = "trimmed to the shorter clip" if length == "trim" else "zero-padded to the longer clip"
    assert similarity.note == f"1 of 1 pairs differ in length and were {how} (length: {length})"


@pytest.mark.parametrize("metric", [PESQ, STOI, SISDR, AudioSimilarity], ids=lambda m: m.name)
def test_length_default_is_trim_error_refuses_and_the_fingerprint_records_it(tmp_path, metric):
    out, tgt = wav(tmp_path / "out.wav", SHORT_DEG, 16_000), wav(tmp_path / "ref.wav", LONG_REF, 16_000)
    assert metric().length == "trim" and "length:trim" in metric().fingerprint()
    assert score(metric(), [out], [tgt]) == pytest.approx(score(metric(length="trim"), [out], [tgt]), abs=1e-12)
    assert "length:pad" in metric(length="pad").fingerprint()
    with pytest.raises(InputError, match=r"different lengths: .*out\.wav is 1\.800 s, .*ref\.wav is 2\.000 s.*length: trim or pad"):
        score(metric(length="error"), [out], [tgt])
    with pytest.raises(ValueError, match="length must be one of error, trim, pad, not 'cut'"):
        metric(length="cut")


def test_audio_similarity_at_two_rates_rounds_without_a_length_difference():
    from scipy.signal import resample_poly

    target = REF16[:16_001]  # 1.0000625 s: no whole number of samples at 44.1 kHz
    for samples in (44_102, 44_103):  # both within a 16 kHz sample of that duration
        output = resample_poly(target, 441, 160)[:samples]
        metric = AudioSimilarity(length="error")
        assert values(metric, [(output, 44_100)], [(target, 16_000)])["audio_similarity"] > 0.95 and metric.note is None
    with pytest.raises(InputError, match="different lengths"):
        score(AudioSimilarity(length="error"), [(resample_poly(target, 441, 160)[:44_000], 44_100)], [(target, 16_000)])


def test_fit_lengths():
    a, b = np.arange(5.0), np.arange(3.0)
    assert [len(x) for x in fit_lengths(a, b, "trim", ("a", "b"), 8_000)[:2]] == [3, 3]
    padded_a, padded_b, changed = fit_lengths(a, b, "pad", ("a", "b"), 8_000)
    assert changed and padded_b.tolist() == [0, 1, 2, 0, 0] and padded_a.tolist() == a.tolist()
    assert fit_lengths(a, a, "error", ("a", "b"), 8_000)[2] is False


def test_trimming_a_target_down_to_silence_is_a_flat_pair():
    target = np.concatenate([np.zeros(16_000), REF16])  # speech starts after 1 s
    result = values(SISDR(), [(DEG16[:8_000], 16_000)], [(target, 16_000)])
    assert result == {"si_sdr": 0.0, "si_sdr_invalid": 1.0}


def test_fingerprints_record_rate_length_and_invalid_score():
    for metric in (PESQ(), STOI(), SISDR()):
        assert "rate:native" in metric.fingerprint() and "version:3" in metric.fingerprint()
    assert "invalid:1.0" in PESQ().fingerprint() and "invalid:0" in SISDR().fingerprint()
    assert "nsim-mel32-v2" in AudioSimilarity().fingerprint()


# --- end to end ------------------------------------------------------------------------------

def test_a_run_with_a_silent_and_a_shorter_output_completes_and_reports_them(tmp_path):
    from mmeval.runner import run

    ref = speech_at(16_000, 4)
    rows, outputs = [], []
    for i, out in enumerate([white_noise_at_snr(ref, 10), np.zeros_like(ref), white_noise_at_snr(ref, 20)[:30_000]]):
        wav(tmp_path / f"t{i}.wav", ref, 16_000)
        wav(tmp_path / f"o{i}.wav", out, 16_000)
        rows.append({"id": f"s{i}", "input": "x", "target": f"t{i}.wav"})
        outputs.append({"id": f"s{i}", "output": f"o{i}.wav"})
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "out.jsonl").write_text("".join(json.dumps(o) + "\n" for o in outputs))
    metrics = [{"use": "pesq"}, {"use": "stoi"}, {"use": "si_sdr"}, {"use": "audio_similarity"}]
    suite = {"version": 1, "name": "silent", "dataset": {"path": "data.jsonl"},
             "models": {"candidate": {"use": "replay", "args": {"path": "out.jsonl"}}}, "metrics": metrics}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    report = run(tmp_path / "suite.yaml", tmp_path / "run", progress=False).report
    by_key = {r["key"]: r for r in report["results"]}
    for name in ("pesq", "stoi", "si_sdr", "audio_similarity"):
        assert by_key[f"{name}_invalid"]["value"] == 1 and by_key[f"{name}_invalid"]["higher_is_better"] is False
        assert np.isfinite(by_key[name]["value"]) and "length:trim" in by_key[name]["fingerprint"]
        assert by_key[name]["note"] == (f"1 of 3 pairs have {metric_by_name(name).invalid_reason} and score "
                                        f"{metric_by_name(name).invalid_text}; 1 of 3 pairs differ in length and were "
                                        "trimmed to the shorter clip (length: trim)")
    assert 1.0 <= by_key["pesq"]["value"] < 4.64


def metric_by_name(name: str):
    return {"pesq": PESQ, "stoi": STOI, "si_sdr": SISDR, "audio_similarity": AudioSimilarity}[name]
