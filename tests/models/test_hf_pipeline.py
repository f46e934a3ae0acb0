"""`hf-pipeline` on tiny random-initialised checkpoints built in code (VITS, T5)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmeval.errors import InputError, SpecError
from mmeval.media.audio import read_audio
from mmeval.media.blob import MediaBlob
from mmeval.models.integrity import write_sha256sums
from mmeval.models.hf_pipeline import HFPipeline
from tests.models.helpers import values
from tests.models.tiny_transformers import SENTENCES, tiny_musicgen, tiny_t5, tiny_vits

IDS = [f"sku-{i}" for i in range(6)]
PROMPTS = SENTENCES[:6]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {"vits": tiny_vits(root / "vits", seed=0), "vits_other": tiny_vits(root / "vits_other", seed=1),
            "t5": tiny_t5(root / "t5", seed=0)}


@pytest.fixture(scope="module")
def vits_out(models):
    return HFPipeline(models["vits"], "text-to-audio").generate(PROMPTS, seed=0, ids=IDS)


def _bytes(outputs):
    return [o.data for o in outputs]


def test_text_to_audio_gives_wav_blobs_at_the_models_rate(models, vits_out, tmp_path):
    assert [o.name for o in vits_out] == [f"{i}.wav" for i in IDS]
    for blob, text in zip(vits_out, PROMPTS):
        assert isinstance(blob, MediaBlob) and blob.suffix == ".wav"
        wave, rate = read_audio(blob)
        assert rate == 16_000 and wave.ndim == 1 and np.abs(wave).max() > 0
    lengths = [len(read_audio(b)[0]) for b in vits_out]
    assert len(set(lengths)) > 1  # a clip is as long as its text needs: no batch padding
    fast = tiny_vits(tmp_path / "vits22k", seed=0, sampling_rate=22_050)
    assert read_audio(HFPipeline(fast, "text-to-audio").generate(PROMPTS[:1], seed=0, ids=IDS[:1])[0])[1] == 22_050


def test_audio_is_seeded_per_sample_not_per_batch(models, vits_out):
    adapter = HFPipeline(models["vits"], "text-to-audio", batch_size=3)
    one_by_one = [adapter.generate([p], seed=0, ids=[i])[0] for p, i in zip(PROMPTS, IDS)]
    reversed_ = adapter.generate(PROMPTS[::-1], seed=0, ids=IDS[::-1])[::-1]
    assert _bytes(one_by_one) == _bytes(vits_out) == _bytes(reversed_)
    other_seed = adapter.generate(PROMPTS, seed=1, ids=IDS)
    assert all(a != b for a, b in zip(_bytes(other_seed), _bytes(vits_out)))  # VITS samples noise


def test_vits_settings_reach_the_model(models, vits_out):
    quiet = HFPipeline(models["vits"], "text-to-audio", noise_scale=0.0, noise_scale_duration=0.0)
    # Without noise, the seed no longer matters: the settings are what the model ran with.
    assert _bytes(quiet.generate(PROMPTS, seed=0, ids=IDS)) == _bytes(quiet.generate(PROMPTS, seed=7, ids=IDS))
    slow = HFPipeline(models["vits"], "text-to-audio", speaking_rate=0.5, noise_scale_duration=0.0)
    fast = HFPipeline(models["vits"], "text-to-audio", speaking_rate=2.0, noise_scale_duration=0.0)
    n_slow, n_fast = (len(read_audio(a.generate(PROMPTS[:1], seed=0, ids=IDS[:1])[0])[0]) for a in (slow, fast))
    assert n_slow > 1.5 * n_fast  # durations scale with 1 / speaking_rate
    assert len({a.fingerprint() for a in (quiet, slow, fast, HFPipeline(models["vits"], "text-to-audio"))}) == 4


def test_musicgen_style_model_gives_seeded_wavs_at_its_codec_rate(tmp_path):
    folder = tiny_musicgen(tmp_path / "musicgen", seed=0, sampling_rate=24_000)
    adapter = HFPipeline(folder, "text-to-audio", max_new_tokens=16, do_sample=True, batch_size=2)
    out = adapter.generate(PROMPTS[:3], seed=0, ids=IDS[:3])
    assert all(isinstance(o, MediaBlob) and read_audio(o)[1] == 24_000 for o in out)
    assert _bytes(out) == _bytes(adapter.generate(PROMPTS[:3][::-1], seed=0, ids=IDS[:3][::-1])[::-1])
    assert all(a != b for a, b in zip(_bytes(out), _bytes(adapter.generate(PROMPTS[:3], seed=1, ids=IDS[:3]))))
    longer = HFPipeline(folder, "text-to-audio", max_new_tokens=32, do_sample=True)
    assert len(read_audio(longer.generate(PROMPTS[:1], seed=0, ids=IDS[:1])[0])[0]) > len(read_audio(out[0])[0])
    guided = HFPipeline(folder, "text-to-audio", max_new_tokens=16, do_sample=True, guidance_scale=3.0)
    assert read_audio(guided.generate(PROMPTS[:1], seed=0, ids=IDS[:1])[0])[1] == 24_000  # runs with guidance
    assert guided.fingerprint() != adapter.fingerprint()


def _t5_reference(folder: Path, prompt: str, **kwargs) -> str:
    """The same checkpoint run by hand: tokenizer, generate, decode."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder, local_files_only=True).eval()
    ids = model.generate(**tok(prompt, return_tensors="pt"), **kwargs)
    return tok.decode(ids[0], skip_special_tokens=True).strip()


def test_text2text_greedy_equals_generate_and_ignores_batching(models):
    one = HFPipeline(models["t5"], "text2text-generation", batch_size=1, max_new_tokens=12)
    three = HFPipeline(models["t5"], "text2text-generation", batch_size=3, max_new_tokens=12)
    out = one.generate(PROMPTS, seed=0, ids=IDS)
    assert all(isinstance(t, str) for t in out)
    assert out == three.generate(PROMPTS, seed=0, ids=IDS)
    assert out[:2] == [_t5_reference(models["t5"], p, max_new_tokens=12, do_sample=False) for p in PROMPTS[:2]]


def test_text2text_sampling_is_seeded_per_sample(models):
    args = dict(max_new_tokens=12, do_sample=True, temperature=1.5, top_p=0.95)
    one = HFPipeline(models["t5"], "text2text-generation", batch_size=1, **args).generate(PROMPTS, seed=0, ids=IDS)
    three = HFPipeline(models["t5"], "text2text-generation", batch_size=3, **args)
    assert one == three.generate(PROMPTS, seed=0, ids=IDS) == three.generate(PROMPTS[::-1], seed=0, ids=IDS[::-1])[::-1]
    assert three.generate(PROMPTS, seed=1, ids=IDS) != one


def test_bad_folders_tasks_and_settings(models, tmp_path):
    with pytest.raises(InputError, match="model folder not found"):
        HFPipeline(tmp_path / "missing", "text-to-audio")
    with pytest.raises(InputError, match="no config.json"):
        HFPipeline(tmp_path, "text-to-audio")
    with pytest.raises(SpecError, match="'text-to-image' is not supported"):
        HFPipeline(models["t5"], "text-to-image")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="VITS model generates no tokens"):
        HFPipeline(models["vits"], "text-to-audio", do_sample=True)
    with pytest.raises(SpecError, match="VITS models only"):
        HFPipeline(models["t5"], "text-to-audio", noise_scale=0.3)
    with pytest.raises(SpecError, match="takes no noise_scale"):
        HFPipeline(models["t5"], "text2text-generation", noise_scale=0.3)
    with pytest.raises(InputError, match=r"cannot load as text-to-audio") as wrong_task:
        HFPipeline(models["t5"], "text-to-audio").generate(["red shirt"], seed=0, ids=["a"])
    assert "\n" not in str(wrong_task.value)
    with pytest.raises(InputError, match="no character of the text is in vits's vocabulary"):
        HFPipeline(models["vits"], "text-to-audio").generate(["!!"], seed=0, ids=["a"])
    with pytest.raises(InputError, match="needs a text input"):
        HFPipeline(models["t5"], "text2text-generation").generate([{"x": 1}], seed=0, ids=["a"])


def _suite(tmp: Path, rows: list[dict], models: dict, metrics: list[dict]) -> Path:
    (tmp / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = tmp / "suite.yaml"
    suite.write_text(json.dumps({"version": 1, "name": "hf-pipeline", "seed": 0, "batch_size": 4,
                                 "dataset": {"path": "data.jsonl"}, "models": models, "metrics": metrics}))
    return suite


def test_audio_suite_scores_audio_similarity_against_another_model(models, tmp_path, monkeypatch):
    from mmeval.runner import run

    monkeypatch.setenv("MMEVAL_CACHE_DIR", "off")
    rows = [{"id": i, "input": p, "target": ""} for i, p in zip(IDS, PROMPTS)]
    spec = {"reference": {"use": "hf-pipeline", "args": {"path": str(models["vits"]), "task": "text-to-audio"}},
            "same": {"use": "hf-pipeline", "args": {"path": str(models["vits"]), "task": "text-to-audio"}},
            "other": {"use": "hf-pipeline", "args": {"path": str(models["vits_other"]), "task": "text-to-audio"}}}
    suite = _suite(tmp_path, rows, spec, [{"use": "audio_similarity", "against": "reference"}])
    result = run(suite, tmp_path / "run", progress=False)
    got = values(result.report)
    assert got[("same", "audio_similarity")] == 1.0  # same weights, same seeds: the same clips
    assert got[("other", "audio_similarity")] < 1.0
    written = sorted((tmp_path / "run" / "outputs" / "reference").glob("*.wav"))
    assert [p.name for p in written] == sorted(f"{i}.wav" for i in IDS)


def test_text2text_suite_scores_bleu_and_chrf(models, tmp_path, monkeypatch):
    import sacrebleu

    from mmeval.runner import run

    monkeypatch.setenv("MMEVAL_CACHE_DIR", "off")
    args = {"path": str(models["t5"]), "task": "text2text-generation", "max_new_tokens": 10}
    outputs = HFPipeline(models["t5"], "text2text-generation", max_new_tokens=10).generate(PROMPTS, seed=0, ids=IDS)
    rows = [{"id": i, "input": p, "target": (o + " shirt").strip()} for i, p, o in zip(IDS, PROMPTS, outputs)]
    suite = _suite(tmp_path, rows, {"candidate": {"use": "hf-pipeline", "args": args}},
                   [{"use": "bleu"}, {"use": "chrf"}])
    got = values(run(suite, tmp_path / "run", progress=False).report)
    targets = [r["target"] for r in rows]
    assert got[("candidate", "bleu")] == pytest.approx(sacrebleu.corpus_bleu(outputs, [targets]).score, abs=1e-9)
    assert got[("candidate", "chrf")] == pytest.approx(sacrebleu.corpus_chrf(outputs, [targets]).score, abs=1e-9)


def _cli(suite: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmeval", "run", str(suite), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=180)


def test_cli_exit_codes_checksum_mismatch_and_bad_args(models, tmp_path):
    folder = shutil.copytree(models["t5"], tmp_path / "t5")
    write_sha256sums(folder)
    rows = [{"id": "a", "input": "red cotton shirt", "target": "red"}]
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    tampered = _suite(tmp_path, rows, {"candidate": {"use": "hf-pipeline", "args": {
        "path": str(folder), "task": "text2text-generation"}}}, [{"use": "bleu"}])
    result = _cli(tampered, tmp_path / "run4")
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("error:") and "model.safetensors" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    (tmp_path / "bad").mkdir()
    bad = _suite(tmp_path / "bad", rows, {"candidate": {"use": "hf-pipeline", "args": {
        "path": str(models["t5"]), "task": "text-to-image"}}}, [{"use": "bleu"}])
    result = _cli(bad, tmp_path / "run2")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error:") and "task" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_wav_blob_keeps_channels_and_rate():
    from scipy.io import wavfile

    from mmeval.models.hf_pipeline import wav_blob

    stereo = np.stack([np.linspace(-1, 1, 50), -np.linspace(-1, 1, 50)])
    rate, pcm = wavfile.read(wav_blob(stereo, 32_000, "x.wav").open())
    assert rate == 32_000 and pcm.shape == (50, 2) and pcm[0].tolist() == [-32767, 32767]
    rate, pcm = wavfile.read(wav_blob(np.array([0.5, 2.0, -2.0]), 16_000, "x.wav").open())
    assert pcm.tolist() == [16384, 32767, -32768]  # 0.5 * 32767 rounds to 16384; beyond +-1 clips
