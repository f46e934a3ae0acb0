"""Access policy: roles -> permissions (optionally limited to suite/run names by glob),
principals -> roles.

    roles:
      releaser: [run, read-report, sign-off]
      runner: [{action: run, resources: ["ecommerce-*"]}]
    principals:
      alice: [releaser]
    audit:                       # optional: what `mmeval audit` counts as a violation
      require_watermark: true
      require_manifest: false
      pii: true

Policy file: `--policy`, else `$MMEVAL_POLICY`. Principal: `--principal`, else
`$MMEVAL_PRINCIPAL`, else the OS user. With a policy, anything not granted is denied
(AccessDenied, exit 3). Without one, mmeval is in local single-user mode: the OS user may
do everything, and each decision is still audited with `policy: none`.
"""

from __future__ import annotations

import difflib
import fnmatch
import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AccessDenied, SpecError

PERMISSIONS = ("run", "read-report", "read-raw", "sign-off", "audit", "manage-keys")
POLICY_ENV = "MMEVAL_POLICY"
PRINCIPAL_ENV = "MMEVAL_PRINCIPAL"


@dataclass(frozen=True)
class Grant:
    action: str
    resources: tuple[str, ...] = ("*",)

    def allows(self, action: str, resource: str) -> bool:
        return self.action == action and any(fnmatch.fnmatchcase(resource, g) for g in self.resources)


@dataclass
class Policy:
    path: Path | None
    roles: dict[str, list[Grant]]
    principals: dict[str, list[str]]
    audit: dict[str, Any] = field(default_factory=dict)  # content rules for `mmeval audit`

    def allows(self, principal: str, action: str, resource: str) -> bool:
        if action not in PERMISSIONS:
            raise SpecError(f"unknown permission {action!r}{_did_you_mean(action, PERMISSIONS)}")
        if self.path is None:  # local single-user mode
            return True
        for role in self.principals.get(principal, []):
            if any(g.allows(action, resource) for g in self.roles[role]):
                return True
        return False


def resolve_principal(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    if os.environ.get(PRINCIPAL_ENV):
        return os.environ[PRINCIPAL_ENV]
    try:
        return getpass.getuser()
    except Exception:  # no user name in a bare container
        return f"uid-{os.getuid()}"


def load_policy(explicit: str | Path | None = None) -> Policy:
    """The policy named by `--policy` or $MMEVAL_POLICY, or the no-policy (local) one."""
    name = explicit or os.environ.get(POLICY_ENV)
    if not name:
        return Policy(None, {}, {})
    path = Path(name)
    from ..yamlio import load_yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"policy {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"policy {path} is not readable: {type(exc).__name__}") from None
    data = load_yaml(text, f"policy {path}")
    return parse_policy(data, path)


def parse_policy(data: Any, path: Path) -> Policy:
    if not isinstance(data, dict):
        raise SpecError(f"policy {path}: top level must be a mapping with 'roles' and 'principals'")
    extra = set(data) - {"roles", "principals", "audit"}
    if extra:
        key = sorted(extra)[0]
        raise SpecError(f"policy {path}: unknown key {key!r}{_did_you_mean(key, ('roles', 'principals', 'audit'))}")
    audit = data.get("audit") or {}
    if not isinstance(audit, dict):
        raise SpecError(f"policy {path}: 'audit' must be a mapping of content rules")
    roles_raw, principals_raw = data.get("roles"), data.get("principals")
    if not isinstance(roles_raw, dict):
        raise SpecError(f"policy {path}: 'roles' must map role names to permission lists")
    if not isinstance(principals_raw, dict):
        raise SpecError(f"policy {path}: 'principals' must map names to role lists")
    roles = {str(role): _grants(perms, f"roles.{role}", path) for role, perms in roles_raw.items()}
    principals: dict[str, list[str]] = {}
    for name, role_list in principals_raw.items():
        where = f"principals.{name}"
        if isinstance(role_list, str):
            role_list = [role_list]
        if not isinstance(role_list, list) or not all(isinstance(r, str) for r in role_list):
            raise SpecError(f"policy {path}: {where} must be a list of role names")
        for r in role_list:
            if r not in roles:
                raise SpecError(f"policy {path}: {where} names unknown role {r!r}{_did_you_mean(r, roles)}")
        principals[str(name)] = list(role_list)
    return Policy(path, roles, principals, dict(audit))


def _grants(perms: Any, where: str, path: Path) -> list[Grant]:
    if not isinstance(perms, list):
        raise SpecError(f"policy {path}: {where} must be a list of permissions")
    grants = []
    for i, perm in enumerate(perms):
        at = f"{where}[{i}]"
        if isinstance(perm, str):
            action, resources = perm, ["*"]
        elif isinstance(perm, dict):
            unknown = set(perm) - {"action", "resources"}
            if unknown:
                key = sorted(unknown)[0]
                raise SpecError(f"policy {path}: {at} has unknown key {key!r}{_did_you_mean(key, ('action', 'resources'))}")
            action, resources = perm.get("action"), perm.get("resources", ["*"])
            if not isinstance(action, str):
                raise SpecError(f"policy {path}: {at}.action must be a permission name")
            if isinstance(resources, str):
                resources = [resources]
            if not isinstance(resources, list) or not resources or not all(isinstance(g, str) for g in resources):
                raise SpecError(f"policy {path}: {at}.resources must be a non-empty list of globs")
        else:
            raise SpecError(f"policy {path}: {at} must be a permission name or {{action, resources}}")
        if action not in PERMISSIONS:
            raise SpecError(f"policy {path}: {at}: unknown permission {action!r}{_did_you_mean(action, PERMISSIONS)}")
        grants.append(Grant(action, tuple(resources)))
    return grants


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(map(str, choices))})"


def authorize(
    action: str,
    resource: str,
    *,
    principal: str | None = None,
    policy: Policy | None = None,
    log: Any = None,
) -> str:
    """Allow or raise AccessDenied; either way one audit event. Returns the principal."""
    from .auditlog import AuditLog

    who = resolve_principal(principal)
    policy = policy if policy is not None else load_policy()
    allowed = policy.allows(who, action, resource)
    (log or AuditLog.default()).append(
        "access",
        principal=who,
        action=action,
        resource=resource,
        decision="allow" if allowed else "deny",
        policy=str(policy.path) if policy.path else "none",
    )
    if not allowed:
        where = f"policy {policy.path}"
        raise AccessDenied(f"principal {who!r} may not {action} {resource!r} ({where})")
    return who
