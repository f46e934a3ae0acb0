"""`diffusers`: a local text-to-image pipeline folder (what `save_pretrained` writes), prompt -> PNG.

The folder is untrusted input. It is fingerprinted by `checkpoint_digest` (a `SHA256SUMS`
in it is verified first: a mismatch is exit 4), it may name only classes that ship with
diffusers and transformers (never code of its own: no custom pipelines, no `.py` files,
no `trust_remote_code`), and weights load from safetensors only (no pickles). Each sample
draws its noise from its own CPU `torch.Generator` seeded from (suite seed, sample id),
and every pipeline call runs at the same batch shape (`batch_size` prompts, the tail padded),
so an image does not depend on its batch mates, its place in a batch, the suite's batch
size or which samples a resumed run still had to generate.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError, IntegrityError, MissingExtra, SpecError
from ..media.blob import MediaBlob
from ..runinfo import best_device
from .integrity import checkpoint_digest
from .textgen import row_generators

_DEVICE = re.compile(r"^(cpu|mps|(cuda|xpu)(:\d+)?)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LIBRARIES = ("diffusers", "transformers")  # plus diffusers' own pipeline modules (e.g. stable_diffusion)


def _diffusers() -> Any:
    from .._compat.torchvision import ensure_torchvision

    ensure_torchvision()  # diffusers' pipelines import transformers, which imports torchvision
    try:
        import diffusers
    except ImportError:
        raise MissingExtra("diffusers", "diffusers") from None
    return diffusers


def read_model_index(folder: Path) -> dict[str, Any]:
    """`model_index.json`, checked to name only classes that ship with diffusers/transformers."""
    index_file = folder / "model_index.json"
    if not folder.is_dir():
        raise InputError(f"{folder}: pipeline folder not found")
    if not index_file.is_file():
        raise InputError(f"{index_file}: not found; point args.path at a diffusers pipeline folder "
                         "(the one `pipeline.save_pretrained(folder)` writes, with model_index.json at its top)")
    index = _json_object(index_file)
    code = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.py"))
    if code:
        raise InputError(f"{folder / code[0]}: a pipeline folder with code in it is refused (mmeval never runs a folder's own code)")
    diffusers = _diffusers()
    pipeline = index.get("_class_name")
    if not isinstance(pipeline, str) or not _NAME.match(pipeline) or pipeline not in dir(diffusers):
        raise InputError(f"{index_file}: _class_name {pipeline!r} is not a diffusers pipeline class "
                         "(custom pipelines are refused)")
    for key, value in index.items():
        if key.startswith("_") or not isinstance(value, list) or value == [None, None]:
            continue  # settings such as requires_safety_checker, and absent components
        library, cls = value if len(value) == 2 else (None, None)
        known = isinstance(library, str) and (library in _LIBRARIES or library in dir(diffusers.pipelines))
        if not known or not isinstance(cls, str) or not _NAME.match(cls):
            raise InputError(f"{index_file}: component {key!r} is {value!r}; only classes from diffusers "
                             "or transformers are loaded")
    for config in sorted(folder.glob("*/*config.json")):  # transformers' marker for a model's own code
        if "auto_map" in _json_object(config):
            raise InputError(f"{config}: names custom code (auto_map); mmeval never runs a folder's own code")
    return index


def _json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    return value if isinstance(value, dict) else {}


class DiffusersPipeline:
    """Generate one image per prompt with a local diffusers text-to-image pipeline folder.

    Args: `path` (the folder), `num_inference_steps`, `guidance_scale`, `height`, `width`
    (unset: the pipeline's own defaults), `negative_prompt`, `batch_size` (prompts per
    pipeline call; every call runs this many, so a divisor of the suite's batch_size
    wastes nothing), `dtype` (`auto`: bfloat16 on CUDA where supported, else float16;
    float32 on CPU), `device` (default: `cuda` when present, else `cpu`).

    Example:
        models:
          candidate:
            use: diffusers
            args: {path: ../pipelines/sd-turbo, num_inference_steps: 4, guidance_scale: 0.0,
                   height: 512, width: 512, batch_size: 4}
    """

    runs_model = True

    def __init__(
        self,
        path: Path,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        height: int | None = None,
        width: int | None = None,
        negative_prompt: str | None = None,
        batch_size: int = 4,
        dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto",
        device: str | None = None,
    ):
        if batch_size < 1 or (num_inference_steps is not None and num_inference_steps < 1):
            raise SpecError("need batch_size >= 1 and num_inference_steps >= 1")
        if guidance_scale is not None and guidance_scale < 0:
            raise SpecError("guidance_scale must be >= 0")
        for name, side in (("height", height), ("width", width)):
            if side is not None and (side < 8 or side % 8):
                raise SpecError(f"{name} must be a multiple of 8 (the VAE's downsampling), got {side}")
        if device is not None and not _DEVICE.match(device):
            raise SpecError(f"device {device!r} is not one of cpu, cuda, cuda:N, mps, xpu")
        self.path = path
        self.steps, self.guidance_scale, self.height, self.width = num_inference_steps, guidance_scale, height, width
        self.negative_prompt, self.batch_size = negative_prompt, batch_size
        self.index = read_model_index(path)
        self.device = device or best_device()
        self.dtype = _resolve_dtype(dtype, self.device)
        self._digest = checkpoint_digest(path)  # verified before any model runs (exit 4)
        self.weights_sha256 = self._digest  # recorded in provenance manifests
        self._pipe: Any = None

    def fingerprint(self) -> str:
        """Folder digest, diffusers version and every setting that changes the pixels: the
        call shape (batch_size) too, since kernels round differently at another shape."""
        from importlib.metadata import version

        negative = "none" if self.negative_prompt is None else hashlib.sha256(self.negative_prompt.encode()).hexdigest()[:16]
        return (f"diffusers|files:{self._digest}|diffusers:{version('diffusers')}|{self.index['_class_name']}"
                f"|steps:{self.steps}|guidance:{self.guidance_scale}|size:{self.height}x{self.width}"
                f"|negative:{negative}|dtype:{self.dtype}|device:{self.device.split(':')[0]}|batch:{self.batch_size}")

    def _load(self) -> Any:
        if self._pipe is not None:
            return self._pipe
        import torch

        diffusers = _diffusers()
        if checkpoint_digest(self.path) != self._digest:  # changed since the suite was loaded
            raise IntegrityError(f"{self.path}: pipeline files changed after the suite was loaded")
        cls = getattr(diffusers, self.index["_class_name"], None)
        if not (isinstance(cls, type) and issubclass(cls, diffusers.DiffusionPipeline)):
            raise InputError(f"{self.path / 'model_index.json'}: {self.index['_class_name']} is not a diffusers pipeline")
        with _quiet(diffusers):
            try:
                pipe = cls.from_pretrained(self.path, local_files_only=True, use_safetensors=True,
                                           trust_remote_code=False, dtype=getattr(torch, self.dtype))
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                hint = "; mmeval loads safetensors weights only" if "safetensors" in str(exc) else ""
                raise InputError(f"{self.path}: cannot load the pipeline ({_first_line(exc)}){hint}") from None
        self._accepted = _call_parameters(pipe)
        if "prompt" not in self._accepted:
            raise InputError(f"{self.path}: {cls.__name__} takes no prompt; the diffusers adapter runs text-to-image pipelines")
        for name, value in (("negative_prompt", self.negative_prompt), ("guidance_scale", self.guidance_scale),
                            ("num_inference_steps", self.steps), ("height", self.height), ("width", self.width)):
            if value is not None and name not in self._accepted:
                raise InputError(f"{self.path}: {cls.__name__} does not take {name}; remove it from the suite's args")
        pipe.set_progress_bar_config(disable=True)  # mmeval shows its own progress
        self._pipe = pipe.to(self.device)
        return self._pipe

    def generate(self, inputs: Sequence[Any], *, seed: int, ids: Sequence[str]) -> list[MediaBlob]:
        import numpy as np

        from ..catalog.images import png_bytes
        from ..fsutil import safe_stem

        for value in inputs:
            if not isinstance(value, str):
                raise InputError(f"the diffusers adapter needs text prompts, got {type(value).__name__}")
        pipe = self._load()
        settings = {name: value for name, value in (("num_inference_steps", self.steps), ("guidance_scale", self.guidance_scale),
                                                    ("height", self.height), ("width", self.width)) if value is not None}
        if "output_type" in self._accepted:
            settings["output_type"] = "np"
        if self.negative_prompt is not None:
            settings["negative_prompt"] = [self.negative_prompt] * self.batch_size
        out: list[MediaBlob] = []
        for start in range(0, len(inputs), self.batch_size):
            prompts = list(inputs[start : start + self.batch_size])
            batch_ids = list(ids[start : start + self.batch_size])
            # Every call runs exactly batch_size prompts (the tail is padded, its images
            # dropped): matmul kernels block rows by the batch shape, and the last bits,
            # so the rounded pixels, would otherwise shift with the batch a sample lands in.
            pad = self.batch_size - len(prompts)
            generators = row_generators(seed, batch_ids + [f"\x00pad{i}" for i in range(pad)])
            images = pipe(prompt=prompts + prompts[:1] * pad, generator=generators, **settings).images[: len(prompts)]
            for sid, image in zip(batch_ids, images):
                pixels = np.asarray(image)
                if pixels.dtype != np.uint8:  # output_type="np": floats in [0, 1], rounded as diffusers' numpy_to_pil
                    pixels = (pixels.clip(0, 1) * 255).round().astype(np.uint8)
                if pixels.ndim == 3 and pixels.shape[-1] == 1:
                    pixels = np.repeat(pixels, 3, axis=-1)
                out.append(MediaBlob(png_bytes(np.ascontiguousarray(pixels[..., :3])), f"{safe_stem(sid)}.png"))
        return out


def _resolve_dtype(dtype: str, device: str) -> str:
    import torch

    on_cuda = device.startswith("cuda")
    if on_cuda and not torch.cuda.is_available():
        raise InputError(f"device {device!r}: torch sees no CUDA device here")
    if dtype == "auto":
        if not on_cuda:
            return "float32"
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if dtype == "float16" and device == "cpu":
        raise SpecError("dtype float16 needs a GPU; on CPU use float32 or bfloat16")
    return dtype


def _call_parameters(pipe: Any) -> set[str]:
    import inspect

    params = inspect.signature(pipe.__call__).parameters
    return {name for name, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


@contextlib.contextmanager
def _quiet(diffusers: Any) -> Iterator[None]:
    """Loading logs advice (safety checker off, deprecated configs), progress bars, and
    an error line before it raises; a failed load is mmeval's own one-line error, so
    nothing else gets through while loading."""
    loggers = [diffusers.utils.logging]
    with contextlib.suppress(ImportError):  # pipelines without transformers components need no transformers
        from transformers.utils import logging as hf_logging

        loggers.append(hf_logging)
    before = [(logging.get_verbosity(), logging.is_progress_bar_enabled()) for logging in loggers]
    for logging in loggers:
        logging.set_verbosity(logging.CRITICAL)
        logging.disable_progress_bar()
    try:
        yield
    finally:
        for logging, (level, bars) in zip(loggers, before):
            logging.set_verbosity(level)
            if bars:
                logging.enable_progress_bar()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
