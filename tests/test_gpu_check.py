"""benchmarks/gpu_check.py's CPU-testable pieces: argument checks, the polite refusal without CUDA, the meta-device
builders (tiny configs on the CPU: official key layout, seeded and reproducible; full configs on the meta device:
the published parameter counts) and the report formatting."""

from __future__ import annotations

import pytest
import torch

from benchmarks import gpu_check
from tests.helpers.tiny_mimicmotion import tiny_clip_config, tiny_components, tiny_unet_config, tiny_vae_config


def test_arguments_are_checked() -> None:
    args = gpu_check.parse_args([])
    assert (args.frames, args.long_frames, args.height, args.width, args.cfg) == (16, 72, 576, 1024, 2.0)
    for bad in (["--steps", "0"], ["--height", "500"], ["--frames", "0"]):
        with pytest.raises(SystemExit):
            gpu_check.parse_args(bad)


def test_dwpose_part_runs_after_the_video_part_and_reports_failures(capsys: pytest.CaptureFixture[str]) -> None:
    calls = []
    gpu_check.dwpose_section(24, lambda **kw: calls.append(kw))
    assert calls == [{"frames_n": 24, "rounds": 1}]
    gpu_check.dwpose_section(0, lambda **kw: calls.append(kw))  # --dwpose-frames 0 skips it
    assert len(calls) == 1

    def broken(**kw):
        raise RuntimeError("CUDA libraries not found")

    gpu_check.dwpose_section(24, broken)
    assert "dwpose: not run (RuntimeError: CUDA libraries not found)" in capsys.readouterr().out
    assert gpu_check.parse_args([]).dwpose_frames == 32


def test_refuses_without_cuda(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def _tiny(seed: int) -> dict:
    return gpu_check.build_models("cpu", torch.float32, seed, tiny_unet_config(), tiny_vae_config(),
                                  tiny_clip_config().to_dict())


def test_tiny_build_has_official_layout_and_is_seeded() -> None:
    built, again, other = _tiny(0), _tiny(0), _tiny(1)
    ref = tiny_components()
    for name, module in (("unet", ref.unet), ("pose_net", ref.pose_net), ("vae", ref.vae), ("clip", ref.image_encoder)):
        ours = built[name].state_dict()
        assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in module.state_dict().items()}, name
        assert all(torch.isfinite(v).all() for v in ours.values() if v.is_floating_point())
        assert all(torch.equal(ours[k], v) for k, v in again[name].state_dict().items())
    assert not torch.equal(built["unet"].conv_in.weight, other["unet"].conv_in.weight)
    ids = built["clip"].vision_model.embeddings.position_ids
    assert torch.equal(ids[0], torch.arange(ids.shape[-1]))  # integer buffers restored after to_empty
    with torch.no_grad():  # the built models run
        out = built["clip"](torch.randn(1, 3, 64, 64)).image_embeds
    assert out.shape == (1, 32) and torch.isfinite(out).all()


def test_full_configs_have_the_published_sizes() -> None:
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from models.video.config_infer import SVD_UNET_CONFIG

    with torch.device("meta"):
        unet = UNetSpatioTemporalConditionModel(**SVD_UNET_CONFIG)
        vae = AutoencoderKLTemporalDecoder(**gpu_check.VAE_CONFIG)
        clip = CLIPVisionModelWithProjection(CLIPVisionConfig(**gpu_check.CLIP_CONFIG))
    counts = gpu_check.count_parameters({"unet": unet, "vae": vae, "clip": clip})
    assert 1.50e9 < counts["unet"] < 1.54e9, counts
    assert 95e6 < counts["vae"] < 100e6, counts
    assert 628e6 < counts["clip"] < 636e6, counts


def test_report_format() -> None:
    text = gpu_check.format_report({
        "device": "Fake GPU", "params": {"unet": 1.525e9},
        "windows": {16: (0.5, 7.25), 72: "out of GPU memory"}, "decode": (3.0, 4.5), "reuse": (1.0, 0.3),
    })
    assert "unet 1525.0 M" in text
    assert "window 16 frames: 0.500 s per UNet pass (2.25 s scaled to 72 frames), peak VRAM 7.25 GiB" in text
    assert "window 72 frames: not run (out of GPU memory)" in text
    assert "decode: 3.00 s, peak VRAM 4.50 GiB" in text
    assert "outer level alone 0.300 s vs the whole UNet 1.000 s per batched call (0.30x)" in text
    assert "RTX 4090 1.5-3 s" in text


def test_reuse_pass_times_run_on_the_cpu() -> None:
    full, outer = gpu_check.reuse_pass_times(_tiny(0), 3, 64, 64, "cpu", torch.float32, repeats=1)
    assert full > 0 and outer > 0
