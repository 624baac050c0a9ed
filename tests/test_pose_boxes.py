"""One keypoint box and one person size for every user (selection, tracking, alignment, the motion model)."""

from __future__ import annotations

import numpy as np
import pytest

from models.pose.align import _bbox_area
from models.pose.boxes import keypoint_box, person_scale
from models.pose.select import keypoint_boxes
from models.pose.simcc import boxes_from_keypoints


def _person() -> np.ndarray:
    p = np.zeros((133, 3), np.float32)
    p[5] = (0.2, 0.3, 0.9)  # left shoulder
    p[6] = (0.6, 0.3, 0.9)  # right shoulder
    p[11] = (0.3, 0.9, 0.2)  # hip below the gate
    p[100] = (0.9, 0.8, 0.95)  # a confident hand point: outside the body + face size points
    return p


def test_the_box_keeps_confident_points_and_falls_back_to_any() -> None:
    p = _person()
    np.testing.assert_allclose(keypoint_box(p), [0.2, 0.3, 0.9, 0.8])
    weak = p.copy()
    weak[:, 2] = np.minimum(weak[:, 2], 0.1)
    np.testing.assert_allclose(keypoint_box(weak), [0.2, 0.3, 0.9, 0.9])  # every point with confidence > 0
    assert keypoint_box(weak, fallback=False) is None
    assert keypoint_box(p, min_points=5) is None


def test_every_user_gets_the_same_box() -> None:
    p = _person()
    box = keypoint_box(p)
    np.testing.assert_array_equal(keypoint_boxes(p[None])[0], box)
    lo, hi = box[:2], box[2:]
    mid, half = (lo + hi) / 2, (hi - lo) / 2 * 1.25
    np.testing.assert_allclose(boxes_from_keypoints(p[None])[0], np.r_[mid - half, mid + half], rtol=1e-6)
    assert _bbox_area(p) == np.prod(hi - lo)


def test_person_scale_uses_body_and_face_points() -> None:
    p = _person()
    # Shoulders only (the hand point is not a size point, the hip is below the gate): 0.4 of a 100 px wide canvas.
    assert person_scale(p, (100, 50)) == pytest.approx(40.0)
    q = p.copy()
    q[:91, 2] = 0.0
    q[100] = (0.1, 0.1, 0.9)
    q[101] = (0.1, 0.5, 0.9)
    assert person_scale(q, (100, 50)) == pytest.approx(20.0)  # no body or face: the confident points' box
    assert person_scale(np.zeros((133, 3), np.float32), (100, 50)) == 0.0
