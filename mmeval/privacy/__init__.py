"""Privacy: PII detection (presidio-analyzer, offline) and anonymization (presidio-anonymizer).

Public API, imported lazily so `import mmeval.privacy` stays cheap:
`PiiDetector`, `Span`, `Anonymizer`, `pseudonym`, `load_pseudonym_key`.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "PiiDetector": "detect",
    "SUPPORTED_ENTITIES": "detect",
    "DEFAULT_ENTITIES": "detect",
    "Span": "ecommerce",
    "Anonymizer": "anonymize",
    "pseudonym": "anonymize",
    "load_pseudonym_key": "anonymize",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mmeval.privacy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
