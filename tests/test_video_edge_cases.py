"""MimicMotion video edge cases: 2-frame videos, sampler knobs, working-memory hints for ComfyUI's model manager,
and loader messages for files that are not weights at all."""

from __future__ import annotations

import pickle

import pytest
import torch

from models.io.checkpoint import load_state_dict
from models.video.components import (
    VideoModel,
    unet_memory_bytes,
    vae_decode_memory_bytes,
    vae_encode_memory_bytes,
)
from models.video.fusion import FusionSchedule, initial_noise, window_indices, window_weights
from models.video.sampler import SamplerSettings, sample_video


@pytest.fixture(scope="module")
def frames():
    g = torch.Generator().manual_seed(1)
    ref = torch.rand(1, 3, 64, 64, generator=g)
    poses = torch.zeros(9, 3, 64, 64)
    for f in range(9):
        poses[f, :, 16 + 3 * f : 26 + 3 * f, 12:44] = 1.0
    return ref, poses


FUSION = FusionSchedule(4, 2)


def _run(comps, frames, n=9, fusion=FUSION, **kw):
    ref, poses = frames
    return sample_video(comps, ref, poses[:n], fusion, SamplerSettings(**{"steps": 2, "seed": 3, **kw}))


# ---- a reference pose plus one driving pose (2 frames) used to fail inside FusionSchedule -------------------------

@pytest.mark.parametrize("schedule", [FusionSchedule(4, 2), FusionSchedule().resolved("1.1"),
                                      FusionSchedule().resolved("1.0"),
                                      FusionSchedule(8, 3, weighting="overlap-linear", noise="freenoise")])
def test_two_frame_video_is_one_window(comps, frames, schedule) -> None:
    sch = schedule.fitted(2)
    assert window_indices(2, schedule) == [[0, 1]]
    assert [w.shape for w in window_weights(window_indices(2, sch), sch)] == [torch.Size([2])]
    assert initial_noise((4, 8, 8), 2, schedule, torch.Generator().manual_seed(0)).shape == (2, 4, 8, 8)
    out = _run(comps, frames, n=2, fusion=schedule, steps=1)
    assert out.shape == (2, 4, 8, 8) and torch.isfinite(out).all()


# ---- knobs the sampler tests did not exercise end to end ---------------------------------------------------------

def test_fps_condition_pose_end_and_fusion_knobs_change_the_output(comps, frames) -> None:
    base = _run(comps, frames)
    variants = {
        "fps_condition": dict(fps_condition=14.0),
        "pose_end": dict(steps=4, pose_end=0.5),
        "weighting": dict(fusion=FusionSchedule(4, 2, weighting="flat")),
        "freenoise": dict(fusion=FusionSchedule(4, 2, noise="freenoise")),
        "independent": dict(fusion=FusionSchedule(4, 2, noise="independent")),
        "tail": dict(fusion=FusionSchedule(4, 2, tail="shrink")),
        "no anchor": dict(fusion=FusionSchedule(4, 2, anchor_reference=False)),
    }
    for name, kw in variants.items():
        ref = _run(comps, frames, steps=4) if name == "pose_end" else base
        assert not torch.allclose(_run(comps, frames, **kw), ref, atol=1e-4), name


def test_pose_end_equals_pose_off_for_the_late_steps(comps, frames) -> None:
    # pose on steps 0-1 of 4 only: differs from pose everywhere and from no pose.
    early = _run(comps, frames, steps=4, pose_end=0.5)
    assert not torch.allclose(early, _run(comps, frames, steps=4, pose_strength=0.0), atol=1e-4)
    assert not torch.allclose(early, _run(comps, frames, steps=4), atol=1e-4)
    # Any pose_end in (0.25, 0.5] selects the same steps (fractions 0 and 0.25 of 4), so the same video.
    assert torch.equal(_run(comps, frames, steps=4, pose_end=0.3), early)


# ---- memory hints for load_models_gpu -----------------------------------------------------------------------------

def test_prepare_passes_the_working_memory_to_the_model_manager(comps) -> None:
    seen = []
    vm = VideoModel.from_components(comps)
    vm.load_fn = lambda names, need: seen.append((names, need)) or torch.device("cpu")
    assert vm.prepare(["unet"], 123) == torch.device("cpu")
    vm.prepare(["vae", "image_encoder"])
    assert seen == [(["unet"], 123), (["vae", "image_encoder"], 0)]
    with pytest.raises(KeyError):
        vm.prepare(["clip"], 1)


def test_memory_estimates_follow_comfyui_heuristics() -> None:
    # ComfyUI's SVD estimate (SDPA): latent area x dtype bytes x 0.01 x memory_usage_factor 2.0 MiB.
    one = unet_memory_bytes(72, 72, 128, torch.float16)
    assert one == int(72 * 72 * 128 * 2 * 0.02 * 2**20)
    assert unet_memory_bytes(72, 72, 128, torch.float16, batch=2) == 2 * one
    assert unet_memory_bytes(72, 72, 128, torch.float32) == 2 * one
    assert unet_memory_bytes(16, 72, 128, torch.bfloat16) == pytest.approx(one * 16 / 72, abs=1)
    assert vae_decode_memory_bytes(8, 72, 128, torch.float16) == 8 * 72 * 128 * 2178 * 64 * 2
    assert vae_encode_memory_bytes(576, 1024, torch.float16) == 576 * 1024 * 1767 * 2


# ---- files that are not weights at all ------------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "message"), [
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:b812659e\nsize 3050000000\n", "Git LFS pointer"),
    (b"<!DOCTYPE html><html><body>Sign in to continue</body></html>", "web page"),
    (b"\n  <html><head></head></html>", "web page"),
    (b"\x00" * 64, "not a PyTorch weight file"),
    (b"garbage that is no pickle" * 4, "not a PyTorch weight file"),
])
@pytest.mark.parametrize("ext", [".pth", ".safetensors"])
def test_placeholder_and_garbage_files_are_named(tmp_path, content, message, ext) -> None:
    path = tmp_path / f"MimicMotion_1-1{ext}"
    path.write_bytes(content)
    if ext == ".safetensors" and message == "not a PyTorch weight file":
        message = "safetensors"
    with pytest.raises(ValueError, match=message) as err:
        load_state_dict(str(path), expected="a MimicMotion checkpoint")
    assert "MimicMotion_1-1" in str(err.value) and "Python objects other than tensors" not in str(err.value)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_real_pickles_with_code_are_still_refused(tmp_path) -> None:
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"w": torch.zeros(2), "f": print}, f, protocol=2)
    with pytest.raises(ValueError, match="Python objects other than tensors"):
        load_state_dict(str(path))
    ok = tmp_path / "ok.pth"
    torch.save({"w": torch.ones(2)}, ok)
    assert torch.equal(load_state_dict(str(ok))["w"], torch.ones(2))
