"""Reference weights are verified against SHA256SUMS before loading."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from mmeval.errors import InputError, IntegrityError
from mmeval.models.integrity import read_manifest, verify_folder
from mmeval.models.reference import ReferenceGenerator


@pytest.fixture
def models_copy(repo, tmp_path):
    root = tmp_path / "reference_models"
    root.mkdir()
    shutil.copy(repo / "reference_models" / "SHA256SUMS", root)
    shutil.copytree(repo / "reference_models" / "image", root / "image")
    return root


def test_committed_manifest_covers_every_weight_file(repo):
    root = repo / "reference_models"
    listed = set(read_manifest(root / "SHA256SUMS"))
    weights = {p.relative_to(root).as_posix() for p in root.glob("*/*/*") if p.is_file()}
    assert weights and weights == listed
    for modality in ("text", "image", "audio"):
        for variant in ("final", "degraded"):
            verify_folder(root / "SHA256SUMS", root / modality / variant)


def test_tampered_weights_are_refused(models_copy):
    weights = models_copy / "image" / "final" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="model.safetensors.*does not match"):
        ReferenceGenerator("image", "final", root=models_copy)
    ReferenceGenerator("image", "degraded", root=models_copy)  # untouched variant still loads


def test_missing_weights_name_the_file(models_copy):
    (models_copy / "image" / "final" / "config.json").unlink()
    with pytest.raises(InputError, match=r"image/final/config.json: listed in SHA256SUMS but missing"):
        ReferenceGenerator("image", "final", root=models_copy)


def test_cli_exits_4_on_a_tampered_weights_file(repo, models_copy, tmp_path):
    weights = models_copy / "image" / "degraded" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    suite = tmp_path / "s.yaml"
    dataset = (repo / "suites/data/ecommerce/image.jsonl").resolve()
    suite.write_text(
        f"version: 1\nname: t\ndataset: {{path: {dataset}}}\n"
        f"models:\n  candidate: {{use: reference, args: {{name: image, variant: degraded, root: {models_copy}}}}}\n"
    )
    result = subprocess.run([sys.executable, "-m", "mmeval", "run", str(suite), "--out", str(tmp_path / "run"), "--quiet"],
                            cwd=repo, capture_output=True, text=True, timeout=120)
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("error:") and "model.safetensors" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def _pipeline_folder(root):
    (root / "unet").mkdir(parents=True)
    (root / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"weights")
    (root / "model_index.json").write_text("{}")
    return root


def test_checkpoint_digest_hashes_every_file_below_the_folder(tmp_path):
    from mmeval.models.integrity import checkpoint_digest

    folder = _pipeline_folder(tmp_path / "p")
    before = checkpoint_digest(folder)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"other")
    assert checkpoint_digest(folder) != before


def test_checkpoint_digest_verifies_a_manifest_and_refuses_unlisted_files(tmp_path):
    from mmeval.models.integrity import checkpoint_digest, write_sha256sums

    folder = _pipeline_folder(tmp_path / "p")
    write_sha256sums(folder)
    checkpoint_digest(folder)
    (folder / "unet" / "extra.bin").write_bytes(b"x")
    with pytest.raises(IntegrityError, match="extra.bin: not listed"):
        checkpoint_digest(folder)
    (folder / "unet" / "extra.bin").unlink()
    (folder / "model_index.json").write_text('{"swapped": true}')
    with pytest.raises(IntegrityError, match="model_index.json: sha256"):
        checkpoint_digest(folder)
