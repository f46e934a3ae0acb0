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
