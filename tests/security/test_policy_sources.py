"""Which policies are in force (site, project, --policy), impersonation, suite pins.

The site path is a module constant (no environment variable may move it), so these
tests point the constant at a temporary file in-process; the CLI tests in
tests/adversarial/test_access.py use a project policy instead.
"""

from __future__ import annotations

import os

import pytest

from mmeval.errors import AccessDenied, IntegrityError
from mmeval.security import policy as policy_module
from mmeval.security.auditlog import AuditLog
from mmeval.security.policy import authorize, find_project_policy, load_policy, os_user

ME = os_user()
SHA_A, SHA_B = "a" * 64, "b" * 64


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def no_site_policy(tmp_path, monkeypatch):
    """Whatever this machine has in /etc, these tests decide what the site policy is."""
    monkeypatch.setattr(policy_module, "SITE_POLICY", tmp_path / "no-site-policy.yaml")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A site policy that lets the OS user run `ecommerce-*` only."""
    path = write(tmp_path / "etc" / "policy.yaml",
                 f"roles:\n  runner: [{{action: run, resources: ['ecommerce-*']}}]\nprincipals:\n  {ME}: [runner]\n")
    monkeypatch.setattr(policy_module, "SITE_POLICY", path)
    monkeypatch.chdir(tmp_path)
    return path


def test_site_policy_applies_without_any_flag_or_variable(site, tmp_path):
    log = AuditLog(tmp_path / "a.log")
    policies = load_policy()
    assert policies.in_force and [p.source for p in policies.layers] == ["site"]
    assert authorize("run", "ecommerce-x", policy=policies, log=log) == ME
    with pytest.raises(AccessDenied, match=r"may not run 'smoke' \(policy site "):
        authorize("run", "smoke", policy=policies, log=log)
    assert [e["decision"] for e in log.entries()] == ["allow", "deny"]


def test_an_extra_policy_only_adds_restrictions(site, tmp_path):
    permissive = write(tmp_path / "mine.yaml", f"roles:\n  all: [run, read-raw]\nprincipals:\n  {ME}: [all]\n")
    policies = load_policy(permissive)
    assert [p.source for p in policies.layers] == ["site", "explicit"]
    assert not policies.allows(ME, "run", "smoke")  # the site still says no
    stricter = write(tmp_path / "strict.yaml", f"roles:\n  none: []\nprincipals:\n  {ME}: [none]\n")
    assert not load_policy(stricter).allows(ME, "run", "ecommerce-x")  # and the extra one can say no too


def test_project_policy_is_found_above_the_resource_and_the_working_directory(tmp_path, monkeypatch):
    project = write(tmp_path / "proj" / ".mmeval" / "policy.yaml", "roles: {}\nprincipals: {}\n")
    run_dir = tmp_path / "proj" / "reports" / "smoke" / "run1"
    run_dir.mkdir(parents=True)
    assert find_project_policy(run_dir) == project
    assert find_project_policy(run_dir / "report.json") == project  # a file: from its folder
    assert find_project_policy(tmp_path / "elsewhere") is None
    monkeypatch.chdir(tmp_path)  # working outside the project: the run's project still applies
    (layer,) = load_policy(anchors=[run_dir]).layers
    assert (layer.source, layer.path) == ("project", project)
    monkeypatch.chdir(run_dir)  # and working inside it, whatever the command acts on
    assert load_policy().in_force
    # naming the project policy again with --policy is the same policy, not a second one
    assert len(load_policy(project, anchors=[run_dir]).layers) == 1


def test_nothing_anywhere_is_local_mode(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not load_policy(anchors=[tmp_path]).in_force


def test_a_grant_can_pin_the_suite_file(tmp_path):
    path = write(tmp_path / "p.yaml", f"roles:\n  r: [{{action: run, resources: [shop], suite_sha256: {SHA_A}}}]\n"
                                      f"principals:\n  {ME}: [r]\n")
    policies = load_policy(path)
    assert policies.allows(ME, "run", "shop", SHA_A)
    assert not policies.allows(ME, "run", "shop", SHA_B)  # the same name, another file
    assert not policies.allows(ME, "run", "shop")  # nothing signed to compare with


def test_impersonation_needs_every_policy_in_force(site, tmp_path):
    log = AuditLog(tmp_path / "a.log")
    with pytest.raises(AccessDenied, match=f"OS user '{ME}' may not act as 'svc-release'.*policy site"):
        authorize("run", "ecommerce-x", principal="svc-release", policy=load_policy(), log=log)
    site.write_text(site.read_text() + "  svc-release: [runner]\nimpersonation:\n  " + ME + ": [svc-release]\n")
    assert authorize("run", "ecommerce-x", principal="svc-release", policy=load_policy(), log=log) == "svc-release"
    extra = write(tmp_path / "extra.yaml", "roles:\n  runner: [run]\nprincipals:\n  svc-release: [runner]\n")
    with pytest.raises(AccessDenied, match="policy explicit"):  # the extra policy grants no impersonation
        authorize("run", "ecommerce-x", principal="svc-release", policy=load_policy(extra), log=log)
    denied, allowed, denied_again = log.entries()
    assert (denied["principal"], denied["os_user"], denied["decision"]) == ("svc-release", ME, "deny")
    assert (allowed["principal"], allowed["os_user"], allowed["decision"]) == ("svc-release", ME, "allow")
    assert denied_again["decision"] == "deny"


def test_the_os_user_comes_from_the_uid_not_the_environment(monkeypatch):
    import pwd

    for name in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "svc-release")
    assert os_user() == pwd.getpwuid(os.geteuid()).pw_name != "svc-release"


def test_a_policy_anyone_may_rewrite_is_refused(tmp_path):
    path = write(tmp_path / "p.yaml", "roles: {}\nprincipals: {}\n")
    path.chmod(0o666)
    with pytest.raises(IntegrityError, match="chmod o-w"):
        load_policy(path)


def test_audit_rules_come_from_the_first_policy_that_sets_them(site, tmp_path):
    site.write_text(site.read_text() + "audit:\n  require_manifest: true\n")
    extra = write(tmp_path / "x.yaml", "roles: {}\nprincipals: {}\naudit:\n  require_manifest: false\n")
    assert load_policy(extra).audit == {"require_manifest": True}


def test_a_site_policy_that_cannot_be_read_fails_closed(tmp_path, monkeypatch):
    from mmeval.errors import SpecError

    dangling = tmp_path / "etc" / "policy.yaml"
    dangling.parent.mkdir()
    dangling.symlink_to(tmp_path / "gone.yaml")
    monkeypatch.setattr(policy_module, "SITE_POLICY", dangling)
    with pytest.raises(SpecError, match="not found"):
        load_policy()
