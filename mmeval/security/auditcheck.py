"""Read-only diagnosis of an audit log: the chain, a torn tail, the head and the pin.

`scan_log` walks the chain up to its first break; `findings` turns a scan plus the head and
pin into problems (integrity failures, exit 4) and notes (states the next append recovers
from by itself: a head one entry behind after an interrupted append, a missing head).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
REPAIR_HINT = "run 'mmeval log repair' (needs manage-keys)"
# problems that mean entries were lost or replaced: repair records them only with --accept-loss
LOSSES = {"cut", "head-mismatch", "pin-missing", "pin-replaced", "pin-cut", "pin-mismatch", "pin-unreadable"}


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class Scan:
    exists: bool = False
    entries: int = 0                 # complete, chain-valid entries from the start
    last: dict[str, Any] | None = None
    first_hash: str | None = None
    good_size: int = 0               # bytes up to the last valid entry's newline
    torn: bytes = b""                # bytes after the last newline
    torn_line: int | None = None
    broken: str | None = None        # the first chain break, if any
    hashes: dict[int, str] = field(default_factory=dict)  # hashes at the seqs asked for


def scan_log(path: Path, want: set[int]) -> Scan:
    scan = Scan()
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return scan
    scan.exists = True
    end = data.rfind(b"\n") + 1
    lines = data[:end].split(b"\n")[:-1]
    if data[end:]:
        scan.torn, scan.torn_line = data[end:], len(lines) + 1
    prev, offset = GENESIS, 0
    for number, line in enumerate(lines, start=1):
        seq = number - 1
        where = f"entry {seq} (line {number})"
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError
        except ValueError:
            scan.broken = f"line {number} is not a JSON entry"
            break
        if entry.get("seq") != seq:
            scan.broken = f"{where} has seq {entry.get('seq')!r}: an entry was deleted, inserted or reordered"
        elif entry.get("prev") != prev:
            scan.broken = f"{where} does not follow the previous entry: deleted, inserted or reordered"
        elif entry.get("hash") != entry_hash(entry):
            scan.broken = f"{where} was edited (hash mismatch)"
        if scan.broken:
            break
        prev, offset = entry["hash"], offset + len(line) + 1
        scan.entries, scan.last, scan.good_size = number, entry, offset
        scan.first_hash = scan.first_hash or entry["hash"]
        if seq in want:
            scan.hashes[seq] = entry["hash"]
    return scan


@dataclass
class LogCheck:
    log: str
    entries: int
    problems: list[dict[str, Any]]   # integrity failures: exit 4
    notes: list[dict[str, Any]]      # recoverable by the next append

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"log": self.log, "entries": self.entries, "ok": self.ok, "problems": self.problems, "notes": self.notes}


def findings(path: Path, scan: Scan, head: dict[str, Any] | None, head_error: str | None,
             pin: dict[str, Any] | None, pin_error: str | None) -> LogCheck:
    problems: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    if scan.broken:
        problems.append({"kind": "chain", "message": f"{scan.broken}; a chain break is not repairable"})
    if scan.torn:
        problems.append({"kind": "torn", "line": scan.torn_line, "bytes": len(scan.torn),
                         "message": f"line {scan.torn_line} is torn ({len(scan.torn)} bytes without a trailing "
                                    f"newline: an append was interrupted or the disk was full); {REPAIR_HINT}"})
    if not scan.broken:
        _head_findings(path, scan, head, head_error, problems, notes)
        _pin_findings(scan, pin, pin_error, problems)
    return LogCheck(str(path), scan.entries, problems, notes)


def _head_findings(path: Path, scan: Scan, head: dict[str, Any] | None, head_error: str | None,
                   problems: list[dict[str, Any]], notes: list[dict[str, Any]]) -> None:
    last_seq = scan.entries - 1
    name = Path(path).name + ".head"
    if head_error:
        problems.append({"kind": "head-unreadable", "message": head_error})
    elif head is None:
        if scan.entries:
            notes.append({"kind": "head-missing", "message": f"head file {name} is missing; the next append "
                                                             "recomputes it from the verified chain"})
    elif head["seq"] > last_seq:
        problems.append({"kind": "cut", "seq": head["seq"],
                         "message": f"ends at entry {last_seq} but its head says {head['seq']}: "
                                    "the tail was cut or the log replaced"})
    elif scan.hashes.get(head["seq"]) != head["hash"]:
        problems.append({"kind": "head-mismatch", "seq": head["seq"],
                         "message": f"entry {head['seq']} does not have the hash its head records: "
                                    "the log or its head was replaced"})
    elif head["seq"] == last_seq - 1:
        notes.append({"kind": "head-behind", "seq": head["seq"],
                      "message": f"head is one entry behind (an append was interrupted before updating it); "
                                 f"the next append adopts entry {last_seq}"})
    elif head["seq"] < last_seq:
        problems.append({"kind": "head-behind", "seq": head["seq"],
                         "message": f"head says entry {head['seq']} but the chain goes on to {last_seq}: the head "
                                    f"is stale; {REPAIR_HINT} to recompute it"})


def _pin_findings(scan: Scan, pin: dict[str, Any] | None, pin_error: str | None,
                  problems: list[dict[str, Any]]) -> None:
    if pin_error:
        problems.append({"kind": "pin-unreadable", "message": pin_error})
        return
    if pin is None:
        return
    pinned = f"the pin records entries up to seq {pin['seq']}"
    if not scan.entries:
        what = "missing" if not scan.exists else "empty"
        problems.append({"kind": "pin-missing", "seq": pin["seq"],
                         "message": f"log is {what} but {pinned}: the history was deleted"})
    elif scan.first_hash != pin.get("first"):
        problems.append({"kind": "pin-replaced", "seq": pin["seq"],
                         "message": f"entry 0 is not the pinned one ({pinned}): the log was deleted or replaced"})
    elif scan.entries - 1 < pin["seq"]:
        problems.append({"kind": "pin-cut", "seq": pin["seq"],
                         "message": f"ends at entry {scan.entries - 1} but {pinned}: the tail was cut"})
    elif scan.hashes.get(pin["seq"]) != pin.get("hash"):
        problems.append({"kind": "pin-mismatch", "seq": pin["seq"],
                         "message": f"entry {pin['seq']} differs from its pinned hash: history was rewritten"})
