"""The catalogue: bit-for-bit regeneration of the committed suite data, and sane content."""

from __future__ import annotations

import json
import subprocess
import sys
import wave

import numpy as np
import pytest

from mmeval.catalog import make_products, suite_products, training_products
from mmeval.catalog.audio import RATE, synthesize
from mmeval.catalog.extract import extract
from mmeval.catalog.images import render
from mmeval.catalog.vocab import CATEGORIES


def test_command_regenerates_committed_data_bit_for_bit(repo, tmp_path):
    result = subprocess.run([sys.executable, "-m", "mmeval.catalog", "--out", str(tmp_path)], cwd=repo,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "ecommerce").rglob("*") if p.is_file()}
    committed_root = repo / "suites" / "data"
    committed = {p.relative_to(committed_root): p.read_bytes() for p in (committed_root / "ecommerce").rglob("*") if p.is_file()}
    assert sorted(fresh) == sorted(committed)
    changed = [str(k) for k in fresh if fresh[k] != committed[k]]
    assert not changed, f"regenerated files differ: {changed[:5]}"


def test_seeded_and_split():
    assert make_products(20, 3) == make_products(20, 3)
    assert make_products(20, 3) != make_products(20, 4)
    # Suites score products the generators never saw in training (different seed and ids).
    train_titles = {(p.category, p.colour, p.material, p.variant) for p in training_products(500)}
    assert not any((p.category, p.colour, p.material, p.variant) in train_titles for p in suite_products())


def test_descriptions_state_the_product_attributes_and_price():
    for p in suite_products():
        assert extract(p.description) == {**p.attributes(), "price": p.price}
        assert extract(p.title) == {**p.attributes(), "price": None}


@pytest.mark.parametrize("text, expected", [
    ("A black t-shirt in wool, $5", {"category": "t-shirt", "colour": "black", "material": "wool", "price": 5.0}),
    ("Two mugs. Steel, then red.", {"category": "mug", "colour": "red", "material": "steel", "price": None}),
    ("redwood caps", {"category": "cap", "colour": None, "material": None, "price": None}),
])
def test_extractor_rules(text, expected):
    assert extract(text) == expected


def test_images_differ_by_category_and_audio_has_the_right_shape():
    products = make_products(200, 11)
    by_cat = {}
    for p in products:
        by_cat.setdefault(p.category, p)
    assert len(by_cat) == len(CATEGORIES)
    images = {c: render(p) for c, p in by_cat.items()}
    assert all(img.shape == (64, 64, 3) and img.dtype == np.uint8 for img in images.values())
    assert len({img.tobytes() for img in images.values()}) == len(CATEGORIES)
    wave_ = synthesize(products[0])
    assert wave_.shape == (RATE,) and np.abs(wave_).max() <= 0.9 + 1e-6


def test_committed_wav_and_jsonl_are_well_formed(repo):
    root = repo / "suites" / "data" / "ecommerce"
    with wave.open(str(root / "audio" / "p0000.wav")) as handle:
        assert (handle.getframerate(), handle.getnchannels(), handle.getnframes()) == (RATE, 1, RATE)
    rows = [json.loads(line) for line in (root / "release.jsonl").read_text().splitlines()]
    assert {r["modality"] for r in rows} == {"text", "image", "audio"}
    assert all(r["input"]["modality"] == r["modality"] for r in rows)
