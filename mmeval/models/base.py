"""The model adapter contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ModelAdapter(Protocol):
    """Produces one output per input.

    `seed` is the suite seed and `ids` the sample ids of the batch: an adapter that samples
    should seed per sample id, so outputs do not depend on batch size or order.
    Adapters that only read precomputed outputs set `runs_model = False`, so no
    efficiency figures are recorded for them.
    """

    def generate(self, inputs: Sequence[Any], *, seed: int, ids: Sequence[str]) -> list[Any]: ...
