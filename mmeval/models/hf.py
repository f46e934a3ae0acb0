"""`hf-causal-lm`: a local transformers checkpoint directory, prompt -> text.

Never touches the network (`local_files_only=True`). With `chat: true` each prompt is
formatted by the tokenizer's chat template (an optional `system:` message first, then
the prompt as the user turn, then the generation prompt), as instruct models need.
Batches are left-padded and
decoded by `textgen.decode`, which seeds every sample from (suite seed, sample id), so
outputs do not depend on batch size. Runs on `cuda` with bf16 autocast when present.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError, MissingExtra, SpecError
from ..registry import load_object
from ..runinfo import best_device
from .integrity import checkpoint_digest
from .textgen import Decoding, LogitsProcessor, decode, processor_fingerprint, row_generators


def import_transformers() -> Any:
    """transformers, imported next to the CPU torch wheel (it imports torchvision: DESIGN.md,
    Environment), with its progress bars off (our own progress display covers loading)."""
    from .._compat.torchvision import ensure_torchvision

    ensure_torchvision()
    try:
        import transformers
    except ImportError:
        raise MissingExtra("transformers", "models") from None
    transformers.utils.logging.disable_progress_bar()
    return transformers


def has_chat_template(folder: Path) -> bool:
    """Whether the checkpoint's tokenizer files carry a chat template (transformers 5 writes
    `chat_template.jinja`; older versions a `chat_template` key in tokenizer_config.json)."""
    import json

    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(config.get("chat_template"))


class HFCausalLM:
    """Generate text with a local causal LM checkpoint (config, weights, tokenizer).

    Example: `use: hf-causal-lm` with `args: {path: ../my-model, max_new_tokens: 64,
    do_sample: true, temperature: 0.7, top_p: 0.9}`; an instruct model adds `chat: true`
    and optionally `system: "You write product copy."`. `logits_processors` takes
    `[{use: "pkg.mod:Factory", args: {...}}]`; each built object is called as
    `processor(input_ids, scores) -> scores` at every step (e.g. a text watermark).
    """

    runs_model = True

    def __init__(
        self,
        path: Path,
        max_new_tokens: int = 48,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        batch_size: int = 16,
        device: str | None = None,
        logits_processors: list[dict[str, Any]] | None = None,
        chat: bool = False,
        system: str | None = None,
    ):
        if not (path / "config.json").is_file():
            raise InputError(f"{path}: not a transformers checkpoint directory (no config.json)")
        if system is not None and not chat:
            raise SpecError("system: is a chat message; set chat: true to use it")
        if chat and not has_chat_template(path):
            raise InputError(f"{path}: the tokenizer has no chat template (chat: true needs one)")
        self.chat, self.system = chat, system
        if temperature <= 0 or not 0 < top_p <= 1 or max_new_tokens < 1 or batch_size < 1:
            raise SpecError("need temperature > 0, 0 < top_p <= 1, max_new_tokens >= 1, batch_size >= 1")
        self.path = path
        self.settings = Decoding(max_new_tokens, do_sample, temperature, top_p)
        self.batch_size = batch_size
        self.device = device or best_device()
        self.processor_specs = list(logits_processors or [])
        self.processors: list[LogitsProcessor] = [self._build_processor(s) for s in self.processor_specs]
        self._model: Any = None
        self._tokenizer: Any = None
        self._digest = checkpoint_digest(path)  # verifies a SHA256SUMS in the folder if there is one
        self.weights_sha256 = self._digest  # recorded in provenance manifests
        self.tokenizer_dir = path  # what a text watermark detector must tokenize with

    @staticmethod
    def _build_processor(spec: dict[str, Any]) -> LogitsProcessor:
        if "use" not in spec:
            raise SpecError("logits_processors entries need 'use: module:attr'")
        return load_object(spec["use"])(**spec.get("args", {}))

    def add_logits_processor(self, processor: LogitsProcessor) -> None:
        """Plug a processor in from Python (e.g. a watermark built with a key)."""
        self.processors.append(processor)

    def fingerprint(self) -> str:
        """What determines the outputs: weights/tokenizer digest and decoding settings."""
        s = self.settings
        procs = ",".join(str(p.get("use")) + repr(sorted(p.get("args", {}).items())) for p in self.processor_specs)
        extra = ",".join(processor_fingerprint(p) for p in self.processors[len(self.processor_specs):])
        return (f"hf-causal-lm|files:{self._digest}|max_new_tokens:{s.max_new_tokens}|do_sample:{s.do_sample}"
                f"|temperature:{s.temperature}|top_p:{s.top_p}|processors:{procs}{extra}{self._chat_fingerprint()}")

    def _chat_fingerprint(self) -> str:
        if not self.chat:
            return ""  # unchanged for plain prompts, so existing resume caches stay valid
        system = "none" if self.system is None else hashlib.sha256(self.system.encode()).hexdigest()[:16]
        return f"|chat:true|system:{system}"

    def format_prompt(self, prompt: str) -> str:
        """The text the model sees for `prompt` (the chat template applied when `chat: true`)."""
        if not self.chat:
            return prompt
        self._load()
        messages = ([{"role": "system", "content": self.system}] if self.system is not None else [])
        messages.append({"role": "user", "content": prompt})
        return str(self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))

    def _load(self) -> None:
        if self._model is not None:
            return
        transformers = import_transformers()
        try:
            tok = transformers.AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            model = transformers.AutoModelForCausalLM.from_pretrained(self.path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.path}: cannot load checkpoint ({str(exc).splitlines()[0]})") from None
        if self.chat and not getattr(tok, "chat_template", None):
            raise InputError(f"{self.path}: the tokenizer has no chat template (chat: true needs one)")
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        self._tokenizer, self._model = tok, model.to(self.device).eval()

    def generate(self, inputs: Sequence[Any], *, seed: int, ids: Sequence[str]) -> list[str]:
        import torch

        self._load()
        for value in inputs:
            if not isinstance(value, str):
                raise InputError(f"hf-causal-lm needs text prompts, got {type(value).__name__}")
        out: list[str] = []
        for start in range(0, len(inputs), self.batch_size):
            prompts = [self.format_prompt(p) for p in inputs[start : start + self.batch_size]]
            # A chat template writes its own special tokens (BOS...): do not add them twice.
            enc = self._tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=not self.chat)
            gens = row_generators(seed, ids[start : start + self.batch_size])
            autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.startswith("cuda"))
            with autocast:
                new = decode(self._model, enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device),
                             gens, self.settings, self._tokenizer.eos_token_id, self._tokenizer.pad_token_id,
                             self.processors)
            out += [self._tokenizer.decode(t, skip_special_tokens=True).strip() for t in new]
        return out
