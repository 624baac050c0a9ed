"""Identity descriptors: crops of the reference image around the face and hands, encoded by the SVD CLIP encoder.

CyberHost encodes the face crop with ArcFace and the hand crops with a trained ResNet-18; neither can ship, so
Embody uses the CLIP image encoder the video model already loads (its ``image_embeds``, width = projection_dim) and
the codebook's trainable ``IdentityProjection``.

Boxes come from the reference pose (COCO-WholeBody, x/y normalised 0..1):
* face: bounding box of the face keypoints (23..90) with confidence >= 0.3 (at least 5), grown 1.25x, square;
* hands: ``models.hands.clarity.hand_box`` (hand keypoints, else the OpenPose wrist/elbow rule), the same boxes the
  hand clarity score uses.

Fallback (documented in the README): a crop without a box (hand not visible, face turned away, no pose) is marked
absent; the codebook then uses its learned "absent" tokens for that slot (zero until trained) and the region
module still runs on its latent banks, so a reference with no visible hands works.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...hands.clarity import BOX_SCALE, MIN_BOX_PX, MIN_HAND_POINTS, hand_box
from ...pose.layout import CONFIDENCE_GATE as KEYPOINT_GATE
from ...pose.layout import FACE
from .config import CROPS_PER_REGION

Box = tuple[float, float, float]  # centre x, centre y, side (pixels)


@dataclass
class IdentityCrops:
    """Crops of one reference: pixels [crops, 3, S, S] in 0..1 (zeros where absent) and present bool [crops]."""

    pixels: torch.Tensor
    present: torch.Tensor


def face_box(points: np.ndarray) -> Box | None:
    """Square face box in pixels from keypoints [133, 3] (pixels), or None with fewer than 5 confident points."""
    pts = np.where(np.isfinite(points).all(axis=-1, keepdims=True), points, 0.0)[FACE]
    good = pts[:, 2] >= KEYPOINT_GATE
    if int(good.sum()) < MIN_HAND_POINTS:
        return None
    lo, hi = pts[good, :2].min(axis=0), pts[good, :2].max(axis=0)
    c = (lo + hi) / 2.0
    return float(c[0]), float(c[1]), max(float((hi - lo).max()) * BOX_SCALE, MIN_BOX_PX)


def region_boxes(keypoints: np.ndarray, width: int, height: int, region: str) -> list[Box | None]:
    """Boxes of a region (face: [face]; hands: [subject's left, subject's right]) from normalised keypoints [133, 3]."""
    pts = np.asarray(keypoints, dtype=np.float32).copy()
    if pts.shape != (133, 3):
        raise ValueError(f"Reference keypoints must be [133, 3] (COCO-WholeBody); got {pts.shape}.")
    pts[:, 0] *= width
    pts[:, 1] *= height
    if region == "face":
        return [face_box(pts)]
    if region == "hands":
        return [hand_box(pts, 0), hand_box(pts, 1)]
    raise ValueError(f"Unknown region {region!r}.")


def crop_square(image: torch.Tensor, box: Box, side: int) -> torch.Tensor:
    """Bilinear crop of ``image`` [3, H, W] around ``box`` resampled to [3, side, side]; outside the image is 0."""
    _, h, w = image.shape
    cx, cy, s = box
    lin = (torch.arange(side, dtype=torch.float32) + 0.5) / side - 0.5  # -0.5..0.5
    xs = (cx + lin * s) / w * 2.0 - 1.0
    ys = (cy + lin * s) / h * 2.0 - 1.0
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)[None].to(image.device)
    return F.grid_sample(image[None].float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]


def reference_crops(reference: torch.Tensor, keypoints: np.ndarray | None, region: str, side: int) -> IdentityCrops:
    """Crops of ``reference`` [1 or none, 3, H, W] (0..1) for ``region``; keypoints None = every crop absent."""
    img = reference[0] if reference.ndim == 4 else reference
    n = CROPS_PER_REGION[region]
    pixels = torch.zeros(n, 3, side, side)
    present = torch.zeros(n, dtype=torch.bool)
    if keypoints is not None:
        for i, box in enumerate(region_boxes(keypoints, img.shape[-1], img.shape[-2], region)):
            if box is not None:
                pixels[i] = crop_square(img.cpu(), box, side)
                present[i] = True
    return IdentityCrops(pixels, present)


@torch.no_grad()
def encode_identity(image_encoder: nn.Module, reference: torch.Tensor, keypoints: np.ndarray | None,
                    regions: tuple[str, ...], mean: tuple[float, float, float], std: tuple[float, float, float],
                    side: int, device: torch.device | str, dtype: torch.dtype,
                    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """CLIP embeddings of the reference's region crops.

    Args:
        image_encoder: transformers CLIPVisionModelWithProjection (the video model's).
        reference: [1, 3, H, W] 0..1. keypoints: the reference pose's person [133, 3] normalised, or None.
        regions: region names. mean, std, side: CLIP preprocessing (VideoComponents.image_mean/std/size).
    Returns:
        {region: (embeds [1, crops, projection_dim] float32 CPU, present bool [1, crops])}; absent crops are not
        encoded (their embeddings are zeros and the projection replaces them with learned tokens).
    """
    out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    for region in regions:
        crops = reference_crops(reference, keypoints, region, side)
        width = int(getattr(getattr(image_encoder, "config", None), "projection_dim", 0) or 0)
        embeds = torch.zeros(1, crops.present.shape[0], width)
        if bool(crops.present.any()):
            idx = crops.present.nonzero().flatten()
            pix = ((crops.pixels[idx] - m) / s).to(device=device, dtype=dtype)
            emb = image_encoder(pix).image_embeds.float().cpu()
            if embeds.shape[-1] != emb.shape[-1]:
                embeds = torch.zeros(1, crops.present.shape[0], emb.shape[-1])
            embeds[0, idx] = emb
        out[region] = (embeds, crops.present[None])
    return out
