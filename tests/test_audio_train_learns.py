"""Proof that the motion model learns: on synthetic talking data where the mouth opens with loudness and the right
hand lifts after onsets, a tiny model trained on the CPU reproduces both on held-out audio (Pearson r >= 0.8), an
untrained one does not, temporal outpainting leaves no jump at window seams, and the fast sampler (DPM-Solver++(2M),
4 steps: 2.5x fewer network calls) keeps both correlations within 0.01 of DDIM at 10 steps."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from models.audio.learned.dataset import MotionDataset, example_from_arrays
from models.audio.learned.diffusion import window_plan
from models.audio.learned.generate import generate_motion
from models.audio.learned.motion_model import MotionTransformer
from models.audio.learned.train import TrainConfig, train_motion_model
from tests.helpers.tiny_motion import (
    FEATURE_NAMES,
    hand_height,
    mouth_opening,
    reference_pose,
    synthetic_talk,
    tiny_config,
)

logger = logging.getLogger(__name__)


def _r(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


@pytest.mark.slow
def test_tiny_model_learns_audio_driven_motion(tmp_path) -> None:
    torch.set_num_threads(1)
    examples = [example_from_arrays(*synthetic_talk(20.0, seed), name=f"train{seed}") for seed in range(6)]
    ds = MotionDataset(examples, 25.0, FEATURE_NAMES)
    config = tiny_config()
    tc = TrainConfig(steps=400, batch_size=32, lr=2e-3, warmup=20, checkpoint_every=0, log_every=25, cpu=True)
    result = train_motion_model(ds, str(tmp_path / "learned.safetensors"), config, tc, resume=False)
    first, last = result.losses[0]["loss"], result.losses[-1]["loss"]
    assert last < 0.5 * first, f"loss did not fall: {first:.4f} -> {last:.4f}"

    torch.manual_seed(1)
    untrained = MotionTransformer(result.model.config).eval()
    untrained.motion_std.copy_(result.model.motion_std)

    truth, feats = synthetic_talk(20.0, 99)  # held-out audio: a seed never trained on
    ref = reference_pose()
    scores = {}
    for name, model in (("trained", result.model), ("untrained", untrained)):
        out = generate_motion(model, ref, feats, steps=10, cfg_scale=2.0, seed=0)
        scores[name] = (_r(mouth_opening(out), mouth_opening(truth)), _r(hand_height(out), hand_height(truth)))
        if name == "trained":
            trained_out = out
    logger.info("correlation (mouth, hand): %s", scores)
    assert scores["trained"][0] >= 0.8 and scores["trained"][1] >= 0.8, scores
    assert abs(scores["untrained"][0]) < 0.5 and abs(scores["untrained"][1]) < 0.5, scores

    # Quality kept by the fast sampler (1 step instead of 4 turns this red: hand r drops by more than 0.01).
    fast = generate_motion(result.model, ref, feats, steps=4, cfg_scale=2.0, seed=0, solver="dpmpp_2m")
    fast_r = (_r(mouth_opening(fast), mouth_opening(truth)), _r(hand_height(fast), hand_height(truth)))
    logger.info("correlation (mouth, hand): ddim 10 steps %s, dpmpp_2m 4 steps %s", scores["trained"], fast_r)
    assert abs(fast_r[0] - scores["trained"][0]) <= 0.01 and abs(fast_r[1] - scores["trained"][1]) <= 0.01, (
        scores["trained"], fast_r)

    # Seams: the frame-to-frame jump where a new window's own frames begin vs the jumps inside windows.
    speed = np.abs(np.diff(trained_out.keypoints[:, 0, :, :2], axis=0)).max(axis=(1, 2))  # [F-1], canvas units
    seams = [start + known - 1 for start, _, known in window_plan(feats.num_frames, config.window, config.overlap)[1:]]
    inside = np.delete(speed, seams)
    logger.info("largest seam jump %.4f, largest in-window step %.4f", speed[seams].max(), inside.max())
    assert speed[seams].max() <= inside.max()
    assert speed[seams].max() < 0.05
