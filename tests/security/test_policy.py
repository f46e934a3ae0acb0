"""Policy: the issue's YAML, globs, strict validation, local mode, audited decisions.
Site and project policies, impersonation and suite pins: test_policy_sources.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mmeval.errors import AccessDenied, SpecError
from mmeval.security.auditlog import AuditLog
from mmeval.security.policy import authorize, load_policy, os_user, parse_policy, resolve_principal

ISSUE_POLICY = """
roles:
  releaser: [run, read-report, sign-off]
  auditor: [read-report, read-raw, audit]
  runner: [{action: run, resources: ["ecommerce-*"]}]
principals:
  alice: [releaser]
  bob: [auditor]
  carol: [runner]
"""


@pytest.fixture
def policy(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(ISSUE_POLICY + f"impersonation:\n  {os_user()}: [alice, bob, carol]\n")
    return load_policy(path)


@pytest.mark.parametrize(
    "who, action, resource, allowed",
    [
        ("alice", "run", "anything", True),
        ("alice", "read-raw", "anything", False),
        ("bob", "read-raw", "ecommerce-copy", True),
        ("bob", "run", "ecommerce-copy", False),
        ("carol", "run", "ecommerce-copy", True),
        ("carol", "run", "ecommerce", False),
        ("carol", "run", "images-ecommerce-x", False),
        ("carol", "read-report", "ecommerce-copy", False),
        ("mallory", "run", "ecommerce-copy", False),
    ],
)
def test_allow_and_deny_with_globs(policy, who, action, resource, allowed):
    assert policy.allows(who, action, resource) is allowed


def test_decisions_are_audited_and_denial_raises(tmp_path, policy):
    log = AuditLog(tmp_path / "a.log")
    assert authorize("run", "ecommerce-x", principal="carol", policy=policy, log=log) == "carol"
    with pytest.raises(AccessDenied, match="carol"):
        authorize("manage-keys", "k", principal="carol", policy=policy, log=log)
    entries = list(log.entries())
    assert [(e["principal"], e["os_user"], e["action"], e["decision"]) for e in entries] == [
        ("carol", os_user(), "run", "allow"), ("carol", os_user(), "manage-keys", "deny")
    ]
    assert entries[0]["policy"].startswith("explicit ") and entries[0]["policy"].endswith("policy.yaml")
    assert log.verify() == 2


def test_without_a_policy_the_local_user_may_do_everything(tmp_path):
    log = AuditLog(tmp_path / "a.log")
    none = load_policy(None)
    assert not none.in_force
    for action in ("run", "read-report", "read-raw", "sign-off", "audit", "manage-keys"):
        authorize(action, "x", policy=none, log=log)
    assert {(e["policy"], e["principal"]) for e in log.entries()} == {("none", os_user())}


def test_without_a_policy_nobody_can_claim_another_name(tmp_path):
    log = AuditLog(tmp_path / "a.log")
    with pytest.raises(AccessDenied, match="no access policy is configured"):
        authorize("run", "x", principal="someone", policy=load_policy(None), log=log)
    (entry,) = log.entries()
    assert (entry["principal"], entry["os_user"], entry["decision"]) == ("someone", os_user(), "deny")


def test_principal_and_policy_from_environment(tmp_path, monkeypatch):
    (tmp_path / "p.yaml").write_text(ISSUE_POLICY + f"impersonation: {{{os_user()}: [bob]}}\n")
    monkeypatch.setenv("MMEVAL_POLICY", str(tmp_path / "p.yaml"))
    monkeypatch.setenv("MMEVAL_PRINCIPAL", "bob")
    policy = load_policy()
    assert resolve_principal(policy=policy) == "bob"
    assert load_policy().allows(resolve_principal(policy=policy), "audit", "x")
    with pytest.raises(AccessDenied, match="impersonation"):  # bob, yes; alice, no
        resolve_principal("alice", policy)


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"roles": {"r": ["red-raw"]}, "principals": {}}, r"roles\.r\[0\].*did you mean 'read-raw'"),
        ({"roles": {"r": [{"action": "run", "resource": ["x"]}]}, "principals": {}}, "unknown key 'resource'.*'resources'"),
        ({"roles": {"r": [{"action": "run", "resources": []}]}, "principals": {}}, "resources must be a non-empty"),
        ({"roles": {"r": ["run"]}, "principals": {"a": ["rnner"]}}, "principals.a.*unknown role 'rnner'"),
        ({"roles": {"r": ["run"]}, "principal": {}}, "unknown key 'principal'.*did you mean 'principals'"),
        ({"roles": {"r": "run"}, "principals": {}}, "roles.r must be a list"),
        (["roles"], "top level"),
        ({"roles": {"r": [{"action": "run", "suite_sha256": "abc"}]}, "principals": {}}, "suite_sha256 must be 64 hex"),
        ({"roles": {}, "principals": {}, "impersonation": ["ci-bot"]}, "'impersonation' must map OS user"),
        ({"roles": {}, "principals": {}, "impersonation": {"ci-bot": [3]}}, "impersonation.ci-bot must be a list of principal"),
        ({"roles": {}, "principals": {}, "impersonaton": {}}, "did you mean 'impersonation'"),
    ],
)
def test_strict_validation_names_the_key(doc, message):
    with pytest.raises(SpecError, match=message):
        parse_policy(doc, Path("p.yaml"))


def test_issue_yaml_parses_exactly(policy):
    (only,) = policy.layers
    assert set(only.roles) == {"releaser", "auditor", "runner"}
    assert only.roles["runner"][0].resources == ("ecommerce-*",)
    assert yaml.safe_load(ISSUE_POLICY)["principals"]["alice"] == ["releaser"]
