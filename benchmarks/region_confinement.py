"""Confinement of a region codebook's effect (issue 12): how much of the latent change falls outside its masks.

Tiny MimicMotion UNet on the CPU; a codebook with random (non-zero) output layers whose mask predictors are fitted to
the box around a moving pose rectangle (tests/helpers/tiny_codebook.fit_mask_heads, the trainer's mask supervision
in miniature). The share of the squared change that falls where the predicted mask is <= 0.5 is measured at three
places, because they answer different questions:

1. at each module's own output (what the Region Attention Module adds, out - in = proj_out(z) * M, CyberHost's
   F_out = (F_motion + F_id) * M_r + F_in): confined by construction up to the soft mask's tail outside the box;
2. at the UNet's output for one call: the UNet blocks after the module (the stage's spatial self-attention, the
   upsampler's and later resnets' 3x3 convs, GroupNorm statistics, conv_out) spread what the module added;
3. over a 4-step sampling run: each step's change feeds the next call, which spreads it again.

To separate the module from the UNet, a probe adds random features confined exactly to the box (zero outside, by
construction) at the same stage: its share outside at the UNet output is the UNet's own propagation, which no module
at that stage can undo.

    python -m benchmarks.region_confinement [side ...]   (default 64 128)
"""

from __future__ import annotations

import sys
from typing import Any

import torch
import torch.nn.functional as F

from models.video.conditioning import encode_reference
from models.video.fusion import FusionSchedule
from models.video.region import (
    RegionCodebook,
    RegionGuide,
    attach_region_codebook,
    change_outside_share,
    stage_module,
    window_masks,
)
from models.video.sampler import SamplerSettings, sample_video
from models.video.unet_hook import pose_residual
from tests.helpers.tiny_codebook import fit_mask_heads, tiny_codebook
from tests.helpers.tiny_mimicmotion import tiny_components


def scene(side: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reference [1,3,S,S], poses [7,3,S,S] (a moving white rectangle), latent-size box targets [7,1,S/8,S/8]."""
    g = torch.Generator().manual_seed(0)
    ref = F.interpolate(torch.rand(1, 3, 16, 16, generator=g), size=(side, side), mode="bilinear")
    k = side // 64
    poses, box = torch.zeros(7, 3, side, side), torch.zeros(7, 1, side, side)
    for f in range(7):
        poses[f, :, k * (20 + 2 * f) : k * (30 + 2 * f), k * 10 : k * 40] = 1.0
        box[f, :, k * (16 + 2 * f) : k * (34 + 2 * f), k * 8 : k * 40] = 1.0
    return ref, poses, (F.interpolate(box, size=(side // 8, side // 8), mode="area") > 0.5).float()


def _call_inputs(comps: Any, ref: torch.Tensor, poses: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor]:
    cond = encode_reference(comps, ref, torch.Generator().manual_seed(0), "cpu")
    h = poses.shape[-1] // 8
    x = torch.cat([torch.randn(7, 4, h, h, generator=torch.Generator().manual_seed(1)),
                   cond.image_latent.expand(7, -1, -1, -1)], 1)[None]
    return cond, x, comps.pose_net(poses * 2 - 1)


def _unet(comps: Any, cond: Any, x: torch.Tensor) -> torch.Tensor:
    return comps.unet(x, torch.tensor(0.5), encoder_hidden_states=cond.clip_embed, added_time_ids=cond.time_ids,
                      return_dict=False)[0][0]


@torch.no_grad()
def per_call(comps: Any, cb: RegionCodebook, ref: torch.Tensor, poses: torch.Tensor,
             modules: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(UNet output change [7,4,h,w], union masks [7,1,h,w]) of one call at a middle noise level.

    modules: if a dict, filled with {(region, stage): (added [7, C, h', w'], that module's mask [7, 1, h', w'])}.
    """
    cond, x, pose = _call_inputs(comps, ref, poses)
    h = poses.shape[-1] // 8
    with pose_residual(comps.unet, pose):
        a = _unet(comps, cond, x)
        with attach_region_codebook(comps.unet, cb) as handle:
            handle.record_added = modules is not None
            b = _unet(comps, cond, x)
            masks = window_masks(handle, 7, (h, h))
            if modules is not None and handle.last is not None:
                for region, per in handle.last.added.items():
                    for stage, added in per.items():
                        modules[(region, stage)] = (added, handle.masks[region][stage].float())
    assert masks is not None
    return b - a, masks


def module_shares(comps: Any, cb: RegionCodebook, ref: torch.Tensor, poses: torch.Tensor,
                  ) -> dict[tuple[str, str], tuple[float, float]]:
    """{(region, stage): (share of the module's added energy outside its own mask, share of the area outside)}."""
    modules: dict = {}
    per_call(comps, cb, ref, poses, modules)
    return {k: change_outside_share(added, mask) for k, (added, mask) in modules.items()}


@torch.no_grad()
def box_probe_share(comps: Any, stage: str, ref: torch.Tensor, poses: torch.Tensor, targets: torch.Tensor,
                    scale: float = 0.5) -> tuple[float, float]:
    """UNet propagation alone: add seeded random features that are exactly zero outside the box at ``stage``'s
    output; returns (share of the UNet output change outside the box, share of the area outside)."""
    cond, x, pose = _call_inputs(comps, ref, poses)
    module = stage_module(comps.unet, stage)

    def hook(_m: Any, _i: Any, out: torch.Tensor) -> torch.Tensor:
        box = (F.interpolate(targets, size=out.shape[-2:], mode="area") > 0.5).to(out)
        noise = torch.randn(out.shape, generator=torch.Generator().manual_seed(2)).to(out)
        return out + scale * out.std() * noise * box

    with pose_residual(comps.unet, pose):
        a = _unet(comps, cond, x)
        handle = module.register_forward_hook(hook)
        try:
            b = _unet(comps, cond, x)
        finally:
            handle.remove()
    return change_outside_share(b - a, targets)


def main(sides: list[int]) -> None:
    torch.set_num_threads(2)
    comps = tiny_components()
    for side in sides:
        ref, poses, targets = scene(side)
        cb = tiny_codebook(comps.unet, trained=True, clarity=False, movement=False)
        fit_mask_heads(comps, cb, ref, poses, targets, steps=40)
        for (region, stage), (share, area) in module_shares(comps, cb, ref, poses).items():
            print(f"{side}px {region} {stage}: module output {share:.1%} of the added change outside its mask "
                  f"({area:.1%} of the area)")
        for stage in cb.config.stages:
            share, area = box_probe_share(comps, stage, ref, poses, targets)
            print(f"{side}px probe confined exactly to the box at {stage}: {share:.1%} of the UNet output change "
                  f"outside the box ({area:.1%} of the area) = the UNet's own spreading")
        delta, masks = per_call(comps, cb, ref, poses)
        iou = float(((masks > 0.5) & (targets > 0.5)).sum() / ((masks > 0.5) | (targets > 0.5)).sum())
        call_out, area_out = change_outside_share(delta, masks)
        fus, st = FusionSchedule(4, 2), SamplerSettings(steps=4, seed=5)
        base = sample_video(comps, ref, poses, fusion=fus, settings=st)
        guide = RegionGuide(cb, collect_masks=True)
        out = sample_video(comps, ref, poses, fusion=fus, settings=SamplerSettings(steps=4, seed=5), regions=guide)
        assert guide.masks is not None
        run_out, run_area = change_outside_share(out - base, guide.masks)
        print(f"{side}px: mask IoU {iou:.2f} | one UNet call: {call_out:.1%} of the change outside the masks "
              f"({area_out:.1%} of the area) | 4-step sampling: {run_out:.1%} outside ({run_area:.1%} of the area)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [64, 128])
