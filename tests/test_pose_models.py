"""The one pose-backend factory (models.pose.backend.make_pose_backend) and the PoseModel the loader nodes output."""

from __future__ import annotations

import os

import numpy as np
import pytest

from models.pose.backend import DWPOSE_SOURCE, PoseModel, make_pose_backend
from models.pose.dwpose import DWPoseBackend
from models.pose.extract import extract_poses
from models.pose.mediapipe_backend import ENABLE_HINT, mediapipe_problem
from tests.helpers import tiny_dwpose as tiny


def test_dwpose_model_builds_a_fresh_backend_with_its_files(tmp_path) -> None:
    det, pose = tiny.write_tiny_dwpose(str(tmp_path))
    spec = PoseModel("dwpose", det, pose)
    first, second = spec.create(detect_every=3), spec.create()
    assert isinstance(first, DWPoseBackend) and first is not second
    assert (first.det_model, first.pose_model, first.detect_every, second.detect_every) == (det, pose, 3, 1)
    # meta names the files, never the user's folders
    assert spec.describe() == {"backend": "dwpose", "detector": os.path.basename(det),
                               "pose_model": os.path.basename(pose)}
    clip = np.zeros((2, 48, 32, 3), np.uint8)
    clip[:, :4, :4] = 255
    assert extract_poses(clip, first, person="all").keypoints.shape[0] == 2
    first.close()
    second.close()


def test_missing_or_unknown_backend_files_name_the_file_and_where_to_get_it(tmp_path) -> None:
    missing = str(tmp_path / "yolox_l.onnx")
    with pytest.raises(FileNotFoundError) as info:
        make_pose_backend("dwpose", missing, missing)
    assert missing in str(info.value) and DWPOSE_SOURCE in str(info.value)
    with pytest.raises(ValueError, match="yolox_l.onnx"):
        make_pose_backend("dwpose", None, None)
    with pytest.raises(ValueError, match="unknown pose backend 'openpose'"):
        PoseModel("openpose").create()


def test_mediapipe_model_is_either_usable_or_says_how_to_enable_it() -> None:
    problem = mediapipe_problem()
    if problem is None:
        backend = PoseModel("mediapipe", min_detection_confidence=0.4).create()
        assert backend.name == "mediapipe" and backend.min_detection_confidence == 0.4
        backend.close()
    else:
        with pytest.raises(RuntimeError) as info:
            PoseModel("mediapipe").create()
        assert ENABLE_HINT in str(info.value) and "DWPose Loader" in str(info.value)
