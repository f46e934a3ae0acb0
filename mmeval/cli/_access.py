"""Shared `--principal/--policy/--keyring` options and the authorize-then-audit steps.

Every command decides through one of these, so the policies in force (site, project,
`--policy`; see security/policy.py) and the principal rule are the same everywhere:

- `authorize_args(args, action, resource, anchors)`: a named resource (key ring, log, ...);
- `authorize_suite(args, action, suite)`: `run`; the resource is the suite file's `name:`
  and its sha256 (what a grant's `suite_sha256` pins); anchors: the suite, `--out`, the ring;
- `authorize_run(args, action, run_dir)`: any command on a run folder. With a policy in
  force the run is verified first (IntegrityError, exit 4, before any decision), and the
  resource is the suite name and sha256 in its signed attestation, never the folder name
  or report.json. In local mode (no policy) nothing is decided, so nothing is verified
  here; the audit event then names the folder.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path
from typing import Any

from ..errors import IntegrityError

def add_access_arguments(parser: argparse.ArgumentParser, keyring: bool = True, run_key: bool = False) -> None:
    parser.add_argument("--principal", help="act as this principal (default: the OS user); needs the policy's "
                        "'impersonation:' rule for you")
    parser.add_argument("--policy", type=Path, help="extra access policy YAML (default: $MMEVAL_POLICY); it adds to "
                        "the site and project policies, never replaces them")
    if keyring:
        parser.add_argument("--keyring", type=Path, help="key ring file (default: $MMEVAL_KEYRING or ~/.config/mmeval/keyring.json)")
    if run_key:
        parser.add_argument("--key", type=Path, help="trusted Ed25519 public key (PEM) the run must be signed with, "
                            "checked when a policy is in force (default: your own signing key)")


def policy_for(args: argparse.Namespace, *anchors: Path | str) -> Any:
    """The policies in force for a command acting on `anchors` (and the working directory)."""
    from ..security.policy import load_policy

    return load_policy(getattr(args, "policy", None), anchors)


def authorize_args(args: argparse.Namespace, action: str, resource: str, anchors: tuple[Path | str, ...] = ()) -> str:
    """Allow or raise AccessDenied (exit 3); either way one audit event. Returns the principal."""
    from ..security.policy import authorize

    return authorize(action, resource, principal=getattr(args, "principal", None), policy=policy_for(args, *anchors))


def suite_identity(path: Path) -> tuple[str, str]:
    """(name, sha256 of the file's bytes), read without building models or running code."""
    from ..yamlio import load_yaml

    try:
        data = path.read_bytes()
        name = load_yaml(data.decode("utf-8"), str(path))["name"]
        if isinstance(name, str) and name:
            return name, hashlib.sha256(data).hexdigest()
    except (OSError, UnicodeDecodeError, TypeError, KeyError):  # load_suite says exactly what is wrong
        pass
    from ..suite import load_suite

    suite = load_suite(path)
    return suite.name, suite.sha256


def authorize_suite(args: argparse.Namespace, action: str, suite: Path, log: Any = None) -> str:
    """`action` on a suite file. With `--set` overrides what runs is not that file: the
    decision's sha256 is then of the file and its overrides together, so a grant pinned
    to the file's sha256 does not cover it (an unpinned grant still does)."""
    from ..errors import AccessDenied
    from ..security.policy import authorize

    name, sha256 = suite_identity(suite)
    overrides = list(getattr(args, "overrides", None) or [])
    context: dict[str, Any] = {"suite_path": str(suite)}
    if overrides:
        context.update(suite_file_sha256=sha256, overrides=overrides)
        sha256 = hashlib.sha256(b"\0".join([bytes.fromhex(sha256), *(o.encode() for o in overrides)])).hexdigest()
    out = [args.out] if getattr(args, "out", None) else []  # a run written into a project is governed by it
    try:
        return authorize(action, name, principal=getattr(args, "principal", None), policy=policy_for(args, suite, *out, *_ring(args)),
                         log=log, suite_sha256=sha256, **context)
    except AccessDenied as exc:
        if overrides:
            raise AccessDenied(f"{exc}; --set changes the suite, so a grant pinned to the file's sha256 does not cover it") from None
        raise


def _ring(args: argparse.Namespace) -> list[Path]:
    """The key ring a command uses, as an anchor: a policy next to a ring governs its data."""
    if not hasattr(args, "keyring"):
        return []
    from ..security.keyring import resolve_path

    return [resolve_path(args.keyring)]


def authorize_run(args: argparse.Namespace, action: str, run_dir: Path, statement: dict[str, Any] | None = None) -> str:
    """`authorize_run_dir` with the command's --principal/--policy/--key."""
    return authorize_run_dir(action, run_dir, principal=getattr(args, "principal", None), policy=getattr(args, "policy", None),
                             key=getattr(args, "key", None), statement=statement, anchors=_ring(args))


def authorize_run_dir(action: str, run_dir: Path, *, principal: str | None = None, policy: Path | None = None,
                      key: Path | None = None, statement: dict[str, Any] | None = None, anchors: list[Path] | None = None) -> str:
    """Decide `action` on a run folder (see the module doc); `statement` when the caller
    already verified the run. Returns the principal."""
    from ..security.policy import authorize, load_policy

    policies = load_policy(policy, [run_dir, *(anchors or [])])
    if statement is None and policies.in_force:
        from ..report.signing import verify_attestation

        statement = verify_attestation(Path(run_dir), key)  # signature and files; sign-offs are `verify`'s
    resource, sha256 = signed_suite(statement, Path(run_dir)) if statement is not None else (str(run_dir), None)
    return authorize(action, resource, principal=principal, policy=policies, suite_sha256=sha256,
                     run_dir=os.path.abspath(run_dir))


def signed_suite(statement: dict[str, Any], run_dir: Path) -> tuple[str, str | None]:
    """The suite name and sha256 a verified attestation names."""
    from ..report.signing import ATTESTATION

    predicate = statement.get("predicate")
    suite = predicate.get("suite") if isinstance(predicate, dict) else None
    name = suite.get("name") if isinstance(suite, dict) else None
    if not isinstance(name, str) or not name:
        raise IntegrityError(f"{run_dir / ATTESTATION}: names no suite; access cannot be bound to it")
    sha256 = suite.get("sha256")
    return name, sha256 if isinstance(sha256, str) and sha256 else None


def run_folder_of(path: Path) -> Path | None:
    """The signed run folder `path` lies in, if any."""
    from ..report.signing import ATTESTATION

    here = Path(path).resolve()
    for folder in (here if here.is_dir() else here.parent, *here.parents):
        if (folder / ATTESTATION).is_file():
            return folder
    return None


def authorize_file(args: argparse.Namespace, action: str, path: Path) -> str:
    """`action` on a file; a file inside a signed run folder also needs `read-report` on that run."""
    principal = authorize_args(args, action, str(path), anchors=(path,))
    run_dir = run_folder_of(path)
    if run_dir is not None:
        authorize_run(args, "read-report", run_dir)
    return principal
