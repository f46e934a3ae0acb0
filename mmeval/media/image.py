"""Images from PNG/JPEG paths, in-memory blobs or arrays.

Two loaders, for two kinds of consumer:

- `load_image`: float64 RGB (H, W, 3) in [0, 1], for feature extractors and watermarks
  (Inception, embeddings, provenance), which want one fixed shape.
- `load_exact`: the stored values at their own bit depth, channels and data range
  (8- or 16-bit; grayscale, grayscale+alpha, RGB, RGBA), for metrics that compare an
  output with its target pixel by pixel (SSIM, PSNR, MAE). `load_exact_pair` /
  `load_pair` apply an alpha policy and refuse pairs whose modes differ.

Pillow reads 16-bit grayscale PNGs exactly but keeps only the high byte of 16-bit
grayscale+alpha, RGB and RGBA PNGs; `_png_16bit` recovers the low byte with Pillow's own
decoder, so the file is still parsed and unfiltered by the library.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import InputError
from .blob import MediaBlob, media_bytes, media_name, source

Alpha = Literal["composite", "compare"]
ALPHA_POLICIES = ("composite", "compare")
_CHANNELS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_DESCRIBE = {"L": "grayscale", "LA": "grayscale+alpha", "RGB": "RGB", "RGBA": "RGBA"}


def load_image(item: Any) -> np.ndarray:
    """A path, a MediaBlob or an array (HWC uint8, or float in [0, 1]; grey or RGB) -> float64 RGB in [0, 1]."""
    if isinstance(item, (str, Path, MediaBlob)):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(source(item)) as img:
                img.load()  # decode now, so a truncated file fails here with its name
                return np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
        except FileNotFoundError:
            raise InputError(f"image {item} not found") from None
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise InputError(f"image {item} is unreadable or truncated ({exc})") from None
    array = np.asarray(item)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise InputError(f"image array has shape {array.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")
    array = array[:, :, :3] if array.shape[2] != 1 else np.repeat(array, 3, axis=2)
    if array.dtype == np.uint8:
        return array.astype(np.float64) / 255.0
    array = array.astype(np.float64)
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise InputError("float image arrays must hold finite values in [0, 1]")
    return array


@dataclass(frozen=True)
class ExactImage:
    """Stored values (H, W, C) at their own dtype: uint8 (range 255), uint16 (65535) or float64 (1.0)."""

    pixels: np.ndarray
    data_range: float
    mode: str  # channels: "L", "LA", "RGB" or "RGBA"
    depth: str  # "8-bit", "16-bit" or "float"

    def describe(self) -> str:
        return f"{self.depth} {_DESCRIBE[self.mode]}"


def load_exact(item: Any) -> ExactImage:
    """A path, a MediaBlob or an array -> its values at the source bit depth, with its data range and mode.

    Arrays: (H, W) or (H, W, 1|2|3|4) of uint8, uint16, or float in [0, 1].
    """
    if isinstance(item, (str, Path, MediaBlob)):
        return _decode(item)
    array = np.asarray(item)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in _CHANNELS:
        raise InputError(f"image array has shape {array.shape}; expected (H, W) or (H, W, C) with C in 1..4")
    mode = _CHANNELS[array.shape[2]]
    if array.dtype == np.uint8:
        return ExactImage(array, 255.0, mode, "8-bit")
    if array.dtype == np.uint16:
        return ExactImage(array, 65535.0, mode, "16-bit")
    if array.dtype.kind not in "fiu":
        raise InputError(f"image array has dtype {array.dtype}; expected uint8, uint16 or float in [0, 1]")
    array = array.astype(np.float64)
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise InputError("float image arrays must hold finite values in [0, 1]")
    return ExactImage(array, 1.0, mode, "float")


def load_exact_pair(output: Any, target: Any, alpha: Alpha = "composite") -> tuple[np.ndarray, np.ndarray, float]:
    """Output and target as float64 (H, W, C) at their shared source scale, and that data range.

    `alpha="composite"` blends an alpha channel onto white (the usual product-page
    background) and drops it, so only what a viewer sees is compared; `"compare"` keeps
    alpha as one more channel. Modes (bit depth and channels, after compositing) and
    sizes must match: a silent conversion would change the value.
    """
    if alpha not in ALPHA_POLICIES:
        raise InputError(f"alpha {alpha!r} is not one of {', '.join(ALPHA_POLICIES)}")
    a, b = load_exact(output), load_exact(target)
    if alpha == "composite":
        a, b = _composite_on_white(a), _composite_on_white(b)
    if (a.mode, a.depth) != (b.mode, b.depth):
        raise InputError(f"image modes differ: output {_name(output)} is {a.describe()}, target {_name(target)} is {b.describe()}; "
                         "save both at one bit depth and mode")
    if a.pixels.shape != b.pixels.shape:
        raise InputError(f"image sizes differ: output {_name(output)} is {a.pixels.shape[1]}x{a.pixels.shape[0]}, "
                         f"target {_name(target)} is {b.pixels.shape[1]}x{b.pixels.shape[0]}")
    return a.pixels.astype(np.float64), b.pixels.astype(np.float64), a.data_range


def load_pair(output: Any, target: Any, alpha: Alpha = "composite") -> tuple[np.ndarray, np.ndarray]:
    """`load_exact_pair` scaled to [0, 1] (values / data range), channels as stored."""
    a, b, data_range = load_exact_pair(output, target, alpha)
    return a / data_range, b / data_range


def _composite_on_white(image: ExactImage) -> ExactImage:
    if image.mode not in ("LA", "RGBA"):
        return image
    values = image.pixels.astype(np.float64)
    opacity = values[:, :, -1:] / image.data_range
    blended = values[:, :, :-1] * opacity + image.data_range * (1.0 - opacity)
    return ExactImage(blended, image.data_range, image.mode[:-1], image.depth)


def _decode(item: str | Path | MediaBlob) -> ExactImage:
    from PIL import Image, UnidentifiedImageError

    try:
        data = media_bytes(item if isinstance(item, MediaBlob) else Path(item))
        with Image.open(io.BytesIO(data)) as img:
            rawmode = _rawmode(img)
            exact = _png_16bit(img, data, rawmode)
            if exact is None:
                img.load()  # decode now, so a truncated file fails here with its name
                exact = _from_pillow(img, rawmode)
            if exact.mode in ("L", "RGB") and "transparency" in img.info:  # 16-bit tRNS (8-bit: Pillow's convert)
                exact = _with_color_key(exact, img.info["transparency"])
            return exact
    except FileNotFoundError:
        raise InputError(f"image {_name(item)} not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"image {_name(item)} is unreadable or truncated ({exc})") from None


def _from_pillow(img: Any, rawmode: str | None) -> ExactImage:
    if img.mode.startswith("I;16") or (img.mode == "I" and rawmode == "I;16B"):  # older Pillow: 16-bit grey as "I"
        return ExactImage(np.asarray(img).astype(np.uint16)[:, :, None], 65535.0, "L", "16-bit")
    transparent = "transparency" in img.info
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA" if transparent or img.mode == "PA" else "RGB")
    elif img.mode == "1" or (img.mode == "L" and transparent):
        img = img.convert("LA" if transparent else "L")
    elif img.mode == "RGB" and transparent:
        img = img.convert("RGBA")
    elif img.mode not in ("L", "LA", "RGB", "RGBA"):  # CMYK or YCbCr JPEGs and the like: their RGB is what is seen
        img = img.convert("RGB")
    pixels = np.asarray(img, dtype=np.uint8)
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
    return ExactImage(pixels, 255.0, img.mode, "8-bit")


def _with_color_key(image: ExactImage, key: Any) -> ExactImage:
    """A PNG tRNS colour key: pixels of exactly that value are transparent, the rest opaque."""
    opaque = ~np.all(image.pixels == np.atleast_1d(np.asarray(key, np.int64)), axis=2, keepdims=True)
    alpha = opaque.astype(image.pixels.dtype) * image.pixels.dtype.type(image.data_range)
    return ExactImage(np.concatenate([image.pixels, alpha], axis=2), image.data_range, image.mode + "A", image.depth)


_LOW_BYTE_RAWMODES = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}  # same bits per pixel, the other byte


def _png_16bit(img: Any, data: bytes, rawmode: str | None) -> ExactImage | None:
    """16-bit grayscale+alpha, RGB and RGBA PNGs at full precision (None for other images)."""
    if rawmode == "LA;16B":  # 4 bytes a pixel, the filter stride of 8-bit RGBA: take the bytes as they are
        raw = _decode_as(img, "RGBA")  # L high, L low, A high, A low
        return ExactImage((raw[:, :, 0::2].astype(np.uint16) << 8) | raw[:, :, 1::2], 65535.0, "LA", "16-bit")
    if rawmode in _LOW_BYTE_RAWMODES:
        from PIL import Image

        high = _decode_as(img, rawmode)
        with Image.open(io.BytesIO(data)) as again:
            low = _decode_as(again, _LOW_BYTE_RAWMODES[rawmode])
        return ExactImage((high.astype(np.uint16) << 8) | low, 65535.0, img.mode, "16-bit")
    return None


def _rawmode(img: Any) -> str | None:
    """A PNG's raw mode before decoding (how its stored bytes map to Pillow's mode)."""
    tiles = (getattr(img, "tile", None) or []) if img.format == "PNG" else []
    return tiles[0][3] if len(tiles) == 1 and isinstance(tiles[0][3], str) else None


def _decode_as(img: Any, rawmode: str) -> np.ndarray:
    tile = img.tile[0]
    img.tile = [tile._replace(args=rawmode) if hasattr(tile, "_replace") else (*tile[:3], rawmode)]
    img.load()
    return np.asarray(img, dtype=np.uint8)


def _name(item: Any) -> str:
    return media_name(item) if isinstance(item, (str, Path, MediaBlob)) else "(array)"
