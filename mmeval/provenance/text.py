"""Keyed green-list watermark for generated text (Kirchenbauer et al. 2023).

At every decoding step the previous token picks a pseudo-random "green" fraction
`gamma` of the vocabulary, and the logits of green tokens get `+delta`. A detector that
holds the key re-tokenizes the text, counts how many tokens are green for their
predecessor, and tests that count against what unmarked text would give.

The green list is `PRF(key, previous token, candidate) < gamma`: HMAC-SHA256 of the key
and the previous token gives a 64-bit seed, and a splitmix64 finalizer spreads it over
the vocabulary. Integer arithmetic in numpy, not a torch RNG, so CPU and GPU runs and
the detector agree bit for bit. Each (previous, token) pair is green with probability
`gamma` over keys, independently of every other pair, so for text written without the
key the number of green tokens among m *distinct* pairs is Binomial(m, gamma): the
p-value is that binomial tail, exact. Repeated pairs are counted once (a repeated
phrase would otherwise inflate the evidence).

    mark = GreenList(key, gamma=0.25)
    processor = WatermarkProcessor(mark, delta=2.0)        # scores -> scores, per step
    detection = mark.detect(tokenizer(text)["input_ids"])  # Detection(p_value=...)
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import OrderedDict
from functools import lru_cache
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .base import DEFAULT_ALPHA, Detection, binomial_sf

ALGORITHM = "mmeval-text-greenlist/1"
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # spreads consecutive token ids apart


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer: a bijection on uint64 with full avalanche."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


class GreenList:
    """Which tokens are green after a given token, for one key and gamma.

    Greenness of (previous, token) does not depend on the vocabulary size, so a model
    whose logits are wider than its tokenizer and a detector that knows only the
    tokenizer agree.
    """

    def __init__(self, key: bytes, gamma: float = 0.25, cache_size: int = 512):  # 512 x 50k-token masks: 25 MB
        if not 0 < gamma < 1:
            raise ValueError(f"gamma must be in (0, 1), got {gamma}")
        self._key = key
        self.gamma = gamma
        # green iff hash < cut; the cut gives probability gamma up to 2**-64.
        self._cut = np.uint64(min(int(gamma * 2.0**64), 2**64 - 1))
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def params(self) -> dict[str, Any]:
        return {"gamma": self.gamma, "context": 1, "prf": "hmac-sha256+splitmix64"}

    def _seed(self, previous: int) -> np.uint64:
        digest = hmac.new(self._key, int(previous).to_bytes(8, "little", signed=True), hashlib.sha256).digest()
        return np.uint64(int.from_bytes(digest[:8], "little"))

    def _green(self, previous: int, tokens: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return _splitmix64(self._seed(previous) ^ (tokens.astype(np.uint64) * _GOLDEN)) < self._cut

    def mask(self, previous: int, vocab_size: int) -> np.ndarray:
        """Boolean (vocab_size,) array: True where the token is green after `previous`."""
        key = (int(previous), vocab_size)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        green = self._green(previous, np.arange(vocab_size, dtype=np.uint64))
        self._cache[key] = green
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return green

    def detect(self, token_ids: Sequence[int], alpha: float = DEFAULT_ALPHA) -> Detection:
        """Test the token sequence for this mark; repeated (previous, token) pairs count once."""
        pairs = list(dict.fromkeys(zip(token_ids[:-1], token_ids[1:])))
        m = len(pairs)
        green = sum(bool(self._green(a, np.array([b]))[0]) for a, b in pairs)
        if m == 0:
            return Detection(False, 0.0, 1.0, ALGORITHM, {"tokens": len(token_ids), "scored": 0, "green": 0})
        z = (green - self.gamma * m) / math.sqrt(m * self.gamma * (1 - self.gamma))
        p = binomial_sf(green, m, self.gamma)
        return Detection(p < alpha, z, p, ALGORITHM, {"tokens": len(token_ids), "scored": m, "green": green})


class WatermarkProcessor:
    """A logits processor: `processor(input_ids, scores) -> scores` adds `delta` to green tokens.

    Works with `mmeval.models.textgen.decode` and, having the same call signature, as a
    `transformers.LogitsProcessor` in `model.generate(logits_processor=[...])`.
    """

    def __init__(self, green: GreenList, delta: float = 2.0, key_id: str = ""):
        if delta <= 0:
            raise ValueError(f"delta must be > 0, got {delta}")
        self.green, self.delta, self.key_id = green, delta, key_id

    def params(self) -> dict[str, Any]:
        return {**self.green.params(), "delta": self.delta}

    def fingerprint(self) -> str:
        return f"{ALGORITHM}|key:{self.key_id}|gamma:{self.green.gamma}|delta:{self.delta}"

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        width = scores.shape[-1]
        masks = np.stack([self.green.mask(p, width) for p in input_ids[:, -1].tolist()])
        return scores + torch.from_numpy(masks).to(device=scores.device, dtype=scores.dtype) * self.delta


# Text marks are tied to a tokenizer; the reference text model's is the default.
DEFAULT_TOKENIZER = Path(__file__).resolve().parents[2] / "reference_models" / "text" / "final"


@lru_cache(maxsize=8)
def load_tokenizer(folder: Path | None = None) -> Any:
    """The `tokenizers` tokenizer of a transformers checkpoint folder (default: the reference
    text model's), loaded once per folder; no transformers import."""
    from tokenizers import Tokenizer

    file = Path(folder or DEFAULT_TOKENIZER) / "tokenizer.json"
    if not file.is_file():
        raise InputError(f"{file} not found: text detection needs the generating model's tokenizer (--tokenizer DIR)")
    return Tokenizer.from_file(str(file))


def detect_text(text: str, key: bytes, tokenizer: Any, gamma: float = 0.25, alpha: float = DEFAULT_ALPHA) -> Detection:
    return GreenList(key, gamma).detect(tokenizer.encode(text, add_special_tokens=False).ids, alpha)
