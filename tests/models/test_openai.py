"""`openai` against a real `transformers serve` on loopback (no mock of the client or server):
greedy outputs equal `hf-causal-lm`'s, retries through a fault-injecting proxy honour
Retry-After, a killed server fails the run with one line and a rerun resumes, and the key
never shows."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import yaml

from mmeval.cli import main as cli_main
from mmeval.errors import SpecError
from mmeval.models.hf import HFCausalLM
from mmeval.models.openai_api import OpenAIAPI, RequestFailed, request_seed, retry_after_seconds
from mmeval.runner import run
from tests.conftest import REPO
from tests.models.helpers import runnable_copy, values
from tests.models.openai_server import REFERENCE_TEXT, FaultProxy, LocalServer, free_port

SENTINEL = "sk-sentinel-7f3a9c1e5b"  # the key; it must never appear in any output
ROWS = [json.loads(line) for line in (REPO / "suites/data/ecommerce/text.jsonl").read_text().splitlines()[:8]]


def _generate(adapter, rows=ROWS, seed=0):
    return adapter.generate([r["input"] for r in rows], seed=seed, ids=[r["id"] for r in rows])


def _api(base_url, **args):
    return OpenAIAPI(base_url, REFERENCE_TEXT, api="completions", **{"max_tokens": 16, **args})


@pytest.fixture(scope="module")
def local_greedy():
    """`hf-causal-lm` greedy on the same checkpoint, 16 new tokens, batched (left padding)."""
    return _generate(HFCausalLM(REPO / REFERENCE_TEXT, max_new_tokens=16, batch_size=8))


def _api_suite(tmp: Path, base_url: str, rows: int = 8, local: bool = True, **api_args) -> Path:
    """The shipped API suite on `rows` samples and 16 new tokens, pointed at `base_url`;
    `local=False` drops the in-process model (and the metric against it)."""
    data = tmp / "slice.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in ROWS[:rows]) + "\n")
    path, _ = runnable_copy(REPO / "suites/ecommerce-text-api.yaml", tmp, batch_size=4)
    spec = yaml.safe_load(path.read_text())
    spec["dataset"]["path"] = str(data)
    spec["models"]["api"]["args"].update(base_url=base_url, max_tokens=16, **api_args)
    spec["models"]["local"]["args"].update(max_new_tokens=16)
    if not local:
        del spec["models"]["local"]
        spec["metrics"] = [m for m in spec["metrics"] if "against" not in m]
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _no_secret_anywhere(*places: Path, texts: tuple[str, ...] = ()) -> None:
    """Not in `texts`, not in any file under `places`, the per-user home or the audit log."""
    places += (Path(os.environ["MMEVAL_HOME"]), Path(os.environ["MMEVAL_AUDIT_LOG"]).parent)
    for text in texts:
        assert SENTINEL not in text
    for place in places:
        for file in [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]:
            assert SENTINEL.encode() not in file.read_bytes(), file


def test_greedy_outputs_equal_hf_causal_lm(api_server, local_greedy):
    adapter = _api(api_server.base_url, concurrency=4)
    assert _generate(adapter) == local_greedy  # token-for-token: same weights, greedy, EOS stops both
    stats = adapter.request_stats()
    assert len(stats.latencies) == 8 and stats.with_usage == 8 and 8 <= stats.output_tokens <= 8 * 16
    fp = adapter.fingerprint()
    assert f"endpoint:http://127.0.0.1:{api_server.port}/v1" in fp and f"served:{REFERENCE_TEXT}" in fp


def test_seed_is_per_sample_and_settings_are_checked():
    assert request_seed(1, 0, "a") == request_seed(1, 0, "a") != request_seed(1, 0, "b")
    assert request_seed(1, 0, "a") != request_seed(2, 0, "a") and 0 <= request_seed(1, 0, "a") < 2**31
    with pytest.raises(SpecError, match="NAME of an environment variable") as info:
        OpenAIAPI("http://127.0.0.1:1/v1", "m", api_key_env=SENTINEL + "=")
    assert SENTINEL not in str(info.value)
    with pytest.raises(SpecError, match="credentials"):
        OpenAIAPI(f"http://user:{SENTINEL}@127.0.0.1:1/v1", "m")
    with pytest.raises(SpecError, match="system needs api: chat"):
        OpenAIAPI("http://127.0.0.1:1/v1", "m", api="completions", system="be brief")
    assert retry_after_seconds({"retry-after": "2"}) == 2.0 and retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past


def test_retries_honour_retry_after_and_finish(api_server, local_greedy):
    with FaultProxy(api_server.port) as proxy:
        proxy.faults.extend([(429, {"Retry-After": "1.2"}), (503, {})])
        adapter = _api(proxy.base_url, concurrency=1, max_retries=3)
        assert _generate(adapter, ROWS[:3]) == local_greedy[:3]
        posts = [entry for entry in proxy.log if entry[1] == "POST"]
        assert [status for *_, status in posts] == [429, 503, 200, 200, 200]
        assert posts[1][0] - posts[0][0] >= 1.2  # waited as Retry-After said
        assert 0.25 <= posts[2][0] - posts[1][0] < 1.2  # no Retry-After: backoff 0.5 s with jitter
        assert adapter.request_stats().retries == 2

        proxy.faults.append(("delay", 2.5))  # held past timeout_s: a timeout, retried
        adapter = _api(proxy.base_url, concurrency=1, max_retries=3, timeout_s=1.5)
        assert _generate(adapter, ROWS[:1]) == local_greedy[:1] and adapter.request_stats().retries >= 1

        proxy.faults.extend([(503, {})] * 2)  # more failures than retries
        adapter = _api(proxy.base_url, concurrency=1, max_retries=1)
        exhausted = f"sample {ROWS[0]['id']!r}: HTTP 503 from 127.0.0.1:{proxy.port}, retries exhausted after 2 attempts"
        with pytest.raises(RequestFailed, match=exhausted) as info:
            _generate(adapter, ROWS[:3])
        assert info.value.partial_outputs == {}  # the first sample failed; nothing after it started


def test_partial_outputs_are_kept_when_retries_run_out(api_server, local_greedy):
    with FaultProxy(api_server.port) as proxy:
        proxy.faults.extend([None, None, (503, {})])  # the third request meets a 503
        adapter = _api(proxy.base_url, concurrency=1, max_retries=0)
        with pytest.raises(RequestFailed, match=f"sample {ROWS[2]['id']!r}: HTTP 503 .*\\(2 of 4 in this batch finished") as info:
            _generate(adapter, ROWS[:4])
        assert info.value.partial_outputs == {0: local_greedy[0], 1: local_greedy[1]}


def test_runner_keeps_the_finished_part_of_a_failing_batch(api_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    with FaultProxy(api_server.port) as proxy:
        suite = _api_suite(tmp_path, proxy.base_url, local=False, concurrency=1, max_retries=0)
        proxy.faults.extend([None] * 6 + [(503, {})])  # batch 1 (4) and 2 of batch 2 answer, then a 503
        with pytest.raises(RequestFailed, match=f"sample {ROWS[6]['id']!r}: HTTP 503"):
            run(suite, tmp_path / "failed", progress=False)
        resumed = run(suite, tmp_path / "resumed", progress=False)
    models = resumed.report["models"]["api"]
    assert (models["use"], models["generated"], models["reused"]) == ("openai", 2, 6)
    posts = [entry for entry in proxy.log if entry[1] == "POST"]
    assert len(posts) == 7 + 2  # the rerun asked only for the two missing samples


def test_suite_end_to_end_through_a_keyed_proxy(api_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_TEST_API_KEY", SENTINEL)
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    with FaultProxy(api_server.port, token=SENTINEL) as proxy:
        suite = _api_suite(tmp_path, proxy.base_url, api_key_env="MMEVAL_TEST_API_KEY")
        result = run(suite, tmp_path / "run", progress=False)
    got = values(result.report)
    assert got[("api", "bleu_vs_local")] == pytest.approx(100)
    for (model, key), value in got.items():  # every metric equal to the in-process run
        if model == "local":
            assert got[("api", key)] == value, key
    figures = {r["key"]: r for r in result.report["results"] if r["model"] == "api" and r.get("kind") == "efficiency"}
    assert figures["request_latency_p50_s"]["value"] > 0 and figures["request_latency_p50_s"]["n"] == 8
    assert figures["request_latency_p95_s"]["value"] >= figures["request_latency_p50_s"]["value"]
    assert figures["output_tokens_per_s"]["value"] > 0 and figures["request_retries"]["value"] == 0
    _no_secret_anywhere(tmp_path / "run", tmp_path / "cache", texts=(json.dumps(result.report),))


def test_wrong_key_and_unreachable_host_exit_2_with_one_line(api_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMEVAL_TEST_API_KEY", SENTINEL)
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(tmp_path / "cache"))
    with FaultProxy(api_server.port, token="the-right-key") as proxy:
        suite = _api_suite(tmp_path, proxy.base_url, rows=2, local=False, api_key_env="MMEVAL_TEST_API_KEY")
        code = cli_main(["run", str(suite), "--out", str(tmp_path / "wrong-key"), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert "HTTP 401" in err and "refused the API key in $MMEVAL_TEST_API_KEY" in err
    _no_secret_anywhere(tmp_path, texts=(out, err))

    closed = free_port()  # nothing listens there
    suite = _api_suite(tmp_path, f"http://127.0.0.1:{closed}/v1", rows=2, local=False, api_key_env="MMEVAL_TEST_API_KEY",
                       max_retries=1)
    code = cli_main(["run", str(suite), "--out", str(tmp_path / "unreachable"), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1
    assert f"GET /v1/models: cannot connect to 127.0.0.1:{closed} (ConnectError: " in err
    assert "retries exhausted after 2 attempts" in err
    _no_secret_anywhere(tmp_path, texts=(out, err))

    monkeypatch.delenv("MMEVAL_TEST_API_KEY")
    code = cli_main(["run", str(suite), "--out", str(tmp_path / "no-key"), "--quiet"])
    assert code == 2 and "MMEVAL_TEST_API_KEY is not set" in capsys.readouterr().err


@pytest.fixture(scope="module")
def templated_server(tmp_path_factory):
    """A second, short-lived server (this module's tests kill it): a copy of the reference
    checkpoint whose tokenizer carries a chat template, so `api: chat` has one to apply."""
    folder = tmp_path_factory.mktemp("templated") / "final"
    shutil.copytree(REPO / REFERENCE_TEXT, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = ("{% for m in messages %}{% if m['role'] == 'system' %}[{{ m['content'] }}] "
                               "{% else %}{{ m['content'] }}{% endif %}{% endfor %}")
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    server = LocalServer(str(folder), free_port(), folder.parent / "server.log").start()
    yield server
    server.stop()


def test_chat_api_applies_the_template_and_system_prompt(templated_server):
    chat = OpenAIAPI(templated_server.base_url, templated_server.path, api="chat", system="Shop", max_tokens=12)
    plain = OpenAIAPI(templated_server.base_url, templated_server.path, api="completions", max_tokens=12)
    rows = ROWS[:2]
    templated = [{"id": r["id"], "input": f"[Shop] {r['input']}"} for r in rows]
    assert _generate(chat, rows) == _generate(plain, templated)
    assert _generate(chat, rows) != _generate(plain, rows)


@pytest.mark.slow
def test_killed_server_fails_with_one_line_and_a_rerun_resumes(api_server, templated_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", "off")
    (tmp_path / "clean").mkdir()
    clean = run(_api_suite(tmp_path / "clean", api_server.base_url, local=False), tmp_path / "clean-run", progress=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("MMEVAL_CACHE_DIR", str(cache))
    suite = _api_suite(tmp_path, templated_server.base_url, local=False, model=templated_server.path, concurrency=2,
                       max_retries=1)

    def kill_after_first_batch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(cache.rglob("batch-*.sealed")):
            time.sleep(0.02)
        templated_server.kill()

    killer = threading.Thread(target=kill_after_first_batch)
    killer.start()
    code = cli_main(["run", str(suite), "--out", str(tmp_path / "killed"), "--quiet"])
    killer.join()
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("error: model 'api': sample '") and "retries exhausted" in err
    assert f"cannot connect to 127.0.0.1:{templated_server.port} (" in err
    assert "in this batch finished; a rerun resumes after the finished outputs)" in err
    assert not (tmp_path / "killed").exists()

    templated_server.start()  # the same folder on the same port: the same fingerprint
    resumed = run(suite, tmp_path / "resumed", progress=False)
    counts = resumed.report["models"]["api"]
    assert counts["reused"] >= 4 and counts["generated"] + counts["reused"] == 8, counts
    assert values(resumed.report) == values(clean.report)
