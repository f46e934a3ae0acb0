"""The `watermark` gate: mark what the models that run generate, and sign a manifest for each.

Suite usage (needs a key ring: `--keyring` or $MMEVAL_KEYRING):
    gates:
      - use: watermark
        args: {modalities: [text, image, audio], gamma: 0.25, delta: 2.0}

Text is marked while it is generated: before generation the runner hands every adapter
to `prepare`, which plugs the green-list logits processor into adapters that take one
(`hf-causal-lm`, `reference`). Images and audio are marked after generation, in memory:
the marked output is a new `MediaBlob` (user files are never modified), which the run
writes to `outputs/<model>/` or only seals. Every output of a marked model gets a signed
manifest: media beside where the run writes it (`NAME.manifest.json`), text under
`provenance/<model>/`.
Outputs of models that do not run (`replay`) are not ours to mark and pass untouched.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

from ..errors import SpecError
from ..fsutil import safe_stem
from ..media.blob import MediaBlob, is_media, output_file
from .base import Decision, Finding, GateContext, GateItem, KeyedCounts

Modality = Literal["text", "image", "audio"]


def ring_from(ctx: GateContext, gate: str) -> Any:
    ring = ctx.extras.get("keyring")
    if ring is None:
        raise SpecError(f"the {gate} gate needs a key ring: pass --keyring or set $MMEVAL_KEYRING (create one with 'mmeval keys init')")
    return ring


class WatermarkGate(KeyedCounts):
    """Mark what models that run generate (text at the source) and sign a manifest per output."""
    name = "watermark"

    def __init__(self, modalities: list[Modality] | None = None, gamma: float = 0.25, delta: float = 2.0):
        self.modalities = tuple(modalities or ("text", "image", "audio"))
        if not 0 < gamma < 1 or delta <= 0:
            raise SpecError("watermark gate: need 0 < gamma < 1 and delta > 0")
        self.gamma, self.delta = gamma, delta
        self._models: dict[str, dict[str, Any]] = {}  # marked model -> generator description
        self._keys: Any = None
        self._signer: Any = None
        self._counts: Counter = Counter()  # (model, modality, detected) -> outputs
        self._tokenizer_dirs: dict[str, Path | None] = {}  # model -> its tokenizer folder (None: default)

    def prepare(self, model: str, adapter: Any, ctx: GateContext, use: str = "") -> None:
        """Before generation: remember which models run, and mark their text at the source."""
        from ..provenance.files import WatermarkKeys
        from ..provenance.text import GreenList, WatermarkProcessor

        if not getattr(adapter, "runs_model", False):
            return
        ring = ring_from(ctx, self.name)
        self._keys, self._signer = WatermarkKeys.from_ring(ring), ring.signing_key()
        fingerprint = getattr(adapter, "fingerprint", None)
        if "text" in self.modalities and hasattr(adapter, "add_logits_processor"):
            green = GreenList(self._keys.key("text"), self.gamma)
            adapter.add_logits_processor(WatermarkProcessor(green, self.delta, self._keys.key_id))
        self._tokenizer_dirs[model] = getattr(adapter, "tokenizer_dir", None)
        self._models[model] = {
            "model": model,
            "adapter": use or type(adapter).__name__,
            "fingerprint": fingerprint() if fingerprint else None,
            "weights_sha256": getattr(adapter, "weights_sha256", None),  # str, or per modality
        }

    def __call__(self, items: list[GateItem], ctx: GateContext) -> Decision:
        if not items or items[0].model not in self._models:
            return Decision("allow", items)
        out, findings, changed = [], [], False
        for item in items:
            new, finding = self._mark(item, ctx)
            changed |= new is not item.output
            out.append(GateItem(item.id, item.model, new))
            if finding:
                findings.append(finding)
        return Decision("transform" if changed else "allow", out, findings)

    def _mark(self, item: GateItem, ctx: GateContext) -> tuple[Any, Finding | None]:
        """(the output to score and store, a finding or None) for one output of a marked model."""
        from ..provenance.files import modality_of

        if isinstance(item.output, str) and "text" in self.modalities:
            return self._sign_text(item, ctx)
        if is_media(item.output) and modality_of(item.output) in self.modalities:
            return self._mark_media(item, ctx), None
        return item.output, None

    def _sign_text(self, item: GateItem, ctx: GateContext) -> tuple[str, Finding | None]:
        """Text was marked while generated: sign it, and measure whether the mark shows."""
        from ..provenance.files import detect_value
        from ..provenance.text import load_tokenizer

        tokenizer = load_tokenizer(self._tokenizer_dirs[item.model])
        detection = detect_value(item.output, self._keys, tokenizer, gamma=self.gamma)
        self._counts[(item.model, "text", detection.detected)] += 1
        target = Path(ctx.run_dir) / "provenance" / safe_stem(item.model) / f"{safe_stem(item.id)}.txt"
        self._sign(item.output.encode(), target, "text", item.model, ctx, media_type="text/plain")
        if detection.detected:
            return item.output, None
        # Short or low-entropy text can carry the mark without enough evidence to show it.
        return item.output, Finding(item.id, item.model, "watermark-not-detectable", {"tokens": detection.details.get("scored")})

    def _mark_media(self, item: GateItem, ctx: GateContext) -> MediaBlob:
        """The output with the mark, in memory (the run then writes or seals it), and its
        signed manifest where the run writes media (`blob.output_file`)."""
        from ..provenance.files import detect_value, embed_bytes, modality_of

        modality = modality_of(item.output) or ""
        name = item.output.name if isinstance(item.output, MediaBlob) else f"{safe_stem(item.id)}{item.output.suffix}"
        marked = MediaBlob(embed_bytes(item.output, self._keys), name)
        # Measured, not assumed: what a detector finds in the bytes as they will be stored.
        self._counts[(item.model, modality, detect_value(marked, self._keys).detected)] += 1
        self._sign(marked.data, output_file(Path(ctx.run_dir), item.model, marked), modality, item.model, ctx)
        return marked

    def _sign(self, data: bytes, target: Path, modality: str, model: str, ctx: GateContext, media_type: str | None = None) -> None:
        from ..provenance.files import mark_claim
        from ..provenance.manifest import build_claim, manifest_path, sign_manifest, write_manifest

        claim = build_claim(
            data, target.name, watermark=mark_claim(modality, self._keys, self._tokenizer_dirs[model], self.gamma, self.delta),
            generator=self._models[model], suite={"name": ctx.suite_name, "sha256": ctx.suite_sha256},
            run_id=ctx.run_id, media_type=media_type,
        )
        write_manifest(manifest_path(target), sign_manifest(claim, self._signer))

    def describe(self) -> dict[str, Any]:
        marked: dict[str, dict[str, Any]] = {}
        for (model, modality, detected), n in sorted(self._counts.items()):
            entry = marked.setdefault(model, {}).setdefault(modality, {"outputs": 0, "detected": 0})
            entry["outputs"] += n
            entry["detected"] += n if detected else 0
        return {
            "modalities": list(self.modalities),
            "text": {"gamma": self.gamma, "delta": self.delta},
            "key_id": self._key_id(),
            "marked_models": sorted(self._models),
            "marked": marked,
        }
