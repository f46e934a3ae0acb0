"""Provenance: keyed watermarks for text, images and audio, signed manifests, audits.

    from mmeval.provenance import WatermarkKeys, detect_file, verify_manifest
    keys = WatermarkKeys.from_ring(KeyRing.load(path))
    [(item, detection)] = detect_file(Path("a.png"), keys)   # detection.p_value
"""

from .base import Detection, subkey
from .files import WatermarkKeys, detect_file, detect_value, embed_file
from .manifest import build_claim, manifest_path, sign_manifest, verify_manifest
from .text import GreenList, WatermarkProcessor

__all__ = [
    "Detection", "GreenList", "WatermarkKeys", "WatermarkProcessor", "build_claim", "detect_file", "detect_value",
    "embed_file", "manifest_path", "sign_manifest", "subkey", "verify_manifest",
]
