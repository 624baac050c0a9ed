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


@pytest.fixture(scope="module")
def frames():
    """A 64x64 reference image and 7 pose frames of a bar moving down (shared by the sampler tests)."""
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, 64, 64, generator=g)
    poses = torch.zeros(7, 3, 64, 64)
    for f in range(7):
        poses[f, :, 20 + 2 * f : 30 + 2 * f, 10:40] = 1.0
    return ref, poses
