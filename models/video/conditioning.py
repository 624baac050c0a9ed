"""Reference-image conditioning of Stable Video Diffusion / MimicMotion, and frame preprocessing.

SVD conditions on the reference three ways (Blattmann et al. 2023; official MimicMotion pipeline):
a CLIP image embedding (cross-attention), the VAE latent of the (noise-augmented) reference concatenated to every
frame's noisy latent, and three "added time ids" [fps - 1, motion bucket, noise augmentation].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F

from .components import VideoComponents

logger = logging.getLogger(__name__)

SIZE_MULTIPLE = 64  # the official preprocess crops to multiples of 64 (inference.py)


@dataclass
class ReferenceConditioning:
    """Encoded reference. clip_embed: [1, 1, D] image embedding; image_latent: [1, 4, h, w] VAE latent mode
    (no scaling factor applied, an SVD quirk); time_ids: [1, 3] float (fps condition, motion bucket, noise aug)."""

    clip_embed: torch.Tensor
    image_latent: torch.Tensor
    time_ids: torch.Tensor


def to_nchw(image: torch.Tensor, name: str) -> torch.Tensor:
    """ComfyUI IMAGE [B, H, W, C] (0..1) -> float32 [B, 3, H, W]; clear errors for wrong shapes or NaN."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[-1] not in (3, 4):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"{name} must be an IMAGE batch [B, H, W, 3]; got {shape}.")
    if image.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 frames).")
    if not torch.isfinite(image).all():
        raise ValueError(f"{name} contains NaN or infinite pixels; check the node that produced it.")
    return image[..., :3].permute(0, 3, 1, 2).float()


def video_size(height: int, width: int, multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """Largest (H, W) multiples of ``multiple`` not above the input size (at least one multiple each)."""
    return max(multiple, height // multiple * multiple), max(multiple, width // multiple * multiple)


def resize_center_crop(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize so the image covers ``size`` = (H, W) keeping its aspect ratio, then centre-crop (official preprocess).

    images: float [B, 3, h, w]; returns [B, 3, H, W]. Identity when the size already matches.
    """
    th, tw = size
    h, w = images.shape[-2:]
    if (h, w) == (th, tw):
        return images
    scale = max(th / h, tw / w)
    rh, rw = max(th, round(h * scale)), max(tw, round(w * scale))
    if (rh, rw) != (h, w):
        images = F.interpolate(images, size=(rh, rw), mode="bilinear", align_corners=False, antialias=True)
    top, left = (rh - th) // 2, (rw - tw) // 2
    return images[..., top : top + th, left : left + tw].clamp(0.0, 1.0)


def prepare_frames(reference: torch.Tensor, poses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bring the reference [1, 3, H, W] and pose frames [F, 3, H', W'] (0..1) to one size, multiples of 64.

    The video size is the reference size rounded down to multiples of 64 (resize + centre crop, as the official
    preprocess); pose frames of another size are resized and centre-cropped to it (logged).
    """
    if reference.shape[0] != 1:
        raise ValueError(f"reference must be a single image; got a batch of {reference.shape[0]}. "
                         "Pick one frame (e.g. with ImageFromBatch).")
    h, w = reference.shape[-2:]
    size = video_size(h, w)
    if size != (h, w):
        logger.info("Reference %dx%d is not a multiple of %d: resized and centre-cropped to %dx%d.",
                    w, h, SIZE_MULTIPLE, size[1], size[0])
    ref = resize_center_crop(reference, size)
    if tuple(poses.shape[-2:]) != size:
        logger.info("Pose frames %dx%d differ from the video size %dx%d: resized and centre-cropped.",
                    poses.shape[-1], poses.shape[-2], size[1], size[0])
    return ref, resize_center_crop(poses, size)


def _resize_for_clip(pixels: torch.Tensor, side: int) -> torch.Tensor:
    """Antialiased resize of [-1, 1] images to side x side, as SVD does before CLIP (diffusers' helper if present)."""
    try:
        from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
            _resize_with_antialiasing,
        )
    except ImportError:  # the private helper moved: plain antialiased bicubic is a close stand-in
        return F.interpolate(pixels, size=(side, side), mode="bicubic", align_corners=True, antialias=True)
    return _resize_with_antialiasing(pixels, (side, side))


@torch.no_grad()
def encode_reference(
    components: VideoComponents,
    reference: torch.Tensor,
    generator: torch.Generator | None,
    device: torch.device | str,
    noise_aug: float = 0.0,
    image_embed_strength: float = 1.0,
    fps_condition: float = 6.0,
    motion_bucket: float = 127.0,
) -> ReferenceConditioning:
    """Encode the reference image once for the whole video.

    Args:
        reference: [1, 3, H, W] in 0..1, H and W multiples of 8.
        generator: CPU generator; the noise-augmentation noise [1, 3, H, W] is drawn from it even at noise_aug 0,
            as the official pipeline does, so one seed gives the official initial noise afterwards.
        noise_aug: std of the Gaussian noise added to the reference (in -1..1 pixel units) before VAE encoding;
            also fed to the UNet as the third time id.
        image_embed_strength: multiplier of the CLIP embedding (1 = official).
        fps_condition: SVD's fps id (the official pipeline passes fps - 1 = 6); motion_bucket: 127 official.
    """
    dtype = components.dtype
    pixels = reference.float() * 2.0 - 1.0
    # CLIP: resize in -1..1, back to 0..1, normalise with CLIP's mean/std (pipeline_mimicmotion._encode_image).
    clip_in = (_resize_for_clip(pixels, components.image_size) + 1.0) / 2.0
    mean = torch.tensor(components.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(components.image_std).view(1, 3, 1, 1)
    clip_in = ((clip_in - mean) / std).to(device=device, dtype=dtype)
    embed = components.image_encoder(clip_in).image_embeds.unsqueeze(1) * image_embed_strength

    noise = torch.randn(pixels.shape, generator=generator, dtype=pixels.dtype)
    vae_in = (pixels + noise_aug * noise).to(device=device, dtype=dtype)
    # cast: a diffusers AutoencoderKLTemporalDecoder; nn.Module's __getattr__ types ``encode`` as Tensor | Module.
    latent = cast(Any, components.vae).encode(vae_in).latent_dist.mode()
    time_ids = torch.tensor([[float(fps_condition), float(motion_bucket), float(noise_aug)]], dtype=dtype)
    return ReferenceConditioning(embed.to(dtype), latent.to(dtype), time_ids.to(device))
