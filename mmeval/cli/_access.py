"""Shared `--principal/--policy/--keyring` options and the authorize-then-audit step."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_access_arguments(parser: argparse.ArgumentParser, keyring: bool = True) -> None:
    parser.add_argument("--principal", help="who is acting (default: $MMEVAL_PRINCIPAL or the OS user)")
    parser.add_argument("--policy", type=Path, help="access policy YAML (default: $MMEVAL_POLICY; none = local mode)")
    if keyring:
        parser.add_argument("--keyring", type=Path, help="key ring file (default: $MMEVAL_KEYRING or ~/.config/mmeval/keyring.json)")


def authorize_args(args: argparse.Namespace, action: str, resource: str) -> str:
    """Allow or raise AccessDenied (exit 3); either way one audit event. Returns the principal."""
    from ..security.policy import authorize, load_policy

    return authorize(action, resource, principal=args.principal, policy=load_policy(args.policy))
