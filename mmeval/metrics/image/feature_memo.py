"""One Inception forward per image per process, shared by every metric that asks for it.

FID, KID, precision/recall (pool3) and the Inception Score (logits) of one run are
separate metric objects, each folding the same batches. `shared_features` gives each the
rows it asks for from `MEMO`, keyed by what the features depend on: the image's content
(sha256 of the file or blob bytes, or of an array's dtype, shape and bytes), the weights,
the preprocessing, the forward shape, the device and torch's thread count. A miss runs
`inception_layers`, which yields both layers from the one pass, and both are kept. Hits
need no decoding either. Rows are float32 as the network gave them and come back as
float64, so a memo hit is bit-identical to a fresh pass (`image_features`).

Why an LRU bounded by bytes (`MEMO_BYTES`), and not entries kept "until every metric that
asked has consumed them": which metrics will ask for an image is not known when it is
embedded (a metric asks again in its set bootstrap, the Inception Score never asks for
targets, `where:` gives a metric a subset, two models may output the same bytes), so a
reference count either leaks or drops entries still wanted. An LRU is never wrong about
a value, only about the cost (a second pass), and its memory is a fixed number whatever
the run's size: 12 kB an image, so about 22,000 images in 256 MiB. The runner updates
every metric on a batch before the next batch, so the working set is one batch per
model (plus fewer than `CHUNK` leftovers per metric and side) and a 100k-image run
shares every pass. Reference sets are embedded at `compute`, once per metric: shared here
when they fit, and through the content-addressed `ArrayCache` entry every pool3 metric
uses (set_metric.py) when it is on.

    pool3 = shared_features(images, "random", "pool3")
    logits = shared_features(images, "random", "logits")   # no second pass
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ...errors import InputError
from ...fsutil import sha256_file
from ...media.blob import MediaBlob
from .inception import FORWARD, PREPROCESS, inception_layers, load_network, weights_tag

Layer = Literal["pool3", "logits"]
LAYERS: tuple[Layer, ...] = ("pool3", "logits")
WIDTHS = {"pool3": 2048, "logits": 1008}
MEMO_BYTES = 256 * 2**20
Rows = tuple[np.ndarray, np.ndarray]  # (pool3, logits) of one image, float32


class FeatureMemo:
    """Least-recently-used (pool3, logits) rows by key, at most `max_bytes` of them
    (0 keeps nothing: every request runs the network)."""

    def __init__(self, max_bytes: int = MEMO_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = self.misses = 0
        self._rows: OrderedDict[str, Rows] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: str) -> Rows | None:
        rows = self._rows.get(key)
        if rows is None:
            self.misses += 1
            return None
        self._rows.move_to_end(key)
        self.hits += 1
        return rows

    def put(self, key: str, rows: Rows) -> None:
        if key in self._rows:
            return
        self._rows[key] = rows
        self.bytes += sum(r.nbytes for r in rows)
        while self.bytes > self.max_bytes and self._rows:
            _, dropped = self._rows.popitem(last=False)
            self.bytes -= sum(r.nbytes for r in dropped)

    def clear(self) -> None:
        self._rows.clear()
        self.bytes = self.hits = self.misses = 0


MEMO = FeatureMemo()


def content_digest(item: Any) -> str | None:
    """What an image's features depend on in the image: sha256 of its encoded bytes (a file
    and a blob with the same bytes match), or of an array's dtype, shape and bytes; None
    for values that are not plain numeric arrays (embedded every time, never memoised)."""
    if isinstance(item, MediaBlob):
        return item.sha256
    if isinstance(item, (str, Path)):
        try:
            return sha256_file(Path(item))
        except FileNotFoundError:
            raise InputError(f"image {item} not found") from None
        except OSError as exc:
            raise InputError(f"image {item} is unreadable ({exc.strerror or exc})") from None
    array = np.asarray(item)
    if array.dtype.kind not in "biuf":
        return None
    digest = hashlib.sha256(f"array|{array.dtype.str}|{array.shape}|".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return "array:" + digest.hexdigest()


def _context(weights: str | None) -> str:
    """The part of the key that is not the image: every other thing a row depends on."""
    import torch

    net, _ = load_network(weights)
    device = next(net.parameters()).device
    return f"{weights_tag(weights)}|{PREPROCESS}|{FORWARD}|{device}|threads:{torch.get_num_threads()}"


def shared_features(images: Sequence[Any], weights: str | None, layer: Layer,
                    digests: Sequence[str] | None = None) -> np.ndarray:
    """`layer` rows (N, width) as float64 for `images`, from `MEMO` where it has them and
    from one pass per `CHUNK` missing images otherwise. `digests`: the images'
    `content_digest`s when the caller has them already (hashed reference files)."""
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}")
    if not len(images):
        return np.zeros((0, WIDTHS[layer]))
    context = _context(weights)
    digests = list(digests) if digests is not None else [content_digest(item) for item in images]
    found: dict[int, Rows] = {}
    # Missing images by key, so an image repeated within one request also goes through once.
    missing: dict[str | int, list[int]] = {}
    for i, digest in enumerate(digests):
        key = f"{context}|{digest}" if digest is not None else None
        rows = MEMO.get(key) if key is not None else None
        if rows is not None:
            found[i] = rows
        else:
            missing.setdefault(key if key is not None else i, []).append(i)
    # The order of the misses does not matter: at the one CHUNK shape a row depends only on
    # its image (tests/metrics/image/test_inception_batching.py).
    pool3, logits = inception_layers([images[spots[0]] for spots in missing.values()], weights)
    for (key, spots), pool_row, logit_row in zip(missing.items(), pool3, logits):
        rows = (pool_row.copy(), logit_row.copy())  # own memory: an evicted row frees its bytes
        if isinstance(key, str):
            MEMO.put(key, rows)
        for i in spots:
            found[i] = rows
    which = LAYERS.index(layer)
    return np.stack([found[i][which] for i in range(len(images))]).astype(np.float64)

