"""Verify files against a `SHA256SUMS` manifest (the `sha256sum -c` format) before loading.

A file listed with another digest is an IntegrityError (exit 4); a listed file that is
missing, or a folder no manifest line covers, is an InputError naming the file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import InputError, IntegrityError
from ..fsutil import sha256_file


def read_manifest(manifest: Path) -> dict[str, str]:
    """relative path -> sha256 hex."""
    try:
        text = manifest.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{manifest}: manifest not found") from None
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise IntegrityError(f"{manifest}:{number}: malformed manifest line")
        entries[name.strip()] = digest.lower()
    return entries


def verify_folder(manifest: Path, folder: Path) -> str:
    """Check every manifest entry under `folder`; returns one digest over them (for fingerprints)."""
    root = manifest.parent
    prefix = folder.resolve().relative_to(root.resolve()).as_posix() + "/"
    entries = {name: digest for name, digest in read_manifest(manifest).items() if name.startswith(prefix)}
    if not entries:
        raise InputError(f"{manifest}: no entries for {folder}")
    combined = hashlib.sha256()
    for name in sorted(entries):
        path = root / name
        if not path.is_file():
            raise InputError(f"{path}: listed in {manifest.name} but missing")
        actual = sha256_file(path)
        if actual != entries[name]:
            raise IntegrityError(f"{path}: sha256 {actual[:12]}… does not match {manifest.name} ({entries[name][:12]}…)")
        combined.update(f"{name}\x00{actual}\n".encode())
    return combined.hexdigest()
