"""One detector and one corpus subset for the privacy tests (building the engine takes ~1 s)."""

from __future__ import annotations

import pytest

from mmeval.privacy.corpus import build_corpus
from mmeval.privacy.detect import PiiDetector


@pytest.fixture(scope="session")
def detector() -> PiiDetector:
    return PiiDetector()


@pytest.fixture(scope="session")
def corpus():
    # A held-out seed (the detector was tuned while looking at seed 0) and a subset for speed.
    return build_corpus(seed=11, n_pii=800, n_clean=400)
