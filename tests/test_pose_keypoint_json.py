"""POSE_KEYPOINT interop with comfyui_controlnet_aux (CNA): export, import, round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.pose.keypoint_json import keypoints_to_pose, pose_to_keypoints
from models.pose.layout import FACE, LEFT_HAND, RIGHT_HAND, coco_to_openpose18
from models.pose.types import PoseSequence

W, H = 320, 240


def _pose(seed: int = 0, frames: int = 3, people: int = 2) -> PoseSequence:
    rng = np.random.default_rng(seed)
    kp = np.zeros((frames, people, 133, 3), np.float32)
    kp[..., :2] = rng.uniform(0.02, 0.98, kp.shape[:-1] + (2,))
    kp[..., 2] = rng.uniform(0.0, 1.0, kp.shape[:-1])
    kp[:, 0, 100:105, 2] = 0.0  # some missing points
    if frames == 3 and people == 2:
        kp[1, 1] = 0.0  # an empty slot in frame 1
        kp[2, 1, RIGHT_HAND, 2] = 0.1  # a hand with no confident point
    return PoseSequence(kp, (W, H), fps=30.0)


def _cna_decode(frame: dict) -> list[dict[str, list | None]]:
    """CNA's decode_json_as_poses as documented: flat triplets, a point with c < 1 becomes None."""
    out = []
    for person in frame["people"]:
        parts = {}
        for key in ("pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d"):
            nums = person.get(key)
            if not nums:
                parts[key] = None
                continue
            assert len(nums) % 3 == 0
            triplets = zip(nums[0::3], nums[1::3], nums[2::3], strict=True)
            parts[key] = [None if c < 1.0 else (x, y) for x, y, c in triplets]
        out.append(parts)
    return out


def test_binarized_export_survives_cna_decode() -> None:
    pose = _pose()
    data = json.loads(json.dumps(pose_to_keypoints(pose, binarize=True)))  # JSON-able, as CNA passes it around
    assert len(data) == 3 and data[0]["canvas_width"] == W and data[0]["canvas_height"] == H
    for f, frame in enumerate(data):
        present = [p for p in pose.keypoints[f] if (p[:, 2] > 0).any()]
        decoded = _cna_decode(frame)
        assert len(decoded) == len(present)
        for person, parts in zip(present, decoded, strict=True):
            body18 = coco_to_openpose18(person)
            body = parts["pose_keypoints_2d"]
            assert len(body) == 18
            for i in range(18):
                if body18[i, 2] >= 0.3:
                    assert body[i] == (float(np.float64(body18[i, 0]) * W), float(np.float64(body18[i, 1]) * H))
                else:
                    assert body[i] is None
            for key, sl in (("hand_left_keypoints_2d", LEFT_HAND), ("hand_right_keypoints_2d", RIGHT_HAND)):
                conf = person[sl, 2]
                if (conf >= 0.3).any():
                    assert [p is not None for p in parts[key]] == list(conf >= 0.3)
                else:
                    assert parts[key] is None
            face = parts["face_keypoints_2d"]
            assert len(face) == 70
            assert [p is not None for p in face[:68]] == list(person[FACE, 2] >= 0.3)
            assert (face[68] is not None) == bool(body18[14, 2] >= 0.3)  # right eye appended, then left eye


def test_real_scores_round_trip_exactly() -> None:
    pose = _pose(seed=1)
    back = keypoints_to_pose(json.dumps(pose_to_keypoints(pose, binarize=False, include_feet=True)), fps=pose.fps)
    assert back.canvas == pose.canvas and back.fps == pose.fps
    kp, got = pose.keypoints, back.keypoints
    assert got.shape == kp.shape
    keep = kp[..., 2] > 0
    keep_body = keep.copy()
    keep_body[..., 17:] = False
    assert np.array_equal(got[keep_body], kp[keep_body])  # body: coordinates and scores bit-exact
    for sl in (FACE, LEFT_HAND, RIGHT_HAND, slice(17, 23)):
        k = keep[..., sl]
        assert np.array_equal(got[..., sl, :][k], kp[..., sl, :][k])
    assert (got[~keep] == 0).all()


def test_binarized_round_trip_keeps_points_with_c_one() -> None:
    pose = _pose(seed=2)
    back = keypoints_to_pose(pose_to_keypoints(pose, binarize=True, include_feet=False))
    kp, got = pose.keypoints, back.keypoints
    kept = kp[..., 2] >= 0.3
    kept[..., 17:23] = False  # feet are not part of CNA's format
    assert np.array_equal(got[..., :2][kept], kp[..., :2][kept])
    assert (got[..., 2][kept] == 1.0).all()
    assert (got[~kept] == 0).all()


def test_excluded_parts_follow_cna_and_nested_input_is_read() -> None:
    pose = _pose(seed=3, frames=1, people=1)
    frame = pose_to_keypoints(pose, include_body=False, include_hands=False, include_face=False)[0]
    person = frame["people"][0]
    assert person["pose_keypoints_2d"] == [0.0] * 54
    assert person["face_keypoints_2d"] is None and person["hand_left_keypoints_2d"] is None
    nested = {"canvas_width": 100, "canvas_height": 50,
              "people": [{"pose_keypoints_2d": [[50.0, 25.0, 1.0]] + [[0.0, 0.0, 0.0]] * 17}]}
    back = keypoints_to_pose(nested)
    assert back.canvas == (100, 50)
    assert np.allclose(back.keypoints[0, 0, 0], [0.5, 0.5, 1.0])
    normalised = {"canvas_width": 100, "canvas_height": 50,
                  "people": [{"pose_keypoints_2d": [0.5, 0.25, 1.0] + [0.0] * 51}]}
    assert np.allclose(keypoints_to_pose(normalised).keypoints[0, 0, 0], [0.5, 0.25, 1.0])


def test_bad_input_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        keypoints_to_pose([])
    with pytest.raises(ValueError, match="canvas_width"):
        keypoints_to_pose([{"people": []}])
    with pytest.raises(ValueError, match="pose_keypoints_2d"):
        keypoints_to_pose([{"canvas_width": 10, "canvas_height": 10, "people": [{"pose_keypoints_2d": [1.0] * 75}]}])
    with pytest.raises(ValueError, match="JSON"):
        keypoints_to_pose("{not json")
    empty = keypoints_to_pose([{"canvas_width": 10, "canvas_height": 20, "people": []}])
    assert empty.keypoints.shape == (1, 1, 133, 3) and (empty.keypoints == 0).all()
