"""Verify files against a `SHA256SUMS` manifest (the `sha256sum -c` format) before loading.

A file listed with another digest is an IntegrityError (exit 4); a listed file that is
missing, or a folder no manifest line covers, is an InputError naming the file.
`checkpoint_digest` is what model adapters fingerprint a local folder by.
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
    relative = folder.resolve().relative_to(root.resolve()).as_posix()
    prefix = "" if relative == "." else relative + "/"
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


MANIFEST = "SHA256SUMS"


def write_sha256sums(folder: Path) -> Path:
    """Write `folder/SHA256SUMS` over every file below `folder` (what `checkpoint_digest`
    then verifies), in the `sha256sum` format."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = folder / MANIFEST
    manifest.write_text("".join(f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}\n" for p in files))
    return manifest


def folder_digest(folder: Path) -> str:
    """sha256 over every file below `folder` (relative names and bytes), in name order."""
    combined = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        combined.update(f"{path.relative_to(folder).as_posix()}\x00{sha256_file(path)}\n".encode())
    return combined.hexdigest()


def checkpoint_digest(folder: Path) -> str:
    """The digest a local model folder is fingerprinted by. A folder that carries a
    `SHA256SUMS` manifest is verified against it first (a mismatch is exit 4); any other
    folder is hashed as it is."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return folder_digest(folder)
    listed = set(read_manifest(manifest))
    unlisted = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p != manifest
                      and p.relative_to(folder).as_posix() not in listed)
    if unlisted:  # a file the manifest does not vouch for could be loaded in place of one it does
        raise IntegrityError(f"{folder / unlisted[0]}: not listed in {manifest}")
    return verify_folder(manifest, folder)
