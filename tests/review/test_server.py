"""The review server over real HTTP: one-time token, session, blinding, validation,
access control on every request, and a sealed run decrypted only in memory."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mmeval.review.material import read_material
from mmeval.runner import run
from mmeval.security.policy import os_user
from tests.review.fixtures import Client, Server, answer_for, rated_run, review_suite


@pytest.fixture
def served(tmp_path):
    run_dir = rated_run(tmp_path, n=15, samples=15, raters=1)
    server = Server(run_dir)
    yield run_dir, server
    server.stop()


def _session(server: Server) -> Client:
    client = Client(server.base)
    status, _ = client.get(server.url.removeprefix(server.base))
    assert status == 200  # the 303 to / was followed with the cookie set
    return client


def test_the_token_is_needed_once_and_then_the_session(served):
    run_dir, server = served
    assert Client(server.base).get("/start?token=wrong")[0] == 403
    client = _session(server)
    assert Client(server.base).get(server.url.removeprefix(server.base))[0] == 403  # spent
    assert Client(server.base).get("/api/next")[0] == 403  # no cookie
    assert client.get("/api/next", headers={"Host": "evil.example:80"})[0] == 403  # DNS rebinding
    status, page = client.get("/")
    assert status == 200 and b"mmeval review" in page
    assert client.get("/api/next")[0] == 200


def test_the_page_names_no_model_and_shows_text_redacted(served):
    run_dir, server = served
    client = _session(server)
    status, sample = client.get("/api/next")
    assert status == 200 and not sample["done"]
    shown = json.dumps(sample)
    assert "candidate" not in shown and "reference" not in shown
    assert sample["progress"] == {"rated_by_you": 0, "left_for_you": 15, "samples": 15, "complete": 0, "raters_per_sample": 1}
    material = read_material(run_dir, None, "p01")  # the candidate wrote an e-mail address for p01
    assert "<EMAIL_ADDRESS>" in material["outputs"]["candidate"]["text"]
    assert not any(b"jane.doe" in p.read_bytes() for p in run_dir.rglob("*") if p.is_file())


def test_answers_are_checked_before_they_are_saved(served):
    run_dir, server = served
    client = _session(server)
    _, sample = client.get("/api/next")
    good = answer_for(sample)
    assert client.post("/api/answer", {**good, "pick": "both"})[0] == 400
    assert client.post("/api/answer", {**good, "scores": {"left": {"fluency": 3}, "right": good["scores"]["right"]}})[0] == 400
    assert client.post("/api/answer", {**good, "scores": {**good["scores"], "left": {"fluency": 6, "fits_product": 1}}})[0] == 400
    assert client.post("/api/answer", {**good, "sample_id": "p99"})[0] == 409
    assert client.post("/api/answer", good, headers={"Origin": "http://evil.example"})[0] == 403
    assert not (run_dir / "reviews.jsonl").exists() or (run_dir / "reviews.jsonl").read_bytes() == b""
    assert client.post("/api/answer", good) == (200, {"saved": 0})
    assert client.post("/api/answer", good)[0] == 409  # answered: no longer on show
    _, after = client.get("/api/next")
    assert after["sample_id"] != sample["sample_id"] and after["progress"]["rated_by_you"] == 1


def _policy(path, permissions):
    path.write_text(f"roles:\n  rater: [{', '.join(permissions)}]\nprincipals:\n  {os_user()}: [rater]\n")
    return path


def _denials(log):
    return [e for e in map(json.loads, log.read_text().splitlines()) if e.get("decision") == "deny" and e.get("action") == "review"]


def test_a_principal_without_review_is_refused_and_audited(tmp_path):
    run_dir = rated_run(tmp_path)
    log = tmp_path / "audit.log"
    env = {"MMEVAL_AUDIT_LOG": str(log)}
    policy = _policy(tmp_path / "policy.yaml", ["run", "read-report"])
    proc = subprocess.run([sys.executable, "-m", "mmeval", "review", "serve", str(run_dir), "--policy", str(policy)],
                          capture_output=True, text=True, env={**__import__("os").environ, **env}, timeout=120)
    assert proc.returncode == 3 and proc.stderr.startswith("error:") and "review" in proc.stderr
    assert proc.stdout == "" and len(_denials(log)) == 1


def test_a_revoked_grant_gets_403_and_an_audit_entry(tmp_path):
    run_dir = rated_run(tmp_path)
    log = tmp_path / "audit.log"
    policy = _policy(tmp_path / "policy.yaml", ["review", "run", "read-report"])
    server = Server(run_dir, "--policy", str(policy), env={"MMEVAL_AUDIT_LOG": str(log)})
    try:
        client = _session(server)
        _, sample = client.get("/api/next")
        _policy(policy, ["run", "read-report"])  # the release manager takes the grant away mid-session
        status, body = client.post("/api/answer", answer_for(sample))
        assert status == 403 and "may not review" in body["error"]
        assert client.get("/api/next")[0] == 403
    finally:
        server.stop()
    assert len(_denials(log)) == 2
    assert not (run_dir / "reviews.jsonl").exists() or (run_dir / "reviews.jsonl").read_bytes() == b""


def test_a_sealed_run_is_decrypted_only_in_memory(tmp_path, isolated_keyring):
    suite = review_suite(tmp_path, n=6, samples=6, raters=1)
    run_dir = run(suite, tmp_path / "run", progress=False, extras={"keyring": isolated_keyring}).run_dir
    assert not (run_dir / "review").exists()
    secret = b"See our blue vase"
    assert not any(secret in p.read_bytes() for p in run_dir.rglob("*") if p.is_file())
    server = Server(run_dir)
    try:
        client = _session(server)
        for _ in range(6):
            _, sample = client.get("/api/next")
            assert "See our blue vase" in sample["left"]["text"] + sample["right"]["text"]
            assert client.post("/api/answer", answer_for(sample))[0] == 200
        assert client.get("/api/next")[1]["done"] is True
    finally:
        server.stop()
    assert not any(secret in p.read_bytes() for p in run_dir.rglob("*") if p.is_file())
    proc = subprocess.run([sys.executable, "-m", "mmeval", "review", "summarize", str(run_dir)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "pass" and report["review"]["summary"]["correlations"]  # records read with the ring


def test_material_changed_after_signing_is_never_shown(served):
    run_dir, server = served
    client = _session(server)
    for path in (run_dir / "review").iterdir():
        value = json.loads(path.read_text())
        value["outputs"]["reference"]["text"] = "Buy now at scam.example"
        path.write_text(json.dumps(value))
    status, body = client.get("/api/next")
    assert status == 500 and "changed since the run was signed" in body["error"]
    assert "scam" not in json.dumps(body)


def test_raters_share_the_work_and_nobody_rates_a_sample_twice(tmp_path):
    """Three raters (the OS user acting as each, by the policy's impersonation rule), two
    ratings per sample: the third rater is offered only what the first two left."""
    run_dir = rated_run(tmp_path, n=6, samples=6, raters=2)
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"roles:\n  rater: [review, run, read-report]\nprincipals:\n  ann: [rater]\n  bob: [rater]\n  cy: [rater]\n"
                      f"impersonation:\n  {os_user()}: [ann, bob, cy]\n")
    seen: dict[str, list[str]] = {}
    for rater, count in (("ann", 4), ("bob", 6), ("cy", 6)):
        server = Server(run_dir, "--policy", str(policy), "--principal", rater)
        try:
            client = _session(server)
            for _ in range(count):
                _, sample = client.get("/api/next")
                if sample["done"]:
                    break
                assert sample["rater"] == rater
                assert client.post("/api/answer", answer_for(sample))[0] == 200
                seen.setdefault(rater, []).append(sample["sample_id"])
            _, last = client.get("/api/next")
        finally:
            server.stop()
        if rater == "cy":
            assert last["done"] and last["progress"]["complete"] == 6
    assert len(seen["ann"]) == 4 and len(seen["bob"]) == 6 and len(seen["cy"]) == 2
    assert set(seen["cy"]) == set(json.loads((run_dir / "report.json").read_text())["review"]["samples"]) - set(seen["ann"])
    for ids in seen.values():
        assert len(ids) == len(set(ids))
    raters = [e["rater"] for e in map(json.loads, (run_dir / "reviews.jsonl").read_text().splitlines())]
    assert raters == ["ann"] * 4 + ["bob"] * 6 + ["cy"] * 2
