"""Fixtures shared by the model adapter tests: one real OpenAI-compatible server for the
whole test run (started on first use, stopped at the end)."""

from tests.models.openai_server import api_server  # noqa: F401  (a session-scoped fixture)
