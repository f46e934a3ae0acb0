"""Signed manifests: any byte changed in an asset or its manifest fails verification."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from mmeval.errors import IntegrityError
from mmeval.provenance.manifest import (
    SOURCE_TYPE, build_claim, manifest_path, read_manifest, sign_manifest, verify_manifest, write_manifest,
)

KEY = Ed25519PrivateKey.generate()


def _signed(tmp_path, data=b"\x89PNG fake bytes", name="a.png"):
    asset = tmp_path / name
    asset.write_bytes(data)
    mark = {"algorithm": "mmeval-image-tile/1", "params": {"tile": 32}, "key_id": "w-1"}
    claim = build_claim(data, name, watermark=mark, generator={"model": "m", "weights_sha256": "ab" * 32},
                        suite={"name": "s", "sha256": "cd" * 32}, run_id="r1")
    write_manifest(manifest_path(asset), sign_manifest(claim, KEY))
    return asset


def test_round_trip_records_hard_and_soft_binding(tmp_path):
    asset = _signed(tmp_path)
    claim = verify_manifest(asset, [KEY.public_key()])
    assert claim["digital_source_type"] == SOURCE_TYPE
    assert claim["watermark"]["key_id"] == "w-1" and claim["generator"]["model"] == "m"
    assert claim["asset"]["media_type"] == "image/png" and claim["run_id"] == "r1"
    assert manifest_path(asset).name == "a.png.manifest.json"


def test_untrusted_signer_is_rejected(tmp_path):
    asset = _signed(tmp_path)
    with pytest.raises(IntegrityError, match="untrusted key"):
        verify_manifest(asset, [Ed25519PrivateKey.generate().public_key()])


def test_re_signed_claim_with_edited_field_fails(tmp_path):
    asset = _signed(tmp_path)
    doc = json.loads(manifest_path(asset).read_text())
    doc["claim"]["generator"]["model"] = "someone-else"
    write_manifest(manifest_path(asset), doc)  # canonical form, but the signature no longer matches
    with pytest.raises(IntegrityError, match="signature does not verify"):
        verify_manifest(asset, [KEY.public_key()])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_byte_flip_in_asset_or_manifest_fails(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("flip")
    asset = _signed(tmp)
    target = data.draw(st.sampled_from([asset, manifest_path(asset)]))
    raw = bytearray(target.read_bytes())
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    target.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError):
        verify_manifest(asset, [KEY.public_key()])


def test_reformatted_manifest_fails_even_if_its_claim_is_unchanged(tmp_path):
    asset = _signed(tmp_path)
    doc = read_manifest(manifest_path(asset))
    manifest_path(asset).write_text(json.dumps(doc))  # same JSON value, other bytes
    with pytest.raises(IntegrityError, match="canonical"):
        verify_manifest(asset, [KEY.public_key()])
