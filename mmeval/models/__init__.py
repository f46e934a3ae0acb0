"""Model adapters: anything with `generate(inputs, *, seed, ids) -> outputs`."""

from .base import ModelAdapter

__all__ = ["ModelAdapter"]
