"""The torchvision compatibility step: needed here, harmless on a matching install."""

from __future__ import annotations

import subprocess
import sys


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_torchvision_dependents_import_after_compat():
    proc = run_python(
        "from mmeval._compat.torchvision import ensure_torchvision; ensure_torchvision();"
        "import torchvision.transforms, torchmetrics.image, pytorch_fid.inception; print('ok')"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_compat_only_patches_when_the_import_fails():
    proc = run_python(
        "import importlib.util, sys\n"
        "try:\n"
        "    import torchvision; plain_ok = True\n"
        "except RuntimeError:\n"
        "    plain_ok = False\n"
        "for m in [m for m in sys.modules if m.startswith('torchvision')]: del sys.modules[m]\n"
        "from mmeval._compat import torchvision as compat\n"
        "compat.ensure_torchvision()\n"
        "print(plain_ok, compat.patched)\n"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    plain_ok, patched = proc.stdout.split()
    # Exactly one of the two holds: the plain import worked, or the step patched it.
    assert (plain_ok == "True") != (patched == "True")
