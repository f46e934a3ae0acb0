"""The suite loader: valid suites build; every kind of bad input is a one-line SpecError/InputError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmeval.errors import InputError, MmevalError, SpecError
from mmeval.suite import load_suite, parse_suite


def write_suite(tmp: Path, suite: dict | str, rows=None, outputs=None) -> Path:
    data = tmp / "data.jsonl"
    rows = rows if rows is not None else [{"id": f"s{i}", "input": "x", "target": "a" if i % 2 else "b"} for i in range(4)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp / "out.jsonl"
    outputs = outputs if outputs is not None else [{"id": r["id"], "output": r.get("target")} for r in rows]
    out.write_text("".join(json.dumps(o) + "\n" for o in outputs))
    path = tmp / "suite.yaml"
    path.write_text(suite if isinstance(suite, str) else yaml.safe_dump(suite))
    return path


def base_suite(**over) -> dict:
    suite = {
        "version": 1,
        "name": "t",
        "dataset": {"path": "data.jsonl"},
        "models": {"candidate": {"use": "replay", "args": {"path": "out.jsonl"}}},
        "metrics": [{"use": "accuracy"}, {"use": "f1", "args": {"average": "macro"}}],
        "thresholds": [{"model": "candidate", "metric": "accuracy", "min": 0.5}],
    }
    suite.update(over)
    return suite


def test_valid_suite_builds(tmp_path):
    suite = load_suite(write_suite(tmp_path, base_suite()))
    assert [m.label for m in suite.metrics] == ["accuracy", "f1"]
    assert suite.metrics[1].metric.average == "macro"
    assert suite.models["candidate"].path == tmp_path / "out.jsonl"  # relative to the suite file


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"metrics": [{"use": "acuracy"}]}, "did you mean 'accuracy'"),
        ({"metrics": [{"use": "f1", "args": {"average": 3}}]}, "metrics[0].args.average"),
        ({"metrics": [{"use": "f1", "args": {"averag": "macro"}}]}, "did you mean 'average'"),
        ({"metrics": [{"use": "f1", "args": {"average": "mean"}}]}, "'mean' is invalid"),
        ({"models": {"candidate": {"use": "replay", "args": {"path": 3.5}}}}, "models.candidate.args.path"),
        ({"models": {"candidate": {"use": "replay"}}}, "missing required argument(s): path"),
        ({"models": {"candidate": {"use": "replayy", "args": {"path": "out.jsonl"}}}}, "did you mean 'replay'"),
        ({"dataset": {"path": "nope.jsonl"}}, "dataset.path: file 'nope.jsonl' not found"),
        ({"version": 2}, "unsupported suite version 2"),
        ({"thresholds": [{"model": "candidate", "metric": "bleu", "min": 1}]}, "unknown metric 'bleu'"),
        ({"thresholds": [{"model": "cand", "metric": "accuracy", "min": 1}]}, "unknown model 'cand'"),
        ({"thresholds": [{"model": "candidate", "metric": "accuracy"}]}, "needs 'min' or 'max'"),
        ({"colour": "red"}, "colour: unknown key"),
        ({"name": "has space"}, "name:"),
        ({"metrics": [{"use": "accuracy"}, {"use": "accuracy"}]}, "appears twice"),
        ({"metrics": [{"use": "accuracy", "against": "ref"}]}, "unknown model 'ref'"),
    ],
)
def test_bad_suites_name_file_and_key(tmp_path, change, fragment):
    path = write_suite(tmp_path, base_suite(**change))
    with pytest.raises(MmevalError) as info:
        load_suite(path)
    message = str(info.value)
    assert fragment in message
    assert str(path) in message
    assert "\n" not in message


def test_malformed_yaml_names_line(tmp_path):
    path = write_suite(tmp_path, "version: 1\nname: [unclosed\n")
    with pytest.raises(SpecError, match=r"suite.yaml:\d+: malformed YAML"):
        load_suite(path)


def test_missing_suite_file(tmp_path):
    with pytest.raises(InputError, match="suite file not found"):
        load_suite(tmp_path / "absent.yaml")


def test_replay_duplicate_and_malformed_lines(tmp_path):
    rows = [{"id": "a", "input": "x", "target": "y"}]
    path = write_suite(tmp_path, base_suite(), rows=rows, outputs=[{"id": "a", "output": "y"}, {"id": "a", "output": "z"}])
    with pytest.raises(InputError, match=r"out.jsonl:2: duplicate id 'a'"):
        load_suite(path)
    (tmp_path / "out.jsonl").write_text('{"id": "a", "output": "y"}\n{not json\n')
    with pytest.raises(InputError, match=r"out.jsonl:2: invalid JSON"):
        load_suite(path)


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12))
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=20,
)
suite_keys = st.sampled_from(["version", "name", "seed", "dataset", "models", "metrics", "thresholds", "gates", "batch_size", "use", "args", "path"])
suite_like = st.dictionaries(suite_keys, yaml_values, max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.one_of(suite_like, yaml_values))
def test_random_documents_never_traceback(tmp_path_factory, doc):
    text = yaml.safe_dump(doc)
    try:
        parse_suite(text, "fuzz.yaml")
    except MmevalError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab:-[]{}\n '\"&*!|>%@`#,?1")), max_size=80))
def test_random_text_never_tracebacks(text):
    try:
        parse_suite(text, "fuzz.yaml")
    except MmevalError:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(metrics=st.lists(st.fixed_dictionaries({"use": st.sampled_from(["accuracy", "f1", "bleu", "mae", "nope"]), "args": st.dictionaries(st.sampled_from(["average", "tokenize", "x"]), yaml_scalars, max_size=2)}), max_size=3))
def test_random_plugin_args_never_traceback(tmp_path, metrics):
    path = write_suite(tmp_path, base_suite(metrics=metrics, thresholds=[]))
    try:
        load_suite(path)
    except MmevalError as exc:
        assert "\n" not in str(exc)
