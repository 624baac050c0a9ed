"""CyberHost body movement map: chest-motion box, enlarged, drawn as a map."""

from __future__ import annotations

import numpy as np
import pytest

from models.pose.body_movement import chest_track, fixed_box, movement_box, movement_map
from models.pose.layout import LEFT_SHOULDER, RIGHT_SHOULDER
from models.pose.types import PoseSequence


def _pose(chest_xy: np.ndarray, conf: float = 0.9) -> PoseSequence:
    frames = len(chest_xy)
    kp = np.zeros((frames, 1, 133, 3), np.float32)
    kp[:, 0, LEFT_SHOULDER, :2] = chest_xy + (0.1, 0.0)
    kp[:, 0, RIGHT_SHOULDER, :2] = chest_xy - (0.1, 0.0)
    kp[:, 0, [LEFT_SHOULDER, RIGHT_SHOULDER], 2] = conf
    kp[:, 0, 0] = (*chest_xy[0], 0.9)
    return PoseSequence(kp, (200, 100))


def test_box_is_chest_range_enlarged_around_its_centre() -> None:
    chest = np.array([[0.4, 0.5], [0.5, 0.45], [0.6, 0.55]], np.float32)
    np.testing.assert_allclose(chest_track(_pose(chest)), chest, atol=1e-6)
    x0, y0, x1, y1 = movement_box(_pose(chest), enlarge=1.0, min_size=0.0)
    assert (x0, x1) == pytest.approx((0.3, 0.7))  # width 0.2 doubled around 0.5
    assert (y0, y1) == pytest.approx((0.4, 0.6))
    x0, y0, x1, y1 = movement_box(_pose(chest), enlarge=1.5, min_size=0.0)
    assert x1 - x0 == pytest.approx(0.5)


def test_still_chest_gets_a_minimum_box_and_the_box_is_clipped() -> None:
    still = np.repeat(np.array([[0.5, 0.5]], np.float32), 4, axis=0)
    x0, y0, x1, y1 = movement_box(_pose(still), enlarge=1.25, min_size=0.1)
    assert x1 - x0 == pytest.approx(0.225) and y1 - y0 == pytest.approx(0.225)
    edge = np.array([[0.05, 0.5], [0.15, 0.5]], np.float32)
    x0, _, x1, _ = movement_box(_pose(edge), enlarge=1.25)
    assert x0 == 0.0 and x1 == pytest.approx(0.1 + 0.1125)


def test_frames_without_both_shoulders_are_ignored_and_none_is_an_error() -> None:
    chest = np.array([[0.4, 0.5], [0.9, 0.9]], np.float32)
    pose = _pose(chest)
    kp = pose.keypoints.copy()
    kp[1, 0, RIGHT_SHOULDER, 2] = 0.1
    box = movement_box(pose.with_keypoints(kp), enlarge=0.0, min_size=0.0)
    assert box == pytest.approx((0.4, 0.5, 0.4, 0.5))
    with pytest.raises(ValueError, match="shoulders"):
        movement_box(_pose(chest, conf=0.1))
    with pytest.raises(ValueError, match="enlarge"):
        movement_box(pose, enlarge=5.0)
    with pytest.raises(ValueError, match="person"):
        movement_box(pose, person=1)


def test_map_marks_pixel_centres_inside_the_box() -> None:
    pose = _pose(np.array([[0.5, 0.5]] * 3, np.float32))
    m = movement_map(pose, (0.25, 0.5, 0.75, 1.0), size=(8, 4))
    assert m.shape == (3, 4, 8) and m.dtype == np.float32
    expected = np.zeros((4, 8), np.float32)
    expected[2:, 2:6] = 1.0
    for frame in m:
        np.testing.assert_array_equal(frame, expected)
    assert movement_map(pose, (0.0, 0.0, 1.0, 1.0)).shape == (3, 100, 200)
    with pytest.raises(ValueError, match="x0 <= x1"):
        movement_map(pose, (0.6, 0.0, 0.5, 1.0))


def test_fixed_box() -> None:
    chest = np.array([[0.5, 0.5], [0.9, 0.5], [0.5, 0.05]], np.float32)
    pose = _pose(chest)
    assert fixed_box(pose, 0.4, 0.2, frame=0) == pytest.approx((0.3, 0.4, 0.7, 0.6))
    assert fixed_box(pose, 0.4, 0.2, frame=1) == pytest.approx((0.7, 0.4, 1.0, 0.6))  # clipped to the canvas
