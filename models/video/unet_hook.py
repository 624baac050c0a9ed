"""Inject PoseNet features into a stock diffusers ``UNetSpatioTemporalConditionModel``.

MimicMotion's UNet differs from SVD's in one line: ``sample = conv_in(sample) + pose_latents``
(its unet_spatio_temporal_condition.py).
A forward hook on ``conv_in`` gives the same result without copying the UNet, so any diffusers version with the
stock model works, and the hook is gone once the ``with`` block exits (also on exceptions).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def pose_residual(unet: nn.Module, pose_latents: torch.Tensor | None, strength: float = 1.0) -> Iterator[None]:
    """Add ``pose_latents * strength`` to the output of ``unet.conv_in`` for every UNet call inside the block.

    Args:
        unet: a diffusers UNetSpatioTemporalConditionModel (anything with a ``conv_in`` module).
        pose_latents: PoseNet output [B*F, C, h, w] matching conv_in's output (frames flattened into the batch,
            batch-major, as the UNet flattens its [B, F, ...] input). None (or strength 0) = no pose, a plain SVD call.
        strength: multiplier of the residual (1.0 = official).
    Raises:
        ValueError (at UNet call time) if the shapes do not match, naming both shapes.
    """
    conv_in = getattr(unet, "conv_in", None)
    if not isinstance(conv_in, nn.Module):
        raise ValueError(f"pose_residual needs a UNet with a conv_in layer; got {type(unet).__name__}.")
    if pose_latents is None or strength == 0.0:
        yield
        return

    def _hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if output.shape != pose_latents.shape:
            raise ValueError(
                f"Pose features {tuple(pose_latents.shape)} do not match the UNet's first features "
                f"{tuple(output.shape)} (batch*frames, channels, height/8, width/8). The pose frames must have the "
                "same count and size as the video frames of this UNet call, and PoseNet's width must match the UNet."
            )
        residual = pose_latents.to(device=output.device, dtype=output.dtype)
        return output + residual * strength if strength != 1.0 else output + residual

    handle = conv_in.register_forward_hook(_hook)
    try:
        yield
    finally:
        handle.remove()
