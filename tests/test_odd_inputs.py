"""Odd inputs to pose rendering, POSE_KEYPOINT import, hand clarity, rhythm motion and smoothing give clear
errors, not blow-ups."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from models.audio.features import compute_audio_features
from models.audio.procedural.rhythm import rhythm_motion
from models.hands.clarity import frame_scores, hand_box, hand_clarity, passes_threshold
from models.pose.keypoint_json import keypoints_to_pose
from models.pose.layout import LEFT_HAND
from models.pose.render import confidence_mask, render_pose
from models.pose.render_mimicmotion import (
    MAX_SR_PIXELS,
    official_super_resolution_size,
    super_resolution_size,
)
from models.pose.types import PoseSequence
from tests.helpers.synthetic_inputs import synthetic_reference


# ---- MimicMotion renderer on very elongated frames ----------------------------------------------------------------
def test_super_resolution_canvas_is_official_unless_absurdly_elongated() -> None:
    for size in ((512, 768), (77, 50), (1920, 1080), (2160, 3000), (100, 1600)):
        assert super_resolution_size(*size) == official_super_resolution_size(*size)
    # A 1 x 1000 strip would need a 2160 x 2,160,000 canvas (14 GB) the official way.
    cw, ch = super_resolution_size(1, 1000)
    assert official_super_resolution_size(1, 1000) == (2160, 2160000)
    assert cw * ch <= MAX_SR_PIXELS and ch > 1000 and cw >= 1
    assert ch / cw == pytest.approx(1000, rel=0.01)


def test_render_one_pixel_wide_frames_does_not_blow_up(caplog: pytest.LogCaptureFixture) -> None:
    ref = synthetic_reference((1, 1000))
    with caplog.at_level(logging.WARNING):
        img = render_pose(ref, style="mimicmotion")
    assert img.shape == (1, 1000, 1, 3) and img.dtype == np.uint8
    assert img.max() > 0  # the body is still drawn
    assert "too elongated" in caplog.text
    assert confidence_mask(ref).shape == (1, 1000, 1)


# ---- POSE_KEYPOINT import: malformed data gets a clear ValueError, NaN points become missing ---------------------
def test_keypoint_import_malformed_values_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="frame 0: canvas_width and canvas_height must be whole numbers"):
        keypoints_to_pose([{"people": [], "canvas_width": "abc", "canvas_height": 10}])
    with pytest.raises(ValueError, match="frame 1: 'people' must be a list of dicts"):
        keypoints_to_pose([{"people": [], "canvas_width": 8, "canvas_height": 8},
                           {"people": [[1, 2, 3]], "canvas_width": 8, "canvas_height": 8}])
    with pytest.raises(ValueError, match="'pose_keypoints_2d' must be a list of numbers"):
        keypoints_to_pose([{"people": [{"pose_keypoints_2d": ["x"] * 54}], "canvas_width": 8, "canvas_height": 8}])


def test_keypoint_import_non_finite_points_are_missing() -> None:
    body = []
    for i in range(18):
        body += [10.0 + i, 20.0 + i, 1.0]
    body[3 * 2: 3 * 2 + 3] = [float("nan"), 5.0, 1.0]  # OpenPose r-shoulder (COCO 6)
    body[3 * 5: 3 * 5 + 3] = [5.0, 5.0, float("inf")]  # OpenPose l-shoulder (COCO 5)
    pose = keypoints_to_pose([{"people": [{"pose_keypoints_2d": body}], "canvas_width": 100, "canvas_height": 50}])
    kp = pose.keypoints[0, 0]
    assert np.isfinite(pose.keypoints).all()
    np.testing.assert_array_equal(kp[6], 0.0)
    np.testing.assert_array_equal(kp[5], 0.0)
    assert kp[0, 2] == 1.0 and kp[0, 0] == pytest.approx(0.10)  # the nose (OpenPose 0) is kept


# ---- hand clarity ---------------------------------------------------------------------------------------------------
def test_hand_box_ignores_non_finite_points() -> None:
    ref = synthetic_reference((64, 96))
    kp = ref.keypoints.copy()
    kp[0, 0, LEFT_HAND, :2] = np.nan  # hand points unusable; the wrist/elbow/shoulder fallback still works
    frames = np.random.default_rng(0).integers(0, 255, (1, 96, 64, 3), dtype=np.uint8)
    scores = hand_clarity(frames, ref.with_keypoints(kp))
    assert scores.shape == (1, 1, 2) and np.isfinite(scores).all()
    pts = ref.pixels()[0, 0]
    pts = np.concatenate([pts, ref.keypoints[0, 0, :, 2:]], axis=1)
    pts[LEFT_HAND] = np.nan
    pts[[5, 7, 9], 2] = np.nan  # no usable arm either -> no box, not a crash
    assert hand_box(pts, 0) is None


def test_frame_scores_and_threshold_on_an_empty_clip() -> None:
    per_frame = frame_scores(np.zeros((0, 1, 2), np.float32), "mean")
    assert per_frame.shape == (0,) and per_frame.dtype == np.float32
    assert passes_threshold(per_frame, 8.0).shape == (0,)
    empty = PoseSequence.empty(0, (32, 32))
    assert hand_clarity(np.zeros((0, 32, 32, 3), np.uint8), empty).shape == (0, 1, 2)


# ---- procedural rhythm motion with partial references ---------------------------------------------------------------
@pytest.mark.parametrize("keep", [slice(91, 112), slice(11, 17), slice(9, 10)], ids=["hand", "legs", "wrist"])
def test_rhythm_reference_without_shoulders_or_head_gets_a_real_box(keep: slice) -> None:
    ref = synthetic_reference((64, 96))
    kp = np.zeros_like(ref.keypoints)
    kp[0, 0, keep] = ref.keypoints[0, 0, keep]
    y = np.random.default_rng(0).standard_normal(16000) * 0.1
    feats = compute_audio_features(y, 16000, 25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # used to be "Mean of empty slice" and a NaN movement box
        pose = rhythm_motion(ref.with_keypoints(kp), feats, seed=0)
    box = np.asarray(pose.meta["movement_box"])
    assert np.isfinite(box).all() and (box[2:] > box[:2]).all()
    assert np.isfinite(pose.keypoints).all() and pose.num_frames == feats.num_frames


def test_rhythm_reference_with_only_unreliable_points_is_a_clear_error() -> None:
    ref = synthetic_reference((64, 96))
    kp = ref.keypoints.copy()
    kp[..., 2] = 0.05  # "present" (c > 0) but nothing the driver can trust
    feats = compute_audio_features(np.random.default_rng(0).standard_normal(8000) * 0.1, 16000, 25)
    with pytest.raises(ValueError, match="no keypoint with confidence above"):
        rhythm_motion(ref.with_keypoints(kp), feats)


# ---- One Euro smoothing: a non-finite point stays local ------------------------------------------------------------
def test_smoothing_a_nan_frame_does_not_poison_the_rest_of_the_track() -> None:
    from models.pose.smooth import one_euro_smooth

    ref = synthetic_reference((64, 96), frames=10)
    kp = ref.keypoints.copy()
    kp[3, 0, 5, :2] = np.nan  # one bad left-shoulder position
    out = one_euro_smooth(ref.with_keypoints(kp)).keypoints
    assert out[3, 0, 5, 2] == 0.0  # PoseSequence marks the bad point missing; it stays missing
    mask = np.ones(out.shape[:3], bool)
    mask[3, 0, 5] = False
    assert np.isfinite(out[mask]).all()
    np.testing.assert_allclose(out[4:, 0, 5], ref.keypoints[4:, 0, 5], atol=1e-6)  # still a still point
