"""`mmeval provenance verify FILE... [--public-key PEM] [--json]`.

FILE is an asset (its manifest is `FILE.manifest.json`) or a manifest. Checks, in order:
the manifest is byte-for-byte the canonical one, its Ed25519 signature verifies with a
trusted key (`--public-key`, else the key ring's signing key), and the asset's sha256
matches (hard binding). With a key ring whose watermark key is the manifest's, the mark
is detected too (soft binding). Exit 0 when every file verifies, 4 naming the first that
does not. Share the public key with `mmeval keys public`.
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
    verify.add_argument("--json", action="store_true", help="one JSON object per file")
    add_access_arguments(verify)


def main(args: argparse.Namespace) -> int:
    from ..errors import IntegrityError
    from ..provenance.manifest import SUFFIX

    principal = authorize_args(args, "audit", "provenance", anchors=tuple(args.files))
    trusted, keys = _trust(args)
    first_failure = None
    for path in args.files:
        asset = path.with_name(path.name[: -len(SUFFIX)]) if path.name.endswith(SUFFIX) else path
        try:
            result = verify_one(asset, trusted, keys)
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


def _trust(args: argparse.Namespace) -> tuple[list[Any], Any]:
    """Trusted public keys, and the watermark keys when a key ring is at hand."""
    from ..provenance.files import WatermarkKeys
    from ..provenance.manifest import trusted_signers
    from ..security.keyring import KeyRing, resolve_path

    ring_path = resolve_path(args.keyring)
    ring = KeyRing.load(ring_path) if ring_path.exists() else None
    return trusted_signers(args.public_key, ring), WatermarkKeys.from_ring(ring) if ring is not None else None


def verify_one(asset: Path, trusted: list[Any], keys: Any) -> dict[str, Any]:
    """Hard binding and signature (IntegrityError if broken); soft binding when the key is ours."""
    from ..provenance.files import detect_value, modality_of
    from ..provenance.manifest import verify_manifest

    claim = verify_manifest(asset, trusted)
    result: dict[str, Any] = {"file": str(asset), "valid": True, "sha256": claim["asset"]["sha256"],
                              "generator": claim.get("generator"), "run_id": claim.get("run_id")}
    mark = claim.get("watermark") or {}
    if keys is not None and mark.get("key_id") == keys.key_id and modality_of(asset) in ("image", "audio"):
        result["watermark"] = detect_value(asset, keys).to_json()
    return result


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    elif result["valid"]:
        mark = result.get("watermark")
        extra = "" if mark is None else f"; watermark {'detected' if mark['detected'] else 'NOT detected'} (p {mark['p_value']:.1e})"
        print(f"ok       {result['file']}: manifest signed, sha256 matches{extra}")
    else:
        print(f"INVALID  {result['file']}: {result['error']}")
