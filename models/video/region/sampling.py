"""What the MimicMotion sampler needs to run a region codebook, and the pieces it calls per window.

``RegionGuide`` bundles the codebook with the per-video inputs (identity descriptors of the reference, the hand
clarity value, movement maps). ``denoise`` (models/video/sampler.py) attaches the codebook for the whole run,
encodes the movement maps once (like PoseNet's features) and hands each UNet call its frames' movement residual.
CFG: identity and clarity apply to both passes (like SVD's added time ids); the movement residual, like the pose
residual, only to the conditional pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..conditioning import resize_center_crop
from .attach import Descriptors, RegionHandle
from .codebook import RegionCodebook
from .identity import encode_identity


@dataclass
class RegionCodebookModel:
    """EMBODY_REGION_CODEBOOK: a loaded codebook, the file it came from, and (in ComfyUI) its ModelPatcher.

    The node layer sets ``patcher`` so the codebook is loaded and offloaded together with the UNet.
    """

    codebook: RegionCodebook
    name: str
    strength: float = 1.0
    patcher: Any = None

    @property
    def dtype(self) -> torch.dtype:
        return next(self.codebook.parameters()).dtype


@dataclass
class RegionGuide:
    """A codebook plus its per-video inputs for ``denoise``.

    Attributes:
        codebook: the RegionCodebook (already on the sampling device).
        identity: descriptors from ``encode_identity`` (None = every crop absent: the learned absent tokens).
        hand_clarity: clarity score fed to the clarity embedding (None = no clarity residual).
        movement_maps: [F, H, W] or [F, 1, H, W] in 0..1 at the video size, one per video frame (None = none).
        strength: multiplier of the region modules' added features.
        name: the codebook's name for error messages.
        collect_masks: fill ``masks`` with the predicted region masks of the last step.
        masks: out: [F, 1, h, w] float32 CPU, the union (max) over regions of each region's mask averaged over stages,
            at the latent size, from the conditional pass of the last step (window-weighted where windows overlap).
    """

    codebook: RegionCodebook
    identity: Descriptors | None = None
    hand_clarity: float | None = None
    movement_maps: torch.Tensor | None = None
    strength: float = 1.0
    name: str = "the region codebook"
    collect_masks: bool = False
    masks: torch.Tensor | None = None


def resolve_clarity(codebook: RegionCodebook, value: float) -> float | None:
    """The sampler input's meaning: -1 = the codebook's recorded high clarity (None if it has none), 0 = off."""
    if codebook.clarity is None:
        return None
    if value < 0:
        high = float(codebook.config.clarity_high)
        return high if high > 0 else None
    return float(value) if value > 0 else None


def reference_identity(components: Any, codebook: RegionCodebook, reference: torch.Tensor,
                       keypoints: np.ndarray | None, device: torch.device | str) -> Descriptors:
    """Identity descriptors of the reference [1, 3, H, W] (0..1) from its pose keypoints [133, 3] (or None)."""
    return encode_identity(components.image_encoder, reference, keypoints, codebook.config.regions,
                           components.image_mean, components.image_std, components.image_size, device,
                           components.dtype)


def window_masks(handle: RegionHandle, frames: int, size: tuple[int, int]) -> torch.Tensor | None:
    """Union over regions of the stage-averaged masks of the latest call's last ``frames`` entries -> [T, 1, h, w]."""
    masks = handle.masks
    if not masks:
        return None
    union: torch.Tensor | None = None
    for per_stage in masks.values():
        ups = [F.interpolate(m[-frames:].float(), size=size, mode="bilinear", align_corners=False)
               for m in per_stage.values()]
        region = torch.stack(ups).mean(0)
        union = region if union is None else torch.maximum(union, region)
    return union


def movement_maps_for_video(mask: torch.Tensor | None, frames: int, size: tuple[int, int],
                            prepended: bool) -> torch.Tensor | None:
    """ComfyUI MASK [B, H, W] -> [frames, H', W'] at the video size (resize + centre crop like the frames).

    B may be 1 (one map for every frame), frames - 1 when the reference pose was prepended, or frames.
    """
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3) or mask.numel() == 0:
        raise ValueError("movement_map must be a MASK [frames, height, width] (from Embody Body Movement Map).")
    mask = mask[None] if mask.ndim == 2 else mask
    maps = resize_center_crop(mask[:, None].float(), size)[:, 0]
    count = maps.shape[0]
    if count == 1:
        return maps.expand(frames, -1, -1)
    if prepended and count == frames - 1:
        return torch.cat([maps[:1], maps])
    if count != frames:
        raise ValueError(f"movement_map has {count} frames but the video has {frames} (poses"
                         f"{' + reference_pose' if prepended else ''}); give one map per pose frame or a single map.")
    return maps


def reference_keypoints_of(pose: Any) -> np.ndarray | None:
    """Person 0 of frame 0 of an EMBODY_POSE as [133, 3] normalised keypoints (None without a pose)."""
    if pose is None:
        return None
    kp = getattr(pose, "keypoints", None)
    if kp is None or kp.ndim != 4 or kp.shape[0] == 0 or kp.shape[1] == 0:
        raise ValueError("reference_keypoints must be an EMBODY_POSE with at least one frame and one person "
                         "(Embody Pose Extract on the reference image).")
    return np.asarray(kp[0, 0], dtype=np.float32)


def change_outside_share(delta: torch.Tensor, masks: torch.Tensor, threshold: float = 0.5) -> tuple[float, float]:
    """Where a latent change falls relative to predicted region masks.

    Args:
        delta: latents with the codebook minus latents without it, [F, C, h, w].
        masks: predicted masks [F, 1, h, w] (``RegionGuide.masks`` or ``window_masks``), 0..1.
        threshold: a pixel is inside a region where its mask exceeds this.
    Returns:
        (share of the squared change outside the masks, share of the area outside the masks), both 0..1.
    """
    energy = delta.float().pow(2).sum(1, keepdim=True)
    outside = (masks.float() <= threshold).float()
    total = float(energy.sum())
    return (float((energy * outside).sum()) / total if total > 0 else 0.0), float(outside.mean())
