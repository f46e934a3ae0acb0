"""Issue 13 item 4: with a key ring, `kill -9` at any point leaves no plaintext output byte
under the output folder, the cache or TMPDIR. Generated media stay in memory (sealed
from there), and per-sample records are sealed batch by batch as they are written."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.adversarial.test_output_folders import REPO, env_for, mmeval_cmd

ROWS = 24
KILLS = 20
# A plaintext output would show one of these: the text model's marker, a PNG or WAV header.
NEEDLES = (b"CANARY", b"\x89PNG\r\n\x1a\n", b"WAVEfmt ")


def canary(inputs, seed):  # the text model, through the `python` adapter
    return [f"CANARY {x}" for x in inputs]


def _suite(tmp: Path) -> Path:
    images = REPO / "suites" / "data" / "ecommerce"
    rows = [json.loads(line) for line in (images / "image.jsonl").read_text().splitlines()[:ROWS]]
    (tmp / "data.jsonl").write_text("".join(
        json.dumps({"id": r["id"], "input": r["input"], "target": str(images / r["target"])}) + "\n" for r in rows))
    suite = {
        "version": 1, "name": "kill-test", "seed": 0, "batch_size": 2,
        "dataset": {"path": "data.jsonl"},
        "models": {
            "image": {"use": "reference", "args": {"name": "image", "variant": "final"}},
            "copy": {"use": "python", "args": {"callable": "tests.adversarial.test_kill_plaintext:canary"}},
        },
        "metrics": [{"use": "ssim", "models": ["image"]}, {"use": "psnr", "models": ["image"]}],
        "thresholds": [{"model": "image", "metric": "ssim", "min": 0.0}],
    }
    path = tmp / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def _plaintext(*roots: Path) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found += [f"{path}: {needle!r}" for needle in NEEDLES if needle in data]
    return found


@pytest.mark.slow
def test_kill_9_at_random_points_leaves_no_plaintext(tmp_path):
    env = env_for(tmp_path)
    outs, cache, tmpdir, home = (tmp_path / name for name in ("outs", "cache", "tmp", "home"))
    for folder in (outs, tmpdir):
        folder.mkdir()
    env.update(MMEVAL_CACHE_DIR=str(cache), TMPDIR=str(tmpdir), MMEVAL_HOME=str(home), MMEVAL_KEYRING=str(home / "ring.json"))
    suite = _suite(tmp_path)
    assert subprocess.run(mmeval_cmd("keys", "init"), env=env, capture_output=True, timeout=120).returncode == 0

    began = time.monotonic()  # one complete run: the scale for the kill times, and a check that it passes
    done = subprocess.run(mmeval_cmd("run", str(suite), "--out", str(outs / "complete"), "--quiet"),
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    full = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    assert json.loads((outs / "complete" / "report.json").read_text())["store"]["records"] == 2 * ROWS
    assert _plaintext(outs, tmpdir) == [] and not cache.exists()

    rng = random.Random(13)
    killed = 0
    for trial in range(KILLS):
        proc = subprocess.Popen(mmeval_cmd("run", str(suite), "--out", str(outs / f"k{trial}"), "--quiet"),
                                env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, full))
        proc.send_signal(signal.SIGKILL)
        killed += proc.wait(timeout=60) == -signal.SIGKILL
        assert _plaintext(outs, tmpdir, *([cache] if cache.exists() else [])) == [], f"trial {trial}"
    assert killed >= KILLS // 2  # most kills landed while the run was still working
    partial = list(outs.glob(".k*.partial"))  # what the kills left: sealed records, no plaintext
    assert partial and any((p / "store").is_dir() for p in partial)
