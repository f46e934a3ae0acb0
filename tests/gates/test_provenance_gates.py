"""`watermark` and `provenance` gates in real runs of the reference generators."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from mmeval.errors import SpecError
from mmeval.provenance.files import WatermarkKeys, detect_value
from mmeval.provenance.manifest import read_manifest, verify_asset, verify_claim
from mmeval.runner import run
from mmeval.security.store import RecordStore
from tests.cli.test_cli import mmeval
from tests.conftest import REPO


@pytest.fixture
def ring(isolated_keyring):
    return isolated_keyring


def _suite(tmp_path: Path, models: dict, gates: list, per_modality: int = 2) -> Path:
    rows, seen = [], {}
    for line in (REPO / "suites/data/ecommerce/release.jsonl").read_text().splitlines():
        row = json.loads(line)
        if seen.get(row["modality"], 0) < per_modality:
            seen[row["modality"]] = seen.get(row["modality"], 0) + 1
            row.pop("target")  # no metrics here: the gates are under test
            rows.append(row)
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = {"version": 1, "name": "prov", "seed": 0, "dataset": {"path": "data.jsonl"}, "models": models,
             "gates": gates, "metrics": []}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


REFERENCE = {"reference": {"use": "reference", "args": {"name": "auto"}}}


def test_watermark_gate_marks_and_signs_every_output_and_provenance_accepts(tmp_path, ring):
    suite = _suite(tmp_path, REFERENCE, [{"use": "watermark"},
                                         {"use": "provenance", "args": {"require_watermark": ["image", "audio"]}}])
    result = run(suite, tmp_path / "run", progress=False, extras={"keyring": ring})
    assert result.status == "ungated", result.report.get("reason")
    gates = {g["gate"]: g for g in result.report["gates"]}
    marked = gates["watermark"]["settings"]["marked"]["reference"]
    assert marked["image"] == {"outputs": 2, "detected": 2} and marked["audio"] == {"outputs": 2, "detected": 2}
    assert marked["text"]["outputs"] == 2
    manifests = sorted(p.relative_to(tmp_path / "run").as_posix() for p in (tmp_path / "run").rglob("*.manifest.json"))
    assert len(manifests) == 6 and sum(m.startswith("provenance/reference/") for m in manifests) == 2
    # With a key ring the media themselves live only in the encrypted store; their
    # manifests sit in the run directory and verify against the decrypted bytes.
    store = RecordStore.open(tmp_path / "run", ring)
    trusted = [ring.signing_key().public_key()]
    keys = WatermarkKeys.from_ring(ring)
    for path in (tmp_path / "run/outputs/reference").glob("*.manifest.json"):
        sample_id = path.name.split(".")[0]
        data = base64.b64decode(store.get(f"reference/{sample_id}")["output"]["bytes_b64"])
        claim = verify_claim(read_manifest(path), trusted, str(path))
        verify_asset(data, claim, sample_id)
        assert claim["run_id"] == result.report["run_id"] and claim["generator"]["weights_sha256"]
        copy = tmp_path / path.name.removesuffix(".manifest.json")
        copy.write_bytes(data)
        assert detect_value(copy, keys).detected
    assert mmeval("verify", str(tmp_path / "run")).returncode == 0  # manifests are covered by the run's signature
    # The same through the CLI: export the sealed media with their manifests, then verify.
    exported = mmeval("store", "get", str(tmp_path / "run"), "--export", str(tmp_path / "exported"))
    assert exported.returncode == 0, exported.stderr
    files = exported.stdout.split()
    assert len(files) == 4 and all(Path(f).stat().st_mode & 0o077 == 0 for f in files)
    verified = mmeval("provenance", "verify", *files, "--json")
    assert verified.returncode == 0, verified.stderr
    assert all(json.loads(line)["watermark"]["detected"] for line in verified.stdout.splitlines())


def test_provenance_gate_blocks_unmarked_outputs(tmp_path, ring):
    # The same generators without the watermark gate: nothing is marked or signed.
    suite = _suite(tmp_path, REFERENCE, [{"use": "provenance"}], per_modality=1)
    result = run(suite, tmp_path / "run", progress=False, extras={"keyring": ring})
    assert result.status == "blocked"
    assert "missing-manifest" in result.report["reason"] and "unmarked" in result.report["reason"]


def test_watermark_gate_without_a_key_ring_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("MMEVAL_KEYRING", raising=False)
    suite = _suite(tmp_path, REFERENCE, [{"use": "watermark"}], per_modality=1)
    with pytest.raises(SpecError, match="needs a key ring"):
        run(suite, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
