"""MimicMotion sampler behaviour on tiny CPU models: controls, callbacks, interruption, bad input."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from models.video.conditioning import prepare_frames, resize_center_crop, to_nchw, video_size
from models.video.fusion import FusionSchedule
from models.video.sampler import SamplerSettings, sample_video

FUSION = FusionSchedule(4, 2)  # 7 frames -> [0,1,2,3], [0,3,4,5], tail [0,4,5,6]


def run(comps, frames, **kw):
    fusion = kw.pop("fusion", FUSION)
    callbacks = {k: kw.pop(k) for k in ("progress", "interrupt", "preview") if k in kw}
    settings = SamplerSettings(**{"steps": 2, "seed": 5, **kw})
    return sample_video(comps, *frames, fusion=fusion, settings=settings, **callbacks)


def count_unet_calls(unet):
    calls = []
    handle = unet.register_forward_pre_hook(lambda _m, args: calls.append(tuple(args[0].shape)))
    return calls, handle


def test_same_seed_same_output_and_seed_matters(comps, frames) -> None:
    a, b, c = run(comps, frames), run(comps, frames), run(comps, frames, seed=6)
    assert a.shape == (7, 4, 8, 8) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.allclose(a, c, atol=1e-3)


def test_controls_change_the_output(comps, frames) -> None:
    base = run(comps, frames)
    for kw in (dict(pose_strength=0.0), dict(pose_strength=2.0), dict(image_embed_strength=0.0),
               dict(noise_aug=0.1), dict(cfg_min=1.0, cfg_max=3.0), dict(motion_bucket=10.0), dict(schedule="ays"),
               dict(pose_start=0.5)):
        assert not torch.allclose(run(comps, frames, **kw), base, atol=1e-4), kw
    # Pose only on no step == pose strength 0.
    assert torch.allclose(run(comps, frames, pose_start=1.0), run(comps, frames, pose_strength=0.0), atol=1e-6)
    # 2 steps sit at fractions 0 and 0.5 of the schedule: pose_end just above 0.5 keeps both (same as the default),
    # pose_end = 0.5 drops the second one.
    assert torch.equal(run(comps, frames, pose_end=0.51), base)
    assert not torch.allclose(run(comps, frames, pose_end=0.5), base, atol=1e-4)


def test_pose_schedule_steps(comps, frames) -> None:
    s = SamplerSettings(steps=10, pose_start=0.2, pose_end=0.5)
    assert [i for i in range(10) if s.pose_active(i)] == [2, 3, 4]


def test_cfg_single_pass_and_batched(comps, frames) -> None:
    calls, h = count_unet_calls(comps.unet)
    try:
        run(comps, frames, cfg_min=1.0, cfg_max=1.0)
        assert calls == [(1, 4, 8, 8, 8)] * 6  # 3 windows x 2 steps, cond only
        calls.clear()
        run(comps, frames)
        assert calls == [(2, 4, 8, 8, 8)] * 6  # uncond + cond batched in one call
        calls.clear()
        run(comps, frames, batch_cfg=False)
        assert calls == [(1, 4, 8, 8, 8)] * 12
    finally:
        h.remove()


def test_posenet_runs_once_per_frame(comps, frames) -> None:
    calls, h = count_unet_calls(comps.pose_net)
    try:
        run(comps, frames, steps=3)
        assert sum(c[0] for c in calls) == 7
        calls.clear()
        run(comps, frames, steps=3, pose_cache_bytes=0)  # no cache: per window and step
        assert sum(c[0] for c in calls) == 3 * 3 * 4
    finally:
        h.remove()
    assert torch.allclose(run(comps, frames, pose_cache_bytes=0), run(comps, frames), atol=1e-5)


def test_progress_preview_and_interrupt_frees_memory(comps, frames) -> None:
    seen, previews = [], []
    run(comps, frames, progress=lambda d, t: seen.append((d, t)), preview=lambda s, x: previews.append(x.shape))
    assert seen == [(i, 6) for i in range(1, 7)]
    assert previews == [(7, 4, 8, 8)] * 2
    # Each preview gets that step's x0, which stays valid: not the fusion accumulator the next step zeroes.
    kept = []
    out = run(comps, frames, preview=lambda s, x: kept.append(x))
    assert len(kept) == 2 and not torch.allclose(kept[0], kept[1], atol=1e-4)
    torch.testing.assert_close(kept[-1], out)  # the last step lands on x0 (sigma' = 0)

    class Stop(Exception):
        pass

    count = []

    def interrupt():
        count.append(1)
        if len(count) == 4:  # stop inside step 2
            raise Stop

    refs = []

    def grab(step, x0):
        refs.append(weakref.ref(x0))

    with pytest.raises(Stop) as info:
        run(comps, frames, interrupt=interrupt, preview=grab)
    assert len(count) == 4
    gc.collect()
    assert refs and all(r() is None for r in refs)
    # The frames kept alive by the traceback hold no video-sized tensors any more.
    tb = info.value.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "denoise":
            big = [k for k, v in tb.tb_frame.f_locals.items() if isinstance(v, torch.Tensor) and v.numel() >= 7 * 256]
            assert big == [] or big == ["poses"], big
        tb = tb.tb_next


def test_nan_latents_stop_with_clear_error(comps, frames) -> None:
    h = comps.unet.register_forward_hook(lambda _m, _a, out: (out[0] * float("nan"),))
    try:
        with pytest.raises(FloatingPointError, match="NaN"):
            run(comps, frames)
    finally:
        h.remove()


def test_bad_settings(comps, frames) -> None:
    with pytest.raises(ValueError, match="cfg_min"):
        run(comps, frames, cfg_min=3.0, cfg_max=2.0)
    with pytest.raises(ValueError, match="pose_start"):
        run(comps, frames, pose_start=0.8, pose_end=0.2)
    with pytest.raises(ValueError, match="2\\+ frames"):
        sample_video(comps, frames[0], frames[1][:1], FUSION, SamplerSettings(steps=1))


def test_short_video_and_long_window(comps, frames) -> None:
    ref, poses = frames
    out = sample_video(comps, ref, poses[:3], FusionSchedule(16, 4), SamplerSettings(steps=1))
    assert out.shape == (3, 4, 8, 8) and torch.isfinite(out).all()


def test_frame_preprocessing() -> None:
    assert video_size(100, 70) == (64, 64) and video_size(576, 1024) == (576, 1024) and video_size(30, 30) == (64, 64)
    img = torch.rand(1, 3, 100, 150)
    out = resize_center_crop(img, (64, 64))
    assert out.shape == (1, 3, 64, 64)
    # Centre crop: a left-right symmetric image stays symmetric.
    sym = torch.cat([img, img.flip(-1)], dim=-1)
    out = resize_center_crop(sym, (64, 128))
    assert torch.allclose(out, out.flip(-1), atol=1e-5)
    ref, poses = prepare_frames(torch.rand(1, 3, 130, 70), torch.rand(5, 3, 260, 140))
    assert ref.shape == (1, 3, 128, 64) and poses.shape == (5, 3, 128, 64)
    with pytest.raises(ValueError, match="single image"):
        prepare_frames(torch.rand(2, 3, 64, 64), torch.rand(5, 3, 64, 64))
    with pytest.raises(ValueError, match="NaN"):
        to_nchw(torch.full((1, 8, 8, 3), float("nan")), "reference")
    with pytest.raises(ValueError, match="IMAGE batch"):
        to_nchw(torch.rand(8, 8, 3), "reference")
    assert to_nchw(torch.rand(2, 8, 9, 3), "pose").shape == (2, 3, 8, 9)
