"""What produced a run: versions, revision, device, threads, times. Recorded in every report."""

from __future__ import annotations

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


def best_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


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
    if info["device"] == "cuda":
        info["device_name"] = torch.cuda.get_device_name(0)
    return info
