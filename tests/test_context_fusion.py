"""Embody fusion for core models (models/video/context_fusion.py) and the shared per-frame CFG ramp (frame_cfg.py)."""

from __future__ import annotations

import pytest
import torch

from models.video.context_fusion import fuse_outputs, latent_schedule, shape_noise, weights_for, windows_for
from models.video.frame_cfg import frame_cfg, frame_cfg_scale
from models.video.fusion import FusionSchedule, initial_noise, window_indices, window_weights


def test_latent_schedule_converts_video_frames_to_latents() -> None:
    assert latent_schedule(FusionSchedule(), 1) == FusionSchedule().resolved("1.1")  # SVD: frames are latents
    sch = latent_schedule(FusionSchedule(window=81, overlap=30, weighting="pyramid"), 4)
    assert (sch.window, sch.overlap, sch.weighting) == (21, 8, "pyramid")  # (81-1)//4+1, ceil(30/4)
    tiny = latent_schedule(FusionSchedule(window=5, overlap=1), 4)  # 2 latents: widened to keep an anchored overlap
    assert tiny.window == 3 and tiny.overlap == 1
    with pytest.raises(ValueError, match="ratio"):
        latent_schedule(FusionSchedule(), 0)


@pytest.mark.parametrize("weighting", ["triangular", "pyramid", "overlap-linear", "flat", "gaussian"])
@pytest.mark.parametrize("anchor", [True, False])
def test_weights_for_looks_up_each_window(weighting: str, anchor: bool) -> None:
    sch = FusionSchedule(6, 2, weighting, "repeated", anchor, "official")
    wins = windows_for(15, sch)
    assert wins == window_indices(15, sch)
    for win, expected in zip(wins, window_weights(wins, sch), strict=True):
        torch.testing.assert_close(weights_for(win, 15, sch), expected)
    with pytest.raises(ValueError, match="not one of"):
        weights_for([1, 2, 3, 4, 5, 6], 15, FusionSchedule(6, 2, weighting, "repeated", True, "official"))


def test_fuse_outputs_is_the_weighted_mean() -> None:
    sch = FusionSchedule(4, 1, "triangular", "repeated", True, "official")
    wins = windows_for(8, sch)
    weights = window_weights(wins, sch)
    outs = [torch.full((1, 2, len(w), 1, 1), float(j + 1)) for j, w in enumerate(wins)]
    fused = fuse_outputs(outs, wins, weights, 8, dim=2)
    # frame 0 is in every window: the weight-averaged window number
    w0 = torch.stack([w[0] for w in weights])
    expected0 = (w0 * torch.arange(1, len(wins) + 1)).sum() / w0.sum()
    torch.testing.assert_close(fused[0, 0, 0, 0, 0], expected0)
    assert fused[0, 0, 1, 0, 0] == 1.0 and fused[0, 0, 7, 0, 0] == float(len(wins))


def test_repeated_noise_tiles_the_first_window_along_dim() -> None:
    sch = FusionSchedule(4, 1, "triangular", "repeated", True, "official")
    noise = torch.randn(1, 3, 10, 2, 2, generator=torch.Generator().manual_seed(0))
    out = shape_noise(noise.clone(), 2, sch, None)
    for k in range(10):
        torch.testing.assert_close(out[:, :, k], noise[:, :, k % 4])
    same = shape_noise(noise.clone(), 2, FusionSchedule(4, 1, "triangular", "independent"), None)
    torch.testing.assert_close(same, noise)


def test_freenoise_matches_embody_sampler_noise() -> None:
    """The same generator state gives the same FreeNoise shuffles as Embody Sampler's initial noise."""
    sch = FusionSchedule(5, 2, "triangular", "freenoise", True, "official")
    ref = initial_noise((3, 2, 2), 14, sch, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    base = torch.randn((1, 5, 3, 2, 2), generator=gen)[0]
    noise = torch.zeros(1, 3, 14, 2, 2)
    noise[:, :, :5] = base.movedim(0, 1)
    out = shape_noise(noise, 2, sch, gen)
    torch.testing.assert_close(out.movedim(2, 0)[:, 0], ref)


def test_frame_cfg_ramp() -> None:
    scale = frame_cfg_scale(5, 1.0, 3.0, ndim=5, dim=2)
    assert scale.shape == (1, 1, 5, 1, 1)
    torch.testing.assert_close(scale.flatten(), torch.tensor([1.0, 1.5, 2.0, 2.5, 3.0]))
    cond, uncond = torch.ones(1, 2, 5, 1, 1), torch.zeros(1, 2, 5, 1, 1)
    torch.testing.assert_close(frame_cfg(cond, uncond, 1.0, 3.0, dim=2)[0, 0, :, 0, 0], scale.flatten())
    with pytest.raises(ValueError, match="outside"):
        frame_cfg_scale(5, 1.0, 2.0, ndim=4, dim=4)
