"""Issue 13 items 1, 2 and part of 4: `--out` never costs a user a file, two writers of
one folder cannot both succeed, and killed runs leave nothing behind for long."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_suite import base_suite, write_suite

REPO = Path(__file__).resolve().parents[2]


def mmeval_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mmeval", *args]


def env_for(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MMEVAL_POLICY", "MMEVAL_PRINCIPAL", "MMEVAL_KEYRING")}
    env.update(MMEVAL_CACHE_DIR="off", PYTHONPATH=f"{REPO}{os.pathsep}{tmp_path}")
    return env


def mmeval(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(mmeval_cmd(*args), capture_output=True, text=True, env=env_for(tmp_path), cwd=tmp_path, timeout=300)


def one_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    return write_suite(tmp_path, base_suite())


def test_a_folder_of_the_users_is_never_replaced(tmp_path, suite):
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "thesis.txt").write_text("two years of work")
    (victim / "sub" / "data.csv").write_text("a,b\n")
    before = snapshot(victim)
    for extra in ([], ["--force"]):  # --force replaces earlier runs only, never a user's folder
        one_error(mmeval(tmp_path, "run", str(suite), "--out", "victim", *extra), "not an mmeval output")
        assert snapshot(victim) == before


def test_a_file_is_never_turned_into_a_run_folder(tmp_path, suite):
    (tmp_path / "notes.txt").write_text("notes")
    one_error(mmeval(tmp_path, "run", str(suite), "--out", "notes.txt"), "is a file")
    assert (tmp_path / "notes.txt").read_text() == "notes"


@pytest.mark.parametrize("out", [".", ".."])
def test_the_working_directory_and_its_parents_are_refused(tmp_path, suite, out):
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.run(mmeval_cmd("run", str(suite), "--out", out), capture_output=True, text=True, env=env_for(tmp_path), cwd=work, timeout=300)
    one_error(proc, "working directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == before and not any(work.iterdir())


def test_an_earlier_run_is_replaced_only_with_force(tmp_path, suite):
    assert mmeval(tmp_path, "run", str(suite), "--out", "run", "--quiet").returncode == 0
    first = json.loads((tmp_path / "run" / "report.json").read_text())["run_id"]
    one_error(mmeval(tmp_path, "run", str(suite), "--out", "run", "--quiet"), "--force")
    assert json.loads((tmp_path / "run" / "report.json").read_text())["run_id"] == first
    assert mmeval(tmp_path, "run", str(suite), "--out", "run", "--quiet", "--force").returncode == 0
    assert json.loads((tmp_path / "run" / "report.json").read_text())["run_id"] != first
    assert mmeval(tmp_path, "verify", "run").returncode == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run")] == []


def test_audit_does_not_delete_the_folder_it_audits(tmp_path, isolated_keyring):
    gen = tmp_path / "gen"
    gen.mkdir()
    (gen / "copy.txt").write_text("Soft cotton shirt, machine washable.")
    before = snapshot(gen)
    ring = str(tmp_path / "ring.json")
    one_error(mmeval(tmp_path, "audit", "gen", "--out", "gen", "--keyring", ring), "not an mmeval output")
    assert snapshot(gen) == before


def test_watermark_embed_follows_the_output_folder_rules(tmp_path, isolated_keyring):
    from tests.provenance.conftest import product_png

    (tmp_path / "shoe.png").write_bytes(product_png(1))
    ring = ("--keyring", str(tmp_path / "ring.json"))
    mine = tmp_path / "marked"
    mine.mkdir()
    (mine / "shoe.png").write_bytes(b"my own edit")  # a user's file with the same name
    before = snapshot(mine)
    one_error(mmeval(tmp_path, "watermark", "embed", "shoe.png", "--out", "marked", *ring), "not an mmeval output")
    assert snapshot(mine) == before
    assert mmeval(tmp_path, "watermark", "embed", "shoe.png", "--out", "out", *ring).returncode == 0
    one_error(mmeval(tmp_path, "watermark", "embed", "shoe.png", "--out", "out", *ring), "--force")
    assert mmeval(tmp_path, "watermark", "embed", "shoe.png", "--out", "out", "--force", *ring).returncode == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".mmeval-output", "shoe.png", "shoe.png.manifest.json"]


def slow_suite(tmp_path: Path) -> Path:
    (tmp_path / "slowmod.py").write_text(
        "import time\n\ndef generate(inputs):\n    time.sleep(0.5)\n    return ['a' if i % 2 else 'b' for i in range(len(inputs))]\n"
    )
    rows = [{"id": f"s{i}", "input": "x", "target": "a"} for i in range(8)]
    return write_suite(tmp_path, base_suite(batch_size=1, models={"candidate": {"use": "python", "args": {"callable": "slowmod:generate"}}}), rows=rows)


def start_and_wait_for_partial(tmp_path: Path, suite: Path, out: str) -> subprocess.Popen:
    proc = subprocess.Popen(mmeval_cmd("run", str(suite), "--out", out, "--quiet"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env_for(tmp_path), cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(f".{out}.*.partial")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    return proc


def test_two_runs_into_one_folder_cannot_both_succeed(tmp_path):
    suite = slow_suite(tmp_path)
    first = start_and_wait_for_partial(tmp_path, suite, "run")
    second = mmeval(tmp_path, "run", str(suite), "--out", "run", "--quiet")
    one_error(second, "another mmeval process is writing")
    _, err = first.communicate(timeout=120)
    assert first.returncode == 1, err  # its threshold fails (half the outputs are wrong): a complete report
    assert mmeval(tmp_path, "verify", "run").returncode in (0, 1)


def test_sigterm_removes_the_partial_folder(tmp_path):
    suite = slow_suite(tmp_path)
    proc = start_and_wait_for_partial(tmp_path, suite, "run")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip() == "error: interrupted", (proc.returncode, err)
    assert not list(tmp_path.glob(".run.*")) and not (tmp_path / "run").exists()


def test_a_killed_runs_partial_folder_is_removed_by_the_next_run(tmp_path):
    suite = slow_suite(tmp_path)
    proc = start_and_wait_for_partial(tmp_path, suite, "run")
    proc.kill()
    proc.wait(timeout=60)
    assert list(tmp_path.glob(".run.*.partial"))  # kill -9 runs no clean-up
    again = mmeval(tmp_path, "run", str(suite), "--out", "run", "--quiet")
    assert again.returncode == 1, again.stderr
    assert "removed" in again.stderr and "partial output left by a killed run" in again.stderr
    assert not list(tmp_path.glob(".run.*.partial"))


@pytest.mark.parametrize("name", ["../../../../x", "a/b", ".hidden"])
def test_path_like_model_names_are_config_errors(tmp_path, name):
    suite = write_suite(tmp_path, base_suite(models={name: {"use": "replay", "args": {"path": "out.jsonl"}}}, thresholds=[]))
    one_error(mmeval(tmp_path, "run", str(suite), "--out", "run"), "path separator")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["..", "../../x", ".", "", ".bashrc", "a/../../b"])
def test_safe_stem_is_one_harmless_path_component(tmp_path, name):
    from mmeval.fsutil import safe_stem

    part = safe_stem(name)
    assert part and "/" not in part and not part.startswith(".")
    assert (tmp_path / part).resolve().parent == tmp_path.resolve()
    assert safe_stem(name) != safe_stem(name + "_")  # distinct names stay distinct
