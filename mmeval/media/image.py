"""Images from PNG/JPEG paths, in-memory blobs or arrays, as float64 RGB arrays (H, W, 3) in [0, 1]."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .blob import MediaBlob, media_name, source


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


def load_pair(output: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = load_image(output), load_image(target)
    if a.shape != b.shape:
        raise InputError(f"image sizes differ: output {_name(output)} is {a.shape[1]}x{a.shape[0]}, target {_name(target)} is {b.shape[1]}x{b.shape[0]}")
    return a, b


def _name(item: Any) -> str:
    return media_name(item) if isinstance(item, (str, Path, MediaBlob)) else "(array)"
