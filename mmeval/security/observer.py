"""The run observer that seals every model's raw outputs into `RUN_DIR/store/`.

One record per (model, sample): id `model/sample_id`, value `{"model", "sample_id",
"output"}`, sealed as soon as the batch passed the gates. Media are stored as
`{"media": suffix, "bytes_b64": ...}`. Generated media are `MediaBlob`s, sealed from
memory and never written in plaintext. A media file an adapter wrote itself inside the
run directory is deleted at the end of the run (after every metric has read it); media a
model read from elsewhere (e.g. a replay of existing files) is copied in and left in place.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from ..data import Sample
from ..media.blob import MediaBlob
from .keyring import KeyRing
from .store import RecordStore


def _jsonable(output: Any, media: list[Path]) -> Any:
    if isinstance(output, MediaBlob):  # generated media: sealed straight from memory
        return {"media": output.suffix, "name": output.name, "bytes_b64": base64.b64encode(output.data).decode()}
    if isinstance(output, Path):
        media.append(output)
        return {"media": output.suffix, "bytes_b64": base64.b64encode(output.read_bytes()).decode()}
    if output is None or isinstance(output, (str, bool, int)):
        return output
    if isinstance(output, float):
        return output if output == output and abs(output) != float("inf") else repr(output)
    if isinstance(output, dict):
        return {str(k): _jsonable(v, media) for k, v in output.items()}
    if isinstance(output, (list, tuple)):
        return [_jsonable(v, media) for v in output]
    tolist = getattr(output, "tolist", None)  # numpy arrays and tensors
    if tolist is not None:
        return {"array": _jsonable(tolist(), media), "dtype": str(getattr(output, "dtype", ""))}
    return {"repr": repr(output)}


class StoreObserver:
    def __init__(self, ring: KeyRing, run_id: str, run_dir: Path):
        self.ring = ring
        self.run_dir = Path(run_dir)
        self.store = RecordStore(self.run_dir / "store", ring, run_id=run_id)
        self.records = 0
        self._media: list[Path] = []

    def on_outputs(self, model: str, batch: list[Sample], outputs: list[Any], seconds: float) -> None:
        for sample, output in zip(batch, outputs):
            value = {"model": model, "sample_id": sample.id, "output": _jsonable(output, self._media)}
            self.store.put(f"{model}/{sample.id}", value)
            self.records += 1

    def finish(self, report: dict[str, Any], run_dir: Path) -> None:
        root = Path(run_dir).resolve()
        removed = 0
        for path in self._media:
            try:
                inside = path.resolve().is_relative_to(root)
            except OSError:
                continue
            if inside and path.exists():
                path.unlink()
                removed += 1
                for parent in path.resolve().parents:  # drop folders the deletions emptied
                    if parent == root or any(parent.iterdir()):
                        break
                    parent.rmdir()
        report["store"] = {
            "encrypted": True,
            "records": self.records,
            "key_id": self.ring.active_master()[0],
            "path": "store",
            "plaintext_media_removed": removed,
        }
