"""Wan2.2-Animate inputs: the pose video style, face crops and person mask (models/pose/render_wananimate.py,
models/pose/wananimate_inputs.py).

tests/data/wananimate_render_expected.npz was made once (script kept outside the repo) by running
kijai/ComfyUI-WanAnimatePreprocess at commit 1a35b81a418bbba093356ad19b19bf2a76a24f4e: its
pose_utils.pose2d_utils.split_kp2ds_for_aa + AAPoseMeta.from_humanapi_meta + human_visualization.
draw_aapose_by_meta_new (the DrawViTPose node's path, threshold 0.5) on the seeded "keypoints" (4 frames, random
points and confidences 0.3..1; frame 0 all 0.9), at 320x240 and 832x480 with automatic stick widths, and once with
draw_head=False, body width 5, hand width 3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.pose.render_wananimate import render_wananimate
from models.pose.wananimate_inputs import (
    crop_faces,
    face_boxes,
    fit_to_canvas,
    person_mask,
    wan_animate_inputs,
)

DATA = Path(__file__).parent / "data" / "wananimate_render_expected.npz"


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(DATA) as d:
        return {k: d[k] for k in d.files}


@pytest.mark.parametrize("size", [(320, 240), (832, 480)])
def test_pose_video_pixel_identical_to_wananimate_preprocess(expected: dict, size: tuple[int, int]) -> None:
    w, h = size
    for f, kp in enumerate(expected["keypoints"]):
        got = render_wananimate(kp[None], w, h)
        ref = expected[f"draw_{w}x{h}"][f]
        assert (ref > 0).any()
        np.testing.assert_array_equal(got, ref, err_msg=f"frame {f} at {w}x{h}")


def test_pose_video_options_pixel_identical(expected: dict) -> None:
    got = render_wananimate(expected["keypoints"][0][None], 832, 480, draw_head=False, body_width=5, hand_width=3)
    np.testing.assert_array_equal(got, expected["nohead_w5_h3_832x480"][0])


def _face_person(cx: float, cy: float, r: float = 0.05) -> np.ndarray:
    kp = np.zeros((133, 3), np.float32)
    ang = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    kp[23:91, 0] = cx + r * np.cos(ang)
    kp[23:91, 1] = cy + r * 1.2 * np.sin(ang)
    kp[23:91, 2] = 0.9
    return kp


def test_face_box_framing_matches_the_preprocessing_rule() -> None:
    kp = _face_person(0.5, 0.5)[None]
    (x1, y1, x2, y2), = face_boxes(kp, 1000, 1000, scale=1.3, smooth=1)
    w0, h0 = 100.0, 120.0  # the face points' box in pixels
    grow_w = np.sqrt(w0 * h0 * 1.3 * w0 / h0) - w0
    grow_h = np.sqrt(w0 * h0 * 1.3 * h0 / w0) - h0
    assert abs(x1 - int(450 - grow_w / 2)) <= 1 and abs(x2 - int(550 + grow_w / 2)) <= 1
    assert abs(y1 - int(440 - 3 * grow_h / 4)) <= 1 and abs(y2 - int(560 + grow_h / 4)) <= 1  # more room above


def test_face_boxes_are_steady_and_fill_missing_frames() -> None:
    rng = np.random.default_rng(0)
    kps = np.stack([_face_person(0.5 + rng.normal(0, 0.01), 0.5 + rng.normal(0, 0.01)) for _ in range(30)])
    kps[7, 23:91, 2] = 0.1  # face lost in one frame
    raw = face_boxes(kps, 640, 640, smooth=1)
    steady = face_boxes(kps, 640, 640, smooth=9)
    assert np.abs(np.diff(steady, axis=0)).mean() < 0.5 * np.abs(np.diff(raw, axis=0)).mean()
    np.testing.assert_array_equal(raw[7], raw[6])  # nearest found box (frame 6 or 8)
    faces = crop_faces(np.ones((30, 640, 640, 3), np.float32) * 0.25, steady)
    assert faces.shape == (30, 512, 512, 3) and np.allclose(faces, 0.25)


def test_person_mask_covers_the_body_not_the_background() -> None:
    kp = np.zeros((133, 3))
    body = {5: (0.4, 0.3), 6: (0.6, 0.3), 11: (0.42, 0.6), 12: (0.58, 0.6), 13: (0.42, 0.8), 14: (0.58, 0.8),
            15: (0.42, 0.95), 16: (0.58, 0.95), 7: (0.3, 0.45), 8: (0.7, 0.45), 0: (0.5, 0.2)}
    for i, (x, y) in body.items():
        kp[i] = (x, y, 0.9)
    m = person_mask(kp, 200, 200)
    assert m[90, 100] == 1.0  # torso centre
    assert m[10, 10] == 0.0 and m[190, 10] == 0.0  # corners
    assert 0.05 < m.mean() < 0.5
    assert person_mask(np.zeros((133, 3)), 50, 40).sum() == 0


def test_fit_to_canvas_is_a_centre_crop() -> None:
    pts = np.array([[0.5, 0.5, 1.0], [0.25, 0.0, 1.0]])
    out = fit_to_canvas(pts, (1000, 1000), (200, 100))  # square -> 2:1: top and bottom quarters cut
    np.testing.assert_allclose(out[0, :2], [0.5, 0.5])
    np.testing.assert_allclose(out[1, :2], [0.25, -0.5])


def test_wan_animate_inputs_shapes_and_errors(expected: dict) -> None:
    kp = expected["keypoints"][:, None]
    poses, faces, masks = wan_animate_inputs(kp, (320, 240), 320, 240, np.zeros((4, 60, 80, 3), np.float32))
    assert poses.shape == (4, 240, 320, 3) and poses.dtype == np.uint8
    np.testing.assert_array_equal(poses[0], expected["draw_320x240"][0])
    assert faces is not None and faces.shape == (4, 512, 512, 3)
    assert masks.shape == (4, 240, 320) and masks.max() == 1.0
    with pytest.raises(ValueError, match="person 2"):
        wan_animate_inputs(kp, (320, 240), 64, 64, person=2)
    with pytest.raises(ValueError, match="frames has 3"):
        wan_animate_inputs(kp, (320, 240), 64, 64, np.zeros((3, 8, 8, 3), np.float32))
