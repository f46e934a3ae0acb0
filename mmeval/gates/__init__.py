"""Gates check every model output before it is scored, stored or reported."""

from .base import Decision, Finding, Gate, GateContext

__all__ = ["Decision", "Finding", "Gate", "GateContext"]
