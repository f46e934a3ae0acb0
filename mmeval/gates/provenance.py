"""The `provenance` gate: every output must carry our mark and a valid signed manifest.

Suite usage (needs a key ring: `--keyring` or $MMEVAL_KEYRING):
    gates:
      - use: watermark      # optional: marks what the models that run generate
      - use: provenance
        args: {require_manifest: true, require_watermark: [text, image, audio], alpha: 0.001}

Images and audio need a manifest beside the file (`NAME.manifest.json`) that verifies
with the key ring's signing key and matches the file's sha256, and a detectable mark.
Text needs a detectable mark; its manifest is checked when the watermark gate wrote one
in this run (text from elsewhere has no place for one). Anything missing or invalid
blocks the run; the reason counts problems by kind, never contents.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

from ..errors import IntegrityError, InputError
from .base import Decision, Finding, GateContext, GateItem, KeyedCounts
from ..fsutil import safe_stem
from ..media.blob import is_media, media_bytes, output_file
from .watermark import ring_from


class ProvenanceGate(KeyedCounts):
    """Require a valid signed manifest and a detectable mark on every output; block otherwise."""
    name = "provenance"

    def __init__(
        self,
        require_manifest: bool = True,
        require_watermark: list[Literal["text", "image", "audio"]] | None = None,
        alpha: float = 1e-3,
    ):
        from ..errors import SpecError

        if not 0 < alpha < 1:
            raise SpecError("provenance gate: alpha must be in (0, 1)")
        self.require_manifest, self.alpha = require_manifest, alpha
        self.require_watermark = tuple(("text", "image", "audio") if require_watermark is None else require_watermark)
        self._keys: Any = None
        self._trusted: list[Any] = []
        self._tokenizer_dirs: dict[str, Path | None] = {}
        self._counts: Counter = Counter()  # model -> outputs checked

    def prepare(self, model: str, adapter: Any, ctx: GateContext, use: str = "") -> None:
        from ..provenance.files import WatermarkKeys
        from ..provenance.manifest import trusted_signers

        ring = ring_from(ctx, self.name)
        self._keys = WatermarkKeys.from_ring(ring)
        self._trusted = trusted_signers(None, ring)
        self._tokenizer_dirs[model] = getattr(adapter, "tokenizer_dir", None)

    def __call__(self, items: list[GateItem], ctx: GateContext) -> Decision:
        if self._keys is None:
            self.prepare(items[0].model if items else "", None, ctx)
        findings = [f for item in items if (f := self._check(item, ctx)) is not None]
        self._counts[items[0].model if items else ""] += len(items)
        if findings:
            kinds = Counter(f.kind for f in findings)
            detail = ", ".join(f"{kind} x{n}" for kind, n in sorted(kinds.items()))
            reason = f"provenance: {len(findings)} output(s) of model {items[0].model!r} lack a valid mark or manifest ({detail})"
            return Decision("block", items, findings, reason=reason)
        return Decision("allow", items, [])

    def _check(self, item: GateItem, ctx: GateContext) -> Finding | None:
        from ..provenance.files import detect_value, modality_of
        from ..provenance.manifest import manifest_path, read_manifest, verify_asset, verify_claim
        from ..provenance.text import load_tokenizer

        modality = "text" if isinstance(item.output, str) else modality_of(item.output) if is_media(item.output) else None
        try:
            if isinstance(item.output, str):
                manifest = Path(ctx.run_dir) / "provenance" / safe_stem(item.model) / f"{safe_stem(item.id)}.txt.manifest.json"
                if manifest.exists():
                    verify_asset(item.output.encode(), verify_claim(read_manifest(manifest), self._trusted, str(manifest)), item.id)
                detection = detect_value(item.output, self._keys, load_tokenizer(self._tokenizer_dirs.get(item.model)), self.alpha)
            elif is_media(item.output) and modality in ("image", "audio"):
                # A file's manifest sits beside it; a blob's beside where the run writes it.
                asset = item.output if isinstance(item.output, Path) else output_file(Path(ctx.run_dir), item.model, item.output)
                manifest = manifest_path(asset)
                if manifest.exists():
                    verify_asset(media_bytes(item.output), verify_claim(read_manifest(manifest), self._trusted, str(manifest)), item.id)
                elif self.require_manifest:
                    return Finding(item.id, item.model, "missing-manifest")
                detection = detect_value(item.output, self._keys, alpha=self.alpha)
            else:
                return None  # labels and numbers carry no provenance
        except IntegrityError:
            return Finding(item.id, item.model, "invalid-manifest")
        except (InputError, OSError):
            return Finding(item.id, item.model, "unreadable")
        if modality in self.require_watermark and not detection.detected:
            return Finding(item.id, item.model, "unmarked", {"p_value": detection.p_value})
        return None

    def describe(self) -> dict[str, Any]:
        return {"require_manifest": self.require_manifest, "require_watermark": list(self.require_watermark),
                "alpha": self.alpha, "key_id": self._key_id(), "checked": dict(self._counts)}
