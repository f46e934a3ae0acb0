"""A small deterministic e-commerce catalogue: products, descriptions, images, audio spots.

`write_suite_data(out)` writes the committed suite data; `python -m mmeval.catalog --out
suites/data` regenerates it bit-for-bit. The reference generators train on a separate
split (`training_products`) drawn from another seed, so suites score held-out products.
"""

from __future__ import annotations

from .products import Product, make_products, prompt

SUITE_SEED = 2026
TRAIN_SEED = 7
N_TEXT, N_IMAGE, N_AUDIO = 64, 48, 32
N_RELEASE = {"text": 24, "image": 24, "audio": 16}


def suite_products() -> list[Product]:
    return make_products(N_TEXT, SUITE_SEED, prefix="p")


def training_products(n: int = 2000) -> list[Product]:
    return make_products(n, TRAIN_SEED, prefix="t")


__all__ = ["Product", "make_products", "prompt", "suite_products", "training_products"]
