"""Image metrics against their peers, measured in one run on the same data.

    python bench/bench_image.py [--images 32] [--dim 2048] [--repeat 3] [--threads N] [--end-to-end]

FID splits into two steps that cost very different things, so each is timed on its own:
1. Feature extraction: mmeval's `image_features` vs pytorch-fid's `get_activations` on
   the same PNG files, through the same network (pytorch-fid's InceptionV3 with mmeval's
   seeded random weights; mmeval runs it channels-last with batch norms folded,
   pytorch-fid NCHW and unfused, as it ships),
   the same batch size (mmeval's CHUNK), on one device, no DataLoader workers on either side. Prints images/s and the fraction of the fp32
   matmul bound: a 2048x2048 torch matmul, timed in the same interleaved rounds at the
   same thread count, gives FLOP/s (at its median); the network's FLOP per 299x299
   image are counted by `torch.utils.flop_counter` (2 FLOP per multiply-add, ~11.4
   GFLOP; the "5.7" often quoted for InceptionV3 counts multiply-adds).
2. The distance from those features: mmeval's `features_distance` (what FID computes
   from its rows) vs pytorch-fid's mean, `np.cov` and `calculate_frechet_distance`.
3. The Fréchet distance alone at d=`--dim` from full covariances: mmeval's factor/SVD
   route vs scipy `sqrtm`.
4. The reference-feature cache: the reference side of FID computed into an empty cache
   vs read back from a filled one.
5. With `--end-to-end`: the whole FID, mmeval's metric vs pytorch-fid's
   `calculate_activation_statistics` + `calculate_frechet_distance`.
Each comparison: one warm-up per side, then `--repeat` interleaved rounds (bench/timing.py);
min and median seconds, ratio of medians (peer / mmeval, > 1 means mmeval is faster).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TQDM_DISABLE", "1")  # pytorch-fid's progress bar, not part of the work

from timing import add_timing_options, interleaved, line, ratio, threads_line, use_threads  # noqa: E402


def make_images(folder: Path, n: int, seed: int, size: int = 128) -> list[Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        y, x = np.mgrid[:size, :size]
        img = np.stack([(x * (i % 5 + 1) + y) % 256, (y * 3 + i * 17) % 256, rng.integers(0, 256, (size, size))], axis=2)
        paths.append(folder / f"{seed}-{i}.png")
        Image.fromarray(img.astype(np.uint8)).save(paths[-1])
    return paths


def forget_features() -> None:
    """Drop the features a process keeps in memory, so each call embeds as a new run would."""
    try:
        from mmeval.metrics.image.feature_memo import MEMO
    except ImportError:  # a version without the shared memo
        return
    MEMO.clear()


def synchronized(device):
    """A call that waits for the device, so GPU timings end when the work does."""
    import torch

    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def matmul(device, n: int = 2048):
    """An n x n fp32 matmul as a timed side, and the FLOP it does."""
    import torch

    a, b = torch.rand(n, n, device=device), torch.rand(n, n, device=device)
    sync = synchronized(device)

    def once():
        torch.mm(a, b)
        sync()

    return once, 2 * n**3


def network_flops(net, device) -> float:
    """FLOP of one 299x299 image through the network (multiply-add = 2 FLOP)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        net(torch.rand(1, 3, 299, 299, device=device))
    return float(counter.get_total_flops())


def pytorch_fid_net():
    """The same weights as pytorch-fid runs them: NCHW, batch norms unfused (mmeval's
    network is channels-last with batch norms folded)."""
    from mmeval.metrics.image.inception import pytorch_fid_network

    return pytorch_fid_network("random")[0]


def bench_features(a: list[Path], b: list[Path], repeat: int):
    """Feature extraction, then the distance step on the features; returns b's features too."""
    import numpy as np
    from pytorch_fid.fid_score import calculate_frechet_distance, get_activations

    from mmeval.metrics.frechet import features_distance
    from mmeval.metrics.image.inception import CHUNK, image_features, load_network

    net, _ = load_network("random")
    device = next(net.parameters()).device
    sync = synchronized(device)
    peer_net = pytorch_fid_net().to(device)

    def ours():
        rows = image_features(a, "random")
        sync()
        return rows

    def peer():
        return get_activations([str(p) for p in a], peer_net, batch_size=CHUNK, dims=2048, device=device, num_workers=0)

    bound_side, bound_flop = matmul(device)
    # The matmul takes its turn in the same rounds, so the bound sees the same machine load.
    times = interleaved({"mmeval": ours, "pytorch-fid": peer, "matmul": bound_side}, repeat)
    bound = bound_flop / times["matmul"].median / network_flops(net, device)  # images/s at matmul speed
    fo, fp = times["mmeval"].value, times["pytorch-fid"].value
    n = len(a)
    print(f"FID feature extraction, {n} PNGs (128x128 -> 299x299), {device}, batch {CHUNK}; "
          f"fp32 matmul bound {bound:.2f} images/s (same run, same threads):")
    for name in ("mmeval", "pytorch-fid"):
        rate = n / times[name].median
        print(f"  {line(f'{name:11s}', times[name], n, 'images')}, {rate / bound:.0%} of the bound")
    print(f"  {ratio(times['pytorch-fid'], times['mmeval'])}; max |feature difference| {np.abs(fo - fp).max():.1e}")

    fb = image_features(b, "random")

    def peer_distance():
        return calculate_frechet_distance(fo.mean(0), np.cov(fo, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False))

    dist = interleaved({"mmeval": lambda: features_distance(fo, fb), "pytorch-fid": peer_distance}, repeat)
    v_ours, v_peer = dist["mmeval"].value, dist["pytorch-fid"].value
    print(f"FID distance step from {n}+{n} feature rows: {line('mmeval', dist['mmeval'], digits=4)}, "
          f"{line('pytorch-fid (cov + sqrtm)', dist['pytorch-fid'])}, {ratio(dist['pytorch-fid'], dist['mmeval'])}; "
          f"values {v_ours:.6g} vs {v_peer:.6g}")


def bench_frechet(dim: int, repeat: int) -> None:
    import numpy as np
    from pytorch_fid.fid_score import calculate_frechet_distance

    from mmeval.metrics.frechet import frechet_distance

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(dim + 500, dim)), rng.normal(0.05, 1.1, size=(dim + 500, dim))
    m1, s1, m2, s2 = x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)
    times = interleaved({"mmeval": lambda: frechet_distance(m1, s1, m2, s2),
                         "scipy": lambda: calculate_frechet_distance(m1, s1, m2, s2)}, repeat)
    v_ours, v_peer = times["mmeval"].value, times["scipy"].value
    print(f"Fréchet distance d={dim}: {line('mmeval', times['mmeval'], digits=2)}, "
          f"{line('pytorch-fid/scipy sqrtm', times['scipy'], digits=2)}, {ratio(times['scipy'], times['mmeval'])}; "
          f"relative difference {abs(v_ours - v_peer) / abs(v_peer):.2e}")


def bench_reference_cache(folder: Path, reference: list[Path], repeat: int) -> None:
    """The reference side of FID at `compute`: its files are hashed during the run (not
    timed here), their features computed into an empty cache or read from a filled one."""
    from mmeval.fsutil import sha256_file
    from mmeval.metrics.image.fid import FID

    files = [(sha256_file(p), str(p)) for p in reference]
    fresh = itertools.count()

    def reference_side(cache_dir: Path):
        forget_features()
        os.environ["MMEVAL_CACHE_DIR"] = str(cache_dir)
        metric = FID(weights="random")  # a new metric each time, as a new `mmeval run` would have
        state = metric.init()
        state.target_files = list(files)  # what `update` records for reference files
        return metric._target_features(state)

    reference_side(folder / "filled")
    times = interleaved({"computed": lambda: reference_side(folder / f"empty{next(fresh)}"),
                         "cached": lambda: reference_side(folder / "filled")}, repeat)
    os.environ["MMEVAL_CACHE_DIR"] = "off"
    print(f"reference features, {len(reference)} images: {line('into an empty cache', times['computed'])}, "
          f"{line('from the cache', times['cached'], digits=4)}")


def bench_end_to_end(a: list[Path], b: list[Path], repeat: int) -> None:
    from pytorch_fid.fid_score import calculate_activation_statistics, calculate_frechet_distance

    from mmeval.metrics.image.fid import FID
    from mmeval.metrics.image.inception import CHUNK, load_network

    net, _ = load_network("random")
    device = next(net.parameters()).device
    peer_net = pytorch_fid_net().to(device)
    os.environ["MMEVAL_CACHE_DIR"] = "off"  # the full pipeline, not the cache

    def ours():
        forget_features()
        metric = FID(weights="random")
        return metric.compute(metric.update(metric.init(), a, b))["fid"]

    def peer():
        stats = [calculate_activation_statistics([str(p) for p in side], peer_net, batch_size=CHUNK, dims=2048,
                                                 device=device, num_workers=0) for side in (a, b)]
        return calculate_frechet_distance(*stats[0], *stats[1])

    times = interleaved({"mmeval": ours, "pytorch-fid": peer}, repeat)
    print(f"FID end to end, {len(a)}+{len(b)} PNGs: {line('mmeval', times['mmeval'], digits=2)}, "
          f"{line('pytorch-fid', times['pytorch-fid'], digits=2)}, {ratio(times['pytorch-fid'], times['mmeval'])}; "
          f"values {times['mmeval'].value:.6g} vs {times['pytorch-fid'].value:.6g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32, help="PNGs per side (a multiple of 8 keeps batches full)")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--end-to-end", action="store_true", help="also time the whole FID on both sides")
    add_timing_options(parser)
    args = parser.parse_args()
    use_threads(args)
    from mmeval._compat.torchvision import ensure_torchvision

    ensure_torchvision()  # pytorch-fid imports torchvision
    os.environ["MMEVAL_CACHE_DIR"] = "off"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        a, b = make_images(folder, args.images, 1), make_images(folder, args.images, 2)
        bench_features(a, b, args.repeat)
        bench_frechet(args.dim, args.repeat)
        bench_reference_cache(folder, b, args.repeat)
        if args.end_to_end:
            bench_end_to_end(a, b, args.repeat)
    print(threads_line())


if __name__ == "__main__":
    main()
