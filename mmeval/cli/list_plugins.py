"""`mmeval list [KIND] [--json]`: every registered metric, model adapter and gate, one line each.

Plugins from other packages (entry points) are tagged with their distribution; one whose
name a built-in already holds is listed below it as shadowed (the built-in is what runs).
`--json` prints one JSON list of {kind, name, source, doc, active}.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

KINDS = {"metrics": "metric", "models": "model", "gates": "gate"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", choices=list(KINDS), help="only this kind")
    parser.add_argument("--json", action="store_true", help="one JSON list of {kind, name, source, doc, active}")


def _doc(registry: Any, entry: Any) -> str:
    from ..errors import MmevalError
    from ..registry import target_summary

    try:
        return registry.summary(entry.name) if entry.active else target_summary(entry.target)
    except MmevalError as exc:  # a plugin whose extra is missing still gets listed
        return f"(unavailable: {exc})"


def _tag(entry: Any, shadowing: set[str]) -> str:
    """What the text listing says about where a plugin comes from, when it is not plainly built in."""
    if not entry.active:
        return f"[shadowed: {entry.source} {entry.target}; the {entry.shadowed_by} one runs] "
    tag = f"[{entry.source}] " if entry.source != "builtin" else ""
    return tag + ("[wins over an entry point below] " if entry.name in shadowing else "")


def main(args: argparse.Namespace) -> int:
    from ..registry import GATES, METRICS, MODELS

    rows = []
    for title, registry in (("metrics", METRICS), ("models", MODELS), ("gates", GATES)):
        if args.kind and args.kind != title:
            continue
        entries = registry.entries()
        shadowing = {e.name for e in entries if not e.active}
        rows.append((title, [(e, _doc(registry, e), _tag(e, shadowing)) for e in entries]))
    if args.json:
        print(json.dumps([{"kind": KINDS[title], "name": e.name, "source": e.source, "doc": doc, "active": e.active}
                          for title, listed in rows for e, doc, _ in listed], indent=2))
        return 0
    for title, listed in rows:
        print(f"{title}:")
        width = max((len(e.name) for e, _, _ in listed), default=0)
        for entry, doc, tag in listed:
            print(f"  {entry.name.ljust(width)}  {tag}{doc}")
        if not listed:
            print("  (none)")
    return 0
