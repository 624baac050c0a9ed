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


def fit_mask_heads(comps, codebook: RegionCodebook, reference: torch.Tensor, poses: torch.Tensor,
                   targets: torch.Tensor, steps: int = 60, seed: int = 0, lr: float = 3e-2) -> list[float]:
    """Train only the mask predictors to output ``targets`` [F, 1, h, w] (0/1 at the latent size), as the trainer's
    mask supervision does, on single UNet calls at random noise levels; returns the loss per step.

    Stands in for a trained codebook whose masks mean something, so confinement can be measured on the CPU.
    """
    import torch.nn.functional as F

    from models.video.conditioning import encode_reference
    from models.video.region import attach_region_codebook
    from models.video.unet_hook import pose_residual

    g = torch.Generator().manual_seed(seed)
    cond = encode_reference(comps, reference, torch.Generator().manual_seed(seed), "cpu")
    with torch.no_grad():
        pose_feats = comps.pose_net(poses * 2.0 - 1.0)
        clean = comps.vae.encode(poses * 2.0 - 1.0).latent_dist.mode() * comps.vae_scaling_factor
    heads = [p for _, _, m in codebook.attention_modules() for p in m.mask_head.parameters()]
    opt = torch.optim.Adam(heads, lr=lr)
    losses = []
    n = poses.shape[0]
    for _ in range(steps):
        sigma = float(torch.exp(torch.empty(1).uniform_(-1.0, 3.0, generator=g)))
        noisy = clean + sigma * torch.randn(clean.shape, generator=g)
        x = torch.cat([noisy / (sigma**2 + 1) ** 0.5, cond.image_latent.expand(n, -1, -1, -1)], 1)[None]
        t = torch.tensor(0.25 * torch.log(torch.tensor(sigma)).item())
        with attach_region_codebook(comps.unet, codebook) as handle, pose_residual(comps.unet, pose_feats):
            comps.unet(x, t, encoder_hidden_states=cond.clip_embed, added_time_ids=cond.time_ids, return_dict=False)
            loss = sum(F.binary_cross_entropy(m, F.interpolate(targets, size=m.shape[-2:], mode="area"))
                       for per in handle.masks.values() for m in per.values())
        opt.zero_grad()
        assert isinstance(loss, torch.Tensor)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    comps.unet.zero_grad(set_to_none=True)
    return losses
