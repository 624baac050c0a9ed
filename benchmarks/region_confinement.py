"""Confinement of a region codebook's effect (issue 12): how much of the latent change falls outside its masks.

Tiny MimicMotion UNet on the CPU; a codebook with random (non-zero) output layers whose mask predictors are fitted to
the box around a moving pose rectangle (tests/helpers/tiny_codebook.fit_mask_heads, the trainer's mask supervision
in miniature). Prints, per size: mask IoU with the boxes, the share of the squared latent change outside the
predicted masks (one UNet call, and a whole 4-step sampling run), and the share of the area outside.

    python -m benchmarks.region_confinement [side ...]   (default 64 128)
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from models.video.conditioning import encode_reference
from models.video.fusion import FusionSchedule
from models.video.region import RegionGuide, attach_region_codebook, change_outside_share, window_masks
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


def per_call(comps, cb, ref, poses) -> tuple[torch.Tensor, torch.Tensor]:
    """(UNet output change [7,4,h,w], masks [7,1,h,w]) of one call at a middle noise level."""
    cond = encode_reference(comps, ref, torch.Generator().manual_seed(0), "cpu")
    h = poses.shape[-1] // 8
    x = torch.cat([torch.randn(7, 4, h, h, generator=torch.Generator().manual_seed(1)),
                   cond.image_latent.expand(7, -1, -1, -1)], 1)[None]
    with torch.no_grad(), pose_residual(comps.unet, comps.pose_net(poses * 2 - 1)):
        def call():
            return comps.unet(x, torch.tensor(0.5), encoder_hidden_states=cond.clip_embed,
                              added_time_ids=cond.time_ids, return_dict=False)[0][0]
        a = call()
        with attach_region_codebook(comps.unet, cb) as handle:
            b = call()
            masks = window_masks(handle, 7, (h, h))
    assert masks is not None
    return b - a, masks


def main(sides: list[int]) -> None:
    torch.set_num_threads(2)
    comps = tiny_components()
    for side in sides:
        ref, poses, targets = scene(side)
        cb = tiny_codebook(comps.unet, trained=True, clarity=False, movement=False)
        fit_mask_heads(comps, cb, ref, poses, targets, steps=40)
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
