"""Confidence-aware One Euro smoothing of pose tracks."""

from __future__ import annotations

import numpy as np
import pytest

from models.pose.smooth import confidence_weight, one_euro_smooth, smoothing_factor
from models.pose.types import PoseSequence

W, H, FPS = 400, 300, 25.0


def _track(xs: np.ndarray, ys: np.ndarray, conf: np.ndarray | float = 0.95) -> PoseSequence:
    kp = np.zeros((len(xs), 1, 133, 3), np.float32)
    kp[:, 0, 0, 0] = xs / W
    kp[:, 0, 0, 1] = ys / H
    kp[:, 0, 0, 2] = conf
    return PoseSequence(kp, (W, H), FPS)


def _px(pose: PoseSequence) -> np.ndarray:
    return pose.keypoints[:, 0, 0, :2].astype(np.float64) * (W, H)


def test_reduces_jitter_on_noisy_track() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(200) / FPS
    clean_x, clean_y = 200 + 60 * np.sin(2 * np.pi * 0.1 * t), 150 + 40 * np.cos(2 * np.pi * 0.2 * t)
    noisy = _track(clean_x + rng.normal(0, 3, t.size), clean_y + rng.normal(0, 3, t.size))
    out = one_euro_smooth(noisy)  # defaults: min_cutoff 1 Hz, beta 0.05
    clean = np.stack([clean_x, clean_y], -1)
    err_in = np.sqrt(((_px(noisy) - clean) ** 2).sum(-1)).mean()
    err_out = np.sqrt(((_px(out) - clean) ** 2).sum(-1)).mean()
    jitter_in = np.abs(np.diff(_px(noisy), 2, axis=0)).mean()
    jitter_out = np.abs(np.diff(_px(out), 2, axis=0)).mean()
    assert err_out < 0.8 * err_in
    assert jitter_out < 0.5 * jitter_in
    assert np.array_equal(out.keypoints[..., 2], noisy.keypoints[..., 2])  # confidences untouched
    assert out.canvas == noisy.canvas and out.fps == noisy.fps


def test_step_reaches_final_value() -> None:
    xs = np.where(np.arange(120) < 20, 100.0, 300.0)
    out = _px(one_euro_smooth(_track(xs, np.full(120, 150.0))))
    assert out[19, 0] == pytest.approx(100.0, abs=1e-3)
    assert 100 < out[20, 0] < 300  # the step is followed, not jumped
    assert out[-1, 0] == pytest.approx(300.0, abs=1e-3)
    assert np.allclose(out[:, 1], 150.0, atol=1e-3)


def test_low_confidence_points_hold_and_follow_slowly() -> None:
    xs = np.where(np.arange(40) < 10, 100.0, 200.0)
    conf = np.full(40, 0.95)
    conf[10:20] = 0.1  # below hold_below: keep the last confident value
    conf[20:25] = 0.0  # missing: stays missing
    track = _track(xs, np.full(40, 150.0), conf)
    out = one_euro_smooth(track)
    px = _px(out)
    assert np.allclose(px[10:20, 0], 100.0, atol=1e-3)
    assert np.array_equal(out.keypoints[20:25], track.keypoints[20:25])  # missing points pass through
    assert 100 < px[25, 0] < 200
    half = conf.copy()
    half[10:] = 0.55
    slow = _px(one_euro_smooth(_track(xs, np.full(40, 150.0), half)))
    fast = _px(one_euro_smooth(_track(xs, np.full(40, 150.0))))
    assert 100 < slow[12, 0] < fast[12, 0]


def test_helpers_and_errors() -> None:
    assert smoothing_factor(1e9, FPS) == pytest.approx(1.0)
    assert smoothing_factor(1.0, FPS) == pytest.approx(1 / (1 + FPS / (2 * np.pi)))
    assert np.allclose(confidence_weight(np.array([0.1, 0.3, 0.55, 0.8, 1.0]), 0.3, 0.8), [0, 0, 0.5, 1, 1])
    with pytest.raises(ValueError, match="min_cutoff"):
        one_euro_smooth(_track(np.zeros(3), np.zeros(3)), min_cutoff=0)
