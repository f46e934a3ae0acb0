"""Typed errors. Each carries the CLI exit code from the design contract.

Messages say what the user must fix (file, key, value) and never contain secrets or PII.
"""

from __future__ import annotations


class MmevalError(Exception):
    """Base class: a failure the user can act on, reported as one `error:` line."""

    exit_code = 2


class SpecError(MmevalError):
    """A suite, policy or argument is malformed (exit 2)."""


class InputError(MmevalError):
    """Input data is missing, unreadable or inconsistent (exit 2)."""


class MissingExtra(MmevalError):
    """An optional dependency is not installed (exit 2); the message gives the pip command."""

    def __init__(self, package: str, extra: str):
        super().__init__(f"{package} is not installed; run: pip install 'mmeval[{extra}]'")


class GateBlocked(MmevalError):
    """A gate blocked the run (exit 1)."""

    exit_code = 1


class AccessDenied(MmevalError):
    """The principal lacks the permission (exit 3)."""

    exit_code = 3


class IntegrityError(MmevalError):
    """A signature, checksum, ciphertext or log entry does not verify (exit 4)."""

    exit_code = 4
