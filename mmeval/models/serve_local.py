"""Serve a local checkpoint folder over an OpenAI-compatible API with `transformers serve`.

    python -m mmeval.models.serve_local reference_models/text/final --port 8000

`transformers serve` imports torchvision, which fails next to the CPU torch wheel
("operator torchvision::nms does not exist"); this launcher applies the project's
torchvision shim first, then runs transformers' own CLI. It never touches the network:
HF_HUB_OFFLINE=1 and the hub's update check are set off, and the folder is pinned with
`force_model`, so the server loads it at start and answers only for it. The model id the
server reports (and that requests must name as `model`) is PATH exactly as given, so
start it from the folder the suite's `model:` is relative to (the repository root for
the shipped suites). Extra arguments after `--` go to `transformers serve` unchanged
(e.g. `-- --continuous-batching`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mmeval.models.serve_local", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="local checkpoint folder (config.json, weights, tokenizer)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--device", default="cpu", help="'cpu', 'cuda:0' or 'auto' (default: cpu)")
    parser.add_argument("--log-level", default="warning")
    args, rest = parser.parse_known_args(argv)
    rest = [a for a in rest if a != "--"]
    if not (Path(args.path) / "config.json").is_file():
        sys.stderr.write(f"error: {args.path}: not a transformers checkpoint directory (no config.json)\n")
        raise SystemExit(2)
    os.environ["HF_HUB_OFFLINE"] = "1"  # a local folder; never fall back to the hub
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_UPDATE_CHECK"] = "1"  # the CLI would ask PyPI for a newer version
    from .._compat.torchvision import ensure_torchvision

    ensure_torchvision()
    try:
        from transformers.cli.transformers import main as transformers_main
    except ImportError:
        sys.stderr.write("error: transformers serve is not installed; run: pip install 'transformers[serving]'\n")
        raise SystemExit(2) from None
    sys.argv = ["transformers", "serve", args.path, "--host", args.host, "--port", str(args.port),
                "--device", args.device, "--log-level", args.log_level, *rest]
    transformers_main()


if __name__ == "__main__":
    main()
