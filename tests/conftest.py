"""Shared fixtures. Tests never touch the network: hub libraries are forced offline.

Shipped suites run once per test run (`shipped_run`); the tests read that one run folder."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Signing keys and other per-user state go to a throwaway home, never the developer's.
os.environ["MMEVAL_HOME"] = tempfile.mkdtemp(prefix="mmeval-home-")
os.environ["MMEVAL_AUDIT_LOG"] = os.path.join(os.environ["MMEVAL_HOME"], "audit.log")

# torchmetrics and pytorch-fid import torchvision; make that work next to CPU torch
# (DESIGN.md, Environment). mmeval's own code calls this before those imports too.
from mmeval._compat.torchvision import ensure_torchvision  # noqa: E402

ensure_torchvision()

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def isolated_keyring(tmp_path, monkeypatch):
    """A fresh key ring at $MMEVAL_KEYRING, own audit log and home, no policy or principal."""
    from mmeval.security.keyring import KeyRing

    for name in ("MMEVAL_POLICY", "MMEVAL_PRINCIPAL", "MMEVAL_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MMEVAL_KEYRING", str(tmp_path / "ring.json"))
    monkeypatch.setenv("MMEVAL_AUDIT_LOG", str(tmp_path / "auditlog" / "audit.log"))
    monkeypatch.setenv("MMEVAL_HOME", str(tmp_path / "home"))
    return KeyRing.init(tmp_path / "ring.json")


# The environment every shared run sees, taken before any test monkeypatches it, so a
# shared run is the same whichever test asks for it first.
_SESSION_ENV = {k: v for k, v in os.environ.items() if k.startswith(("MMEVAL_", "HF_", "TRANSFORMERS_"))}


@dataclass(frozen=True)
class ShippedRun:
    """One run of a shipped suite (`run(suites/<name>.yaml)`, cache off), made once per test
    run and shared by every test that reads it. The folder is read-only for tests: a test
    that changes a run works on a copy in its tmp_path."""

    name: str
    path: Path
    status: str
    exit_code: int

    @property
    def report(self) -> dict[str, Any]:
        """report.json as written, parsed afresh: no test sees another's edits to it."""
        return json.loads((self.path / "report.json").read_text())


def _folder_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def shipped_run(tmp_path_factory) -> Iterator[Callable[[str], ShippedRun]]:
    """`shipped_run("smoke")`: the shared run of suites/smoke.yaml, made on first use.

    In this process, not a subprocess: what a run loads once per process (networks, image
    features) then serves later in-process runs too. Tests that check a *second* run
    (resume, force, compare) still make that one themselves."""
    from mmeval.runner import run

    runs: dict[str, ShippedRun | BaseException] = {}
    digests: dict[str, dict[str, str]] = {}

    def get(name: str) -> ShippedRun:
        if name not in runs:
            out = tmp_path_factory.mktemp(f"shipped-{name}") / "run"
            with pytest.MonkeyPatch.context() as patch:
                for key in [k for k in os.environ if k.startswith("MMEVAL_") and k not in _SESSION_ENV]:
                    patch.delenv(key)  # a key ring, policy or principal some test set
                for key, value in {**_SESSION_ENV, "MMEVAL_CACHE_DIR": "off"}.items():
                    patch.setenv(key, value)
                try:
                    result = run(REPO / "suites" / f"{name}.yaml", out, progress=False)
                except Exception as exc:  # every test that reads this run fails the same way
                    runs[name] = exc
                else:
                    runs[name] = ShippedRun(name, out, result.status, result.exit_code)
                    digests[name] = _folder_digest(out)
        found = runs[name]
        if isinstance(found, BaseException):
            raise found
        return found

    yield get
    # A test that wrote into a shared run would change what later tests read.
    changed = [name for name, digest in digests.items() if _folder_digest(runs[name].path) != digest]  # type: ignore[union-attr]
    assert not changed, f"tests modified the shared run(s) {changed}; use copy_to(tmp_path)"
