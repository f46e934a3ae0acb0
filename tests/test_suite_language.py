"""Suite-level `language:`: default tokenizers, validation, and the shipped Chinese suite."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
import sacrebleu

from mmeval.errors import SpecError
from mmeval.metrics.tokenize import tokens
from mmeval.registry import METRICS
from mmeval.runner import run
from mmeval.suite import load_suite
from tests.test_suite import base_suite, write_suite

TEXT_METRICS = [{"use": "bleu"}, {"use": "chrf"}, {"use": "distinct_n"}, {"use": "self_bleu"}]
TOKENIZING = ["bleu", "distinct_n", "self_bleu"] + (["rouge_l"] if "rouge_l" in METRICS else [])


def built(tmp_path, **over):
    suite = load_suite(write_suite(tmp_path, base_suite(thresholds=[], **over)))
    return {bm.label: bm.metric for bm in suite.metrics}, suite


def test_zh_sets_tokenize_where_a_metric_takes_one(tmp_path):
    explicit = [{"use": "bleu", "name": "bleu13a", "args": {"tokenize": "13a"}}]
    metrics, suite = built(tmp_path, language="zh", metrics=[{"use": m} for m in TOKENIZING] + [{"use": "chrf"}] + explicit)
    for name in TOKENIZING:
        assert metrics[name].tokenize == "zh", name
        assert "tok:zh" in metrics[name].fingerprint(), name
    assert metrics["bleu13a"].tokenize == "13a"  # an explicit choice wins
    assert not hasattr(metrics["chrf"], "tokenize")
    args = {m.name or m.use: m.args for m in suite.spec.metrics}  # what the report's metrics section shows
    assert args["bleu"] == {"tokenize": "zh"} and args["chrf"] == {} and args["bleu13a"] == {"tokenize": "13a"}


@pytest.mark.parametrize("language", [None, "en", "en-US"])
def test_english_or_absent_keeps_each_default(tmp_path, language):
    over = {"language": language} if language else {}
    metrics, _ = built(tmp_path, metrics=TEXT_METRICS, **over)
    assert metrics["bleu"].tokenize == "13a" and metrics["distinct_n"].tokenize == "whitespace"
    assert "tok:13a" in metrics["bleu"].fingerprint()


def test_region_tags_map_to_their_language(tmp_path):
    metrics, _ = built(tmp_path, language="zh-CN", metrics=[{"use": "distinct_n"}])
    assert metrics["distinct_n"].tokenize == "zh"


@pytest.mark.parametrize("value, fragment", [("xx", "language: unsupported language 'xx'; use one of en, zh, ja"),
                                             (5, "language: input should be a valid string")])
def test_bad_language_is_one_line_naming_file_and_key(tmp_path, value, fragment):
    path = write_suite(tmp_path, base_suite(language=value))
    with pytest.raises(SpecError) as info:
        load_suite(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and fragment in message


def test_ja_needs_mecab_for_bleu_and_uses_characters_elsewhere(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("MeCab", "ipadic") else real(name, *a))
    with pytest.raises(SpecError, match=r"metrics\[0\]: language ja: tokenize ja-mecab needs MeCab and ipadic; run: pip install 'sacrebleu\[ja\]'"):
        built(tmp_path, language="ja", metrics=[{"use": "bleu"}])
    metrics, _ = built(tmp_path, language="ja", metrics=[{"use": "bleu", "args": {"tokenize": "char"}}, {"use": "distinct_n"}])
    assert metrics["bleu"].tokenize == "char" and metrics["distinct_n"].tokenize == "char"


def _jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_chinese_suite_runs_with_zh_tokenizers_and_equals_references(repo, tmp_path):
    result = run(repo / "suites" / "ecommerce-text-zh.yaml", tmp_path / "run", progress=False)
    report = result.report
    assert result.exit_code == 0 and report["status"] == "pass"
    assert report["suite"]["language"] == "zh"
    data = repo / "suites" / "data" / "ecommerce-zh"
    refs = [r["target"] for r in _jsonl(data / "text.jsonl")]
    assert len(refs) == 40
    values = {(r["model"], r["key"]): r for r in report["results"]}
    for model in ("candidate", "baseline"):
        outs = [o["output"] for o in _jsonl(data / f"{model}.jsonl")]
        for key in ("bleu", "distinct_n", "self_bleu"):
            assert "tok:zh" in values[(model, key)]["fingerprint"]
            assert report["metrics"][key]["args"]["tokenize"] == "zh"
        bleu = sacrebleu.corpus_bleu(outs, [refs], tokenize="zh").score
        assert values[(model, "bleu")]["value"] == pytest.approx(bleu, abs=1e-9)
        assert values[(model, "chrf")]["value"] == pytest.approx(sacrebleu.corpus_chrf(outs, [refs]).score, abs=1e-9)
        words = [tokens(o, "zh") for o in outs]
        grams = {tuple(w[i : i + 2]) for w in words for i in range(len(w) - 1)}
        assert values[(model, "distinct_n")]["value"] == pytest.approx(len(grams) / sum(map(len, words)), abs=1e-12)
    # The candidate is closer to the references and more varied than the generic baseline.
    assert values[("candidate", "bleu")]["value"] > values[("baseline", "bleu")]["value"] + 20
    assert values[("candidate", "distinct_n")]["value"] > values[("baseline", "distinct_n")]["value"]


def test_chinese_suite_data_regenerates_bit_for_bit(repo, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mmeval.catalog.zh", "--out", str(tmp_path)], cwd=repo,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    committed = repo / "suites" / "data" / "ecommerce-zh"
    names = sorted(p.name for p in committed.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "ecommerce-zh").iterdir())
    for name in names:
        assert (tmp_path / "ecommerce-zh" / name).read_bytes() == (committed / name).read_bytes(), name
