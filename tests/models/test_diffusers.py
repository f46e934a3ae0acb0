"""`diffusers` on a tiny random StableDiffusionPipeline built in code (real diffusers, offline)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmeval.errors import InputError, IntegrityError, MissingExtra, SpecError
from mmeval.media.blob import MediaBlob
from mmeval.models.diffusers_pipeline import DiffusersPipeline
from mmeval.models.integrity import write_sha256sums
from tests.models.tiny_pipelines import build_tiny_sd

PROMPTS = ["Red Wool Cap", "Blue Cotton Shirt", "Green Silk Scarf", "Black Leather Bag", "White Linen Dress"]
IDS = ["sku-1", "sku-2", "sku-3", "sku-4", "sku-5"]
FAST = {"num_inference_steps": 2}


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MMEVAL_CACHE_DIR", "off")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models on a shared CI box: OpenMP threads spin-wait for each other on busy
    cores (a call takes 3.4 s with 2 threads at load 6, 0.07 s with one). One thread gives
    the same floats here (the kernels' blocking does not follow the thread count)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    return build_tiny_sd(tmp_path_factory.mktemp("pipelines") / "tiny-sd")


@pytest.fixture
def pipeline_copy(pipeline_dir, tmp_path):
    return shutil.copytree(pipeline_dir, tmp_path / "tiny-sd")


def _bytes(adapter, prompts=PROMPTS, ids=IDS, seed=0):
    return [b.data for b in adapter.generate(prompts, seed=seed, ids=ids)]


def test_outputs_are_in_memory_pngs_named_by_sample(pipeline_dir, tmp_path):
    blobs = DiffusersPipeline(pipeline_dir, batch_size=2, **FAST).generate(PROMPTS[:3], seed=0, ids=IDS[:3])
    assert [b.name for b in blobs] == ["sku-1.png", "sku-2.png", "sku-3.png"]
    assert all(isinstance(b, MediaBlob) and b.data.startswith(b"\x89PNG") for b in blobs)
    image = Image.open(blobs[0].open())
    assert (image.format, image.mode, image.size) == ("PNG", "RGB", (32, 32))  # UNet 16^2 latents, VAE factor 2
    assert np.asarray(image).std() > 0  # not a blank frame
    other = DiffusersPipeline(pipeline_dir, height=24, width=40, **FAST).generate(PROMPTS[:1], seed=0, ids=IDS[:1])
    assert Image.open(other[0].open()).size == (40, 24)
    assert not any(tmp_path.iterdir())  # the run decides where media go


def test_images_are_seeded_per_sample_not_per_batch(pipeline_dir):
    adapter = DiffusersPipeline(pipeline_dir, batch_size=3, **FAST)
    whole = _bytes(adapter)
    one_at_a_time = [_bytes(adapter, [p], [i])[0] for p, i in zip(PROMPTS, IDS)]  # as a suite with batch_size 1
    reordered = _bytes(adapter, PROMPTS[::-1], IDS[::-1])[::-1]
    resumed = _bytes(adapter, PROMPTS[1::2], IDS[1::2])  # a resumed run generates only what was missing
    assert whole == one_at_a_time == reordered
    assert resumed == whole[1::2]
    assert _bytes(DiffusersPipeline(pipeline_dir, batch_size=3, **FAST)) == whole  # a fresh load too
    assert len(set(whole)) == len(whole)
    assert not set(_bytes(adapter, seed=1)) & set(whole)


def test_another_call_shape_moves_pixels_by_at_most_one_level(pipeline_dir):
    """The noise is the same at any batch_size (per-sample generators); the float kernels
    are not, so batch_size is in the fingerprint and a cache never mixes two shapes."""
    one, three = DiffusersPipeline(pipeline_dir, batch_size=1, **FAST), DiffusersPipeline(pipeline_dir, batch_size=3, **FAST)
    pairs = [(np.asarray(Image.open(a.open()), int), np.asarray(Image.open(b.open()), int))
             for a, b in zip(one.generate(PROMPTS, seed=0, ids=IDS), three.generate(PROMPTS, seed=0, ids=IDS))]
    assert max(np.abs(a - b).max() for a, b in pairs) <= 1
    assert np.mean([(a == b).mean() for a, b in pairs]) > 0.99
    assert one.fingerprint() != three.fingerprint()


def test_fingerprint_covers_files_and_settings(pipeline_copy):
    base = DiffusersPipeline(pipeline_copy, **FAST)
    assert base.fingerprint() == DiffusersPipeline(pipeline_copy, **FAST).fingerprint()
    assert "files:" in base.fingerprint() and "diffusers:" in base.fingerprint()
    for changed in ({"num_inference_steps": 3}, {"guidance_scale": 1.0}, {"negative_prompt": "blurry"},
                    {"height": 24}, {"width": 24}, {"dtype": "bfloat16"}, {"batch_size": 2}):
        assert DiffusersPipeline(pipeline_copy, **{**FAST, **changed}).fingerprint() != base.fingerprint(), changed
    config = pipeline_copy / "scheduler" / "scheduler_config.json"
    config.write_text(config.read_text().replace('"beta_end": 0.012', '"beta_end": 0.02'))
    assert DiffusersPipeline(pipeline_copy, **FAST).fingerprint() != base.fingerprint()


def test_negative_prompt_and_guidance_reach_the_pipeline(pipeline_dir):
    plain = _bytes(DiffusersPipeline(pipeline_dir, **FAST), PROMPTS[:1], IDS[:1])
    assert _bytes(DiffusersPipeline(pipeline_dir, negative_prompt="blurry, text", **FAST), PROMPTS[:1], IDS[:1]) != plain
    assert _bytes(DiffusersPipeline(pipeline_dir, guidance_scale=1.0, **FAST), PROMPTS[:1], IDS[:1]) != plain


def _suite(tmp_path, pipeline, targets, extra_models=""):
    rows = [{"id": i, "input": p, "target": f"targets/{i}.png"} for p, i in zip(PROMPTS, IDS)]
    (tmp_path / "targets").mkdir(exist_ok=True)
    for blob in targets:
        (tmp_path / "targets" / blob.name).write_bytes(blob.data)
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "version: 1\nname: diffusers-smoke\nseed: 0\nbatch_size: 4\ndataset: {path: data.jsonl}\nmodels:\n"
        f"  reference: {{use: diffusers, args: {{path: {pipeline}, num_inference_steps: 2, batch_size: 2}}}}\n"
        f"{extra_models}"
        "metrics:\n  - use: ssim\n  - {use: fid, args: {weights: random}}\n"
        "  - {use: ssim, name: ssim_vs_reference, against: reference}\n"
        "thresholds:\n  - {model: reference, metric: ssim, min: 0.999}\n"
    )
    return suite


def test_suite_runs_with_fid_and_ssim(pipeline_dir, tmp_path):
    from mmeval.runner import run

    targets = DiffusersPipeline(pipeline_dir, num_inference_steps=2, batch_size=2).generate(PROMPTS, seed=0, ids=IDS)
    fewer = f"  one_step: {{use: diffusers, args: {{path: {pipeline_dir}, num_inference_steps: 1, batch_size: 2}}}}\n"
    result = run(_suite(tmp_path, pipeline_dir, targets, fewer), tmp_path / "run", progress=False)
    assert result.status == "pass", result.report.get("reason")
    values = {(r["model"], r["metric"]): r["value"] for r in result.report["results"] if r.get("kind") != "efficiency"}
    assert values["reference", "ssim"] == pytest.approx(1.0)  # the run's images are the adapter's, byte for byte
    assert abs(values["reference", "fid"]) < 1e-6
    assert values["one_step", "ssim"] < 0.99 and values["one_step", "fid"] > 1e-3
    assert values["one_step", "ssim_vs_reference"] == pytest.approx(values["one_step", "ssim"])
    written = tmp_path / "run" / "outputs" / "reference"
    assert [(written / b.name).read_bytes() for b in targets] == [b.data for b in targets]


def _cli(repo, suite, out):
    import os

    return subprocess.run([sys.executable, "-m", "mmeval", "run", str(suite), "--out", str(out), "--quiet"],
                          cwd=repo, capture_output=True, text=True, timeout=180, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_cli_exits_4_when_a_file_does_not_match_the_folders_sha256sums(repo, pipeline_copy, tmp_path):
    write_sha256sums(pipeline_copy)
    DiffusersPipeline(pipeline_copy, **FAST)  # verifies
    weights = pipeline_copy / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    result = _cli(repo, _suite(tmp_path, pipeline_copy, []), tmp_path / "run")
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("error:") and "diffusion_pytorch_model.safetensors" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_cli_exits_2_for_a_folder_that_is_not_a_pipeline(repo, tmp_path):
    folder = tmp_path / "not-a-pipeline"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    result = _cli(repo, _suite(tmp_path, folder, []), tmp_path / "run")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error:") and "model_index.json: not found" in result.stderr
    assert "save_pretrained" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("change, message", [
    (lambda index: index.update(_class_name="EvilPipeline"), "_class_name 'EvilPipeline' is not a diffusers pipeline"),
    (lambda index: index.update(_class_name=["pipeline", "MyPipeline"]), "custom pipelines are refused"),
    (lambda index: index.update(unet=["my_unet", "MyUNet"]), "component 'unet'"),
    (lambda index: index.update(unet=["diffusers", "os.system"]), "component 'unet'"),
    (lambda index: index.update(unet=["diffusers"]), "component 'unet'"),
])
def test_a_model_index_naming_foreign_classes_is_refused(pipeline_copy, change, message):
    index_file = pipeline_copy / "model_index.json"
    index = json.loads(index_file.read_text())
    change(index)
    index_file.write_text(json.dumps(index))
    with pytest.raises(InputError, match=message):
        DiffusersPipeline(pipeline_copy)


def test_a_folder_carrying_code_is_refused(pipeline_copy):
    config = pipeline_copy / "text_encoder" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "auto_map": {"AutoModel": "other/repo--m.Model"}}))
    with pytest.raises(InputError, match=r"text_encoder/config.json: names custom code \(auto_map\)"):
        DiffusersPipeline(pipeline_copy)
    (pipeline_copy / "unet" / "diffusers.py").write_text("import os\n")
    with pytest.raises(InputError, match=r"unet/diffusers.py: a pipeline folder with code"):
        DiffusersPipeline(pipeline_copy)


def test_files_changed_after_the_suite_loaded_are_refused(pipeline_copy):
    adapter = DiffusersPipeline(pipeline_copy, **FAST)
    (pipeline_copy / "unet" / "config.json").write_text((pipeline_copy / "unet" / "config.json").read_text() + " ")
    with pytest.raises(IntegrityError, match="changed after the suite was loaded"):
        adapter.generate(PROMPTS[:1], seed=0, ids=IDS[:1])


def test_pickle_weights_are_not_loaded(pipeline_copy):
    import torch
    from safetensors.torch import load_file

    weights = pipeline_copy / "vae" / "diffusion_pytorch_model.safetensors"
    torch.save(load_file(str(weights)), weights.with_suffix(".bin"))
    weights.unlink()
    with pytest.raises(InputError, match=r"cannot load the pipeline \(.*vae.*safetensors weights only$"):
        DiffusersPipeline(pipeline_copy, **FAST).generate(PROMPTS[:1], seed=0, ids=IDS[:1])


def test_arguments_are_checked_when_the_suite_loads(pipeline_dir, tmp_path):
    from mmeval.plugins import build
    from mmeval.registry import MODELS

    def make(**args):
        return build(MODELS, "diffusers", {"path": str(pipeline_dir), **args}, "suite: models.m", tmp_path)

    assert isinstance(make(), DiffusersPipeline) and make().dtype == "float32"
    for args, message in [({"dtype": "float8"}, "dtype"), ({"dtype": "float16"}, "float16 needs a GPU"),
                          ({"height": 30}, "multiple of 8"), ({"batch_size": 0}, "batch_size"),
                          ({"device": "tpu"}, "device 'tpu'"), ({"guidance": 3}, "did you mean 'guidance_scale'")]:
        with pytest.raises(SpecError, match=message):
            make(**args)
    with pytest.raises(InputError, match="pipeline folder not found"):
        make(path=str(tmp_path / "missing"))
    with pytest.raises(InputError, match="needs text prompts"):
        make(**FAST).generate([{"x": 1}], seed=0, ids=["a"])


def test_missing_diffusers_names_the_extra(pipeline_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # as if not installed: import raises ImportError
    with pytest.raises(MissingExtra, match=r"pip install 'mmeval\[diffusers\]'"):
        DiffusersPipeline(pipeline_dir)
