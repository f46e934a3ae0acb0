"""Make `import torchvision` work next to a CPU torch when torchvision is a CUDA build.

PyPI's torchvision 0.28.0 ships compiled ops built for CUDA torch. Next to the CPU
torch wheel its `_C` extension does not load, and `torchvision/_meta_registrations.py`
then fails with "operator torchvision::nms does not exist" (pytorch/vision#9085), which
breaks pytorch-fid and every torchmetrics image import. The pure-Python parts we use
(transforms, model definitions) do not need the compiled ops, so declaring the two op
schemas that module registers fake kernels for is enough. On a matching install the
import succeeds the first time and this does nothing.
"""

from __future__ import annotations

import sys

_MISSING_OPS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # keeps the declared schemas alive for the life of the process
patched = False


def ensure_torchvision() -> None:
    """Import torchvision, declaring its missing op schemas if (and only if) needed."""
    global _library, patched
    if "torchvision" in sys.modules and not patched:
        return
    try:
        import torchvision  # noqa: F401

        return
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
    import torch

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    _library = torch.library.Library("torchvision", "DEF")
    for schema in _MISSING_OPS:
        _library.define(schema)
    patched = True
    import torchvision  # noqa: F401,F811
