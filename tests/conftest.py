"""Shared fixtures. Tests never touch the network: hub libraries are forced offline."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
