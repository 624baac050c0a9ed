"""Region codebook in the MimicMotion sampler (issue 12): exactness, effect, confinement, conditions, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.video.fusion import FusionSchedule
from models.video.region import RegionGuide, movement_maps_for_video, reference_identity, resolve_clarity
from models.video.sampler import SamplerSettings, sample_video
from tests.helpers.tiny_codebook import tiny_codebook

FUSION = FusionSchedule(4, 2)  # 7 frames -> 3 overlapping windows


def run(comps, frames, regions=None, **kw):
    settings = SamplerSettings(**{"steps": 2, "seed": 5, **kw})
    return sample_video(comps, *frames, fusion=FUSION, settings=settings, regions=regions)


def _maps() -> torch.Tensor:
    maps = torch.zeros(7, 64, 64)
    maps[:, 16:48, 12:52] = 1.0
    return maps


@pytest.mark.parametrize("cfg", [2.0, 1.0])
def test_untrained_codebook_gives_bit_identical_latents(comps, frames, cfg):
    base = run(comps, frames, cfg_min=cfg, cfg_max=cfg)
    cb = tiny_codebook(comps.unet)
    kp = np.zeros((133, 3), np.float32)
    kp[91:112] = [0.3, 0.5, 0.9]  # a left hand (a single point repeated: a tiny box)
    ident = reference_identity(comps, cb, frames[0], kp, "cpu")
    guide = RegionGuide(cb, ident, hand_clarity=50.0, movement_maps=_maps(), collect_masks=True)
    out = run(comps, frames, guide, cfg_min=cfg, cfg_max=cfg)
    assert torch.equal(out, base)
    assert guide.masks is not None and guide.masks.shape == (7, 1, 8, 8)


def test_trained_codebook_changes_latents_and_strength_zero_does_not(comps, frames):
    base = run(comps, frames)
    cb = tiny_codebook(comps.unet, trained=True)
    out = run(comps, frames, RegionGuide(cb))
    assert (out - base).abs().max() > 1e-3
    assert torch.equal(run(comps, frames, RegionGuide(cb, strength=0.0)), base)
    # movement and clarity each reach the UNet through the sampler
    with_move = run(comps, frames, RegionGuide(cb, movement_maps=_maps()))
    with_clar = run(comps, frames, RegionGuide(cb, hand_clarity=80.0))
    assert (with_move - out).abs().max() > 1e-4 and (with_clar - out).abs().max() > 1e-4
    # hooks are gone afterwards
    assert torch.equal(run(comps, frames), base)


def test_movement_maps_for_video_counts_and_errors():
    one = torch.ones(1, 32, 48)
    assert movement_maps_for_video(one, 5, (64, 64), False).shape == (5, 64, 64)
    four = torch.rand(4, 64, 64)
    got = movement_maps_for_video(four, 5, (64, 64), True)
    assert torch.equal(got[0], four[0]) and torch.equal(got[1:], four)
    with pytest.raises(ValueError, match="movement_map has 3 frames but the video has 5"):
        movement_maps_for_video(torch.rand(3, 64, 64), 5, (64, 64), False)


def test_clarity_input_meaning(comps):
    cb = tiny_codebook(comps.unet)
    assert resolve_clarity(cb, -1.0) is None  # no high value recorded -> off
    cb.config.clarity_high = 42.0
    assert resolve_clarity(cb, -1.0) == 42.0 and resolve_clarity(cb, 0.0) is None and resolve_clarity(cb, 7.0) == 7.0
    assert resolve_clarity(tiny_codebook(comps.unet, clarity=False), 7.0) is None


def test_movement_map_with_codebook_without_encoder_is_a_clear_error(comps, frames):
    cb = tiny_codebook(comps.unet, movement=False)
    with pytest.raises(ValueError, match="movement-map encoder"):
        run(comps, frames, RegionGuide(cb, movement_maps=_maps()))


def test_change_concentrates_in_the_predicted_masks(comps):
    """Confinement (issue 12): with fitted masks, what each module adds is confined to its own mask (< 25% of the
    added energy where its mask is <= 0.5 at the finest stage; measured 7-15% after 30-40 fitting steps, 88% with
    the mask product removed), and one UNet call's change is concentrated inside the predicted masks.

    Numbers (module output, a probe confined exactly to the box, one UNet call, 4-step sampling) are in
    benchmarks/region_confinement.py: the UNet blocks after a module spread even a perfectly confined change (probe:
    ~50% outside at the UNet output), so the issue's < 10% holds at the module's output, not end to end.
    """
    from benchmarks.region_confinement import per_call, scene
    from models.video.region import change_outside_share
    from tests.helpers.tiny_codebook import fit_mask_heads

    ref, poses, targets = scene(64)
    cb = tiny_codebook(comps.unet, trained=True, clarity=False, movement=False)
    losses = fit_mask_heads(comps, cb, ref, poses, targets, steps=30)
    assert losses[-1] < 0.6 * losses[0]
    modules: dict = {}
    delta, masks = per_call(comps, cb, ref, poses, modules)
    finest = cb.config.stages[-1]  # up.1: the latent resolution (the 4x4 stage's masks are too coarse for the box)
    for region in cb.config.regions:
        added, mask = modules[(region, finest)]
        share, area_out = change_outside_share(added, mask)
        # the module output is out - in = proj_out(z) * M: without the mask product this is about the area share
        assert share < 0.25 and area_out > 0.8, (region, share, area_out)
    outside, area = change_outside_share(delta, masks)
    assert 0.5 < area < 0.97  # the masks found a region, not everything or nothing
    # change per unit area inside the masks vs outside (measured 64 px: ~5x; 1 = no confinement)
    concentration = ((1 - outside) / (1 - area)) / (outside / area)
    assert concentration > 2.5, (outside, area)
    # switching the mask gate off (mask = 1 everywhere) spreads the change over the frame
    for _, _, m in cb.attention_modules():
        with torch.no_grad():
            m.mask_head[2].bias.fill_(1e4)
    delta_open, _ = per_call(comps, cb, ref, poses)
    open_outside = change_outside_share(delta_open, masks)[0]
    assert ((1 - open_outside) / (1 - area)) / (open_outside / area) < 0.5 * concentration, open_outside
