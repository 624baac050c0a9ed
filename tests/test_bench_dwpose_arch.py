"""The DWPose benchmark's real-architecture stand-ins (benchmarks/dwpose_arch.py, issue 10) have the published sizes
and the official ONNX contract that the pack's DWPose backend reads.

Sizes are counted on the meta device (no memory, no compute); the contract is checked on a narrow YOLOX (same code,
width 1/8) exported to ONNX and read through models.pose.dwpose, which must find exactly the two planted people where
they were planted. Dropping the sigmoid on the objectness column in YOLOXL.forward turns
test_planted_detector_reads_through_the_pack red (scores > 1 are not the official layout).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.dwpose_arch import (
    DET_SIZE,
    PLANTED_PEOPLE,
    YOLOXL,
    RTMPoseL,
    _export,
    count_params,
    plant_people,
    seeded,
)


def test_published_parameter_counts_and_output_shapes() -> None:
    with torch.device("meta"):
        det, pose, body = YOLOXL(), RTMPoseL(), RTMPoseL(17, (256, 192))
        det_out = det(torch.zeros(1, 3, DET_SIZE, DET_SIZE))
        simcc_x, simcc_y = pose(torch.zeros(2, 3, 384, 288))
    assert count_params(det) / 1e6 == pytest.approx(54.2, rel=0.002)  # YOLOX README: 54.2 M
    assert count_params(body) / 1e6 == pytest.approx(27.66, rel=0.002)  # RTMPose README, l 256x192: 27.66 M
    # Whole body: the 7x7 head conv predicts 133 maps instead of 17 (+116 x (1024 x 49 + 1) parameters), and the
    # 384x288 input has a 12x9 feature map and 576/768 SimCC bins (the rest of the head grows a little).
    assert count_params(pose) - count_params(body) == pytest.approx(116 * (1024 * 49 + 1), rel=0.05)
    assert tuple(det_out.shape) == (1, 8400, 85)
    assert tuple(simcc_x.shape) == (2, 133, 576) and tuple(simcc_y.shape) == (2, 133, 768)


def test_planted_detector_reads_through_the_pack(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from models.pose.dwpose import DWPoseBackend
    from tests.helpers.tiny_dwpose import write_tiny_dwpose

    det = plant_people(seeded(YOLOXL(width=0.125, depth=0.33), 0))
    det_path = tmp_path / "yolox_l.onnx"
    _export(det, torch.zeros(1, 3, DET_SIZE, DET_SIZE), det_path, ["images"], ["output"], None)
    _, pose_path = write_tiny_dwpose(str(tmp_path / "pose"))
    backend = DWPoseBackend(str(det_path), pose_path, providers=("CPUExecutionProvider",))
    frames = np.random.default_rng(0).integers(0, 255, (2, 640, 640, 3), dtype=np.uint8)
    for boxes in backend.detect_boxes(frames):  # 640x640 frames: letterbox ratio 1, boxes in frame pixels
        assert boxes.shape == (2, 5)
        expected = np.array([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] for cx, cy, w, h in PLANTED_PEOPLE])
        order = np.argsort(boxes[:, 0])
        np.testing.assert_allclose(boxes[order, :4], expected, atol=1.0)
        assert (boxes[:, 4] > 0.99).all()
