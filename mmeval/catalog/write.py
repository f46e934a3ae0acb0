"""Write the suite data: JSONL datasets plus PNG and WAV files under `<out>/ecommerce/`."""

from __future__ import annotations

import json
from pathlib import Path

from . import N_AUDIO, N_IMAGE, N_RELEASE, suite_products
from .audio import synthesize, wav_bytes
from .images import png_bytes, render
from .products import Product, prompt


def _line(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=True) + "\n"


def _meta(p: Product) -> dict:
    return {"category": p.category, "colour": p.colour, "material": p.material, "price": p.price}


def write_suite_data(out: Path) -> list[Path]:
    """Write every file; returns the paths written (sorted)."""
    root = Path(out) / "ecommerce"
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    products = suite_products()
    files: dict[Path, bytes] = {}
    text = [_line({"id": p.id, "input": prompt(p), "target": p.description, **_meta(p)}) for p in products]
    image, audio = [], []
    for p in products[:N_IMAGE]:
        files[root / "images" / f"{p.id}.png"] = png_bytes(render(p))
        image.append(_line({"id": p.id, "input": p.title, "target": f"images/{p.id}.png", **_meta(p)}))
    for p in products[:N_AUDIO]:
        files[root / "audio" / f"{p.id}.wav"] = wav_bytes(synthesize(p))
        audio.append(_line({"id": p.id, "input": p.title, "target": f"audio/{p.id}.wav", **_meta(p)}))
    release = []
    for modality, source in (("text", text), ("image", image), ("audio", audio)):
        for raw in source[: N_RELEASE[modality]]:
            row = json.loads(raw)
            row["id"] = f"{modality}-{row['id']}"
            row["input"] = {"modality": modality, "input": row["input"]}
            row["modality"] = modality
            release.append(_line(row))
    for name, lines in (("text", text), ("image", image), ("audio", audio), ("release", release)):
        files[root / f"{name}.jsonl"] = "".join(lines).encode()
    for path, data in files.items():
        path.write_bytes(data)
    return sorted(files)
