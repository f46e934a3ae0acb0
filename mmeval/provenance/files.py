"""Watermark files and outputs by modality: PNG/JPEG images, WAV audio, text.

The key ring's watermark secret is split per modality (`base.subkey`); the secret's key
id goes into every manifest so a detector knows which key to try.

    keys = WatermarkKeys.from_ring(ring)
    mark = embed_file(Path("a.png"), Path("out/a.png"), keys)    # {algorithm, params, key_id}
    [(item, detection)] = detect_file(Path("out/a.png"), keys)
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..fsutil import sha256_file, write_atomic
from ..media.blob import MediaBlob, media_name, source
from .base import DEFAULT_ALPHA, Detection, subkey

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
AUDIO_SUFFIXES = {".wav"}
TEXT_SUFFIXES = {".txt", ".jsonl"}
TEXT_GAMMA = 0.25
TEXT_DELTA = 2.0
JPEG_QUALITY = 95


def modality_of(path: Path | MediaBlob) -> str | None:
    suffix = path.suffix if isinstance(path, MediaBlob) else Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in TEXT_SUFFIXES:
        return "text"
    return None


@dataclass(frozen=True)
class WatermarkKeys:
    key_id: str
    secret: bytes

    @classmethod
    def from_ring(cls, ring: Any) -> WatermarkKeys:
        key_id, secret = ring.secret("watermark")
        return cls(key_id, secret)

    def key(self, modality: str) -> bytes:
        return subkey(self.secret, modality)


def _algorithm(modality: str) -> Any:
    from . import audio, image

    return {"image": image, "audio": audio}[modality]


def mark_claim(
    modality: str, keys: WatermarkKeys, tokenizer_dir: Path | None = None, gamma: float = TEXT_GAMMA, delta: float = TEXT_DELTA
) -> dict[str, Any]:
    """The manifest's soft binding: which mark, with which parameters and key."""
    if modality == "text":
        from .text import ALGORITHM, DEFAULT_TOKENIZER

        folder = Path(tokenizer_dir or DEFAULT_TOKENIZER)
        tokenizer = sha256_file(folder / "tokenizer.json") if (folder / "tokenizer.json").is_file() else None
        params = {"gamma": gamma, "delta": delta, "context": 1, "tokenizer_sha256": tokenizer}
        return {"algorithm": ALGORITHM, "params": params, "key_id": keys.key_id}
    algo = _algorithm(modality)
    return {"algorithm": algo.ALGORITHM, "params": algo.params(), "key_id": keys.key_id}


# --- media I/O that keeps format, channels and sample width --------------------------------
def _read_wav(path: Path | MediaBlob) -> tuple[np.ndarray, int, bool]:
    from scipy.io import wavfile

    from ..media.audio import to_float

    try:
        rate, data = wavfile.read(source(path))
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"audio {media_name(path)} is not a readable WAV file ({exc})") from None
    return to_float(np.asarray(data)), int(rate), np.issubdtype(data.dtype, np.integer)


def _wav_bytes(wave: np.ndarray, rate: int, pcm16: bool) -> bytes:
    from scipy.io import wavfile

    buf = io.BytesIO()
    if pcm16:
        data = np.clip(np.round(wave * 32767), -32768, 32767).astype("<i2")
    else:
        data = np.clip(wave, -1, 1).astype("<f4")
    wavfile.write(buf, rate, data)
    return buf.getvalue()


def _image_bytes(pixels: np.ndarray, suffix: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    img = Image.fromarray(np.clip(np.round(pixels * 255), 0, 255).astype(np.uint8), "RGB")
    if suffix in (".jpg", ".jpeg"):
        img.save(buf, format="JPEG", quality=JPEG_QUALITY)
    else:
        img.save(buf, format="PNG")
    return buf.getvalue()


def embed_bytes(src: Path | MediaBlob, keys: WatermarkKeys) -> bytes:
    """The marked version of an image or audio file (or blob), in the same format."""
    modality = modality_of(src)
    try:
        if modality == "image":
            from ..media.image import load_image

            return _image_bytes(_algorithm("image").embed(load_image(src), keys.key("image")), src.suffix.lower())
        if modality == "audio":
            wave, rate, pcm16 = _read_wav(src)
            return _wav_bytes(_algorithm("audio").embed(wave, rate, keys.key("audio")), rate, pcm16)
    except ValueError as exc:  # too small or too short to carry the mark
        raise InputError(f"{media_name(src)}: {exc}") from None
    if modality == "text":
        raise InputError(f"{media_name(src)}: text is marked while it is generated (the watermark gate), not afterwards")
    raise InputError(f"{media_name(src)}: unsupported file type (images: .png .jpg; audio: .wav)")


def embed_file(src: Path, dst: Path, keys: WatermarkKeys) -> dict[str, Any]:
    write_atomic(dst, embed_bytes(src, keys))
    return mark_claim(modality_of(src) or "", keys)


# --- detection -----------------------------------------------------------------------------
def detect_value(
    value: Any, keys: WatermarkKeys, tokenizer: Any = None, alpha: float = DEFAULT_ALPHA, gamma: float = TEXT_GAMMA
) -> Detection:
    """Detect the mark in one output: text (a str) or media (a Path or a MediaBlob)."""
    if isinstance(value, str):
        from .text import detect_text, load_tokenizer

        return detect_text(value, keys.key("text"), tokenizer or load_tokenizer(), gamma, alpha)
    path = value if isinstance(value, MediaBlob) else Path(value)
    modality = modality_of(path)
    try:
        if modality == "image":
            from ..media.image import load_image

            return _algorithm("image").detect(load_image(path), keys.key("image"), alpha)
        if modality == "audio":
            wave, rate, _ = _read_wav(path)
            return _algorithm("audio").detect(wave, rate, keys.key("audio"), alpha)
    except ValueError as exc:
        raise InputError(f"{media_name(path)}: {exc}") from None
    raise InputError(f"{media_name(path)}: unsupported output type for watermark detection")


def read_texts(path: Path) -> list[tuple[str, str]]:
    """(item, text) pairs: the whole .txt file, or each JSONL line's `output` or `text`."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read as UTF-8 text ({type(exc).__name__})") from None
    if path.suffix.lower() != ".jsonl":
        return [(path.name, raw)]
    items = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(f"{path}:{n}: not valid JSON") from None
        text = row.get("output", row.get("text")) if isinstance(row, dict) else None
        if not isinstance(text, str):
            raise InputError(f"{path}:{n}: needs a string 'output' or 'text' field")
        items.append((f"{path.name}#{row.get('id', n)}", text))
    return items


def detect_file(path: Path, keys: WatermarkKeys, tokenizer: Any = None, alpha: float = DEFAULT_ALPHA) -> list[tuple[str, Detection]]:
    """Per item of a file (one for media and .txt, one per line for .jsonl): its detection."""
    if not path.is_file():
        raise InputError(f"{path} not found")
    if modality_of(path) is None:
        raise InputError(f"{path}: unsupported file type (text: .txt .jsonl; images: .png .jpg .jpeg; audio: .wav)")
    if modality_of(path) == "text":
        from .text import load_tokenizer

        tokenizer = tokenizer or load_tokenizer()
        return [(item, detect_value(text, keys, tokenizer, alpha)) for item, text in read_texts(path)]
    return [(path.name, detect_value(path, keys, tokenizer, alpha))]
