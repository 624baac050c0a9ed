"""Per-frame classifier-free guidance ramp (MimicMotion's official guidance; shared by Embody Sampler and the
EmbodyFrameCFGRamp model patch for core samplers).

MimicMotion (like SVD's pipeline) guides frame k of an N-frame video with scale
cfg_min + (cfg_max - cfg_min) * k / (N - 1), applied after the windows are fused, over the whole video.
"""

from __future__ import annotations

import torch


def frame_cfg_scale(num_frames: int, cfg_min: float, cfg_max: float, ndim: int, dim: int,
                    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Guidance scale per frame, linear from cfg_min (frame 0) to cfg_max (last frame), shaped to broadcast
    against an ``ndim``-dimensional tensor whose frames lie along ``dim``."""
    if not 0 <= dim < ndim:
        raise ValueError(f"Frame dimension {dim} is outside a {ndim}-dimensional latent.")
    shape = [1] * ndim
    shape[dim] = num_frames
    return torch.linspace(cfg_min, cfg_max, num_frames, device=device, dtype=dtype).view(shape)


def frame_cfg(cond: torch.Tensor, uncond: torch.Tensor, cfg_min: float, cfg_max: float, dim: int) -> torch.Tensor:
    """uncond + scale_k * (cond - uncond) with the per-frame ramp along ``dim``."""
    scale = frame_cfg_scale(cond.shape[dim], cfg_min, cfg_max, cond.ndim, dim, cond.device, cond.dtype)
    return uncond + scale * (cond - uncond)
