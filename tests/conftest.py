"""Shared fixtures: every test starts from the same random state."""

from __future__ import annotations

import random

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seeded_rng() -> None:
    """Seed the global RNGs so any test that forgets its own generator is still reproducible."""
    random.seed(1234)
    np.random.seed(1234)
