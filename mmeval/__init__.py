"""mmeval: evaluate and govern multimodal generative models.

    import mmeval
    report = mmeval.run("suites/smoke.yaml")       # or mmeval.evaluate(model=fn, data=rows, metrics=[...])

(see mmeval/api.py). Loaded on first use, so `mmeval --version` stays instant.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Report", "evaluate", "run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'mmeval' has no attribute {name!r}")
