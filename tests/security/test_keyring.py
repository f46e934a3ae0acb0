"""Key ring: 0600 files, readable rings refused, rotation, no key material in listings."""

from __future__ import annotations

import json
import os
import stat

import pytest

from mmeval.errors import IntegrityError, SpecError
from mmeval.security.keyring import KeyRing, configured_path, resolve_path


def test_init_writes_0600_even_with_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        ring = KeyRing.init(tmp_path / "k.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.json").stat().st_mode) == 0o600
    assert [k["kind"] for k in ring.describe()] == ["master", "signing", "watermark"]
    assert not [p for p in tmp_path.iterdir() if p.name != "k.json"]  # no temp file left behind


def test_load_round_trip_and_rotate(tmp_path):
    ring = KeyRing.init(tmp_path / "k.json")
    first_id, first = ring.active_master()
    assert len(first) == 32
    new_id = ring.rotate()
    again = KeyRing.load(tmp_path / "k.json")
    assert again.active_master()[0] == new_id != first_id
    assert again.master(first_id) == first
    again.remove_master(first_id)
    with pytest.raises(IntegrityError, match=first_id):
        KeyRing.load(tmp_path / "k.json").master(first_id)
    with pytest.raises(SpecError, match="active"):
        again.remove_master(new_id)


def test_signing_and_watermark_keys(tmp_path):
    ring = KeyRing.init(tmp_path / "k.json")
    key = ring.signing_key()
    (key_id, public_hex), = ring.public_keys().items()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(key.sign(b"m"), b"m")
    assert ring.secret("watermark")[1] != ring.active_master()[1]
    listing = json.dumps(ring.describe())
    assert "material" not in listing


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_readable_ring_is_refused(tmp_path, mode):
    KeyRing.init(tmp_path / "k.json")
    os.chmod(tmp_path / "k.json", mode)
    with pytest.raises(IntegrityError, match="chmod 600"):
        KeyRing.load(tmp_path / "k.json")


def test_init_refuses_to_overwrite_and_load_needs_a_ring(tmp_path):
    KeyRing.init(tmp_path / "k.json")
    with pytest.raises(SpecError, match="already exists"):
        KeyRing.init(tmp_path / "k.json")
    with pytest.raises(SpecError, match="keys init"):
        KeyRing.load(tmp_path / "missing.json")


def test_path_resolution(tmp_path, monkeypatch):
    assert configured_path() is None
    assert resolve_path().name == "keyring.json"
    monkeypatch.setenv("MMEVAL_KEYRING", str(tmp_path / "env.json"))
    assert configured_path() == tmp_path / "env.json"
    assert resolve_path(tmp_path / "flag.json") == tmp_path / "flag.json"
