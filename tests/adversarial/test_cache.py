"""The resume cache is resume, not memoisation, and it is sealed (issue #12 items 2, 10, 11;
#13 items 3, 5): a second run measures again, changed inputs are regenerated, planted or
edited batches are ignored with one warning, no entry names a path, and no raw output is
stored in plaintext."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from mmeval.cli import main
from mmeval.registry import MODELS

MODELS.register("cache-test-echo", "tests.adversarial.test_cache:EchoModel")

N = 8
EFFICIENCY = {"latency_p50_s", "latency_p95_s", "throughput_sps", "peak_memory_mb", "parameters"}


class EchoModel:
    """A model that runs: upper-cases its input; a small torch module gives a parameter count."""

    runs_model = True
    generated: list[str] = []

    def __init__(self, tag: str = "v1"):
        import torch

        self.tag = tag
        self.net = torch.nn.Linear(2, 3)  # 9 parameters

    def fingerprint(self) -> str:
        return f"echo|{self.tag}"

    def generate(self, inputs, *, seed, ids):
        type(self).generated.extend(ids)
        return [str(x).upper() for x in inputs]


def _counts(report: dict) -> dict:
    """A model's adapter and output counts (its adapter_sha256 is checked elsewhere)."""
    return {k: report["models"]["live"][k] for k in ("use", "generated", "reused")}


def _rows(prefix: str = "item") -> list[dict]:
    # Half the targets match what the model says: exact_match 0.5, below the 0.9 threshold.
    return [{"id": f"s{i}", "input": f"{prefix} {i}", "target": f"{prefix} {i}".upper() if i % 2 else "other"}
            for i in range(N)]


def _write(tmp: Path, rows: list[dict]) -> Path:
    (tmp / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = {
        "version": 1, "name": "cache-test", "seed": 0, "batch_size": 4,
        "dataset": {"path": "data.jsonl"},
        "models": {"live": {"use": "cache-test-echo"}},
        "metrics": [{"use": "exact_match"}],
        "thresholds": [{"model": "live", "metric": "exact_match", "min": 0.9}],
    }
    path = tmp / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in ("MMEVAL_POLICY", "MMEVAL_PRINCIPAL", "MMEVAL_KEYRING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MMEVAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "c" / "outputs"))
    EchoModel.generated = []
    return tmp_path


def _run(suite: Path, out: Path, *extra: str) -> tuple[int, dict | None]:
    code = main(["run", str(suite), "--out", str(out), "--quiet", *extra])
    report = out / "report.json"
    return code, json.loads(report.read_text()) if report.exists() else None


def _efficiency(report: dict) -> dict[str, dict]:
    return {r["key"]: r for r in report["results"] if r.get("kind") == "efficiency"}


def _value(report: dict) -> float:
    return next(r["value"] for r in report["results"] if r["key"] == "exact_match")


def _key_dir(tmp: Path) -> Path:
    (folder,) = [p for p in (tmp / "c" / "outputs").iterdir() if p.is_dir()]
    return folder


def _cache(folder: Path, home: Path, secret: bytes | None = None):
    """The cache folder opened as a run would (with the user's own secret unless given)."""
    from mmeval.models.cache import OutputCache

    secret = secret if secret is not None else (home / "cache-hmac.key").read_bytes()
    return OutputCache(folder.parent, folder.name, folder / "unused", secret, reuse_completed=True)


def _seal(folder: Path, home: Path, batch: dict, secret: bytes | None = None) -> None:
    """Write a batch file the way the cache does, with the user's secret or another one."""
    import os

    cache = _cache(folder, home, secret)
    name = "batch-planted.sealed"
    nonce = os.urandom(12)
    (folder / name).write_bytes(nonce + cache._aead.encrypt(nonce, json.dumps(batch).encode(), cache._aad(name)))


def test_second_run_generates_again_and_reports_efficiency(env, capsys):
    suite = _write(env, _rows())
    assert _run(suite, env / "r1")[0] == 1
    code, second = _run(suite, env / "r2")
    assert code == 1 and len(EchoModel.generated) == 2 * N  # not memoised
    eff = _efficiency(second)
    assert set(eff) == EFFICIENCY and all(r["value"] is not None and r["n"] == N for r in eff.values())
    assert _counts(second) == {"use": "cache-test-echo", "generated": N, "reused": 0}


def test_reuse_outputs_flag_reuses_and_reports_null_efficiency(env, capsys):
    suite = _write(env, _rows())
    _, first = _run(suite, env / "r1")
    EchoModel.generated = []
    code = main(["run", str(suite), "--out", str(env / "r2"), "--reuse-outputs"])
    reused = json.loads((env / "r2" / "report.json").read_text())
    assert code == 1 and EchoModel.generated == []
    assert _counts(reused) == {"use": "cache-test-echo", "generated": 0, "reused": N}
    assert "outputs reused from the resume cache: live 8/8" in capsys.readouterr().out
    eff = _efficiency(reused)
    assert set(eff) == EFFICIENCY
    timed = {k: r for k, r in eff.items() if k != "parameters"}
    assert all(r["value"] is None and r["note"] == "not measured: outputs reused" for r in timed.values())
    assert eff["parameters"]["value"] == 9  # counted without generating
    assert _value(reused) == _value(first)


def test_incomplete_run_resumes_only_what_is_missing(env):
    suite = _write(env, _rows())
    _run(suite, env / "r1")
    folder = _key_dir(env)
    (folder / "complete").unlink()  # as if the run had been killed after its last batch
    first_batch = sorted(folder.glob("batch-*.sealed"))[0]
    for path in folder.glob("batch-*.sealed"):
        if path != first_batch:
            path.unlink()
    kept = set(_cache(folder, env / "home")._entries)
    EchoModel.generated = []
    code, report = _run(suite, env / "r2")
    assert code == 1 and set(EchoModel.generated) == {r["id"] for r in _rows()} - kept
    assert _counts(report) == {"use": "cache-test-echo", "generated": N - len(kept), "reused": len(kept)}
    assert set(_efficiency(report)) == EFFICIENCY and _efficiency(report)["latency_p50_s"]["n"] == N - len(kept)


def test_changed_inputs_under_the_same_ids_are_generated_again(env, monkeypatch):
    suite = _write(env, _rows("item"))
    _run(suite, env / "r1")
    new_rows = _rows("changed")
    new_rows[0] = _rows("item")[0]  # one input unchanged
    _write(env, new_rows)
    monkeypatch.setenv("MMEVAL_CACHE_DIR", "off")
    _, clean = _run(suite, env / "clean")
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(env / "c" / "outputs"))
    for extra in (("--reuse-outputs",), ()):
        _, report = _run(suite, env / f"r{len(extra)}x", *extra)
        assert _value(report) == _value(clean) == 0.5
        if extra:  # even when asked to reuse, only the unchanged input is reused
            assert _counts(report) == {"use": "cache-test-echo", "generated": N - 1, "reused": 1}


def test_planted_batches_are_ignored_with_one_warning(env, capsys):
    from mmeval.models.cache import input_sha256

    suite = _write(env, _rows())
    _run(suite, env / "r1")
    folder = _key_dir(env)
    for path in folder.iterdir():
        path.unlink()  # an incomplete folder: it would be resumed
    planted = {r["id"]: {"value": r["target"], "input": input_sha256(r["input"])} for r in _rows()}  # outputs = targets
    (folder / "batch-plain.json").write_text(json.dumps(planted))  # format 1: plaintext
    _seal(folder, env / "home", planted, secret=b"k" * 32)  # sealed, but not with this user's secret
    capsys.readouterr()
    code, report = _run(suite, env / "r2")
    err = capsys.readouterr().err
    assert code == 1 and report["status"] == "fail" and _value(report) == 0.5
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "ignored 2 batches or entries" in warnings[0], err
    assert report["models"]["live"]["reused"] == 0 and "Traceback" not in err


def test_edited_batches_fail_authentication_even_when_reuse_is_asked(env, capsys):
    suite = _write(env, _rows())
    _run(suite, env / "r1")
    folder = _key_dir(env)
    batches = sorted(folder.glob("batch-*.sealed"))
    data = bytearray(batches[0].read_bytes())
    data[-1] ^= 1  # one bit of the first batch (4 outputs)
    batches[0].write_bytes(bytes(data))
    capsys.readouterr()
    code, report = _run(suite, env / "r2", "--reuse-outputs")
    err = capsys.readouterr().err
    assert code == 1 and _value(report) == 0.5
    assert _counts(report) == {"use": "cache-test-echo", "generated": N // 2, "reused": N // 2}
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "ignored 1 batches or entries" in warnings[0], err


def test_entries_naming_paths_are_ignored_even_when_sealed_with_the_users_key(env, capsys):
    from mmeval.models.cache import input_sha256

    suite = _write(env, _rows())
    out = env / "a" / "b" / "c" / "run"
    _run(suite, env / "r1")
    folder = _key_dir(env)
    for path in folder.iterdir():
        path.unlink()
    media = base64.b64encode(b"SECRET-BYTES").decode()
    forged = {"s0": {"media": {"name": "../../../f.png", "b64": media}, "input": input_sha256("item 0")},
              "s1": {"media": {"name": "sub/f.png", "b64": media}, "input": input_sha256("item 1")}}
    _seal(folder, env / "home", forged)
    capsys.readouterr()
    code, report = _run(suite, out)
    err = capsys.readouterr().err
    assert code == 1 and _value(report) == 0.5 and report["models"]["live"]["reused"] == 0
    assert not list(env.rglob("f.png"))
    assert not any(b"SECRET-BYTES" in p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert sum("ignored 2 batches or entries" in line for line in err.splitlines()) == 1


def test_cache_holds_no_plaintext_output(env):
    """Item 5: the cache keeps raw outputs from before the gates, so it must not keep them readable."""
    suite = _write(env, _rows("secret-pii-alice@example.com"))
    _run(suite, env / "r1")
    folder = _key_dir(env)
    assert list(folder.glob("batch-*.sealed"))
    for path in folder.iterdir():
        data = path.read_bytes()
        assert b"SECRET-PII" not in data and b"secret-pii" not in data and b"ALICE" not in data, path.name
        assert path.stat().st_mode & 0o777 == 0o600


def test_secret_readable_by_others_is_refused(env, capsys):
    suite = _write(env, _rows())
    _run(suite, env / "r1")
    secret = env / "home" / "cache-hmac.key"
    assert secret.stat().st_mode & 0o777 == 0o600
    secret.chmod(0o644)
    capsys.readouterr()
    code, report = _run(suite, env / "r2")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and report is None and len(err) == 1
    assert err[0].startswith("error:") and f"chmod 600 {secret}" in err[0]
