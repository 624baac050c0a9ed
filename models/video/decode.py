"""Chunked temporal VAE decode of MimicMotion latents to ComfyUI IMAGE frames.

As official (MimicMotion pipeline decode_latents): latents are divided by the VAE scaling factor (0.18215; SVD's
encode side applies none), decoded ``chunk_size`` frames at a time with ``num_frames=chunk`` for the temporal
decoder (so chunk borders are independent decodes), mapped from -1..1 to 0..1, and frame 0 (the reference frame)
is dropped afterwards.
The VAE never moves: each decoded chunk is written once into a preallocated output tensor on ``output_device``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

logger = logging.getLogger(__name__)


# Latent channels of other model families, to name what was connected instead of failing inside the VAE.
_OTHER_LATENTS = {
    16: "SD3 / Flux / Wan 2.1 / HunyuanVideo?",
    32: "Flux 2 / HunyuanVideo 1.5?",
    48: "Wan 2.2 5B?",
    128: "LTX-Video?",
}


def _describe(channels: int, shape: tuple[int, ...]) -> str:
    family = _OTHER_LATENTS.get(channels)
    what = f"a {channels}-channel latent" + (f" ({family})" if family else "")
    return f"{what} of shape {list(shape)}"


def check_video_latent(latents: Any, input_name: str = "latent") -> torch.Tensor:
    """MimicMotion latents as [F, 4, h, w] (a [1, F, 4, h, w] batch of one is unwrapped), else a ValueError.

    The error names ``input_name``, what was connected (e.g. "a 16-channel latent (SD3 / Flux / Wan 2.1?)") and the
    fix: Embody Decode takes the LATENT of Embody Sampler, [F, 4, h, w] with frame 0 = the reference frame.
    """
    fix = f"Connect the LATENT from Embody Sampler ([frames, 4, h, w]) to {input_name}."
    if isinstance(latents, dict):
        if "samples" not in latents:
            raise ValueError(f"{input_name} is a dict without 'samples' ({sorted(latents)[:5]}). {fix}")
        latents = latents["samples"]
    if not isinstance(latents, torch.Tensor):
        raise ValueError(f"{input_name} is {type(latents).__name__}, not a latent tensor. {fix}")
    shape = tuple(latents.shape)
    if latents.ndim == 5:
        if shape[2] != 4:
            # ComfyUI's video models use [B, C, T, h, w]: the channels are in dim 1.
            raise ValueError(f"{input_name} is {_describe(shape[1], shape)} in [batch, channels, frames, h, w] "
                             f"layout, not MimicMotion's 4-channel SVD latent. {fix}")
        if shape[0] != 1:
            raise ValueError(f"{input_name} holds {shape[0]} videos {list(shape)}; decode one [F, 4, h, w] video at "
                             f"a time.")
        latents = latents[0]
    elif latents.ndim != 4:
        raise ValueError(f"{input_name} must be [frames, 4, h, w]; got shape {list(shape)}. {fix}")
    elif shape[1] != 4:
        raise ValueError(f"{input_name} is {_describe(shape[1], shape)}, not MimicMotion's 4-channel SVD latent. "
                         f"{fix}")
    if latents.shape[0] == 0:
        raise ValueError(f"{input_name} has no frames. {fix}")
    return latents


def _decode_chunk(vae: nn.Module, z: torch.Tensor) -> torch.Tensor:
    # cast: a diffusers AutoencoderKLTemporalDecoder; nn.Module's __getattr__ types ``decode`` as Tensor | Module.
    return cast(Any, vae).decode(z, num_frames=z.shape[0]).sample


@torch.no_grad()
def decode_latents(
    vae: nn.Module,
    latents: torch.Tensor,
    chunk_size: int = 8,
    keep_reference_frame: bool = False,
    output_device: torch.device | str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Decode video latents with an ``AutoencoderKLTemporalDecoder``.

    Args:
        vae: the temporal-decoder VAE, already on its compute device (it is not moved). An fp16 VAE on CPU decodes
            through a float32 copy (CPU half convolutions are slow or missing).
        latents: [F, 4, h, w] (or [1, F, 4, h, w]) scaled latents; frame 0 = the reference frame.
        chunk_size: frames per decoder call (>= 1); smaller needs less memory. On out-of-memory the chunk is halved
            and retried down to 1.
        keep_reference_frame: keep frame 0 in the output (official: dropped).
        output_device: where the frames are collected (CPU by default: one copy per chunk).
        progress: called as progress(frames_done, frames_total) after each chunk; may raise to cancel.
    Returns:
        IMAGE float32 [F or F-1, H, W, 3] in 0..1 with H, W = 8 h, 8 w.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
    latents = check_video_latent(latents)
    param = next(vae.parameters())
    device, dtype = param.device, param.dtype
    if device.type == "cpu" and dtype == torch.float16:
        vae, dtype = copy.deepcopy(vae).float(), torch.float32
    vae_config: Any = vae.config  # a diffusers config (nn.Module's __getattr__ types it as Tensor | Module)
    scale = float(getattr(vae_config, "scaling_factor", 0.18215))
    n, _, h, w = latents.shape
    start = 0 if keep_reference_frame or n == 1 else 1
    if n == 1 and not keep_reference_frame:
        logger.warning("Only the reference frame was given; returning it instead of an empty video.")
    factor = 2 ** (len(vae_config.block_out_channels) - 1)
    out = torch.empty((n - start, h * factor, w * factor, 3), dtype=torch.float32, device=output_device)
    i = 0
    while i < n:
        z = (latents[i : i + chunk_size].to(device=device, dtype=dtype)) / scale
        try:
            frames = _decode_chunk(vae, z)
        except torch.OutOfMemoryError:
            if chunk_size == 1:
                raise
            chunk_size = max(1, chunk_size // 2)
            logger.warning("VAE decode ran out of memory; retrying with chunk size %d.", chunk_size)
            del z
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        # -1..1 -> 0..1 on the compute device, then one copy per chunk into the output.
        frames = (frames.float() / 2 + 0.5).clamp_(0, 1).permute(0, 2, 3, 1)
        lo = max(i, start)
        if lo < i + frames.shape[0]:
            out[lo - start : i + frames.shape[0] - start].copy_(frames[lo - i :], non_blocking=False)
        i += frames.shape[0]
        if progress is not None:
            progress(i, n)
    return out
