"""Regenerate the precomputed outputs of the image- and audio-smoke suites.

    python suites/data/media-smoke/make.py

The targets are the first 16 catalogue images and clips (suites/data/ecommerce). The
`candidate` outputs are lightly degraded copies (JPEG quality 40 for images, 25 dB
noise for audio) and the `degraded` outputs heavily degraded ones (blur and noise; 5 dB
noise with a 2 kHz low-pass), so a suite can show both a pass and a clear difference.
Seeded: the same files come out every time.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from scipy.io import wavfile
from scipy.signal import butter, sosfilt

HERE = Path(__file__).resolve().parent
CATALOG = HERE.parent / "ecommerce"
N = 16


def jpeg(img: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def main() -> None:
    rng = np.random.default_rng(0)
    for kind in ("image", "audio"):
        rows = [json.loads(line) for line in (CATALOG / f"{kind}.jsonl").read_text().splitlines()[:N]]
        dataset, outputs = [], {"candidate": [], "degraded": []}
        for row in rows:
            source = CATALOG / row["target"]
            dataset.append({"id": row["id"], "input": row["input"], "target": f"../ecommerce/{row['target']}"})
            for variant in outputs:
                name = f"{kind}/{variant}/{row['id']}{source.suffix}"
                (HERE / name).parent.mkdir(parents=True, exist_ok=True)
                if kind == "image":
                    img = Image.open(source).convert("RGB")
                    if variant == "candidate":
                        out = jpeg(img, 40)
                    else:
                        blurred = np.asarray(img.filter(ImageFilter.GaussianBlur(2)), dtype=np.float64)
                        out = Image.fromarray(np.clip(blurred + rng.normal(0, 25, blurred.shape), 0, 255).astype(np.uint8))
                    out.save(HERE / name)
                else:
                    rate, wave = wavfile.read(source)
                    x = wave.astype(np.float64) / (32768.0 if wave.dtype == np.int16 else 1.0)
                    snr = 25 if variant == "candidate" else 5
                    noisy = x + rng.normal(size=x.shape) * np.sqrt(np.mean(x**2) / 10 ** (snr / 10))
                    if variant == "degraded":
                        noisy = sosfilt(butter(6, 2000, fs=rate, output="sos"), noisy)
                    wavfile.write(HERE / name, rate, (np.clip(noisy, -1, 1) * 32767).astype(np.int16))
                outputs[variant].append({"id": row["id"], "output": name.split("/", 1)[1]})
        (HERE / f"{kind}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dataset))
        for variant, lines in outputs.items():
            (HERE / kind / f"{variant}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


if __name__ == "__main__":
    main()
