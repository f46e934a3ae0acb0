"""Datasets and value resolution: rows of `{"id", "input", "target"}` (JSONL by default;
CSV, Parquet and saved Hugging Face datasets through datasources.py).

Reading streams: only ids are kept in memory, so a dataset can be larger than RAM.
A string value that names a PNG/JPEG or WAV file is resolved to an absolute `Path`
relative to the JSONL file that holds it; metrics load the file when they need it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError

MEDIA_SUFFIXES = {".png": "image", ".jpg": "image", ".jpeg": "image", ".wav": "audio"}


@dataclass(frozen=True)
class Sample:
    """One dataset row; `target` is None when the dataset has no reference."""

    id: str
    input: Any
    target: Any = None
    meta: dict[str, Any] = field(default_factory=dict)


def media_kind(value: Any) -> str | None:
    """'image' or 'audio' for a resolved media path or an in-memory blob, else None."""
    from .media.blob import MediaBlob

    if isinstance(value, (Path, MediaBlob)):
        return MEDIA_SUFFIXES.get(value.suffix.lower())
    return None


def resolve_value(value: Any, base_dir: Path, where: str) -> Any:
    """Turn a media file name into an absolute Path that exists; leave other values alone."""
    if isinstance(value, str) and Path(value).suffix.lower() in MEDIA_SUFFIXES and "\n" not in value:
        path = Path(value)
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            raise InputError(f"{where}: file {value!r} not found (looked for {path})")
        return path.resolve()
    return value


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; malformed lines are input errors."""
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
                if not isinstance(obj, dict):
                    raise InputError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
                yield number, obj
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None


def sample_id(obj: dict[str, Any], path: Path, number: int) -> str:
    if "id" not in obj:
        raise InputError(f"{path}:{number}: missing 'id'")
    value = obj["id"]
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InputError(f"{path}:{number}: 'id' must be a string or integer")
    return str(value)


class Dataset:
    """A dataset read in batches (JSONL, CSV, Parquet or a saved Hugging Face dataset, see
    datasources.py). Construction validates ids in one streaming pass."""

    def __init__(self, path: Path, fmt: str | None = None, columns: dict[str, str] | None = None, split: str | None = None):
        from .datasources import source_format

        self.path = path
        self.format = source_format(path, fmt)
        self.columns, self.split = columns, split
        self._kept: set[int] | None = None  # row indices `limit` keeps (None: all)
        self.ids: list[str] = []
        seen: set[str] = set()
        for number, obj in self._rows():
            sid = sample_id(obj, path, number)
            if sid in seen:
                raise InputError(f"{path}:{number}: duplicate id {sid!r}")
            if "input" not in obj and "target" not in obj:
                raise InputError(f"{path}:{number}: sample {sid!r} has neither 'input' nor 'target'")
            seen.add(sid)
            self.ids.append(sid)
        if not self.ids:
            raise InputError(f"{path}: dataset is empty")
        self.total = len(self.ids)

    def limit(self, n: int, seed: int) -> None:
        """Keep a seeded random `n` of the samples, in dataset order (`--limit`); `total`
        stays the full count, so the report can say "N of M"."""
        if n >= len(self.ids):
            return
        keep = sorted(random.Random(seed).sample(range(len(self.ids)), n))
        self._kept, self.ids = set(keep), [self.ids[i] for i in keep]

    def _rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        from .datasources import mapped, read_rows

        for index, (number, row) in enumerate(read_rows(self.path, self.format, self.split)):
            if self._kept is None or index in self._kept:
                yield number, mapped(row, self.columns, f"{self.path}:{number}")

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Sample]:
        from .datasources import media_value

        base = self.path if self.format == "hf" else self.path.parent
        for number, obj in self._rows():
            sid = sample_id(obj, self.path, number)
            where = f"{self.path}:{number}"
            meta = {k: v for k, v in obj.items() if k not in ("id", "input", "target")}
            value = lambda key: resolve_value(media_value(obj.get(key), f"{sid}-{key}"), base, where)  # noqa: E731
            yield Sample(id=sid, input=value("input"), target=value("target"), meta=meta)

    def batches(self, size: int, numbers: range | None = None) -> Iterator[tuple[int, list[Sample]]]:
        """(batch number, samples) for the batches of `size` whose numbers are in `numbers`
        (default: all); a rank of a distributed run reads only its own."""
        numbers = numbers if numbers is not None else range(-(-len(self) // size))
        batch: list[Sample] = []
        for index, sample in enumerate(self):
            number = index // size
            if number >= numbers.stop:
                break
            if number < numbers.start:
                continue
            batch.append(sample)
            if len(batch) == size:
                yield number, batch
                batch = []
        if batch:  # the dataset's last batch, short
            yield (len(self) - 1) // size, batch
