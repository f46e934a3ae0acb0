"""Strict YAML reading for every file a run reads (suites, policies).

`yaml.safe_load` silently keeps the last of two equal keys, so a second `thresholds:`
drops the first list; and it expands aliases without limit, so a few hundred bytes of
"billion laughs" hang the loader. This loader refuses both, naming the lines.

    data = load_yaml(text, "suites/smoke.yaml")
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import SpecError

MAX_YAML_BYTES = 4 * 1024 * 1024  # suites and policies are small; a bigger file is a mistake or an attack
MAX_ALIASES = 100  # anchors are handy for sharing an args block; more than this is no suite
MAX_EXPANDED_NODES = 1_000_000  # what the document holds once aliases are expanded (billion laughs: 1e9)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys and counts alias uses."""

    def __init__(self, stream: str, where: str):
        super().__init__(stream)
        self.where = where
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise SpecError(f"{self.where}:{mark.line + 1}: more than {MAX_ALIASES} YAML aliases; refusing to expand them")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base constructor words that error
                continue
            line = key_node.start_mark.line + 1
            if first is not None:
                raise SpecError(f"{self.where}:{line}: duplicate key {key!r} (first at line {first})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML text strictly; every problem is a one-line SpecError naming `where` and the line."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise SpecError(f"{where}: larger than {MAX_YAML_BYTES // 2**20} MiB; not a suite or policy file")
    loader = _StrictLoader(text, where)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise SpecError(f"{where}: YAML aliases expand to more than {MAX_EXPANDED_NODES:,} nodes; refusing to expand them")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise SpecError(f"{where}{line}: malformed YAML ({problem})") from None
    except RecursionError:
        raise SpecError(f"{where}: malformed YAML (nested too deeply)") from None
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes in the document with every alias expanded; an alias reuses its anchor's node,
    so memoising by identity keeps this linear in the file."""
    known = memo.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = size
    return min(size, MAX_EXPANDED_NODES + 1)
