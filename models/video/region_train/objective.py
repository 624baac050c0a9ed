"""One forward pass of the frozen MimicMotion UNet with a region codebook attached, and its training losses.

The UNet call is the sampler's (models.video.sampler._UNetCaller, conditional branch): noisy latents scaled by
1 / sqrt(sigma^2 + 1) concatenated with the reference's VAE latent, the CLIP image embedding as cross-attention
context, SVD's three added time ids, PoseNet features added to conv_in (models.video.unet_hook.pose_residual), and
the codebook's own conditions (identity tokens, hand clarity, body movement map) set on its handle.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..components import VideoComponents
from ..conditioning import encode_reference
from ..region import RegionCodebook, attach_region_codebook, encode_identity
from ..sigmas import sigma_to_timestep
from ..unet_hook import pose_residual
from .data import RegionBatch, RegionDataset
from .losses import (
    LossConfig,
    heatmap_gate,
    heatmap_l2,
    loss_weight,
    mask_bce,
    noisy_input,
    region_split_losses,
    sample_sigmas,
    weighted_diffusion_loss,
)


@dataclass
class ClipCondition:
    """Reference conditioning of one clip, on the CPU: clip_embed [1, 1, D], image_latent [1, 4, h, w],
    time_ids [1, 3], identity {region: (embeds [1, crops, D], present [1, crops])}."""

    clip_embed: torch.Tensor
    image_latent: torch.Tensor
    time_ids: torch.Tensor
    identity: dict[str, tuple[torch.Tensor, torch.Tensor]]


@torch.no_grad()
def encode_clip_conditions(components: VideoComponents, dataset: RegionDataset, regions: tuple[str, ...],
                           device: torch.device | str, noise_aug: float = 0.0) -> list[ClipCondition]:
    """Encode every clip's reference once (CLIP embedding, VAE latent, identity crops through CLIP)."""
    out = []
    for clip in dataset.clips:
        ref = torch.from_numpy(clip.reference).permute(2, 0, 1)[None].float() / 255.0
        gen = torch.Generator().manual_seed(0)
        cond = encode_reference(components, ref, gen, device, noise_aug=noise_aug)
        ident = encode_identity(components.image_encoder, ref, clip.reference_keypoints, regions,
                                components.image_mean, components.image_std, components.image_size, device,
                                components.dtype)
        out.append(ClipCondition(cond.clip_embed.float().cpu(), cond.image_latent.float().cpu(),
                                 cond.time_ids.float().cpu(), ident))
    return out


@dataclass
class StepOutput:
    loss: torch.Tensor
    log: dict[str, float]
    v_pred: torch.Tensor
    v_target: torch.Tensor
    masks: dict[str, torch.Tensor]  # region -> predicted mask at latent size [B, n, h, w] (mean over stages)


def _stack(conds: list[ClipCondition], picks: list[int], name: str) -> torch.Tensor:
    return torch.cat([getattr(conds[i], name) for i in picks])


def run_step(components: VideoComponents, codebook: RegionCodebook, conds: list[ClipCondition], batch: RegionBatch,
             cfg: LossConfig, generator: torch.Generator, device: torch.device, use_identity: bool = True,
             autocast_dtype: torch.dtype | None = None, sigma: torch.Tensor | None = None,
             backward_scale: float | None = None) -> StepOutput:
    """Noise the batch, run the UNet with the codebook and PoseNet attached, and compute every loss.

    sigma: fixed noise levels [B] (evaluation); None draws them (EDM log-normal).
    backward_scale: run ``(loss * backward_scale).backward()`` while the hooks are still attached (gradient
    checkpointing recomputes UNet blocks in the backward pass, and they must see the same codebook and pose hooks).
    """
    with ExitStack() as stack:
        return _run_step(stack, components, codebook, conds, batch, cfg, generator, device, use_identity,
                         autocast_dtype, sigma, backward_scale)


def _run_step(stack: ExitStack, components: VideoComponents, codebook: RegionCodebook, conds: list[ClipCondition],
              batch: RegionBatch, cfg: LossConfig, generator: torch.Generator, device: torch.device,
              use_identity: bool, autocast_dtype: torch.dtype | None, sigma: torch.Tensor | None,
              backward_scale: float | None) -> StepOutput:
    b, n = batch.latents.shape[:2]
    x0 = batch.latents.to(device)
    sig = sample_sigmas(b, cfg, generator) if sigma is None else sigma.float().cpu()
    noise = torch.randn(x0.shape, generator=generator).to(device)
    x_in, v_target = noisy_input(x0, noise, sig.to(device))
    dtype = components.dtype
    ref = _stack(conds, batch.clips, "image_latent").to(device)[:, None].expand(-1, n, -1, -1, -1)
    sample = torch.cat([x_in, ref], dim=2).to(dtype)
    embed = _stack(conds, batch.clips, "clip_embed").to(device=device, dtype=dtype)
    time_ids = _stack(conds, batch.clips, "time_ids").to(device=device, dtype=dtype)
    t = sigma_to_timestep(sig).to(device)
    with torch.no_grad():
        pose = components.pose_net((batch.poses * 2.0 - 1.0).to(device=device, dtype=dtype))
    identity: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None
    if use_identity:
        identity = {}
        for region in codebook.config.regions:
            emb = torch.cat([conds[i].identity[region][0] for i in batch.clips]).to(device)
            present = torch.cat([conds[i].identity[region][1] for i in batch.clips]).to(device)
            identity[region] = (emb, present)
    amp: Any = (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None
                else torch.autocast(device.type, enabled=False))
    handle = stack.enter_context(attach_region_codebook(components.unet, codebook))
    stack.enter_context(pose_residual(components.unet, pose))
    with amp:
        handle.identity = identity
        if codebook.clarity is not None:
            handle.clarity = batch.clarity.to(device)
        if codebook.movement is not None:
            maps = batch.movement.to(device).repeat_interleave(n, dim=0)
            handle.movement = handle.encode_movement(maps)
        v_pred = components.unet(sample, t, encoder_hidden_states=embed, added_time_ids=time_ids,
                                 return_dict=False)[0]
        masks, heatmaps = handle.masks, handle.heatmaps
    v_pred = v_pred.float()
    region_mask = batch.masks.to(device)
    weight = loss_weight(region_mask, batch.hand_mask.to(device), cfg)
    valid = batch.valid.to(device)
    diff = weighted_diffusion_loss(v_pred, v_target, weight, valid)
    log = {"diffusion": float(diff.detach())}
    total = diff
    mask_losses, mean_masks = [], {}
    h, w = region_mask.shape[-2:]
    for region in codebook.config.regions:
        target = region_mask[:, :, _region_index(region)].reshape(b * n, h, w)
        per_stage = []
        for pred in masks.get(region, {}).values():
            mask_losses.append(mask_bce(pred, target))
            per_stage.append(torch.nn.functional.interpolate(pred.detach().float(), size=(h, w), mode="bilinear",
                                                             align_corners=False))
        if per_stage:
            mean_masks[region] = torch.stack(per_stage).mean(0).reshape(b, n, h, w)
    if mask_losses:
        mloss = torch.stack(mask_losses).mean()
        log["mask"] = float(mloss.detach())
        total = total + cfg.mask_weight * mloss
    if heatmaps and cfg.heatmap_weight > 0:
        gate = heatmap_gate(sig, cfg, generator).repeat_interleave(n).to(device)
        target = batch.heatmaps.to(device).reshape(b * n, *batch.heatmaps.shape[2:])
        hw = batch.heat_weight.to(device).reshape(b * n, -1)
        hloss = torch.stack([heatmap_l2(p.float(), target, hw, gate) for p in heatmaps.values()]).mean()
        log["heatmap"] = float(hloss.detach())
        total = total + cfg.heatmap_weight * hloss
    if cfg.orthogonality_weight > 0:
        oloss = codebook.orthogonality_loss()
        log["orthogonality"] = float(oloss.detach())
        total = total + cfg.orthogonality_weight * oloss
    log.update(region_split_losses(v_pred, v_target, region_mask))
    log["loss"] = float(total.detach())
    if backward_scale is not None:
        (total * backward_scale).backward()
    return StepOutput(total, log, v_pred.detach(), v_target.detach(), mean_masks)


def _region_index(region: str) -> int:
    from .regions import REGIONS

    return REGIONS.index(region)


@torch.no_grad()
def evaluate(components: VideoComponents, codebook: RegionCodebook, conds: list[ClipCondition],
             dataset: RegionDataset, cfg: LossConfig, device: torch.device, frames: int,
             sigmas: tuple[float, ...] = (0.3, 1.0, 3.0), seed: int = 1234, use_identity: bool = True,
             ) -> dict[str, float]:
    """Diffusion loss inside / outside the regions and mask IoU per region, over every clip at fixed noise levels
    and noise (the same numbers for the same weights)."""
    from .regions import mask_iou

    codebook.eval()
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    ins: list[float] = []
    outs: list[float] = []
    ious: dict[str, list[float]] = {r: [] for r in codebook.config.regions}
    for ci in range(len(dataset.clips)):
        batch = dataset.batch(1, frames, rng, picks=[ci])
        for s in sigmas:
            out = run_step(components, codebook, conds, batch, cfg, gen, device, use_identity,
                           sigma=torch.tensor([s]))
            ins.append(out.log["diff_in"])
            outs.append(out.log["diff_out"])
        for region, pred in out.masks.items():
            target = batch.masks[:, :, _region_index(region)]
            for f in range(target.shape[1]):
                iou = mask_iou(pred[0, f].cpu().numpy(), target[0, f].numpy())
                if not np.isnan(iou):
                    ious[region].append(iou)
    res = {"diff_in": float(np.nanmean(ins)), "diff_out": float(np.nanmean(outs))}
    for region, vals in ious.items():
        res[f"iou_{region}"] = float(np.mean(vals)) if vals else float("nan")
    return res
