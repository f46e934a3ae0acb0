"""Each test gets its own audit log and no key ring, policy or principal from the caller's shell."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_security_env(tmp_path, monkeypatch):
    for name in ("MMEVAL_KEYRING", "MMEVAL_POLICY", "MMEVAL_PRINCIPAL", "MMEVAL_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MMEVAL_AUDIT_LOG", str(tmp_path / "audit" / "audit.log"))
    monkeypatch.setenv("MMEVAL_HOME", str(tmp_path / "home"))
