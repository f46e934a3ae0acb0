"""`mmeval provenance verify FILE... [--public-key PEM] [--json]`.

FILE is an asset (its manifest is `FILE.manifest.json`) or a manifest. Checks, in order:
the manifest is byte-for-byte the canonical one, its Ed25519 signature verifies with a
trusted key (`--public-key`, else the key ring's signing key), and the asset's sha256
matches (hard binding). With a key ring whose watermark key is the manifest's, the mark
is detected too (soft binding). Exit 0 when every file verifies, 4 naming the first that
does not. Share the public key with `mmeval keys public`.

A PNG, JPEG or WAV may instead (or as well) carry an embedded C2PA manifest: it must be
valid (signature, certificate and C2PA's hash of every byte outside it) and signed by a
certificate that chains to a trust anchor (`--c2pa-trust CA.pem`, default the local CA of
`mmeval keys c2pa-cert`), else exit 4. Its `org.mmeval.claim` fields are reported, and
its watermark is detected as for a sidecar.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._access import add_access_arguments, authorize_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="prov_command", metavar="ACTION", required=True, parser_class=type(parser))
    verify = sub.add_parser("verify", help="check artifacts against their signed manifests")
    verify.add_argument("files", type=Path, nargs="+", help="assets or their .manifest.json files")
    verify.add_argument("--public-key", type=Path, help="trusted Ed25519 public key, PEM (default: the key ring's)")
    verify.add_argument("--c2pa-trust", type=Path, metavar="PEM",
                        help="trust anchors for embedded C2PA manifests (default: $MMEVAL_HOME/c2pa/ca.pem)")
    verify.add_argument("--json", action="store_true", help="one JSON object per file")
    add_access_arguments(verify)


def main(args: argparse.Namespace) -> int:
    from ..errors import IntegrityError
    from ..provenance.manifest import SUFFIX

    principal = authorize_args(args, "audit", "provenance", anchors=tuple(args.files))
    trust = _Trust(args)
    first_failure = None
    for path in args.files:
        asset = path.with_name(path.name[: -len(SUFFIX)]) if path.name.endswith(SUFFIX) else path
        try:
            result = verify_one(asset, trust, sidecar_only=asset is not path)
        except IntegrityError as exc:
            result = {"file": str(asset), "valid": False, "error": str(exc)}
            first_failure = first_failure or exc
        _print(result, args.json)
    from ..security.auditlog import AuditLog

    AuditLog.default().append("provenance", principal=principal, operation="verify", files=len(args.files),
                              valid=first_failure is None)
    if first_failure is not None:
        raise first_failure
    return 0


class _Trust:
    """What verification trusts, looked up only when a file needs it (an embedded-only check needs no ring)."""

    def __init__(self, args: argparse.Namespace):
        from ..provenance.files import WatermarkKeys
        from ..security.keyring import KeyRing, resolve_path

        ring_path = resolve_path(args.keyring)
        self.ring = KeyRing.load(ring_path) if ring_path.exists() else None
        self.keys = WatermarkKeys.from_ring(self.ring) if self.ring is not None else None
        self.public_key = args.public_key
        self.c2pa_trust = args.c2pa_trust
        self._signers: list[Any] | None = None
        self._anchors: tuple[bytes | None] | None = None

    def signers(self) -> list[Any]:
        """Trusted Ed25519 keys for sidecar manifests."""
        from ..provenance.manifest import trusted_signers

        if self._signers is None:
            self._signers = trusted_signers(self.public_key, self.ring)
        return self._signers

    def c2pa_anchors(self) -> bytes | None:
        from ..provenance.c2pa_embed import trust_anchors

        if self._anchors is None:  # read once, not once per file verified
            self._anchors = (trust_anchors(self.c2pa_trust),)
        return self._anchors[0]


def verify_one(asset: Path, trust: _Trust, sidecar_only: bool = False) -> dict[str, Any]:
    """Hard binding and signature (IntegrityError if broken); soft binding when the key is ours.

    The sidecar manifest is checked when it exists or when there is no embedded C2PA one.
    """
    from ..provenance.manifest import manifest_path

    embedded = None if sidecar_only else _embedded_claim(asset, trust)
    result: dict[str, Any] = {"file": str(asset), "valid": True}
    marks = []
    if embedded is None or manifest_path(asset).exists():
        claim = _sidecar_claim(asset, trust)
        result |= {"sha256": claim["asset"]["sha256"], "generator": claim.get("generator"), "run_id": claim.get("run_id")}
        marks.append(claim.get("watermark") or {})
    if embedded is not None:
        result["c2pa"] = embedded
        marks.append(embedded["claim"].get("watermark") or {})
    mark = _mark_to_detect(asset, marks, trust.keys)
    if mark is not None:
        result["watermark"] = mark
    return result


def _sidecar_claim(asset: Path, trust: _Trust) -> dict[str, Any]:
    from ..provenance.manifest import verify_manifest

    return verify_manifest(asset, trust.signers())


def _embedded_claim(asset: Path, trust: _Trust) -> dict[str, Any] | None:
    """The embedded C2PA manifest, checked; None when the file has none (or is not PNG/JPEG/WAV)."""
    from ..errors import InputError, MissingExtra
    from ..provenance import c2pa_embed
    from ..provenance.manifest import manifest_path

    mime = c2pa_embed.mime_of(asset)
    if mime is None:
        return None
    try:
        data = asset.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{asset} not found") from None
    try:
        found = c2pa_embed.read(data, mime, trust.c2pa_anchors())
    except MissingExtra:
        if manifest_path(asset).exists():  # without c2pa-python, sidecars still verify
            return None
        raise InputError(f"{asset}: no {manifest_path(asset).name}, and reading an embedded C2PA manifest needs "
                         f"c2pa-python: pip install 'mmeval[c2pa]'") from None
    if found is None:
        return None
    claim = c2pa_embed.require_valid(found, str(asset))
    return {"state": found["state"], "signer": found["signer"], "claim": claim}


def _mark_to_detect(asset: Path, marks: list[dict[str, Any]], keys: Any) -> dict[str, Any] | None:
    from ..provenance.files import detect_value, modality_of

    if keys is None or modality_of(asset) not in ("image", "audio"):
        return None
    if any(m.get("key_id") == keys.key_id for m in marks):
        return detect_value(asset, keys).to_json()
    return None


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    elif result["valid"]:
        mark = result.get("watermark")
        extra = "" if mark is None else f"; watermark {'detected' if mark['detected'] else 'NOT detected'} (p {mark['p_value']:.1e})"
        print(f"ok       {result['file']}: {_what_verified(result)}{extra}")
    else:
        print(f"INVALID  {result['file']}: {result['error']}")


def _what_verified(result: dict[str, Any]) -> str:
    parts = ["manifest signed, sha256 matches"] if "sha256" in result else []
    embedded = result.get("c2pa")
    if embedded is not None:
        claim, signer = embedded["claim"], embedded.get("signer") or {}
        parts.append(f"embedded C2PA manifest valid, signed by {signer.get('common_name')!r} (trusted)"
                     f", model {claim.get('model')!r}, suite {claim.get('suite')!r}")
    return "; ".join(parts)
