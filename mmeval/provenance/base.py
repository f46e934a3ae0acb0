"""What every watermark detector returns, keys per modality, and the exact statistics.

Detectors give a p-value under the null hypothesis "this content carries no mark made
with this key"; `detected` is `p_value < alpha`. Keys: the key ring holds one watermark
secret; each modality uses its own sub-key, HMAC-SHA256(secret, modality), so a leaked
sub-key for one modality does not reveal the others.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_ALPHA = 1e-3  # a false claim "this is ours" at most once in a thousand unmarked items


@dataclass(frozen=True)
class Detection:
    detected: bool
    score: float  # the test statistic (z-score or its equivalent), larger = more evidence
    p_value: float
    algorithm: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["score"] = round(self.score, 4)
        return out


def subkey(secret: bytes, modality: str) -> bytes:
    """A 32-byte key for one modality, derived from the ring's watermark secret."""
    if len(secret) < 16:
        raise ValueError("watermark secret must be at least 16 bytes")
    return hmac.new(secret, b"mmeval-watermark/" + modality.encode(), hashlib.sha256).digest()


def binomial_sf(k: int, n: int, p: float) -> float:
    """P[X >= k] for X ~ Binomial(n, p), exact (regularized incomplete beta via scipy)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    from scipy.stats import binom

    return float(binom.sf(k - 1, n, p))


def normal_sf(z: float) -> float:
    """One-sided upper tail of the standard normal, accurate far into the tail."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def max_of_independent(p_single: float, trials: int) -> float:
    """p-value of the best of `trials` independent tests (Šidák), stable for tiny p."""
    if trials <= 1:
        return p_single
    return -math.expm1(trials * math.log1p(-min(p_single, 1.0 - 1e-16)))
