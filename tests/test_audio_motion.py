"""Motion model, diffusion sampler, checkpoints and generate_motion: shapes, determinism, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from models.audio.features import AudioFeatures
from models.audio.learned.diffusion import cosine_alpha_bar, diffusion_loss, sample_long, window_plan
from models.audio.learned.generate import generate_motion
from models.audio.learned.model_file import load_motion_model, read_motion_config, save_motion_model
from models.audio.learned.motion_model import MotionModelConfig, MotionTransformer, part_coordinate_index
from models.audio.learned.residuals import from_residuals, to_residuals
from models.pose.types import PoseSequence
from tests.helpers.tiny_motion import (
    FEATURE_NAMES,
    reference_pose,
    synthetic_features,
    tiny_config,
    write_tiny_motion_model,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model() -> MotionTransformer:
    torch.manual_seed(0)
    return MotionTransformer(tiny_config()).eval()


def test_config_json_roundtrip_and_layout_check() -> None:
    cfg = tiny_config()
    assert MotionModelConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="keypoint layout"):
        MotionModelConfig(num_keypoints=128)
    with pytest.raises(ValueError, match="overlap"):
        MotionModelConfig(window=10, overlap=10)
    with pytest.raises(ValueError, match="unknown fields"):
        MotionModelConfig.from_json(json.dumps({"bogus": 1}))


def test_parts_cover_every_coordinate_once() -> None:
    idx = np.concatenate([part_coordinate_index(p) for p in ("face", "body", "hands")])
    assert sorted(idx.tolist()) == list(range(266))


def test_cosine_schedule_is_monotone() -> None:
    ab = cosine_alpha_bar(1000)
    assert ab[0] > 0.999 and ab[-1] < 1e-3 and bool((ab[1:] < ab[:-1]).all())


def test_forward_is_causal(model: MotionTransformer) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 20, 266, generator=g)
    a = torch.randn(2, 20, 82, generator=g)
    t = torch.tensor([10, 500])
    keep = torch.tensor([True, False])
    known = torch.zeros(2, 20, dtype=torch.bool)
    out = model(x, t, a, keep, known)
    assert out.shape == (2, 20, 266)
    x2, a2 = x.clone(), a.clone()
    x2[:, 12:] += 1.0
    a2[:, 15:] += 1.0  # audio context is 2 frames: frames < 13 cannot see it
    out2 = model(x2, t, a2, keep, known)
    assert torch.allclose(out[:, :12], out2[:, :12], atol=1e-5)
    assert not torch.allclose(out[:, 12:], out2[:, 12:])


def test_loss_is_finite_and_respects_weights(model: MotionTransformer) -> None:
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(3, 16, 266, generator=g)
    a = torch.randn(3, 16, 82, generator=g)
    w = torch.ones_like(x0)
    loss, log = diffusion_loss(model, x0, a, w, torch.Generator().manual_seed(1))
    assert torch.isfinite(loss) and set(log) >= {"loss", "x0_face", "temp_hands"}
    loss.backward()
    zero, log0 = diffusion_loss(model, x0, a, torch.zeros_like(w), torch.Generator().manual_seed(1))
    assert float(zero.detach()) == 0.0


def test_residual_roundtrip() -> None:
    ref = reference_pose().keypoints[0, 0]
    rng = np.random.default_rng(0)
    kp = np.repeat(ref[None], 5, axis=0)
    kp[..., :2] = np.clip(kp[..., :2] + rng.uniform(-0.02, 0.02, kp[..., :2].shape), 0, 1).astype(np.float32)
    res, weight = to_residuals(kp, ref, (640, 480))
    assert res.shape == (5, 266) and weight.min() == 1.0
    back = from_residuals(res, ref, (640, 480))
    assert np.allclose(back, kp, atol=1e-5)


def test_window_plan_covers_everything() -> None:
    assert window_plan(3, 32, 8) == [(0, 3, 0)]
    plan = window_plan(100, 32, 8)
    assert plan[0] == (0, 32, 0) and plan[-1][1] == 100
    for (_, e0, _), (s1, _, k) in zip(plan[:-1], plan[1:], strict=True):
        assert s1 == e0 - 8 and k == 8


def test_outpainting_keeps_known_frames_and_is_deterministic(model: MotionTransformer) -> None:
    feats = torch.from_numpy(synthetic_features(4.0, 0).features)
    a = sample_long(model, feats, steps=3, cfg_scale=2.0, seed=5)
    b = sample_long(model, feats, steps=3, cfg_scale=2.0, seed=5)
    c = sample_long(model, feats, steps=3, cfg_scale=2.0, seed=6)
    assert a.shape == (100, 266) and torch.equal(a, b) and not torch.equal(a, c)
    whole = sample_long(model, feats, steps=3, seed=5, window=0)
    assert whole.shape == (100, 266)


def _features(frames: int, fps: float = 25.0, dim: int = 82) -> AudioFeatures:
    rng = np.random.default_rng(frames)
    names = FEATURE_NAMES if dim == 82 else ("mel",) * (dim - 2) + ("loudness", "onset")
    return AudioFeatures(rng.uniform(0, 1, (frames, dim)).astype(np.float32), fps, 16000, names, frames / fps)


def test_generate_motion_output(model: MotionTransformer) -> None:
    ref = reference_pose((640, 480))
    feats = _features(60)
    out = generate_motion(model, ref, feats, steps=3, seed=1)
    assert out.keypoints.shape == (60, 1, 133, 3) and out.fps == 25.0 and out.canvas == (640, 480)
    assert out.keypoints[..., :2].min() >= 0.0 and out.keypoints[..., :2].max() <= 1.0
    assert np.array_equal(out.keypoints[..., 2], np.broadcast_to(ref.keypoints[0, 0, :, 2], (60, 1, 133)))
    again = generate_motion(model, ref, feats, steps=3, seed=1)
    assert np.array_equal(out.keypoints, again.keypoints)
    assert not np.array_equal(out.keypoints, generate_motion(model, ref, feats, steps=3, seed=2).keypoints)
    still = generate_motion(model, ref, feats, steps=3, seed=1, motion_scale=0.0)
    assert np.allclose(still.keypoints, ref.keypoints[0:1].repeat(60, axis=0), atol=1e-6)
    assert out.meta["driver"] == "diffusion"


def test_generate_short_audio_and_other_fps(model: MotionTransformer) -> None:
    ref = reference_pose()
    short = generate_motion(model, ref, _features(2), steps=2)  # 0.1 s at 25 fps: fewer frames than one window
    assert short.num_frames == 2
    at30 = generate_motion(model, ref, _features(90, fps=30.0), steps=2)
    assert at30.num_frames == 90 and at30.fps == 30.0


def test_generate_bad_input(model: MotionTransformer) -> None:
    ref = reference_pose()
    with pytest.raises(ValueError, match="values per frame"):
        generate_motion(model, ref, _features(10, dim=50), steps=2)
    with pytest.raises(ValueError, match="30.0 fps was requested"):
        generate_motion(model, ref, _features(10), steps=2, fps=30.0)
    empty = PoseSequence.empty(1, (512, 512))
    with pytest.raises(ValueError, match="no person found in the reference"):
        generate_motion(model, empty, _features(10), steps=2)
    with pytest.raises(ValueError, match="person 3 does not exist"):
        generate_motion(model, ref, _features(10), steps=2, person=3)
    with pytest.raises(ValueError, match="steps"):
        generate_motion(model, ref, _features(10), steps=0)


def test_checkpoint_roundtrip(tmp_path, model: MotionTransformer) -> None:
    path = save_motion_model(model, str(tmp_path / "m.safetensors"), {"steps": 3})
    loaded = load_motion_model(path)
    assert loaded.config == model.config
    assert read_motion_config(path)[1] == {"steps": 3}
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    helper = write_tiny_motion_model(str(tmp_path / "models"))
    assert load_motion_model(helper).config.feature_dim == 82


def test_checkpoint_errors(tmp_path, model: MotionTransformer) -> None:
    path = save_motion_model(model, str(tmp_path / "m.safetensors"))
    data = open(path, "rb").read()
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt.safetensors"):
        load_motion_model(str(corrupt))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="garbage.safetensors"):
        load_motion_model(str(garbage))
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(ValueError, match="not an Embody motion model"):
        load_motion_model(str(other))
    # Config says 50 audio features but the weights were made for 82: a mismatch naming the file and the size.
    with safe_open(path, framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata()
    cfg = json.loads(meta["config"])
    cfg["feature_dim"] = 50
    bad = tmp_path / "mismatch.safetensors"
    save_file(tensors, str(bad), metadata={**meta, "config": json.dumps(cfg)})
    with pytest.raises(ValueError, match=r"mismatch\.safetensors.*feature_dim=50"):
        load_motion_model(str(bad))
    cfg = json.loads(meta["config"])
    cfg["num_keypoints"] = 128
    bad2 = tmp_path / "layout.safetensors"
    save_file(tensors, str(bad2), metadata={**meta, "config": json.dumps(cfg)})
    with pytest.raises(ValueError, match="keypoint layout"):
        load_motion_model(str(bad2))
    with pytest.raises(FileNotFoundError):
        load_motion_model(str(tmp_path / "missing.safetensors"))
