"""The resume cache is resume, not memoisation, and its entries are authenticated (issue #12
items 2, 10, 11; #13 item 3): a second run measures again, changed inputs are regenerated,
planted or edited entries are ignored with one warning, and no entry reaches outside its folder."""

from __future__ import annotations

import hashlib
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


def _entries(folder: Path) -> dict[str, dict]:
    entries = {}
    for path in folder.glob("batch-*.json"):
        entries.update(json.loads(path.read_text()))
    return entries


def test_second_run_generates_again_and_reports_efficiency(env, capsys):
    suite = _write(env, _rows())
    assert _run(suite, env / "r1")[0] == 1
    code, second = _run(suite, env / "r2")
    assert code == 1 and len(EchoModel.generated) == 2 * N  # not memoised
    eff = _efficiency(second)
    assert set(eff) == EFFICIENCY and all(r["value"] is not None and r["n"] == N for r in eff.values())
    assert second["models"]["live"] == {"use": "cache-test-echo", "generated": N, "reused": 0}


def test_reuse_outputs_flag_reuses_and_reports_null_efficiency(env, capsys):
    suite = _write(env, _rows())
    _, first = _run(suite, env / "r1")
    EchoModel.generated = []
    code = main(["run", str(suite), "--out", str(env / "r2"), "--reuse-outputs"])
    reused = json.loads((env / "r2" / "report.json").read_text())
    assert code == 1 and EchoModel.generated == []
    assert reused["models"]["live"] == {"use": "cache-test-echo", "generated": 0, "reused": N}
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
    first_batch = sorted(folder.glob("batch-*.json"))[0]
    kept = set(json.loads(first_batch.read_text()))
    for path in folder.glob("batch-*.json"):
        if path != first_batch:
            path.unlink()
    EchoModel.generated = []
    code, report = _run(suite, env / "r2")
    assert code == 1 and set(EchoModel.generated) == {r["id"] for r in _rows()} - kept
    assert report["models"]["live"] == {"use": "cache-test-echo", "generated": N - len(kept), "reused": len(kept)}
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
            assert report["models"]["live"] == {"use": "cache-test-echo", "generated": N - 1, "reused": 1}


def test_planted_entries_are_ignored_with_one_warning(env, capsys):
    suite = _write(env, _rows())
    _run(suite, env / "r1")
    folder = _key_dir(env)
    for path in folder.iterdir():
        path.unlink()  # an incomplete folder: it would be resumed
    planted = {r["id"]: {"value": r["target"]} for r in _rows()}  # outputs equal to the targets
    (folder / "batch-planted.json").write_text(json.dumps(planted))
    capsys.readouterr()
    code, report = _run(suite, env / "r2")
    err = capsys.readouterr().err
    assert code == 1 and report["status"] == "fail" and _value(report) == 0.5
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "ignored 8 entries" in warnings[0], err
    assert report["models"]["live"]["reused"] == 0 and "Traceback" not in err


def test_edited_entries_fail_authentication_even_when_reuse_is_asked(env, capsys):
    suite = _write(env, _rows())
    _run(suite, env / "r1")
    folder = _key_dir(env)
    targets = {r["id"]: r["target"] for r in _rows()}
    for path in folder.glob("batch-*.json"):
        batch = json.loads(path.read_text())
        for sid, entry in batch.items():
            entry["value"] = targets[sid]  # keep the MAC, change the content (4 wrong outputs)
        path.write_text(json.dumps(batch))
    capsys.readouterr()
    code, report = _run(suite, env / "r2", "--reuse-outputs")
    err = capsys.readouterr().err
    assert code == 1 and _value(report) == 0.5  # without authentication: 1.0, PASS
    assert report["models"]["live"] == {"use": "cache-test-echo", "generated": N // 2, "reused": N // 2}
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "ignored 4 entries" in warnings[0], err


def _forge(folder: Path, home: Path, sid: str, entry: dict) -> dict:
    """An entry with a valid MAC (made with the user's own secret): paths are still checked."""
    from mmeval.models.cache import OutputCache, input_sha256

    secret = (home / "cache-hmac.key").read_bytes()
    cache = OutputCache(folder.parent, folder.name, folder / "unused", secret, reuse_completed=True)
    entry = {**entry, "input": input_sha256(f"item {sid[1:]}")}
    entry["mac"] = cache._mac(sid, entry["input"], cache._content(entry))
    return entry


def test_entries_naming_paths_outside_their_folders_are_ignored(env, capsys):
    suite = _write(env, _rows())
    out = env / "a" / "b" / "c" / "run"  # the staging folder sits next to it: ../../../f is env/a/f
    _run(suite, env / "r1")
    folder = _key_dir(env)
    outside = env / "c" / "outside.png"  # folder/../../outside.png
    outside.write_bytes(b"SECRET-OUTSIDE")
    inside = b"inside-bytes"
    digest = hashlib.sha256(inside).hexdigest()
    (folder / f"media-{digest}.png").write_bytes(inside)
    entries = {
        "s0": _forge(folder, env / "home", "s0", {"media": "../../outside.png", "rel": "outputs/live/s0.png",
                                                 "sha256": hashlib.sha256(b"SECRET-OUTSIDE").hexdigest()}),
        "s1": _forge(folder, env / "home", "s1", {"media": f"media-{digest}.png", "rel": "../../../f", "sha256": digest}),
    }
    for path in folder.glob("batch-*.json"):
        path.unlink()
    (folder / "complete").unlink()
    (folder / "batch-escape.json").write_text(json.dumps(entries))
    capsys.readouterr()
    code, report = _run(suite, out)
    err = capsys.readouterr().err
    assert code == 1 and _value(report) == 0.5 and report["models"]["live"]["reused"] == 0
    assert not (env / "a" / "f").exists() and not list((env / "a").rglob("f"))
    assert not any(b"SECRET-OUTSIDE" in p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert sum("ignored 2 entries" in line for line in err.splitlines()) == 1


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
