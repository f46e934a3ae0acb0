"""Inception features do not depend on the run's batch size (issue 16: the Inception Score
was 1.1277661 / 1.1277591 / 1.1277034 at batch sizes 1 / 7 / 64): every forward pass has
`CHUNK` images, leftovers wait in the state, and shards merge to the one-stream rows.
The process memo is off here, so every asked-for image goes through the network and the
passes show the chunking (tests/metrics/image/test_feature_memo.py tests the memo)."""

from __future__ import annotations

import numpy as np
import pytest

from mmeval.metrics.image import feature_memo
from mmeval.metrics.image.fid import FID
from mmeval.metrics.image.inception_score import InceptionScore
from mmeval.metrics.image.kid import KID
from mmeval.metrics.image.precision_recall import PRDC
from mmeval.metrics.image.inception import CHUNK, image_features, load_network

N = 11  # one full chunk and a partial one


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(16)
    return [(rng.random((24 + 3 * i, 30, 3)) * 255 * (0.4 + 0.05 * i)).astype(np.uint8) for i in range(N)]


@pytest.fixture(autouse=True)
def no_memo(monkeypatch):
    monkeypatch.setattr(feature_memo, "MEMO", feature_memo.FeatureMemo(max_bytes=0))


@pytest.fixture
def passes():
    """The batch size of every forward pass of the (random-weight) network."""
    net, _ = load_network("random")
    shapes: list[int] = []
    hook = net.register_forward_pre_hook(lambda module, args: shapes.append(args[0].shape[0]))
    yield shapes
    hook.remove()


def run(metric, outputs, targets, split):
    state = metric.init()
    for i in range(0, len(outputs), split):
        state = metric.update(state, outputs[i : i + split], targets[i : i + split])
    return state, metric.compute(state)


def test_inception_score_and_logits_are_bit_identical_at_batch_sizes_1_7_64(images, passes):
    metric = InceptionScore(weights="random", splits=2)
    results = {}
    for split in (1, 7, 64):
        passes.clear()
        state, values = run(metric, images, [None] * N, split)
        # Cost: the same passes whatever the split; a batch of 1 never costs a padded pass.
        assert passes == [CHUNK] * -(-N // CHUNK)
        results[split] = (np.concatenate(state.outputs), values)
    logits, values = results[1]
    for split in (7, 64):
        assert np.array_equal(results[split][0], logits)
        assert results[split][1] == values  # exactly: no float32 shape effects left


def test_fid_features_are_bit_identical_at_batch_sizes_1_7_64(images, passes, tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path))
    targets = images[::-1]
    metric = FID(weights="random")
    outs = {}
    for split in (1, 7, 64):
        state, values = run(metric, images, targets, split)
        outs[split] = (np.concatenate(state.outputs), np.concatenate(state.targets), values["fid"])
    assert set(passes) == {CHUNK}
    for split in (7, 64):
        assert np.array_equal(outs[split][0], outs[1][0]) and np.array_equal(outs[split][1], outs[1][1])
        assert outs[split][2] == outs[1][2]
    # The rows are image_features of the images, in sample order.
    assert np.array_equal(outs[1][0], image_features(images, "random"))


def test_an_image_has_the_same_features_anywhere_in_a_chunk_and_padded(images):
    # What fixed-shape chunks rely on: at one shape, a row depends only on its image.
    forward = image_features(images[:CHUNK], "random", logits=True)
    backward = image_features(images[:CHUNK][::-1], "random", logits=True)
    alone = image_features(images[3:4], "random", logits=True)  # padded with 7 black images
    assert np.array_equal(forward, backward[::-1])
    assert np.array_equal(alone[0], forward[3])


def test_shards_merge_to_the_one_stream_rows(images, passes):
    metric = InceptionScore(weights="random", splits=2)
    one_stream, _ = run(metric, images, [None] * N, N)
    expected = np.concatenate(one_stream.outputs)
    # a: 3 images pending; b: a full chunk embedded; c: 0 rows, 0 pending
    a = metric.update(metric.init(), images[:3], [None] * 3)
    b = metric.update(metric.init(), images[3:], [None] * (N - 3))
    assert not a.outputs and len(a.pending_outputs) == 3 and len(b.pending_outputs) == 0
    merged = metric.merge(metric.merge(a, b), metric.init())
    assert np.array_equal(metric._output_features(merged), expected)
    # Two pending-only shards join their images before any pass.
    c, d = (metric.update(metric.init(), images[s], [None] * 4) for s in (slice(0, 4), slice(4, 8)))
    passes.clear()
    joined = metric.merge(c, d)
    assert passes == [CHUNK] and np.array_equal(np.concatenate(joined.outputs), expected[:8])
    assert metric.compute(merged) == metric.compute(one_stream)


def test_fingerprint_names_the_forward_shape():
    for metric in (FID(weights="random"), KID(weights="random"), InceptionScore(weights="random"), PRDC(weights="random")):
        assert f"forward:chunk{CHUNK}" in metric.fingerprint()


def test_fused_channels_last_forward_is_pytorch_fids_forward_within_float32_noise(images) -> None:
    """The network runs NHWC with batch norms folded, for speed; its features are
    pytorch-fid's own NCHW, unfused forward up to float32 rounding."""
    import torch

    from mmeval.metrics.image.inception import image_batch, pytorch_fid_network

    net, _ = load_network("random")
    reference_net, _ = pytorch_fid_network("random")
    assert next(net.parameters()).is_contiguous(memory_format=torch.channels_last)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in reference_net.modules())
    with torch.inference_mode():
        batch = image_batch(images[:CHUNK])
        reference = reference_net(batch)[0].flatten(1).numpy()
    ours = image_features(images[:CHUNK], "random")
    assert np.abs(ours - reference).max() <= 1e-3 * max(1.0, np.abs(reference).max())
