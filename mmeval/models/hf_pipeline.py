"""`hf-pipeline`: a local transformers checkpoint folder run as a text-to-audio or text2text task.

`text-to-audio` runs `transformers.pipeline("text-to-audio")` (VITS/MMS-TTS, MusicGen-style
models) and returns in-memory 16-bit PCM WAV `MediaBlob`s at the model's own sampling rate.
`text2text-generation` runs an encoder-decoder (T5, BART...) through `generate` and returns
text: transformers 5 removed that pipeline, so the adapter does what it did (tokenize,
`generate`, decode without special tokens) on every transformers version.

Never touches the network: model and tokenizer load with `local_files_only=True` and never
with remote code. The folder is fingerprinted by `checkpoint_digest` (a `SHA256SUMS` in it is
verified first; a mismatch is exit 4). Each sample runs under its own seed from (suite seed,
sample id): VITS draws its noise, and `generate(do_sample=True)` its tokens, from torch's
global RNG for a whole batch (and VITS pads a batch's clips to one length), so text-to-audio
and sampled text run one sample at a time; greedy text2text runs `batch_size` at a time.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from ..errors import InputError, SpecError
from ..media.blob import MediaBlob
from ..runinfo import best_device
from .hf import import_transformers
from .integrity import checkpoint_digest
from .textgen import sample_seed

Task = Literal["text-to-audio", "text2text-generation"]
VITS_SETTINGS = ("speaking_rate", "noise_scale", "noise_scale_duration")
TEXT2TEXT_MAX_NEW_TOKENS = 48


def wav_blob(audio: np.ndarray, rate: int, name: str) -> MediaBlob:
    """Mono `(n,)` or multichannel `(channels, n)` float audio as a 16-bit PCM WAV blob
    (samples beyond [-1, 1] clip, as any PCM export does). Standard library only."""
    import wave

    data = np.asarray(audio, dtype=np.float64)
    frames = data.T if data.ndim == 2 else data[:, None]  # (n, channels), interleaved below
    pcm = np.ascontiguousarray(np.clip(np.round(frames * 32767), -32768, 32767).astype("<i2"))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as handle:
        handle.setnchannels(pcm.shape[1])
        handle.setsampwidth(2)
        handle.setframerate(int(rate))
        handle.writeframes(pcm.tobytes())
    return MediaBlob(buf.getvalue(), name)


def _model_type(path: Path) -> str:
    import json

    try:
        return str(json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type", ""))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path / 'config.json'}: not a readable transformers config ({exc})") from None


class HFPipeline:
    """Run a local transformers text-to-audio or text2text checkpoint folder.

    args: `path` (the folder), `task` (`text-to-audio` | `text2text-generation`),
    `batch_size` (greedy text2text only), `device` (default: cuda when present);
    generation: `max_new_tokens`, `do_sample`, `temperature`, `top_p` (text2text and
    MusicGen-style models), `guidance_scale` (MusicGen); VITS/MMS-TTS: `speaking_rate`,
    `noise_scale`, `noise_scale_duration` (default: the checkpoint's config).

    Example:
        models:
          candidate:
            use: hf-pipeline
            args: {path: ../models/mms-tts-eng, task: text-to-audio, noise_scale: 0.5}
    """

    runs_model = True

    def __init__(
        self,
        path: Path,
        task: Task,
        batch_size: int = 8,
        device: str | None = None,
        max_new_tokens: int | None = None,
        do_sample: bool | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        guidance_scale: float | None = None,
        speaking_rate: float | None = None,
        noise_scale: float | None = None,
        noise_scale_duration: float | None = None,
    ):
        if task not in get_args(Task):
            raise SpecError(f"hf-pipeline task {task!r} is not supported; use one of {', '.join(get_args(Task))}")
        if batch_size < 1 or (max_new_tokens is not None and max_new_tokens < 1):
            raise SpecError("hf-pipeline needs batch_size >= 1 and max_new_tokens >= 1")
        if (temperature is not None and temperature <= 0) or (top_p is not None and not 0 < top_p <= 1):
            raise SpecError("hf-pipeline needs temperature > 0 and 0 < top_p <= 1")
        if not path.is_dir():
            raise InputError(f"{path}: model folder not found")
        if not (path / "config.json").is_file():
            raise InputError(f"{path}: not a transformers checkpoint folder (no config.json)")
        self.path, self.task, self.batch_size = path, task, batch_size
        self.device = device or best_device()
        self.model_type = _model_type(path)
        vits = {k: v for k, v in zip(VITS_SETTINGS, (speaking_rate, noise_scale, noise_scale_duration)) if v is not None}
        gen = {k: v for k, v in (("max_new_tokens", max_new_tokens), ("do_sample", do_sample),
                                 ("temperature", temperature), ("top_p", top_p),
                                 ("guidance_scale", guidance_scale)) if v is not None}
        if task == "text2text-generation" and (vits or "guidance_scale" in gen):
            raise SpecError(f"hf-pipeline text2text-generation takes no {', '.join([*vits, *gen.keys() & {'guidance_scale'}])}")
        if task == "text2text-generation":
            gen.setdefault("max_new_tokens", TEXT2TEXT_MAX_NEW_TOKENS)
        if self.model_type == "vits" and gen:
            raise SpecError(f"{path}: a VITS model generates no tokens; it takes speaking_rate, noise_scale, "
                            f"noise_scale_duration, not {', '.join(gen)}")
        if self.model_type != "vits" and vits:
            raise SpecError(f"{path}: {', '.join(vits)} apply to VITS models only (this one is {self.model_type!r})")
        self.vits_settings, self.generate_kwargs = vits, gen
        self._digest = checkpoint_digest(path)  # verifies SHA256SUMS when the folder carries one
        self.weights_sha256 = self._digest  # recorded in provenance manifests
        self._pipe: Any = None
        self._model: Any = None
        self._tokenizer: Any = None

    def fingerprint(self) -> str:
        """What determines the outputs: the folder's digest, the task and every setting."""
        settings = sorted({**self.vits_settings, **self.generate_kwargs}.items())
        return f"hf-pipeline|{self.task}|{self.model_type}|files:{self._digest}|{settings}"

    def _load(self) -> None:
        if self._model is not None:
            return
        transformers = import_transformers()
        auto = (transformers.AutoModelForTextToWaveform if self.task == "text-to-audio"
                else transformers.AutoModelForSeq2SeqLM)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(self.path, local_files_only=True, trust_remote_code=False)
            model = auto.from_pretrained(self.path, local_files_only=True, trust_remote_code=False)
        except (OSError, ValueError, KeyError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(f"{self.path}: cannot load as {self.task} ({first})") from None
        model = model.to(self.device).eval()
        for name, value in self.vits_settings.items():
            setattr(model, name, value)  # VitsModel reads these attributes in forward
        if self.task == "text-to-audio":
            # Model and tokenizer are built above, so the pipeline loads nothing itself.
            self._pipe = transformers.pipeline("text-to-audio", model=model, tokenizer=tokenizer, device=self.device)
        self._model, self._tokenizer = model, tokenizer

    def _seeded(self, seed: int, sample_id: str, run: Any) -> Any:
        import torch

        devices = [torch.device(self.device).index or 0] if self.device.startswith("cuda") else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(sample_seed(seed, sample_id))  # CPU and CUDA generators alike
            return run()

    def generate(self, inputs: Sequence[Any], *, seed: int, ids: Sequence[str]) -> list[Any]:
        for sid, value in zip(ids, inputs):
            if not isinstance(value, str):
                raise InputError(f"sample {sid!r}: hf-pipeline {self.task} needs a text input, got {type(value).__name__}")
        self._load()
        if self.task == "text-to-audio":
            return [self._audio(text, seed, sid) for text, sid in zip(inputs, ids)]
        if self.generate_kwargs.get("do_sample", self._model.generation_config.do_sample):
            return [self._seeded(seed, sid, lambda t=text: self._text([t])[0]) for text, sid in zip(inputs, ids)]
        out: list[str] = []
        for start in range(0, len(inputs), self.batch_size):
            out += self._text(list(inputs[start : start + self.batch_size]))
        return out

    def _audio(self, text: str, seed: int, sample_id: str) -> MediaBlob:
        from ..fsutil import safe_stem

        if not self._tokenizer(text)["input_ids"]:  # VITS drops characters outside its vocabulary
            raise InputError(f"sample {sample_id!r}: no character of the text is in {self.path.name}'s vocabulary")
        kwargs = {"generate_kwargs": dict(self.generate_kwargs)} if self.generate_kwargs else {}
        try:
            result = self._seeded(seed, sample_id, lambda: self._pipe(text, **kwargs))
        except (RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(f"sample {sample_id!r}: {self.path.name} cannot synthesize it ({first})") from None
        audio = np.asarray(result["audio"], dtype=np.float32)
        if audio.size == 0 or not np.isfinite(audio).all():
            raise InputError(f"sample {sample_id!r}: {self.path.name} produced {'no' if audio.size == 0 else 'non-finite'} audio")
        return wav_blob(audio, result["sampling_rate"], f"{safe_stem(sample_id)}.wav")

    def _text(self, prompts: list[str]) -> list[str]:
        enc = self._tokenizer(prompts, return_tensors="pt", padding=True).to(self.device)
        ids = self._model.generate(**enc, **self.generate_kwargs)
        return [text.strip() for text in self._tokenizer.batch_decode(ids, skip_special_tokens=True)]
