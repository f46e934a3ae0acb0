"""Policy: the issue's YAML, globs, strict validation, local mode, audited decisions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mmeval.errors import AccessDenied, SpecError
from mmeval.security.auditlog import AuditLog
from mmeval.security.policy import authorize, load_policy, parse_policy, resolve_principal

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
    path.write_text(ISSUE_POLICY)
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
    assert [(e["principal"], e["action"], e["decision"]) for e in entries] == [
        ("carol", "run", "allow"), ("carol", "manage-keys", "deny")
    ]
    assert entries[0]["policy"].endswith("policy.yaml")
    assert log.verify() == 2


def test_without_a_policy_the_local_user_may_do_everything(tmp_path):
    log = AuditLog(tmp_path / "a.log")
    none = load_policy(None)
    for action in ("run", "read-report", "read-raw", "sign-off", "audit", "manage-keys"):
        authorize(action, "x", principal="someone", policy=none, log=log)
    assert {e["policy"] for e in log.entries()} == {"none"}


def test_principal_and_policy_from_environment(tmp_path, monkeypatch):
    (tmp_path / "p.yaml").write_text(ISSUE_POLICY)
    monkeypatch.setenv("MMEVAL_POLICY", str(tmp_path / "p.yaml"))
    monkeypatch.setenv("MMEVAL_PRINCIPAL", "bob")
    assert resolve_principal() == "bob" and resolve_principal("alice") == "alice"
    assert load_policy().allows(resolve_principal(), "audit", "x")


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
    ],
)
def test_strict_validation_names_the_key(doc, message):
    with pytest.raises(SpecError, match=message):
        parse_policy(doc, Path("p.yaml"))


def test_issue_yaml_parses_exactly(policy):
    assert set(policy.roles) == {"releaser", "auditor", "runner"}
    assert policy.roles["runner"][0].resources == ("ecommerce-*",)
    assert yaml.safe_load(ISSUE_POLICY)["principals"]["alice"] == ["releaser"]
