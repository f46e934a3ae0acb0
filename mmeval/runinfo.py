"""What produced a run: versions, revision, device, threads, times. Recorded in every report."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .threads import threads_in_effect


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def git_revision(path: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


DEVICE_ENV = "MMEVAL_DEVICE"


def chosen_device() -> str | None:
    """The device the user chose (`--device`, `$MMEVAL_DEVICE`), or None."""
    return os.environ.get(DEVICE_ENV, "").strip() or None


def best_device() -> str:
    """The chosen device, else cuda when torch sees one, else cpu."""
    import torch

    return chosen_device() or ("cuda" if torch.cuda.is_available() else "cpu")


def check_device(name: str, where: str) -> str:
    """`name` if this machine has it (cpu, cuda, cuda:N); else InputError, before any model loads."""
    import torch

    from .errors import InputError

    text = name.strip().lower()
    if text == "cpu":
        return text
    if text != "cuda" and not (text.startswith("cuda:") and text[5:].isdigit()):
        raise InputError(f"{where} {name!r}: expected cpu, cuda or cuda:N")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(text[5:]) if ":" in text else 0
    if index >= count:
        raise InputError(f"{where} {name!r}: this machine has {count} CUDA device(s) (torch {torch.__version__})")
    return text


def environment(seed: int, suite_dir: Path) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "mmeval_version": __version__,
        "git_revision": git_revision(suite_dir),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "device": best_device(),
        "threads": threads_in_effect(),  # count, where it came from, torch's and each BLAS pool's
        "seed": seed,
    }
    if info["device"].startswith("cuda"):
        info["device_name"] = torch.cuda.get_device_name(torch.device(info["device"]))
    return info
