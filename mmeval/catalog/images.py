"""Product images: a category shape in the product colour, a material texture, a background.

Drawn with numpy masks only (no font or anti-aliasing code that differs between library
versions), so pixels are identical everywhere; `png_bytes` fixes the encoder settings.
"""

from __future__ import annotations

import io

import numpy as np

from .products import Product
from .vocab import COLOURS

SIZE = 64


def _grid() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    return yy / SIZE, xx / SIZE


def _shape_mask(category: str, y: np.ndarray, x: np.ndarray, dy: float, dx: float) -> np.ndarray:
    y, x = y - dy, x - dx
    if category == "t-shirt":
        body = (abs(x - 0.5) < 0.2) & (y > 0.3) & (y < 0.85)
        sleeves = (abs(x - 0.5) < 0.35) & (y > 0.3) & (y < 0.45)
        return body | sleeves
    if category == "mug":
        cup = (abs(x - 0.45) < 0.2) & (y > 0.3) & (y < 0.8)
        ring = np.hypot(x - 0.68, y - 0.55)
        return cup | ((ring < 0.12) & (ring > 0.06))
    if category == "sneaker":
        sole = (x > 0.15) & (x < 0.85) & (y > 0.62) & (y < 0.72)
        upper = ((x - 0.45) / 0.32) ** 2 + ((y - 0.62) / 0.22) ** 2 < 1
        return sole | (upper & (y < 0.65))
    if category == "backpack":
        bag = (abs(x - 0.5) < 0.25) & (y > 0.25) & (y < 0.85)
        top = np.hypot(x - 0.5, y - 0.28) < 0.25
        return bag | (top & (y < 0.3))
    if category == "lamp":
        shade = (y > 0.15) & (y < 0.4) & (abs(x - 0.5) < 0.1 + 0.5 * (y - 0.15))
        stem = (abs(x - 0.5) < 0.03) & (y >= 0.4) & (y < 0.8)
        base = (abs(x - 0.5) < 0.18) & (y >= 0.8) & (y < 0.86)
        return shade | stem | base
    if category == "watch":
        face = np.hypot(x - 0.5, y - 0.5) < 0.2
        strap = (abs(x - 0.5) < 0.09) & (y > 0.1) & (y < 0.9)
        return face | strap
    if category == "vase":
        width = 0.08 + 0.18 * np.sin(np.pi * np.clip((y - 0.15) / 0.7, 0, 1))
        return (abs(x - 0.5) < width) & (y > 0.15) & (y < 0.85)
    if category == "cap":
        crown = (np.hypot(x - 0.45, y - 0.6) < 0.25) & (y < 0.6)
        brim = (x > 0.45) & (x < 0.9) & (y > 0.55) & (y < 0.62)
        return crown | brim
    raise ValueError(f"unknown category {category!r}")


def _texture(material: str, y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A multiplicative brightness pattern in about [0.6, 1.3]."""
    if material == "cotton":
        return 1.0 + 0.08 * rng.standard_normal(y.shape)
    if material == "leather":
        blotch = np.sin(23 * x + 3 * rng.uniform()) * np.sin(19 * y + 3 * rng.uniform())
        return 0.85 + 0.12 * blotch
    if material == "ceramic":
        return 1.0 + 0.3 * np.exp(-(((x - 0.4) ** 2 + (y - 0.35) ** 2) / 0.01))
    if material == "steel":
        return 0.8 + 0.35 * (0.5 + 0.5 * np.sin(40 * y))
    if material == "wool":
        return 0.85 + 0.2 * ((np.floor(x * 16) + np.floor(y * 16)) % 2)
    if material == "wood":
        return 0.8 + 0.25 * (0.5 + 0.5 * np.sin(60 * x + 8 * np.sin(6 * y)))
    raise ValueError(f"unknown material {material!r}")


def render(product: Product) -> np.ndarray:
    """The product photo as a (64, 64, 3) uint8 array."""
    rng = np.random.Generator(np.random.PCG64(product.variant))
    y, x = _grid()
    tint = rng.uniform(0.75, 1.0, size=3)
    background = (tint[None, None, :] * (0.85 + 0.15 * y[..., None])) * 255
    dy, dx = rng.uniform(-0.06, 0.06, size=2)
    mask = _shape_mask(product.category, y, x, dy, dx)
    colour = np.array(COLOURS[product.colour], dtype=np.float64) * rng.uniform(0.92, 1.08)
    texture = _texture(product.material, y, x, rng)
    obj = colour[None, None, :] * texture[..., None]
    shadow = 0.08 * np.exp(-(((x - 0.5 - dx) ** 2) / 0.05 + ((y - 0.9 - dy) ** 2) / 0.002))
    image = np.where(mask[..., None], obj, background * (1 - shadow[..., None]))
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG", compress_level=9, optimize=False)
    return buf.getvalue()
