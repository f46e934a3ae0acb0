"""The quick start's main job works on a base install, without the optional extras.

CI installs every extra, so a base install is simulated by making the optional packages
unimportable in a subprocess (the bug this guards against: report previews reached for
the privacy extra and the smoke run died with "spacy is not installed").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO

BLOCKED = ("presidio_analyzer", "presidio_anonymizer", "spacy", "phonenumbers", "skimage", "pytorch_fid",
           "pesq", "pystoi", "transformers", "tokenizers", "playwright")

RUN = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError(f"No module named {{name!r}} (blocked: base install)")
sys.meta_path.insert(0, Block())
from mmeval.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_smoke_suite_runs_without_extras(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", RUN, "run", str(REPO / "suites" / "smoke.yaml"), "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["status"] == "pass"
    assert (tmp_path / "run" / "report.html").is_file()
