"""Reference generators that are slow or fail on purpose, for resume tests (run in subprocesses too)."""

from __future__ import annotations

import os
import time

from mmeval.models.reference import ReferenceGenerator


class SlowReference(ReferenceGenerator):
    """Sleeps after every batch so a test can kill the run between batches."""

    def generate(self, inputs, *, seed, ids):
        out = super().generate(inputs, seed=seed, ids=ids)
        time.sleep(float(os.environ.get("MMEVAL_TEST_SLEEP", "0.4")))
        return out


class CountingReference(ReferenceGenerator):
    """Records which ids it generated; raises after `fail_after` batches when set."""

    generated: list[str] = []
    fail_after: int | None = None

    def generate(self, inputs, *, seed, ids):
        calls = getattr(self, "_calls", 0)
        if self.fail_after is not None and calls >= self.fail_after:
            raise RuntimeError("simulated crash")
        self._calls = calls + 1
        type(self).generated.extend(ids)
        return super().generate(inputs, seed=seed, ids=ids)
