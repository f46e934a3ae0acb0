"""`mmeval watermark embed FILES... --out DIR` and `mmeval watermark detect FILES... [--json]`.

`embed` marks images (PNG/JPEG) and audio (WAV) with the key ring's watermark key and
writes each marked copy to DIR with a signed manifest beside it (`NAME.manifest.json`).
DIR follows the output folder rules of `mmeval run` (staging.py): it appears whole or not
at all, a folder of the user's is refused, and an earlier output is replaced only with
`--force`.
Text is marked while it is generated (the `watermark` gate), so it is detected here but
not embedded. `detect` prints, per file (per line for JSONL): detected, score, p-value;
it skips the manifests `embed` writes, so `detect marked/*` works.
Keys come from `--keyring` / $MMEVAL_KEYRING; embed needs the `run` permission, detect `audit`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._access import add_access_arguments, authorize_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="wm_command", metavar="ACTION", required=True, parser_class=type(parser))
    embed = sub.add_parser("embed", help="mark images/audio and write signed manifests")
    embed.add_argument("files", type=Path, nargs="+", help="PNG/JPEG images or WAV files")
    embed.add_argument("--out", type=Path, required=True, help="new folder for the marked copies and manifests")
    embed.add_argument("--force", action="store_true", help="replace an earlier mmeval output in --out")
    embed.add_argument("--model", default="unknown", help="the generator's name, recorded in the manifest")
    embed.add_argument("--weights-sha256", help="sha256 of the generator's weights, recorded in the manifest")
    embed.add_argument("--c2pa", action="store_true",
                       help="embed a signed C2PA manifest in each file instead of a sidecar (pip install 'mmeval[c2pa]'; signer: keys c2pa-cert)")
    embed.add_argument("--c2pa-signer", type=Path, metavar="DIR", help="the `keys c2pa-cert` folder (default: $MMEVAL_HOME/c2pa/)")
    detect = sub.add_parser("detect", help="test files for the mark (text, images, audio)")
    detect.add_argument("files", type=Path, nargs="+", help=".txt/.jsonl text, PNG/JPEG images or WAV files")
    detect.add_argument("--json", action="store_true", help="one JSON object per item")
    detect.add_argument("--tokenizer", type=Path, help="tokenizer folder of the text generator (default: reference text model)")
    detect.add_argument("--alpha", type=float, default=1e-3, help="significance level for 'detected' (default 1e-3)")
    for p in (embed, detect):
        add_access_arguments(p)


def main(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..security.auditlog import AuditLog
    from ..security.keyring import KeyRing, resolve_path

    ring_path = resolve_path(args.keyring)
    action = "run" if args.wm_command == "embed" else "audit"
    principal = authorize_args(args, action, "watermark", anchors=tuple(args.files))
    ring = KeyRing.load(ring_path)
    if args.wm_command == "detect":
        args.files = _without_manifests(args.files)
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise InputError(f"{missing[0]} not found")
    if args.wm_command == "embed":
        written = _embed(args, ring)
        AuditLog.default().append("watermark", principal=principal, operation="embed", files=written)
        return 0
    if not 0 < args.alpha < 1:
        raise InputError("--alpha must be in (0, 1)")
    _detect(args, ring)
    AuditLog.default().append("watermark", principal=principal, operation="detect", files=len(args.files))
    return 0


def _embed(args: argparse.Namespace, ring: Any) -> int:
    from ..errors import InputError
    from ..fsutil import write_atomic
    from ..provenance.files import WatermarkKeys, embed_bytes, mark_claim, modality_of
    from ..provenance.manifest import build_claim, manifest_path, sign_manifest, write_manifest
    from ..staging import staged_directory

    keys = WatermarkKeys.from_ring(ring)
    names = [f.name for f in args.files]
    if len(set(names)) != len(names):
        raise InputError("two inputs share a file name; they would overwrite each other in --out")
    for src in args.files:  # check every type before writing anything
        if modality_of(src) not in ("image", "audio"):
            raise InputError(f"{src}: embed takes PNG/JPEG images or WAV audio (text is marked during generation)")
    generator = {"model": args.model, "weights_sha256": args.weights_sha256}
    signer = _c2pa_signer(args) if args.c2pa else None  # a missing signer fails before anything is marked
    marked = [embed_bytes(src, keys) for src in args.files]  # every input checked before any write
    with staged_directory(args.out, replace=args.force) as staging:
        for src, data in zip(args.files, marked):
            dst = staging / src.name
            claim = build_claim(data, dst.name, watermark=mark_claim(modality_of(src) or "", keys), generator=generator)
            if signer is not None:  # the manifest travels inside the file, readable by Content Credentials tools
                from ..provenance import c2pa_embed

                write_atomic(dst, c2pa_embed.embed(data, c2pa_embed.mime_of(dst), c2pa_embed.claim_fields(claim), *signer))
            else:
                write_atomic(dst, data)
                write_manifest(manifest_path(dst), sign_manifest(claim, ring.signing_key()))
    for src in args.files:
        print(f"{args.out / src.name}  " + ("(C2PA manifest embedded)" if signer else f"(+ {manifest_path(args.out / src.name).name})"))
    return len(args.files)


def _c2pa_signer(args: argparse.Namespace) -> tuple[bytes, bytes]:
    from ..provenance import c2pa_embed

    c2pa_embed.require()
    return c2pa_embed.load_signer(args.c2pa_signer or c2pa_embed.default_dir())


def _without_manifests(files: list[Path]) -> list[Path]:
    """`files` less the `NAME.manifest.json` files beside marked media, said in one stderr line."""
    from ..errors import InputError
    from ..provenance.manifest import SUFFIX

    kept = [f for f in files if not f.name.endswith(SUFFIX)]
    skipped = len(files) - len(kept)
    if not kept:
        raise InputError(f"only manifests given ({skipped}); detect takes the media files beside them")
    if skipped:
        print(f"note: skipped {skipped} manifest file(s) ({SUFFIX})", file=sys.stderr)
    return kept


def _detect(args: argparse.Namespace, ring: Any) -> None:
    from ..errors import InputError
    from ..provenance.files import WatermarkKeys, detect_file, modality_of
    from ..provenance.text import load_tokenizer

    unsupported = [f for f in args.files if modality_of(f) is None]
    if unsupported:  # before any output, so a typo in a glob does not leave half a listing
        raise InputError(f"{unsupported[0]}: unsupported file type (text: .txt .jsonl; images: .png .jpg .jpeg; audio: .wav)")
    keys = WatermarkKeys.from_ring(ring)
    tokenizer = load_tokenizer(args.tokenizer) if any(modality_of(f) == "text" for f in args.files) else None
    for path in args.files:
        for item, det in detect_file(path, keys, tokenizer, args.alpha):
            if args.json:
                print(json.dumps({"file": str(path), "item": item, **det.to_json()}))
            else:
                verdict = "MARKED  " if det.detected else "unmarked"
                print(f"{verdict} score {det.score:7.2f}  p {det.p_value:.2e}  {item}")
