"""Shared fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def comps():
    """Tiny MimicMotion components in the official layout (seed 0, our own seeded init), one thread."""
    from tests.helpers.tiny_mimicmotion import tiny_components

    torch.set_num_threads(1)
    return tiny_components(seed=0)
