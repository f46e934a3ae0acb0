"""PESQ, STOI and SI-SDR equal the libraries called directly; FAD is a Fréchet distance
of log-mel frame statistics; audio inputs fail with clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import wavfile

from mmeval.errors import InputError, IntegrityError
from mmeval.media.audio import fit_lengths, read_audio
from mmeval.metrics.audio.fad import FAD
from mmeval.metrics.audio.intelligibility import PESQ, SISDR, STOI

from .signals import RATE, add_noise, chirp, music_like, speech_like


def score(metric, outs, tgts):
    return metric.compute(metric.update(metric.init(), outs, tgts))[metric.name]


@pytest.mark.parametrize("mode, rate", [("wb", 16_000), ("nb", 8_000)])
def test_pesq_equals_direct_call(mode, rate):
    from pesq import pesq
    from scipy.signal import resample_poly

    ref = speech_like(0)
    deg = add_noise(ref, 15)
    if rate != RATE:  # nb on 8 kHz clips; 16 kHz nb is in test_against_references_audio.py
        ref, deg = resample_poly(ref, 1, 2), resample_poly(deg, 1, 2)
    assert score(PESQ(mode=mode), [(deg, rate)], [(ref, rate)]) == pytest.approx(pesq(rate, ref, deg, mode), abs=1e-6)


def test_stoi_equals_pystoi():
    from pystoi import stoi

    ref = speech_like(2)
    deg = add_noise(ref, 5)
    for extended in (False, True):
        assert score(STOI(extended=extended), [(deg, RATE)], [(ref, RATE)]) == pytest.approx(stoi(ref, deg, RATE, extended), abs=1e-6)


def test_si_sdr_equals_formula():
    ref = speech_like(3)
    deg = 0.5 * add_noise(ref, 10)
    r, d = ref - ref.mean(), deg - deg.mean()
    target = (d @ r) / (r @ r) * r
    expected = 10 * np.log10((target @ target) / ((d - target) @ (d - target)))
    assert score(SISDR(), [(deg, RATE)], [(ref, RATE)]) == pytest.approx(expected, abs=1e-4)


def test_fad_is_zero_for_same_set_and_grows_with_difference(tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    clips = [(speech_like(i), RATE) for i in range(4)]
    fad = FAD()
    assert abs(score(fad, clips, clips)) < 1e-6
    near = score(FAD(), [(add_noise(c[0], 30), RATE) for c in clips], clips)
    far = score(FAD(), [(music_like(), RATE), (chirp(), RATE)] * 2, clips)
    assert 0 < near < far
    assert "embedding:logmel64-v1" in fad.fingerprint()


def test_fad_reference_files_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"r{i}.wav")
        wavfile.write(paths[-1], RATE, speech_like(i).astype(np.float32))
    outs = [(music_like(), RATE)] * 3
    first, second = FAD(), FAD()
    a = score(first, outs, paths)
    b = score(second, outs, paths)
    assert a == b and first.cache.misses == 1 and second.cache.hits == 1


def test_pretrained_embedding_is_checksummed(tmp_path):
    import torch

    class Frames(torch.nn.Module):
        def forward(self, wave: torch.Tensor) -> torch.Tensor:
            return wave[: (wave.numel() // 160) * 160].reshape(-1, 160)[:, :8]

    path = tmp_path / "embed.pt"
    torch.jit.script(Frames()).save(str(path))
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    fad = FAD(embedding=str(path), embedding_sha256=digest)
    assert np.isfinite(score(fad, [(speech_like(0), RATE)] * 2, [(chirp(), RATE)] * 2))
    with pytest.raises(IntegrityError):
        FAD(embedding=str(path), embedding_sha256="0" * 64)
    with pytest.raises(InputError, match="not found"):
        FAD(embedding=str(tmp_path / "missing.pt"), embedding_sha256=digest)


def test_bad_audio_inputs(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not a wave")
    with pytest.raises(InputError, match="bad.wav"):
        read_audio(bad)
    empty = tmp_path / "empty.wav"
    wavfile.write(empty, RATE, np.zeros(0, np.int16))
    with pytest.raises(InputError, match="empty"):
        read_audio(empty)
    with pytest.raises(InputError, match="NaN"):
        read_audio(np.array([0.0, np.nan]))
    with pytest.raises(InputError, match=r"different lengths: out\.wav is 1\.000 s, ref\.wav is 2\.000 s.*length: trim or pad"):
        fit_lengths(np.zeros(RATE), np.zeros(2 * RATE), "error", ("out.wav", "ref.wav"), RATE)


def test_metrics_work_in_a_fresh_process_without_the_test_compat_step():
    import subprocess
    import sys

    code = (
        "import numpy as np; from mmeval.metrics.audio.intelligibility import STOI; m = STOI();"
        "x = np.sin(np.arange(16000) / 7.0);"
        "print(m.compute(m.update(m.init(), [(x, 16000)], [(x, 16000)]))['stoi'])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert float(proc.stdout) == pytest.approx(1.0, abs=1e-6)
