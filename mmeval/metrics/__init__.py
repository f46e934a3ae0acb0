"""Metrics: the contract in `base`, implementations in one module per family.

`frechet_distance` is public API; the rest is reached through the registry
(`mmeval.registry.METRICS`) so heavy imports stay lazy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["frechet_distance", "GaussianStats", "Metric"]


def __getattr__(name: str) -> Any:  # lazy: numpy loads only when asked for
    if name in ("frechet_distance", "GaussianStats"):
        from . import frechet

        return getattr(frechet, name)
    if name == "Metric":
        from .base import Metric

        return Metric
    raise AttributeError(name)
