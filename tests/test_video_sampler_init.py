"""Starting the MimicMotion sampler from a pose warp (warp_init / init_strength, SDEdit) on tiny CPU models."""

from __future__ import annotations

import pytest
import torch

from models.video.fusion import FusionSchedule, window_indices
from models.video.init_latents import encode_frames, init_video_frames, start_step
from models.video.sampler import SamplerSettings, sample_video
from models.video.scheduler_edm import EDMEulerScheduler
from models.video.sigmas import sigma_to_timestep

FUSION = FusionSchedule(4, 2)  # 7 frames -> 3 windows


@pytest.fixture(scope="module")
def warp(frames):
    """Init frames [7, 3, 64, 64]: frame 0 the reference, then the reference shifted down a pixel per frame (a
    stand-in for a pose warp: the same person, moved)."""
    ref, poses = frames
    moved = [torch.roll(ref[0], shifts=f, dims=1) for f in range(1, poses.shape[0])]
    return torch.cat([ref, torch.stack(moved)])


def run(comps, frames, init=None, fusion=FUSION, **kw):
    settings = SamplerSettings(**{"steps": 2, "seed": 5, **kw})
    return sample_video(comps, *frames, fusion=fusion, settings=settings, init_frames=init)


def unet_calls(unet):
    calls: list[dict] = []

    def hook(_m, args, kwargs):
        calls.append({"sample": args[0].detach().clone(), "t": args[1].detach().clone()})

    return calls, unet.register_forward_pre_hook(hook, with_kwargs=True)


def test_strength_zero_or_no_init_is_bit_exact_and_encodes_nothing(comps, frames, warp) -> None:
    base = run(comps, frames)
    encodes = []
    h = comps.vae.encoder.register_forward_pre_hook(lambda _m, args: encodes.append(args[0].shape[0]))
    try:
        at_zero = run(comps, frames, warp, init_strength=0.0)
        no_init = run(comps, frames, None, init_strength=0.8)  # a strength without init frames changes nothing
    finally:
        h.remove()
    assert base.dtype == torch.float32
    assert torch.equal(at_zero, base) and torch.equal(no_init, base)
    assert encodes == [1, 1], "only the reference is encoded when the warp is not used"


def test_result_moves_towards_the_warp_latents_monotonically(comps, frames, warp) -> None:
    target = encode_frames(comps, warp, "cpu")
    assert target.shape == (7, 4, 8, 8)
    dist = []
    for s in (0.0, 0.25, 0.5, 0.75, 1.0):  # 8 steps: starts at steps 0, 2, 4, 6, 7
        out = run(comps, frames, warp, steps=8, init_strength=s)
        assert torch.isfinite(out).all()
        dist.append(float((out[1:] - target[1:]).pow(2).mean().sqrt()))
    assert all(a > b for a, b in zip(dist, dist[1:], strict=False)), dist
    assert dist[-1] < 0.1 * dist[0], dist  # from the smallest sigma the output is essentially the warp


def test_fewer_unet_calls_and_every_window_starts_at_the_start_sigma(comps, frames, warp) -> None:
    steps = 8
    windows = window_indices(7, FUSION.fitted(7))
    sigmas = EDMEulerScheduler.from_config(comps.scheduler_config).set_timesteps(steps)
    for s, start in ((0.0, 0), (0.25, 2), (0.5, 4), (0.9, 7), (1.0, 7)):
        calls, h = unet_calls(comps.unet)
        try:
            run(comps, frames, warp, steps=steps, init_strength=s)
        finally:
            h.remove()
        assert len(calls) == (steps - start) * len(windows), (s, len(calls))
        # The first pass over the video (one call per window) is at the start sigma, in every window.
        for call in calls[: len(windows)]:
            assert torch.allclose(call["t"], sigma_to_timestep(sigmas[start]).to(call["t"].dtype)), s


def test_start_latents_are_the_noised_warp(comps, frames, warp) -> None:
    """The first UNet input is (warp latents + sigma_start * noise) / sqrt(sigma_start^2 + 1): with cfg off and one
    window the whole video is seen at once, so the init can be checked exactly."""
    steps, s = 4, 0.5
    fusion = FusionSchedule(16, 4)
    target = encode_frames(comps, warp, "cpu")
    sigmas = EDMEulerScheduler.from_config(comps.scheduler_config).set_timesteps(steps)
    sig = sigmas[start_step(s, steps)]
    calls, h = unet_calls(comps.unet)
    try:
        run(comps, frames, warp, fusion=fusion, steps=steps, init_strength=s, cfg_min=1.0, cfg_max=1.0)
        run(comps, frames, None, fusion=fusion, steps=steps, cfg_min=1.0, cfg_max=1.0)
    finally:
        h.remove()
    first_init, first_noise = calls[0]["sample"][0, :, :4], calls[steps - start_step(s, steps)]["sample"][0, :, :4]
    # From pure noise the input is noise * sqrt(sigma_max^2 + 1) / sqrt(sigma_max^2 + 1) = the unit noise itself.
    noise = first_noise
    expected = (target + sig * noise) / (sig**2 + 1) ** 0.5
    torch.testing.assert_close(first_init, expected, rtol=1e-5, atol=1e-5)


def test_works_with_freenoise_and_a_single_window(comps, frames, warp) -> None:
    for fusion in (FusionSchedule(4, 2, noise="freenoise"), FusionSchedule(16, 4)):
        base = run(comps, frames, fusion=fusion, steps=4)
        out = run(comps, frames, warp, fusion=fusion, steps=4, init_strength=0.5)
        assert torch.isfinite(out).all() and not torch.allclose(out, base, atol=1e-3)
        assert torch.equal(run(comps, frames, warp, fusion=fusion, steps=4, init_strength=0.0), base)


def test_start_step_rounding_and_bounds() -> None:
    assert [start_step(s, 10) for s in (0.0, 0.04, 0.05, 0.5, 0.94, 0.95, 1.0)] == [0, 0, 1, 5, 9, 9, 9]
    assert start_step(1.0, 1) == 0  # one step: it always runs
    with pytest.raises(ValueError, match="init_strength"):
        start_step(1.5, 10)
    with pytest.raises(ValueError, match="init_strength"):
        SamplerSettings(init_strength=-0.1).validate()


def test_init_frames_put_the_reference_in_frame_zero(frames) -> None:
    ref, _ = frames
    warp = torch.rand(5, 3, 128, 96)  # another size: resized and centre-cropped like the poses
    prepended = init_video_frames(ref, warp, 5, reference_prepended=True)
    assert prepended.shape == (6, 3, 64, 64) and torch.equal(prepended[0], ref[0])
    inline = init_video_frames(ref, warp, 5, reference_prepended=False)
    assert inline.shape == (5, 3, 64, 64) and torch.equal(inline[0], ref[0])
    torch.testing.assert_close(inline[1:], prepended[2:])
    with pytest.raises(ValueError, match="warp_init has 5 frames but poses has 7"):
        init_video_frames(ref, warp, 7, reference_prepended=True)


def test_init_latents_of_the_wrong_size_are_refused(comps, frames, warp) -> None:
    with pytest.raises(ValueError, match="one \\[4, 8, 8\\] latent per video frame \\(7 frames"):
        run(comps, frames, warp[:5], init_strength=0.5)
