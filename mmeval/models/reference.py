"""`reference`: the repository's reference generators (text, image, audio) by name.

Weights live in `reference_models/<name>/<variant>/` and are checked against
`reference_models/SHA256SUMS` before loading (mismatch: IntegrityError, exit 4).
Text delegates to `hf-causal-lm`; image and audio decode the catalogue attributes parsed
from the product title and are returned as in-memory PNG/WAV `MediaBlob`s (the run
writes them to its folder, or with a key ring only seals them).
`name: auto` takes inputs `{"modality": ..., "input": ...}` and routes each to its
generator, so one suite can hold all three tasks (see suites/ecommerce-release.yaml).

Example: `use: reference` with `args: {name: image, variant: degraded}`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from ..catalog.extract import extract
from ..catalog.vocab import encode
from ..errors import InputError, SpecError
from ..media.blob import MediaBlob
from ..runinfo import best_device
from .hf import HFCausalLM
from .integrity import verify_folder
from .textgen import processor_fingerprint, row_generators

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "reference_models"
MODALITIES = ("text", "image", "audio")
MICRO_BATCH = 8  # fixed network batch shape for media, see _MediaGenerator._micro_batch


class _MediaGenerator:
    """An attribute-conditioned image or audio network loaded from safetensors."""

    def __init__(self, kind: str, folder: Path, device: str):
        import torch
        from safetensors.torch import load_file

        from .refnets import build

        config = json.loads((folder / "config.json").read_text())
        self.kind, self.device = kind, device
        self.net = build(kind, config)
        self.net.load_state_dict(load_file(str(folder / "model.safetensors")))
        self.net.to(device).eval()
        self._torch = torch

    def generate(self, titles: Sequence[str], *, seed: int, ids: Sequence[str]) -> list[Any]:
        vectors = []
        for sid, title in zip(ids, titles):
            found = extract(title)
            missing = [k for k in ("category", "colour", "material") if found[k] is None]
            if missing:
                raise InputError(f"sample {sid!r}: title names no {', '.join(missing)} from the catalogue vocabulary")
            vectors.append(encode(found["category"], found["colour"], found["material"]))
        out: list[Any] = []
        for start in range(0, len(vectors), MICRO_BATCH):
            out += self._micro_batch(vectors[start : start + MICRO_BATCH], seed, list(ids[start : start + MICRO_BATCH]))
        return out

    def _micro_batch(self, vectors: list[list[float]], seed: int, ids: list[str]) -> list[Any]:
        # Always run the same tensor shape (zero rows pad the tail): conv/FFT kernels pick
        # their blocking by shape, and float results would otherwise shift with batch size.
        torch = self._torch
        n = len(vectors)
        padded = vectors + [[0.0] * len(vectors[0])] * (MICRO_BATCH - n)
        attrs = torch.tensor(padded, dtype=torch.float32, device=self.device)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.startswith("cuda"))
        with torch.no_grad(), autocast:
            out = self.net(attrs).float()
        if self.kind == "image":
            pixels = (out.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            return list(pixels[:n])
        from .refnets import griffin_lim

        waves = griffin_lim(out.cpu(), row_generators(seed, ids + [f"\x00pad{i}" for i in range(MICRO_BATCH - n)]))[:n]
        peak = waves.abs().amax(dim=1, keepdim=True).clamp_min(1e-6)
        return list((0.9 * waves / peak).numpy())


class ReferenceGenerator:
    """A committed reference generator (text, image, audio or `auto`) at a variant.

    Example: `use: reference` with `args: {name: image, variant: degraded}`.
    """

    runs_model = True

    def __init__(
        self,
        name: Literal["text", "image", "audio", "auto"],
        variant: Literal["final", "degraded"] = "final",
        batch_size: int = 16,
        root: Path | None = None,
        max_new_tokens: int = 48,
        do_sample: bool = True,
        temperature: float = 0.7,
        top_p: float = 0.95,
    ):
        if batch_size < 1:
            raise SpecError("batch_size must be >= 1")
        self.name, self.variant, self.batch_size = name, variant, batch_size
        self.root = root or DEFAULT_ROOT
        self.manifest = self.root / "SHA256SUMS"
        self.text_args = dict(max_new_tokens=max_new_tokens, do_sample=do_sample, temperature=temperature, top_p=top_p)
        self.device = best_device()
        self._digests = {m: verify_folder(self.manifest, self._folder(m)) for m in self._modalities()}
        self._generators: dict[str, Any] = {}
        self._text_processors: list[Any] = []  # e.g. a text watermark, see add_logits_processor

    @property
    def weights_sha256(self) -> dict[str, str]:
        """Per modality, the sha256 over the verified weight files (for provenance manifests)."""
        return dict(self._digests)

    @property
    def tokenizer_dir(self) -> Path | None:
        return self._folder("text") if "text" in self._modalities() else None

    def add_logits_processor(self, processor: Any) -> None:
        """Plug a logits processor (e.g. the text watermark) into the text generator."""
        if "text" not in self._modalities():
            return
        self._text_processors.append(processor)
        if "text" in self._generators:
            self._generators["text"].add_logits_processor(processor)

    def _modalities(self) -> tuple[str, ...]:
        return MODALITIES if self.name == "auto" else (self.name,)

    def _folder(self, modality: str) -> Path:
        folder = self.root / modality / self.variant
        if not folder.is_dir():
            raise InputError(f"{folder}: reference model folder not found (set args.root to a reference_models folder)")
        return folder

    def fingerprint(self) -> str:
        digests = ",".join(f"{m}:{self._digests[m][:16]}" for m in self._modalities())
        processors = ",".join(processor_fingerprint(p) for p in self._text_processors)
        return f"reference|{self.name}|{self.variant}|{digests}|{sorted(self.text_args.items())}|processors:{processors}"

    def _generator(self, modality: str) -> Any:
        if modality not in self._generators:
            # Re-verify at load time: the files may have changed since the suite was loaded.
            verify_folder(self.manifest, self._folder(modality))
            if modality == "text":
                text = HFCausalLM(self._folder("text"), batch_size=self.batch_size, device=self.device, **self.text_args)
                for processor in self._text_processors:
                    text.add_logits_processor(processor)
                self._generators[modality] = text
            else:
                self._generators[modality] = _MediaGenerator(modality, self._folder(modality), self.device)
        return self._generators[modality]

    def _route(self, inputs: Sequence[Any]) -> list[tuple[str, Any]]:
        routed = []
        for value in inputs:
            if self.name != "auto":
                routed.append((self.name, value))
            elif isinstance(value, dict) and value.get("modality") in MODALITIES and "input" in value:
                routed.append((value["modality"], value["input"]))
            else:
                raise InputError("reference 'auto' needs inputs like {\"modality\": \"image\", \"input\": \"Red Wool Cap\"}")
        for modality, value in routed:
            if not isinstance(value, str):
                raise InputError(f"reference {modality} generator needs a text input, got {type(value).__name__}")
        return routed

    def generate(self, inputs: Sequence[Any], *, seed: int, ids: Sequence[str]) -> list[Any]:
        routed = self._route(inputs)
        outputs: list[Any] = [None] * len(inputs)
        for modality in MODALITIES:
            idx = [i for i, (m, _) in enumerate(routed) if m == modality]
            for start in range(0, len(idx), self.batch_size):
                chunk = idx[start : start + self.batch_size]
                values = self._generator(modality).generate([routed[i][1] for i in chunk], seed=seed, ids=[ids[i] for i in chunk])
                for i, value in zip(chunk, values):
                    outputs[i] = value if modality == "text" else self._encode(modality, ids[i], value)
        return outputs

    @staticmethod
    def _encode(modality: str, sample_id: str, value: Any) -> MediaBlob:
        """Media stay in memory: the run writes them to its folder, or only seals them."""
        from ..catalog.audio import wav_bytes
        from ..catalog.images import png_bytes
        from ..fsutil import safe_stem

        if modality == "image":
            return MediaBlob(png_bytes(value), f"{safe_stem(sample_id)}.png")
        return MediaBlob(wav_bytes(value), f"{safe_stem(sample_id)}.wav")
