"""`mmeval list`: every registered metric, model adapter and gate, one line each."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", choices=["metrics", "models", "gates"], help="only this kind")


def main(args: argparse.Namespace) -> int:
    from ..errors import MmevalError
    from ..registry import GATES, METRICS, MODELS

    for title, registry in (("metrics", METRICS), ("models", MODELS), ("gates", GATES)):
        if args.kind and args.kind != title:
            continue
        print(f"{title}:")
        names = registry.names()
        width = max((len(n) for n in names), default=0)
        for name in names:
            try:
                line = registry.summary(name)
            except MmevalError as exc:  # a plugin whose extra is missing still gets listed
                line = f"(unavailable: {exc})"
            print(f"  {name.ljust(width)}  {line}")
        if not names:
            print("  (none)")
    return 0
