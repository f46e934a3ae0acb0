"""Fixtures shared by the CLI-driven signature, store and reader-key tests."""

from __future__ import annotations

import pytest

from tests.adversarial.test_signatures import cli_env, mmeval


@pytest.fixture
def env(tmp_path):
    return cli_env(tmp_path)


@pytest.fixture
def ring(tmp_path, env):
    path = tmp_path / "ring.json"
    assert mmeval(env, "keys", "init", "--keyring", str(path)).returncode == 0
    return path
