"""pytorch-fid's InceptionV3, the network FID is reported with, loaded offline.

Weights: the standard file `pt_inception-2015-12-05-6726825d.pth`, looked up in
`weights:` (a file or folder), `$MMEVAL_WEIGHTS_DIR` and torch hub's checkpoint folder,
and checked against its published size and full sha256 before use (no override: a pin
that an environment variable can replace pins nothing). `weights: random` builds the same network
with seeded random weights, for tests and smoke runs; fingerprints say so, so such a
number is never mistaken for a comparable FID. Nothing is ever downloaded.

Preprocessing is pytorch-fid's: RGB in [0, 1], bilinear resize to 299x299
(antialias=False, as pytorch-fid does), scale to [-1, 1].

The network runs channels-last (NHWC), where oneDNN and cuDNN have their fastest
convolutions, with each batch norm folded into its convolution: 1.6x pytorch-fid's NCHW
forward on this CPU at one thread, features within ~2e-4 of it.

Every forward pass has the same shape, `CHUNK` images (the last chunk padded with black
images): kernels are chosen per batch shape, and float32 results differ between shapes
(on CPU the fc layer's logits moved by up to 7e-4 between 1 and 16 images, and the
Inception Score in its 6th digit with the run's batch size). At one shape an image's
features depend on nothing but the image, whatever its position in the chunk and its
neighbours (tests/metrics/image/test_inception_batching.py checks that). They still
depend on the device and, on CPU, on torch's thread count (1 vs 2 threads: ~1e-4).

One forward gives both layers, as torch-fidelity's extractor does: pool3 is the network's
output and the logits are its fc layer applied to that same pool3 tensor, so an image
needs one pass whichever metrics ask (`inception_layers`; the per-process sharing is
`feature_memo.py`). `NETWORK` counts the passes and the images in them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError, IntegrityError
from ...fsutil import sha256_file
from ...media.image import load_image

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
# The file pytorch-fid publishes (github.com/mseitzer/pytorch-fid/releases, fid_weights). Its name
# carries only 8 hex digits of this digest, which a forger can match in about an hour of CPU.
WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
WEIGHTS_SIZE = 95_628_359
PREPROCESS = "rgb01-bilinear299-noantialias-scale11"
RANDOM_SEED = 0
RANDOM = "random"  # `weights: random`: seeded random weights, never comparable with published values
# Images per forward pass, always. Small, so padding costs little: on CPU 2 to 8 images per
# pass cost the same per image and a single image ~2.5x as much.
CHUNK = 8
FORWARD = f"chunk{CHUNK}-nhwc-bnfold"  # in fingerprints: features from other shapes, layouts or fusions are not these


def _search_paths(weights: str | None) -> list[Path]:
    import torch

    places = []
    if weights and weights != "random":
        given = Path(weights)
        places.append(given / WEIGHTS_FILE if given.is_dir() else given)
    if os.environ.get("MMEVAL_WEIGHTS_DIR"):
        places.append(Path(os.environ["MMEVAL_WEIGHTS_DIR"]) / WEIGHTS_FILE)
    places.append(Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE)
    return places


def resolve_weights(weights: str | None) -> tuple[Path, str]:
    """Find and verify the weights file; return (path, sha256)."""
    places = _search_paths(weights)
    found = next((p for p in places if p.is_file()), None)
    if found is None:
        looked = ", ".join(str(p) for p in places)
        raise InputError(
            f"Inception weights {WEIGHTS_FILE} not found (looked in: {looked}); put the file in "
            f"$MMEVAL_WEIGHTS_DIR or pass `weights: PATH`, or use `weights: random` for a non-comparable smoke run"
        )
    where = f"put pytorch-fid's {WEIGHTS_FILE} in $MMEVAL_WEIGHTS_DIR or pass `weights: PATH`"
    size = found.stat().st_size
    if size != WEIGHTS_SIZE:  # checked first: a wrong file fails at once, without hashing it
        raise IntegrityError(
            f"{found}: size {size:,} bytes does not match the published Inception weights "
            f"({WEIGHTS_SIZE:,} bytes, sha256 {WEIGHTS_SHA256}); {where}"
        )
    digest = _digest(found)
    if digest != WEIGHTS_SHA256:
        raise IntegrityError(
            f"{found}: sha256 {digest} does not match the published Inception weights "
            f"(sha256 {WEIGHTS_SHA256}); {where}"
        )
    return found, digest


def _digest(path: Path) -> str:
    stat = path.stat()
    return _digest_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    # ~100 MB: hashed once per file version, not at load, fingerprint and network build each.
    return sha256_file(Path(path))


def weights_tag(weights: str | None) -> str:
    if weights == "random":
        return f"random-seed{RANDOM_SEED}"
    return "sha256:" + resolve_weights(weights)[1][:16]


@lru_cache(maxsize=4)
def load_network(weights: str | None) -> tuple[Any, Any]:
    """(pool3 feature network, fc layer for logits) on the best device, in eval mode, the
    network batch-norm-folded and channels-last."""
    import torch

    net, fc = pytorch_fid_network(weights)
    _fold_batch_norm(net)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # Channels-last: oneDNN and cuDNN pick their fastest convolutions for NHWC
    # (1.5x on this CPU at one thread); the fingerprint's FORWARD says so.
    return net.to(device, memory_format=torch.channels_last), fc.to(device).eval()


def pytorch_fid_network(weights: str | None) -> tuple[Any, Any]:
    """pytorch-fid's InceptionV3 (pool3) and the fc layer for logits, as pytorch-fid runs
    them: on CPU, NCHW, eval mode, nothing fused. A new copy each call."""
    from ..._compat.torchvision import ensure_torchvision

    ensure_torchvision()
    import torch
    import torchvision
    from pytorch_fid import inception as pfid

    if weights == "random":
        with torch.random.fork_rng():
            torch.manual_seed(RANDOM_SEED)
            # Same parameter names and shapes as the FID network (its blocks differ only in forward).
            state = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=True).state_dict()
    else:
        path, _ = resolve_weights(weights)
        state = torch.load(path, map_location="cpu", weights_only=True)
    original = pfid.load_state_dict_from_url
    pfid.load_state_dict_from_url = lambda *args, **kwargs: state  # pytorch-fid's builder, our file
    try:
        net = pfid.InceptionV3([pfid.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True)
    finally:
        pfid.load_state_dict_from_url = original
    fc = torch.nn.Linear(2048, 1008)
    fc.load_state_dict({"weight": state["fc.weight"], "bias": state["fc.bias"]})
    if weights == "random":
        _calibrate_batch_norm(net)
    return net.eval(), fc.eval()


def _fold_batch_norm(net: Any) -> None:
    """Fold each eval-mode batch norm into the convolution before it (pytorch-fid's
    BasicConv2d is conv, bn, relu): the same function with one pass over the activations
    fewer, ~10% of the forward on this CPU."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for block in net.modules():
        if isinstance(getattr(block, "conv", None), torch.nn.Conv2d) and isinstance(getattr(block, "bn", None), torch.nn.BatchNorm2d):
            block.conv, block.bn = fuse_conv_bn_eval(block.conv, block.bn), torch.nn.Identity()


def _calibrate_batch_norm(net: Any) -> None:
    """Give an untrained network batch-norm statistics from one seeded batch, so its
    activations stay near unit scale instead of growing to ~1e9 through 90 layers."""
    import torch

    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch sets the statistics exactly
    generator = torch.Generator().manual_seed(RANDOM_SEED)
    net.train()
    with torch.no_grad():
        net(torch.rand(8, 3, 299, 299, generator=generator))
    net.eval()


def image_batch(images: Sequence[Any]) -> Any:
    """Images of any sizes -> one (N, 3, 299, 299) float32 tensor in [0, 1]."""
    import torch
    import torch.nn.functional as F

    tensors = []
    for item in images:
        array = load_image(item)
        t = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32))[None]
        tensors.append(F.interpolate(t, size=(299, 299), mode="bilinear", align_corners=False))
    return torch.cat(tensors)


@dataclass
class NetworkCounter:
    """Forward passes of the network in this process, and the images in them (padding not counted)."""

    passes: int = 0
    images: int = 0


NETWORK = NetworkCounter()


def inception_layers(images: Sequence[Any], weights: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(pool3 (N, 2048), logits (N, 1008)) as float32, from one forward per `CHUNK` images."""
    import torch

    net, fc = load_network(weights)
    device = next(net.parameters()).device
    pools, logits = [], []
    with torch.inference_mode():
        for i in range(0, len(images), CHUNK):
            batch = image_batch(images[i : i + CHUNK])
            rows = len(batch)
            if rows < CHUNK:
                batch = torch.cat([batch, batch.new_zeros((CHUNK - rows, *batch.shape[1:]))])
            features = net(batch.to(device, memory_format=torch.channels_last))[0].flatten(1)
            NETWORK.passes += 1
            NETWORK.images += rows
            # fc on the whole padded chunk, as a logits-only pass did: the same shape, the same bits.
            pools.append(features[:rows].cpu().numpy())
            logits.append(fc(features)[:rows].cpu().numpy())
    if not pools:
        return np.zeros((0, 2048), np.float32), np.zeros((0, 1008), np.float32)
    return np.concatenate(pools), np.concatenate(logits)


def image_features(images: Sequence[Any], weights: str | None = None, logits: bool = False) -> np.ndarray:
    """Pool3 features (N, 2048), or Inception logits (N, 1008) with `logits=True`, as float64,
    from forward passes of exactly `CHUNK` images each; nothing shared or remembered."""
    pool3, class_logits = inception_layers(list(images), weights)
    return (class_logits if logits else pool3).astype(np.float64)
