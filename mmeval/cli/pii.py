"""`mmeval pii scan FILE [--json]` and `mmeval pii redact FILE --out OUT [--operator ...]`.

FILE is plain text (each line is a record, id = line number) or JSONL whose lines carry an
`output` or `text` field (id = the line's `id`, else its line number). Findings print as
`{id, entity, start, end, score}`, never the values. `redact` writes the same format
with the values rewritten; the pseudonym key comes from --key-file or
$MMEVAL_PSEUDONYM_KEY (hex) and is never printed. Both need the `audit` permission on FILE,
and `read-report` on the run when FILE lies inside a signed run folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._access import add_access_arguments, authorize_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="pii_command", metavar="ACTION", required=True, parser_class=type(parser))
    scan = sub.add_parser("scan", help="print PII findings (types and offsets, never values)")
    scan.add_argument("file", type=Path, help="text file, or JSONL with 'output' or 'text' fields")
    scan.add_argument("--json", action="store_true", help="one JSON finding per line")
    redact = sub.add_parser("redact", help="write a copy with PII rewritten")
    redact.add_argument("file", type=Path, help="text file, or JSONL with 'output' or 'text' fields")
    redact.add_argument("--out", type=Path, required=True, help="where to write the redacted copy")
    redact.add_argument("--operator", choices=["replace", "mask", "redact", "pseudonym"], default="replace")
    redact.add_argument("--key-file", type=Path, help="hex pseudonym key (default: $MMEVAL_PSEUDONYM_KEY)")
    for p in (scan, redact):
        p.add_argument("--entities", help="comma-separated entity types (default: all but URL)")
        p.add_argument("--threshold", type=float, default=0.5, help="minimum score (default 0.5)")
        add_access_arguments(p, keyring=False)


class _Record:
    """One line of the input: its id, the text under review, and how to write it back."""

    def __init__(self, rid: str, text: str, obj: dict[str, Any] | None, field: str | None):
        self.id, self.text, self.obj, self.field = rid, text, obj, field

    def dump(self, text: str) -> str:
        if self.obj is None:  # a plain-text line
            return text
        if self.field is None:  # a JSONL line whose value is not text: unchanged
            return json.dumps(self.obj, ensure_ascii=False)
        return json.dumps({**self.obj, self.field: text}, ensure_ascii=False)


def _records(path: Path) -> Iterator[_Record]:
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                line = line.rstrip("\n")
                if not jsonl:
                    yield _Record(str(number), line, None, None)
                    continue
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
                field = next((f for f in ("output", "text") if isinstance(obj, dict) and f in obj), None)
                if field is None:
                    raise InputError(f"{path}:{number}: expected an object with an 'output' or 'text' field")
                value = obj[field]
                rid = str(obj.get("id", number))
                text = value if isinstance(value, str) else ""
                yield _Record(rid, text, obj, field if isinstance(value, str) else None)
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None


def main(args: argparse.Namespace) -> int:
    from ..privacy.detect import PiiDetector

    authorize_file(args, "audit", args.file)  # and read-report on the run, for a file inside a signed run
    entities = [e.strip() for e in args.entities.split(",") if e.strip()] if args.entities else None
    detector = PiiDetector(entities, args.threshold)
    if args.pii_command == "scan":
        return _scan(args, detector)
    return _redact(args, detector)


def _scan(args: argparse.Namespace, detector: Any) -> int:
    counts: Counter[str] = Counter()
    for record in _records(args.file):
        for span in detector.analyze(record.text):
            counts[span.entity] += 1
            finding = {"id": record.id, "entity": span.entity, "start": span.start, "end": span.end,
                       "score": round(span.score, 3)}
            print(json.dumps(finding) if args.json else
                  f"{record.id}\t{span.entity}\t{span.start}-{span.end}\tscore={finding['score']}")
    if not args.json:
        total = sum(counts.values())
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"
        sys.stderr.write(f"{total} finding(s) in {args.file}: {summary}\n")
    return 0


def _redact(args: argparse.Namespace, detector: Any) -> int:
    from ..fsutil import write_atomic
    from ..privacy.anonymize import Anonymizer, load_pseudonym_key

    key = load_pseudonym_key(args.key_file) if args.operator == "pseudonym" else None
    anonymizer = Anonymizer(args.operator, key=key)
    lines, changed = [], 0
    for record in _records(args.file):
        spans = detector.analyze(record.text)
        changed += bool(spans)
        lines.append(record.dump(anonymizer.anonymize(record.text, spans)))
    write_atomic(args.out, ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"), mode=0o600)
    sys.stderr.write(f"wrote {args.out}: {changed} of {len(lines)} record(s) rewritten ({args.operator})\n")
    return 0
