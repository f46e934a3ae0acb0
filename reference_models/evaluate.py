"""Score the reference generators and their degraded variants: the model-card numbers.

    python reference_models/evaluate.py [--out /tmp/eval]

Runs each e-commerce suite with the metrics registered in this install (suites name
metrics from other packages of mmeval; those missing are listed and skipped), times it,
and adds two suite-independent checks: SSIM/PSNR of images (scikit-image) and the
log-spectral L1 distance of audio spots to the catalogue's spots.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MMEVAL_CACHE_DIR", "off")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from mmeval._compat.torchvision import ensure_torchvision  # noqa: E402
from mmeval.registry import METRICS  # noqa: E402
from mmeval.runner import run  # noqa: E402


def _runnable(suite: Path, tmp: Path) -> tuple[Path, list[str]]:
    spec = yaml.safe_load(suite.read_text())
    spec["dataset"]["path"] = str((suite.parent / spec["dataset"]["path"]).resolve())
    for model in spec["models"].values():  # Path args are relative to the suite file
        for key in ("path", "root"):
            if key in model.get("args", {}):
                model["args"][key] = str((suite.parent / model["args"][key]).resolve())
    skipped = [m["use"] for m in spec["metrics"] if m["use"] not in METRICS]
    spec["metrics"] = [m for m in spec["metrics"] if m["use"] in METRICS]
    labels = {m.get("name", m["use"]) for m in spec["metrics"]}
    spec["thresholds"] = [t for t in spec.get("thresholds", []) if t["metric"] in labels]
    path = tmp / suite.name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path, skipped


def _independent(run_dir: Path, data: Path, modality: str) -> dict[str, dict[str, float]]:
    from PIL import Image

    scores: dict[str, dict[str, float]] = {}
    for model_dir in sorted((run_dir / "outputs").iterdir()):
        rows = []
        for out in sorted(model_dir.iterdir()):
            target = data / ("images" if modality == "image" else "audio") / out.name
            if modality == "image":
                from skimage.metrics import peak_signal_noise_ratio, structural_similarity

                a, b = np.array(Image.open(out)), np.array(Image.open(target))
                rows.append((structural_similarity(a, b, channel_axis=2, data_range=255), peak_signal_noise_ratio(b, a, data_range=255)))
            else:
                import torch

                from mmeval.models.refnets import log_spectrogram

                spectra = []
                for file in (out, target):
                    with wave.open(str(file)) as handle:
                        pcm = np.frombuffer(handle.readframes(handle.getnframes()), "<i2") / 32768.0
                    spectra.append(log_spectrogram(torch.from_numpy(pcm).float()))
                rows.append((float((spectra[0] - spectra[1]).abs().mean()),))
        keys = ("skimage_ssim", "skimage_psnr") if modality == "image" else ("log_spectral_l1",)
        scores[model_dir.name] = {k: float(np.mean([r[i] for r in rows])) for i, k in enumerate(keys)}
        if modality == "image":
            scores[model_dir.name]["pixel_frechet_8x8"] = _pixel_frechet(sorted(model_dir.iterdir()), sorted((data / "images").iterdir()))
    return scores


def _pixel_frechet(outputs: list[Path], targets: list[Path]) -> float:
    """Fréchet distance between 8x8-downsampled RGB pixel sets (192-d): a set-level check
    that needs no network weights."""
    from PIL import Image

    from mmeval.metrics.frechet import GaussianStats, stats_distance

    def feats(paths: list[Path]) -> np.ndarray:
        return np.stack([np.asarray(Image.open(p).convert("RGB").resize((8, 8), Image.BILINEAR), dtype=np.float64).ravel() / 255 for p in paths])

    return stats_distance(GaussianStats.of(feats(outputs)), GaussianStats.of(feats(targets)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    ensure_torchvision()
    tmp = args.out or Path(tempfile.mkdtemp(prefix="mmeval-eval-"))
    tmp.mkdir(parents=True, exist_ok=True)
    data = REPO / "suites" / "data" / "ecommerce"
    for name in ("text", "image", "audio", "release"):
        suite, skipped = _runnable(REPO / "suites" / f"ecommerce-{name}.yaml", tmp)
        began = time.perf_counter()
        result = run(suite, tmp / name, progress=False)
        seconds = time.perf_counter() - began
        print(f"\n## ecommerce-{name}: {result.status}, {seconds:.1f} s" + (f" (skipped, not installed: {', '.join(skipped)})" if skipped else ""))
        for r in result.report["results"]:
            print(f"  {r['model']:<10} {r['key']:<28} {r['value']}")
        if name in ("image", "audio"):
            for model, scores in _independent(tmp / name, data, name).items():
                for key, value in scores.items():
                    print(f"  {model:<10} {key:<28} {value:.4f}  (independent check)")


if __name__ == "__main__":
    main()
