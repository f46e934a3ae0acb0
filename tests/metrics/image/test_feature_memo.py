"""One Inception forward per image and process: both layers from one pass, bit-identical
to the per-layer passes of before, a memo bounded by bytes, and a run of FID, KID, IS and
PRDC that sends each distinct image through the network once, with unchanged values."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from mmeval.errors import InputError
from mmeval.media.blob import MediaBlob
from mmeval.metrics.image import feature_memo as fm
from mmeval.metrics.image.inception import CHUNK, NETWORK, image_batch, image_features, inception_layers, load_network


def per_layer_features(images, weights, logits):
    """The feature extraction before one pass gave both layers (`image_features` as it was):
    a pass per layer, fc only on a logits pass."""
    import torch

    net, fc = load_network(weights)
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), CHUNK):
            batch = image_batch(images[i : i + CHUNK])
            rows = len(batch)
            if rows < CHUNK:
                batch = torch.cat([batch, batch.new_zeros((CHUNK - rows, *batch.shape[1:]))])
            features = net(batch)[0].flatten(1)
            out.append((fc(features) if logits else features)[:rows].double().cpu().numpy())
    return np.concatenate(out)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """11 images (a full chunk and a partial one): PNG files as tests/metrics/image use,
    and arrays of several sizes."""
    folder = tmp_path_factory.mktemp("memo-images")
    rng = np.random.default_rng(4)
    paths = []
    for i in range(6):
        paths.append(folder / f"{i}.png")
        Image.fromarray((rng.random((40, 40, 3)) * 255 * (0.3 + 0.05 * i)).astype(np.uint8)).save(paths[-1])
    arrays = [(rng.random((24 + 3 * i, 30, 3)) * 255 * (0.4 + 0.05 * i)).astype(np.uint8) for i in range(5)]
    return paths + arrays


@pytest.fixture
def memo(monkeypatch):
    """An empty process memo, put back as it was afterwards."""
    fresh = fm.FeatureMemo()
    monkeypatch.setattr(fm, "MEMO", fresh)
    return fresh


def test_one_forward_gives_both_layers_bit_identical_to_the_per_layer_passes(images, memo):
    pool3, logits = inception_layers(images, "random")
    assert pool3.dtype == logits.dtype == np.float32 and pool3.shape == (11, 2048) and logits.shape == (11, 1008)
    before_pool3, before_logits = per_layer_features(images, "random", False), per_layer_features(images, "random", True)
    assert np.array_equal(pool3.astype(np.float64), before_pool3) and np.array_equal(logits.astype(np.float64), before_logits)
    assert np.array_equal(image_features(images, "random"), before_pool3)
    assert np.array_equal(image_features(images, "random", logits=True), before_logits)
    # Through the memo: first asks miss, later ones hit, in any grouping, with the same bits.
    passes = NETWORK.passes
    assert np.array_equal(fm.shared_features(images[:3], "random", "logits"), before_logits[:3])
    assert NETWORK.passes == passes + 1
    assert np.array_equal(fm.shared_features(images, "random", "pool3"), before_pool3)
    assert np.array_equal(fm.shared_features(images[::-1], "random", "logits"), before_logits[::-1])
    assert NETWORK.passes == passes + 2 and memo.hits == 3 + 11 and len(memo) == 11


def test_an_image_repeated_in_a_request_goes_through_once(images, memo):
    counted = NETWORK.images
    rows = fm.shared_features([images[0], images[1], images[0]], "random", "pool3")
    assert NETWORK.images == counted + 2 and np.array_equal(rows[0], rows[2])


def test_the_memo_keeps_the_most_recent_images_within_its_bytes():
    row = (np.zeros(2048, np.float32), np.zeros(1008, np.float32))
    memo = fm.FeatureMemo(max_bytes=3 * sum(r.nbytes for r in row))
    for key in "abc":
        memo.put(key, row)
    assert memo.get("a") is row  # now the most recent
    memo.put("d", row)
    assert memo.get("b") is None and len(memo) == 3 and memo.bytes == memo.max_bytes
    assert all(memo.get(key) is row for key in "acd")
    off = fm.FeatureMemo(max_bytes=0)
    off.put("a", row)
    assert len(off) == 0 and off.bytes == 0


def test_content_digest_is_the_content(tmp_path):
    png = tmp_path / "a.png"
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(png)
    assert fm.content_digest(png) == fm.content_digest(str(png)) == hashlib.sha256(png.read_bytes()).hexdigest()
    assert fm.content_digest(MediaBlob(png.read_bytes(), "b.png")) == fm.content_digest(png)  # same bytes, same image
    pixels = np.full((8, 8, 3), 7, np.uint8)
    assert fm.content_digest(pixels) == fm.content_digest(pixels.copy())
    assert fm.content_digest(pixels) != fm.content_digest(pixels.reshape(8, 24, 1))
    assert fm.content_digest(pixels) != fm.content_digest(pixels.astype(np.float64) / 255)
    assert fm.content_digest(np.array([object()])) is None
    with pytest.raises(InputError, match="image .*missing.png not found"):
        fm.content_digest(tmp_path / "missing.png")


def test_the_key_holds_weights_and_threads(images, memo, monkeypatch):
    import torch

    fm.shared_features(images[:2], "random", "pool3")
    counted = NETWORK.images
    monkeypatch.setattr(torch, "get_num_threads", lambda: 97)  # features differ between thread counts
    fm.shared_features(images[:2], "random", "pool3")
    assert NETWORK.images == counted + 2


def test_fid_kid_and_prdc_read_one_reference_cache_entry(images, tmp_path, monkeypatch):
    from mmeval.metrics.image.fid import FID
    from mmeval.metrics.image.kid import KID
    from mmeval.metrics.image.precision_recall import PRDC

    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fm, "MEMO", fm.FeatureMemo(max_bytes=0))  # only the disk cache can share
    refs, outputs = images[:5], images[6:]  # 5 files, 5 arrays
    fid = FID(weights="random")
    fid.compute(fid.update(fid.init(), outputs, refs))
    assert fid.cache.misses == 1
    for metric in (KID(weights="random", subset_size=3), PRDC(weights="random", nearest_k=2)):
        counted = NETWORK.images
        metric.compute(metric.update(metric.init(), outputs, refs))
        assert metric.cache.hits == 1 and NETWORK.images == counted + len(outputs)  # no reference pass


# --- a run of FID, KID, IS and PRDC ------------------------------------------------------

METRICS = [
    {"use": "fid", "args": {"weights": "random"}},
    {"use": "kid", "args": {"weights": "random", "subsets": 10, "subset_size": 6}},
    {"use": "inception_score", "args": {"weights": "random", "splits": 2}},
    {"use": "prdc", "args": {"weights": "random", "nearest_k": 3}},
]
N = 13  # not a multiple of CHUNK: leftovers wait across batches and settle at compute


def image_suite(tmp_path: Path, repo: Path) -> tuple[Path, dict[str, list[Path]]]:
    """13 catalogue images as targets and two replayed models; the degraded model's first
    output is byte for byte its target, so it needs no pass of its own."""
    media = repo / "suites" / "data" / "media-smoke"
    ids = [json.loads(line)["id"] for line in (media / "image.jsonl").read_text().splitlines()][:N]
    files: dict[str, list[Path]] = {"targets": [], "candidate": [], "degraded": []}
    for side, source in (("targets", media / ".." / "ecommerce" / "images"), ("candidate", media / "image" / "candidate"),
                         ("degraded", media / "image" / "degraded")):
        (tmp_path / side).mkdir(parents=True)
        for i, sample in enumerate(ids):
            origin = source / f"{sample}.png" if not (side == "degraded" and i == 0) else files["targets"][0]
            files[side].append(Path(shutil.copy(origin, tmp_path / side / f"{sample}.png")))
    rows = [{"id": s, "input": s, "target": f"targets/{s}.png"} for s in ids]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for model in ("candidate", "degraded"):
        (tmp_path / f"{model}.jsonl").write_text("".join(json.dumps({"id": s, "output": f"{model}/{s}.png"}) + "\n" for s in ids))
    suite = {"version": 1, "name": "inception-sharing", "seed": 0, "batch_size": 5, "dataset": {"path": "data.jsonl"},
             "models": {m: {"use": "replay", "args": {"path": f"{m}.jsonl"}} for m in ("candidate", "degraded")},
             "metrics": METRICS, "bootstrap": {"resamples": 20}, "thresholds": []}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    return tmp_path / "suite.yaml", files


def separate_values(files: dict[str, list[Path]]) -> dict[tuple[str, str], float]:
    """Each metric on its own, as before: a fresh object, no memo, no reference cache."""
    from mmeval.registry import METRICS as REGISTRY

    values = {}
    for spec in METRICS:
        for model in ("candidate", "degraded"):
            metric = REGISTRY.get(spec["use"])(**spec["args"])
            computed = metric.compute(metric.update(metric.init(), files[model], files["targets"]))
            for key, value in computed.items():
                values[(model, key if key == metric.name else f"{metric.name}_{key}")] = value
    return values


@pytest.mark.slow
def test_a_run_sends_each_distinct_image_through_the_network_once(tmp_path, repo, memo, monkeypatch):
    from mmeval.runner import run

    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    suite, files = image_suite(tmp_path / "suite", repo)
    distinct = {hashlib.sha256(p.read_bytes()).hexdigest() for side in files.values() for p in side}
    assert len(distinct) == 3 * N - 1
    passes, counted = NETWORK.passes, NETWORK.images
    report = run(suite, tmp_path / "run", progress=False).report
    assert NETWORK.images - counted == len(distinct)  # 4 metrics x 2 models, one pass per image
    assert NETWORK.passes - passes <= 2 * 2 + 2 + -(-len(distinct) // CHUNK)  # leftovers: one padded pass a model and side
    shared = {(r["model"], r["key"]): r["value"] for r in report["results"]}

    monkeypatch.setenv("MMEVAL_CACHE_DIR", "off")
    monkeypatch.setattr(fm, "MEMO", fm.FeatureMemo(max_bytes=0))
    counted = NETWORK.images
    alone = separate_values(files)
    assert NETWORK.images - counted == 4 * 2 * N + 3 * 2 * N  # outputs per metric and model, targets for 3 of them
    assert len(alone) == 2 * (1 + 2 + 2 + 4) and {key: shared[key] for key in alone} == alone  # bit for bit
