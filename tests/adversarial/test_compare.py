"""`mmeval compare` gives honest verdicts (issue #12 items 1, 8, 9).

- sealed runs (records in the encrypted store) are paired after a `read-raw` check and
  an audited read; without the permission compare is denied (3); without a usable key
  ring the rows are `untested` and `--fail-on-regression` exits 2;
- set-level metrics get an interval from both runs' set-bootstrap replicates, or are
  `untested`, never `ok`;
- the delta is candidate minus baseline of the reported values, with a paired bootstrap
  of that same corpus statistic (checked against numpy / sacrebleu by hand).
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mmeval.cli.compare import compare_runs
from mmeval.errors import InputError
from mmeval.report.state_codec import decode_state, encode_state
from mmeval.runner import run
from mmeval.security.policy import os_user
from tests.cli.test_cli import assert_one_line_error, mmeval

N_LABELS = 600


@pytest.fixture(autouse=True)
def _no_cache(monkeypatch):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", "off")


def _copy(run_dir, tmp_path):
    """A private copy of a module-scoped run, for a test that edits it."""
    return shutil.copytree(run_dir, tmp_path / run_dir.name)


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def label_suite(folder, name: str, correct: int, n: int = N_LABELS):
    """A replay suite over n labelled samples whose model gets the first `correct` right."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = ["a", "b", "c"]
    data = [{"id": f"s{i:04d}", "input": f"x{i}", "target": labels[i % 3]} for i in range(n)]
    _jsonl(folder / "data.jsonl", data)
    # The misses are spread over the ids (the same seeded order in both runs: a paired drop).
    right = set(np.random.default_rng(7).permutation(n)[:correct].tolist())
    outputs = [{"id": d["id"], "output": d["target"] if i in right else labels[(i + 1) % 3]} for i, d in enumerate(data)]
    _jsonl(folder / f"{name}.jsonl", outputs)
    suite = {
        "version": 1, "name": "cmp-sealed", "dataset": {"path": "data.jsonl"},
        "models": {"candidate": {"use": "replay", "args": {"path": f"{name}.jsonl"}}},
        "metrics": [{"use": "accuracy"}], "bootstrap": {"resamples": 20},
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(suite))
    return folder / f"{name}.yaml"


@pytest.fixture(scope="module")
def sealed_world(tmp_path_factory):
    """Two sealed runs (accuracy 0.883 -> 0.765), a policy, the ring and the audit log."""
    from mmeval.security.keyring import KeyRing

    tmp = tmp_path_factory.mktemp("sealed")
    env = {"MMEVAL_KEYRING": str(tmp / "ring.json"), "MMEVAL_AUDIT_LOG": str(tmp / "audit.log"),
           "MMEVAL_HOME": str(tmp / "home"), "MMEVAL_CACHE_DIR": "off"}
    policy = tmp / "policy.yaml"
    policy.write_text(yaml.safe_dump({
        "roles": {"evaluator": ["run", "read-report", "read-raw"], "viewer": ["read-report"]},
        "principals": {"alice": ["evaluator"], "bob": ["viewer"]},
        "impersonation": {os_user(): ["alice", "bob"]},  # the principal is the OS user otherwise
    }))
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        for name in ("MMEVAL_POLICY", "MMEVAL_PRINCIPAL"):
            patch.delenv(name, raising=False)
        KeyRing.init(tmp / "ring.json")
        for name, correct in (("base", 530), ("cand", 459)):
            suite = label_suite(tmp / "suite", name, correct)
            out = tmp / f"run-{name}"
            proc = mmeval("run", str(suite), "--out", str(out), "--quiet", "--policy", str(policy), "--principal", "alice")
            assert proc.returncode == 0, proc.stderr
            assert not (out / "records.jsonl").exists() and (out / "store").is_dir()  # the records are sealed
            runs[name] = out
    return runs, policy, env


@pytest.fixture
def sealed_runs(sealed_world, monkeypatch):
    runs, policy, env = sealed_world
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("MMEVAL_POLICY", "MMEVAL_PRINCIPAL"):
        monkeypatch.delenv(name, raising=False)
    return runs, policy, AuditTail(env["MMEVAL_AUDIT_LOG"])


class AuditTail:
    """The audit-log entries appended since this was made."""

    def __init__(self, path):
        from pathlib import Path

        self.path = Path(path)
        self.start = len(self.path.read_text().splitlines())

    def new(self):
        return [json.loads(e) for e in self.path.read_text().splitlines()[self.start:]]


def test_sealed_drop_is_a_regression_with_its_interval(sealed_runs):
    runs, policy, audit = sealed_runs
    proc = mmeval("compare", str(runs["base"]), str(runs["cand"]), "--fail-on-regression", "--policy", str(policy), "--principal", "alice", "--resamples", "300")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = next(row for row in proc.stdout.splitlines() if row.startswith("candidate"))
    assert "REGRESSION" in line and "paired n=600" in line and "n/a" not in line
    assert "-0.1183" in line  # 0.7650 - 0.8833
    reads = [e for e in audit.new() if e.get("event") == "store-read" and e.get("operation") == "compare"]
    assert len(reads) == 2 and {e["principal"] for e in reads} == {"alice"}


def test_sealed_without_read_raw_is_denied(sealed_runs):
    runs, policy, audit = sealed_runs
    proc = mmeval("compare", str(runs["base"]), str(runs["cand"]), "--fail-on-regression", "--policy", str(policy), "--principal", "bob")
    assert_one_line_error(proc, 3, "may not read-raw")
    denied = audit.new()
    assert not any(e.get("event") == "store-read" for e in denied)
    assert any(e.get("action") == "read-raw" and e.get("decision") == "deny" and e.get("principal") == "bob" for e in denied)


def test_sealed_without_a_key_ring_is_untested(sealed_runs, tmp_path):
    runs, policy, _ = sealed_runs
    args = ["compare", str(runs["base"]), str(runs["cand"]), "--policy", str(policy), "--principal", "alice", "--keyring", str(tmp_path / "missing.json")]
    proc = mmeval(*args)
    assert proc.returncode == 0, proc.stderr
    assert "untested" in proc.stdout and " ok" not in proc.stdout and "not found" in proc.stdout
    proc = mmeval(*args, "--fail-on-regression")
    assert_one_line_error(proc, 2, "untested")


@pytest.fixture(scope="module")
def smoke_pair(tmp_path_factory, shipped_run):
    """The shared run of suites/smoke.yaml and a run of a copy that replays a worse candidate."""
    from tests.conftest import REPO as repo

    tmp_path = tmp_path_factory.mktemp("smoke")
    shutil.copytree(repo / "suites" / "data" / "smoke", tmp_path / "data" / "smoke")
    text = (repo / "suites" / "smoke.yaml").read_text()
    data = {json.loads(x)["id"]: json.loads(x) for x in (tmp_path / "data/smoke/dataset.jsonl").read_text().splitlines()}
    rng = np.random.default_rng(3)
    worse = []
    for line in (tmp_path / "data/smoke/candidate.jsonl").read_text().splitlines():
        row = json.loads(line)
        task = data[row["id"]]["task"]
        if task == "price":
            row["output"] = float(row["output"]) + float(rng.choice([-1, 1]) * rng.uniform(0, 15))
        elif task == "description":
            row["output"] = " ".join(str(row["output"]).split()[::-1][:6])
        worse.append(row)
    _jsonl(tmp_path / "data/smoke/worse.jsonl", worse)
    (tmp_path / "worse.yaml").write_text(text.replace("data/smoke/candidate.jsonl", "data/smoke/worse.jsonl"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMEVAL_CACHE_DIR", "off")
        cand = run(tmp_path / "worse.yaml", tmp_path / "cand", progress=False).run_dir
    base = shipped_run("smoke").path  # the same suite and data, cache off too; read-only here
    return base, cand, data, worse, tmp_path


def test_delta_is_the_difference_of_reported_values(smoke_pair):
    import sacrebleu

    base, cand, data, worse, folder = smoke_pair
    rows = {(r["model"], r["metric"]): r for r in compare_runs(base, cand, resamples=400, seed=5)}
    reported = {d: {(r["model"], r["key"]): r["value"] for r in json.loads((d / "report.json").read_text())["results"]} for d in (base, cand)}
    for key in (("candidate", "rmse"), ("candidate", "bleu")):
        row = rows[key]
        assert row["delta"] == pytest.approx(reported[cand][key] - reported[base][key], abs=1e-12)
        assert row["ci_method"] == "paired-bootstrap" and row["verdict"] == "REGRESSION"
        assert row["ci_low"] <= row["delta"] <= row["ci_high"]

    # The same paired bootstrap by hand: resample ids jointly, recompute the corpus statistic.
    originals = {json.loads(x)["id"]: json.loads(x)["output"] for x in (folder / "data/smoke/candidate.jsonl").read_text().splitlines()}
    changed = {r["id"]: r["output"] for r in worse}

    def by_hand(task, statistic):
        ids = sorted(i for i, d in data.items() if d["task"] == task)
        picks_rng = np.random.default_rng(5)
        diffs = []
        for _ in range(400):
            picks = [ids[k] for k in picks_rng.integers(0, len(ids), size=len(ids))]
            diffs.append(statistic(picks, changed) - statistic(picks, originals))
        return np.quantile(diffs, [0.025, 0.975])

    def rmse(picks, outputs):
        return math.sqrt(np.mean([(float(outputs[i]) - float(data[i]["target"])) ** 2 for i in picks]))

    def bleu(picks, outputs):
        return sacrebleu.corpus_bleu([outputs[i] for i in picks], [[data[i]["target"] for i in picks]]).score

    for metric, statistic, task in (("rmse", rmse, "price"), ("bleu", bleu, "description")):
        low, high = by_hand(task, statistic)
        assert rows[("candidate", metric)]["ci_low"] == pytest.approx(low, rel=1e-9)
        assert rows[("candidate", metric)]["ci_high"] == pytest.approx(high, rel=1e-9)
    # The baseline model replayed the same outputs in both runs: no difference at all.
    assert rows[("baseline", "bleu")]["delta"] == 0 and rows[("baseline", "bleu")]["verdict"] == "ok"


def test_records_without_states_or_a_changed_metric_are_untested(smoke_pair, tmp_path):
    base, cand = (_copy(d, tmp_path) for d in smoke_pair[:2])
    lines = [json.loads(x) for x in (cand / "records.jsonl").read_text().splitlines()]
    for row in lines:
        row.get("states", {}).pop("rmse", None)  # as records of a run made before states were kept
    (cand / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    for d in (base, cand):  # both say bleu used another tokenizer than the fingerprint shows
        report = json.loads((d / "report.json").read_text())
        report["metrics"]["bleu"]["args"] = {"tokenize": "char"}
        (d / "report.json").write_text(json.dumps(report))
    rows = {(r["model"], r["metric"]): r for r in compare_runs(base, cand, resamples=50)}
    assert rows[("candidate", "rmse")]["verdict"] == "untested" and "no per-sample rmse state" in rows[("candidate", "rmse")]["note"]
    assert rows[("candidate", "bleu")]["verdict"] == "untested" and "fingerprint" in rows[("candidate", "bleu")]["note"]
    # A significant regression elsewhere decides (1); waived by --min-effect, untested rows decide (2).
    proc = mmeval("compare", str(base), str(cand), "--fail-on-regression", "--resamples", "50")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    proc = mmeval("compare", str(base), str(cand), "--fail-on-regression", "--resamples", "50", "--min-effect", "1000")
    assert proc.returncode == 2 and proc.stderr.startswith("error: cannot rule out a regression")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def _diversity_run(tmp_path, name: str, texts: list[str]):
    folder = tmp_path / name
    folder.mkdir()
    _jsonl(folder / "data.jsonl", [{"id": f"t{i:03d}", "input": "describe", "target": "-"} for i in range(len(texts))])
    _jsonl(folder / "out.jsonl", [{"id": f"t{i:03d}", "output": t} for i, t in enumerate(texts)])
    suite = {
        "version": 1, "name": "cmp-set", "dataset": {"path": "data.jsonl"},
        "models": {"candidate": {"use": "replay", "args": {"path": "out.jsonl"}}},
        "metrics": [{"use": "vendi"}], "bootstrap": {"resamples": 40},
    }
    (folder / "suite.yaml").write_text(yaml.safe_dump(suite))
    return run(folder / "suite.yaml", folder / "run", progress=False).run_dir


WORDS = "red blue linen cotton mug lamp chair wool steel oak glass jar shirt boot sock cap".split()


@pytest.fixture(scope="module")
def diversity_runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("diversity")
    rng = np.random.default_rng(0)
    varied = [" ".join(rng.choice(WORDS, size=6)) for _ in range(40)]
    alike = [("red cotton shirt with a cap" if i % 4 else varied[i]) for i in range(40)]
    return _diversity_run(tmp_path, "varied", varied), _diversity_run(tmp_path, "alike", alike)


def test_set_level_metric_gets_a_verdict_from_replicates(diversity_runs):
    base, cand = diversity_runs
    for d in (base, cand):
        entry = json.loads((d / "report.json").read_text())["results"][0]
        assert entry["metric"] == "vendi" and len(entry["ci_replicates"]) >= 10
    (row,) = compare_runs(base, cand)
    assert row["ci_method"] == "set-bootstrap-difference" and row["ci_high"] < 0
    assert row["verdict"] == "REGRESSION" and row["delta"] == pytest.approx(row["candidate"] - row["baseline"])
    proc = mmeval("compare", str(base), str(cand), "--fail-on-regression")
    assert proc.returncode == 1 and "REGRESSION" in proc.stdout and "sets " in proc.stdout, proc.stdout + proc.stderr


def test_set_level_metric_without_replicates_is_untested(diversity_runs, tmp_path):
    base, cand = diversity_runs[0], _copy(diversity_runs[1], tmp_path)
    report = json.loads((cand / "report.json").read_text())
    report["results"][0].pop("ci_replicates")
    report["results"][0]["not_comparable"] = "random weights"
    (cand / "report.json").write_text(json.dumps(report))
    (row,) = compare_runs(base, cand)
    assert row["verdict"] == "untested" and not row["regression"] and "replicates" in row["note"]
    assert row["not_comparable"] == "random weights"
    proc = mmeval("compare", str(base), str(cand))
    assert proc.returncode == 0 and "untested" in proc.stdout and "not comparable: random weights" in proc.stdout
    proc = mmeval("compare", str(base), str(cand), "--fail-on-regression", "--json")
    assert proc.returncode == 2 and json.loads(proc.stdout)[0]["verdict"] == "untested"
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error:")


def test_tampered_record_state_is_an_input_error(smoke_pair, tmp_path):
    base, cand = smoke_pair[0], _copy(smoke_pair[1], tmp_path)
    lines = [json.loads(x) for x in (cand / "records.jsonl").read_text().splitlines()]
    target = next(r for r in lines if "rmse" in r.get("states", {}))
    target["states"]["rmse"] = {"$pickle": "gASVAAAA"}
    (cand / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    proc = mmeval("compare", str(base), str(cand), "--resamples", "20")
    assert_one_line_error(proc, 2, "unknown tag '$pickle'")


# --- the state codec ---------------------------------------------------------------

_keys = st.one_of(st.text(max_size=5), st.integers(), st.tuples(st.text(max_size=3), st.text(max_size=3)))
_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8))
_states = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner),
        st.dictionaries(_keys, inner, max_size=3),
        st.dictionaries(_keys, st.integers(), max_size=3).map(lambda d: __import__("collections").Counter(d)),
    ),
    max_leaves=12,
)


def _same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=150, deadline=None)
@given(_states)
def test_codec_round_trip(state):
    back = decode_state(json.loads(json.dumps(encode_state(state), allow_nan=False)))
    assert _same(state, back)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(allow_nan=True, width=32), max_size=6), st.sampled_from(["<f4", ">f8", "<i8", "|b1"]))
def test_codec_round_trips_arrays_and_dataclasses(values, dtype):
    from mmeval.metrics.image.set_metric import FeatureState

    with np.errstate(invalid="ignore"):  # nan/inf cast to integers: any value will do
        array = np.array(values).astype(dtype) if dtype != "|b1" else np.array([v > 0 for v in values])
    back = decode_state(json.loads(json.dumps(encode_state(array))), np.zeros(0))
    assert back.shape == array.shape and back.dtype.kind == array.dtype.kind
    assert np.array_equal(back, array, equal_nan=array.dtype.kind == "f")
    state = FeatureState(outputs=[array])
    again = decode_state(json.loads(json.dumps(encode_state(state))), FeatureState())
    assert type(again) is FeatureState and np.array_equal(again.outputs[0], array, equal_nan=array.dtype.kind == "f")


@pytest.mark.parametrize("bad, template", [
    ({"$pickle": "x"}, None),
    ({"$tuple": [1], "$f": "nan"}, None),
    ({"$f": "1e999"}, None),
    ({"$ndarray": {"dtype": "|O", "shape": [1], "b64": "AAAAAAAAAAA="}}, None),
    ({"$ndarray": {"dtype": "<f8", "shape": [1000000000], "b64": "AAAAAAAAAAA="}}, None),
    ({"$dataclass": {"outputs": []}}, None),  # no template: no class to build
    ({"$counter": [[["unhashable"], 1]]}, None),
    ([1.0, 2], (0.0, 0)),  # a list where the metric's state is a tuple
    ({"$tuple": [1.0, "x"]}, (0.0, 0)),
])
def test_codec_rejects_malformed_states(bad, template):
    with pytest.raises(InputError):
        decode_state(bad, template)
