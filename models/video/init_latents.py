"""Starting the MimicMotion sampler from a pose warp instead of pure noise (SDEdit, Meng et al. 2022).

VLOGGER conditions its video model on a partial warp of the reference image. Embody's video model (MimicMotion) has
no warp channel, so the warp guides it the way SDEdit guides an image model: the warped frames are VAE-encoded, the
first ``round(init_strength * steps)`` EDM steps are skipped, and sampling starts at that step's sigma from
``warp_latents + sigma_start * noise`` (the noise is the sampler's own initial noise, so every fusion noise mode and
every context window start from the same sigma). init_strength 0 runs every step from pure noise: today's output.

Frame 0 of a MimicMotion video is the reference slot (the reference image's own pose). Its starting latent is the
reference image's clean VAE latent, not a warp frame: the warp of the reference pose is the reference at best, and
the reference itself has no inpainted holes.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch

from .components import VideoComponents
from .conditioning import resize_center_crop


def start_step(strength: float, steps: int) -> int:
    """Index of the first EDM step that runs: round(strength * steps), half up, at most ``steps - 1``.

    The last step always runs so the video model, not the VAE round trip, has the final word (at strength 1 it runs
    from the smallest sigma, so the output is essentially the warp). strength must be in [0, 1].
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"init_strength must be in [0, 1]; got {strength}.")
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}.")
    return min(math.floor(strength * steps + 0.5), steps - 1)


def init_video_frames(reference: torch.Tensor, warp: torch.Tensor, poses_count: int,
                      reference_prepended: bool) -> torch.Tensor:
    """The pixel frames to encode, one per video frame, frame 0 = the reference image.

    Args:
        reference: [1, 3, H, W] 0..1, already at the video size (multiples of 64).
        warp: [N, 3, h, w] 0..1 warped frames (Embody Pose Warp driven by the same poses); resized and centre-cropped
            to H x W like the pose frames.
        poses_count: N, the number of frames of the sampler's ``poses`` input.
        reference_prepended: True when the reference pose was prepended to the poses (video = N + 1 frames; every
            warp frame is used); False when poses[0] is the reference pose (video = N frames; warp[0] is replaced by
            the reference).

    Returns:
        float32 [F, 3, H, W] 0..1, F = N + 1 or N.
    """
    if warp.shape[0] != poses_count:
        raise ValueError(
            f"warp_init has {warp.shape[0]} frames but poses has {poses_count}; they must match frame for frame. "
            "Drive the Embody Pose Warp with the same pose sequence that is rendered into poses.")
    size = (int(reference.shape[-2]), int(reference.shape[-1]))
    warp = resize_center_crop(warp.float(), size)
    body = warp if reference_prepended else warp[1:]
    return torch.cat([reference.float(), body])


@torch.no_grad()
def encode_frames(components: VideoComponents, frames: torch.Tensor, device: torch.device | str,
                  chunk: int = 4) -> torch.Tensor:
    """VAE latents of video frames in the sampler's latent space.

    frames: [F, 3, H, W] 0..1, H and W multiples of 8. Returns float32 [F, 4, H/8, W/8] on the CPU: the latent
    distribution's mode times the VAE scaling factor (0.18215), the space ``denoise`` works in and Embody Decode
    divides back out. ``chunk`` frames are encoded at a time to bound the VAE's working memory.
    """
    vae = cast(Any, components.vae)  # a diffusers AutoencoderKLTemporalDecoder (nn.Module types encode loosely)
    scale = components.vae_scaling_factor
    out = []
    for i in range(0, frames.shape[0], max(1, chunk)):
        pixels = (frames[i : i + chunk].float() * 2.0 - 1.0).to(device=device, dtype=components.dtype)
        out.append((vae.encode(pixels).latent_dist.mode().float() * scale).cpu())
    return torch.cat(out)
