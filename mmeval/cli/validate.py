"""`mmeval validate SUITE [--set KEY=VALUE ...] [--limit N] [--json]`: check a suite without running a model.

Loads the suite as `mmeval run` would (schema, every `use:` name and its args, metric
weights, gate settings, `--set` overrides), reads the whole dataset once (ids, every
media file it names), and checks that replayed outputs exist for every sample. Nothing
is generated and nothing is written. Needs the `run` permission: validating builds the
same plugins (and imports the same `use: python` modules) a run does. Exit 0 when all is
well, else 2 (3 when access is denied) with the first problem in one line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._access import add_access_arguments, authorize_suite
from .run import add_run_controls


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", type=Path, help="suite YAML file")
    parser.add_argument("--json", action="store_true", help="print what was checked as one JSON object")
    add_run_controls(parser)
    add_access_arguments(parser, keyring=False)


def main(args: argparse.Namespace) -> int:
    from ..runinfo import check_device
    from ..runner.plan import load_plan

    authorize_suite(args, "run", args.suite)
    if args.device:
        check_device(args.device, "--device")
    plan = load_plan(args.suite, None, args.overrides, args.limit)
    media = sum(1 for sample in plan.dataset for value in (sample.input, sample.target) if isinstance(value, Path))
    suite = plan.suite
    checked = {"ok": True, "suite": suite.name, "path": str(args.suite), "sha256": suite.sha256, "samples": len(plan.dataset),
               "media_files": media, "models": list(suite.models), "metrics": [bm.label for bm in suite.metrics],
               "gates": [getattr(g, "name", type(g).__name__) for g in suite.gates], "thresholds": len(suite.spec.thresholds)}
    if args.json:
        print(json.dumps(checked, indent=2))
    else:
        print(f"ok: suite {suite.name}: {len(plan.dataset)} samples ({media} media files), {len(suite.models)} models, "
              f"{len(suite.metrics)} metrics, {len(suite.gates)} gates, {len(suite.spec.thresholds)} thresholds; nothing was run")
    return 0
