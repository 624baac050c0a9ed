"""Tiny region codebooks for the tiny MimicMotion UNet (tests and test workflows).

``tiny_codebook`` builds one whose widths match the UNet; ``randomize_outputs`` replaces the zero-initialised output
projections (region modules, clarity, movement) with seeded random weights so the codebook has an effect, as a
trained one would. ``write_tiny_codebook`` writes it where the loader node looks (models/embody/codebook).
"""

from __future__ import annotations

import os

import torch
from torch import nn

from models.video.region import RegionCodebook, RegionCodebookConfig, save_region_codebook


def tiny_codebook_config(unet: nn.Module, identity_dim: int = 32, **overrides: object) -> RegionCodebookConfig:
    """Stages up.0 and up.1 of the tiny UNet (64 and 32 channels), dim 32, 2 heads, small banks."""
    kw: dict = dict(stages=("up.0", "up.1"), dim=32, heads=2, spatial_tokens=8, temporal_tokens=4,
                    identity_tokens=2, mask_hidden=8, clarity_frequencies=4)
    kw.update(overrides)
    return RegionCodebookConfig.for_unet(unet, identity_dim=identity_dim, **kw)


def randomize_outputs(codebook: RegionCodebook, seed: int = 0, scale: float = 0.5) -> RegionCodebook:
    """Give every zero-initialised output layer (and the absent tokens) seeded random weights, in place."""
    g = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = [m.proj_out for _, _, m in codebook.attention_modules()]
    if codebook.clarity is not None:
        layers.append(codebook.clarity.fc2)
    if codebook.movement is not None:
        layers.append(codebook.movement.final_proj)
    with torch.no_grad():
        for layer in layers:
            for p in layer.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * scale / max(1.0, p[0].numel() ** 0.5 if p.ndim else 1.0))
        for proj in codebook.identity.values():
            p = proj.get_parameter("absent")
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return codebook


def tiny_codebook(unet: nn.Module, seed: int = 0, trained: bool = False, **overrides: object) -> RegionCodebook:
    """A tiny codebook for ``unet`` (seeded); ``trained=True`` randomises the output layers (stands in for training)."""
    torch.manual_seed(seed)
    cb = RegionCodebook(tiny_codebook_config(unet, **overrides)).eval()
    return randomize_outputs(cb, seed) if trained else cb


def write_tiny_codebook(models_dir: str, unet: nn.Module, name: str = "tiny_codebook", seed: int = 0,
                        trained: bool = False) -> str:
    """Write models_dir/embody/codebook/<name>.safetensors (+ .json); returns the safetensors path."""
    folder = os.path.join(models_dir, "embody", "codebook")
    os.makedirs(folder, exist_ok=True)
    return save_region_codebook(tiny_codebook(unet, seed, trained), os.path.join(folder, name + ".safetensors"))
