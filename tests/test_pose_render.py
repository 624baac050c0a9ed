"""Pose renderers: MimicMotion bit-exactness, brightness = confidence, gates, ControlNet look, confidence mask.

tests/data/mimicmotion_render_expected.npz was made once (script kept outside the repo) by running the OFFICIAL code
of Tencent/MimicMotion at commit 62f91e1f4ab750e1ab0d96c08f2d199b6e84e8b1: mimicmotion/dwpose/dwpose_detector.py
DWposeDetector.__call__ (with wholebody.inference_detector / inference_pose patched to return our fixed keypoints:
pixel coordinates = keypoints[..., :2] as float64 * (W, H), scores = keypoints[..., 2] as float32, which is the
float64 data the real ONNX pipeline hands on) followed by mimicmotion/dwpose/util.py draw_pose(pose, H, W) with its
default ref_w=2160, transposed to [H, W, 3]. Inputs: "keypoints" float32 [2, 133, 3] (COCO-WholeBody, normalised):
person 0 with body confidences from 0.1 to 0.99 (three below 0.3), a left hand with confidence ramp 0..1, a right hand
with two missing points, 68 face points with confidences 0.05..1 (one left of the canvas); person 1 smaller,
overlapping, a weak right shoulder and an ankle below the canvas. "image_{W}x{H}" = both people,
"image_p1_{W}x{H}" = person 1 alone, for canvases 64x96, 100x60, 77x50 (non-integer super-resolution) and 256x384.

tests/data/controlnet_render_expected.npz (same "keypoints") was made the same way from comfyui_controlnet_aux at
commit e8b689a513c3e6b63edc44066560ca5919c0576e: src/custom_controlnet_aux/dwpose/util.py draw_bodypose,
draw_handpose, draw_facepose called per person in draw_poses' order (body, left hand, right hand, face) on the
keypoints in pixels (x * W, y * H, as CNA keeps them), after CNA's own conversion (wholebody.py neck insertion and
OpenPose reorder, format_result: points with score >= 0.3 kept, face = 68 points + body eyes 14, 15).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.pose.render import STYLES, confidence_mask, render_pose
from models.pose.render_mimicmotion import render_frame_mimicmotion, super_resolution_size
from models.pose.types import PoseSequence

DATA = Path(__file__).parent / "data" / "mimicmotion_render_expected.npz"
CNA_DATA = Path(__file__).parent / "data" / "controlnet_render_expected.npz"


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(DATA) as data:
        return {k: data[k] for k in data.files}


def _size(key: str) -> tuple[int, int]:
    w, h = key.rsplit("_", 1)[1].split("x")
    return int(w), int(h)


def test_mimicmotion_bit_exact_against_official(expected: dict[str, np.ndarray]) -> None:
    kp = expected["keypoints"]
    keys = [k for k in expected if k.startswith("image_")]
    assert len(keys) == 8
    for key in keys:
        width, height = _size(key)
        people = kp[1:2] if key.startswith("image_p1_") else kp
        pose = PoseSequence(people[None], (width, height))
        got = render_pose(pose, style="mimicmotion")[0]
        assert got.shape == expected[key].shape
        assert np.array_equal(got, expected[key]), f"{key}: {np.count_nonzero(got != expected[key])} values differ"


def test_controlnet_matches_controlnet_aux_drawing() -> None:
    with np.load(CNA_DATA) as data:
        kp = data["keypoints"]
        keys = [k for k in data.files if k.startswith("image_")]
        assert len(keys) == 3
        for key in keys:
            width, height = _size(key)
            got = render_pose(PoseSequence(kp[None], (width, height)), style="controlnet")[0]
            assert np.array_equal(got, data[key]), f"{key}: {np.count_nonzero(got != data[key])} values differ"


def test_super_resolution_canvas() -> None:
    assert super_resolution_size(512, 768) == (2160, 3240)
    assert super_resolution_size(77, 50) == (3326, 2160)  # int(77 * 43.2) truncates 3326.4
    assert super_resolution_size(2160, 3000) == (2160, 3000)


def _single(points: dict[int, tuple[float, float, float]]) -> np.ndarray:
    kp = np.zeros((1, 133, 3), np.float32)
    for i, v in points.items():
        kp[0, i] = v
    return kp


@pytest.mark.parametrize("score", [0.05, 0.3125, 0.5, 0.77, 1.0])
def test_face_and_hand_brightness_is_confidence(score: float) -> None:
    # At a short side of 2160 the super-resolution canvas is the output, so peaks are the drawn values.
    kp = _single({23 + 30: (0.25, 0.5, score), 91: (0.75, 0.5, score)})
    img = render_frame_mimicmotion(kp, 2160, 2160)
    face = img[1000:1160, 440:640]
    hand = img[1000:1160, 1540:1740]
    level = int(255 * score)
    assert face.max() == level and (face[..., 0] == face[..., 2]).all()  # grey dot
    assert hand[..., 0].max() == level and hand[..., 1:].max() == 0  # red after the official BGR->RGB swap


@pytest.mark.parametrize("ca,cb", [(0.9, 0.8), (0.5, 0.6), (1.0, 0.31)])
def test_body_limb_brightness_is_dimmed_product(ca: float, cb: float) -> None:
    # Right shoulder (COCO 6) -> right elbow (COCO 8) is OpenPose limb 2, colour (255, 170, 0) listed RGB.
    kp = _single({6: (0.3, 0.2, ca), 8: (0.3, 0.8, cb)})
    img = render_frame_mimicmotion(kp, 2160, 2160)
    mid = img[1000:1200, 600:700]
    level = np.float32(ca) * np.float64(np.float32(cb))
    # Drawn BGR with the RGB-listed colour, then swapped: R and B exchange places.
    assert mid[..., 2].max() == int(int(255 * level) * 0.6)
    assert mid[..., 1].max() == int(int(170 * level) * 0.6)
    assert mid[..., 0].max() == 0
    joint = img[400:460, 620:680]
    assert joint[..., 2].max() == int(255 * np.float64(np.float32(ca)))


def test_low_confidence_body_points_absent_in_both_styles() -> None:
    kp = _single({6: (0.3, 0.2, 0.29), 8: (0.3, 0.8, 0.9), 0: (0.7, 0.5, 0.25)})
    pose = PoseSequence(kp[None], (432, 432))
    for style in STYLES:
        img = render_pose(pose, style=style)[0]
        assert img[70:104, 110:150].max() == 0, style  # weak shoulder: no joint
        assert img[104:328, 110:150].max() == 0, style  # no limb
        assert img[200:232, 286:318].max() == 0, style  # weak nose
        assert img[332:360, 110:150].max() > 0, style  # the confident elbow is drawn


def test_controlnet_style_full_colour_and_layout() -> None:
    kp = _single({6: (0.3, 0.2, 0.45), 8: (0.3, 0.8, 0.9), 91: (0.8, 0.5, 0.35), 23 + 10: (0.5, 0.5, 0.5)})
    pose = PoseSequence(kp[None], (200, 200))
    img = render_pose(pose, style="controlnet")[0]
    assert tuple(img[40, 60]) == (255, 170, 0)  # joint 2 (right shoulder) in the listed RGB colour, no dimming
    assert tuple(img[100, 60]) == (int(255 * 0.6), int(170 * 0.6), 0)  # limb colour * 0.6
    assert tuple(img[100, 160]) == (0, 0, 255)  # hand joint blue
    assert tuple(img[100, 100]) == (255, 255, 255)  # face white
    thick = render_pose(PoseSequence(kp[None], (1200, 1200)), style="controlnet_xinsir")[0]
    thin = render_pose(PoseSequence(kp[None], (1200, 1200)), style="controlnet")[0]
    assert (thick.sum(-1) > 0).sum() > (thin.sum(-1) > 0).sum()


def test_render_options_people_and_size(expected: dict[str, np.ndarray]) -> None:
    kp = expected["keypoints"]
    pose = PoseSequence(np.stack([kp, kp * 0]), (64, 96))
    out = render_pose(pose)
    assert out.shape == (2, 96, 64, 3) and out.dtype == np.uint8
    assert np.array_equal(out[0], expected["image_64x96"]) and out[1].max() == 0
    only1 = render_pose(pose, person=1, size=(100, 60))
    assert np.array_equal(only1[0], expected["image_p1_100x60"])
    no_face = render_pose(pose, draw_face=False, draw_hands=False, draw_body=True)[0]
    assert 0 < (no_face > 0).sum() < (out[0] > 0).sum()
    odd = pose.keypoints.copy()
    odd[0, 0, 0, :2] = np.nan  # a broken point is skipped, a far-away one clipped, neither crashes
    odd[0, 0, 5, 0] = 1e12
    for style in STYLES:
        assert render_pose(PoseSequence(odd, (64, 96)), style=style).shape == (2, 96, 64, 3)
    assert confidence_mask(PoseSequence(odd, (64, 96))).shape == (2, 96, 64)
    with pytest.raises(ValueError, match="style"):
        render_pose(pose, style="sketch")
    with pytest.raises(ValueError, match="person"):
        render_pose(pose, person=5)


def test_confidence_mask_values(expected: dict[str, np.ndarray]) -> None:
    kp = _single({23 + 30: (0.25, 0.5, 0.4), 91: (0.75, 0.5, 0.9), 6: (0.5, 0.2, 0.2)})
    pose = PoseSequence(kp[None], (128, 128))
    mask = confidence_mask(pose, radius_px=3)
    assert mask.shape == (1, 128, 128) and mask.dtype == np.float32
    assert mask[0, 64, 32] == pytest.approx(0.4) and mask[0, 64, 96] == pytest.approx(0.9)
    assert mask[0, 20:30, 60:70].max() == 0  # gated body point
    assert mask[0, 0:10].max() == 0
    # Overlap keeps the maximum, whatever the drawing order.
    both = _single({23 + 30: (0.5, 0.5, 0.9), 23 + 31: (0.5, 0.5, 0.3)})
    assert confidence_mask(PoseSequence(both[None], (64, 64)), radius_px=2)[0, 32, 32] == pytest.approx(0.9)
    full = confidence_mask(PoseSequence(expected["keypoints"][None], (64, 96)))
    assert 0 < full.max() <= 1 and full.min() == 0
