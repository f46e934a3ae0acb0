"""Issue 13, "Access control that holds": principal x command x resource through the CLI,
with a project policy (`.mmeval/policy.yaml`) present, with and without `--policy` and
`$MMEVAL_POLICY`, from inside and outside the project; every denial is in the audit log.

The project grants the OS user `run` on `ecommerce-*` pinned to one suite file and
`read-report` on `ecommerce-*`; it lets the OS user act as `svc-release` (who may also
sign off), and as nobody else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mmeval.security.auditlog import AuditLog
from mmeval.security.policy import os_user

REPO = Path(__file__).resolve().parents[2]
ME = os_user()
READERS = ("verify", "export", "compare", "pii")
RESULT = {"eco": 0, "smoke": 3, "looted": 3, "looted-no-report": 4, "forged": 4}


class World:
    def __init__(self, root: Path):
        self.root, self.project = root, root / "proj"
        self.audit = AuditLog(root / "audit" / "audit.log")
        self.policy = self.project / ".mmeval" / "policy.yaml"
        self.runs: dict[str, Path] = {}

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MMEVAL_")}
        env.update(PYTHONPATH=str(REPO), HOME=str(self.root / "home"), TMPDIR=str(self.root / "tmp"),
                   MMEVAL_HOME=str(self.root / "mmeval-home"), MMEVAL_AUDIT_LOG=str(self.audit.path),
                   MMEVAL_CACHE_DIR="off", **extra)
        return env

    def mmeval(self, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "mmeval", *map(str, args)], capture_output=True, text=True,
                              env=self.env(**env), cwd=cwd or self.project, timeout=300)
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
        return proc

    def entries(self) -> list[dict]:
        return list(self.audit.entries()) if self.audit.path.exists() else []


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    w = World(tmp_path_factory.mktemp("access"))
    for sub in ("home", "tmp"):
        (w.root / sub).mkdir()
    shutil.copytree(REPO / "suites" / "data" / "smoke", w.project / "data" / "smoke")
    smoke = (REPO / "suites" / "smoke.yaml").read_text()
    assert "\nname: smoke\n" in smoke
    (w.project / "smoke.yaml").write_text(smoke)
    (w.project / "eco.yaml").write_text(smoke.replace("\nname: smoke\n", "\nname: ecommerce-reviews\n"))
    # The attack: the same ungranted suite, renamed to match the grant's glob.
    (w.project / "renamed.yaml").write_text(smoke.replace("\nname: smoke\n", "\nname: ecommerce-x\n") + "# mine\n")
    for name, suite in (("eco", "eco.yaml"), ("smoke", "smoke.yaml")):  # made before the policy exists
        out = w.project / "reports" / name
        proc = w.mmeval("run", suite, "--out", out, "--quiet")
        assert proc.returncode == 0, proc.stderr
        w.runs[name] = out
    # A run folder copied to a name matching the grant, with and without its report.json,
    # and one whose unsigned report.json claims a granted suite name.
    w.runs["looted"] = Path(shutil.copytree(w.runs["smoke"], w.project / "ecommerce-looted"))
    w.runs["looted-no-report"] = Path(shutil.copytree(w.runs["smoke"], w.project / "ecommerce-looted-2"))
    (w.runs["looted-no-report"] / "report.json").unlink()
    w.runs["forged"] = Path(shutil.copytree(w.runs["smoke"], w.project / "ecommerce-forged"))
    report = json.loads((w.runs["forged"] / "report.json").read_text())
    report["suite"]["name"] = "ecommerce-forged"
    (w.runs["forged"] / "report.json").write_text(json.dumps(report))
    import hashlib

    eco_sha = hashlib.sha256((w.project / "eco.yaml").read_bytes()).hexdigest()
    w.policy.parent.mkdir(parents=True, exist_ok=True)
    w.policy.write_text(yaml.safe_dump({
        "roles": {
            "runner": [{"action": "run", "resources": ["ecommerce-*"], "suite_sha256": eco_sha}],
            "viewer": [{"action": "read-report", "resources": ["ecommerce-*"]}, "audit"],
            "releaser": [{"action": "sign-off", "resources": ["ecommerce-*"]}],
        },
        "principals": {ME: ["runner", "viewer"], "svc-release": ["viewer", "releaser"], "bob": ["viewer"]},
        "impersonation": {ME: ["svc-release"]},
    }))
    # A policy that grants everything: naming it must not widen the project's.
    (w.root / "permissive.yaml").write_text(yaml.safe_dump({
        "roles": {"all": ["run", "read-report", "read-raw", "sign-off", "audit", "manage-keys"]},
        "principals": {ME: ["all"], "bob": ["all"]}, "impersonation": {ME: ["bob", "svc-release"]},
    }))
    return w


def read_command(command: str, run_dir: Path) -> list[str]:
    if command == "compare":
        return ["compare", str(run_dir), str(run_dir), "--resamples", "10"]
    if command == "pii":  # a file inside a signed run needs read-report on that run
        return ["pii", "scan", str(run_dir / "report.md")]
    return [command, str(run_dir)]


# (extra arguments, extra environment, working directory outside the project?)
VARIANTS = {
    "no flag": ([], {}, False),
    "no flag, outside the project": ([], {}, True),
    "--policy names the project policy": (["--policy", "PROJECT"], {}, False),
    "--policy grants everything": (["--policy", "PERMISSIVE"], {}, True),
    "$MMEVAL_POLICY grants everything": ([], {"MMEVAL_POLICY": "PERMISSIVE"}, True),
}


def run_variant(world: World, argv: list[str], variant: str, **env: str) -> subprocess.CompletedProcess:
    extra, extra_env, outside = VARIANTS[variant]
    files = {"PROJECT": str(world.policy), "PERMISSIVE": str(world.root / "permissive.yaml")}
    extra = [files.get(a, a) for a in extra]
    extra_env = {k: str(world.root / "permissive.yaml") if v == "PERMISSIVE" else v for k, v in extra_env.items()}
    return world.mmeval(*argv, *extra, cwd=world.root if outside else world.project, **extra_env, **env)


def assert_denial_audited(world: World, before: int, action: str, principal: str) -> None:
    new = world.entries()[before:]
    denials = [e for e in new if e["event"] == "access" and e["decision"] == "deny"]
    assert denials, new
    last = denials[-1]
    assert (last["action"], last["principal"], last["os_user"]) == (action, principal, ME), last
    assert "project" in last["policy"] and str(world.policy) in last["policy"]


# One allowed pii scan is enough (each loads the PII detector); every other cell runs.
MATRIX = [(c, r, v) for c in READERS for r in RESULT for v in VARIANTS
          if not (RESULT[r] == 0 and c == "pii" and v != "no flag")]


@pytest.mark.parametrize(("command", "resource", "variant"), MATRIX)
def test_reading_a_run_is_decided_on_its_signed_suite(world, command, resource, variant):
    before = len(world.entries())
    proc = run_variant(world, read_command(command, world.runs[resource]), variant)
    expected = RESULT[resource]
    assert proc.returncode == expected, (proc.returncode, proc.stderr)
    if expected == 3:
        assert proc.stderr.startswith("error: ") and "may not" in proc.stderr
        assert_denial_audited(world, before, "read-report", ME)  # pii: `audit` on the file is granted
        assert "'smoke'" in proc.stderr  # the signed suite's name, whatever the folder is called
        if variant == "no flag":  # another principal the OS user may act as: the same answer
            before = len(world.entries())
            other = run_variant(world, [*read_command(command, world.runs[resource]), "--principal", "svc-release"], variant)
            assert other.returncode == 3 and "principal 'svc-release' may not" in other.stderr, other.stderr
            assert_denial_audited(world, before, "read-report", "svc-release")
    elif expected == 4:  # unverifiable: refused before any access decision
        assert proc.stderr.startswith("error: ")
        assert not [e for e in world.entries()[before:] if e["event"] == "access" and e.get("action") == "read-report"]


@pytest.mark.parametrize("command", ("verify", "export", "compare"))
@pytest.mark.parametrize("how", ("flag", "env"))
def test_impersonation_is_allowed_only_as_the_policy_says(world, command, how):
    argv = read_command(command, world.runs["eco"])
    for principal, expected in (("svc-release", 0), ("bob", 3)):
        before = len(world.entries())
        if how == "flag":
            proc = world.mmeval(*argv, "--principal", principal)
        else:
            proc = world.mmeval(*argv, MMEVAL_PRINCIPAL=principal)
        assert proc.returncode == expected, (principal, proc.stderr)
        new = [e for e in world.entries()[before:] if e["event"] == "access"]
        assert new and {(e["principal"], e["os_user"]) for e in new} == {(principal, ME)}
        if expected == 3:
            assert f"may not act as '{principal}'" in proc.stderr
            assert_denial_audited(world, before, "read-report", principal)


def test_impersonation_granted_by_an_extra_policy_does_not_count(world):
    before = len(world.entries())
    proc = run_variant(world, ["verify", str(world.runs["eco"]), "--principal", "bob"], "$MMEVAL_POLICY grants everything")
    assert proc.returncode == 3 and "may not act as 'bob'" in proc.stderr
    assert_denial_audited(world, before, "read-report", "bob")


@pytest.mark.parametrize("variant", ["no flag", "no flag, outside the project", "$MMEVAL_POLICY grants everything"])
@pytest.mark.parametrize("suite", ["smoke.yaml", "renamed.yaml"])
def test_run_is_decided_on_the_suite_file_not_its_name(world, suite, variant):
    before = len(world.entries())
    out = world.root / "denied-run"
    proc = run_variant(world, ["run", str(world.project / suite), "--out", str(out), "--quiet"], variant)
    assert proc.returncode == 3, proc.stderr
    assert not out.exists()
    assert_denial_audited(world, before, "run", ME)
    denial = world.entries()[-1]
    assert len(denial["suite_sha256"]) == 64


def test_a_run_written_into_the_project_is_governed_by_it(world):
    outside = world.root / "outside"
    shutil.copytree(world.project / "data", outside / "data")
    shutil.copy(world.project / "smoke.yaml", outside / "smoke.yaml")
    before = len(world.entries())
    out = world.project / "reports" / "smuggled"
    proc = world.mmeval("run", outside / "smoke.yaml", "--out", out, "--quiet", cwd=outside)
    assert proc.returncode == 3 and not out.exists(), proc.stderr
    assert_denial_audited(world, before, "run", ME)


def test_the_pinned_suite_runs_and_bob_may_not(world):
    before = len(world.entries())
    proc = world.mmeval("run", "eco.yaml", "--out", world.root / "eco-again", "--quiet", "--principal", "bob")
    assert proc.returncode == 3 and not (world.root / "eco-again").exists()
    assert_denial_audited(world, before, "run", "bob")
    proc = world.mmeval("run", world.project / "eco.yaml", "--out", world.root / "eco-again", "--quiet", cwd=world.root)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("resource", ["eco", "smoke", "looted", "looted-no-report"])
def test_store_needs_read_raw_on_the_signed_suite(world, resource):
    before = len(world.entries())
    proc = world.mmeval("store", "ls", world.runs[resource], cwd=world.root)
    expected = 4 if resource == "looted-no-report" else 3  # nobody holds read-raw
    assert proc.returncode == expected, proc.stderr
    if expected == 3:
        assert_denial_audited(world, before, "read-raw", ME)


def test_signoff_is_decided_on_the_signed_suite(world):
    eco = Path(shutil.copytree(world.runs["eco"], world.root / "eco-copy"))  # outside the project, for its policy
    looted = Path(shutil.copytree(world.runs["smoke"], world.root / "ecommerce-signme"))
    for run_dir, principal, expected in ((eco, None, 3), (looted, "svc-release", 3), (eco, "svc-release", 0)):
        before = len(world.entries())
        extra = ["--principal", principal] if principal else []
        proc = world.mmeval("signoff", run_dir, *extra, "--policy", world.policy, cwd=world.root)
        assert proc.returncode == expected, (run_dir, principal, proc.stderr)
        if expected == 3:
            new = [e for e in world.entries()[before:] if e["event"] == "access"]
            assert new[-1]["decision"] == "deny" and new[-1]["action"] == "sign-off"
            assert new[-1]["principal"] == (principal or ME)
    assert (eco / "signoff.dsse.json").exists() and not (looted / "signoff.dsse.json").exists()


def test_every_denial_is_in_an_intact_audit_log(world):
    entries = world.entries()
    denials = [e for e in entries if e["event"] == "access" and e["decision"] == "deny"]
    assert denials  # the tests above checked each one as it happened
    assert all(e["os_user"] == ME and e["policy"] != "none" for e in denials)
    assert world.audit.verify() == len(entries)
    shown = world.mmeval("log", "show", cwd=world.root)  # the CLI reads the same entries
    assert shown.returncode == 0, shown.stderr
    assert sum(1 for line in shown.stdout.splitlines() if '"decision": "deny"' in line) == len(denials)
