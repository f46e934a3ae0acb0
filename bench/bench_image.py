"""Image metrics against their peers, measured in one run on the same data.

    python bench/bench_image.py [--images 64] [--dim 2048]

1. FID end to end (load, preprocess, Inception, statistics, distance): mmeval's FID vs
   pytorch-fid's own path (`calculate_activation_statistics` + `calculate_frechet_distance`)
   on the same PNG files with the same (seeded random) Inception weights.
2. The Fréchet distance alone at d=2048: mmeval's factor/SVD route vs scipy `sqrtm`.
3. The reference-feature cache: the reference side of FID on a first run (computed) and a
   second run (read from the content-addressed cache).
Prints each ratio (peer time / mmeval time; > 1 means mmeval is faster).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmeval._compat.torchvision import ensure_torchvision  # noqa: E402

ensure_torchvision()


def best_of(fn, repeats: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return min(times), result


def make_images(folder: Path, n: int, seed: int, size: int = 128) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        y, x = np.mgrid[:size, :size]
        img = np.stack([(x * (i % 5 + 1) + y) % 256, (y * 3 + i * 17) % 256, rng.integers(0, 256, (size, size))], axis=2)
        paths.append(folder / f"{seed}-{i}.png")
        Image.fromarray(img.astype(np.uint8)).save(paths[-1])
    return paths


def bench_fid(folder: Path, n: int) -> None:
    import torch
    from pytorch_fid.fid_score import calculate_activation_statistics, calculate_frechet_distance

    from mmeval.metrics.image.feature_sets import FID
    from mmeval.metrics.image.inception import load_network

    a, b = make_images(folder, n, 1), make_images(folder, n, 2)
    net, _ = load_network("random")
    os.environ["MMEVAL_CACHE_DIR"] = "off"  # measure the full pipeline, not the cache

    def ours():
        metric = FID(weights="random", batch_size=32)
        return metric.compute(metric.update(metric.init(), a, b))["fid"]

    def peer():
        mu1, s1 = calculate_activation_statistics([str(p) for p in a], net, batch_size=32, dims=2048, device="cpu", num_workers=0)
        mu2, s2 = calculate_activation_statistics([str(p) for p in b], net, batch_size=32, dims=2048, device="cpu", num_workers=0)
        return calculate_frechet_distance(mu1, s1, mu2, s2)

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    t_ours, v_ours = best_of(ours, 2)
    t_peer, v_peer = best_of(peer, 2)
    print(f"FID end to end, {n}+{n} images: mmeval {t_ours:.2f}s, pytorch-fid {t_peer:.2f}s, ratio {t_peer / t_ours:.2f}x; "
          f"values {v_ours:.6g} vs {v_peer:.6g} (pytorch-fid reads PNGs without antialias too; same network)")
    bench_reference_cache(folder, a, b)


def bench_reference_cache(folder: Path, outputs: list[Path], reference: list[Path]) -> None:
    from mmeval.metrics.image.feature_sets import FID

    os.environ["MMEVAL_CACHE_DIR"] = str(folder / "cache")
    times = []
    for _ in range(2):  # a new metric each run, as a new `mmeval run` would have
        metric = FID(weights="random", batch_size=32)
        state = metric.update(metric.init(), outputs, reference)
        began = time.perf_counter()
        metric._target_features(state)  # the reference side alone: computed, then cached
        times.append(time.perf_counter() - began)
    os.environ["MMEVAL_CACHE_DIR"] = "off"
    print(f"reference features, {len(reference)} images: first run {times[0]:.3f}s, second run {times[1]:.4f}s (cache hit)")


def bench_frechet(dim: int) -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    from mmeval.metrics.frechet import frechet_distance

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(dim + 500, dim)), rng.normal(0.05, 1.1, size=(dim + 500, dim))
    m1, s1, m2, s2 = x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)

    t_ours, v_ours = best_of(lambda: frechet_distance(m1, s1, m2, s2))
    t_peer, v_peer = best_of(lambda: calculate_frechet_distance(m1, s1, m2, s2), 2)  # scipy sqrtm
    print(f"Fréchet distance d={dim}: mmeval {t_ours:.2f}s, pytorch-fid/scipy sqrtm {t_peer:.2f}s, ratio {t_peer / t_ours:.2f}x; "
          f"relative difference {abs(v_ours - v_peer) / abs(v_peer):.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--dim", type=int, default=2048)
    args = parser.parse_args()
    bench_frechet(args.dim)
    with tempfile.TemporaryDirectory() as tmp:
        bench_fid(Path(tmp), args.images)


if __name__ == "__main__":
    main()
