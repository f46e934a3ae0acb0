"""Generated media held in memory: the encoded bytes (PNG, WAV) and the file name they get.

Generators return a `MediaBlob` instead of writing a file, so the run decides where media
go: into `RUN_DIR/outputs/<model>/` when it keeps plaintext (no key ring), or only into
the encrypted store (with one). A sealed run never puts a plaintext media byte on disk,
not even for a moment a `kill -9` could catch. Loaders and gates read blobs from memory.

    blob = MediaBlob(png_bytes(pixels), "sku-1.png")
    load_image(blob)                      # decoded from memory
    output_file(run_dir, "candidate", blob)   # RUN_DIR/outputs/candidate/sku-1.png
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, eq=False)
class MediaBlob:
    data: bytes
    name: str  # a safe file name with its suffix (see fsutil.safe_stem), never a path

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def open(self) -> io.BytesIO:
        return io.BytesIO(self.data)

    def __repr__(self) -> str:  # never the bytes: a repr may reach an error line
        return f"MediaBlob({self.name!r}, {len(self.data)} bytes)"


def is_media(value: Any) -> bool:
    """A media output: a file (Path) or a blob."""
    return isinstance(value, (Path, MediaBlob))


def media_bytes(value: Path | MediaBlob) -> bytes:
    return value.data if isinstance(value, MediaBlob) else Path(value).read_bytes()


def source(value: str | Path | MediaBlob) -> Any:
    """What PIL and scipy read from: a file path, or the blob's bytes as a stream."""
    return value.open() if isinstance(value, MediaBlob) else value


def media_name(value: Any) -> str:
    """How an error line or preview names a media output (a path, or a blob's file name)."""
    return value.name if isinstance(value, MediaBlob) else str(value)


def output_file(run_dir: Path, model: str, blob: MediaBlob) -> Path:
    """Where a model's blob is written when the run keeps media files (and where its
    provenance manifest sits beside it in every run)."""
    from ..fsutil import safe_stem

    return Path(run_dir) / "outputs" / safe_stem(model) / safe_stem(blob.name)


class MediaWriter:
    """The run observer that writes each model's blobs to `RUN_DIR/outputs/<model>/`, for
    runs that keep plaintext (no key ring): people and the HTML gallery see the files."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def on_outputs(self, model: str, batch: list[Any], outputs: list[Any], seconds: float) -> None:
        from ..fsutil import write_atomic

        for output in outputs:
            if isinstance(output, MediaBlob):
                write_atomic(output_file(self.run_dir, model, output), output.data)

    def finish(self, report: dict[str, Any], run_dir: Path) -> None:
        pass
