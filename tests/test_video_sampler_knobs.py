"""Each MimicMotion sampler control reaches the UNet input it is meant for (issue 7 section 5).

Forward hooks on the public modules record what the UNet actually receives per call: ``added_time_ids``
(fps_condition, motion_bucket, noise_aug), ``encoder_hidden_states`` (image_embed_strength) and the PoseNet residual
added after ``conv_in`` (pose_strength, pose_start, pose_end, per step), measured as (input of the first down block)
minus (raw conv_in output). Only the public entry points are used: ``sample_video`` and the modules' hooks.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from models.video.fusion import FusionSchedule, window_indices
from models.video.sampler import SamplerSettings, sample_video

FUSION = FusionSchedule(4, 2)  # 7 frames -> 3 windows


@contextmanager
def recorded(unet: torch.nn.Module):
    """Per UNet call: its kwargs, and the residual added between conv_in and the first down block."""
    calls: list[dict] = []
    raw: list[torch.Tensor] = []

    def on_unet(_m, args, kwargs):
        calls.append({"sample": args[0].clone(), "ehs": kwargs["encoder_hidden_states"].clone(),
                      "time_ids": kwargs["added_time_ids"].clone()})

    def on_conv_in(_m, _args, output):
        raw.append(output.detach().clone())  # prepend=True: before any pose hook changes it

    def on_down(_m, args, kwargs):
        hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        calls[-1]["residual"] = hidden.detach() - raw[-1]

    handles = [unet.register_forward_pre_hook(on_unet, with_kwargs=True),
               unet.conv_in.register_forward_hook(on_conv_in, prepend=True),
               unet.down_blocks[0].register_forward_pre_hook(on_down, with_kwargs=True)]
    try:
        yield calls
    finally:
        for h in handles:
            h.remove()


def run(comps, frames, **kw) -> list[dict]:
    settings = SamplerSettings(**{"steps": 2, "seed": 5, "batch_cfg": True, **kw})
    with recorded(comps.unet) as calls:
        sample_video(comps, *frames, fusion=FUSION, settings=settings)
    assert len(calls) == settings.steps * len(window_indices(frames[1].shape[0], FUSION.fitted(7)))
    return calls


def test_time_id_controls_reach_added_time_ids(comps, frames) -> None:
    for fps, bucket, aug in ((6.0, 127.0, 0.0), (9.0, 50.0, 0.05), (1.0, 255.0, 0.3)):
        calls = run(comps, frames, fps_condition=fps, motion_bucket=bucket, noise_aug=aug)
        for call in calls:
            ids = call["time_ids"]
            assert ids.shape == (2, 3)  # uncond + cond batched
            assert torch.allclose(ids, torch.tensor([[fps, bucket, aug]] * 2, dtype=ids.dtype)), (ids, fps, bucket)


def test_image_embed_strength_scales_encoder_hidden_states(comps, frames) -> None:
    full = run(comps, frames)
    half = run(comps, frames, image_embed_strength=0.5)
    off = run(comps, frames, image_embed_strength=0.0)
    for a, b, c in zip(full, half, off, strict=True):
        uncond, cond = a["ehs"][0], a["ehs"][1]
        assert torch.count_nonzero(uncond) == 0 and cond.abs().sum() > 0  # uncond pass: zero CLIP embedding
        assert torch.allclose(b["ehs"], 0.5 * a["ehs"], rtol=1e-5, atol=1e-7)
        assert torch.count_nonzero(c["ehs"]) == 0
        assert torch.equal(a["ehs"][1], full[0]["ehs"][1])  # one embedding for every step and window


def test_pose_controls_reach_the_conv_in_residual_per_step(comps, frames) -> None:
    ref, poses = frames
    steps, strength = 4, 1.5
    calls = run(comps, frames, steps=steps, pose_strength=strength, pose_start=0.25, pose_end=0.75)
    windows = window_indices(poses.shape[0], FUSION.fitted(poses.shape[0]))
    with torch.no_grad():
        features = comps.pose_net(poses * 2.0 - 1.0)  # PoseNet on the -1..1 pose frames, all at once
    for i, call in enumerate(calls):
        step, idx = divmod(i, len(windows))[0], windows[i % len(windows)]
        residual = call["residual"]
        n = len(idx)
        assert residual.shape[0] == 2 * n  # [uncond frames; cond frames]
        assert torch.count_nonzero(residual[:n]) == 0, "the unconditional pass must get no pose"
        if 0.25 <= step / steps < 0.75:  # steps 1 and 2
            expected = strength * features[idx]
            assert torch.allclose(residual[n:], expected, rtol=1e-4, atol=1e-5), (step, idx)
            assert expected.abs().max() > 1e-3
        else:  # steps 0 and 3: plain SVD calls
            assert torch.count_nonzero(residual[n:]) == 0, step
    # Strength 1 (official) adds PoseNet's output as it is; strength 0 adds nothing on any step.
    one = run(comps, frames, steps=2)
    for i, call in enumerate(one):
        idx = windows[i % len(windows)]
        assert torch.allclose(call["residual"][len(idx):], features[idx], rtol=1e-4, atol=1e-5)
    for call in run(comps, frames, steps=2, pose_strength=0.0):
        assert torch.count_nonzero(call["residual"]) == 0
