"""Access policy: who may do what to which suite, and which policies are in force.

    roles:
      releaser: [run, read-report, sign-off]
      runner: [{action: run, resources: ["ecommerce-*"], suite_sha256: "9f2c..."}]
    principals:
      alice: [releaser]
      svc-release: [releaser]
    impersonation:               # OS user -> principals it may act as (CI service accounts)
      ci-bot: [svc-release]
    audit:                       # optional: what `mmeval audit` counts as a violation
      require_watermark: true

Policies in force, all of which must allow every decision (a deny in any one wins):
1. the site policy, `SITE_POLICY` (/etc/mmeval/policy.yaml), when it exists;
2. project policies: for the working directory and for each path the command acts on
   (the suite file, the run folder, the key ring, ...), the nearest `.mmeval/policy.yaml`
   in that path or above it;
3. `--policy FILE`, else `$MMEVAL_POLICY`. It can only add restrictions to 1 and 2.
No policy anywhere is local single-user mode: everything is allowed, and still audited
with `policy: none`. A site path is a constant on purpose: an environment variable to
move it would be one more way to skip it.

The principal is the OS user (from the uid, not $USER). `--principal` / $MMEVAL_PRINCIPAL
naming anyone else is honoured only when every policy in force lists that name under
`impersonation:` for this OS user; otherwise AccessDenied (exit 3). Resources are suite
names matched by glob; a grant with `suite_sha256` also needs that exact suite file.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AccessDenied, IntegrityError, SpecError

PERMISSIONS = ("run", "read-report", "read-raw", "review", "sign-off", "audit", "manage-keys")
POLICY_ENV = "MMEVAL_POLICY"
PRINCIPAL_ENV = "MMEVAL_PRINCIPAL"
SITE_POLICY = Path("/etc/mmeval/policy.yaml")
PROJECT_POLICY = Path(".mmeval") / "policy.yaml"
_TOP_KEYS = ("roles", "principals", "impersonation", "audit")
_GRANT_KEYS = ("action", "resources", "suite_sha256")


@dataclass(frozen=True)
class Grant:
    action: str
    resources: tuple[str, ...] = ("*",)
    suite_sha256: tuple[str, ...] = ()  # empty: any suite file with a matching name

    def allows(self, action: str, resource: str, suite_sha256: str | None = None) -> bool:
        if self.action != action or not any(fnmatch.fnmatchcase(resource, g) for g in self.resources):
            return False
        return not self.suite_sha256 or suite_sha256 in self.suite_sha256


@dataclass
class Policy:
    """One policy file; `source` is site, project or explicit."""

    path: Path | None
    roles: dict[str, list[Grant]]
    principals: dict[str, list[str]]
    audit: dict[str, Any] = field(default_factory=dict)  # content rules for `mmeval audit`
    impersonation: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "explicit"

    def allows(self, principal: str, action: str, resource: str, suite_sha256: str | None = None) -> bool:
        _check_permission(action)
        if self.path is None:  # local single-user mode
            return True
        for role in self.principals.get(principal, []):
            if any(g.allows(action, resource, suite_sha256) for g in self.roles[role]):
                return True
        return False

    def may_act_as(self, os_user: str, principal: str) -> bool:
        return principal == os_user or principal in self.impersonation.get(os_user, ())

    def describe(self) -> str:
        return f"{self.source} {self.path}"


@dataclass
class PolicySet:
    """The policies in force (see the module doc); none at all is local mode."""

    layers: list[Policy]

    @property
    def in_force(self) -> bool:
        return bool(self.layers)

    @property
    def audit(self) -> dict[str, Any]:
        """`audit:` rules of the first policy (site, project, explicit) that sets them."""
        return next((dict(p.audit) for p in self.layers if p.audit), {})

    def describe(self) -> str:
        return "; ".join(p.describe() for p in self.layers) or "none"

    def denying(self, principal: str, action: str, resource: str, suite_sha256: str | None = None) -> Policy | None:
        """The first policy that denies, or None when all allow."""
        _check_permission(action)
        return next((p for p in self.layers if not p.allows(principal, action, resource, suite_sha256)), None)

    def allows(self, principal: str, action: str, resource: str, suite_sha256: str | None = None) -> bool:
        return self.denying(principal, action, resource, suite_sha256) is None

    def may_act_as(self, os_user: str, principal: str) -> bool:
        if not self.layers:  # no policy names anyone: only yourself
            return principal == os_user
        return all(p.may_act_as(os_user, principal) for p in self.layers)


def os_user() -> str:
    """The OS account running this process, from the effective uid ($USER is not asked)."""
    import pwd

    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no passwd entry (bare containers)
        return f"uid-{uid}"


def requested_principal(explicit: str | None = None) -> str | None:
    return explicit or os.environ.get(PRINCIPAL_ENV) or None


def resolve_principal(explicit: str | None = None, policy: PolicySet | None = None) -> str:
    """The acting principal: the OS user, or the one asked for when the policy lets this
    OS user act as it; AccessDenied otherwise (unaudited: `authorize` audits it)."""
    who, refused = _principal(explicit, policy if policy is not None else PolicySet([]))
    if refused:
        raise AccessDenied(refused)
    return who


def _principal(explicit: str | None, policy: PolicySet) -> tuple[str, str | None]:
    """(principal, why it was refused or None)."""
    me, asked = os_user(), requested_principal(explicit)
    if asked is None or asked == me:
        return me, None
    if policy.may_act_as(me, asked):
        return asked, None
    if not policy.in_force:
        why = (f"OS user {me!r} may not act as {asked!r} (--principal/${PRINCIPAL_ENV}): no access policy is "
               f"configured, so the principal is the OS user; a policy's 'impersonation:' section can allow it")
    else:
        where = next(p for p in policy.layers if not p.may_act_as(me, asked)).describe()
        why = f"OS user {me!r} may not act as {asked!r} (--principal/${PRINCIPAL_ENV}): not in 'impersonation.{me}' of policy {where}"
    return asked, why


def find_project_policy(start: Path) -> Path | None:
    """The nearest `.mmeval/policy.yaml` in `start` (a file's folder) or above it."""
    here = Path(os.path.abspath(start))
    if not here.is_dir():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_POLICY
        if os.path.lexists(candidate):
            return candidate
    return None


def load_policy(explicit: str | Path | None = None, anchors: Iterable[str | Path] = ()) -> PolicySet:
    """Every policy in force for a command on `anchors` (see the module doc)."""
    found: list[tuple[Path, str]] = []
    if os.path.lexists(SITE_POLICY):  # present but unreadable or dangling fails closed, in read_policy
        found.append((SITE_POLICY, "site"))
    for anchor in (Path.cwd(), *map(Path, anchors)):
        project = find_project_policy(anchor)
        if project is not None:
            found.append((project, "project"))
    name = explicit or os.environ.get(POLICY_ENV)
    if name:
        found.append((Path(name), "explicit"))
    layers: list[Policy] = []
    seen: set[Path] = set()
    for path, source in found:
        key = Path(os.path.realpath(path))
        if key not in seen:  # `--policy` naming the project policy again is the same policy
            seen.add(key)
            layers.append(read_policy(path, source))
    return PolicySet(layers)


def read_policy(path: Path, source: str = "explicit") -> Policy:
    from ..yamlio import load_yaml

    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"policy {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"policy {path} is not readable: {type(exc).__name__}") from None
    if os.name == "posix" and info.st_mode & stat.S_IWOTH:  # anyone could rewrite who may do what
        raise IntegrityError(f"policy {path} is writable by every user (mode {info.st_mode & 0o777:04o}); run: chmod o-w {path}")
    policy = parse_policy(load_yaml(text, f"policy {path}"), path)
    policy.source = source
    return policy


def parse_policy(data: Any, path: Path) -> Policy:
    if not isinstance(data, dict):
        raise SpecError(f"policy {path}: top level must be a mapping with 'roles' and 'principals'")
    extra = set(data) - set(_TOP_KEYS)
    if extra:
        key = sorted(extra)[0]
        raise SpecError(f"policy {path}: unknown key {key!r}{_did_you_mean(key, _TOP_KEYS)}")
    audit = data.get("audit") or {}
    if not isinstance(audit, dict):
        raise SpecError(f"policy {path}: 'audit' must be a mapping of content rules")
    roles_raw, principals_raw = data.get("roles"), data.get("principals")
    if not isinstance(roles_raw, dict):
        raise SpecError(f"policy {path}: 'roles' must map role names to permission lists")
    if not isinstance(principals_raw, dict):
        raise SpecError(f"policy {path}: 'principals' must map names to role lists")
    roles = {str(role): _grants(perms, f"roles.{role}", path) for role, perms in roles_raw.items()}
    principals = {str(name): _names(value, f"principals.{name}", path, "role") for name, value in principals_raw.items()}
    for name, role_list in principals.items():
        for r in role_list:
            if r not in roles:
                raise SpecError(f"policy {path}: principals.{name} names unknown role {r!r}{_did_you_mean(r, roles)}")
    imp_raw = data.get("impersonation") or {}
    if not isinstance(imp_raw, dict):
        raise SpecError(f"policy {path}: 'impersonation' must map OS user names to the principals they may act as")
    impersonation = {str(user): tuple(_names(v, f"impersonation.{user}", path, "principal")) for user, v in imp_raw.items()}
    return Policy(path, roles, principals, dict(audit), impersonation)


def _names(value: Any, where: str, path: Path, what: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SpecError(f"policy {path}: {where} must be a list of {what} names")
    return list(value)


def _grants(perms: Any, where: str, path: Path) -> list[Grant]:
    if not isinstance(perms, list):
        raise SpecError(f"policy {path}: {where} must be a list of permissions")
    return [_grant(perm, f"{where}[{i}]", path) for i, perm in enumerate(perms)]


def _grant(perm: Any, at: str, path: Path) -> Grant:
    pins: Any = []
    if isinstance(perm, str):
        action, resources = perm, ["*"]
    elif isinstance(perm, dict):
        unknown = set(perm) - set(_GRANT_KEYS)
        if unknown:
            key = sorted(unknown)[0]
            raise SpecError(f"policy {path}: {at} has unknown key {key!r}{_did_you_mean(key, _GRANT_KEYS)}")
        action, resources, pins = perm.get("action"), perm.get("resources", ["*"]), perm.get("suite_sha256", [])
        if not isinstance(action, str):
            raise SpecError(f"policy {path}: {at}.action must be a permission name")
        if isinstance(resources, str):
            resources = [resources]
        if not isinstance(resources, list) or not resources or not all(isinstance(g, str) for g in resources):
            raise SpecError(f"policy {path}: {at}.resources must be a non-empty list of globs")
        pins = [pins] if isinstance(pins, str) else pins
        if not isinstance(pins, list) or not all(isinstance(s, str) and _is_sha256(s) for s in pins):
            raise SpecError(f"policy {path}: {at}.suite_sha256 must be 64 hex digits (or a list of them)")
    else:
        raise SpecError(f"policy {path}: {at} must be a permission name or {{action, resources}}")
    if action not in PERMISSIONS:
        raise SpecError(f"policy {path}: {at}: unknown permission {action!r}{_did_you_mean(action, PERMISSIONS)}")
    return Grant(action, tuple(resources), tuple(s.lower() for s in pins))


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def _check_permission(action: str) -> None:
    if action not in PERMISSIONS:
        raise SpecError(f"unknown permission {action!r}{_did_you_mean(action, PERMISSIONS)}")


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(map(str, choices))})"


@dataclass(frozen=True)
class Decision:
    principal: str
    os_user: str
    allowed: bool
    message: str = ""  # why it was denied


def decide(action: str, resource: str, *, principal: str | None = None, policy: PolicySet | None = None,
           suite_sha256: str | None = None) -> Decision:
    """The decision, not yet audited: impersonation first, then the permission."""
    policy = policy if policy is not None else load_policy()
    me = os_user()
    who, refused = _principal(principal, policy)
    if refused:
        return Decision(who, me, False, refused)
    against = policy.denying(who, action, resource, suite_sha256)
    if against is None:
        return Decision(who, me, True)
    pinned = f" (suite sha256 {suite_sha256[:12]}...)" if suite_sha256 else ""
    return Decision(who, me, False, f"principal {who!r} may not {action} {resource!r}{pinned} (policy {against.describe()})")


def authorize(
    action: str,
    resource: str,
    *,
    principal: str | None = None,
    policy: PolicySet | Policy | None = None,
    log: Any = None,
    suite_sha256: str | None = None,
    **context: Any,
) -> str:
    """Allow or raise AccessDenied; either way one audit event with both identities.
    Returns the acting principal. `context` (e.g. run_dir) goes into the event."""
    from .auditlog import AuditLog

    if isinstance(policy, Policy):
        policy = PolicySet([policy] if policy.path is not None else [])
    policy = policy if policy is not None else load_policy()
    decision = decide(action, resource, principal=principal, policy=policy, suite_sha256=suite_sha256)
    fields: dict[str, Any] = {"os_user": decision.os_user, "action": action, "resource": resource}
    if suite_sha256:
        fields["suite_sha256"] = suite_sha256
    (log or AuditLog.default()).append(
        "access", principal=decision.principal, **fields, **context,
        decision="allow" if decision.allowed else "deny", policy=policy.describe(),
    )
    if not decision.allowed:
        raise AccessDenied(decision.message)
    return decision.principal
