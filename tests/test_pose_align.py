"""Pose alignment: the official MimicMotion fit, fallbacks when no frame has one person, bone retargeting."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from models.pose.align import BONES, NECK, align_poses, fit_official
from models.pose.layout import LEFT_HAND
from models.pose.types import PoseSequence

REF_CANVAS, DRV_CANVAS = (512, 768), (640, 480)

# Unit directions (x right, y down) of the bone tree used to build synthetic skeletons.
DIRS = {(NECK, 0): (0, -1), (0, 1): (0.6, -0.8), (0, 2): (-0.6, -0.8), (1, 3): (1, 0.2), (2, 4): (-1, 0.2),
        (5, 7): (0.3, 1), (7, 9): (0.1, 1), (6, 8): (-0.3, 1), (8, 10): (-0.1, 1), (NECK, 11): (0.3, 1),
        (NECK, 12): (-0.3, 1), (11, 13): (0.03, 1), (13, 15): (0.02, 1), (12, 14): (-0.03, 1), (14, 16): (-0.02, 1)}
REF_LENGTHS = {(NECK, 0): 70, (0, 1): 12, (0, 2): 12, (1, 3): 10, (2, 4): 10, (5, 7): 100, (7, 9): 90,
               (6, 8): 100, (8, 10): 90, (NECK, 11): 200, (NECK, 12): 200, (11, 13): 120, (13, 15): 120,
               (12, 14): 120, (14, 16): 120}
REF_SHOULDER_HALF = 50.0


def skeleton(neck: tuple[float, float], lengths: dict, shoulder_half: float, arm_angle: float = 0.0,
             canvas: tuple[int, int] = REF_CANVAS) -> np.ndarray:
    """[133, 3] normalised person from a bone tree (pixel lengths); the left arm rotated by arm_angle radians."""
    px = np.zeros((133, 2))
    neck_xy = np.asarray(neck, float)
    px[5], px[6] = neck_xy + (shoulder_half, 0), neck_xy - (shoulder_half, 0)
    for bone in BONES:
        d = np.asarray(DIRS[bone], float)
        if bone in ((5, 7), (7, 9)):
            c, s = np.cos(arm_angle), np.sin(arm_angle)
            d = np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]])
        start = neck_xy if bone[0] == NECK else px[bone[0]]
        px[bone[1]] = start + lengths[bone] * d / np.linalg.norm(d)
    px[LEFT_HAND] = px[9] + np.stack([np.linspace(0, 20, 21), np.linspace(0, 10, 21)], -1)
    kp = np.zeros((133, 3), np.float32)
    kp[:17, :2] = px[:17] / canvas
    kp[LEFT_HAND, :2] = px[LEFT_HAND] / canvas
    kp[:17, 2] = 0.9
    kp[LEFT_HAND, 2] = 0.6
    return kp


def reference() -> PoseSequence:
    return PoseSequence(skeleton((256, 220), REF_LENGTHS, REF_SHOULDER_HALF)[None, None], REF_CANVAS)


def test_official_fit_recovers_known_scale_and_offset() -> None:
    ref = reference()
    ay, by = 0.8, 0.05
    ax = ay * (DRV_CANVAS[0] / DRV_CANVAS[1]) * (REF_CANVAS[1] / REF_CANVAS[0])
    bx = -0.1
    frames = []
    for f in range(6):
        person = ref.keypoints[0, 0].copy()
        person[:, 0] = np.where(person[:, 2] > 0, (person[:, 0] - bx) / ax, 0)
        person[:, 1] = np.where(person[:, 2] > 0, (person[:, 1] - by) / ay, 0)
        person[[7, 8, 9, 10], 1] += 0.02 * f  # elbows and wrists are not fitted: let them move
        other = np.zeros_like(person)
        if f == 2:  # a two-person frame is left out of the fit
            other[:17] = [0.9, 0.1, 0.9]
        frames.append([person, other])
    drv = PoseSequence(np.asarray(frames, np.float32), DRV_CANVAS, fps=24.0)
    fit = fit_official(drv, ref)
    assert (fit.ax, fit.ay, fit.bx, fit.by) == pytest.approx((ax, ay, bx, by), abs=1e-5)
    assert fit.frames_used == 5 and not fit.fallback_used
    out = align_poses(drv, ref)
    assert out.canvas == REF_CANVAS and out.fps == 24.0
    fitted = [0, 1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]
    assert np.allclose(out.keypoints[0, 0, fitted], ref.keypoints[0, 0, fitted], atol=1e-5)
    assert np.allclose(out.keypoints[3, 0, LEFT_HAND], ref.keypoints[0, 0, LEFT_HAND], atol=1e-5)
    assert (out.keypoints[0, 1] == 0).all()  # missing points stay missing


def test_no_single_person_frame_fallback_and_error(caplog: pytest.LogCaptureFixture) -> None:
    ref = reference()
    big = ref.keypoints[0, 0].copy()
    small = np.zeros_like(big)
    small[:17] = big[:17] * [0.1, 0.1, 1.0] + [0.85, 0.85, 0.0]
    drv = PoseSequence(np.stack([np.stack([small, big])] * 4), REF_CANVAS)
    with caplog.at_level(logging.WARNING):
        fit = fit_official(drv, ref, fallback="largest")
    assert fit.fallback_used and fit.frames_used == 4
    assert (fit.ax, fit.ay, fit.bx, fit.by) == pytest.approx((1.0, 1.0, 0.0, 0.0), abs=1e-5)
    assert "largest person" in caplog.text
    with pytest.raises(ValueError, match="exactly one person"):
        align_poses(drv, ref, fallback="error")
    with pytest.raises(ValueError, match="no detected person"):
        align_poses(PoseSequence.empty(3, DRV_CANVAS), ref)
    with pytest.raises(ValueError, match="no person"):
        align_poses(drv, PoseSequence.empty(1, REF_CANVAS))
    with pytest.raises(ValueError, match="mode"):
        align_poses(drv, ref, mode="warp")


def _length(person: np.ndarray, bone: tuple[int, int]) -> float:
    px = person[:, :2].astype(np.float64) * REF_CANVAS

    def joint(i: int) -> np.ndarray:
        return (px[5] + px[6]) / 2 if i == NECK else px[i]

    return float(np.linalg.norm(joint(bone[1]) - joint(bone[0])))


def test_retarget_gives_reference_bone_lengths() -> None:
    ref = reference()
    rng = np.random.default_rng(0)
    drv_lengths = {b: v * rng.uniform(0.7, 1.4) for b, v in REF_LENGTHS.items()}
    frames = [skeleton((300 + 5 * f, 150 - 2 * f), drv_lengths, 40.0, arm_angle=0.2 * f, canvas=DRV_CANVAS)
              for f in range(8)]
    drv = PoseSequence(np.asarray(frames)[:, None], DRV_CANVAS)
    official = align_poses(drv, ref, mode="official")
    out = align_poses(drv, ref, mode="retarget")
    ref_person = ref.keypoints[0, 0]
    # without retargeting, the driver's proportions leak through
    assert max(abs(_length(official.keypoints[0, 0], b) - _length(ref_person, b)) for b in BONES) > 10
    for f in range(drv.num_frames):
        person = out.keypoints[f, 0]
        for bone in BONES:
            assert _length(person, bone) == pytest.approx(_length(ref_person, bone), abs=2e-3), (f, bone)
        assert _length(person, (5, 6)) == pytest.approx(2 * REF_SHOULDER_HALF, abs=2e-3)
        # the neck stays where the fit put it, and the hand moves rigidly with its wrist
        neck = (person[5, :2] + person[6, :2]) / 2
        assert np.allclose(neck, (official.keypoints[f, 0, 5, :2] + official.keypoints[f, 0, 6, :2]) / 2, atol=1e-6)
        hand_off = out.keypoints[f, 0, LEFT_HAND, :2] - person[9, :2]
        assert np.allclose(hand_off, official.keypoints[f, 0, LEFT_HAND, :2] - official.keypoints[f, 0, 9, :2],
                           atol=1e-6)
    # the arm still rotates: retargeting changes lengths, not directions
    d0 = (out.keypoints[0, 0, 7, :2] - out.keypoints[0, 0, 5, :2]) * REF_CANVAS
    d5 = (out.keypoints[5, 0, 7, :2] - out.keypoints[5, 0, 5, :2]) * REF_CANVAS
    assert np.degrees(np.arccos(np.dot(d0, d5) / np.linalg.norm(d0) / np.linalg.norm(d5))) > 30
    assert "bone_scales" in out.meta["align"]
