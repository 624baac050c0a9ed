"""Region codebook (CyberHost's Region Attention Module, hand clarity and body movement conditions) for the stock
diffusers SVD UNet. Public API: see the names below; the trainer (branch h12-train) builds on exactly these."""

from .attach import RegionCall, RegionHandle, attach_region_codebook
from .attention import RegionAttention, gram_schmidt, orthogonality_loss
from .codebook import (
    RegionCodebook,
    load_region_codebook,
    read_region_codebook_config,
    save_region_codebook,
    stage_key,
)
from .conditions import ClarityEmbedding, IdentityProjection, MovementMapEncoder
from .config import CROPS_PER_REGION, HAND_KEYPOINTS, REGIONS, RegionCodebookConfig, stage_module, unet_widths
from .identity import IdentityCrops, encode_identity, face_box, reference_crops, region_boxes

__all__ = [
    "CROPS_PER_REGION", "HAND_KEYPOINTS", "REGIONS", "ClarityEmbedding", "IdentityCrops", "IdentityProjection",
    "MovementMapEncoder", "RegionAttention", "RegionCall", "RegionCodebook", "RegionCodebookConfig", "RegionHandle",
    "attach_region_codebook", "encode_identity", "face_box", "gram_schmidt", "load_region_codebook",
    "orthogonality_loss", "read_region_codebook_config", "reference_crops", "region_boxes", "save_region_codebook",
    "stage_key", "stage_module", "unet_widths",
]
