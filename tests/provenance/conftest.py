"""Provenance tests: test media, and a fresh key ring per test (tests/conftest.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest



@pytest.fixture
def ring(isolated_keyring):
    return isolated_keyring


def product_png(seed: int, side: int = 256) -> bytes:
    """A textured product-like photo (a smooth blob on a gradient, with grain)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = np.stack([0.6 + 0.3 * y, 0.5 + 0.2 * x, 0.7 - 0.2 * y], -1)
    blob = np.exp(-((x - rng.uniform(0.3, 0.7)) ** 2 + (y - rng.uniform(0.3, 0.7)) ** 2) / 0.05)[..., None]
    img = base * (1 - blob) + blob * rng.uniform(0.1, 0.9, 3) + rng.normal(0, 0.03, (side, side, 3))
    buf = io.BytesIO()
    Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def spot_wav(seed: int) -> bytes:
    from mmeval.catalog.audio import synthesize, wav_bytes
    from mmeval.catalog.products import make_products

    return wav_bytes(synthesize(make_products(1, seed)[0]))
