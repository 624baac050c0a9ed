"""Every size that becomes an allocation is bounded by MAX_CANVAS_SIDE, with an error naming the input (issue 7 s1)."""

from __future__ import annotations

import numpy as np
import pytest

from models.pose.body_movement import movement_map
from models.pose.keypoint_json import keypoints_to_pose
from models.pose.render import confidence_mask, render_pose
from models.pose.types import MAX_CANVAS_SIDE, PoseSequence, check_canvas_size

BIG = MAX_CANVAS_SIDE + 1


def _frame(width: int, height: int) -> dict:
    body = [0.0] * 54
    body[0:3] = [width / 2, height / 2, 0.9]
    return {"people": [{"pose_keypoints_2d": body}], "canvas_width": width, "canvas_height": height}


def test_the_bound_and_its_message() -> None:
    assert MAX_CANVAS_SIDE == 8192
    assert check_canvas_size(MAX_CANVAS_SIDE, 1, "x") == (MAX_CANVAS_SIDE, 1)
    with pytest.raises(ValueError, match=r"my_input is 8193x4 pixels; Embody allows at most 8192 per side"):
        check_canvas_size(BIG, 4, "my_input")


@pytest.mark.parametrize("size", [(BIG, 64), (64, BIG), (10**9, 10**9)])
def test_pose_keypoint_canvas_is_bounded(size: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match=r"POSE_KEYPOINT frame 1 canvas_width/canvas_height is .* at most 8192"):
        keypoints_to_pose([_frame(64, 64), _frame(*size)])
    assert keypoints_to_pose([_frame(MAX_CANVAS_SIDE, 64)]).canvas == (MAX_CANVAS_SIDE, 64)


@pytest.mark.parametrize("size", [(BIG, 8), (8, BIG)])
def test_render_size_is_bounded(size: tuple[int, int]) -> None:
    pose = PoseSequence.empty(1, (64, 64))
    with pytest.raises(ValueError, match=r"render width/height is .* at most 8192"):
        render_pose(pose, size=size)
    with pytest.raises(ValueError, match=r"render width/height is .* at most 8192"):
        confidence_mask(pose, size=size)


def test_render_of_a_huge_pose_canvas_is_bounded() -> None:
    # A pose whose own canvas is huge (e.g. built by another pack) must not be drawn at that size either.
    pose = PoseSequence.empty(2, (BIG * 4, 16))
    with pytest.raises(ValueError, match=r"the pose canvas \(width/height 0 = the pose's own canvas\) is"):
        render_pose(pose)
    with pytest.raises(ValueError, match=r"the pose canvas"):
        confidence_mask(pose)
    assert render_pose(PoseSequence.empty(1, (16, 8))).shape == (1, 8, 16, 3)


def test_body_movement_map_size_is_bounded() -> None:
    pose = PoseSequence.empty(1, (BIG, 32))
    box = (0.1, 0.1, 0.9, 0.9)
    with pytest.raises(ValueError, match=r"body movement map width/height .* at most 8192"):
        movement_map(pose, box)
    with pytest.raises(ValueError, match=r"body movement map width/height .* at most 8192"):
        movement_map(PoseSequence.empty(1, (32, 32)), box, (32, BIG))
    m = movement_map(PoseSequence.empty(1, (32, 32)), box, (40, 20))
    assert m.shape == (1, 20, 40) and np.isclose(m.mean(), 0.8 * 0.8, atol=0.05)
