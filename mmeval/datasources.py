"""Where a dataset's rows come from: JSONL, CSV, Parquet or a saved Hugging Face dataset.

    dataset: {path: data/titles.parquet, columns: {id: sku, input: prompt, target: copy}}
    dataset: {path: data/hf-titles, format: hf, split: test}      # datasets.save_to_disk folder

`format` defaults from the path (`.jsonl`, `.csv`, `.parquet`, a folder: `hf`). `columns`
maps the names mmeval reads (`id`, `input`, `target`) to the source's; other columns stay
on the sample for `where:`. Every source yields (row number, dict) like a JSONL file:

- CSV cells are text, except one that is a plain JSON number (`3`, `0.5`, `-2e3`; not
  `007`), which becomes a number (a price target, a rating);
- Parquet streams record batches (pyarrow);
- a Hugging Face folder (`datasets.load_from_disk`) keeps image and audio columns
  undecoded, as `{"bytes", "path"}`.

Media may be paths (relative to the data file's folder) or bytes: `media_value` turns
bytes into an in-memory `MediaBlob` named by the sample, its kind sniffed from the bytes.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InputError

FORMATS = ("jsonl", "csv", "parquet", "hf")
FIELDS = ("id", "input", "target")
_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_JSON_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"))


def source_format(path: Path, given: str | None) -> str:
    if given is not None:
        return given
    if path.is_dir():
        return "hf"
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise InputError(f"{path}: cannot tell the dataset format from its name; set dataset.format to one of {', '.join(FORMATS)}")
    return found


def read_rows(path: Path, fmt: str, split: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) for every row of the source; unreadable sources are input errors."""
    if fmt == "jsonl":
        from .data import read_jsonl

        yield from read_jsonl(path)
    elif fmt == "csv":
        yield from _csv_rows(path)
    elif fmt == "parquet":
        yield from _parquet_rows(path)
    else:
        yield from _hf_rows(path, split)


def mapped(row: dict[str, Any], columns: dict[str, str] | None, where: str) -> dict[str, Any]:
    """The row with the source's column names for id/input/target renamed to mmeval's."""
    if not columns:
        return row
    out = {k: v for k, v in row.items() if k not in columns.values()}
    for field, column in columns.items():
        if column not in row:
            raise InputError(f"{where}: no column {column!r} (dataset.columns.{field}); columns are {', '.join(map(str, row))}")
        out[field] = row[column]
    return out


def media_value(value: Any, name: str) -> Any:
    """Bytes of an image or WAV (or a `{"bytes", "path"}` cell) as a MediaBlob; others unchanged."""
    from .fsutil import safe_stem
    from .media.blob import MediaBlob

    if isinstance(value, dict) and set(value) <= {"bytes", "path", "array", "sampling_rate"}:  # an undecoded HF cell
        value = value.get("bytes") or value.get("path") or value
    if not isinstance(value, (bytes, bytearray)):
        return value
    data = bytes(value)
    suffix = next((s for magic, s in _MAGIC if data.startswith(magic)), None)
    if suffix is None and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        suffix = ".wav"
    if suffix is None:
        raise InputError(f"{name}: bytes that are not PNG, JPEG or WAV")
    return MediaBlob(data, safe_stem(name) + suffix)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            for number, row in enumerate(reader, start=2):  # line 1 is the header
                if None in row:
                    raise InputError(f"{path}:{number}: more cells than the header has columns")
                yield number, {k: _cell(v) if k != "id" else v for k, v in row.items()}
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not valid CSV ({exc})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def _cell(text: str | None) -> Any:
    if text is not None and _JSON_NUMBER.fullmatch(text):
        return json.loads(text)
    return text


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
        from pyarrow import ArrowException
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow: pip install 'mmeval[data]'") from None
    try:
        number = 0
        for batch in pq.ParquetFile(path).iter_batches():
            for row in batch.to_pylist():
                number += 1
                yield number, row
    except (ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None


def _hf_rows(path: Path, split: str | None) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import datasets
    except ImportError:
        raise InputError(f"{path}: reading a Hugging Face dataset needs datasets: pip install 'mmeval[data]'") from None
    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise InputError(f"{path}: not a dataset saved with save_to_disk ({str(exc).splitlines()[0]})") from None
    if isinstance(loaded, datasets.DatasetDict):
        if split is None or split not in loaded:
            raise InputError(f"{path}: a dataset with splits {', '.join(loaded)}; set dataset.split to one of them")
        loaded = loaded[split]
    for name, feature in loaded.features.items():  # media stay bytes: no PIL or decoder in between
        if isinstance(feature, (datasets.Image, datasets.Audio)):
            loaded = loaded.cast_column(name, type(feature)(decode=False))
    for number, row in enumerate(loaded, start=1):
        yield number, row
