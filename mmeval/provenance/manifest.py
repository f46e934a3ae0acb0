"""Signed provenance manifests, C2PA-like, one per generated artifact.

    a.png                    the asset
    a.png.manifest.json      {"claim": {...}, "signature": {"alg", "keyid", "public_key", "sig"}}

The claim binds the asset hard (its sha256 and size) and soft (the watermark algorithm,
parameters and key id, so a copy that lost its bytes but kept its mark can be traced),
and says what made it: generator (model, adapter fingerprint, weights sha256), suite,
run id, time and IPTC `digitalSourceType` trainedAlgorithmicMedia. The signature is
Ed25519 over DSSE's pre-authentication encoding of the claim's canonical JSON (sorted
keys, no whitespace, UTF-8). The file itself must be the canonical rendering of the
manifest, so a change to any byte of it fails verification, not only changes that
alter the claim's meaning.

    doc = sign_manifest(build_claim(asset_bytes, "a.png", ...), ring.signing_key())
    write_manifest(manifest_path("a.png"), doc)
    claim = verify_manifest(Path("a.png"), trusted=[public_key])   # or IntegrityError
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import IntegrityError, InputError
from ..fsutil import write_atomic
from ..runinfo import utc_now

FORMAT = "mmeval-provenance/1"
PAYLOAD_TYPE = "application/vnd.mmeval.provenance+json"
SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SUFFIX = ".manifest.json"


def manifest_path(asset: Path) -> Path:
    return Path(asset).with_name(Path(asset).name + SUFFIX)


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def render(doc: dict[str, Any]) -> bytes:
    """The one byte sequence a manifest file may hold (readable, and deterministic)."""
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def build_claim(
    data: bytes,
    name: str,
    *,
    watermark: dict[str, Any] | None,
    generator: dict[str, Any],
    suite: dict[str, Any] | None = None,
    run_id: str | None = None,
    media_type: str | None = None,
) -> dict[str, Any]:
    """The claim for one asset's bytes. `watermark`: {algorithm, params, key_id} or None."""
    return {
        "format": FORMAT,
        "asset": {
            "name": name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "media_type": media_type or mimetypes.guess_type(name)[0] or "application/octet-stream",
        },
        "digital_source_type": SOURCE_TYPE,
        "watermark": watermark,
        "generator": generator,
        "suite": suite,
        "run_id": run_id,
        "created": utc_now(),
        "tool": {"name": "mmeval", "version": __version__},
    }


def sign_manifest(claim: dict[str, Any], key: Any) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization

    from ..report.signing import key_id, pae

    public = key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signature = key.sign(pae(PAYLOAD_TYPE, canonical(claim)))
    return {
        "claim": claim,
        "signature": {
            "alg": "Ed25519",
            "keyid": key_id(public),
            "public_key": raw.hex(),  # a hint for humans; trust comes only from the verifier's keys
            "sig": base64.b64encode(signature).decode(),
        },
    }


def write_manifest(path: Path, doc: dict[str, Any]) -> None:
    write_atomic(path, render(doc))


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at `path`, checked to be in canonical form (else IntegrityError)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no manifest") from None
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IntegrityError(f"{path}: manifest is not valid JSON (modified?)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("claim"), dict) or not isinstance(doc.get("signature"), dict):
        raise IntegrityError(f"{path}: not an mmeval provenance manifest")
    try:
        if render(doc) != raw:
            raise IntegrityError(f"{path}: manifest bytes were changed (not in canonical form)")
    except ValueError:  # NaN or another value JSON cannot carry
        raise IntegrityError(f"{path}: manifest holds values outside JSON") from None
    return doc


def verify_claim(doc: dict[str, Any], trusted: list[Any], where: str) -> dict[str, Any]:
    """Check the signature with a trusted key; return the claim or raise IntegrityError."""
    from cryptography.exceptions import InvalidSignature

    from ..report.signing import key_id, pae

    from cryptography.hazmat.primitives import serialization

    sig = doc["signature"]
    by_id = {key_id(k): k for k in trusted}
    key = by_id.get(sig.get("keyid"))
    if key is None:
        raise IntegrityError(f"{where}: signed by an untrusted key ({sig.get('keyid')})")
    # Every field of the signature block is checked, so no byte of the file is free to change:
    # the public-key hint must be the trusted key, and the base64 must be the canonical encoding.
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        signature = base64.b64decode(str(sig.get("sig")), validate=True)
    except ValueError:
        raise IntegrityError(f"{where}: signature is not base64") from None
    if sig.get("alg") != "Ed25519" or sig.get("public_key") != raw.hex() or base64.b64encode(signature).decode() != sig.get("sig") \
            or set(sig) != {"alg", "keyid", "public_key", "sig"}:
        raise IntegrityError(f"{where}: signature block was changed")
    try:
        key.verify(signature, pae(PAYLOAD_TYPE, canonical(doc["claim"])))
    except InvalidSignature:
        raise IntegrityError(f"{where}: signature does not verify") from None
    if doc["claim"].get("format") != FORMAT:
        raise IntegrityError(f"{where}: unknown manifest format {doc['claim'].get('format')!r}")
    return doc["claim"]


def verify_asset(data: bytes, claim: dict[str, Any], where: str) -> None:
    """The hard binding: the asset's bytes are the ones the claim names."""
    asset = claim.get("asset") or {}
    if hashlib.sha256(data).hexdigest() != asset.get("sha256") or len(data) != asset.get("bytes"):
        raise IntegrityError(f"{where}: sha256 does not match its manifest (asset changed)")


def verify_manifest(asset: Path, trusted: list[Any], manifest: Path | None = None) -> dict[str, Any]:
    """Verify `asset` against its manifest (default: ASSET.manifest.json); return the claim."""
    path = manifest or manifest_path(asset)
    doc = read_manifest(path)
    claim = verify_claim(doc, trusted, str(path))
    try:
        data = Path(asset).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{asset} not found") from None
    verify_asset(data, claim, str(asset))
    return claim


def trusted_signers(public_key: Path | None, ring: Any | None) -> list[Any]:
    """Whom to trust: the PEM public key given, else the key ring's signing key."""
    if public_key is not None:
        from ..report.signing import load_public_key

        return [load_public_key(public_key)]
    if ring is None:
        raise InputError("no trusted key: pass --public-key PEM or a key ring (--keyring or $MMEVAL_KEYRING)")
    return [ring.signing_key().public_key()]
